package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
)

// Status is the outcome of one node in a run.
type Status string

// Node outcomes.
const (
	StatusPending Status = "pending"
	StatusCached  Status = "cached"
	StatusRan     Status = "ran"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Result is what a run learned about one node.
type Result struct {
	Node     *Node
	Status   Status
	ActionID artifacts.ActionID
	KeyText  string
	Action   artifacts.Action
	Seconds  float64
	Err      error
}

// Event is sent to an Observer as nodes progress.
type Event struct {
	Kind    string // "start", "progress", "done"
	Node    *Node
	Result  *Result // for "done"
	Done    float64 // for "progress"
	Total   float64
	Message string
}

// Observer receives run events; it is called from several goroutines.
type Observer func(Event)

// Options configure a run.
type Options struct {
	Store     *artifacts.Store
	Executor  Executor
	Jobs      int      // job slots; default runtime.NumCPU()
	KeepGoing bool     // keep running independent nodes after a failure
	Targets   []string // run only these and what they need
	OutDir    string   // where published outputs are copied ("" = none)
	Log       zerolog.Logger
	Observer  Observer
	Executed  string // label recorded in the run record (executor name)
}

// Report is the outcome of a run.
type Report struct {
	Results  []*Result // plan order, only the nodes that were part of the run
	Record   RunRecord
	Failed   int
	Duration time.Duration
}

// Err summarises the failures of a run (nil when every node succeeded).
func (r *Report) Err() error {
	var first error
	for _, res := range r.Results {
		if res.Status == StatusFailed {
			first = res.Err
			break
		}
	}
	if first == nil {
		return nil
	}
	if r.Failed > 1 {
		return fmt.Errorf("%w (and %d more failures)", first, r.Failed-1)
	}
	return first
}

// ResolveInputs returns the OutputIDs and object paths of n's inputs, which
// must all have results.
func ResolveInputs(n *Node, results map[*Node]*Result, store *artifacts.Store) (map[string][]artifacts.OutputID, map[string][]string, error) {
	ids := map[string][]artifacts.OutputID{}
	paths := map[string][]string{}
	for port, refs := range n.Inputs {
		for _, r := range refs {
			res := results[r.Node]
			if res == nil || (res.Status != StatusCached && res.Status != StatusRan) {
				return nil, nil, fmt.Errorf("engine: %s: input %s.%s is not available", n.Name, r.Node.Name, r.Output)
			}
			id, ok := res.Action.Outputs[r.Output]
			if !ok {
				return nil, nil, fmt.Errorf("stage %s: input %q: %s did not produce output %q", n.Name, port, r.Node.Name, r.Output)
			}
			ids[port] = append(ids[port], id)
			paths[port] = append(paths[port], store.Path(id))
		}
	}
	return ids, paths, nil
}

// Run executes the plan (or the closure of opts.Targets). Cached actions are
// reused without launching their plugin. It always writes a run record, even
// when nodes fail or ctx is cancelled.
func Run(ctx context.Context, p *Plan, opts Options) (*Report, error) {
	nodes, err := p.Closure(opts.Targets)
	if err != nil {
		return nil, err
	}
	if opts.Jobs <= 0 {
		opts.Jobs = runtime.NumCPU()
	}
	if opts.Observer == nil {
		opts.Observer = func(Event) {}
	}
	start := time.Now()
	results := map[*Node]*Result{}
	for _, n := range nodes {
		results[n] = &Result{Node: n, Status: StatusPending}
	}
	var (
		mu      sync.Mutex
		cond    = sync.NewCond(&mu)
		used    int
		running int
		failed  bool
	)
	done := func(n *Node) bool {
		s := results[n].Status
		return s != StatusPending
	}
	started := map[*Node]bool{}
	mu.Lock()
	for {
		// Mark nodes whose dependencies failed; find ready ones.
		progressed := false
		allDone := true
		for _, n := range nodes {
			if started[n] {
				if !done(n) {
					allDone = false
				}
				continue
			}
			allDone = false
			blocked, ready := false, true
			for _, d := range n.Deps {
				ds := results[d].Status
				if ds == StatusFailed || ds == StatusSkipped {
					blocked = true
				}
				if ds != StatusCached && ds != StatusRan {
					ready = false
				}
			}
			stop := ctx.Err() != nil || (failed && !opts.KeepGoing)
			if blocked || stop {
				started[n] = true
				res := results[n]
				res.Status = StatusSkipped
				res.Err = errSkipped
				if stop {
					res.Err = errors.New("skipped: run stopped")
				}
				progressed = true
				skipped := *res
				mu.Unlock()
				opts.Observer(Event{Kind: "done", Node: n, Result: &skipped})
				mu.Lock()
				continue
			}
			w := min(n.Weight(), opts.Jobs)
			if ready && used+w <= opts.Jobs {
				started[n] = true
				used += w
				running++
				progressed = true
				go func(n *Node, w int) {
					r := runNode(ctx, n, results, &mu, opts)
					mu.Lock()
					*results[n] = r
					used -= w
					running--
					if r.Status == StatusFailed {
						failed = true
					}
					cond.Broadcast()
					mu.Unlock()
					opts.Observer(Event{Kind: "done", Node: n, Result: &r})
				}(n, w)
			}
		}
		if allDone && running == 0 {
			break
		}
		if !progressed {
			cond.Wait()
		}
	}
	mu.Unlock()

	rep := &Report{Duration: time.Since(start)}
	for _, n := range nodes {
		res := results[n]
		rep.Results = append(rep.Results, res)
		if res.Status == StatusFailed {
			rep.Failed++
		}
	}
	if opts.OutDir != "" {
		if err := publish(rep, opts.Store, opts.OutDir); err != nil {
			opts.Log.Error().Err(err).Msg("copying results to the out folder")
			if rep.Failed == 0 {
				rep.Failed = -1
			}
			rep.Record = newRecord(p, rep, opts, start, ctx)
			_ = saveRecord(opts.Store, rep.Record)
			return rep, err
		}
	}
	rep.Record = newRecord(p, rep, opts, start, ctx)
	if err := saveRecord(opts.Store, rep.Record); err != nil {
		return rep, err
	}
	return rep, nil
}

// runNode computes the ActionID of n, looks it up, and executes it on a miss.
// It holds mu only to read the results of n's dependencies.
func runNode(ctx context.Context, n *Node, results map[*Node]*Result, mu *sync.Mutex, opts Options) Result {
	t0 := time.Now()
	res := &Result{Node: n}
	log := opts.Log.With().Str("stage", n.Name).Logger()
	mu.Lock()
	ids, paths, err := ResolveInputs(n, results, opts.Store)
	mu.Unlock()
	setErr := func(err error) {
		res.Status = StatusFailed
		res.Err = err
		res.Seconds = time.Since(t0).Seconds()
	}
	if err != nil {
		setErr(err)
		return *res
	}
	key := ActionKey(n, ids)
	res.ActionID = key.Sum()
	res.KeyText = key.Text()
	if a, ok, err := opts.Store.GetActionVerified(res.ActionID); err != nil {
		log.Warn().Err(err).Msg("cache lookup failed; recomputing")
	} else if ok {
		res.Action = a
		res.Status = StatusCached
		res.Seconds = time.Since(t0).Seconds()
		return *res
	}
	opts.Observer(Event{Kind: "start", Node: n})
	task := NewTask(n, res.ActionID, paths)
	a, err := opts.Executor.Execute(ctx, task, func(done, total float64, msg string) {
		opts.Observer(Event{Kind: "progress", Node: n, Done: done, Total: total, Message: msg})
	}, log)
	if err != nil {
		setErr(err)
		return *res
	}
	res.Action = a
	res.Status = StatusRan
	res.Seconds = time.Since(t0).Seconds()
	return *res
}

// NewTask builds the executable description of n.
func NewTask(n *Node, aid artifacts.ActionID, inputPaths map[string][]string) *Task {
	return &Task{
		Instance: n.Name, ActionID: aid.String(),
		PluginName: n.Plugin.Name, PluginPath: n.Plugin.Path, PluginDigest: n.Plugin.Digest,
		Spec: n.Spec, Params: n.Params, Seed: n.Seed, Inputs: inputPaths,
		Timeout: n.Timeout, Retries: n.Retries,
		Resources: ResourcesJSON{CPUs: n.Resources.CPUs, Memory: n.Resources.Memory, Time: n.Resources.Time},
	}
}

// publish copies the outputs the manifest marks for publishing into dir,
// each atomically, under the file name the plugin gave it.
func publish(rep *Report, store *artifacts.Store, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	owner := map[string]string{}
	for _, res := range rep.Results {
		if res.Status != StatusCached && res.Status != StatusRan {
			continue
		}
		names := res.Node.Publish
		if len(names) == 1 && names[0] == "*" {
			names = names[:0]
			for name := range res.Action.Outputs {
				names = append(names, name)
			}
			sort.Strings(names)
		}
		for _, name := range names {
			id, ok := res.Action.Outputs[name]
			if !ok {
				continue // optional output not produced
			}
			file := res.Action.Files[name]
			if file == "" {
				file = res.Node.Name + "." + name
			}
			if prev, dup := owner[file]; dup {
				return fmt.Errorf("out: %s and %s both publish a file called %s", prev, res.Node.Name, file)
			}
			owner[file] = res.Node.Name
			if err := copyAtomic(store.Path(id), filepath.Join(dir, file)); err != nil {
				return fmt.Errorf("out: %s: %w", file, err)
			}
		}
	}
	return nil
}

func copyAtomic(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// RunRecord is the provenance of one run, stored as JSON in the store's runs/.
type RunRecord struct {
	Format         int            `json:"format"`
	Name           string         `json:"name"`
	Manifest       string         `json:"manifest"`
	ManifestName   string         `json:"manifest_name"`
	ManifestDigest string         `json:"manifest_digest"`
	Executor       string         `json:"executor"`
	Started        time.Time      `json:"started"`
	Seconds        float64        `json:"seconds"`
	Status         string         `json:"status"` // ok, failed, interrupted
	Targets        []string       `json:"targets,omitempty"`
	Stages         []StageRecord  `json:"stages"`
	Counts         map[Status]int `json:"counts"`
}

// StageRecord is one node in a run record.
type StageRecord struct {
	Name         string            `json:"name"`
	Plugin       string            `json:"plugin"`
	PluginDigest string            `json:"plugin_digest"`
	Stage        string            `json:"stage"`
	ActionID     string            `json:"action_id,omitempty"`
	KeyText      string            `json:"key_text,omitempty"`
	Status       Status            `json:"status"`
	Outputs      map[string]string `json:"outputs,omitempty"`
	Files        map[string]string `json:"files,omitempty"`
	Sizes        map[string]int64  `json:"sizes,omitempty"`
	// Inputs are the outputs it read: port -> "instance.output" (so that a
	// diff of two records can tell causes from effects).
	Inputs  map[string][]string `json:"inputs,omitempty"`
	Seconds float64             `json:"seconds"`
	Error   string              `json:"error,omitempty"`
}

func newRecord(p *Plan, rep *Report, opts Options, start time.Time, ctx context.Context) RunRecord {
	abs, _ := filepath.Abs(p.Manifest.Path)
	rec := RunRecord{
		Format: 1, Manifest: abs, ManifestName: p.Manifest.Name, ManifestDigest: p.Manifest.Digest,
		Executor: opts.Executor.Name(), Started: start.UTC(), Seconds: rep.Duration.Seconds(),
		Status: "ok", Targets: opts.Targets, Counts: map[Status]int{},
	}
	rec.Name = fmt.Sprintf("%s-%s-%d", start.UTC().Format("20060102T150405.000000000Z"), p.Manifest.Name, os.Getpid())
	for _, res := range rep.Results {
		sr := StageRecord{Name: res.Node.Name, Plugin: res.Node.Plugin.Name, PluginDigest: res.Node.Plugin.Digest,
			Stage: res.Node.Spec.Name, Status: res.Status, Seconds: res.Seconds}
		if res.ActionID != (artifacts.ActionID{}) {
			sr.ActionID = res.ActionID.String()
			sr.KeyText = res.KeyText
		}
		if len(res.Action.Outputs) > 0 {
			sr.Outputs = map[string]string{}
			for k, v := range res.Action.Outputs {
				sr.Outputs[k] = v.String()
			}
			sr.Files = res.Action.Files
			sr.Sizes = res.Action.Sizes
		}
		sr.Inputs = InputNames(res.Node)
		if res.Err != nil {
			sr.Error = res.Err.Error()
		}
		rec.Counts[res.Status]++
		rec.Stages = append(rec.Stages, sr)
	}
	if rep.Failed != 0 {
		rec.Status = "failed"
	}
	if ctx.Err() != nil {
		rec.Status = "interrupted"
	}
	return rec
}

// InputNames returns n's inputs as port -> "instance.output" (nil if none).
func InputNames(n *Node) map[string][]string {
	if len(n.Inputs) == 0 {
		return nil
	}
	out := map[string][]string{}
	for port, refs := range n.Inputs {
		for _, ref := range refs {
			out[port] = append(out[port], ref.Node.Name+"."+ref.Output)
		}
	}
	return out
}

func saveRecord(store *artifacts.Store, rec RunRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("engine: encode run record: %w", err)
	}
	if err := store.PutRun(rec.Name, data); err != nil {
		return fmt.Errorf("engine: save run record: %w", err)
	}
	return nil
}

// LoadRecords returns the store's run records, oldest first.
func LoadRecords(store *artifacts.Store) ([]RunRecord, error) {
	names, err := store.Runs()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []RunRecord
	for _, name := range names {
		data, err := store.GetRun(name)
		if err != nil {
			return nil, err
		}
		var rec RunRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			return nil, fmt.Errorf("engine: run record %s: %w", name, err)
		}
		out = append(out, rec)
	}
	return out, nil
}
