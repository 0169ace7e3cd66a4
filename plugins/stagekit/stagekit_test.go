package stagekit

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/plugins/schema"
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
			a.Mid != tc.mid || a.Pre != nets.Identity || a.Post != nets.Identity || a.Width != schema.Width || a.Depth() != tc.depth {
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

// TestInitScale: the default Small scale gives exactly initw.Small's
// weights (0.01 x the Xavier draws); another scale multiplies the same
// draws; bad scales are refused.
func TestInitScale(t *testing.T) {
	n, _ := ParseNet("shortcut2", 4, "", "")
	if n.Scale != 0.01 {
		t.Fatalf("default scale %v", n.Scale)
	}
	want := make([]float64, n.Arch.NumParams())
	initw.Init(want, n.Arch, initw.Small, rand.New(rand.NewPCG(3, InitStream)))
	got := n.InitWeights(3)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("w[%d] = %v, initw.Small gives %v", i, got[i], want[i])
		}
	}
	big, err := n.WithScale(0.1)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range big.InitWeights(3) {
		if math.Abs(v-10*got[i]) > 1e-15*math.Abs(v) {
			t.Fatalf("scale 0.1: w[%d] = %v, want 10 x %v", i, v, got[i])
		}
	}
	if d, _ := n.WithScale(0); d.Scale != 0.01 {
		t.Errorf("WithScale(0) = %v, want the default", d.Scale)
	}
	z, _ := ParseNet("shortcut2", 4, "", "zero")
	for _, tc := range []struct {
		n Net
		s float64
	}{{n, -1}, {n, math.Inf(1)}, {n, math.NaN()}, {z, 0.5}} {
		if _, err := tc.n.WithScale(tc.s); err == nil {
			t.Errorf("%s scale %v: no error", tc.n.InitName(), tc.s)
		}
	}
}

// TestEscapeEpoch: hand-worked cases of the definition (L_min = 0.5,
// L(0) = 1.5, f = 0.1: the first epoch with loss <= 1.4).
func TestEscapeEpoch(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		loss []float64
		want int
	}{
		{[]float64{1.5, 1.45, 1.41, 1.4, 0.6}, 3},
		{[]float64{1.5, 1.45, 1.41}, -1},
		{[]float64{1.5, 1.45, inf, inf}, -1},
		{[]float64{inf, 1}, -1},
		{[]float64{0.5, 0.5}, 0},
		{nil, -1},
	} {
		if got := EscapeEpoch(tc.loss, 0.5, 0.1); got != tc.want {
			t.Errorf("EscapeEpoch(%v) = %d, want %d", tc.loss, got, tc.want)
		}
	}
}

// TestFrobDist: against a direct sum over a full dense matrix.
func TestFrobDist(t *testing.T) {
	a := mat.NewSymDense(3, []float64{1, 2, 3, 2, 4, 5, 3, 5, 6})
	b := mat.NewSymDense(3, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1})
	if got, want := FrobDist(a, nil), math.Sqrt(1+4+9+4+16+25+9+25+36); got != want {
		t.Errorf("||a|| = %v, want %v", got, want)
	}
	if got, want := FrobDist(a, b), math.Sqrt(0+4+9+4+9+25+9+25+25); got != want {
		t.Errorf("||a - b|| = %v, want %v", got, want)
	}
}
