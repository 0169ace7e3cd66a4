package figs

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderAll renders every figure twice from hand-made rows and checks
// that each PNG decodes (oracle: image/png) at the expected pixel size,
// that each SVG is a well-formed svg document start, that the PNG carries
// the caption chunk, and that both renders are byte-identical.
// Set FIGS_OUT=dir to keep the files for looking at them.
func TestRenderAll(t *testing.T) {
	d := sampleData()
	out := os.Getenv("FIGS_OUT")
	for _, id := range Figures {
		t.Run(id, func(t *testing.T) {
			var pngs, svgs [2][]byte
			for k := range 2 {
				f, err := Build(d, Options{Figure: id, Replicate: -1})
				if err != nil {
					t.Fatalf("Build: %v", err)
				}
				var pb, sb bytes.Buffer
				if err := f.WritePNG(&pb); err != nil {
					t.Fatal(err)
				}
				if err := f.WriteSVG(&sb); err != nil {
					t.Fatal(err)
				}
				pngs[k], svgs[k] = pb.Bytes(), sb.Bytes()
				if k == 0 {
					img, err := png.Decode(bytes.NewReader(pngs[0]))
					if err != nil {
						t.Fatalf("png decode: %v", err)
					}
					wantW := int(float64(f.Width) / 72 * DPI)
					if got := img.Bounds().Dx(); got < wantW-1 || got > wantW+1 {
						t.Errorf("png width %d, want %d", got, wantW)
					}
					if !bytes.Contains(pngs[0], []byte("iTXtTitle\x00\x00\x00\x00\x00"+id+": ")) {
						t.Errorf("png lacks the Title iTXt chunk")
					}
					if !strings.Contains(string(svgs[0][:200]), "<svg") {
						t.Errorf("svg does not start with an svg element: %q", svgs[0][:100])
					}
				}
			}
			if !bytes.Equal(pngs[0], pngs[1]) {
				t.Errorf("PNG bytes differ between two renders")
			}
			if !bytes.Equal(svgs[0], svgs[1]) {
				t.Errorf("SVG bytes differ between two renders")
			}
			if out != "" {
				_ = os.WriteFile(filepath.Join(out, id+".png"), pngs[0], 0o644)
				_ = os.WriteFile(filepath.Join(out, id+".svg"), svgs[0], 0o644)
			}
		})
	}
}
