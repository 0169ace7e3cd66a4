package nets

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// Arch describes an n-shortcut residual network (or a plain network) of
// constant width d (SPEC section 2):
//
//	residual: y = prod_{r=1..R} ( s_post(W^{r,n} s_mid(... s_mid(W^{r,1} s_pre(h)))) + h )
//	plain:    the same product without the "+ h" identity,
//
// later units on the left. Activations sit on the transformation path
// only: Pre before the first layer of every unit, Mid after every layer of
// a unit but the last, Post after the last layer of every unit. A plain
// net uses Shortcut only to group its layers for placing activations
// (Shortcut = 2 with Mid = ReLU puts a ReLU after weight layers 1, 3, 5...).
type Arch struct {
	Width    int  // d >= 1
	Shortcut int  // n >= 1: weight layers per residual unit (grouping for plain nets)
	Plain    bool // true: no identity shortcut
	Units    int  // R >= 1

	Pre, Mid, Post Activation
}

// Depth returns the number of weight layers D = Shortcut * Units.
func (a Arch) Depth() int { return a.Shortcut * a.Units }

// NumParams returns P = Depth * Width^2, the length of a weight vector.
func (a Arch) NumParams() int { return a.Depth() * a.Width * a.Width }

// Linear reports whether all three activations are Identity, i.e. whether
// the network computes a linear map (its end-to-end matrix, EndToEnd).
func (a Arch) Linear() bool { return a.Pre == Identity && a.Mid == Identity && a.Post == Identity }

// Validate returns an error describing the first invalid field, or nil.
func (a Arch) Validate() error {
	switch {
	case a.Width < 1:
		return fmt.Errorf("nets: width %d < 1", a.Width)
	case a.Shortcut < 1:
		return fmt.Errorf("nets: shortcut %d < 1", a.Shortcut)
	case a.Units < 1:
		return fmt.Errorf("nets: units %d < 1", a.Units)
	case !a.Pre.valid() || !a.Mid.valid() || !a.Post.valid():
		return errors.New("nets: invalid activation")
	}
	return nil
}

// String returns a compact description such as "res n=2 R=5 d=10 pre=identity mid=relu post=identity".
func (a Arch) String() string {
	kind := "res"
	if a.Plain {
		kind = "plain"
	}
	return fmt.Sprintf("%s n=%d R=%d d=%d pre=%v mid=%v post=%v", kind, a.Shortcut, a.Units, a.Width, a.Pre, a.Mid, a.Post)
}

func (a Arch) mustValidate() {
	if err := a.Validate(); err != nil {
		panic(err)
	}
}

// LayerIndex returns the index k = r*Shortcut + l of weight matrix W^{r+1,l+1}
// (r and l are 0-based: unit r in [0, Units), layer l in [0, Shortcut)).
// Layer k occupies w[k*d*d : (k+1)*d*d]. It panics on out-of-range arguments.
func (a Arch) LayerIndex(r, l int) int {
	if r < 0 || r >= a.Units || l < 0 || l >= a.Shortcut {
		panic(fmt.Sprintf("nets: layer (%d,%d) out of range for %v", r, l, a))
	}
	return r*a.Shortcut + l
}

// ParamIndex returns the position in the flat weight vector of entry (i, j)
// (row i, column j, 0-based) of layer k: k*d*d + j*d + i (the paper's
// Definition 5 order: unit, layer in unit, column, row). It panics on
// out-of-range arguments.
func (a Arch) ParamIndex(k, i, j int) int {
	d := a.Width
	if k < 0 || k >= a.Depth() || i < 0 || i >= d || j < 0 || j >= d {
		panic(fmt.Sprintf("nets: parameter (%d,%d,%d) out of range for %v", k, i, j, a))
	}
	return k*d*d + j*d + i
}

func checkLen(w []float64, arch Arch, what string) {
	if len(w) != arch.NumParams() {
		panic(fmt.Sprintf("nets: %s has length %d, want %d for %v", what, len(w), arch.NumParams(), arch))
	}
}

// Layer returns a new d x d matrix holding a copy of layer k of w (column-major
// storage in w, so a view is impossible). It panics if len(w) != arch.NumParams()
// or k is out of range.
func Layer(w []float64, arch Arch, k int) *mat.Dense {
	checkLen(w, arch, "w")
	if k < 0 || k >= arch.Depth() {
		panic(fmt.Sprintf("nets: layer %d out of range [0,%d)", k, arch.Depth()))
	}
	d := arch.Width
	m := mat.NewDense(d, d, nil)
	src := w[k*d*d : (k+1)*d*d]
	for j := 0; j < d; j++ {
		for i := 0; i < d; i++ {
			m.Set(i, j, src[j*d+i])
		}
	}
	return m
}

// SetLayer copies the d x d matrix m into layer k of w (column-major). It
// panics on shape mismatch or out-of-range k.
func SetLayer(w []float64, arch Arch, k int, m mat.Matrix) {
	checkLen(w, arch, "w")
	d := arch.Width
	if r, c := m.Dims(); r != d || c != d {
		panic(fmt.Sprintf("nets: SetLayer with %dx%d matrix, want %dx%d", r, c, d, d))
	}
	if k < 0 || k >= arch.Depth() {
		panic(fmt.Sprintf("nets: layer %d out of range [0,%d)", k, arch.Depth()))
	}
	dst := w[k*d*d : (k+1)*d*d]
	for j := 0; j < d; j++ {
		for i := 0; i < d; i++ {
			dst[j*d+i] = m.At(i, j)
		}
	}
}
