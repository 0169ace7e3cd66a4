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
