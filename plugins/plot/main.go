// Command pipeline-plugin-plot draws the figures of the paper reproduction
// (SPEC section 5) as PNG and SVG files with gonum.org/v1/plot.
//
// One stage, "plot": the figure param picks the figure (fig2, fig3, fig5,
// fig6, fig7, fig8, fig9, fig10, fig11, theory); the optional Many inputs
// carry the rows it draws from. docs/figures.md describes every figure.
//
// Build: go build -trimpath -o bin/pipeline-plugin-plot ./plugins/plot
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/analysis"
	"github.com/demystify-resnet/repro/plugins/plot/internal/figs"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

type params struct {
	Figure     string   `param:"figure" doc:"figure id"` // doc: the list of figures, at start-up
	Title      string   `param:"title" default:"" doc:"title printed on the figure (\"\" = the figure's default)"`
	Name       string   `param:"name" default:"" doc:"base name of the output files (\"\" = the figure id); lets one manifest publish several variants of a figure"`
	Activation string   `param:"activation" default:"" doc:"activation whose rows are drawn (\"\" = linear; relu for fig10)"`
	Nets       []string `param:"nets" default:"[]" doc:"network families to draw, legend order ([] = the figure's default set)"`
	Depth      int      `param:"depth" default:"0" doc:"depth shown by fig6, fig7, fig8, fig11 (0 = the largest depth present)"`
	Replicate  int      `param:"replicate" default:"-1" doc:"replicate to draw (-1 = mean over replicates in fig2/3/5, the smallest replicate in fig6/7/8)"`
	Point      string   `param:"point" default:"" doc:"spectrum/Hessian point (\"\" = init for fig5, epoch for fig6-8, zero for fig11)"`
	Width      float64  `param:"width" default:"0" doc:"page width in inches (0 = figure default, 8 for most)"`
	Height     float64  `param:"height" default:"0" doc:"page height in inches (0 = figure default, 5 for most)"`
}

func main() {
	sdk.Serve(plotStage{})
}

// plotStage implements sdk.Stage for the "plot" stage.
type plotStage struct{}

// Spec implements sdk.Stage.
func (plotStage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "plot",
		Version:    "1",
		Doc:        "Draws one figure of the paper (SPEC 5) as <figure>.png and <figure>.svg (or <name>.png/svg). See docs/figures.md.",
		Params:     sdk.ParamsOf[params](sdk.WithDoc("figure", "figure id: "+strings.Join(figs.Figures, ", "))),
		Inputs: []sdk.PortSpec{
			{Name: "curves", Many: true, Optional: true, Doc: "schema.Curve tables (train, hessian.trajectory): fig2, fig3, fig8"},
			{Name: "best", Many: true, Optional: true, Doc: "schema.Best tables (select): fig2, fig3 (which lr), fig9, fig10"},
			{Name: "spectra", Many: true, Optional: true, Doc: "schema.Spectrum tables (hessian.point, hessian.trajectory): fig5, fig6, fig7, fig8"},
			{Name: "hessian", Many: true, Optional: true, Doc: "schema.HessianRow tables (hessian.point save_matrix): fig11"},
			{Name: "theory", Many: true, Optional: true, Doc: "schema.Theory tables (hessian.theory): theory"},
			{Name: "stats", Many: true, Optional: true, Doc: "schema.Stats tables (datagen): L_min for fig6, fig7, fig9, fig10"},
		},
		Outputs: []sdk.PortSpec{
			{Name: "png", Doc: "<figure>.png, 150 dpi, with iTXt Title/Comment chunks"},
			{Name: "svg", Doc: "<figure>.svg"},
		},
		Threads: 1,
	}
}

// Run implements sdk.Stage.
func (plotStage) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, err := sdk.Decode[params](req.Params)
	if err != nil {
		return nil, err
	}
	id := p.Figure
	if !slices.Contains(figs.Figures, id) {
		return sdk.Failf("unknown figure", "%q (known: %s)", id, strings.Join(figs.Figures, ", ")), nil
	}
	var d figs.Data
	if d.Curves, err = analysis.ReadInput[schema.Curve](req, "curves"); err != nil {
		return sdk.Failf("bad input", "%v", err), nil
	}
	if d.Best, err = analysis.ReadInput[schema.Best](req, "best"); err != nil {
		return sdk.Failf("bad input", "%v", err), nil
	}
	if d.Spectra, err = analysis.ReadInput[schema.Spectrum](req, "spectra"); err != nil {
		return sdk.Failf("bad input", "%v", err), nil
	}
	if d.Hessian, err = analysis.ReadInput[schema.HessianRow](req, "hessian"); err != nil {
		return sdk.Failf("bad input", "%v", err), nil
	}
	if d.Theory, err = analysis.ReadInput[schema.Theory](req, "theory"); err != nil {
		return sdk.Failf("bad input", "%v", err), nil
	}
	if d.Stats, err = analysis.ReadInput[schema.Stats](req, "stats"); err != nil {
		return sdk.Failf("bad input", "%v", err), nil
	}
	req.Progress(1, 3, "inputs read")
	f, err := figs.Build(d, figs.Options{
		Figure: id, Title: p.Title, Activation: p.Activation, Nets: p.Nets,
		Depth: p.Depth, Replicate: p.Replicate, Point: p.Point,
		Width: p.Width, Height: p.Height,
	})
	if err != nil {
		return sdk.Failf("cannot draw "+id, "%v", err), nil
	}
	base := id
	if n := p.Name; n != "" {
		if n != filepath.Base(n) || strings.ContainsAny(n, `/\`) || strings.HasPrefix(n, ".") {
			return sdk.Failf("bad name", "name %q must be a plain file name without folders", n), nil
		}
		base = n
	}
	pngName, svgName := base+".png", base+".svg"
	if err := writeFile(filepath.Join(req.OutDir, pngName), f.WritePNG); err != nil {
		return nil, err
	}
	req.Progress(2, 3, "png written")
	if err := writeFile(filepath.Join(req.OutDir, svgName), f.WriteSVG); err != nil {
		return nil, err
	}
	req.Progress(3, 3, "svg written")
	resp := &sdk.Response{Outputs: map[string]string{"png": pngName, "svg": svgName}}
	for _, n := range f.Notes {
		req.Log.Info().Str("figure", id).Msg(n)
	}
	return resp, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: create %s: %w", path, err)
	}
	if err := write(fh); err != nil {
		fh.Close()
		return fmt.Errorf("plot: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("plot: close %s: %w", path, err)
	}
	return nil
}
