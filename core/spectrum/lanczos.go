package spectrum

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"
)

// lanczosTol is the convergence threshold of a Ritz pair (θ, y): its residual
// ||A y - θ y|| = |β_m s_m| must be <= lanczosTol · max|θ|. The eigenvalue error is
// then below that residual (and ~residual²/gap for isolated eigenvalues).
const lanczosTol = 1e-11

// LanczosTopK returns the k eigenvalues of largest magnitude of the symmetric n x n
// operator op (op(dst, v) must set dst = A v and may not retain v or dst), sorted by
// decreasing |λ| (ties by decreasing λ). Multiplicities are counted: an eigenvalue of
// multiplicity r among the top k appears r times. Values of equal magnitude up to
// rounding (such as +σ and -σ) may come in either order.
//
// Method: Lanczos with full reorthogonalisation (modified Gram-Schmidt, twice) from
// a Gaussian start vector drawn from rng, run until the top-k Ritz values have
// residual <= 1e-11 · max|θ|; converged Ritz vectors that rank among the top k are
// locked (deflated) and Lanczos restarts orthogonally to them, until a fresh run finds
// nothing larger in magnitude than the current k-th value. A single Krylov space only
// sees one copy of a repeated eigenvalue; the restarts find the others. Cost: about
// (max multiplicity + 1) Lanczos runs, each of O(tens) operator applications for
// well-separated spectra, O(n · steps²) reorthogonalisation flops, and O(n²) memory at
// worst. The result depends only on op, n, k and the rng state.
//
// It panics if n < 1, k < 1, k > n or rng is nil. It returns an error if op produces a
// non-finite value or a run fails to converge.
func LanczosTopK(n, k int, op func(dst, v []float64), rng *rand.Rand) ([]float64, error) {
	if n < 1 || k < 1 || k > n {
		panic(fmt.Sprintf("spectrum: LanczosTopK: n=%d k=%d", n, k))
	}
	if rng == nil {
		panic("spectrum: LanczosTopK: nil rng")
	}
	var lockedVal []float64
	var lockedVec [][]float64
	byMagnitude := func(a, b float64) int {
		if c := cmp.Compare(math.Abs(b), math.Abs(a)); c != 0 {
			return c
		}
		return cmp.Compare(b, a)
	}
	for round := 0; round <= k+1; round++ {
		if len(lockedVal) == n {
			break
		}
		vals, vecs, err := lanczosRun(n, min(k, n-len(lockedVal)), op, rng, lockedVec)
		if err != nil {
			return nil, fmt.Errorf("spectrum: lanczos (round %d, %d locked): %w", round, len(lockedVal), err)
		}
		// k-th largest |λ| among the locked values so far (0 if fewer than k).
		kth := 0.0
		if len(lockedVal) >= k {
			sorted := slices.Clone(lockedVal)
			slices.SortFunc(sorted, byMagnitude)
			kth = math.Abs(sorted[k-1])
		}
		added := 0
		// vals are sorted by decreasing |θ|; lock those that enter the top k.
		for i, v := range vals {
			if len(lockedVal) >= k && math.Abs(v) <= kth*(1+lanczosTol) {
				break
			}
			lockedVal = append(lockedVal, v)
			lockedVec = append(lockedVec, vecs[i])
			added++
			if len(lockedVal) >= k {
				sorted := slices.Clone(lockedVal)
				slices.SortFunc(sorted, byMagnitude)
				kth = math.Abs(sorted[k-1])
			}
		}
		if added == 0 {
			break
		}
		if round == k+1 {
			return nil, fmt.Errorf("spectrum: lanczos: no stable top-%d set after %d restarts", k, round)
		}
	}
	if len(lockedVal) < k {
		return nil, fmt.Errorf("spectrum: lanczos: found %d of %d eigenvalues", len(lockedVal), k)
	}
	slices.SortFunc(lockedVal, byMagnitude)
	return lockedVal[:k], nil
}

// lanczosRun runs one Lanczos process orthogonal to the locked vectors and returns
// the converged Ritz pairs among the kk of largest |θ|, sorted by decreasing |θ|.
func lanczosRun(n, kk int, op func(dst, v []float64), rng *rand.Rand, locked [][]float64) ([]float64, [][]float64, error) {
	maxM := n - len(locked)
	q := make([]float64, n)
	for try := 0; ; try++ {
		for i := range q {
			q[i] = rng.NormFloat64()
		}
		orthogonalise(q, locked)
		orthogonalise(q, locked)
		if nq := floats.Norm(q, 2); nq > 1e-8 {
			floats.Scale(1/nq, q)
			break
		}
		if try == 10 {
			return nil, nil, errors.New("cannot draw a start vector orthogonal to the locked ones")
		}
	}
	basis := [][]float64{q}
	var alpha, beta []float64
	w := make([]float64, n)
	scale := 0.0
	lastCheck := 0
	var impl gonum.Implementation
	for m := 1; ; m++ {
		qm := basis[m-1]
		op(w, qm)
		for i, v := range w {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("operator returned %g at index %d", v, i)
			}
		}
		a := floats.Dot(qm, w)
		alpha = append(alpha, a)
		floats.AddScaled(w, -a, qm)
		if m > 1 {
			floats.AddScaled(w, -beta[m-2], basis[m-2])
		}
		for pass := 0; pass < 2; pass++ {
			orthogonalise(w, basis)
			orthogonalise(w, locked)
		}
		b := floats.Norm(w, 2)
		scale = max(scale, math.Abs(a), b)
		breakdown := b <= float64(n)*1e-16*scale || scale == 0
		last := m == maxM || breakdown
		if !last && (m < kk || m-lastCheck < max(3, m/8)) {
			beta = append(beta, b)
			next := make([]float64, n)
			floats.ScaleTo(next, 1/b, w)
			basis = append(basis, next)
			continue
		}
		lastCheck = m
		// Ritz pairs of the m x m tridiagonal T.
		d := slices.Clone(alpha)
		e := slices.Clone(beta)
		if len(e) == 0 {
			e = []float64{}
		}
		z := make([]float64, m*m)
		work := make([]float64, max(1, 2*m-2))
		if ok := impl.Dsteqr(lapack.EVTridiag, m, d, e, z, m, work); !ok {
			return nil, nil, fmt.Errorf("tridiagonal eigensolver failed at step %d", m)
		}
		order := make([]int, m)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(i, j int) int {
			if c := cmp.Compare(math.Abs(d[j]), math.Abs(d[i])); c != 0 {
				return c
			}
			return cmp.Compare(d[j], d[i])
		})
		thetaMax := math.Abs(d[order[0]])
		top := min(kk, m)
		converged := 0
		for _, idx := range order[:top] {
			res := math.Abs(b * z[(m-1)*m+idx]) // last component of eigenvector idx
			if res > lanczosTol*thetaMax && !(breakdown && thetaMax == 0) {
				break
			}
			converged++
		}
		if converged < top && !last {
			beta = append(beta, b)
			next := make([]float64, n)
			floats.ScaleTo(next, 1/b, w)
			basis = append(basis, next)
			continue
		}
		if converged == 0 {
			return nil, nil, fmt.Errorf("no Ritz value converged after %d steps (residual tolerance %g)", m, lanczosTol)
		}
		vals := make([]float64, converged)
		vecs := make([][]float64, converged)
		for c, idx := range order[:converged] {
			vals[c] = d[idx]
			y := make([]float64, n)
			for j := 0; j < m; j++ {
				floats.AddScaled(y, z[j*m+idx], basis[j])
			}
			floats.Scale(1/floats.Norm(y, 2), y)
			vecs[c] = y
		}
		return vals, vecs, nil
	}
}

// orthogonalise removes from v its components along the (orthonormal) vectors of set.
func orthogonalise(v []float64, set [][]float64) {
	for _, u := range set {
		floats.AddScaled(v, -floats.Dot(u, v), u)
	}
}
