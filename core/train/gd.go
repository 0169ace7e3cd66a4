// Package train runs full-batch gradient descent on a core/nets Objective:
// w <- w - LR * grad L(w), no momentum, no weight decay (SPEC section 4).
package train

import (
	"fmt"
	"math"
	"slices"

	"github.com/demystify-resnet/repro/core/kernel"
	"github.com/demystify-resnet/repro/core/nets"
)

// Options configures GD.
type Options struct {
	// LR is the learning rate (> 0, finite).
	LR float64
	// Epochs is the number of full-batch steps (>= 0).
	Epochs int
	// Checkpoints lists the epochs (0 = the start, Epochs = the end) at which
	// to keep a copy of the weights. Duplicates are allowed.
	Checkpoints []int
	// Progress, if not nil, is called after epoch e's values are recorded,
	// for e = 0..Epochs (before the step that leaves epoch e).
	Progress func(epoch int)
}

// Result is the trajectory of one GD run. Slices are indexed by epoch:
// entry e describes the weights after e steps (0 = the initial weights).
type Result struct {
	// Loss[e] is L(w_e).
	Loss []float64
	// GradNorm[e] is the Euclidean norm of grad L(w_e).
	GradNorm []float64
	// AvgFrob[e] is the mean over the Depth weight matrices of their
	// Frobenius norms at w_e (fig2/fig3).
	AvgFrob []float64
	// Checkpoints maps each requested epoch reached before divergence to a
	// copy of w_e. Iterate it in sorted key order for deterministic output.
	Checkpoints map[int][]float64
	// Final holds w_Epochs, or, if the run diverged, the weights
	// w_DivergedAt at which a non-finite value was first seen.
	Final []float64
	// Diverged is true if the loss or gradient became NaN or Inf at some
	// epoch e; then Loss, GradNorm and AvgFrob hold +Inf from e on and no
	// further step was taken.
	Diverged bool
	// DivergedAt is the first epoch with a non-finite loss or gradient
	// (meaningful only if Diverged).
	DivergedAt int
}

// GD runs opt.Epochs steps of full-batch gradient descent on obj from w0
// (w0 is not modified) and records the trajectory. The inner loop does not
// allocate (checkpoint buffers are allocated up front) beyond what
// obj.Grad allocates (the core/nets objectives allocate nothing). It panics if
// len(w0) != obj.Dim() != arch.NumParams(), if LR is not finite and > 0, if
// Epochs < 0, or if a checkpoint lies outside [0, Epochs].
func GD(obj nets.Objective, arch nets.Arch, w0 []float64, opt Options) Result {
	p := obj.Dim()
	if len(w0) != p || arch.NumParams() != p {
		panic(fmt.Sprintf("train: len(w0) = %d, obj.Dim() = %d, arch has %d parameters", len(w0), p, arch.NumParams()))
	}
	if !(opt.LR > 0) || math.IsInf(opt.LR, 0) {
		panic(fmt.Sprintf("train: learning rate %v must be finite and > 0", opt.LR))
	}
	if opt.Epochs < 0 {
		panic(fmt.Sprintf("train: epochs %d < 0", opt.Epochs))
	}
	want := make(map[int][]float64, len(opt.Checkpoints))
	for _, e := range opt.Checkpoints {
		if e < 0 || e > opt.Epochs {
			panic(fmt.Sprintf("train: checkpoint epoch %d outside [0, %d]", e, opt.Epochs))
		}
		if want[e] == nil {
			want[e] = make([]float64, p)
		}
	}
	n := opt.Epochs + 1
	res := Result{Loss: make([]float64, n), GradNorm: make([]float64, n), AvgFrob: make([]float64, n),
		Checkpoints: make(map[int][]float64, len(want))}
	w := slices.Clone(w0)
	g := make([]float64, p)
	d2 := arch.Width * arch.Width
	for e := 0; e < n; e++ {
		loss := obj.Grad(g, w)
		gn := norm(g)
		if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(gn) || math.IsInf(gn, 0) {
			res.Diverged, res.DivergedAt = true, e
			for t := e; t < n; t++ {
				res.Loss[t], res.GradNorm[t], res.AvgFrob[t] = math.Inf(1), math.Inf(1), math.Inf(1)
			}
			break
		}
		var frob float64
		for k := 0; k < arch.Depth(); k++ {
			frob += norm(w[k*d2 : (k+1)*d2])
		}
		res.Loss[e], res.GradNorm[e], res.AvgFrob[e] = loss, gn, frob/float64(arch.Depth())
		if c, ok := want[e]; ok {
			copy(c, w)
			res.Checkpoints[e] = c
		}
		if opt.Progress != nil {
			opt.Progress(e)
		}
		if e < opt.Epochs {
			// w <- w - LR g (product rounded before the subtraction, never
			// fused: identical bits on every platform).
			for i, gi := range g {
				w[i] -= float64(opt.LR * gi)
			}
		}
	}
	res.Final = w
	return res
}

// norm is the Euclidean norm sqrt(kernel.Dot(x, x)) (order-fixed; no
// scaling, as values here are far from overflow unless diverging).
func norm(x []float64) float64 {
	return math.Sqrt(kernel.Dot(x, x))
}
