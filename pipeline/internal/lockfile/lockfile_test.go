package lockfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/artifacts/table"
)

type row struct {
	I int64   `parquet:"i"`
	X float64 `parquet:"x"`
}

// chain builds a lock of a -> b -> report, with a's table x = i + bias.
func chain(t *testing.T, dir string, bias float64, claimStatus string) (*Lock, map[string]string) {
	t.Helper()
	paths := map[string]string{}
	rows := []row{{0, bias}, {1, 1 + bias}, {2, 2}}
	a := filepath.Join(dir, "a.parquet")
	if err := table.Write(a, rows); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.json")
	os.WriteFile(b, []byte(`{"b":1}`), 0o644)
	c := filepath.Join(dir, "claims.json")
	os.WriteFile(c, []byte(`[{"id":"k.one","status":"`+claimStatus+`","value":1.5,"points":[1,"+Inf"],"measured":"1.5"}]`), 0o644)
	idA := "a" + strings.Repeat("0", 63)
	if bias != 0 {
		idA = "a" + strings.Repeat("1", 63)
	}
	idB := "b" + strings.Repeat("0", 63)
	idC := "c" + strings.Repeat("0", 63)
	if claimStatus != "PASS" {
		idC = "c" + strings.Repeat("1", 63)
	}
	paths[idA], paths[idB], paths[idC] = a, b, c
	results := []Result{
		{Name: "report", Plugin: "report", Inputs: map[string][]string{"in": {"b.out"}},
			Outputs: map[string]string{"claims": idC}, Sizes: map[string]int64{"claims": 10}, Files: map[string]string{"claims": "claims.json"}},
		{Name: "a[lr=0.1]", Plugin: "t.table", Outputs: map[string]string{"out": idA}, Sizes: map[string]int64{"out": 5}, Files: map[string]string{"out": "a.parquet"}},
		{Name: "b", Plugin: "t.det", Inputs: map[string][]string{"in": {"a[lr=0.1].out"}},
			Outputs: map[string]string{"out": idB}, Sizes: map[string]int64{"out": 7}, Files: map[string]string{"out": "b.json"}},
	}
	l, err := Build("m", results, func(id string) string { return paths[id] })
	if err != nil {
		t.Fatal(err)
	}
	return l, paths
}

func TestBuildEncodeRead(t *testing.T) {
	l, _ := chain(t, t.TempDir(), 0, "PASS")
	if got := []string{l.Stages[0].Name, l.Stages[1].Name, l.Stages[2].Name}; strings.Join(got, " ") != "a[lr=0.1] b report" {
		t.Errorf("stages not sorted: %v", got)
	}
	if l.Stages[0].Outputs["out"].Table == nil || l.Stages[0].Outputs["out"].Table.Rows != 3 {
		t.Errorf("parquet output not summarised: %+v", l.Stages[0].Outputs["out"])
	}
	if len(l.Claims) != 1 || l.Claims[0].Numbers["value"] != 1.5 || l.Claims[0].Measured != "1.5" {
		t.Errorf("claims: %+v", l.Claims)
	}
	data, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.lock")
	if err := Write(path, l); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Encode()
	if string(again) != string(data) {
		t.Error("read-encode round trip changed the lock")
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Errorf("lock is not JSON: %v", err)
	}
	if Path("manifests/smoke.yaml") != "manifests/smoke.lock" {
		t.Error("Path")
	}
}

func TestCompareFindsTheRoot(t *testing.T) {
	old, _ := chain(t, t.TempDir(), 0, "PASS")
	cur, _ := chain(t, t.TempDir(), 0.25, "FAIL")
	// b's bytes happen to be unchanged though its input changed; report's changed.
	d, err := Compare(old, cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Roots) != 2 || d.Roots[0].Stage != "a[lr=0.1]" || d.Roots[1].Stage != "report" {
		t.Fatalf("roots %+v, want a[lr=0.1] and report", d.Roots)
	}
	td := d.Roots[0].Outputs[0].Table
	if td == nil || td.Exact || len(td.Columns) != 1 || td.Columns[0].Name != "x" || float64(td.Columns[0].MaxAbs) <= 0 {
		t.Errorf("table diff from summaries: %+v", td)
	}
	// report changed while its input b did not: its own outputs differ with
	// matching inputs, so it is a root too (a report stage that changed by
	// itself), and the claim's status change is listed.
	if len(d.Claims) != 1 || d.Claims[0].OldStatus != "PASS" || d.Claims[0].NewStatus != "FAIL" {
		t.Errorf("claims %+v", d.Claims)
	}
	if d.Same != 1 {
		t.Errorf("same = %d, want 1 (b)", d.Same)
	}
	same, _ := Compare(old, old, Options{})
	if same.Changed() {
		t.Error("a lock differs from itself")
	}
}
