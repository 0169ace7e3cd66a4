package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Images is a set of N grey-scale images of Rows x Cols pixels, stored image after
// image, each row-major: pixel (r, c) of image i is Pixels[i*Rows*Cols + r*Cols + c].
// Labels are kept separately as a []uint8 of length N.
type Images struct {
	N, Rows, Cols int
	Pixels        []uint8
}

// Pixel returns pixel (r, c) of image i. It panics if an index is out of range.
func (im Images) Pixel(i, r, c int) uint8 {
	if i < 0 || i >= im.N || r < 0 || r >= im.Rows || c < 0 || c >= im.Cols {
		panic(fmt.Sprintf("data: Pixel(%d, %d, %d) out of range %dx%dx%d", i, r, c, im.N, im.Rows, im.Cols))
	}
	return im.Pixels[(i*im.Rows+r)*im.Cols+c]
}

// IDX magic numbers: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// maxIDXBytes bounds the payload an IDX header may announce (guards against corrupt headers).
const maxIDXBytes = 1 << 31

// ReadIDXImages reads an IDX3 unsigned-byte image file (gzip-compressed or raw; the
// format is sniffed from the first bytes). Errors name the file and what is wrong.
func ReadIDXImages(path string) (Images, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Images{}, fmt.Errorf("data: read IDX images: %w", err)
	}
	return parseIDXImages(path, raw)
}

// ReadIDXLabels reads an IDX1 unsigned-byte label file (gzip-compressed or raw).
// Errors name the file and what is wrong.
func ReadIDXLabels(path string) ([]uint8, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: read IDX labels: %w", err)
	}
	return parseIDXLabels(path, raw)
}

func parseIDXImages(name string, raw []byte) (Images, error) {
	dims, payload, err := parseIDX(name, raw, idxImagesMagic, 3)
	if err != nil {
		return Images{}, err
	}
	return Images{N: dims[0], Rows: dims[1], Cols: dims[2], Pixels: payload}, nil
}

func parseIDXLabels(name string, raw []byte) ([]uint8, error) {
	_, payload, err := parseIDX(name, raw, idxLabelsMagic, 1)
	if err != nil {
		return nil, err
	}
	return payload, nil
}

// parseIDX decodes an IDX file with the given magic and number of dimensions and
// checks that the payload has exactly the announced size.
func parseIDX(name string, raw []byte, magic uint32, ndim int) ([]int, []byte, error) {
	var r io.Reader = bytes.NewReader(raw)
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("data: %s: bad gzip header: %w", name, err)
		}
		defer zr.Close()
		r = bufio.NewReaderSize(zr, 1<<16)
	}
	head := make([]byte, 4+4*ndim)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, nil, fmt.Errorf("data: %s: short IDX header: %w", name, err)
	}
	if got := binary.BigEndian.Uint32(head); got != magic {
		return nil, nil, fmt.Errorf("data: %s: IDX magic %#08x, want %#08x (unsigned bytes, %d dimensions)", name, got, magic, ndim)
	}
	dims := make([]int, ndim)
	total := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(head[4+4*i:]))
		if dims[i] == 0 {
			return nil, nil, fmt.Errorf("data: %s: IDX dimension %d is zero", name, i)
		}
		total *= dims[i]
		if total > maxIDXBytes {
			return nil, nil, fmt.Errorf("data: %s: IDX dimensions %v announce more than %d bytes", name, dims[:i+1], maxIDXBytes)
		}
	}
	payload := make([]byte, total)
	if n, err := io.ReadFull(r, payload); err != nil {
		return nil, nil, fmt.Errorf("data: %s: IDX payload truncated: got %d of %d bytes: %w", name, n, total, err)
	}
	var extra [1]byte
	if n, err := r.Read(extra[:]); n > 0 {
		return nil, nil, fmt.Errorf("data: %s: trailing bytes after the %d-byte IDX payload", name, total)
	} else if err != nil && err != io.EOF {
		return nil, nil, fmt.Errorf("data: %s: reading past IDX payload: %w", name, err)
	}
	return dims, payload, nil
}
