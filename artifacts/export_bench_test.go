package artifacts_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/demystify-resnet/repro/artifacts"
)

// BenchmarkHandOver measures what handing a stage its inputs costs per
// input (docs/security.md): Export (checked copy, fsync, rename) and
// ExportTemp (checked copy, no fsync; what the engine uses) against a
// plain unchecked, unsynced copy and against a hard link. The default size
// is the mean input of the smoke manifest (562 inputs, 10.5 MB).
func BenchmarkHandOver(b *testing.B) {
	for _, size := range []int{18 << 10, 1 << 20} {
		s, err := artifacts.Open(filepath.Join(b.TempDir(), "store"))
		if err != nil {
			b.Fatal(err)
		}
		src := filepath.Join(b.TempDir(), "in")
		os.WriteFile(src, bytes.Repeat([]byte("input bytes "), size/12), 0o644)
		id, _, err := s.Put(src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("export/%dKiB", size>>10), func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				if err := s.Export(id, dir, fmt.Sprintf("e%d", i), 0o444); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("export-temp/%dKiB", size>>10), func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				if err := s.ExportTemp(id, dir, fmt.Sprintf("t%d", i), 0o444); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("plain-copy/%dKiB", size>>10), func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				in, _ := os.Open(s.Path(id))
				out, _ := os.Create(filepath.Join(dir, fmt.Sprintf("c%d", i)))
				io.Copy(out, in)
				in.Close()
				out.Close()
			}
		})
		b.Run(fmt.Sprintf("hardlink/%dKiB", size>>10), func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; i < b.N; i++ {
				os.Link(s.Path(id), filepath.Join(dir, fmt.Sprintf("l%d", i)))
			}
		})
		s.Close()
	}
}
