package table

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
)

// curveRow exercises every field kind the pipeline uses.
type curveRow struct {
	Depth int64     `parquet:"depth"`
	Init  string    `parquet:"init"`
	Loss  float64   `parquet:"loss"`
	Done  bool      `parquet:"done"`
	Eigen []float64 `parquet:"eigen,list"`
}

type otherRow struct {
	Name  string  `parquet:"name"`
	Value float64 `parquet:"value"`
}

func makeCurve(n int, seed uint64) []curveRow {
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([]curveRow, n)
	inits := []string{"xavier", "orthogonal", "shortcut2"}
	for i := range rows {
		ev := make([]float64, rng.IntN(6)) // includes empty lists
		for j := range ev {
			ev[j] = rng.NormFloat64()
		}
		rows[i] = curveRow{Depth: int64(2 * (i%20 + 1)), Init: inits[i%3], Loss: rng.ExpFloat64(), Done: i%2 == 0, Eigen: ev}
	}
	return rows
}

func sha(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// sameBits compares rows field by field, floats by bit pattern (NaN, -0).
func sameBits(a, b []curveRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Depth != y.Depth || x.Init != y.Init || x.Done != y.Done ||
			math.Float64bits(x.Loss) != math.Float64bits(y.Loss) || len(x.Eigen) != len(y.Eigen) {
			return false
		}
		for j := range x.Eigen {
			if math.Float64bits(x.Eigen[j]) != math.Float64bits(y.Eigen[j]) {
				return false
			}
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rows := makeCurve(2500, 1) // more than two batches
	rows[0].Loss = math.Inf(1)
	rows[1].Loss = math.Copysign(0, -1)
	rows[2].Eigen = []float64{math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64}
	rows[3].Init = "ünïcødé, \"quoted\"\ttab"
	p := filepath.Join(dir, "curve.parquet")
	if err := Write(p, rows); err != nil {
		t.Fatal(err)
	}
	got, err := Read[curveRow](p)
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: the input rows themselves, compared bit for bit.
	if !sameBits(rows, got) {
		t.Fatalf("Read(Write(x)) != x; first rows %+v vs %+v", rows[:3], got[:3])
	}
	// The pinned created_by, not the library's build string.
	f, _ := os.Open(p)
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	if cb := pf.Metadata().CreatedBy; cb != "demystify-resnet version 1.0.0(build table-v1)" {
		t.Errorf("created_by = %q", cb)
	}
	if ng := len(pf.RowGroups()); ng != 1 {
		t.Errorf("%d row groups for 2500 rows, want 1", ng)
	}
}

func TestEmptyTable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.parquet")
	if err := Write[curveRow](p, nil); err != nil {
		t.Fatal(err)
	}
	got, err := Read[curveRow](p)
	if err != nil || len(got) != 0 {
		t.Fatalf("Read(empty) = %v, %v", got, err)
	}
	if _, err := LogicalDigest(p); err != nil {
		t.Fatal(err)
	}
}

func TestSameRowsSameBytes(t *testing.T) {
	dir := t.TempDir()
	rows := makeCurve(1500, 2)
	others := [][]otherRow{{{"a", 1}}, {{"b", 2}, {"c", math.NaN()}}}
	var want [32]byte
	for i := 0; i < 200; i++ {
		p := filepath.Join(dir, "curve.parquet")
		if err := Write(p, rows); err != nil {
			t.Fatal(err)
		}
		h := sha(t, p)
		if i == 0 {
			want = h
		} else if h != want {
			t.Fatalf("write %d gave different bytes", i)
		}
		// Interleave other tables (other schemas, other sizes) to shake
		// pooled buffers inside the library.
		if err := Write(filepath.Join(dir, "other.parquet"), others[i%2]); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := Write(filepath.Join(dir, "small.parquet"), makeCurve(i+1, uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Concurrent writers (a plugin may write several tables at once) share
	// the pooled codec and buffers: still one hash.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				p := filepath.Join(dir, fmt.Sprintf("curve-%d-%d.parquet", g, i))
				if err := Write(p, rows); err != nil {
					t.Error(err)
					return
				}
				if sha(t, p) != want {
					t.Errorf("concurrent write %d/%d gave different bytes", g, i)
				}
			}
		}()
	}
	wg.Wait()
}

func TestNaNCanonicalised(t *testing.T) {
	dir := t.TempDir()
	patterns := []uint64{
		CanonicalNaN64,
		0x7ff8000000000001, // math.NaN()
		0xfff8000000000000, // negative quiet NaN (x86 default from 0/0)
		0x7ff0000000000001, // signalling NaN
		0x7fffffffffffffff,
	}
	var want [32]byte
	for i, bits := range patterns {
		nan := math.Float64frombits(bits)
		rows := []curveRow{{Depth: 1, Loss: nan, Eigen: []float64{1, nan}}}
		p := filepath.Join(dir, "nan.parquet")
		if err := Write(p, rows); err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(rows[0].Loss) != bits {
			t.Fatal("Write modified the caller's rows")
		}
		h := sha(t, p)
		if i == 0 {
			want = h
		} else if h != want {
			t.Errorf("NaN %#x gives different bytes from the canonical NaN", bits)
		}
		got, err := Read[curveRow](p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(got[0].Loss) != CanonicalNaN64 || math.Float64bits(got[0].Eigen[1]) != CanonicalNaN64 {
			t.Errorf("read back %#x, want canonical NaN", math.Float64bits(got[0].Loss))
		}
	}
}

func TestLogicalDigestIgnoresPhysicalLayout(t *testing.T) {
	dir := t.TempDir()
	rows := makeCurve(3000, 3)
	variants := map[string][]parquet.WriterOption{
		"pinned":       nil,
		"snappy":       {parquet.Compression(&snappy.Codec{})},
		"uncompressed": {parquet.Compression(&uncompressed.Codec{}), parquet.DataPageVersion(2)},
		"small-pages":  {parquet.PageBufferSize(1024), parquet.MaxRowsPerRowGroup(700)},
	}
	hashes := map[[32]byte]string{}
	var digest string
	for name, opts := range variants {
		p := filepath.Join(dir, name+".parquet")
		if err := writeWith(p, rows, opts...); err != nil {
			t.Fatal(err)
		}
		hashes[sha(t, p)] = name
		d, err := LogicalDigest(p)
		if err != nil {
			t.Fatal(err)
		}
		if digest == "" {
			digest = d
		} else if d != digest {
			t.Errorf("%s: logical digest %s differs from %s", name, d[:12], digest[:12])
		}
	}
	// The variants really are different files.
	if len(hashes) != len(variants) {
		t.Fatalf("only %d distinct files out of %d variants", len(hashes), len(variants))
	}
	// And the digest does see the rows: change one bit of one value.
	rows[1234].Eigen = append([]float64(nil), rows[1234].Eigen...)
	rows[1234].Loss = math.Nextafter(rows[1234].Loss, 2)
	p := filepath.Join(dir, "changed.parquet")
	if err := Write(p, rows); err != nil {
		t.Fatal(err)
	}
	if d, _ := LogicalDigest(p); d == digest {
		t.Error("changing one value does not change the logical digest")
	}
	// A different schema with the same values differs too.
	p2 := filepath.Join(dir, "other.parquet")
	Write(p2, []otherRow{{"x", 1}})
	p3 := filepath.Join(dir, "other2.parquet")
	type renamed struct {
		Name  string  `parquet:"label"`
		Value float64 `parquet:"value"`
	}
	Write(p3, []renamed{{"x", 1}})
	d2, _ := LogicalDigest(p2)
	d3, _ := LogicalDigest(p3)
	if d2 == d3 {
		t.Error("renaming a column does not change the logical digest")
	}
}

func TestSchemaChecks(t *testing.T) {
	dir := t.TempDir()
	type bare struct {
		X []float64 `parquet:"x"`
	}
	if err := Write(filepath.Join(dir, "bare.parquet"), []bare{{X: []float64{1}}}); err == nil || !strings.Contains(err.Error(), ",list") {
		t.Errorf("bare repeated field accepted: %v", err)
	}
	if err := Write(filepath.Join(dir, "int.parquet"), []int{1}); err == nil {
		t.Error("non-struct row type accepted")
	}
	p := filepath.Join(dir, "other.parquet")
	if err := Write(p, []otherRow{{"a", 1}}); err != nil {
		t.Fatal(err)
	}
	type wider struct {
		Name  string  `parquet:"name"`
		Value float64 `parquet:"value"`
		Extra int64   `parquet:"extra"`
	}
	if _, err := Read[wider](p); err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("Read with a missing column = %v, want an error naming it", err)
	}
	type narrower struct {
		Value float64 `parquet:"value"`
	}
	got, err := Read[narrower](p)
	if err != nil || len(got) != 1 || got[0].Value != 1 {
		t.Errorf("Read of a column subset = %v, %v", got, err)
	}
	type wrongType struct {
		Value int64 `parquet:"value"`
	}
	if _, err := Read[wrongType](p); err == nil {
		t.Error("Read with a mismatched physical type succeeded")
	}
}

func TestDump(t *testing.T) {
	dir := t.TempDir()
	rows := []curveRow{
		{Depth: 2, Init: "xavier", Loss: 0.25, Done: true, Eigen: []float64{1.5, -2}},
		{Depth: 40, Init: "shortcut2", Loss: math.NaN(), Eigen: nil},
		{Depth: 6, Init: "orthogonal", Loss: 1.0 / 3, Eigen: []float64{1, 2, 3, 4, 5, 6}},
	}
	p := filepath.Join(dir, "c.parquet")
	if err := Write(p, rows); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Dump(&b, p, "table", 0); err != nil {
		t.Fatal(err)
	}
	// Oracle: the expected rendering, written by hand from the rows above.
	want := "" +
		"depth  init        loss      done   eigen\n" +
		"2      xavier      0.25      true   [1.5, -2]\n" +
		"40     shortcut2   NaN       false  []\n" +
		"6      orthogonal  0.333333  false  [1, 2, 3, 4, … (6)]\n" +
		"(3 of 3 rows)\n"
	if b.String() != want {
		t.Fatalf("table dump:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := Dump(&b, p, "table", 1); err != nil || !strings.HasSuffix(b.String(), "(1 of 3 rows)\n") || strings.Count(b.String(), "\n") != 3 {
		t.Fatalf("limited dump:\n%s (%v)", b.String(), err)
	}

	b.Reset()
	if err := Dump(&b, p, "csv", 0); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][4] != "eigen" || recs[3][2] != "0.3333333333333333" || recs[3][4] != "[1,2,3,4,5,6]" {
		t.Fatalf("csv dump: %q", recs)
	}

	b.Reset()
	if err := Dump(&b, p, "json", 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"depth":2,"init":"xavier"`) {
		t.Fatalf("json dump: %q", lines)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &obj); err != nil {
		t.Fatalf("json line %q: %v", lines[1], err)
	}
	if obj["loss"] != "NaN" || !reflect.DeepEqual(obj["eigen"], []any{}) {
		t.Fatalf("json row: %v", obj)
	}
	if err := Dump(&b, p, "xml", 0); err == nil {
		t.Error("unknown format accepted")
	}
}

// hessianRow is the shape of a dense matrix stored one row per record.
type hessianRow struct {
	I   int64     `parquet:"i"`
	Row []float64 `parquet:"row,list"`
}

// BenchmarkWriteHessian2000 writes a 2000 x 2000 matrix (the exact Hessian
// at D = 20, d = 10), the largest table the paper's pipeline produces.
func BenchmarkWriteHessian2000(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]hessianRow, 2000)
	for i := range rows {
		rows[i].I = int64(i)
		rows[i].Row = make([]float64, 2000)
		for j := range rows[i].Row {
			rows[i].Row[j] = rng.NormFloat64()
		}
	}
	p := filepath.Join(b.TempDir(), "h.parquet")
	b.ResetTimer()
	for b.Loop() {
		if err := Write(p, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, _ := os.Stat(p)
	b.ReportMetric(float64(fi.Size())/1e6, "MB")
}

// BenchmarkReadHessian2000 reads the same matrix back.
func BenchmarkReadHessian2000(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]hessianRow, 2000)
	for i := range rows {
		rows[i].I = int64(i)
		rows[i].Row = make([]float64, 2000)
		for j := range rows[i].Row {
			rows[i].Row[j] = rng.NormFloat64()
		}
	}
	p := filepath.Join(b.TempDir(), "h.parquet")
	if err := Write(p, rows); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Read[hessianRow](p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOtherFieldTypes(t *testing.T) {
	type inner struct {
		A int32   `parquet:"a"`
		B float32 `parquet:"b"`
	}
	type row struct {
		N     int      `parquet:"n"`
		In    inner    `parquet:"in"`
		Names []string `parquet:"names,list"`
		F32   float32  `parquet:"f32"`
	}
	dir := t.TempDir()
	rows := []row{
		{N: -3, In: inner{A: 7, B: 1.5}, Names: []string{"x", "y"}, F32: float32(math.NaN())},
		{N: 1 << 40, Names: []string{}, F32: math.Float32frombits(0xffc00001)},
	}
	p := filepath.Join(dir, "o.parquet")
	if err := Write(p, rows); err != nil {
		t.Fatal(err)
	}
	got, err := Read[row](p)
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: the input, with float32 NaNs read back canonical.
	if len(got) != 2 || got[0].N != -3 || got[0].In != rows[0].In || !reflect.DeepEqual(got[0].Names, []string{"x", "y"}) ||
		got[1].N != 1<<40 || len(got[1].Names) != 0 ||
		math.Float32bits(got[0].F32) != CanonicalNaN32 || math.Float32bits(got[1].F32) != CanonicalNaN32 {
		t.Fatalf("round trip: %+v", got)
	}
	var b bytes.Buffer
	if err := Dump(&b, p, "csv", 0); err != nil {
		t.Fatal(err)
	}
	if want := "n,in.a,in.b,names,f32\n-3,7,1.5,\"[x,y]\",NaN\n1099511627776,0,0,[],NaN\n"; b.String() != want {
		t.Fatalf("csv:\n%s\nwant\n%s", b.String(), want)
	}
}

// TestReadFiles concatenates files in the order given (oracle: the rows written).
func TestReadFiles(t *testing.T) {
	type row struct {
		I int64 `parquet:"i"`
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	if err := Write(a, []row{{1}, {2}}); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, []row{{3}}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFiles[row](b, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].I != 3 || got[1].I != 1 || got[2].I != 2 {
		t.Fatalf("ReadFiles(b, a) = %v", got)
	}
	if _, err := ReadFiles[row](a, filepath.Join(dir, "missing.parquet")); err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Fatalf("error does not name the file: %v", err)
	}
}
