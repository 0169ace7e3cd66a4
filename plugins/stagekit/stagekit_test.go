package stagekit

import (
	"slices"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
)

// TestParseNet: the table of SPEC 4 / the brief (oracle: the architecture
// each schema net name stands for).
func TestParseNet(t *testing.T) {
	for _, tc := range []struct {
		net, act, init string
		depth          int
		plain          bool
		n, shortcut, r int
		kind           initw.Kind
		mid            nets.Activation
	}{
		{"xavier", "linear", "", 6, true, 0, 2, 3, initw.Xavier, nets.Identity},
		{"xavier", "", "", 5, true, 0, 1, 5, initw.Xavier, nets.Identity},
		{"orthogonal", "relu", "", 4, true, 0, 2, 2, initw.Orthogonal, nets.ReLU},
		{"shortcut1", "linear", "", 3, false, 1, 1, 3, initw.Small, nets.Identity},
		{"shortcut2", "tanh", "zero", 8, false, 2, 2, 4, initw.Zero, nets.Tanh},
		{"shortcut3", "linear", "identity", 6, false, 3, 3, 2, initw.Identity, nets.Identity},
	} {
		n, err := ParseNet(tc.net, tc.depth, tc.act, tc.init)
		if err != nil {
			t.Errorf("%v: %v", tc, err)
			continue
		}
		a := n.Arch
		if a.Plain != tc.plain || n.N != tc.n || a.Shortcut != tc.shortcut || a.Units != tc.r || n.Init != tc.kind ||
			a.Mid != tc.mid || a.Pre != nets.Identity || a.Post != nets.Identity || a.Width != Width || a.Depth() != tc.depth {
			t.Errorf("%v: got %+v", tc, n)
		}
	}
	for _, tc := range []struct {
		net, act, init string
		depth          int
		want           string
	}{
		{"resnet", "", "", 2, "unknown net"},
		{"shortcut2", "", "", 3, "divisible"},
		{"xavier", "relu", "", 3, "even depth"},
		{"xavier", "gelu", "", 2, "activation"},
		{"xavier", "", "he", 2, "init"},
		{"xavier", "", "", 0, "depth"},
	} {
		if _, err := ParseNet(tc.net, tc.depth, tc.act, tc.init); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc, err, tc.want)
		}
	}
}

// TestInitWeightsDeterministic: same seed, same weights; another seed,
// other weights; the "small" init is 0.01 x Xavier of the same draw.
func TestInitWeightsDeterministic(t *testing.T) {
	s, _ := ParseNet("shortcut2", 4, "", "")
	x, _ := ParseNet("shortcut2", 4, "", "xavier")
	a, b, c := s.InitWeights(5), s.InitWeights(5), s.InitWeights(6)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatal("InitWeights is not a function of the seed")
	}
	xw := x.InitWeights(5)
	for i := range a {
		if a[i] != 0.01*xw[i] {
			t.Fatalf("small[%d] = %v, want 0.01 x %v", i, a[i], xw[i])
		}
	}
}

// TestLogEpochs: hand-computed grids.
func TestLogEpochs(t *testing.T) {
	for _, tc := range []struct {
		epochs, points int
		want           []int
	}{
		{0, 30, []int{0}},
		{1, 5, []int{0, 1}},
		{10, 2, []int{0, 10}},
		// exp(k/3 ln 1001) - 1 = 0, 9, 99, 1000.
		{1000, 4, []int{0, 9, 99, 1000}},
	} {
		if got := LogEpochs(tc.epochs, tc.points); !slices.Equal(got, tc.want) {
			t.Errorf("LogEpochs(%d, %d) = %v, want %v", tc.epochs, tc.points, got, tc.want)
		}
	}
	g := LogEpochs(1000, 30)
	if g[0] != 0 || g[len(g)-1] != 1000 || len(g) > 30 || len(g) < 25 || !slices.IsSorted(g) {
		t.Errorf("LogEpochs(1000, 30) = %v", g)
	}
}

func TestFindMNISTParam(t *testing.T) {
	if _, err := FindMNIST(t.TempDir()); err == nil || !strings.Contains(err.Error(), "mnist_dir") {
		t.Errorf("empty mnist_dir accepted: %v", err)
	}
}
