package table

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// Summary describes a Parquet file by its decoded content, column by
// column: enough to tell which columns changed, and roughly by how much,
// when the file itself is no longer at hand (a results lock keeps it).
type Summary struct {
	Rows    int64           `json:"rows"`
	Columns []ColumnSummary `json:"columns"`
}

// ColumnSummary describes one leaf column. Digest is the sha256 of the
// column's values in row order with their repetition and definition levels
// (the per-column part of LogicalDigest's encoding), so equal digests mean
// equal decoded values. For numeric columns Min, Max and Mean are over the
// finite values and NaN, PosInf and NegInf count the others; all are nil or
// zero for other types.
type ColumnSummary struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Values int64    `json:"values"` // leaf values, list elements included, nulls excluded
	Nulls  int64    `json:"nulls,omitempty"`
	Digest string   `json:"digest"`
	Min    *float64 `json:"min,omitempty"`
	Max    *float64 `json:"max,omitempty"`
	Mean   *float64 `json:"mean,omitempty"`
	NaN    int64    `json:"nan,omitempty"`
	PosInf int64    `json:"pos_inf,omitempty"`
	NegInf int64    `json:"neg_inf,omitempty"`
}

// numeric reports whether v's kind is summarised with Min, Max and Mean.
func numeric(k parquet.Kind) bool {
	switch k {
	case parquet.Int32, parquet.Int64, parquet.Float, parquet.Double:
		return true
	}
	return false
}

// floatOf converts a non-null numeric value to float64.
func floatOf(v parquet.Value) float64 {
	switch v.Kind() {
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	}
	return math.NaN()
}

// Summarize reads the Parquet file at path and returns its Summary. The
// result depends only on the decoded rows, never on the physical layout.
func Summarize(path string) (Summary, error) {
	pf, closeFile, err := openParquet(path)
	if err != nil {
		return Summary{}, fmt.Errorf("table: summarize: %w", err)
	}
	defer closeFile()
	cols := leafColumns(pf.Schema())
	type acc struct {
		h                  hash.Hash
		values, nulls      int64
		min, max, sum      float64
		finite             int64
		nan, posInf, neg   int64
		isNumeric, touched bool
	}
	accs := make([]acc, len(cols))
	index := map[int]int{}
	for i, c := range cols {
		index[c.ColumnIndex] = i
		accs[i].h = sha256.New()
		accs[i].isNumeric = numeric(c.Node.Type().Kind())
		accs[i].min, accs[i].max = math.Inf(1), math.Inf(-1)
	}
	var rows int64
	err = forEachRow(pf, 0, func(row parquet.Row) error {
		rows++
		for _, v := range row {
			i, ok := index[v.Column()]
			if !ok {
				continue
			}
			a := &accs[i]
			hashRow(a.h, parquet.Row{v})
			if v.IsNull() {
				a.nulls++
				continue
			}
			a.values++
			if !a.isNumeric {
				continue
			}
			x := floatOf(v)
			switch {
			case math.IsNaN(x):
				a.nan++
			case math.IsInf(x, 1):
				a.posInf++
			case math.IsInf(x, -1):
				a.neg++
			default:
				a.finite++
				a.sum += x
				a.min = math.Min(a.min, x)
				a.max = math.Max(a.max, x)
			}
		}
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("table: summarize %s: %w", path, err)
	}
	s := Summary{Rows: rows, Columns: make([]ColumnSummary, len(cols))}
	for i, c := range cols {
		a := &accs[i]
		cs := ColumnSummary{
			Name: displayName(c.Path), Type: c.Node.Type().Kind().String(),
			Values: a.values, Nulls: a.nulls, Digest: hex.EncodeToString(a.h.Sum(nil)),
			NaN: a.nan, PosInf: a.posInf, NegInf: a.neg,
		}
		if a.isNumeric && a.finite > 0 {
			mean := a.sum / float64(a.finite)
			mn, mx := a.min, a.max
			cs.Min, cs.Max, cs.Mean = &mn, &mx, &mean
		}
		s.Columns[i] = cs
	}
	return s, nil
}

// Diff says how two versions of a table differ, column by column.
type Diff struct {
	OldRows int64 `json:"old_rows"`
	NewRows int64 `json:"new_rows"`
	// Exact is true when the diff was computed from both files' rows; false
	// when only summaries were at hand (then Differ is -1 and the largest
	// differences are those of the columns' min, max and mean).
	Exact   bool         `json:"exact"`
	Columns []ColumnDiff `json:"columns"` // only the columns that differ
}

// ColumnDiff is one column of a Diff.
type ColumnDiff struct {
	Name   string `json:"name"`
	Change string `json:"change"` // "changed", "added" or "removed"
	// Differ counts the values that differ (by bits; every NaN equal to every
	// NaN); -1 when unknown. FirstRow is the first row holding one (-1 unknown).
	Differ   int64 `json:"differ"`
	FirstRow int64 `json:"first_row"`
	// MaxAbs and MaxRel are the largest |new-old| and |new-old|/max(|old|,|new|)
	// over the numeric values compared (0 for other types; +Inf when a value
	// turned infinite or NaN, encoded in JSON as the string "+Inf").
	MaxAbs JSONFloat `json:"max_abs"`
	MaxRel JSONFloat `json:"max_rel"`
}

// JSONFloat is a float64 whose JSON form is a number when finite and the
// string "+Inf", "-Inf" or "NaN" otherwise (encoding/json refuses those).
type JSONFloat float64

// MarshalJSON implements json.Marshaler.
func (f JSONFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return []byte(`"NaN"`), nil
	case math.IsInf(x, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(x, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *JSONFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = JSONFloat(math.NaN())
	case `"+Inf"`:
		*f = JSONFloat(math.Inf(1))
	case `"-Inf"`:
		*f = JSONFloat(math.Inf(-1))
	default:
		x, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("table: bad number %s", b)
		}
		*f = JSONFloat(x)
	}
	return nil
}

// Changed reports whether the diff holds any difference.
func (d Diff) Changed() bool { return d.OldRows != d.NewRows || len(d.Columns) > 0 }

// CompareSummaries diffs two summaries of a table (no rows needed).
func CompareSummaries(old, new Summary) Diff {
	d := Diff{OldRows: old.Rows, NewRows: new.Rows}
	byName := map[string]ColumnSummary{}
	for _, c := range old.Columns {
		byName[c.Name] = c
	}
	seen := map[string]bool{}
	for _, n := range new.Columns {
		seen[n.Name] = true
		o, ok := byName[n.Name]
		if !ok {
			d.Columns = append(d.Columns, ColumnDiff{Name: n.Name, Change: "added", Differ: -1, FirstRow: -1})
			continue
		}
		if o.Digest == n.Digest {
			continue
		}
		cd := ColumnDiff{Name: n.Name, Change: "changed", Differ: -1, FirstRow: -1}
		for _, p := range [][2]*float64{{o.Min, n.Min}, {o.Max, n.Max}, {o.Mean, n.Mean}} {
			if p[0] != nil && p[1] != nil {
				cd.MaxAbs, cd.MaxRel = widen(cd.MaxAbs, cd.MaxRel, *p[0], *p[1])
			}
		}
		d.Columns = append(d.Columns, cd)
	}
	for _, o := range old.Columns {
		if !seen[o.Name] {
			d.Columns = append(d.Columns, ColumnDiff{Name: o.Name, Change: "removed", Differ: -1, FirstRow: -1})
		}
	}
	return d
}

// widen folds the difference between a and b into the running maxima.
func widen(maxAbs, maxRel JSONFloat, a, b float64) (JSONFloat, JSONFloat) {
	if a == b || (a != a && b != b) {
		return maxAbs, maxRel
	}
	abs := math.Abs(b - a)
	den := math.Max(math.Abs(a), math.Abs(b))
	rel := abs / den
	if math.IsNaN(abs) || math.IsInf(abs, 0) {
		abs, rel = math.Inf(1), math.Inf(1)
	}
	return JSONFloat(math.Max(float64(maxAbs), abs)), JSONFloat(math.Max(float64(maxRel), rel))
}

// column is one leaf column's decoded values with the row each belongs to.
type column struct {
	kind  parquet.Kind
	rows  []int64
	nums  []float64
	other []string // non-numeric values (and nulls as "\x00null")
}

func readColumns(path string) (map[string]*column, []string, int64, error) {
	pf, closeFile, err := openParquet(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer closeFile()
	cols := leafColumns(pf.Schema())
	out := map[string]*column{}
	names := make([]string, len(cols))
	index := map[int]*column{}
	for i, c := range cols {
		names[i] = displayName(c.Path)
		col := &column{kind: c.Node.Type().Kind()}
		out[names[i]] = col
		index[c.ColumnIndex] = col
	}
	var rows int64
	err = forEachRow(pf, 0, func(row parquet.Row) error {
		for _, v := range row {
			col, ok := index[v.Column()]
			if !ok {
				continue
			}
			col.rows = append(col.rows, rows)
			switch {
			case v.IsNull():
				col.nums = append(col.nums, math.NaN())
				col.other = append(col.other, "\x00null")
			case numeric(col.kind):
				col.nums = append(col.nums, floatOf(v))
				col.other = append(col.other, "")
			default:
				col.nums = append(col.nums, 0)
				col.other = append(col.other, v.String())
			}
		}
		rows++
		return nil
	})
	return out, names, rows, err
}

// CompareFiles diffs two Parquet files row by row: for every column present
// in both, how many values differ, the first row that does, and the largest
// absolute and relative differences.
func CompareFiles(oldPath, newPath string) (Diff, error) {
	oc, onames, orows, err := readColumns(oldPath)
	if err != nil {
		return Diff{}, fmt.Errorf("table: compare: %w", err)
	}
	nc, nnames, nrows, err := readColumns(newPath)
	if err != nil {
		return Diff{}, fmt.Errorf("table: compare: %w", err)
	}
	d := Diff{OldRows: orows, NewRows: nrows, Exact: true}
	for _, name := range nnames {
		n := nc[name]
		o, ok := oc[name]
		if !ok {
			d.Columns = append(d.Columns, ColumnDiff{Name: name, Change: "added", Differ: int64(len(n.rows)), FirstRow: 0})
			continue
		}
		cd := ColumnDiff{Name: name, Change: "changed", FirstRow: -1}
		m := min(len(o.rows), len(n.rows))
		for i := 0; i < m; i++ {
			same := o.other[i] == n.other[i] && o.rows[i] == n.rows[i]
			if same && numeric(n.kind) && o.other[i] == "" {
				a, b := o.nums[i], n.nums[i]
				same = math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b)
				if !same {
					cd.MaxAbs, cd.MaxRel = widen(cd.MaxAbs, cd.MaxRel, a, b)
				}
			}
			if !same {
				cd.Differ++
				if cd.FirstRow < 0 {
					cd.FirstRow = min(o.rows[i], n.rows[i])
				}
			}
		}
		if extra := len(o.rows) - len(n.rows); extra != 0 {
			if extra < 0 {
				extra = -extra
			}
			cd.Differ += int64(extra)
			if cd.FirstRow < 0 {
				if len(o.rows) > m {
					cd.FirstRow = o.rows[m]
				} else {
					cd.FirstRow = n.rows[m]
				}
			}
		}
		if cd.Differ > 0 {
			d.Columns = append(d.Columns, cd)
		}
	}
	for _, name := range onames {
		if _, ok := nc[name]; !ok {
			d.Columns = append(d.Columns, ColumnDiff{Name: name, Change: "removed", Differ: int64(len(oc[name].rows)), FirstRow: 0})
		}
	}
	return d, nil
}
