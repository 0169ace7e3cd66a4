package analysis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// TestReadInput reads two files of a Many port in order, an absent port as
// no rows, and names the port when a file has the wrong schema.
func TestReadInput(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	if err := table.Write(a, []schema.Check{{Theorem: "T1"}}); err != nil {
		t.Fatal(err)
	}
	if err := table.Write(b, []schema.Check{{Theorem: "T2"}, {Theorem: "T3"}}); err != nil {
		t.Fatal(err)
	}
	req := &sdk.Request{Inputs: map[string][]string{"checks": {a, b}, "wrong": {a}}}
	rows, err := ReadInput[schema.Check](req, "checks")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0].Theorem != "T1" || rows[2].Theorem != "T3" {
		t.Fatalf("rows = %+v, want T1, T2, T3", rows)
	}
	if rows, err := ReadInput[schema.Check](req, "absent"); err != nil || len(rows) != 0 {
		t.Fatalf("absent port: %d rows, %v; want none, nil", len(rows), err)
	}
	if _, err := ReadInput[schema.Stats](req, "wrong"); err == nil || !strings.Contains(err.Error(), "input wrong") {
		t.Fatalf("wrong schema: err = %v, want one naming input wrong", err)
	}
}
