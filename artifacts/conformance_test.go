package artifacts_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/artifacts/storetest"
)

func TestFilesystemStoreConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) artifacts.Storage {
			s, err := artifacts.Open(filepath.Join(t.TempDir(), "store"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Corrupt: func(t *testing.T, s artifacts.Storage, id artifacts.OutputID) {
			p := s.(*artifacts.Store).Path(id)
			b, err := os.ReadFile(p)
			if err != nil {
				// A previous read quarantined it: put a wrong copy back.
				b = []byte("missing")
			}
			if len(b) > 0 {
				b[len(b)/2] ^= 0x40
			}
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, b, 0o444); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) artifacts.Storage { return artifacts.NewMemory() },
		Corrupt: func(t *testing.T, s artifacts.Storage, id artifacts.OutputID) {
			if !s.(*artifacts.Memory).Corrupt(id) {
				t.Fatalf("Corrupt: no object %s", id.Short())
			}
		},
	})
}
