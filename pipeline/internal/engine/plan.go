package engine

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/manifest"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// actionSalt versions the whole ActionID scheme together with
// artifacts.KeySchemaVersion.
const actionSalt = "demystify-resnet action"

// InputRef is one file an instance consumes: an output of another node.
type InputRef struct {
	Node   *Node
	Output string
}

// Node is one stage instance bound to its plugin, with validated parameters.
type Node struct {
	Name       string // instance name, e.g. train[depth=2,init=xavier]
	Inst       *manifest.Instance
	Plugin     *host.Plugin
	Spec       sdk.StageSpec
	Params     map[string]any // validated, defaults filled
	ParamsJSON string         // canonical JSON of Params (sorted keys)
	Seed       uint64
	Inputs     map[string][]InputRef
	Deps       []*Node // unique, in plan order
	Timeout    time.Duration
	Retries    int
	Publish    []string
	Resources  manifest.Resources
	index      int     // position in Plan.Nodes
	users      []*Node // nodes that depend on this one
}

// Weight is how many of the scheduler's job slots the node occupies: the
// threads its stage declares, or the CPUs the manifest asks for.
func (n *Node) Weight() int {
	w := n.Spec.Threads
	if n.Resources.CPUs > w {
		w = n.Resources.CPUs
	}
	if w < 1 {
		w = 1
	}
	return w
}

// Plan is every node of a manifest in a deterministic topological order.
type Plan struct {
	Manifest *manifest.Manifest
	Nodes    []*Node
	byName   map[string]*Node
}

// Node returns the node called name (an instance name).
func (p *Plan) Node(name string) (*Node, bool) {
	n, ok := p.byName[name]
	return n, ok
}

// Lookup returns the nodes a user-supplied name designates: an instance
// name, a stage name (all its instances), or a selection
// "stage[k=v,...]" with any of the stage's matrix keys in any order (the
// instances that have those values), as in a manifest's references.
func (p *Plan) Lookup(name string) []*Node {
	if n, ok := p.byName[name]; ok {
		return []*Node{n}
	}
	stage, sel := name, []manifest.Param(nil)
	if strings.Contains(name, "[") {
		r, err := manifest.ParseTarget(name)
		if err != nil {
			return nil
		}
		stage, sel = r.Stage, r.Selector
	}
	var out []*Node
	for _, n := range p.Nodes {
		if n.Inst.Stage.Name == stage && n.Inst.Selected(sel) {
			out = append(out, n)
		}
	}
	return out
}

// Closure returns the named targets and everything they depend on, in plan
// order. With no targets it returns every node.
func (p *Plan) Closure(targets []string) ([]*Node, error) {
	if len(targets) == 0 {
		return p.Nodes, nil
	}
	want := map[*Node]bool{}
	var mark func(n *Node)
	mark = func(n *Node) {
		if want[n] {
			return
		}
		want[n] = true
		for _, d := range n.Deps {
			mark(d)
		}
	}
	for _, t := range targets {
		ns := p.Lookup(t)
		if len(ns) == 0 {
			return nil, fmt.Errorf("no stage or instance %q in %s", t, p.Manifest.Path)
		}
		for _, n := range ns {
			mark(n)
		}
	}
	var out []*Node
	for _, n := range p.Nodes {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Registry finds plugin stages by the name a manifest uses.
type Registry struct {
	plugins []*host.Plugin
}

// NewRegistry indexes discovered plugins.
func NewRegistry(ps []*host.Plugin) *Registry { return &Registry{plugins: ps} }

// Plugins returns the discovered plugins.
func (r *Registry) Plugins() []*host.Plugin { return r.plugins }

// Resolve finds the plugin and stage for a manifest "plugin:" value: "name"
// (the plugin's only stage, or its stage called name) or "name.stage".
func (r *Registry) Resolve(ref string) (*host.Plugin, sdk.StageSpec, error) {
	bin, stage, _ := strings.Cut(ref, ".")
	for _, p := range r.plugins {
		if p.Name != bin {
			continue
		}
		if stage == "" {
			if len(p.Stages) == 1 {
				return p, p.Stages[0], nil
			}
			if s, ok := p.Stage(bin); ok {
				return p, s, nil
			}
			return nil, sdk.StageSpec{}, fmt.Errorf("plugin %q serves several stages (%s): name one as %s.<stage>", bin, stageNames(p), bin)
		}
		if s, ok := p.Stage(stage); ok {
			return p, s, nil
		}
		if s, ok := p.Stage(ref); ok {
			return p, s, nil
		}
		return nil, sdk.StageSpec{}, fmt.Errorf("plugin %q has no stage %q (it serves: %s)", bin, stage, stageNames(p))
	}
	var names []string
	for _, p := range r.plugins {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return nil, sdk.StageSpec{}, fmt.Errorf("unknown plugin %q: no plugins were found (run `make build`, or pass --plugin-dir)", bin)
	}
	return nil, sdk.StageSpec{}, fmt.Errorf("unknown plugin %q (found: %s)", bin, strings.Join(names, ", "))
}

func stageNames(p *host.Plugin) string {
	var s []string
	for _, st := range p.Stages {
		s = append(s, st.Name)
	}
	return strings.Join(s, ", ")
}

// NewPlan is NewPlanLimited with manifest.DefaultLimits.
func NewPlan(e *manifest.Expanded, reg *Registry) (*Plan, error) {
	return NewPlanLimited(e, reg, manifest.DefaultLimits)
}

// NewPlanLimited binds every instance of an expanded manifest to its plugin
// stage, validates parameters and inputs against the stage's declaration
// (an instance's encoded parameters may not exceed lim.ParamBytes), and
// orders the nodes topologically (ties broken by manifest order). Its cost is
// linear in instances plus bindings, up to a log factor for the ordering.
// Errors are *manifest.Error with the position of the offending text.
func NewPlanLimited(e *manifest.Expanded, reg *Registry, lim manifest.Limits) (*Plan, error) {
	stages, err := bindStages(e.Manifest, reg)
	if err != nil {
		return nil, err
	}
	nodes := make([]*Node, len(e.Instances)) // by Instance.Index
	errs := make([]error, len(e.Instances))
	parallelFor(len(e.Instances), func(i int) {
		inst := e.Instances[i]
		nodes[i], errs[i] = newNode(e.Manifest.Seed, inst, stages[inst.Stage.Name], lim)
	})
	for _, err := range errs { // the first error in manifest order
		if err != nil {
			return nil, err
		}
	}
	if err := connect(e, nodes); err != nil {
		return nil, err
	}
	p := &Plan{Manifest: e.Manifest, Nodes: topoOrder(nodes), byName: make(map[string]*Node, len(nodes))}
	if len(p.Nodes) != len(nodes) {
		// The manifest checks cycles between stages; instance-level cycles
		// cannot occur without them.
		return nil, fmt.Errorf("engine: dependency cycle among instances")
	}
	for _, n := range p.Nodes {
		p.byName[n.Name] = n
		slices.SortFunc(n.Deps, func(a, b *Node) int { return a.index - b.index })
	}
	return p, nil
}

// boundStage is a manifest stage resolved to the plugin stage that runs it.
type boundStage struct {
	plugin *host.Plugin
	spec   sdk.StageSpec
}

// bindStages resolves every stage's plugin and checks the stage against the
// plugin's declaration: parameters and matrix keys declared, inputs declared
// and required ones bound, published and referenced outputs declared.
func bindStages(m *manifest.Manifest, reg *Registry) (map[string]boundStage, error) {
	stages := map[string]boundStage{}
	for _, st := range m.Stages {
		pl, spec, err := reg.Resolve(st.Plugin)
		if err != nil {
			return nil, manifest.Errorf(st.PluginPos, "stage %q: %v", st.Name, err)
		}
		stages[st.Name] = boundStage{pl, spec}
		if err := checkStage(st, spec); err != nil {
			return nil, err
		}
	}
	for _, st := range m.Stages {
		for _, in := range st.Inputs {
			for _, r := range in.Refs {
				tgt := stages[r.Stage]
				if _, ok := tgt.spec.Output(r.Output); !ok {
					return nil, manifest.Errorf(r.Pos, "stage %q: input %q refers to %q, but %s has no output %q (its outputs: %s)", st.Name, in.Port, r.Raw, tgt.spec.Name, r.Output, portNames(tgt.spec.Outputs))
				}
			}
		}
	}
	return stages, nil
}

// checkStage checks one manifest stage against its plugin stage's declaration.
func checkStage(st *manifest.Stage, spec sdk.StageSpec) error {
	for _, prm := range st.Params {
		if _, ok := spec.Param(prm.Name); !ok {
			return manifest.Errorf(prm.Pos, "stage %q: %s does not declare parameter %q (it declares: %s)", st.Name, st.Plugin, prm.Name, paramNames(spec))
		}
	}
	for _, ax := range st.Matrix {
		if _, ok := spec.Param(ax.Name); !ok {
			return manifest.Errorf(ax.Pos, "stage %q: matrix key %q is not a parameter of %s (it declares: %s)", st.Name, ax.Name, st.Plugin, paramNames(spec))
		}
	}
	for _, in := range st.Inputs {
		if _, ok := spec.Input(in.Port); !ok {
			return manifest.Errorf(in.Pos, "stage %q: %s has no input %q (its inputs: %s)", st.Name, st.Plugin, in.Port, portNames(spec.Inputs))
		}
	}
	for _, port := range spec.Inputs {
		if port.Optional {
			continue
		}
		if !slices.ContainsFunc(st.Inputs, func(in manifest.Input) bool { return in.Port == port.Name }) {
			return manifest.Errorf(st.Pos, "stage %q: required input %q of %s is not bound (add inputs: {%s: <stage>.<output>})", st.Name, port.Name, st.Plugin, port.Name)
		}
	}
	for _, pub := range st.Publish {
		if pub == "*" {
			continue
		}
		if _, ok := spec.Output(pub); !ok {
			return manifest.Errorf(st.Pos, "stage %q: publish names %q, which is not an output of %s (its outputs: %s)", st.Name, pub, st.Plugin, portNames(spec.Outputs))
		}
	}
	return nil
}

// newNode binds one instance's parameters and derives its seed.
func newNode(seed uint64, inst *manifest.Instance, b boundStage, lim manifest.Limits) (*Node, error) {
	params, err := bindParams(inst, b.spec)
	if err != nil {
		return nil, err
	}
	js, err := params.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("engine: encode params of %s: %w", inst.Name, err)
	}
	if lim.ParamBytes > 0 && len(js) > lim.ParamBytes {
		return nil, manifest.Errorf(inst.Stage.Pos, "%s: parameters encode to %d bytes, above the limit of %d that a plugin request must fit in (raise with --max-param-bytes or %s)", inst.Name, len(js), lim.ParamBytes, manifest.EnvMaxParamBytes)
	}
	n := &Node{
		Name: inst.Name, Inst: inst, Plugin: b.plugin, Spec: b.spec,
		Params: params.Raw(), ParamsJSON: string(js),
		Inputs:  map[string][]InputRef{},
		Timeout: inst.Stage.Timeout, Retries: inst.Stage.Retries,
		Publish: inst.Stage.Publish, Resources: inst.Stage.Resources,
		index: inst.Index,
	}
	n.Seed = deriveSeed(seed, b.plugin.Name, b.spec.Name, n.ParamsJSON)
	return n, nil
}

// connect turns the expansion's bindings into the nodes' inputs and their
// unique dependencies, checking that single-file inputs get one file.
func connect(e *manifest.Expanded, nodes []*Node) error {
	seen := make([]int, len(nodes)) // seen[dep] == n's index+1: dep already in n.Deps
	for _, inst := range e.Instances {
		n := nodes[inst.Index]
		for _, port := range slices.Sorted(maps.Keys(e.Inputs[inst])) {
			bs := e.Inputs[inst][port]
			ps, _ := n.Spec.Input(port)
			if !ps.Many && len(bs) > 1 {
				return manifest.Errorf(bs[0].Ref.Pos, "%s: input %q takes one file, but its references match %d instances (%s, ...): narrow them with a selector like %s[key=value].%s",
					inst.Name, port, len(bs), bs[0].Instance.Name, bs[0].Ref.Stage, bs[0].Output)
			}
			refs := make([]InputRef, len(bs))
			for i, b := range bs {
				dep := nodes[b.Instance.Index]
				refs[i] = InputRef{Node: dep, Output: b.Output}
				if seen[dep.index] != n.index+1 {
					seen[dep.index] = n.index + 1
					n.Deps = append(n.Deps, dep)
				}
			}
			n.Inputs[port] = refs
		}
	}
	return nil
}

// topoOrder orders nodes (given in manifest order) by Kahn's algorithm,
// always taking the earliest ready node in manifest order, so plans are
// deterministic; it records every node's dependants and plan index. Fewer
// nodes come back than went in only if there is a cycle.
func topoOrder(nodes []*Node) []*Node {
	indeg := make([]int, len(nodes))
	for _, n := range nodes {
		indeg[n.index] = len(n.Deps)
		for _, d := range n.Deps {
			d.users = append(d.users, n)
		}
	}
	ready := &indexHeap{}
	for _, n := range nodes {
		if indeg[n.index] == 0 {
			heap.Push(ready, n.index)
		}
	}
	out := make([]*Node, 0, len(nodes))
	for ready.Len() > 0 {
		n := nodes[heap.Pop(ready).(int)]
		out = append(out, n)
		for _, u := range n.users {
			if indeg[u.index]--; indeg[u.index] == 0 {
				heap.Push(ready, u.index)
			}
		}
	}
	for i, n := range out {
		n.index = i
	}
	return out
}

// indexHeap is a min-heap of ints (container/heap).
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func paramNames(s sdk.StageSpec) string {
	var n []string
	for _, p := range s.Params {
		n = append(n, p.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

func portNames(ps []sdk.PortSpec) string {
	var n []string
	for _, p := range ps {
		n = append(n, p.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// bindParams converts the instance's manifest values to the declared types,
// reporting the position of a bad value, then lets the SDK fill defaults.
func bindParams(inst *manifest.Instance, spec sdk.StageSpec) (sdk.Params, error) {
	raw := map[string]any{}
	for _, prm := range inst.Params {
		ps, _ := spec.Param(prm.Name)
		v, err := ps.Type.Normalize(prm.Value.V)
		if err != nil {
			return sdk.Params{}, manifest.Errorf(prm.Value.Pos, "%s: parameter %q: %v", inst.Name, prm.Name, err)
		}
		raw[prm.Name] = v
	}
	for _, ps := range spec.Params {
		if _, set := raw[ps.Name]; !set && ps.Default == nil {
			return sdk.Params{}, manifest.Errorf(inst.Stage.Pos, "%s: required parameter %q of %s is not set (%s)", inst.Name, ps.Name, spec.Name, ps.Doc)
		}
	}
	params, err := sdk.ValidateParams(spec, raw)
	if err != nil {
		return sdk.Params{}, manifest.Errorf(inst.Stage.Pos, "%s: %v", inst.Name, err)
	}
	return params, nil
}

// deriveSeed gives each instance its own seed from the manifest seed and
// what the instance computes (not its name, so renaming a stage keeps results).
func deriveSeed(global uint64, plugin, stage, paramsJSON string) uint64 {
	h := sha256.New()
	fmt.Fprintf(h, "demystify-resnet seed v1\n%d\n%s\n%s\n%s\n", global, plugin, stage, paramsJSON)
	return binary.BigEndian.Uint64(h.Sum(nil)[:8])
}

// ActionKey builds the ActionID key of n from the OutputIDs of its inputs.
// inputIDs maps each port to the OutputIDs in binding order.
func ActionKey(n *Node, inputIDs map[string][]artifacts.OutputID) *artifacts.Key {
	k := artifacts.NewKey(actionSalt)
	k.Add("schema", strconv.Itoa(artifacts.KeySchemaVersion))
	k.Add("plugin", n.Plugin.Name)
	k.Add("plugin-digest", n.Plugin.Digest)
	k.Add("stage", n.Spec.Name)
	k.Add("stage-version", n.Spec.Version)
	k.Add("params", n.ParamsJSON)
	k.Add("seed", strconv.FormatUint(n.Seed, 10))
	ports := make([]string, 0, len(inputIDs))
	for p := range inputIDs {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	for _, p := range ports {
		for i, id := range inputIDs[p] {
			k.Add("input", fmt.Sprintf("%s %d %s", p, i, id))
		}
	}
	return k
}
