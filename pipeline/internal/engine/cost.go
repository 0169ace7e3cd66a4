package engine

import (
	"strings"

	"github.com/demystify-resnet/repro/artifacts"
)

// StageCost is the measured cost of the instances of one manifest stage.
type StageCost struct {
	Stage     string `json:"stage"`  // the manifest stage (instances are "Stage[...]")
	Plugin    string `json:"plugin"` // "plugin.stage"
	Instances int    `json:"instances"`
	// Measured counts the instances whose current action ran in one of the
	// store's run records; CPUMeasured those of them with a CPU time.
	Measured    int `json:"measured"`
	CPUMeasured int `json:"cpu_measured"`
	// CPU sums the measured instances' cost: their CPU time where it was
	// recorded, else their wall time (records written before CPU times
	// were). Wall sums their wall time. MaxCPU is the largest single cost.
	CPU    float64 `json:"cpu_seconds"`
	Wall   float64 `json:"wall_seconds"`
	MaxCPU float64 `json:"max_cpu_seconds"`
}

// Cost is what a plan costs, from the run records of a store.
type Cost struct {
	Stages []StageCost `json:"stages"` // in plan order of each stage's first instance
	// CPU and Wall sum the stages' measured costs.
	CPU  float64 `json:"cpu_seconds"`
	Wall float64 `json:"wall_seconds"`
	// Measured and Instances count the plan's instances.
	Measured  int `json:"measured"`
	Instances int `json:"instances"`
	// Extrapolated is the cost of the instances not measured yet, each at
	// the mean cost of its stage's measured instances; Unestimated counts
	// those of stages with no measured instance (not in Extrapolated).
	Extrapolated float64 `json:"extrapolated_cpu_seconds"`
	Unestimated  int     `json:"unestimated"`
	// CriticalPath is the longest chain of work through the plan in seconds,
	// each instance taking its cost divided by its threads (its wall time
	// with the CPUs it asks for), unmeasured ones their stage's mean: no
	// number of CPUs runs the plan in less.
	CriticalPath float64 `json:"critical_path_seconds"`
}

// Costs assembles the cost of nodes (a plan-ordered, dependency-closed set)
// from every run record of store: an instance's cost is that of the newest
// record in which its current action (its ActionID now) ran, so a run done
// in several interrupted parts is measured whole, and results of other
// versions of the instance are not counted. Instances whose inputs are not
// all in the store have no ActionID yet and are unmeasured.
func Costs(nodes []*Node, store PlanStore) Cost {
	type meas struct {
		wall, cpu float64
		hasCPU    bool
	}
	byAction := map[string]meas{}
	_ = EachRecordNewestFirst(store, func(rec RunRecord) bool {
		for _, s := range rec.Stages {
			if s.Status != StatusRan || s.ActionID == "" {
				continue
			}
			if _, seen := byAction[s.ActionID]; !seen {
				byAction[s.ActionID] = meas{wall: s.Seconds, cpu: s.CPUSeconds, hasCPU: s.CPUSeconds > 0}
			}
		}
		return true
	})
	res := Resolve(nodes, store)
	var c Cost
	index := map[string]int{}
	cost := make(map[*Node]float64, len(nodes))
	for _, n := range nodes {
		name := n.Inst.Stage.Name
		i, ok := index[name]
		if !ok {
			i = len(c.Stages)
			index[name] = i
			c.Stages = append(c.Stages, StageCost{Stage: name, Plugin: pluginRef(n)})
		}
		sc := &c.Stages[i]
		sc.Instances++
		c.Instances++
		r := res[n]
		if r.ActionID == (artifacts.ActionID{}) {
			continue
		}
		m, ok := byAction[r.ActionID.String()]
		if !ok {
			continue
		}
		v := m.wall
		if m.hasCPU {
			v = m.cpu
			sc.CPUMeasured++
		}
		sc.Measured++
		sc.CPU += v
		sc.Wall += m.wall
		sc.MaxCPU = max(sc.MaxCPU, v)
		c.Measured++
		c.CPU += v
		c.Wall += m.wall
		cost[n] = v
	}
	path := make(map[*Node]float64, len(nodes))
	for _, n := range nodes {
		v, measured := cost[n]
		if !measured {
			sc := c.Stages[index[n.Inst.Stage.Name]]
			if sc.Measured == 0 {
				c.Unestimated++
			} else {
				v = sc.CPU / float64(sc.Measured)
				c.Extrapolated += v
			}
		}
		path[n] = v / float64(n.Weight())
	}
	for _, l := range CriticalPath(nodes, path) {
		c.CriticalPath = max(c.CriticalPath, l)
	}
	return c
}

// pluginRef is how a manifest names n's plugin stage: "train.init", or
// "datagen" for the stage named like its plugin.
func pluginRef(n *Node) string {
	p, st := n.Plugin.Name, n.Spec.Name
	if st == p || strings.HasPrefix(st, p+".") {
		return st
	}
	return p + "." + st
}
