package engine

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/demystify-resnet/repro/pipeline/internal/manifest"
)

// errSkipped marks nodes not run because a dependency failed.
var errSkipped = errors.New("skipped: a dependency failed")

// errStopped marks nodes not run because the run stopped (a failure without
// --keep-going, or an interrupt).
var errStopped = errors.New("skipped: run stopped")

// CriticalPath returns, per node of nodes (a plan-ordered, dependency-closed
// set), the length of the longest chain of work from the node to the end of
// the run: its own estimate plus the longest path among the nodes of the set
// that depend on it. Running the longest remaining chain first keeps the last
// cores busy at the end of a run. The cost is linear in nodes plus edges.
func CriticalPath(nodes []*Node, estimate map[*Node]float64) map[*Node]float64 {
	in := make(map[*Node]bool, len(nodes))
	for _, n := range nodes {
		in[n] = true
	}
	cp := make(map[*Node]float64, len(nodes))
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		longest := 0.0
		for _, u := range n.users {
			if in[u] && cp[u] > longest {
				longest = cp[u]
			}
		}
		cp[n] = estimate[n] + longest
	}
	return cp
}

// readyQueue holds the nodes whose inputs are ready and that missed the
// cache, highest priority first (ties: plan order). Nodes are bucketed by
// their weight in job slots, so that the best node that fits the free slots
// is found in time proportional to the number of distinct weights.
type readyQueue struct {
	prio    map[*Node]float64
	buckets map[int]*nodeHeap
	n       int
}

func newReadyQueue(prio map[*Node]float64) *readyQueue {
	return &readyQueue{prio: prio, buckets: map[int]*nodeHeap{}}
}

func (q *readyQueue) Len() int { return q.n }

func (q *readyQueue) push(n *Node, weight int) {
	h := q.buckets[weight]
	if h == nil {
		h = &nodeHeap{prio: q.prio}
		q.buckets[weight] = h
	}
	heap.Push(h, n)
	q.n++
}

// pop removes and returns the highest-priority node of weight at most free,
// or nil when none fits.
func (q *readyQueue) pop(free int) (*Node, int) {
	var best *nodeHeap
	bw := 0
	for w, h := range q.buckets {
		if w > free || h.Len() == 0 {
			continue
		}
		if best == nil || h.less(h.nodes[0], best.nodes[0]) {
			best, bw = h, w
		}
	}
	if best == nil {
		return nil, 0
	}
	q.n--
	return heap.Pop(best).(*Node), bw
}

// nodeHeap is a max-heap on priority, then a min-heap on plan index.
type nodeHeap struct {
	prio  map[*Node]float64
	nodes []*Node
}

func (h *nodeHeap) less(a, b *Node) bool {
	if pa, pb := h.prio[a], h.prio[b]; pa != pb {
		return pa > pb
	}
	return a.index < b.index
}
func (h *nodeHeap) Len() int           { return len(h.nodes) }
func (h *nodeHeap) Less(i, j int) bool { return h.less(h.nodes[i], h.nodes[j]) }
func (h *nodeHeap) Swap(i, j int)      { h.nodes[i], h.nodes[j] = h.nodes[j], h.nodes[i] }
func (h *nodeHeap) Push(x any)         { h.nodes = append(h.nodes, x.(*Node)) }
func (h *nodeHeap) Pop() any {
	n := h.nodes[len(h.nodes)-1]
	h.nodes = h.nodes[:len(h.nodes)-1]
	return n
}

// outcome is what a worker reports to the scheduler: a cache check (hit,
// miss, or an input that cannot be resolved) or an execution.
type outcome struct {
	node    *Node
	checked bool // a cache check rather than an execution
	res     Result
}

// scheduler runs the nodes of one run. One goroutine (run) owns all its
// state; workers report outcomes on a channel. A node whose dependencies are
// done is first checked against the cache (without taking job slots, at most
// Jobs checks at a time); a miss waits in the ready queue, critical path first,
// for as many job slots as its weight.
type scheduler struct {
	ctx     context.Context
	opts    Options
	nodes   []*Node
	results map[*Node]*Result
	est     map[*Node]float64
	inRun   map[*Node]bool
	waiting map[*Node]int // dependencies not yet done
	ready   *readyQueue
	checks  *nodeHeap // ready to be checked against the cache, critical path first
	outc    chan outcome

	free, checking, running int
	finished                int
	failed, stopped         bool
	startedAt               map[*Node]time.Time
	inCheck                 map[*Node]bool   // nodes being checked against the cache
	tick                    <-chan time.Time // nil: no periodic call
	onTick                  func()           // called on the scheduler's goroutine at each tick
	// For the ETA: the nodes not started yet, by manifest stage, and the
	// times of the stage's instances that ran in this run (a better guess
	// for their siblings than a record of another version of them), and
	// the fraction of its work each running node last reported.
	stages map[*manifest.Stage]*stageTimes
	frac   map[*Node]*atomic.Uint64 // math.Float64bits of done/total
	// The nodes by critical path (longest first); byPath[:pathAt] have all
	// started or finished.
	cp     map[*Node]float64
	byPath []*Node
	pathAt int
}

// etaRefresh is how often the scheduler recomputes the ETA between events.
const etaRefresh = 2 * time.Second

// stageTimes is the ETA's view of one manifest stage's instances.
type stageTimes struct {
	waiting    int     // not started and not finished
	waitingEst float64 // their estimates, summed
	ran        int     // instances that ran in this run
	ranSum     float64 // their wall times, summed
}

// waitingWork is the expected time of the instances not started: each at
// the mean of its siblings that ran in this run, else at its own estimate.
func (st *stageTimes) waitingWork() float64 {
	if st.ran > 0 {
		return float64(st.waiting) * st.ranSum / float64(st.ran)
	}
	return st.waitingEst
}

// guess is the expected time of a node of this stage: the mean of its
// siblings that ran in this run, else est.
func (st *stageTimes) guess(est float64) float64 {
	if st.ran > 0 {
		return st.ranSum / float64(st.ran)
	}
	return est
}

func newScheduler(ctx context.Context, nodes []*Node, opts Options, est map[*Node]float64) *scheduler {
	cp := CriticalPath(nodes, est)
	s := &scheduler{
		ctx: ctx, opts: opts, nodes: nodes, est: est,
		checks:    &nodeHeap{prio: cp},
		results:   make(map[*Node]*Result, len(nodes)),
		inRun:     make(map[*Node]bool, len(nodes)),
		waiting:   make(map[*Node]int, len(nodes)),
		ready:     newReadyQueue(cp),
		outc:      make(chan outcome, 2*opts.Jobs),
		free:      opts.Jobs,
		startedAt: map[*Node]time.Time{},
		inCheck:   map[*Node]bool{},
		stages:    map[*manifest.Stage]*stageTimes{},
		frac:      map[*Node]*atomic.Uint64{},
		cp:        cp,
		byPath:    slices.Clone(nodes),
	}
	slices.SortStableFunc(s.byPath, func(a, b *Node) int { return cmp.Compare(cp[b], cp[a]) })
	for _, n := range nodes {
		s.results[n] = &Result{Node: n, Status: StatusPending}
		s.inRun[n] = true
		st := s.stageOf(n)
		st.waiting++
		st.waitingEst += est[n]
	}
	heap.Init(s.checks)
	for _, n := range nodes {
		s.waiting[n] = len(n.Deps)
		if len(n.Deps) == 0 {
			s.checks.nodes = append(s.checks.nodes, n)
		}
	}
	return s
}

// run schedules until every node is done, cached, failed or skipped.
func (s *scheduler) run() {
	interrupt := s.ctx.Done()
	// The ETA is refreshed now and then too: long stages report progress
	// without the scheduler hearing of it.
	etaTick := time.NewTicker(etaRefresh)
	defer etaTick.Stop()
	for s.finished < len(s.nodes) {
		if !s.stopped && (s.ctx.Err() != nil || (s.failed && !s.opts.KeepGoing)) {
			s.stop()
		}
		s.dispatch()
		if s.checking+s.running == 0 {
			// Every node not finished waits, transitively, on a node that
			// is checking or running; reaching here with some left is a bug,
			// reported on those nodes rather than hanging.
			for _, n := range s.nodes {
				if s.results[n].Status == StatusPending {
					s.finish(n, Result{Node: n, Status: StatusFailed, Err: errors.New("engine: internal error: node was never scheduled")})
				}
			}
			break
		}
		select {
		case o := <-s.outc:
			s.handle(o)
		case <-s.tick:
			s.onTick()
		case <-etaTick.C:
			s.eta()
		case <-interrupt:
			interrupt = nil
			s.stop()
		}
	}
}

// dispatch starts cache checks and executions while capacity allows.
func (s *scheduler) dispatch() {
	for s.checks.Len() > 0 && s.checking < s.opts.Jobs {
		n := heap.Pop(s.checks).(*Node)
		s.checking++
		s.inCheck[n] = true
		go func() { s.outc <- outcome{node: n, checked: true, res: checkNode(n, s.results, s.opts)} }()
	}
	for s.free > 0 {
		n, w := s.ready.pop(s.free)
		if n == nil {
			break
		}
		if s.checkingAbove(s.ready.prio[n]) {
			// A node on a longer path is being checked (which takes
			// milliseconds): keep the slot for it should it miss.
			s.ready.push(n, w)
			break
		}
		s.free -= w
		s.running++
		s.start(n, time.Now())
		res, est := *s.results[n], s.est[n]
		fr := &atomic.Uint64{}
		s.frac[n] = fr
		opts := s.opts
		observe := opts.Observer
		opts.Observer = func(ev Event) {
			if ev.Kind == "progress" && ev.Total > 0 && ev.Done >= 0 && ev.Done <= ev.Total {
				fr.Store(math.Float64bits(ev.Done / ev.Total))
			}
			observe(ev)
		}
		go func() { s.outc <- outcome{node: n, res: executeNode(s.ctx, n, res, est, s.results, opts)} }()
	}
}

// start records that n starts running at now.
func (s *scheduler) start(n *Node, now time.Time) {
	s.startedAt[n] = now
	st := s.stageOf(n)
	st.waiting--
	st.waitingEst -= s.est[n]
}

// checkingAbove reports whether a node being checked has a priority above p.
func (s *scheduler) checkingAbove(p float64) bool {
	for n := range s.inCheck {
		if s.ready.prio[n] > p {
			return true
		}
	}
	return false
}

func (s *scheduler) handle(o outcome) {
	n := o.node
	if o.checked {
		s.checking--
		delete(s.inCheck, n)
		if o.res.Status == StatusPending { // a miss
			*s.results[n] = o.res
			if s.stopped {
				s.skip(n, errStopped)
				return
			}
			s.ready.push(n, min(n.Weight(), s.opts.Jobs))
			s.eta()
			return
		}
	} else {
		s.running--
		s.free += min(n.Weight(), s.opts.Jobs)
	}
	s.finish(n, o.res)
}

// stageOf returns the ETA's record of n's manifest stage.
func (s *scheduler) stageOf(n *Node) *stageTimes {
	st := s.stages[n.Inst.Stage]
	if st == nil {
		st = &stageTimes{}
		s.stages[n.Inst.Stage] = st
	}
	return st
}

// finish records a node's final result and releases or skips its dependants.
func (s *scheduler) finish(n *Node, r Result) {
	*s.results[n] = r
	s.finished++
	st := s.stageOf(n)
	if _, started := s.startedAt[n]; started {
		delete(s.startedAt, n)
		delete(s.frac, n)
		if r.Status == StatusRan {
			st.ran++
			st.ranSum += r.Seconds
		}
	} else {
		st.waiting--
		st.waitingEst -= s.est[n]
	}
	if r.Status == StatusFailed {
		s.failed = true
	}
	res := r
	s.opts.Observer(Event{Kind: "done", Node: n, Result: &res})
	for _, u := range n.users {
		if !s.inRun[u] || s.results[u].Status != StatusPending {
			continue
		}
		if r.Status != StatusCached && r.Status != StatusRan {
			if s.stopped {
				s.skip(u, errStopped)
			} else {
				s.skip(u, errSkipped)
			}
			continue
		}
		if s.waiting[u]--; s.waiting[u] == 0 {
			if s.stopped {
				s.skip(u, errStopped)
			} else {
				heap.Push(s.checks, u)
			}
		}
	}
	s.eta()
}

// skip finishes n as skipped with err; its dependants follow.
func (s *scheduler) skip(n *Node, err error) {
	if s.results[n].Status != StatusPending {
		return
	}
	s.finish(n, Result{Node: n, Status: StatusSkipped, Err: err})
}

// stop skips every node that has not started: queued checks, misses waiting
// for slots; nodes still waiting for dependencies are skipped when those finish.
func (s *scheduler) stop() {
	s.stopped = true
	checks := s.checks.nodes
	s.checks.nodes = nil
	for _, n := range checks {
		s.skip(n, errStopped)
	}
	for s.ready.Len() > 0 {
		n, _ := s.ready.pop(s.opts.Jobs)
		s.skip(n, errStopped)
	}
	for _, n := range s.nodes {
		if s.results[n].Status == StatusPending && s.waiting[n] > 0 && !s.blockedByRunning(n) {
			s.skip(n, errStopped)
		}
	}
}

// blockedByRunning reports whether some dependency of n has not finished
// (it will skip n when it does).
func (s *scheduler) blockedByRunning(n *Node) bool {
	for _, d := range n.Deps {
		if s.results[d].Status == StatusPending {
			return true
		}
	}
	return false
}

// eta reports the estimated time left (timeLeft).
func (s *scheduler) eta() {
	s.opts.Observer(Event{Kind: "eta", Seconds: s.timeLeft(time.Now())})
}

// timeLeft estimates the time until the run ends at now: the estimated work
// of the nodes not finished (running ones minus the time they have run)
// spread over the job slots, but never less than the longest critical path
// left: a running node's time left plus the longest path after it, or the
// longest path of a node not started (one long stage or a chain of stages
// at the end of a run cannot be spread over the slots). Its cost is
// proportional to the running nodes and the manifest stages, plus the
// nodes started since the last call.
func (s *scheduler) timeLeft(now time.Time) float64 {
	work, longest := 0.0, 0.0
	for _, st := range s.stages {
		work += st.waitingWork()
	}
	for n, t := range s.startedAt {
		left := s.remaining(n, now.Sub(t).Seconds())
		work += left
		longest = max(longest, left+s.cp[n]-s.est[n])
	}
	for s.pathAt < len(s.byPath) {
		n := s.byPath[s.pathAt]
		if _, running := s.startedAt[n]; !running && s.results[n].Status == StatusPending {
			longest = max(longest, s.cp[n])
			break
		}
		s.pathAt++ // started or finished: never waiting to start again
	}
	// The work shared over the slots, but never less than the longest
	// path left (at the end of a run the slots idle).
	return max(work/float64(s.opts.Jobs), longest)
}

// remaining estimates the seconds a node running for elapsed seconds still
// needs: from the fraction of its work it reported (elapsed (1-f)/f), else
// from its expected time (its siblings' in this run, else its estimate),
// and at least a tenth of what it has run when it is past that.
func (s *scheduler) remaining(n *Node, elapsed float64) float64 {
	if fr := s.frac[n]; fr != nil {
		if f := math.Float64frombits(fr.Load()); f > 0.01 && f < 1 {
			return elapsed * (1 - f) / f
		}
	}
	return max(s.stageOf(n).guess(s.est[n])-elapsed, elapsed/10)
}
