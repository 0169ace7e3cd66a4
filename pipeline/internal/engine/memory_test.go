package engine

// The planner side against the in-memory store (artifacts.Memory): what is
// cached, what the work costs and how long it takes, and the run records,
// with no store on disk; the filesystem store must give the same answers.

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/demystify-resnet/repro/artifacts"
)

const chainManifest = `version: 1
stages:
  a: {plugin: enginekit.det, params: {label: first}}
  b: {plugin: enginekit.det, params: {label: second}, inputs: {in: a.out}}
  c: {plugin: enginekit.det, params: {label: third}, inputs: {in: b.out}}
`

// cacheResult stores bytes as n's only output "out" and records n's action
// (ActionID id) in store, as the executor does after a run.
func cacheResult(t *testing.T, store interface {
	artifacts.Objects
	artifacts.Actions
}, id artifacts.ActionID, n *Node, bytes string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(p, []byte(bytes), 0o644); err != nil {
		t.Fatal(err)
	}
	oid, size, err := store.Put(p)
	if err != nil {
		t.Fatal(err)
	}
	a := artifacts.Action{Outputs: map[string]artifacts.OutputID{"out": oid}, Sizes: map[string]int64{"out": size},
		Files: map[string]string{"out": "out.txt"}, Stage: n.Spec.Name, Plugin: n.Plugin.Name, PluginDigest: n.Plugin.Digest}
	if err := store.PutAction(id, a); err != nil {
		t.Fatal(err)
	}
}

func byName(p *Plan, res map[*Node]*Result) map[string]*Result {
	out := map[string]*Result{}
	for _, n := range p.Nodes {
		out[n.Name] = res[n]
	}
	return out
}

func TestResolveAgainstMemoryStore(t *testing.T) {
	p := plan(t, chainManifest)
	mem, disk := artifacts.NewMemory(), openStore(t)
	// Nothing cached: a has its key, b and c wait for their inputs.
	r := byName(p, Resolve(p.Nodes, mem))
	if r["a"].Status != StatusPending || r["a"].ActionID == (artifacts.ActionID{}) || r["a"].Err != nil {
		t.Fatalf("a: %+v", r["a"])
	}
	for _, name := range []string{"b", "c"} {
		if r[name].ActionID != (artifacts.ActionID{}) || r[name].Err == nil {
			t.Fatalf("%s resolved without its input: %+v", name, r[name])
		}
	}
	// a cached: b gets the key that names a's output; the filesystem store
	// holding the same results gives the same keys.
	for _, s := range []interface {
		artifacts.Objects
		artifacts.Actions
	}{mem, disk} {
		cacheResult(t, s, r["a"].ActionID, p.Lookup("a")[0], "a's bytes")
	}
	rm, rd := byName(p, Resolve(p.Nodes, mem)), byName(p, Resolve(p.Nodes, disk))
	if rm["a"].Status != StatusCached || rm["b"].Status != StatusPending || rm["b"].ActionID == (artifacts.ActionID{}) || rm["c"].Err == nil {
		t.Fatalf("after caching a: a %+v, b %+v, c %+v", rm["a"], rm["b"], rm["c"])
	}
	for _, name := range []string{"a", "b", "c"} {
		if rm[name].Status != rd[name].Status || rm[name].ActionID != rd[name].ActionID || rm[name].KeyText != rd[name].KeyText {
			t.Errorf("%s: memory store %v %s, filesystem store %v %s", name, rm[name].Status, rm[name].ActionID.Short(), rd[name].Status, rd[name].ActionID.Short())
		}
	}
	// A corrupt cached output is a miss, not a result to build on.
	if !mem.Corrupt(rm["a"].Action.Outputs["out"]) {
		t.Fatal("a's output not in the memory store")
	}
	if r := byName(p, Resolve(p.Nodes, mem)); r["a"].Status != StatusPending || r["b"].ActionID != (artifacts.ActionID{}) {
		t.Fatalf("after corrupting a's output: a %v, b %s", r["a"].Status, r["b"].ActionID.Short())
	}
}

func TestRecordsCostsAndEstimatesAgainstMemoryStore(t *testing.T) {
	p := plan(t, chainManifest)
	mem := artifacts.NewMemory()
	ra := byName(p, Resolve(p.Nodes, mem))["a"]
	cacheResult(t, mem, ra.ActionID, p.Lookup("a")[0], "a's bytes")
	older := RunRecord{Format: 1, Name: "20260101T000000.000000000Z-t-1", Stages: []StageRecord{
		{Name: "a", Plugin: "enginekit", Stage: "det", ActionID: ra.ActionID.String(), Status: StatusRan, Seconds: 9, CPUSeconds: 8},
	}}
	newer := RunRecord{Format: 1, Name: "20260102T000000.000000000Z-t-1", Stages: []StageRecord{
		{Name: "a", Plugin: "enginekit", Stage: "det", ActionID: ra.ActionID.String(), Status: StatusRan, Seconds: 4, CPUSeconds: 3},
	}}
	for _, rec := range []RunRecord{newer, older} {
		if err := saveRecord(mem, rec); err != nil {
			t.Fatal(err)
		}
	}
	// A damaged record is quarantined by LoadRecords and skipped by both readers.
	if err := mem.PutRun("20260103T000000.000000000Z-t-1", []byte(`{"name": "trunc`)); err != nil {
		t.Fatal(err)
	}
	var order []string
	if err := EachRecordNewestFirst(mem, func(rec RunRecord) bool { order = append(order, rec.Name); return true }); err != nil {
		t.Fatal(err)
	}
	if len(order) != 2 || order[0] != newer.Name || order[1] != older.Name {
		t.Fatalf("EachRecordNewestFirst read %v, want the newer then the older record", order)
	}
	recs, err := LoadRecords(mem)
	if err != nil || len(recs) != 2 || recs[0].Name != older.Name || recs[1].Name != newer.Name {
		t.Fatalf("LoadRecords = %d records, %v", len(recs), err)
	}
	if q := mem.Quarantined(); len(q) != 1 {
		t.Fatalf("quarantined %v, want the damaged record", q)
	}
	if _, err := mem.GetRun("20260103T000000.000000000Z-t-1"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("damaged record still stored: %v", err)
	}
	// Estimates: a's time in the newest record; b and c, never run, the
	// mean time of their plugin stage over the records (4 and 9 s).
	est := Estimates(mem, p.Nodes)
	for _, n := range p.Nodes {
		want := map[string]float64{"a": 4, "b": 6.5, "c": 6.5}[n.Name]
		if est[n] != want {
			t.Errorf("estimate of %s = %v, want %v", n.Name, est[n], want)
		}
	}
	// Costs: a measured by the newest record that ran its current action;
	// b and c, whose manifest stages have no measured instance, are
	// unestimated.
	c := Costs(p.Nodes, mem)
	if c.Instances != 3 || c.Measured != 1 || c.CPU != 3 || c.Wall != 4 || c.Extrapolated != 0 || c.Unestimated != 2 || c.CriticalPath != 3 {
		t.Errorf("costs %+v, want 3 instances, a measured at 3 CPU s (4 s wall), b and c unestimated", c)
	}
}
