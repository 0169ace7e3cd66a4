package table

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// digestVersion heads the canonical encoding that LogicalDigest hashes.
const digestVersion = "demystify-resnet table.LogicalDigest v1\n"

// LogicalDigest returns the sha256 (64 lowercase hex digits) of a canonical
// encoding of the file's schema and decoded rows: field names, repetition,
// physical and logical types, then every value of every row in order with
// its column index and repetition/definition levels. It does not depend on
// compression, encoding, page or row-group layout, or created_by, so two
// files with equal digests are "equal after decoding". Floating-point
// values are compared by bits, except that every NaN counts as one value
// (so 0.0 and -0.0 differ).
func LogicalDigest(path string) (string, error) {
	pf, closeFile, err := openParquet(path)
	if err != nil {
		return "", fmt.Errorf("table: digest: %w", err)
	}
	defer closeFile()
	h := sha256.New()
	io.WriteString(h, digestVersion)
	io.WriteString(h, SchemaTextOf(pf.Schema()))
	io.WriteString(h, "rows\n")
	var n int64
	err = forEachRow(pf, 0, func(row parquet.Row) error {
		hashRow(h, row)
		n++
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("table: digest %s: %w", path, err)
	}
	fmt.Fprintf(h, "end %d\n", n)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashRow(h hash.Hash, row parquet.Row) {
	var buf [3*binary.MaxVarintLen64 + 2 + 12]byte
	for _, v := range row {
		b := append(buf[:0], 'v')
		b = binary.AppendUvarint(b, uint64(v.Column()))
		b = binary.AppendUvarint(b, uint64(v.RepetitionLevel()))
		b = binary.AppendUvarint(b, uint64(v.DefinitionLevel()))
		if v.IsNull() {
			h.Write(append(b, 0xff))
			continue
		}
		k := v.Kind()
		b = append(b, byte(k))
		switch k {
		case parquet.Boolean:
			if v.Boolean() {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case parquet.Int32:
			b = binary.LittleEndian.AppendUint32(b, uint32(v.Int32()))
		case parquet.Int64:
			b = binary.LittleEndian.AppendUint64(b, uint64(v.Int64()))
		case parquet.Float:
			x := v.Float()
			bits := math.Float32bits(x)
			if x != x {
				bits = CanonicalNaN32
			}
			b = binary.LittleEndian.AppendUint32(b, bits)
		case parquet.Double:
			x := v.Double()
			bits := math.Float64bits(x)
			if x != x {
				bits = CanonicalNaN64
			}
			b = binary.LittleEndian.AppendUint64(b, bits)
		default: // Int96, ByteArray, FixedLenByteArray: length-prefixed bytes
			p := v.Bytes()
			b = binary.AppendUvarint(b, uint64(len(p)))
			h.Write(b)
			h.Write(p)
			continue
		}
		h.Write(b)
	}
	h.Write([]byte{'r'})
}

// SchemaText returns the canonical text of the file's schema, one node per
// line, as hashed by LogicalDigest.
func SchemaText(path string) (string, error) {
	pf, closeFile, err := openParquet(path)
	if err != nil {
		return "", fmt.Errorf("table: schema: %w", err)
	}
	defer closeFile()
	return SchemaTextOf(pf.Schema()), nil
}

// SchemaTextOf returns the canonical text of schema: "message <name>" and
// then, indented by depth, "<repetition> <name> <type>" per node, where type
// is "group" or the physical type (with its length for fixed-size byte
// arrays), followed by the logical type if any. Encodings and compression
// are deliberately absent.
func SchemaTextOf(schema *parquet.Schema) string {
	var b strings.Builder
	b.WriteString("message " + strconv.Quote(schema.Name()) + "\n")
	for _, f := range schema.Fields() {
		writeNode(&b, f, f.Name(), 1)
	}
	return b.String()
}

func writeNode(b *strings.Builder, n parquet.Node, name string, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	switch {
	case n.Repeated():
		b.WriteString("repeated ")
	case n.Optional():
		b.WriteString("optional ")
	default:
		b.WriteString("required ")
	}
	b.WriteString(strconv.Quote(name))
	t := n.Type()
	if n.Leaf() {
		b.WriteString(" " + t.Kind().String())
		if t.Kind() == parquet.FixedLenByteArray {
			fmt.Fprintf(b, "(%d)", t.Length())
		}
	} else {
		b.WriteString(" group")
	}
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		b.WriteString(" " + lt.String())
	}
	b.WriteByte('\n')
	for _, f := range n.Fields() {
		writeNode(b, f, f.Name(), depth+1)
	}
}

// openParquet opens path as a Parquet file.
func openParquet(path string) (*parquet.File, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return pf, func() { f.Close() }, nil
}

// forEachRow calls fn on every row of pf in order (at most limit rows when
// limit > 0). The row is only valid during the call.
func forEachRow(pf *parquet.File, limit int64, fn func(parquet.Row) error) error {
	r := parquet.NewReader(pf)
	defer r.Close()
	buf := make([]parquet.Row, 64)
	var seen int64
	for {
		n, err := r.ReadRows(buf)
		for _, row := range buf[:n] {
			if limit > 0 && seen >= limit {
				return nil
			}
			if ferr := fn(row); ferr != nil {
				return ferr
			}
			seen++
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("reader made no progress after %d rows", seen)
		}
	}
}
