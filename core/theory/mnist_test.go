package theory

import (
	"testing"

	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/internal/mnistdir"
)

// TestTheoremsWhitenedMNIST runs the synthetic-data theorem checks on the
// paper's data (whitened MNIST, d = 10; SPEC section 6). Oracles as in
// checkTheorem2. Skipped with -short or when the MNIST files are absent.
func TestTheoremsWhitenedMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and whitens 60,000 images")
	}
	dir, err := mnistdir.Find()
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	x, y, _, err := data.WhitenedMNIST(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	st := data.ComputeStats(x, y)
	ds := dataset{x: x, y: y, sxx: st.Sxx, syx: st.Syx, syy: st.Syy}
	checkTheorem2(t, ds, 3)
	c := Cond0(archN2(10), Linear(ds.sxx, ds.syx))
	t.Logf("whitened MNIST: predicted cond(H at 0) for n = 2: %.6g", c)
}
