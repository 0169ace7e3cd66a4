package nets

import "github.com/demystify-resnet/repro/core/kernel"

// This file is the shared evaluation engine: forward pass, reverse pass,
// and forward-over-reverse tangents of the network applied to a block of c
// columns (samples). All per-column arrays are d x c row-major with stride c;
// tangent arrays hold q directions side by side, d x (q*c), direction b in
// columns [b*c, (b+1)*c).
//
// Notation per unit r (0-based) with layers k = r*n .. r*n+n-1:
//
//	a_{rn}   = s_pre(h_r)
//	z_k      = W_k a_k
//	a_{k+1}  = s_mid(z_k)                 (inside the unit)
//	h_{r+1}  = s_post(z_{rn+n-1}) (+ h_r)  (the identity unless Plain)
//
// and f = h_R. lam_k = dL/dz_k, mu_k = dL/da_k, lamh_r = dL/dh_r.

// lossFn is a loss on the network output f (d x c).
type lossFn interface {
	// value returns the loss contribution of the c columns starting at col0.
	value(f []float64, c, col0 int) float64
	// adjoint writes dL/df for those columns.
	adjoint(dst, f []float64, c, col0 int)
	// tangent writes the directional derivative of the adjoint, (d^2 L/df^2) df,
	// for q directions side by side (df and dst are d x (q*c)).
	tangent(dst, df []float64, c, q int)
}

// tangentWS holds the tangent state (capacity maxQ*chunk columns). Several
// workspaces can share one engine's forward/reverse state concurrently.
type tangentWS struct {
	da, dz         [][]float64 // D
	dh             [][]float64 // R+1
	dlam, dlam2    []float64
	dmu, dlh, dlh2 []float64
}

type engine struct {
	arch    Arch
	d, n, R int
	D       int
	x       []float64 // d x m row-major inputs
	m       int
	loss    lossFn
	chunk   int // columns per block
	maxQ    int // widest tangent batch the workspace supports

	// forward / reverse state for one block (capacity chunk columns).
	h, pd1, pd2 [][]float64 // R+1 (pd* only R): stream, s_pre', s_pre'' at h_r
	a, zd1, zd2 [][]float64 // D: layer inputs, activation derivatives after z_k
	lam, mu     [][]float64 // D
	lamh        [][]float64 // R+1
	zbuf        []float64

	tw *tangentWS // the default tangent workspace
}

func newEngine(arch Arch, x []float64, m int, loss lossFn, chunk, maxQ int) *engine {
	arch.mustValidate()
	e := &engine{arch: arch, d: arch.Width, n: arch.Shortcut, R: arch.Units, D: arch.Depth(),
		x: x, m: m, loss: loss, chunk: min(chunk, m), maxQ: maxQ}
	d, c := e.d, e.chunk
	alloc := func(count, size int) [][]float64 {
		out := make([][]float64, count)
		for i := range out {
			out[i] = make([]float64, size)
		}
		return out
	}
	e.h = alloc(e.R+1, d*c)
	e.pd1 = alloc(e.R, d*c)
	e.pd2 = alloc(e.R, d*c)
	e.a = alloc(e.D, d*c)
	e.zd1 = alloc(e.D, d*c)
	e.zd2 = alloc(e.D, d*c)
	e.lam = alloc(e.D, d*c)
	e.mu = alloc(e.D, d*c)
	e.lamh = alloc(e.R+1, d*c)
	e.zbuf = make([]float64, d*c)
	e.tw = e.newTangentWS()
	// The derivatives of an identity activation are constant (1, and 0 for
	// the second): stored once here, so forward only copies its values.
	for r := 0; r < e.R; r++ {
		if arch.Pre == Identity {
			fillOnes(e.pd1[r])
		}
		for l := 0; l < e.n; l++ {
			if e.activationAfter(l) == Identity {
				fillOnes(e.zd1[r*e.n+l])
			}
		}
	}
	return e
}

// activationAfter returns the activation applied after weight layer l of a
// unit: mid inside it, post after its last layer.
func (e *engine) activationAfter(l int) Activation {
	if l < e.n-1 {
		return e.arch.Mid
	}
	return e.arch.Post
}

// activate sets out = act(x) and its first and second derivatives d1, d2 at
// x, except for the identity, whose constant derivatives newEngine stored.
func activate(act Activation, out, d1, d2, x []float64) {
	if act == Identity {
		copy(out, x)
		return
	}
	act.apply(out, d1, d2, x)
}

func fillOnes(x []float64) {
	for i := range x {
		x[i] = 1
	}
}

func (e *engine) newTangentWS() *tangentWS {
	d, qc := e.d, e.maxQ*e.chunk
	alloc := func(count int) [][]float64 {
		out := make([][]float64, count)
		for i := range out {
			out[i] = make([]float64, d*qc)
		}
		return out
	}
	return &tangentWS{da: alloc(e.D), dz: alloc(e.D), dh: alloc(e.R + 1),
		dlam: make([]float64, d*qc), dlam2: make([]float64, d*qc), dmu: make([]float64, d*qc),
		dlh: make([]float64, d*qc), dlh2: make([]float64, d*qc)}
}

// wMul sets dst = W_k src (trans false) or dst = W_k^T src (trans true),
// or adds to dst if acc, where src and dst are d x cols row-major and W_k is
// layer k of w. One kernel.GemmNNAdd: every entry a chain of FMAs in
// increasing t (the order of Axpy row by row), no goroutines, identical bits
// on every machine and GOMAXPROCS. It does not allocate for d <= 16.
func (e *engine) wMul(dst, w []float64, k int, trans bool, src []float64, cols int, acc bool) {
	d := e.d
	wk := w[k*d*d : (k+1)*d*d] // W[i][t] = wk[t*d+i]: wk row-major is W^T
	a := wk                    // W^T: the A of dst = W^T src
	if !trans {
		var buf [16 * 16]float64
		wt := buf[:0]
		if d*d > len(buf) {
			wt = make([]float64, d*d)
		}
		wt = wt[:d*d]
		for i := 0; i < d; i++ {
			for t := 0; t < d; t++ {
				wt[i*d+t] = wk[t*d+i]
			}
		}
		a = wt
	}
	out := dst[:d*cols]
	if !acc {
		clear(out)
	}
	kernel.GemmNNAdd(d, cols, d, a, d, src, cols, out, cols)
}

// forward evaluates the block of c columns starting at col0 and returns
// the loss contribution of the block.
func (e *engine) forward(w []float64, col0, c int) float64 {
	d, n := e.d, e.n
	h0 := e.h[0][:d*c]
	for i := 0; i < d; i++ {
		copy(h0[i*c:(i+1)*c], e.x[i*e.m+col0:i*e.m+col0+c])
	}
	pre, mid, post := e.arch.Pre, e.arch.Mid, e.arch.Post
	for r := 0; r < e.R; r++ {
		k0 := r * n
		activate(pre, e.a[k0][:d*c], e.pd1[r][:d*c], e.pd2[r][:d*c], e.h[r][:d*c])
		for l := 0; l < n; l++ {
			k := k0 + l
			z := e.zbuf[:d*c]
			e.wMul(z, w, k, false, e.a[k], c, false)
			if l < n-1 {
				activate(mid, e.a[k+1][:d*c], e.zd1[k][:d*c], e.zd2[k][:d*c], z)
				continue
			}
			hn := e.h[r+1][:d*c]
			activate(post, hn, e.zd1[k][:d*c], e.zd2[k][:d*c], z)
			if !e.arch.Plain {
				hr := e.h[r][:d*c]
				for i := range hn {
					hn[i] += hr[i]
				}
			}
		}
	}
	return e.loss.value(e.h[e.R][:d*c], c, col0)
}

// backward runs the reverse pass for the block last passed to forward.
func (e *engine) backward(w []float64, col0, c int) {
	e.loss.adjoint(e.lamh[e.R][:e.d*c], e.h[e.R][:e.d*c], c, col0)
	e.backwardSeeded(w, c)
}

// backwardSeeded runs the reverse pass from the adjoint already stored in
// lamh[R].
func (e *engine) backwardSeeded(w []float64, c int) {
	d, n := e.d, e.n
	for r := e.R - 1; r >= 0; r-- {
		k0 := r * n
		last := k0 + n - 1
		mulTo(e.lam[last][:d*c], e.zd1[last][:d*c], e.lamh[r+1][:d*c])
		for l := n - 1; l >= 0; l-- {
			k := k0 + l
			e.wMul(e.mu[k], w, k, true, e.lam[k], c, false)
			if l > 0 {
				mulTo(e.lam[k-1][:d*c], e.zd1[k-1][:d*c], e.mu[k][:d*c])
			}
		}
		if r == 0 {
			break
		}
		lh := e.lamh[r][:d*c]
		mulTo(lh, e.pd1[r][:d*c], e.mu[k0][:d*c])
		if !e.arch.Plain {
			up := e.lamh[r+1][:d*c]
			for i := range lh {
				lh[i] += up[i]
			}
		}
	}
}

// gradAccum adds the gradient contribution of the current block to dst
// (beta = 0 overwrites, 1 accumulates).
func (e *engine) gradAccum(dst []float64, c int, beta float64) {
	d := e.d
	for k := 0; k < e.D; k++ {
		// G_k^T (row-major) = a_k lam_k^T.
		kernel.GemmNT(d, d, c, 1, e.a[k], c, e.lam[k], c, beta, dst[k*d*d:], d)
	}
}

// tangentForward propagates q directions forward into tw. If start >= 0 the
// directions are unit perturbations of z_start: direction b adds 1 to row b
// of z_start in every column (q must be d). If start < 0, q must be 1 and v
// is a weight direction. Tangents of layers before start are not computed.
func (e *engine) tangentForward(tw *tangentWS, w, v []float64, start, c, q int) {
	d, n := e.d, e.n
	qc := q * c
	r0 := 0
	if start >= 0 {
		r0 = start / n
	}
	clear(tw.dh[r0][:d*qc])
	for r := r0; r < e.R; r++ {
		k0 := r * n
		for l := 0; l < n; l++ {
			k := k0 + l
			if k < start {
				continue
			}
			dz := tw.dz[k][:d*qc]
			if k == start {
				clear(dz)
				for b := 0; b < q; b++ {
					row := dz[b*qc+b*c : b*qc+b*c+c]
					for i := range row {
						row[i] = 1
					}
				}
				continue
			}
			da := tw.da[k][:d*qc]
			if l == 0 {
				mulBroadcast(da, e.pd1[r][:d*c], tw.dh[r][:d*qc], c, q)
			} else {
				mulBroadcast(da, e.zd1[k-1][:d*c], tw.dz[k-1][:d*qc], c, q)
			}
			e.wMul(dz, w, k, false, da, qc, false)
			if v != nil {
				e.wMul(dz, v, k, false, e.a[k], c, true) // q == 1 here
			}
		}
		last := k0 + n - 1
		dhn := tw.dh[r+1][:d*qc]
		mulBroadcast(dhn, e.zd1[last][:d*c], tw.dz[last][:d*qc], c, q)
		if !e.arch.Plain {
			dhr := tw.dh[r][:d*qc]
			for i := range dhn {
				dhn[i] += dhr[i]
			}
		}
	}
}

// tangentBackward propagates the tangent of the adjoints backwards after
// tangentForward with the same arguments, calling visit(k, dlam_k) for every
// layer k >= max(start, 0), from the last layer down.
func (e *engine) tangentBackward(tw *tangentWS, w, v []float64, start, c, q int, visit func(k int, dlam []float64)) {
	d, n := e.d, e.n
	qc := q * c
	dlh := tw.dlh[:d*qc]
	e.loss.tangent(dlh, tw.dh[e.R][:d*qc], c, q)
	stop := max(start, 0)
	curv := func(act Activation) bool { return act == Tanh || act == Sigmoid }
	for r := e.R - 1; r >= 0; r-- {
		k0 := r * n
		last := k0 + n - 1
		if last < stop {
			return
		}
		dlam := tw.dlam[:d*qc]
		mulBroadcast(dlam, e.zd1[last][:d*c], dlh, c, q)
		if curv(e.arch.Post) {
			addMul3Broadcast(dlam, e.zd2[last][:d*c], e.lamh[r+1][:d*c], tw.dz[last][:d*qc], c, q)
		}
		for l := n - 1; l >= 0; l-- {
			k := k0 + l
			visit(k, dlam)
			if k == stop {
				return
			}
			dmu := tw.dmu[:d*qc]
			e.wMul(dmu, w, k, true, dlam, qc, false)
			if v != nil {
				e.wMul(dmu, v, k, true, e.lam[k], c, true) // q == 1 here
			}
			if l > 0 {
				next := tw.dlam2[:d*qc]
				mulBroadcast(next, e.zd1[k-1][:d*c], dmu, c, q)
				if curv(e.arch.Mid) {
					addMul3Broadcast(next, e.zd2[k-1][:d*c], e.mu[k][:d*c], tw.dz[k-1][:d*qc], c, q)
				}
				tw.dlam, tw.dlam2 = tw.dlam2, tw.dlam
				dlam = next
				continue
			}
			// l == 0: the adjoint of h_r.
			nlh := tw.dlh2[:d*qc]
			mulBroadcast(nlh, e.pd1[r][:d*c], dmu, c, q)
			if curv(e.arch.Pre) {
				addMul3Broadcast(nlh, e.pd2[r][:d*c], e.mu[k0][:d*c], tw.dh[r][:d*qc], c, q)
			}
			if !e.arch.Plain {
				for i := range nlh {
					nlh[i] += dlh[i]
				}
			}
			tw.dlh, tw.dlh2 = tw.dlh2, tw.dlh
			dlh = nlh
		}
	}
}

// mulTo sets dst = a .* b.
func mulTo(dst, a, b []float64) {
	b = b[:len(dst)]
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

// mulBroadcast sets dst = s .* t where s is d x c and t, dst are d x (q*c):
// each of the q column blocks of t is scaled elementwise by s.
func mulBroadcast(dst, s, t []float64, c, q int) {
	qc := q * c
	rows := len(s) / c
	for i := 0; i < rows; i++ {
		srow := s[i*c : (i+1)*c]
		for b := 0; b < q; b++ {
			off := i*qc + b*c
			drow := dst[off : off+c]
			trow := t[off : off+c]
			for j, sv := range srow {
				drow[j] = sv * trow[j]
			}
		}
	}
}

// addMul3Broadcast adds s .* u .* t to dst, s and u d x c, t and dst d x (q*c).
func addMul3Broadcast(dst, s, u, t []float64, c, q int) {
	qc := q * c
	rows := len(s) / c
	for i := 0; i < rows; i++ {
		srow := s[i*c : (i+1)*c]
		urow := u[i*c : (i+1)*c]
		for b := 0; b < q; b++ {
			off := i*qc + b*c
			drow := dst[off : off+c]
			trow := t[off : off+c]
			for j, sv := range srow {
				drow[j] += float64(sv * urow[j] * trow[j])
			}
		}
	}
}
