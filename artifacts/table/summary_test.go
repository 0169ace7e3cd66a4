package table

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

func TestSummarizeAndCompare(t *testing.T) {
	dir := t.TempDir()
	rows := makeCurve(50, 3)
	a := filepath.Join(dir, "a.parquet")
	if err := Write(a, rows); err != nil {
		t.Fatal(err)
	}
	changed := append([]curveRow(nil), rows...)
	changed[17].Loss += 0.5
	changed[30].Loss = math.Inf(1)
	b := filepath.Join(dir, "b.parquet")
	if err := Write(b, changed); err != nil {
		t.Fatal(err)
	}
	sa, err := Summarize(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Summarize(b)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Rows != 50 || len(sa.Columns) != 5 {
		t.Fatalf("summary: %d rows, %d columns; want 50, 5", sa.Rows, len(sa.Columns))
	}
	for i, c := range sa.Columns {
		same := c.Digest == sb.Columns[i].Digest
		if same != (c.Name != "loss") {
			t.Errorf("column %s: digests equal = %v", c.Name, same)
		}
	}
	if sb.Columns[2].PosInf != 1 {
		t.Errorf("loss +Inf count %d, want 1", sb.Columns[2].PosInf)
	}
	// Same rows written again: same summary.
	sa2, _ := Summarize(a)
	ja, _ := json.Marshal(sa)
	ja2, _ := json.Marshal(sa2)
	if string(ja) != string(ja2) {
		t.Error("two summaries of one file differ")
	}

	d, err := CompareFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Exact || len(d.Columns) != 1 || d.Columns[0].Name != "loss" {
		t.Fatalf("diff %+v: want exactly the loss column", d)
	}
	c := d.Columns[0]
	if c.Differ != 2 || c.FirstRow != 17 || !math.IsInf(float64(c.MaxAbs), 1) {
		t.Errorf("loss diff %+v: want 2 values from row 17, max abs +Inf", c)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Errorf("diff does not encode: %v", err)
	}

	changed[30].Loss = rows[30].Loss // only the +0.5 remains
	if err := Write(b, changed); err != nil {
		t.Fatal(err)
	}
	d, _ = CompareFiles(a, b)
	if got := float64(d.Columns[0].MaxAbs); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("max abs diff %g, want 0.5", got)
	}
	sb, _ = Summarize(b)
	ds := CompareSummaries(sa, sb)
	if ds.Exact || len(ds.Columns) != 1 || ds.Columns[0].Name != "loss" || ds.Columns[0].Differ != -1 {
		t.Errorf("summary diff %+v: want the loss column, rows unknown", ds)
	}
	if got := float64(ds.Columns[0].MaxAbs); got <= 0 || got > 0.5 {
		t.Errorf("summary max abs %g, want in (0, 0.5]", got)
	}
	if CompareSummaries(sa, sa).Changed() {
		t.Error("a summary differs from itself")
	}
}
