// Package table reads and writes the pipeline's Parquet tables with one
// pinned writer configuration, so that the same rows always give the same
// bytes (and hence the same OutputID in the artifact store).
//
// Row types are Go structs with parquet tags; slices must carry the ",list"
// option so that readers see the standard three-level LIST layout:
//
//	type Row struct {
//		Depth  int64     `parquet:"depth"`
//		Init   string    `parquet:"init"`
//		Loss   float64   `parquet:"loss"`
//		Eigen  []float64 `parquet:"eigen,list"`
//	}
//
// See docs/parquet.md for the pinned configuration and every schema.
package table

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// The pinned writer configuration. Changing any of these changes the bytes
// of every table, hence every OutputID: bump WriterVersion when you do.
const (
	// CreatedByApp and WriterVersion make up the file's created_by field
	// (parquet.CreatedBy(CreatedByApp, WriterVersion, WriterBuild)).
	CreatedByApp  = "demystify-resnet"
	WriterVersion = "1.0.0"
	WriterBuild   = "table-v1"

	// RowGroupRows is the maximum number of rows per row group.
	RowGroupRows = 1 << 16
	// PageBufferBytes is the size of the page buffer of each column: a
	// page is cut when it fills up.
	PageBufferBytes = 256 << 10
	// BatchRows is the fixed batching policy: rows are handed to the
	// parquet writer in consecutive batches of exactly BatchRows rows (the
	// last one shorter).
	BatchRows = 1024
	// DataPageVersion 1 is the most widely readable page format.
	DataPageVersion = 1
)

// Canonical NaN bit patterns (the quiet NaNs numpy and Arrow produce).
// Write replaces every NaN, whatever its sign and payload, by these.
const (
	CanonicalNaN64 uint64 = 0x7ff8000000000000
	CanonicalNaN32 uint32 = 0x7fc00000
)

// codec is shared by every writer: it pools zstd encoders, whose creation
// is expensive. EncodeAll with one encoder goroutine is deterministic, so
// which pooled encoder compresses a page does not change the bytes.
var codec = &zstd.Codec{Level: zstd.SpeedDefault, Concurrency: 1}

// WriterOptions returns the pinned writer configuration: zstd at the
// "default" level (about zstd level 3) with one encoder goroutine, fixed
// page buffer and row group sizes, version 1 data pages with statistics,
// no bloom filters, no key/value metadata, and a fixed created_by.
func WriterOptions() []parquet.WriterOption {
	return []parquet.WriterOption{
		parquet.CreatedBy(CreatedByApp, WriterVersion, WriterBuild),
		parquet.Compression(codec),
		parquet.PageBufferSize(PageBufferBytes),
		parquet.MaxRowsPerRowGroup(RowGroupRows),
		parquet.DataPageVersion(DataPageVersion),
		parquet.DataPageStatistics(true),
	}
}

// Write writes rows to a new Parquet file at path (created or truncated)
// with the pinned configuration (WriterOptions) and the fixed batching
// policy (BatchRows), so equal rows give equal bytes. T must be a struct
// type. NaNs are canonicalised in the file (rows is not modified). Write
// fails if the schema has a repeated field outside a LIST or MAP group (a
// slice without ",list"). On error the partial file is removed. Write does
// not fsync: the store's Put does when it publishes the file.
func Write[T any](path string, rows []T) error {
	return writeWith(path, rows)
}

// writeBuffers holds the 1 MiB file buffers of writeWith: a persistent
// plugin writes a table per task, and allocating and zeroing a fresh buffer
// each time was about 5% of the plugin's CPU for a tiny task (perf, the
// engine benchmark).
var writeBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<20) }}

// writeWith is Write with extra writer options applied after the pinned
// ones; tests use it to vary the physical layout.
func writeWith[T any](path string, rows []T, extra ...parquet.WriterOption) (err error) {
	schema, err := schemaFor[T]()
	if err != nil {
		return fmt.Errorf("table: write %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("table: write: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("table: write %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	bw := writeBuffers.Get().(*bufio.Writer)
	bw.Reset(f)
	defer func() {
		bw.Reset(nil)
		writeBuffers.Put(bw)
	}()
	opts := append(append(WriterOptions(), schema), extra...)
	w := parquet.NewGenericWriter[T](bw, opts...)
	batch := make([]parquet.Row, 0, BatchRows)
	for start := 0; start < len(rows); start += BatchRows {
		end := min(start+BatchRows, len(rows))
		batch = batch[:end-start]
		for i := range batch {
			batch[i] = canonicalNaN(schema.Deconstruct(batch[i][:0], &rows[start+i]))
		}
		if _, err := w.WriteRows(batch); err != nil {
			return fmt.Errorf("table: write %s: rows %d-%d: %w", path, start, end-1, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("table: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("table: write %s: %w", path, err)
	}
	return nil
}

// ReadFiles reads the rows of every file in paths, in order, into one
// []T (a plugin's Many input). Errors name the file.
func ReadFiles[T any](paths ...string) ([]T, error) {
	var out []T
	for _, p := range paths {
		rows, err := Read[T](p)
		if err != nil {
			return nil, fmt.Errorf("table: %s: %w", filepath.Base(p), err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// Read reads every row of the Parquet file at path into []T. Every leaf
// column of T must exist in the file (a misspelt or missing column is an
// error, not a silent zero); columns of the file that T lacks are ignored.
func Read[T any](path string) ([]T, error) {
	want, err := schemaFor[T]()
	if err != nil {
		return nil, fmt.Errorf("table: read %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("table: read: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("table: read %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("table: read %s: %w", path, err)
	}
	for _, col := range want.Columns() {
		have, ok := pf.Schema().Lookup(col...)
		if !ok {
			return nil, fmt.Errorf("table: read %s: column %q missing in file (schema %s)", path, strings.Join(col, "."), schemaLine(pf.Schema()))
		}
		wl, _ := want.Lookup(col...)
		if wk, hk := wl.Node.Type().Kind(), have.Node.Type().Kind(); wk != hk {
			return nil, fmt.Errorf("table: read %s: column %q is %v in file, %v in %T", path, strings.Join(col, "."), hk, wk, *new(T))
		}
	}
	rows := make([]T, pf.NumRows())
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	n := 0
	for n < len(rows) {
		k, err := r.Read(rows[n:])
		n += k
		if err != nil {
			if n == len(rows) {
				break
			}
			return nil, fmt.Errorf("table: read %s: row %d: %w", path, n, err)
		}
		if k == 0 {
			return nil, fmt.Errorf("table: read %s: stuck at row %d of %d", path, n, len(rows))
		}
	}
	return rows, nil
}

// schemaFor returns the schema of struct type T and checks it.
func schemaFor[T any]() (_ *parquet.Schema, err error) {
	t := reflect.TypeFor[T]()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("row type %v is not a struct", reflect.TypeFor[T]())
	}
	defer func() {
		if r := recover(); r != nil { // parquet-go panics on bad tags
			err = fmt.Errorf("row type %v: %v", t, r)
		}
	}()
	s := parquet.SchemaOf(reflect.New(t).Interface())
	if err := checkRepeated(s, nil, false); err != nil {
		return nil, fmt.Errorf("row type %v: %w", t, err)
	}
	return s, nil
}

// checkRepeated rejects repeated fields that are not the middle level of a
// LIST or MAP group: Arrow reads those, but as a legacy layout.
func checkRepeated(n parquet.Node, path []string, inListOrMap bool) error {
	if n.Repeated() && !inListOrMap {
		return fmt.Errorf("field %q is a bare repeated field: tag slices with \",list\"", strings.Join(path, "."))
	}
	isContainer := false
	if lt := n.Type().LogicalType(); lt != nil {
		switch lt.Value.(type) {
		case *format.ListType, *format.MapType:
			isContainer = true
		}
	}
	for _, f := range n.Fields() {
		if err := checkRepeated(f, append(slices.Clone(path), f.Name()), isContainer); err != nil {
			return err
		}
	}
	return nil
}

// canonicalNaN replaces every NaN value of row by the canonical bit pattern.
func canonicalNaN(row parquet.Row) parquet.Row {
	for i, v := range row {
		switch v.Kind() {
		case parquet.Double:
			if x := v.Double(); x != x && math.Float64bits(x) != CanonicalNaN64 {
				row[i] = parquet.DoubleValue(math.Float64frombits(CanonicalNaN64)).Level(v.RepetitionLevel(), v.DefinitionLevel(), v.Column())
			}
		case parquet.Float:
			if x := v.Float(); x != x && math.Float32bits(x) != CanonicalNaN32 {
				row[i] = parquet.FloatValue(math.Float32frombits(CanonicalNaN32)).Level(v.RepetitionLevel(), v.DefinitionLevel(), v.Column())
			}
		}
	}
	return row
}
