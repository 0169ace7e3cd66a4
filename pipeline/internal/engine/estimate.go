package engine

import (
	"time"

	"github.com/demystify-resnet/repro/artifacts"
)

// DefaultEstimate is the time assumed for a stage instance that has never
// run and declares no estimate.
const DefaultEstimate = time.Second

// recordsForEstimates bounds how many run records (newest first) Estimates reads.
const recordsForEstimates = 8

// Estimates returns the expected run time in seconds of every node: the time
// it took when it last ran (in the newest run records of store), else the
// mean time of the same plugin stage in those records, else the estimate its
// manifest stage declares, else DefaultEstimate. store may be nil.
func Estimates(store artifacts.RunRecords, nodes []*Node) map[*Node]float64 {
	type agg struct {
		sum float64
		n   int
	}
	want := make(map[string]bool, len(nodes))
	stageOf := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		want[n.Name] = true
		stageOf[n.Plugin.Name+"\x00"+n.Spec.Name] = true
	}
	byInstance := map[string]float64{}
	byStage := map[string]*agg{}
	if store != nil {
		read := 0
		_ = EachRecordNewestFirst(store, func(rec RunRecord) bool {
			for _, s := range rec.Stages {
				if s.Status != StatusRan {
					continue
				}
				if _, seen := byInstance[s.Name]; !seen && want[s.Name] {
					byInstance[s.Name] = s.Seconds
				}
				if k := s.Plugin + "\x00" + s.Stage; stageOf[k] {
					a := byStage[k]
					if a == nil {
						a = &agg{}
						byStage[k] = a
					}
					a.sum += s.Seconds
					a.n++
				}
			}
			read++
			return read < recordsForEstimates && len(byInstance) < len(want)
		})
	}
	est := make(map[*Node]float64, len(nodes))
	for _, n := range nodes {
		if s, ok := byInstance[n.Name]; ok {
			est[n] = s
		} else if a := byStage[n.Plugin.Name+"\x00"+n.Spec.Name]; a != nil {
			est[n] = a.sum / float64(a.n)
		} else if n.Inst.Stage.Estimate > 0 {
			est[n] = n.Inst.Stage.Estimate.Seconds()
		} else {
			est[n] = DefaultEstimate.Seconds()
		}
	}
	return est
}
