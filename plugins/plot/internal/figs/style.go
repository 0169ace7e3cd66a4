package figs

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Font sizes (points). The brief asks for >= 11 pt everywhere.
const (
	titleSize  = 15
	labelSize  = 13
	tickSize   = 11
	legendSize = 12
	noteSize   = 11
)

// sans is the typeface of every text element: Liberation Sans ships inside
// gonum/plot, so glyph metrics (and therefore output bytes) never depend on
// the fonts installed on the machine.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

func fnt(size vg.Length) font.Font {
	f := font.From(sans, size)
	return f
}

// netStyle fixes the look of a network family in every figure: colour,
// dash pattern and marker shape, so a reader learns it once.
type netStyle struct {
	label string
	color color.Color
	dash  []vg.Length
	glyph draw.GlyphDrawer
	width vg.Length
}

var netStyles = map[string]netStyle{
	schema.NetXavier:     {"plain, Xavier init", color.RGBA{R: 214, G: 39, B: 40, A: 255}, nil, draw.TriangleGlyph{}, 2},
	schema.NetOrthogonal: {"plain, orthogonal init", color.RGBA{R: 31, G: 119, B: 180, A: 255}, []vg.Length{vg.Points(7), vg.Points(3)}, draw.SquareGlyph{}, 2},
	schema.NetShortcut1:  {"1-shortcut", color.RGBA{R: 44, G: 160, B: 44, A: 255}, []vg.Length{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}, draw.PyramidGlyph{}, 2},
	schema.NetShortcut2:  {"2-shortcut", color.RGBA{R: 20, G: 20, B: 20, A: 255}, nil, draw.CircleGlyph{}, 2.6},
	schema.NetShortcut3:  {"3-shortcut", color.RGBA{R: 148, G: 103, B: 189, A: 255}, []vg.Length{vg.Points(2), vg.Points(2)}, draw.BoxGlyph{}, 2},
}

func styleOf(net string) netStyle {
	if s, ok := netStyles[net]; ok {
		return s
	}
	return netStyle{label: net, color: color.Gray{Y: 100}, dash: []vg.Length{vg.Points(3), vg.Points(3)}, glyph: draw.CrossGlyph{}, width: 2}
}

// seqColor returns the i-th of n colours of a sequential palette (dark
// blue to orange, perceptually ordered), for series ordered by depth.
func seqColor(i, n int) color.Color {
	// Anchors of a viridis-like ramp, darkened at the yellow end so thin
	// lines stay visible on white.
	anchors := []color.RGBA{{68, 1, 84, 255}, {59, 82, 139, 255}, {33, 145, 140, 255}, {94, 180, 60, 255}, {220, 150, 0, 255}}
	t := 0.0
	if n > 1 {
		t = float64(i) / float64(n-1)
	}
	pos := t * float64(len(anchors)-1)
	k := int(math.Floor(pos))
	if k >= len(anchors)-1 {
		return anchors[len(anchors)-1]
	}
	f := pos - float64(k)
	a, b := anchors[k], anchors[k+1]
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-f) + float64(y)*f)) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

// seqDashes cycles dash patterns for depth-ordered series, so series stay
// distinguishable in grey scale.
var seqDashes = [][]vg.Length{
	nil,
	{vg.Points(7), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(7), vg.Points(2), vg.Points(2), vg.Points(2)},
	{vg.Points(12), vg.Points(3)},
}

// newPlot returns a plot with the project's fonts and a light grid.
func newPlot(xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = fnt(labelSize)
		ax.Tick.Label.Font = fnt(tickSize)
		ax.Label.Padding = vg.Points(4)
	}
	p.Title.TextStyle.Font = fnt(labelSize)
	p.Legend.TextStyle.Font = fnt(legendSize)
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	p.Add(g)
	return p
}

// setLog makes an axis logarithmic with readable ticks.
func setLog(ax *plot.Axis) {
	ax.Scale = plot.LogScale{}
	ax.Tick.Marker = logTicks{}
}

// budgetLogTicks limits the labels of a log axis to what its length holds.
func budgetLogTicks(ax *plot.Axis, length vg.Length) {
	switch t := ax.Tick.Marker.(type) {
	case logTicks:
		ax.Tick.Marker = logTicks{max: int(length / labelPitch)}
	case markedTicks:
		if _, ok := t.base.(logTicks); ok {
			t.base = logTicks{max: int(length / labelPitch)}
			ax.Tick.Marker = t
		}
	}
}

// minLogSpan is the smallest ratio max/min a log axis shows. Without it a
// quantity that is constant up to rounding (cond of a 2-shortcut net at w = 0
// over depth, say) would be stretched over the whole axis and its 1e-12
// wiggles drawn as a zigzag.
const minLogSpan = 10

// widenLog widens a log axis whose range spans less than minLogSpan to that
// span, around the geometric centre of its data. Other axes are left alone.
func widenLog(ax *plot.Axis) {
	if _, ok := ax.Scale.(plot.LogScale); !ok || !(ax.Min > 0) || !(ax.Max >= ax.Min) {
		return
	}
	if ax.Max/ax.Min >= minLogSpan {
		return
	}
	c := math.Sqrt(ax.Min * ax.Max)
	h := math.Sqrt(minLogSpan)
	ax.Min, ax.Max = c/h, c*h
}

// logTicks labels powers of ten; when the range spans less than two of
// them it also labels 2x and 5x (and, failing that, every mantissa), so a
// log axis always carries at least two numbers. Unlike plot.LogTicks it
// floors negative exponents correctly. At most max labels are printed
// (0 = defaultMaxLabels): decades are thinned to every k-th, so labels never
// run into each other on a narrow panel.
type logTicks struct{ max int }

// defaultMaxLabels is the label budget of a log axis whose length is not
// known.
const defaultMaxLabels = 8

// labelPitch is the length along an axis one tick label needs (a label such
// as "1e-16" at tickSize plus a gap), used to budget labels per axis.
const labelPitch = 0.5 * vg.Inch

// Ticks implements plot.Ticker.
func (lt logTicks) Ticks(lo, hi float64) []plot.Tick {
	maxLabels := lt.max
	if maxLabels <= 0 {
		maxLabels = defaultMaxLabels
	}
	maxLabels = max(maxLabels, 2)
	if !(lo > 0) || !(hi > 0) || hi < lo {
		return nil
	}
	e0 := int(math.Floor(math.Log10(lo)))
	e1 := int(math.Ceil(math.Log10(hi)))
	type cand struct {
		v    float64
		rank int // 0: power of ten, 1: 2 or 5, 2: other mantissa
	}
	var cs []cand
	for e := e0; e <= e1; e++ {
		base := math.Pow(10, float64(e))
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			r := 2
			switch m {
			case 1:
				r = 0
			case 2, 5:
				r = 1
			}
			if v >= lo*(1-1e-12) && v <= hi*(1+1e-12) {
				cs = append(cs, cand{v, r})
			}
		}
	}
	count := func(rank int) int {
		n := 0
		for _, c := range cs {
			if c.rank <= rank {
				n++
			}
		}
		return n
	}
	maxRank := 0
	for ; maxRank < 2; maxRank++ {
		if count(maxRank) >= 2 {
			break
		}
	}
	// Mantissa labels that would crowd the axis fall back to one rank less
	// (never below two labels).
	for maxRank > 0 && count(maxRank) > maxLabels && count(maxRank-1) >= 2 {
		maxRank--
	}
	// Too many power-of-ten labels crowd the axis: label every k-th decade.
	step := 1
	if maxRank == 0 {
		for count(0)/step+1 > maxLabels && step < e1-e0+1 {
			step++
		}
	}
	ticks := make([]plot.Tick, 0, len(cs))
	for _, c := range cs {
		t := plot.Tick{Value: c.v}
		if c.rank <= maxRank {
			e := int(math.Round(math.Log10(c.v)))
			if c.rank > 0 || (e-e0)%step == 0 {
				t.Label = fmtTick(c.v)
			}
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// markedTicks adds to a ticker one labelled tick at a value the reader must
// be able to read off (a flat line between labelled ticks): the ticker's
// labels within a factor 1.3 of it (log axes) are dropped so they cannot
// overlap.
type markedTicks struct {
	base  plot.Ticker
	value float64
	label string
}

// Ticks implements plot.Ticker.
func (m markedTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := m.base.Ticks(lo, hi)
	if !(m.value >= lo && m.value <= hi) {
		return ts
	}
	for i := range ts {
		if r := ts[i].Value / m.value; r > 1/1.3 && r < 1.3 {
			ts[i].Label = ""
		}
	}
	return append(ts, plot.Tick{Value: m.value, Label: m.label})
}

// markValue labels value on a log y axis (see markedTicks), 4 digits.
func markValue(ax *plot.Axis, value float64) {
	if !(value > 0) || !num.Finite(value) {
		return
	}
	ax.Tick.Marker = markedTicks{base: ax.Tick.Marker, value: value, label: num.Format(value)}
}

// fmtTick formats a tick value compactly: plain decimals between 1e-3 and
// 1e4, otherwise scientific notation.
func fmtTick(v float64) string {
	a := math.Abs(v)
	if a == 0 || (a >= 1e-3 && a < 1e4) {
		return num.Format(v)
	}
	m, e := frexp10(v)
	if m == 1 {
		return fmt.Sprintf("1e%d", e)
	}
	return fmt.Sprintf("%se%d", strconv.FormatFloat(m, 'g', 3, 64), e)
}

func frexp10(v float64) (float64, int) {
	e := int(math.Floor(math.Log10(math.Abs(v))))
	m := v / math.Pow(10, float64(e))
	m = math.Round(m*1000) / 1000
	return m, e
}

// intTicks labels exactly the given integer positions (depths).
func intTicks(vals []float64) plot.ConstantTicks {
	out := make(plot.ConstantTicks, len(vals))
	for i, v := range vals {
		out[i] = plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)}
	}
	return out
}

// thinLabels blanks the labels of ticks that would touch their labelled
// neighbour: two labels need charFrac of the axis length (on the axis' own
// scale, log when logScale) per character of their mean width. The last
// label (the axis end) is kept, blanking its neighbour instead. Every tick
// mark stays.
func thinLabels(ts plot.ConstantTicks, logScale bool, lo, hi, charFrac float64) plot.ConstantTicks {
	pos := func(v float64) float64 {
		if logScale {
			return (math.Log(v) - math.Log(lo)) / (math.Log(hi) - math.Log(lo))
		}
		return (v - lo) / (hi - lo)
	}
	need := func(a, b plot.Tick) float64 { return charFrac * float64(len(a.Label)+len(b.Label)) / 2 }
	out := slices.Clone(ts)
	last := -1 // index of the last labelled tick
	for i := range out {
		if out[i].Label == "" {
			continue
		}
		if last >= 0 && pos(out[i].Value)-pos(out[last].Value) < need(out[last], out[i]) {
			if i == len(out)-1 { // keep the axis end
				out[last].Label = ""
				last = i
				continue
			}
			out[i].Label = ""
			continue
		}
		last = i
	}
	return out
}

// lineFor builds a line (and optional markers) in the style of a net.
func lineFor(xys plotter.XYs, st netStyle, markers bool) (*plotter.Line, *plotter.Scatter, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, nil, fmt.Errorf("figs: line: %w", err)
	}
	l.Color = st.color
	l.Dashes = st.dash
	l.Width = vg.Points(float64(st.width))
	if !markers {
		return l, nil, nil
	}
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, nil, fmt.Errorf("figs: scatter: %w", err)
	}
	s.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(3.5), Shape: st.glyph}
	return l, s, nil
}
