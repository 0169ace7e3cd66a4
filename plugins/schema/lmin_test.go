package schema

import (
	"math"
	"testing"
)

// TestLMin: the rows' own l_min (the samples their runs used) wins over the
// stats (the whole data set); non-finite values are skipped; nothing found
// is reported.
func TestLMin(t *testing.T) {
	stats := []Stats{{LMin: 0.30}}
	if l, ok := LMin([]Curve{{LMin: math.NaN()}, {LMin: 0.25}}, []Best{{LMin: 0.2}}, stats); !ok || l != 0.25 {
		t.Errorf("curves first: %v %v", l, ok)
	}
	if l, ok := LMin(nil, []Best{{LMin: math.Inf(1)}, {LMin: 0.2}}, stats); !ok || l != 0.2 {
		t.Errorf("best before stats: %v %v", l, ok)
	}
	if l, ok := LMin(nil, nil, stats); !ok || l != 0.30 {
		t.Errorf("stats fallback: %v %v", l, ok)
	}
	if _, ok := LMin(nil, nil, nil); ok {
		t.Error("no rows: found an L_min")
	}
}

func TestMainSamples(t *testing.T) {
	var best []Best
	for _, d := range []int64{2, 4, 6} {
		best = append(best, Best{Net: NetXavier, Activation: "relu", Depth: d, M: 1000})
	}
	for _, d := range []int64{2, 4} {
		best = append(best, Best{Net: NetXavier, Activation: "relu", Depth: d, M: 6000},
			Best{Net: NetXavier, Activation: "linear", Depth: d, M: 6000})
	}
	// Other scales do not count.
	for _, d := range []int64{8, 10, 12, 14} {
		best = append(best, Best{Net: NetXavier, Activation: "relu", Init: "xavier", InitScale: 0.5, Depth: d, M: 60000})
	}
	if m, ok := MainSamples(best, NetXavier, "relu"); !ok || m != 1000 {
		t.Errorf("relu: m %d ok %v, want 1000 (3 depths)", m, ok)
	}
	if m, ok := MainSamples(best, NetXavier, "linear"); !ok || m != 6000 {
		t.Errorf("linear: m %d ok %v, want 6000", m, ok)
	}
	// A tie goes to the larger m.
	best = append(best, Best{Net: NetXavier, Activation: "relu", Depth: 8, M: 6000})
	if m, _ := MainSamples(best, NetXavier, "relu"); m != 6000 {
		t.Errorf("tie: m %d, want 6000", m)
	}
	if _, ok := MainSamples(best, NetShortcut2, "relu"); ok {
		t.Error("no rows: ok")
	}
}
