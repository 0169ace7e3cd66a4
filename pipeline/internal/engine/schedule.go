package engine

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"slices"
	"time"
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
	inCheck                 map[*Node]bool // nodes being checked against the cache
	work                    float64        // estimated slot-seconds (seconds x weight) of the nodes not finished
	cp                      map[*Node]float64
	byPath                  []*Node // longest critical path first
	pathAt                  int     // byPath[:pathAt] have all started or finished
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
		cp:        cp,
		byPath:    slices.Clone(nodes),
	}
	for _, n := range nodes {
		s.results[n] = &Result{Node: n, Status: StatusPending}
		s.inRun[n] = true
		s.work += s.slotSeconds(n)
	}
	slices.SortStableFunc(s.byPath, func(a, b *Node) int { return cmp.Compare(cp[b], cp[a]) })
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
		s.startedAt[n] = time.Now()
		res, est := *s.results[n], s.est[n]
		go func() { s.outc <- outcome{node: n, res: executeNode(s.ctx, n, res, est, s.results, s.opts)} }()
	}
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
		delete(s.startedAt, n)
	}
	s.finish(n, o.res)
}

// finish records a node's final result and releases or skips its dependants.
func (s *scheduler) finish(n *Node, r Result) {
	*s.results[n] = r
	s.finished++
	s.work -= s.slotSeconds(n)
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

// slotSeconds is n's estimated work in slot-seconds: its estimate times the
// job slots it takes.
func (s *scheduler) slotSeconds(n *Node) float64 {
	return s.est[n] * float64(min(n.Weight(), s.opts.Jobs))
}

// timeLeft estimates the time until the run ends at now: the larger of the
// work left spread over the job slots (the estimated slot-seconds of the
// nodes not finished, running ones minus the time they have run) and the
// longest critical path left (a running node's minus the time it has run;
// the longest of the nodes not started), since a chain of stages, or one
// long stage, cannot be spread. Its cost is proportional to the running
// nodes, plus the nodes started since the last call.
func (s *scheduler) timeLeft(now time.Time) float64 {
	work, path := s.work, 0.0
	for n, t := range s.startedAt {
		ran := min(s.est[n], now.Sub(t).Seconds())
		work -= ran * float64(min(n.Weight(), s.opts.Jobs))
		path = max(path, s.cp[n]-ran)
	}
	for s.pathAt < len(s.byPath) {
		n := s.byPath[s.pathAt]
		if _, running := s.startedAt[n]; !running && s.results[n].Status == StatusPending {
			path = max(path, s.cp[n])
			break
		}
		s.pathAt++ // started or finished: never again waiting to start
	}
	return max(0, work/float64(s.opts.Jobs), path)
}
