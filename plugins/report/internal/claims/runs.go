package claims

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// netKey identifies one network (all learning rates, all seeds): family,
// activation, depth, initialisation scale and number of samples (0 in
// tables that predate those columns).
type netKey struct {
	net, act string
	depth    int64
	scale    float64
	m        int64
}

// runKey identifies one training run.
type runKey struct {
	netKey
	lr  float64
	rep int64
}

// run is one training run's curve, epoch-ordered.
type run struct {
	runKey
	rows []schema.Curve
}

// final is the run's last loss, +Inf when it diverged.
func (r *run) final() float64 {
	l := r.rows[len(r.rows)-1]
	if l.Diverged || !num.Finite(l.Loss) {
		return math.Inf(1)
	}
	return l.Loss
}

func (r *run) lmin() float64 { return r.rows[0].LMin }

// escape returns the escape epoch (docs/claims.md): the first epoch whose
// excess loss is at most HalfExcess x the initial one, +Inf if none.
func (r *run) escape() float64 { return escapeEpoch(r.rows, r.lmin()) }

func escapeEpoch(rows []schema.Curve, lm float64) float64 {
	if len(rows) == 0 || rows[0].Epoch != 0 {
		return math.NaN()
	}
	e0 := rows[0].Loss - lm
	for _, c := range rows {
		if num.Finite(c.Loss) && c.Loss-lm <= (1-EscapeFraction)*e0 {
			return float64(c.Epoch)
		}
	}
	return math.Inf(1)
}

// stable reports whether the run's loss stayed finite and ended below its
// initial value.
func (r *run) stable() bool {
	for _, c := range r.rows {
		if c.Diverged || !num.Finite(c.Loss) {
			return false
		}
	}
	return r.final() < r.rows[0].Loss
}

// trajKey identifies one trajectory (spectra along one run).
type trajKey = runKey

// index organises the input rows by run.
type index struct {
	in   Inputs
	runs map[runKey]*run
	lrs  map[netKey][]float64 // learning rates with curves, ascending
	best map[netKey]schema.Best
	long []schema.Best        // rows of runs of >= LongEpochs epochs (deciding experiments), kept apart
	main map[[3]string]netKey // (net, act, depth) -> the key of its main best row
	// traj holds each run's checkpoints over the sweep's epochs (the
	// protocol: the epochs of its curve among the inputs), one per epoch;
	// past holds the whole trajectory of the runs continued past them
	// (hessian.trajectory epochs > the sweep's), which only the deciding
	// experiments that exist to look there use (see pastView).
	traj  map[trajKey][]schema.Spectrum
	past  map[trajKey][]schema.Spectrum
	eig   map[eigKey][]float64 // |eigenvalues| of one checkpoint, descending
	lm    float64              // L_min of the linear problem (schema.LMin)
	haveL bool
	// conflicts counts curve rows and checkpoints that repeat an epoch of
	// a run with other numbers (two runs under one key): the first is kept.
	conflicts int
}

func newIndex(in Inputs) *index {
	x := &index{in: in, runs: map[runKey]*run{}, lrs: map[netKey][]float64{}, best: map[netKey]schema.Best{},
		main: map[[3]string]netKey{}, traj: map[trajKey][]schema.Spectrum{}, past: map[trajKey][]schema.Spectrum{}, eig: map[eigKey][]float64{}}
	type ek struct {
		k runKey
		e int64
	}
	seen := map[ek]schema.Curve{}
	for _, c := range in.Curves {
		k := runKey{netKey{c.Net, c.Activation, c.Depth, c.InitScale, c.M}, c.LR, c.Replicate}
		if old, ok := seen[ek{k, c.Epoch}]; ok {
			if old != c {
				x.conflicts++
			}
			continue
		}
		seen[ek{k, c.Epoch}] = c
		r := x.runs[k]
		if r == nil {
			r = &run{runKey: k}
			x.runs[k] = r
			x.lrs[k.netKey] = append(x.lrs[k.netKey], k.lr)
		}
		r.rows = append(r.rows, c)
	}
	for k, r := range x.runs {
		slices.SortFunc(r.rows, func(a, b schema.Curve) int { return cmp.Compare(a.Epoch, b.Epoch) })
		ls := x.lrs[k.netKey]
		slices.Sort(ls)
		x.lrs[k.netKey] = slices.Compact(ls)
	}
	for _, b := range in.Best {
		if b.Epochs >= LongEpochs {
			x.long = append(x.long, b)
			continue
		}
		k := netKey{b.Net, b.Activation, b.Depth, b.InitScale, b.M}
		x.best[k] = b
	}
	x.pickMain()
	x.indexTrajectories(in.Spectra)
	for _, v := range in.Eigenvalues {
		if v.Point != "epoch" {
			continue
		}
		k := eigKey{v.Net, v.Depth, v.LR, v.Replicate, v.Epoch, v.InitScale}
		x.eig[k] = append(x.eig[k], math.Abs(v.Value))
	}
	for k := range x.eig {
		slices.SortFunc(x.eig[k], func(a, b float64) int { return cmp.Compare(b, a) })
	}
	x.lm, x.haveL = schema.LMin(in.Curves, in.Best, in.Stats)
	return x
}

// indexTrajectories sets x.traj and x.past from the "epoch" checkpoints of
// default-scale runs. Several stages observe one run (trajectory,
// trajectory_dense, trajectory_long: the same weights and rate, the
// sweep's epochs bit for bit), so a run's checkpoints are merged, one per
// epoch (a repeated epoch with other numbers counts as a conflict, the
// first kept). A run continued past the sweep's last epoch keeps its
// protocol part in x.traj, cut at that epoch, so that every depth is judged
// over the same window of training, and its whole trajectory in x.past.
func (x *index) indexTrajectories(spectra []schema.Spectrum) {
	all := map[trajKey][]schema.Spectrum{}
	for _, s := range spectra {
		if s.Point != "epoch" || !schema.DefaultScale(s.Init, s.InitScale) {
			continue
		}
		k := runKey{netKey{s.Net, s.Activation, s.Depth, s.InitScale, s.M}, s.LR, s.Replicate}
		all[k] = append(all[k], s)
	}
	for k, t := range all {
		slices.SortStableFunc(t, func(a, b schema.Spectrum) int { return cmp.Compare(a.Epoch, b.Epoch) })
		u := t[:1]
		for _, s := range t[1:] {
			if last := u[len(u)-1]; s.Epoch == last.Epoch {
				if !sameCheckpoint(s, last) {
					x.conflicts++
				}
				continue
			}
			u = append(u, s)
		}
		end := len(u)
		if r := x.runs[k]; r != nil {
			h := r.rows[len(r.rows)-1].Epoch
			end = sort.Search(len(u), func(i int) bool { return u[i].Epoch > h })
		}
		if end == 0 {
			continue
		}
		x.traj[k] = u[:end:end]
		if end < len(u) {
			x.past[k] = u
		}
	}
}

// sameCheckpoint reports whether a and b hold the same numbers (NaN equal
// to NaN, as in a column written twice).
func sameCheckpoint(a, b schema.Spectrum) bool {
	same := func(p, q float64) bool { return p == q || (math.IsNaN(p) && math.IsNaN(q)) }
	return a.Loss == b.Loss && same(a.GradNorm, b.GradNorm) && same(a.AbsMax, b.AbsMax) && same(a.AbsMin, b.AbsMin) &&
		same(a.Q10, b.Q10) && same(a.Index, b.Index) && a.Pos == b.Pos && a.Neg == b.Neg && a.Zero == b.Zero
}

// pastView returns x with the trajectories of runs continued past the
// sweep's epochs whole (the deciding experiments that look past the
// protocol's window, e.g. fig7.end_near.converged).
func (x *index) pastView() *index {
	y := *x
	y.traj = maps.Clone(x.traj)
	maps.Copy(y.traj, x.past)
	return &y
}

// pickMain sets x.main: for every (net, activation), the default-scale best
// rows of schema.MainSamples' m (docs/claims.md, "Which rows"). Depths run
// only at other m have no main row.
func (x *index) pickMain() {
	mainM := map[[2]string]int64{}
	rows := make([]schema.Best, 0, len(x.best)) // without the long runs
	for _, b := range x.best {
		rows = append(rows, b)
	}
	for k, b := range x.best {
		if !schema.DefaultScale(b.Init, b.InitScale) {
			continue
		}
		g := [2]string{k.net, k.act}
		m, ok := mainM[g]
		if !ok {
			m, _ = schema.MainSamples(rows, k.net, k.act)
			mainM[g] = m
		}
		if k.m == m {
			x.main[[3]string{k.net, k.act, fmt.Sprint(k.depth)}] = k
		}
	}
}

// eigKey identifies the eigenvalues of one checkpoint.
type eigKey struct {
	net   string
	depth int64
	lr    float64
	rep   int64
	epoch int64
	scale float64
}

// condTop returns cond_top = |lambda|max / |lambda|_(d^2) at checkpoint s,
// d^2 = P / D, from the eigenvalues input (ok=false without them).
func (x *index) condTop(s schema.Spectrum) (float64, bool) {
	ev := x.eig[eigKey{s.Net, s.Depth, s.LR, s.Replicate, s.Epoch, s.InitScale}]
	if len(ev) == 0 || s.Depth <= 0 || s.P%s.Depth != 0 {
		return 0, false
	}
	d2 := int(s.P / s.Depth)
	if d2 < 1 || d2 > len(ev) {
		return 0, false
	}
	return ev[0] / ev[d2-1], true
}

// key returns the key of the main best row of (net, act, depth): the
// default initialisation scale and the largest number of samples.
func (x *index) key(net, act string, depth int64) (netKey, bool) {
	k, ok := x.main[[3]string{net, act, fmt.Sprint(depth)}]
	return k, ok
}

// bestLR returns the best learning rate of a network (select's row).
func (x *index) bestLR(k netKey) (float64, bool) {
	b, ok := x.best[k]
	return b.LR, ok
}

// atGridEdge reports whether the best rate of k is the smallest or the
// largest rate run for k (known only when curves of several rates are
// given; a diverged neighbour counts as run).
func (x *index) atGridEdge(k netKey) bool {
	b, ok := x.best[k]
	if !ok {
		return false
	}
	if b.AtGridEdge {
		return true
	}
	ls := x.lrs[k]
	if len(ls) < 2 {
		return false
	}
	return b.LR == ls[0] || b.LR == ls[len(ls)-1]
}

// bestRuns returns the runs of k at its best rate, by replicate.
func (x *index) bestRuns(k netKey) []*run {
	lr, ok := x.bestLR(k)
	if !ok {
		return nil
	}
	return x.runsAt(k, lr)
}

// runsAt returns the runs of k at rate lr, by replicate.
func (x *index) runsAt(k netKey, lr float64) []*run {
	var out []*run
	for rk, r := range x.runs {
		if rk.netKey == k && rk.lr == lr {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *run) int { return cmp.Compare(a.rep, b.rep) })
	return out
}

// depthsOf returns the depths of the main best rows of net/act, ascending.
func (x *index) depthsOf(net, act string) []int64 {
	var ds []int64
	for _, k := range x.main {
		if k.net == net && k.act == act {
			ds = append(ds, k.depth)
		}
	}
	slices.Sort(ds)
	return ds
}

// trajectories returns the trajectories of net at depth (linear) at its
// chosen rate: the best rate when trajectories were traced at it, else the
// single traced rate, else the traced rate with the lowest mean final loss.
// One trajectory per seed, by replicate.
func (x *index) trajectories(net string, depth int64) [][]schema.Spectrum {
	nk, found := netKey{}, false
	for k := range x.traj {
		if k.net == net && k.act == "linear" && k.depth == depth && (!found || k.m > nk.m) {
			nk, found = k.netKey, true
		}
	}
	if !found {
		return nil
	}
	byLR := map[float64][]trajKey{}
	for k := range x.traj {
		if k.netKey == nk {
			byLR[k.lr] = append(byLR[k.lr], k)
		}
	}
	lr, ok := x.bestLR(nk)
	if _, traced := byLR[lr]; !ok || !traced {
		bestLoss := math.Inf(1)
		lrs := slices.Sorted(maps.Keys(byLR))
		lr = lrs[0]
		for _, l := range lrs {
			s := 0.0
			for _, k := range byLR[l] {
				t := x.traj[k]
				s += t[len(t)-1].Loss
			}
			if m := s / float64(len(byLR[l])); m < bestLoss {
				bestLoss, lr = m, l
			}
		}
	}
	return x.trajAt(nk, lr)
}

// trajAt returns the trajectories of nk at rate lr, by replicate.
func (x *index) trajAt(nk netKey, lr float64) [][]schema.Spectrum {
	var ks []trajKey
	for k := range x.traj {
		if k.netKey == nk && k.lr == lr {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b trajKey) int { return cmp.Compare(a.rep, b.rep) })
	out := make([][]schema.Spectrum, len(ks))
	for i, k := range ks {
		out[i] = x.traj[k]
	}
	return out
}

// trajDepths returns the depths with linear trajectories of every net.
func (x *index) trajDepths(nets ...string) []int64 {
	count := map[int64]map[string]bool{}
	for k := range x.traj {
		if k.act == "linear" && slices.Contains(nets, k.net) {
			if count[k.depth] == nil {
				count[k.depth] = map[string]bool{}
			}
			count[k.depth][k.net] = true
		}
	}
	var out []int64
	for d, m := range count {
		if len(m) == len(nets) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// curveOf returns the curve of the run that produced trajectory t, if given.
func (x *index) curveOf(t []schema.Spectrum) *run {
	s := t[0]
	return x.runs[runKey{netKey{s.Net, s.Activation, s.Depth, s.InitScale, s.M}, s.LR, s.Replicate}]
}

// k returns the key of the main best row of (net, act, depth), or a key
// that matches nothing when there is none.
func (x *index) k(net, act string, depth int64) netKey {
	if k, ok := x.key(net, act, depth); ok {
		return k
	}
	return netKey{net: net, act: act, depth: depth, scale: math.NaN()}
}
