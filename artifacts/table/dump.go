package table

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Dump prints the rows of any Parquet file to w, one column per leaf column
// of its schema (list columns show as "[a, b, ...]", the ".list.element"
// levels elided from their names). format is
//
//   - "table": aligned columns for humans, floats with 6 significant
//     digits, lists cut after 4 elements, then a "(n of N rows)" line;
//   - "csv":   RFC 4180 with a header, full precision, lists as [a,b,...],
//     nulls as empty fields;
//   - "json":  JSON Lines, one object per row with keys in schema order,
//     full precision, NaN and ±Inf as the strings "NaN", "+Inf", "-Inf".
//
// limit > 0 prints at most limit rows; limit <= 0 prints all of them.
func Dump(w io.Writer, path string, format string, limit int) error {
	return DumpAll(w, []Source{{Path: path}}, format, limit)
}

// Source is one file for DumpAll, with the values that tell it apart from
// the others (e.g. the matrix values of the stage instance that wrote it).
type Source struct {
	Path string
	Keys []KeyValue // shown as leading columns, unless the table has a column of that name
}

// KeyValue is one leading column's name and text.
type KeyValue struct{ Name, Value string }

// DumpAll prints several files of one schema as one table, in order, each
// row led by its source's Keys (formats and limit as Dump; limit counts the
// rows of all files together). Files whose columns differ are an error.
func DumpAll(w io.Writer, sources []Source, format string, limit int) error {
	switch format {
	case "table", "csv", "json":
	default:
		return fmt.Errorf("table: dump: unknown format %q (want table, csv or json)", format)
	}
	if len(sources) == 0 {
		return fmt.Errorf("table: dump: no files")
	}
	header, keyNames, has, total, err := dumpColumns(sources)
	if err != nil {
		return fmt.Errorf("table: dump: %w", err)
	}
	emit, finish := rowWriter(w, format, header, total)

	var shown int64
	for _, src := range sources {
		if limit > 0 && shown >= int64(limit) {
			break
		}
		lead := make([]string, 0, len(keyNames))
		for _, kv := range src.Keys {
			if has[kv.Name] {
				continue
			}
			v := kv.Value
			if format == "json" {
				b, _ := json.Marshal(v)
				v = string(b)
			}
			lead = append(lead, v)
		}
		n, err := dumpRows(src.Path, lead, format, int64(limit)-shown, limit > 0, emit)
		shown += n
		if err != nil {
			return fmt.Errorf("table: dump %s: %w", src.Path, err)
		}
	}
	if err := finish(shown); err != nil {
		return fmt.Errorf("table: dump: %w", err)
	}
	return nil
}

// dumpColumns returns the header of a dump of sources (the key names that
// are not columns, then the columns of the first file), those key names,
// the set of column names and the number of rows of all files; it fails
// if a file cannot be opened or has other columns than the first.
func dumpColumns(sources []Source) (header, keyNames []string, has map[string]bool, total int64, err error) {
	first, closeFirst, err := openParquet(sources[0].Path)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	cols := leafColumns(first.Schema())
	closeFirst()
	names := make([]string, len(cols))
	has = map[string]bool{}
	for i, c := range cols {
		names[i] = displayName(c.Path)
		has[names[i]] = true
	}
	// The keys of the first source that are not columns lead every row.
	for _, kv := range sources[0].Keys {
		if !has[kv.Name] {
			keyNames = append(keyNames, kv.Name)
		}
	}
	header = append(append([]string{}, keyNames...), names...)
	for _, src := range sources {
		pf, closeFile, err := openParquet(src.Path)
		if err != nil {
			return nil, nil, nil, 0, err
		}
		total += pf.NumRows()
		same := schemaLine(pf.Schema()) == schemaLine(first.Schema())
		closeFile()
		if !same {
			return nil, nil, nil, 0, fmt.Errorf("%s has other columns than %s", src.Path, sources[0].Path)
		}
	}
	return header, keyNames, has, total, nil
}

// rowWriter returns the functions that write a dump's rows in format
// (table, csv or json; cells already encoded for it) to w, after the
// header, and that end it: finish(shown) flushes and, for a table, says
// how many of total rows were shown.
func rowWriter(w io.Writer, format string, header []string, total int64) (emit func(cells []string) error, finish func(shown int64) error) {
	switch format {
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		emit = func(cells []string) error {
			_, err := fmt.Fprintln(tw, strings.Join(cells, "\t"))
			return err
		}
		finish = func(shown int64) error {
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err := fmt.Fprintf(w, "(%d of %d rows)\n", shown, total)
			return err
		}
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(header)
		emit = func(cells []string) error { return cw.Write(cells) }
		finish = func(int64) error { cw.Flush(); return cw.Error() }
	case "json":
		keys := make([]string, len(header))
		for i, n := range header {
			k, _ := json.Marshal(n)
			keys[i] = string(k)
		}
		emit = func(cells []string) error {
			var b strings.Builder
			b.WriteByte('{')
			for i, c := range cells {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(keys[i] + ":" + c)
			}
			b.WriteString("}\n")
			_, err := io.WriteString(w, b.String())
			return err
		}
		finish = func(int64) error { return nil }
	}
	return emit, finish
}

// dumpRows emits the rows of one file (at most max when limited), each led
// by lead, and returns how many it emitted.
func dumpRows(path string, lead []string, format string, max int64, limited bool, emit func([]string) error) (int64, error) {
	pf, closeFile, err := openParquet(path)
	if err != nil {
		return 0, err
	}
	defer closeFile()
	cols := leafColumns(pf.Schema())
	perCol := make([][]parquet.Value, len(cols))
	index := map[int]int{} // column index -> position in cols
	for i, c := range cols {
		index[c.ColumnIndex] = i
	}
	var n, lim int64
	if limited {
		lim = max
	}
	err = forEachRow(pf, lim, func(row parquet.Row) error {
		for i := range perCol {
			perCol[i] = perCol[i][:0]
		}
		for _, v := range row {
			if i, ok := index[v.Column()]; ok {
				perCol[i] = append(perCol[i], v)
			}
		}
		cells := make([]string, 0, len(lead)+len(cols))
		cells = append(cells, lead...)
		for i, c := range cols {
			cells = append(cells, formatCell(c, perCol[i], format))
		}
		n++
		return emit(cells)
	})
	return n, err
}

// leafColumns returns the leaf columns of schema in column order.
func leafColumns(schema *parquet.Schema) []parquet.LeafColumn {
	var cols []parquet.LeafColumn
	for _, p := range schema.Columns() {
		if c, ok := schema.Lookup(p...); ok {
			c.Path = p // Lookup's Path may hold only the leaf's own name
			cols = append(cols, c)
		}
	}
	return cols
}

func displayName(path []string) string {
	n := strings.Join(path, ".")
	n = strings.ReplaceAll(n, ".list.element", "")
	return n
}

// formatCell renders the values of one leaf column within one row.
func formatCell(c parquet.LeafColumn, vals []parquet.Value, mode string) string {
	null := map[string]string{"table": "null", "csv": "", "json": "null"}[mode]
	if c.MaxRepetitionLevel == 0 {
		if len(vals) == 0 || vals[0].IsNull() || vals[0].DefinitionLevel() < c.MaxDefinitionLevel {
			return null
		}
		return formatValue(c, vals[0], mode)
	}
	// A repeated column: one value with a low definition level is an empty
	// (or null) list; otherwise each value is an element.
	if len(vals) == 0 || (len(vals) == 1 && vals[0].DefinitionLevel() < c.MaxDefinitionLevel && !elementNull(c, vals[0])) {
		return "[]"
	}
	maxShown := len(vals)
	if mode == "table" && maxShown > 4 {
		maxShown = 4
	}
	parts := make([]string, 0, maxShown+1)
	for _, v := range vals[:maxShown] {
		if v.IsNull() || v.DefinitionLevel() < c.MaxDefinitionLevel {
			parts = append(parts, "null")
		} else {
			parts = append(parts, formatValue(c, v, mode))
		}
	}
	if mode == "table" {
		if maxShown < len(vals) {
			parts = append(parts, fmt.Sprintf("… (%d)", len(vals)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// elementNull reports whether v is a null element of a list whose elements
// are optional (definition level one below the maximum).
func elementNull(c parquet.LeafColumn, v parquet.Value) bool {
	return c.Node.Optional() && v.DefinitionLevel() == c.MaxDefinitionLevel-1
}

func formatValue(c parquet.LeafColumn, v parquet.Value, mode string) string {
	lt := c.Node.Type().LogicalType()
	var logical format.LogicalTypeValue
	if lt != nil {
		logical = lt.Value
	}
	unsigned := false
	if it, ok := logical.(*format.IntType); ok && !it.IsSigned {
		unsigned = true
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		if unsigned {
			return strconv.FormatUint(uint64(uint32(v.Int32())), 10)
		}
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		if unsigned {
			return strconv.FormatUint(uint64(v.Int64()), 10)
		}
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Float:
		return formatFloat(float64(v.Float()), 32, mode)
	case parquet.Double:
		return formatFloat(v.Double(), 64, mode)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		var s string
		switch logical.(type) {
		case *format.StringType, *format.JsonType, *format.EnumType:
			s = string(v.ByteArray())
		default:
			s = hex.EncodeToString(v.ByteArray())
		}
		if mode == "json" {
			b, _ := json.Marshal(s)
			return string(b)
		}
		return s
	default:
		s := v.String()
		if mode == "json" {
			b, _ := json.Marshal(s)
			return string(b)
		}
		return s
	}
}

func formatFloat(x float64, bits int, mode string) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		s := "NaN"
		if math.IsInf(x, 1) {
			s = "+Inf"
		} else if math.IsInf(x, -1) {
			s = "-Inf"
		}
		if mode == "json" {
			return `"` + s + `"`
		}
		return s
	}
	if mode == "table" {
		return strconv.FormatFloat(x, 'g', 6, bits)
	}
	return strconv.FormatFloat(x, 'g', -1, bits)
}

// schemaLine is a one-line summary of a schema's leaf columns, for errors.
func schemaLine(schema *parquet.Schema) string {
	var parts []string
	for _, c := range leafColumns(schema) {
		parts = append(parts, displayName(c.Path)+":"+c.Node.Type().String())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
