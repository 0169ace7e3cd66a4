package nets

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/demystify-resnet/repro/core/kernel"
	"gonum.org/v1/gonum/mat"
)

// sampledChunk is the number of samples processed together. It is a fixed
// constant (never derived from the machine) so that the order of every
// floating-point sum, hence every result bit, is the same everywhere.
const sampledChunk = 512

// Sampled is the per-sample loss L(w) = 1/(2m) ||Y - f_w(X)||_F^2 of a
// network with any activations. It implements Objective. Create it with
// NewSampled; it is not safe for concurrent use.
type Sampled struct {
	arch Arch
	e    *engine
	p    int
	// Hessian assembly workspaces (allocated on first use).
	workers []*hessWorker
}

// NewSampled returns the loss of arch on the samples X, Y (both d x m,
// columns are samples). The data are copied. It panics if arch is invalid
// or the shapes do not match.
func NewSampled(arch Arch, x, y *mat.Dense) *Sampled {
	arch.mustValidate()
	d := arch.Width
	xr, m := x.Dims()
	yr, ym := y.Dims()
	if xr != d || yr != d || ym != m || m == 0 {
		panic(fmt.Sprintf("nets: NewSampled with X %dx%d and Y %dx%d, want %d x m (m > 0)", xr, m, yr, ym, d))
	}
	loss := &sampledLoss{y: denseRowMajor(y), d: d, m: m, inv: 1 / float64(m)}
	return &Sampled{arch: arch, e: newEngine(arch, denseRowMajor(x), m, loss, sampledChunk, d), p: arch.NumParams()}
}

// Dim returns the number of parameters.
func (s *Sampled) Dim() int { return s.p }

// Loss returns L(w).
func (s *Sampled) Loss(w []float64) float64 {
	checkLen(w, s.arch, "w")
	var sum float64
	for col := 0; col < s.e.m; col += s.e.chunk {
		c := min(s.e.chunk, s.e.m-col)
		sum += s.e.forward(w, col, c)
	}
	return sum
}

// Grad writes dL/dw into dst and returns L(w).
func (s *Sampled) Grad(dst, w []float64) float64 {
	checkLen(w, s.arch, "w")
	checkLen(dst, s.arch, "dst")
	var sum float64
	beta := 0.0
	for col := 0; col < s.e.m; col += s.e.chunk {
		c := min(s.e.chunk, s.e.m-col)
		sum += s.e.forward(w, col, c)
		s.e.backward(w, col, c)
		s.e.gradAccum(dst, c, beta)
		beta = 1
	}
	return sum
}

// HessVec writes H(w) v into dst (exact forward-over-reverse product).
func (s *Sampled) HessVec(dst, w, v []float64) {
	checkLen(w, s.arch, "w")
	checkLen(v, s.arch, "v")
	checkLen(dst, s.arch, "dst")
	hessVec(s.e, dst, w, v)
}

func hessVec(e *engine, dst, w, v []float64) {
	d := e.d
	clear(dst)
	for col := 0; col < e.m; col += e.chunk {
		c := min(e.chunk, e.m-col)
		e.forward(w, col, c)
		e.backward(w, col, c)
		e.tangentForward(e.tw, w, v, -1, c, 1)
		e.tangentBackward(e.tw, w, v, -1, c, 1, func(k int, dlam []float64) {
			out := dst[k*d*d:] // (Hv)_k^T row-major
			kernel.GemmNT(d, d, c, 1, e.a[k], c, dlam, c, 1, out, d)
			kernel.GemmNT(d, d, c, 1, e.tw.da[k], c, e.lam[k], c, 1, out, d)
		})
	}
}

// Hessian writes the exact Hessian at w into dst. For every layer s it
// pushes the d unit perturbations of z_s forward and their adjoint tangents
// back (batched over samples and directions as matrix products), then forms
// each block row with one matrix product per layer pair:
//
//	H[(s,i,j),(k,i',j')] = sum_mu a_s[j] ( G_sk[i,i'] a_k[j'] + lam_k[i'] F_sk[j',i] )
//
// with G_sk = d lam_k / d z_s, F_sk = d a_k / d z_s (per sample). Cost
// O(D^2 d^4 m); exact, no finite differences.
func (s *Sampled) Hessian(dst *mat.SymDense, w []float64) {
	checkLen(w, s.arch, "w")
	e := s.e
	hd, hs := prepHessianDst(dst, s.p)
	// Layers s are shared out to workers; each block row (layer s) is written
	// by exactly one worker with the same operations whichever it is, so the
	// result does not depend on the number of workers or their timing.
	nw := min(runtime.GOMAXPROCS(0), e.D, maxHessianWorkers)
	for len(s.workers) < nw {
		wk := &hessWorker{tw: e.tw, xt: make([]float64, e.d*e.d*e.d*e.chunk), rbuf: make([]float64, e.d*e.d*e.d*e.d)}
		if len(s.workers) > 0 {
			wk.tw = e.newTangentWS()
		}
		s.workers = append(s.workers, wk)
	}
	for col := 0; col < e.m; col += e.chunk {
		c := min(e.chunk, e.m-col)
		e.forward(w, col, c)
		e.backward(w, col, c)
		next := make(chan int, e.D)
		for st := 0; st < e.D; st++ {
			next <- st
		}
		close(next)
		var wg sync.WaitGroup
		for _, wk := range s.workers[:nw] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for st := range next {
					s.hessianRow(wk, hd, hs, w, st, c)
				}
			}()
		}
		wg.Wait()
	}
}

// maxHessianWorkers bounds the goroutines (and tangent workspaces) of
// Sampled.Hessian.
const maxHessianWorkers = 4

// hessWorker is one goroutine's workspace for Sampled.Hessian.
type hessWorker struct {
	tw       *tangentWS
	xt, rbuf []float64
}

// hessianRow adds the current block's contribution to the block row of
// layer st (blocks (st, k), k >= st).
func (s *Sampled) hessianRow(wk *hessWorker, hd []float64, hs int, w []float64, st, c int) {
	e := s.e
	d := e.d
	d2, d3 := d*d, d*d*d
	qc := d * c
	tw := wk.tw
	e.tangentForward(tw, w, nil, st, c, d)
	e.tangentBackward(tw, w, nil, st, c, d, func(k int, dlam []float64) {
		xt := wk.xt[:d3*c]
		ak, lk := e.a[k], e.lam[k]
		da := tw.da[k]
		for i := 0; i < d; i++ {
			for jp := 0; jp < d; jp++ {
				arow := ak[jp*c : jp*c+c]
				for ip := 0; ip < d; ip++ {
					row := xt[((i*d+jp)*d+ip)*c : ((i*d+jp)*d+ip)*c+c]
					g := dlam[ip*qc+i*c : ip*qc+i*c+c]
					if k == st {
						for mu := range row {
							row[mu] = g[mu] * arow[mu]
						}
						continue
					}
					lrow := lk[ip*c : ip*c+c]
					frow := da[jp*qc+i*c : jp*qc+i*c+c]
					for mu := range row {
						row[mu] = float64(g[mu]*arow[mu]) + float64(lrow[mu]*frow[mu])
					}
				}
			}
		}
		kernel.GemmNT(d, d3, c, 1, e.a[st], c, xt, c, 0, wk.rbuf, d3)
		for j := 0; j < d; j++ {
			for i := 0; i < d; i++ {
				p := st*d2 + j*d + i
				hrow := hd[p*hs+k*d2 : p*hs+k*d2+d2]
				src := wk.rbuf[j*d3+i*d2 : j*d3+i*d2+d2]
				for t, v := range src {
					hrow[t] += v
				}
			}
		}
	})
}
