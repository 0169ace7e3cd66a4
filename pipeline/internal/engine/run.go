package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/plugins/host"
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
	// CPUSeconds is the plugin's CPU time for the node (Outcome.CPUSeconds;
	// 0 when it was not run or not measured).
	CPUSeconds float64
	Err        error
}

// Event is sent to an Observer as nodes progress.
type Event struct {
	Kind    string  // "start", "progress", "done", "eta"
	Node    *Node   // not for "eta"
	Result  *Result // for "done"
	Done    float64 // for "progress"
	Total   float64
	Message string
	Seconds float64 // for "eta": estimated seconds until the run ends
}

// Observer receives run events; it is called from several goroutines
// ("start" and "progress" from the node's worker, "done" and "eta" from the
// scheduler).
type Observer func(Event)

// Options configure a run.
type Options struct {
	Store     RunStore
	Executor  Executor
	Jobs      int      // job slots; default runtime.NumCPU()
	KeepGoing bool     // keep running independent nodes after a failure
	Targets   []string // run only these and what they need
	OutDir    string   // where published outputs are copied ("" = none)
	Log       zerolog.Logger
	Observer  Observer
	Executed  string // label recorded in the run record (executor name)
	// RecordEvery is how often the run record is saved while the run goes
	// on, with status "running" (so `status` sees the run, and a run killed
	// without its final record leaves what it had done); 0 saves it only at
	// the end.
	RecordEvery time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Results  []*Result // plan order, only the nodes that were part of the run
	Record   RunRecord
	Failed   int   // stages that failed
	Publish  error // copying results to the out folder failed (stages may all have succeeded)
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
func ResolveInputs(n *Node, results map[*Node]*Result, store ObjectPaths) (map[string][]artifacts.OutputID, map[string][]string, error) {
	ids, err := inputIDs(n, results)
	if err != nil {
		return nil, nil, err
	}
	paths := make(map[string][]string, len(ids))
	for port, l := range ids {
		for _, id := range l {
			paths[port] = append(paths[port], store.Path(id))
		}
	}
	return ids, paths, nil
}

// inputIDs returns the OutputIDs of n's inputs by port, in the order of
// each port's references; every input must have a result.
func inputIDs(n *Node, results map[*Node]*Result) (map[string][]artifacts.OutputID, error) {
	ids := map[string][]artifacts.OutputID{}
	for port, refs := range n.Inputs {
		for _, r := range refs {
			res := results[r.Node]
			if res == nil || (res.Status != StatusCached && res.Status != StatusRan) {
				return nil, fmt.Errorf("engine: %s: input %s.%s is not available", n.Name, r.Node.Name, r.Output)
			}
			id, ok := res.Action.Outputs[r.Output]
			if !ok {
				return nil, fmt.Errorf("stage %s: input %q: %s did not produce output %q", n.Name, port, r.Node.Name, r.Output)
			}
			ids[port] = append(ids[port], id)
		}
	}
	return ids, nil
}

// Run executes the plan (or the closure of opts.Targets). Cached actions are
// reused without launching their plugin; the rest run critical path first
// (see CriticalPath), weighted by the times recorded in the store's run
// records (Estimates). It always writes a run record, even when nodes fail
// or ctx is cancelled.
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
	s := newScheduler(ctx, nodes, opts, Estimates(opts.Store, nodes))
	rw := &recordWriter{store: opts.Store, log: opts.Log}
	if opts.RecordEvery > 0 {
		t := time.NewTicker(opts.RecordEvery)
		defer t.Stop()
		s.tick = t.C
		s.onTick = func() {
			part := &Report{Duration: time.Since(start)}
			for _, n := range nodes {
				r := *s.results[n]
				part.Results = append(part.Results, &r)
			}
			rec := newRecord(p, part, opts, start, ctx)
			rec.Status = "running"
			rw.checkpoint(rec)
		}
	}
	s.run()
	rep := &Report{Duration: time.Since(start)}
	for _, n := range nodes {
		res := s.results[n]
		rep.Results = append(rep.Results, res)
		if res.Status == StatusFailed {
			rep.Failed++
		}
	}
	if opts.OutDir != "" {
		if rep.Publish = publish(rep, opts.Store, opts.OutDir); rep.Publish != nil {
			opts.Log.Error().Err(rep.Publish).Msg("copying results to the out folder")
		}
	}
	rep.Record = newRecord(p, rep, opts, start, ctx)
	if err := rw.final(rep.Record); err != nil && rep.Publish == nil {
		return rep, err
	}
	return rep, rep.Publish
}

// checkNode computes the ActionID of n from its inputs' results and looks it
// up in the store: a hit is StatusCached, a miss StatusPending (with the
// ActionID set), an input that cannot be resolved StatusFailed.
func checkNode(n *Node, results map[*Node]*Result, opts Options) Result {
	t0 := time.Now()
	res := Result{Node: n, Status: StatusPending}
	ids, _, err := ResolveInputs(n, results, opts.Store)
	if err != nil {
		res.Status, res.Err, res.Seconds = StatusFailed, err, time.Since(t0).Seconds()
		return res
	}
	key := ActionKey(n, ids)
	res.ActionID = key.Sum()
	res.KeyText = key.Text()
	if a, ok, err := opts.Store.GetActionVerified(res.ActionID); err != nil {
		opts.Log.Warn().Str("stage", n.Name).Err(err).Msg("cache lookup failed; recomputing")
	} else if ok {
		res.Action, res.Status = a, StatusCached
		res.Seconds = time.Since(t0).Seconds()
	}
	return res
}

// executeNode runs a node that missed the cache (res is its check result,
// est its estimated seconds) through the executor.
func executeNode(ctx context.Context, n *Node, res Result, est float64, results map[*Node]*Result, opts Options) Result {
	t0 := time.Now()
	log := opts.Log.With().Str("stage", n.Name).Logger()
	fail := func(err error) Result {
		res.Status, res.Err, res.Seconds = StatusFailed, err, time.Since(t0).Seconds()
		return res
	}
	// The inputs' results are final: the scheduler starts n only after them.
	_, paths, err := ResolveInputs(n, results, opts.Store)
	if err != nil {
		return fail(err)
	}
	if err := checkRequestSize(n, paths); err != nil {
		return fail(err)
	}
	opts.Observer(Event{Kind: "start", Node: n})
	task := NewTask(n, res.ActionID, paths)
	task.Estimate = est
	o, err := opts.Executor.Execute(ctx, task, func(done, total float64, msg string) {
		opts.Observer(Event{Kind: "progress", Node: n, Done: done, Total: total, Message: msg})
	}, log)
	if err != nil {
		return fail(err)
	}
	res.Action, res.Status, res.Seconds, res.CPUSeconds = o.Action, StatusRan, time.Since(t0).Seconds(), o.CPUSeconds
	return res
}

// maxRequestBytes is the message cap of the plugin protocol; a request
// carries the parameters and one path per input file.
const maxRequestBytes = host.MaxRequestBytes

// checkRequestSize fails, before a plugin is launched, a node whose request
// would not fit in one message (estimated with 16 bytes of framing per path).
func checkRequestSize(n *Node, paths map[string][]string) error {
	size, files := len(n.ParamsJSON), 0
	for port, ps := range paths {
		size += len(port)
		for _, p := range ps {
			size += len(p) + 16
			files++
		}
	}
	if size > maxRequestBytes {
		return fmt.Errorf("stage %s: its plugin request (parameters and %d input paths, %.1f MiB) exceeds the plugin protocol's %d MiB message cap: split the stage's inputs", n.Name, files, float64(size)/(1<<20), maxRequestBytes>>20)
	}
	return nil
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
// each atomically and from bytes checked against their OutputID
// (Store.Export), under the file name the plugin gave it. Every name is
// checked to be a plain file name there, so nothing outside dir is written
// whatever an action entry says.
func publish(rep *Report, store artifacts.Objects, dir string) error {
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
				file = strings.ReplaceAll(res.Node.Name, "/", "_") + "." + name
			}
			if prev, dup := owner[file]; dup {
				return fmt.Errorf("out: %s and %s both publish a file called %s", prev, res.Node.Name, file)
			}
			owner[file] = res.Node.Name
			if err := store.Export(id, dir, file, 0o644); err != nil {
				return fmt.Errorf("out: %s: %w", res.Node.Name, err)
			}
		}
	}
	return nil
}

// RunRecord is the provenance of one run, stored as JSON in the store's runs/.
type RunRecord struct {
	Format         int       `json:"format"`
	Name           string    `json:"name"`
	Manifest       string    `json:"manifest"`
	ManifestName   string    `json:"manifest_name"`
	ManifestDigest string    `json:"manifest_digest"`
	Executor       string    `json:"executor"`
	Started        time.Time `json:"started"`
	Seconds        float64   `json:"seconds"`
	Status         string    `json:"status"` // ok, failed, interrupted; running while the run goes on (see State)
	// PID and Host are the pipeline process that wrote the record: a
	// "running" record whose process is gone was killed (State).
	PID     int            `json:"pid,omitempty"`
	Host    string         `json:"host,omitempty"`
	Targets []string       `json:"targets,omitempty"`
	Stages  []StageRecord  `json:"stages"`
	Counts  map[Status]int `json:"counts"`
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
	// CPUSeconds is the plugin's CPU time (user plus system) when it ran
	// and was measured.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	Error      string  `json:"error,omitempty"`
}

func newRecord(p *Plan, rep *Report, opts Options, start time.Time, ctx context.Context) RunRecord {
	abs, _ := filepath.Abs(p.Manifest.Path)
	rec := RunRecord{
		Format: 1, Manifest: abs, ManifestName: p.Manifest.Name, ManifestDigest: p.Manifest.Digest,
		Executor: opts.Executor.Name(), Started: start.UTC(), Seconds: rep.Duration.Seconds(),
		Status: "ok", Targets: opts.Targets, Counts: map[Status]int{},
	}
	rec.Name = fmt.Sprintf("%s-%s-%d", start.UTC().Format("20060102T150405.000000000Z"), p.Manifest.Name, os.Getpid())
	rec.PID, rec.Host = os.Getpid(), hostname
	for _, res := range rep.Results {
		rec.Counts[res.Status]++
		rec.Stages = append(rec.Stages, StageRecordOf(res))
	}
	if rep.Failed > 0 || rep.Publish != nil {
		rec.Status = "failed"
	}
	if ctx.Err() != nil {
		rec.Status = "interrupted"
	}
	return rec
}

// StageRecordOf is the run record entry of res: the node's names, its
// status and timings, its ActionID and outputs when it has them, its
// inputs, its error.
func StageRecordOf(res *Result) StageRecord {
	sr := StageRecord{Name: res.Node.Name, Plugin: res.Node.Plugin.Name, PluginDigest: res.Node.Plugin.Digest,
		Stage: res.Node.Spec.Name, Status: res.Status, Seconds: res.Seconds, CPUSeconds: res.CPUSeconds}
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
	return sr
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

func saveRecord(store artifacts.RunRecords, rec RunRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("engine: encode run record: %w", err)
	}
	if err := store.PutRun(rec.Name, data); err != nil {
		return fmt.Errorf("engine: save run record: %w", err)
	}
	return nil
}

// EachRecordNewestFirst decodes the store's run records newest first and
// calls fn with each until fn returns false. Unreadable records are
// skipped; damaged ones are quarantined as by LoadRecords.
func EachRecordNewestFirst(store artifacts.RunRecords, fn func(RunRecord) bool) error {
	names, err := store.Runs()
	if err != nil {
		return err
	}
	sort.Strings(names)
	for i := len(names) - 1; i >= 0; i-- {
		rec, ok, err := loadRecord(store, names[i])
		if err != nil || !ok {
			continue
		}
		if !fn(rec) {
			break
		}
	}
	return nil
}

// loadRecord reads and decodes the run record name. A record that is too
// large to read (artifacts.MaxRunRecordBytes: the store quarantines it) or
// that does not decode (quarantined here) is reported among the store's
// Quarantined and gives ok false.
func loadRecord(store artifacts.RunRecords, name string) (rec RunRecord, ok bool, err error) {
	data, err := store.GetRun(name)
	if errors.Is(err, artifacts.ErrCorrupt) {
		return RunRecord{}, false, nil
	}
	if err != nil {
		return RunRecord{}, false, err
	}
	rec, err = decodeRecord(name, data)
	if err != nil {
		store.QuarantineRun(name, data, err.Error())
		return RunRecord{}, false, nil
	}
	return rec, true, nil
}

// decodeRecord decodes the run record stored as name. Anything that is not
// a JSON object with a name (truncated, not JSON, null) is an error; the
// record's name is the one it is stored under.
func decodeRecord(name string, data []byte) (RunRecord, error) {
	var rec RunRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return RunRecord{}, fmt.Errorf("not a run record: %w", err)
	}
	if rec.Name == "" {
		return RunRecord{}, errors.New("not a run record: no name")
	}
	rec.Name = name
	return rec, nil
}

// LoadRecords returns the store's run records, oldest first. A record that
// cannot be decoded (truncated, not JSON) or is too large to be one
// (artifacts.MaxRunRecordBytes) is moved to the store's quarantine/
// (reported among its Quarantined) and left out, so that one damaged or
// planted record does not break every command that reads them.
func LoadRecords(store artifacts.RunRecords) ([]RunRecord, error) {
	names, err := store.Runs()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []RunRecord
	for _, name := range names {
		rec, ok, err := loadRecord(store, name)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out, nil
}
