package figs

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// maxCells caps the heat map's resolution: a larger Hessian is pooled in
// k x k blocks, each cell showing the entry of largest magnitude (with its
// sign), so isolated non-zeros never vanish when the picture is shrunk.
const maxCells = 400

// grid is a pooled matrix for plotter.HeatMap (row 0 at the top).
type grid struct {
	z    []float64
	n    int // cells per side
	k    int // pooled block size
	zmax float64
}

// at returns the pooled value covering matrix entry (i, j).
func (g *grid) at(i, j int) float64 { return g.z[(i/g.k)*g.n+j/g.k] }

// matrixImage draws a matrix as a raster image with row 0 at the top (use
// it with an inverted Y axis), one image pixel per device pixel at DPI, so
// nothing is smoothed or lost by interpolation. It spans [0, size] on both
// axes.
type matrixImage struct {
	g    *grid
	pal  []color.Color
	lim  float64
	size float64
}

// DataRange implements plot.DataRanger.
func (m *matrixImage) DataRange() (xmin, xmax, ymin, ymax float64) { return 0, m.size, 0, m.size }

// Plot implements plot.Plotter.
func (m *matrixImage) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	x0, x1 := trX(0), trX(m.size)
	y0, y1 := trY(0), trY(m.size)
	rect := vg.Rectangle{Min: vg.Point{X: min(x0, x1), Y: min(y0, y1)}, Max: vg.Point{X: max(x0, x1), Y: max(y0, y1)}}
	w := max(1, int(math.Round(rect.Size().X.Dots(DPI))))
	h := max(1, int(math.Round(rect.Size().Y.Dots(DPI))))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	p := int(m.size)
	ps := float64(len(m.pal)-1) / (2 * m.lim)
	for py := range h {
		i := min(p-1, py*p/h) // matrix row: row 0 at the top (image row 0)
		if y0 < y1 {          // Y axis not inverted: row 0 at the bottom
			i = p - 1 - i
		}
		for px := range w {
			j := min(p-1, px*p/w)
			v := m.g.at(i, j)
			k := int((v+m.lim)*ps + 0.5)
			img.Set(px, py, m.pal[max(0, min(len(m.pal)-1, k))])
		}
	}
	c.DrawImage(rect, img)
}

// pool builds the pooled grid of the P x P matrix h (row-major).
func pool(h []float64, p int) *grid {
	k := (p + maxCells - 1) / maxCells
	n := (p + k - 1) / k
	g := &grid{z: make([]float64, n*n), n: n, k: k}
	for i := range p {
		for j := range p {
			v := h[i*p+j]
			cell := (i/k)*n + j/k
			if math.Abs(v) > math.Abs(g.z[cell]) {
				g.z[cell] = v
			}
			g.zmax = max(g.zmax, math.Abs(v))
		}
	}
	return g
}

// buildFig11 draws the Hessian of one net at one point (fig11: at w = 0) as
// a heat map with its weight-matrix and residual-unit blocks marked, and a
// colour bar beside it.
func buildFig11(d Data, o Options) (*Figure, error) {
	point := cmp.Or(o.Point, "zero")
	nets := netsOr(o, schema.NetShortcut2)
	net := nets[0]
	depth, h, p, err := fig11Matrix(d, net, point, o.Depth)
	if err != nil {
		return nil, err
	}
	f := &Figure{Width: 8 * vg.Inch, Height: 7 * vg.Inch,
		Title: fmt.Sprintf("Hessian at w = 0 of a %s net, depth %d (%d x %d)", netLabel(net), depth, p, p)}
	if point != "zero" {
		f.Title = fmt.Sprintf("Hessian at the %s point of a %s net, depth %d (%d x %d)", point, netLabel(net), depth, p, p)
	}
	g := pool(h, p)
	lim := g.zmax
	if lim == 0 {
		lim = 1
		f.notef("The Hessian is identically zero.")
	}
	cm := moreland.SmoothBlueRed()
	cm.SetMin(-lim)
	cm.SetMax(lim)
	mi := &matrixImage{g: g, pal: cm.Palette(255).Colors(), lim: lim, size: float64(p)}

	pl := newPlot("column (parameter index)", "row (parameter index)")
	pl.Add(mi)
	pl.Y.Scale = plot.InvertedScale{Normalizer: plot.LinearScale{}}
	pl.X.Padding, pl.Y.Padding = 0, 0
	if err := drawBlocks(f, pl, net, depth, p); err != nil {
		return nil, err
	}
	f.notef("Parameter order (paper, Def. 5): unit, matrix in unit, column, row. Colour range symmetric: +/- %s.", fmtTick(lim))
	if g.k > 1 {
		f.notef("%d x %d matrix pooled into %d x %d cells; each cell shows its entry of largest magnitude.", p, p, g.n, g.n)
	}

	cb := newPlot("", "H entry")
	cbar := &plotter.ColorBar{ColorMap: cm, Vertical: true}
	cb.Add(cbar)
	cb.HideX()
	cb.Y.Padding = 0
	f.panels = [][]*plot.Plot{{pl}}
	f.side = cb
	f.sideWidth = vg.Points(70)
	return f, nil
}

// fig11Matrix picks net's Hessian rows at point and at the depth asked for
// (pickDepth: 0 = the largest present) and returns that depth and the
// matrix, p x p row-major; rows that do not make a square matrix of finite
// entries are an error naming the row.
func fig11Matrix(d Data, net, point string, want int) (depth int64, h []float64, p int, err error) {
	var rows []schema.HessianRow
	for _, r := range d.Hessian {
		if r.Net == net && r.Point == point {
			rows = append(rows, r)
		}
	}
	depth, err = pickDepth(depthsOf(rows, func(r schema.HessianRow) int64 { return r.Depth }), want,
		fmt.Sprintf("Hessian (net %s, point %q)", net, point))
	if err != nil {
		return 0, nil, 0, err
	}
	var sel []schema.HessianRow
	for _, r := range rows {
		if r.Depth == depth {
			sel = append(sel, r)
		}
	}
	slices.SortStableFunc(sel, func(a, b schema.HessianRow) int { return cmp.Compare(a.Row, b.Row) })
	p = len(sel)
	h = make([]float64, 0, p*p)
	for i, r := range sel {
		if r.Row != int64(i) || len(r.Values) != p {
			return 0, nil, 0, fmt.Errorf("Hessian rows of %s depth %d are not a square matrix: row %d has index %d and %d values (want %d)",
				net, depth, i, r.Row, len(r.Values), p)
		}
		for _, v := range r.Values {
			if !num.Finite(v) {
				return 0, nil, 0, fmt.Errorf("Hessian of %s depth %d has a non-finite entry in row %d", net, depth, i)
			}
		}
		h = append(h, r.Values...)
	}
	return depth, h, p, nil
}

// drawBlocks marks the block boundaries of a p x p Hessian of net at depth
// on pl: every weight matrix (d*d parameters) thin, every residual unit (n
// matrices; 2 for plain nets) thicker, d = sqrt(P / depth). It draws
// nothing when p is not depth times a square.
func drawBlocks(f *Figure, pl *plot.Plot, net string, depth int64, p int) error {
	d2 := p / int(max(depth, 1))
	nPer := 1
	if strings.HasPrefix(net, "shortcut") {
		if v, err := strconv.Atoi(strings.TrimPrefix(net, "shortcut")); err == nil && v > 0 {
			nPer = v
		}
	} else {
		nPer = 2 // plain nets: the unit of 2 layers used for activations
	}
	if d2*int(depth) != p || d2 <= 0 {
		return nil
	}
	for b := 1; b < int(depth); b++ {
		x := float64(b * d2)
		w := vg.Points(0.4)
		c := color.Gray{Y: 170}
		if b%nPer == 0 {
			w, c = vg.Points(1.2), color.Gray{Y: 60}
		}
		for _, vertical := range []bool{true, false} {
			xys := plotter.XYs{{X: x, Y: 0}, {X: x, Y: float64(p)}}
			if !vertical {
				xys = plotter.XYs{{X: 0, Y: x}, {X: float64(p), Y: x}}
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("grid line: %w", err)
			}
			l.Color, l.Width = c, w
			pl.Add(l)
		}
	}
	f.notef("Thin lines: weight matrices (%d parameters each); thick lines: residual units of %d matrices.", d2, nPer)
	return nil
}
