package figs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// DPI is the resolution of PNG output: 8 x 5 in gives 1200 x 750 pixels.
const DPI = 150

// Figure is a laid-out figure ready to be rendered: a title, a grid of
// panels (each a gonum plot), an optional legend or side plot (colour bar)
// in a column at the right, and notes under the panels (what was filtered
// or clamped, how to read the figure).
type Figure struct {
	// ID is the figure id (fig2, ..., theory).
	ID string
	// Title is printed at the top and stored in the PNG metadata.
	Title string
	// Notes are printed under the panels, one line each.
	Notes []string
	// Width and Height are the page size.
	Width, Height vg.Length

	panels    [][]*plot.Plot
	legend    *plot.Legend
	side      *plot.Plot
	sideWidth vg.Length
}

// notef appends a note.
func (f *Figure) notef(format string, args ...any) {
	f.Notes = append(f.Notes, fmt.Sprintf(format, args...))
}

// Draw draws the whole figure on c: a white page, the title and notes
// (drawText), the legend or side panel on the right (drawAside), the panels
// in what is left (drawPanels).
func (f *Figure) Draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	pad := vg.Points(8)
	c = draw.Crop(c, pad, -pad, pad, -pad)
	c = f.drawText(c)
	c = f.drawAside(c)
	f.drawPanels(c)
}

// drawText draws the title at the top of c and the notes at its bottom
// (the last note lowest) and returns the canvas between them.
func (f *Figure) drawText(c draw.Canvas) draw.Canvas {
	hdlr := plot.DefaultTextHandler
	if f.Title != "" {
		sty := text.Style{Color: color.Black, Font: fnt(titleSize), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: hdlr}
		c.FillText(sty, vg.Point{X: c.Center().X, Y: c.Max.Y}, f.Title)
		c.Max.Y -= sty.Rectangle(f.Title).Size().Y + vg.Points(6)
	}
	if len(f.Notes) > 0 {
		sty := text.Style{Color: color.Gray{Y: 60}, Font: fnt(noteSize), XAlign: draw.XLeft, YAlign: draw.YBottom, Handler: hdlr}
		y := c.Min.Y
		for i := len(f.Notes) - 1; i >= 0; i-- {
			c.FillText(sty, vg.Point{X: c.Min.X, Y: y}, f.Notes[i])
			y += sty.Rectangle(f.Notes[i]).Size().Y + vg.Points(2)
		}
		c.Min.Y = y + vg.Points(6)
	}
	return c
}

// drawAside draws the legend (or, without one, the side panel) at the
// right of c and returns the canvas left of it.
func (f *Figure) drawAside(c draw.Canvas) draw.Canvas {
	switch {
	case f.legend != nil:
		r := f.legend.Rectangle(c)
		w := r.Size().X + vg.Points(10)
		lc := draw.Crop(c, c.Size().X-w, 0, 0, -vg.Points(6))
		f.legend.Left = true
		f.legend.Top = true
		f.legend.Draw(lc)
		c.Max.X -= w + vg.Points(6)
	case f.side != nil:
		sc := draw.Crop(c, c.Size().X-f.sideWidth, 0, 0, 0)
		f.side.Draw(sc)
		c.Max.X -= f.sideWidth + vg.Points(10)
	}
	return c
}

// drawPanels draws the grid of panels on c, aligned.
//
// gonum/plot pads a vertical axis for its label as if the label were
// centred on the arithmetic midpoint of the range, which on a log axis
// lies near the top and squeezes the data area. So the figure draws every
// Y label itself, centred on the data area, in a strip left of each tile
// (the same strip for every tile keeps columns aligned).
func (f *Figure) drawPanels(c draw.Canvas) {
	rows := len(f.panels)
	if rows == 0 {
		return
	}
	cols := len(f.panels[0])
	labels := make([][]string, rows)
	for j := range f.panels {
		labels[j] = make([]string, cols)
		for i, p := range f.panels[j] {
			if p != nil {
				labels[j][i] = p.Y.Label.Text
				p.Y.Label.Text = ""
			}
		}
	}
	defer func() {
		for j := range f.panels {
			for i, p := range f.panels[j] {
				if p != nil {
					p.Y.Label.Text = labels[j][i]
				}
			}
		}
	}()
	lsty := text.Style{Color: color.Black, Font: fnt(labelSize), XAlign: draw.XCenter, YAlign: draw.YTop,
		Rotation: math.Pi / 2, Handler: plot.DefaultTextHandler}
	strip := lsty.Height("Mg") + vg.Points(4)
	c.Min.X += strip
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(24) + strip, PadY: vg.Points(14)}
	canv := plot.Align(f.panels, tiles, c)
	for j := range f.panels {
		for i, p := range f.panels[j] {
			if p == nil {
				continue
			}
			tc := canv[j][i]
			p.Draw(tc)
			if labels[j][i] != "" {
				dc := p.DataCanvas(tc)
				c.FillText(lsty, vg.Point{X: tc.Min.X - strip, Y: dc.Center().Y}, labels[j][i])
			}
		}
	}
}

// safeDraw draws f, turning a panic of gonum/plot (for example a log axis
// whose range is not positive) into an error.
func (f *Figure) safeDraw(c draw.Canvas) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("figs: %s: drawing failed: %v", f.ID, r)
		}
	}()
	f.Draw(c)
	return nil
}

// WritePNG renders the figure as a PNG (DPI dots per inch) with iTXt
// metadata chunks "Title" (id: title) and "Comment" (the notes), which the
// report plugin reads to caption the figure. The bytes depend only on the
// figure's content.
func (f *Figure) WritePNG(w io.Writer) error {
	c := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(DPI))
	if err := f.safeDraw(draw.New(c)); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return fmt.Errorf("figs: %s: encode png: %w", f.ID, err)
	}
	out, err := withText(buf.Bytes(), [][2]string{
		{"Title", f.ID + ": " + f.Title},
		{"Comment", strings.Join(f.Notes, "\n")},
		{"Software", "demystify-resnet plot plugin (gonum.org/v1/plot)"},
	})
	if err != nil {
		return fmt.Errorf("figs: %s: %w", f.ID, err)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("figs: %s: write png: %w", f.ID, err)
	}
	return nil
}

// WriteSVG renders the figure as SVG (fonts referenced by name, not
// embedded).
func (f *Figure) WriteSVG(w io.Writer) error {
	c := vgsvg.New(f.Width, f.Height)
	if err := f.safeDraw(draw.New(c)); err != nil {
		return err
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("figs: %s: write svg: %w", f.ID, err)
	}
	return nil
}

// withText inserts one iTXt chunk (uncompressed UTF-8 text) per key/value
// pair right after the IHDR chunk of the PNG in b.
func withText(b []byte, kv [][2]string) ([]byte, error) {
	const sig = 8
	if len(b) < sig+8 || string(b[12:16]) != "IHDR" {
		return nil, fmt.Errorf("png: no IHDR chunk")
	}
	ihdrEnd := sig + 12 + int(binary.BigEndian.Uint32(b[sig:sig+4]))
	if ihdrEnd > len(b) {
		return nil, fmt.Errorf("png: truncated IHDR")
	}
	var out bytes.Buffer
	out.Write(b[:ihdrEnd])
	for _, p := range kv {
		if p[1] == "" {
			continue
		}
		var data bytes.Buffer
		data.WriteString(p[0])
		data.Write([]byte{0, 0, 0}) // end of keyword, not compressed, method 0
		data.WriteByte(0)           // empty language tag
		data.WriteByte(0)           // empty translated keyword
		data.WriteString(p[1])
		writeChunk(&out, "iTXt", data.Bytes())
	}
	out.Write(b[ihdrEnd:])
	return out.Bytes(), nil
}

func writeChunk(w *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	w.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	w.WriteString(typ)
	w.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	w.Write(n[:])
}
