package figs

import (
	"math"
	"math/rand/v2"

	"github.com/demystify-resnet/repro/plugins/schema"
)

// sampleData returns hand-made rows shaped like the pipeline's outputs:
// smooth, paper-like trends (2-shortcut flat and fast, plain nets slower
// with depth) so every figure has something to draw. Deterministic.
func sampleData() Data {
	const lmin = 0.35
	rng := rand.New(rand.NewPCG(1, 2))
	var d Data
	d.Stats = []schema.Stats{{Dataset: "synthetic", D: 10, M: 1000, LMin: lmin}}
	nets := []string{schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut1, schema.NetShortcut2, schema.NetShortcut3}
	depths := []int64{2, 4, 6, 12, 24}
	rate := func(net string, depth int64, act string) float64 {
		r := map[string]float64{schema.NetXavier: 0.3, schema.NetOrthogonal: 0.5, schema.NetShortcut1: 0.4, schema.NetShortcut2: 1, schema.NetShortcut3: 0.25}[net]
		if net != schema.NetShortcut2 {
			r /= float64(depth) / 2
		}
		if act == "relu" {
			r *= 0.7
		}
		return r * 0.08
	}
	for _, act := range []string{"linear", "relu"} {
		for _, net := range nets {
			for _, depth := range depths {
				if (net == schema.NetShortcut2 && depth%2 != 0) || (net == schema.NetShortcut3 && depth%3 != 0) {
					continue
				}
				n := map[string]int64{schema.NetShortcut1: 1, schema.NetShortcut2: 2, schema.NetShortcut3: 3}[net]
				var finals []float64
				for _, lr := range []float64{0.01, 0.1} {
					for rep := int64(0); rep < 2; rep++ {
						k := rate(net, depth, act) * lr / 0.1 * (1 + 0.05*float64(rep))
						for e := int64(0); e <= 100; e++ {
							t := float64(e)
							loss := lmin + 0.6*math.Exp(-k*t)
							frob := 1.5 / math.Sqrt(float64(depth)) * (1 - math.Exp(-t/15)) * (1 + 0.03*float64(rep))
							gn := 0.5*t*math.Exp(-t/8)*k*10 + 1e-6
							d.Curves = append(d.Curves, schema.Curve{Net: net, N: n, Depth: depth, Init: "x", Activation: act, LR: lr,
								Replicate: rep, Epoch: e, Loss: loss, GradNorm: gn, AvgFrob: frob, LMin: lmin})
							if e == 100 && lr == 0.1 {
								finals = append(finals, loss)
							}
						}
					}
				}
				m := (finals[0] + finals[1]) / 2
				stable := 0.1 * math.Pow(2, -float64(depth)/6)
				if net == schema.NetShortcut2 {
					stable = 1
				}
				d.Best = append(d.Best, schema.Best{Net: net, N: n, Depth: depth, Activation: act, LR: 0.1,
					MeanFinalLoss: m, StdFinalLoss: math.Abs(finals[0]-finals[1]) / math.Sqrt2, Seeds: 2, LRsTried: 2, LMin: lmin,
					FinalLosses: finals, MaxStableLR: stable, MaxStableAtEdge: net == schema.NetShortcut2})
				if act != "linear" {
					continue
				}
				for rep := int64(0); rep < 3; rep++ {
					var c10 float64
					switch net {
					case schema.NetXavier:
						c10 = 3 * math.Exp(0.25*float64(depth))
					case schema.NetOrthogonal:
						c10 = 3 * math.Pow(float64(depth), 0.9)
					default:
						c10 = 4
					}
					c10 *= 1 + 0.1*rng.Float64()
					d.Spectra = append(d.Spectra, schema.Spectrum{Net: net, N: n, Depth: depth, Activation: act, Replicate: rep,
						Point: "init", Cond10: c10, AbsMax: c10, Q10: 1, Index: 0.5})
				}
			}
		}
	}
	// The perturbation study: 2- and 3-shortcut nets at three scales.
	for _, net := range []string{schema.NetShortcut2, schema.NetShortcut3} {
		for _, depth := range []int64{6, 12} {
			for _, sc := range []float64{0.001, 0.01, 0.1} {
				esc := int64(5 * math.Log(1/sc))
				if net == schema.NetShortcut3 {
					esc = int64(0.5 / sc)
				}
				d.Best = append(d.Best, schema.Best{Net: net, Depth: depth, Activation: "linear", Init: "small", InitScale: sc, LR: 0.1, LMin: lmin,
					FinalLosses: []float64{lmin * (1 + 1e-5/sc), lmin * (1 + 2e-5/sc)}, EscapeEpochs: []int64{esc, esc + 1}, MeanFinalLoss: lmin})
			}
		}
	}
	// Trajectories at depth 12 for the three nets of fig6-8.
	for _, net := range []string{schema.NetXavier, schema.NetOrthogonal, schema.NetShortcut2} {
		k := rate(net, 12, "linear")
		for _, e := range []int64{0, 1, 2, 3, 5, 8, 13, 20, 32, 50, 79, 100} {
			t := float64(e)
			loss := lmin + 0.6*math.Exp(-k*t)
			var amax, q10, idx float64
			switch net {
			case schema.NetShortcut2:
				amax, q10 = 1+2*(1-math.Exp(-t/10)), 0.3+0.2*math.Exp(-t/10)
				idx = 0.5 * math.Exp(-t/4)
			case schema.NetOrthogonal:
				amax, q10 = 5+3*(1-math.Exp(-t/10)), 0.2+0.1*math.Exp(-t/30)
				idx = 0.3 * math.Exp(-t/40)
			default:
				amax, q10 = 20+10*(1-math.Exp(-t/10)), 0.05
				idx = 0.4 * math.Exp(-t/80)
			}
			if e == 100 && net == schema.NetShortcut2 {
				q10 = 0 // exercises the log-axis filter
			}
			d.Spectra = append(d.Spectra, schema.Spectrum{Net: net, Depth: 12, Activation: "linear", LR: 0.1, Point: "epoch",
				Epoch: e, Loss: loss, GradNorm: 0.5*t*math.Exp(-t/8)*k*10 + 1e-6, AbsMax: amax, Q10: q10,
				Cond10: amax / q10, Index: idx, HDist0: 0.3 * (1 - math.Exp(-t/20))})
		}
	}
	// Hessian at zero of a 2-shortcut net, depth 4, d = 5 (Theorem 1 structure).
	const dd, depth = 5, 4
	var m [dd][dd]float64
	for i := range dd {
		for j := range dd {
			m[i][j] = 0.3 * rng.NormFloat64()
		}
		m[i][i] += 1
	}
	p := depth * dd * dd
	h := make([][]float64, p)
	for i := range h {
		h[i] = make([]float64, p)
	}
	// Parameter index: unit r, matrix l, column j, row i.
	idx := func(r, l, i, j int) int { return ((r*2+l)*dd+j)*dd + i }
	for r := range depth / 2 {
		for i1 := range dd {
			for j1 := range dd {
				for i2 := range dd {
					for j2 := range dd {
						if j1 == i2 {
							a, b := idx(r, 1, i1, j1), idx(r, 0, i2, j2)
							h[a][b] = m[i1][j2]
							h[b][a] = m[i1][j2]
						}
					}
				}
			}
		}
	}
	for i := range h {
		d.Hessian = append(d.Hessian, schema.HessianRow{Net: schema.NetShortcut2, Depth: depth, Point: "zero", Row: int64(i), Values: h[i]})
	}
	for _, n := range []int64{1, 2, 3} {
		for _, depth := range []int64{2, 4, 6, 12, 24} {
			if depth%n != 0 {
				continue
			}
			var ct, cm float64
			switch n {
			case 1:
				ct = 2 + 1.5*float64(depth)
				cm = ct * (1 + 1e-9)
			case 2:
				ct, cm = 7.3, 7.3
			case 3:
				ct, cm = math.Inf(1), math.NaN()
			}
			d.Theory = append(d.Theory, schema.Theory{N: n, Depth: depth, CondTheory: ct, CondMeasured: cm, Cond10Measure: cm})
		}
	}
	return d
}
