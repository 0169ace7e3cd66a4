package engine

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/artifacts/table"
)

// Resolve looks every node of nodes (in plan order) up in the store without
// running anything. A node whose inputs are all cached gets its ActionID and
// KeyText; its Status is StatusCached on a hit and StatusPending otherwise. A
// node with an uncached input gets no ActionID (Err says which input).
// Nodes of equal depth in the graph are looked up in parallel.
func Resolve(nodes []*Node, store artifacts.Actions) map[*Node]*Result {
	results := make(map[*Node]*Result, len(nodes))
	depth := make(map[*Node]int, len(nodes))
	var levels [][]*Node
	for _, n := range nodes {
		results[n] = &Result{Node: n, Status: StatusPending}
		d := 0
		for _, dep := range n.Deps {
			if dd, ok := depth[dep]; ok && dd+1 > d {
				d = dd + 1
			}
		}
		depth[n] = d
		if d == len(levels) {
			levels = append(levels, nil)
		}
		levels[d] = append(levels[d], n)
	}
	for _, level := range levels {
		parallelFor(len(level), func(i int) {
			n := level[i]
			res := results[n]
			ids, err := inputIDs(n, results)
			if err != nil {
				res.Err = err
				return
			}
			key := ActionKey(n, ids)
			res.ActionID, res.KeyText = key.Sum(), key.Text()
			if a, ok, err := store.GetActionVerified(res.ActionID); err == nil && ok {
				res.Action, res.Status = a, StatusCached
			}
		})
	}
	return results
}

// Verdict is how a re-executed output compares with the cached one.
type Verdict string

// Verdicts of `pipeline verify`.
const (
	Bitwise   Verdict = "bitwise-equal"
	Decoded   Verdict = "equal-after-decoding"
	Different Verdict = "different"
	NotCached Verdict = "not-cached"
)

// OutputCheck is the comparison of one output.
type OutputCheck struct {
	Output  string
	Cached  artifacts.OutputID
	Fresh   artifacts.OutputID
	Verdict Verdict
}

// NodeCheck is the verification of one node.
type NodeCheck struct {
	Node    *Node
	Verdict Verdict // the worst verdict of its outputs
	Outputs []OutputCheck
	Err     error
}

// Verify re-executes every cached node of nodes (ignoring the cache, with the
// cached inputs) and compares each output with the cached bytes: bitwise
// equal, equal after decoding (Parquet files with the same logical digest), or
// different. Nothing is published. Nodes that are not cached are reported as
// NotCached.
func Verify(ctx context.Context, nodes []*Node, store LocalStore, log zerolog.Logger, progress func(*Node)) []NodeCheck {
	results := Resolve(nodes, store)
	var out []NodeCheck
	for _, n := range nodes {
		if ctx.Err() != nil {
			break
		}
		res := results[n]
		chk := NodeCheck{Node: n}
		if res.Status != StatusCached {
			chk.Verdict = NotCached
			out = append(out, chk)
			continue
		}
		if progress != nil {
			progress(n)
		}
		_, paths, err := ResolveInputs(n, results, store)
		if err != nil {
			chk.Err, chk.Verdict = err, Different
			out = append(out, chk)
			continue
		}
		st, err := runStaged(ctx, store, NewTask(n, res.ActionID, paths), nil, log.With().Str("stage", n.Name).Logger(), nil, nil)
		if err != nil {
			chk.Err, chk.Verdict = err, Different
			out = append(out, chk)
			continue
		}
		chk.Verdict = Bitwise
		for _, name := range sortedKeys(res.Action.Outputs) {
			oc := OutputCheck{Output: name, Cached: res.Action.Outputs[name]}
			path, ok := st.Files[name]
			if !ok {
				oc.Verdict = Different
			} else if oc.Fresh, err = hashFile(path); err != nil {
				chk.Err = err
				oc.Verdict = Different
			} else if oc.Fresh == oc.Cached {
				oc.Verdict = Bitwise
			} else if strings.HasSuffix(path, ".parquet") && sameLogical(path, store.Path(oc.Cached)) {
				oc.Verdict = Decoded
			} else {
				oc.Verdict = Different
			}
			chk.Verdict = worse(chk.Verdict, oc.Verdict)
			chk.Outputs = append(chk.Outputs, oc)
		}
		st.Cleanup()
		out = append(out, chk)
	}
	return out
}

func sameLogical(a, b string) bool {
	da, err := table.LogicalDigest(a)
	if err != nil {
		return false
	}
	db, err := table.LogicalDigest(b)
	return err == nil && da == db
}

func worse(a, b Verdict) Verdict {
	rank := map[Verdict]int{Bitwise: 0, Decoded: 1, Different: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// hashFile returns the OutputID the store would give the file at path.
func hashFile(path string) (artifacts.OutputID, error) {
	id, _, err := artifacts.HashFile(path)
	return id, err
}
