// Command pipeline-plugin-report evaluates the claims of the paper
// reproduction (SPEC sections 3 and 5) and writes them as a table
// (claims.parquet, claims.json) and a report (report.html, one
// self-contained page with the figures inlined; report.md).
//
// One stage, "report". Every input is optional and takes many files; a
// claim whose rows are missing is SKIP and says so. docs/claims.md lists
// every claim with its criterion.
//
// Build: go build -trimpath -o bin/pipeline-plugin-report ./plugins/report
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/analysis"
	"github.com/demystify-resnet/repro/plugins/report/internal/claims"
	"github.com/demystify-resnet/repro/plugins/report/internal/render"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

func main() {
	sdk.Serve(reportStage{})
}

// reportStage implements sdk.Stage for the "report" stage.
type reportStage struct{}

// Spec implements sdk.Stage.
type params struct {
	Title string `param:"title" default:"Demystifying ResNet: reproduction report" doc:"report title"`
	Smoke bool   `param:"smoke" default:"false" doc:"this is a smoke-sized run: the report says that only claims marked smoke are expected to hold, and a warning lists smoke claims that failed"`
}

func (reportStage) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "report",
		Version:    "2",
		Doc:        "Evaluates every claim of the paper (PASS/FAIL with numbers and criterion) and writes claims.parquet, claims.json, report.html, report.md. See docs/claims.md.",
		Params:     sdk.ParamsOf[params](),
		Inputs: []sdk.PortSpec{
			{Name: "checks", Many: true, Optional: true, Doc: "schema.Check tables (theorems)"},
			{Name: "best", Many: true, Optional: true, Doc: "schema.Best tables (select): fig3, fig9, fig10"},
			{Name: "spectra", Many: true, Optional: true, Doc: "schema.Spectrum tables: init-point spectra (fig5) and trajectories (fig6-8)"},
			{Name: "theory", Many: true, Optional: true, Doc: "schema.Theory tables (hessian.theory)"},
			{Name: "curves", Many: true, Optional: true, Doc: "schema.Curve tables: every training run (per-seed final losses and norms, escape epochs, largest stable rates, gradient-norm peaks, L_min)"},
			{Name: "stats", Many: true, Optional: true, Doc: "schema.Stats tables (datagen): L_min when no curve or best row carries one"},
			{Name: "eigenvalues", Many: true, Optional: true, Doc: "schema.Eigenvalue tables of trajectory checkpoints (save_eigenvalues): cond_top near a minimiser (fig7.end_near)"},
			{Name: "figures", Many: true, Optional: true, Doc: "PNG files (plot) inlined into report.html"},
		},
		Outputs: []sdk.PortSpec{
			{Name: "claims", Doc: "claims.parquet (schema.Claim rows)"},
			{Name: "claims_json", Doc: "claims.json: the same rows as a JSON array"},
			{Name: "html", Doc: "report.html: one self-contained page"},
			{Name: "md", Doc: "report.md: the same as Markdown, figures referenced by file name"},
		},
		Threads: 1,
	}
}

// claimJSON is the JSON form of schema.Claim: the same names as the Parquet
// columns, finite numbers as JSON numbers and the others as strings, as in
// the lock files (table.JSONFloat).
type claimJSON struct {
	ID           string            `json:"id"`
	Status       string            `json:"status"`
	Statement    string            `json:"statement"`
	Figure       string            `json:"figure"`
	Kind         string            `json:"kind"`
	Claim        string            `json:"claim"`
	Criterion    string            `json:"criterion"`
	OldCriterion string            `json:"old_criterion"`
	Value        table.JSONFloat   `json:"value"`
	Threshold    table.JSONFloat   `json:"threshold"`
	Comparison   string            `json:"comparison"`
	Spread       table.JSONFloat   `json:"spread"`
	Seeds        int64             `json:"seeds"`
	Depths       []int64           `json:"depths"`
	PointX       []table.JSONFloat `json:"point_x"`
	PointY       []table.JSONFloat `json:"point_y"`
	PointSeries  []string          `json:"point_series"`
	PointWhat    string            `json:"point_what"`
	Measured     string            `json:"measured"`
	Smoke        bool              `json:"smoke"`
}

// floats converts xs for claimJSON.
func floats(xs []float64) []table.JSONFloat {
	out := make([]table.JSONFloat, len(xs))
	for i, x := range xs {
		out[i] = table.JSONFloat(x)
	}
	return out
}

// claimsJSON encodes claims as an indented JSON array.
func claimsJSON(cs []schema.Claim) ([]byte, error) {
	out := make([]claimJSON, len(cs))
	for i, c := range cs {
		out[i] = claimJSON{ID: c.ID, Status: c.Status, Statement: c.Statement, Figure: c.Figure, Kind: c.Kind, Claim: c.Claim,
			Criterion: c.Criterion, OldCriterion: c.OldCriterion, Value: table.JSONFloat(c.Value), Threshold: table.JSONFloat(c.Threshold),
			Comparison: c.Comparison, Spread: table.JSONFloat(c.Spread), Seeds: c.Seeds, Depths: nonNil(c.Depths), PointX: floats(c.PointX),
			PointY: floats(c.PointY), PointSeries: nonNil(c.PointSeries), PointWhat: c.PointWhat, Measured: c.Measured, Smoke: c.Smoke}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("report: encode claims json: %w", err)
	}
	return buf.Bytes(), nil
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// Run implements sdk.Stage.
func (reportStage) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, err := sdk.Decode[params](req.Params)
	if err != nil {
		return nil, err
	}
	in, figs, fail := readInputs(req)
	if fail != nil {
		return fail, nil
	}
	req.Progress(1, 3, "inputs read")

	as := claims.Assess(in)
	cs := as.Claims
	req.Progress(2, 3, "claims evaluated")
	resp := &sdk.Response{Outputs: map[string]string{
		"claims": "claims.parquet", "claims_json": "claims.json", "html": "report.html", "md": "report.md"}}
	doc := render.Doc{Title: p.Title, Smoke: p.Smoke, Claims: cs, Figures: figs}
	if err := writeOutputs(req.OutDir, doc); err != nil {
		return nil, err
	}
	req.Progress(3, 3, "report written")

	pass, failed, skip := doc.Counts()
	req.Log.Info().Int("pass", pass).Int("fail", failed).Int("skip", skip).Msg("claims evaluated")
	var smokeFailed []string
	for _, c := range cs {
		if c.Smoke && c.Status == claims.Fail {
			smokeFailed = append(smokeFailed, c.ID)
		}
	}
	if as.Conflicts > 0 {
		resp.Diagnostics = append(resp.Diagnostics, sdk.Diagnostic{Severity: sdk.Warning,
			Summary: "two runs under one key",
			Detail: fmt.Sprintf("%d curve rows or trajectory checkpoints repeat an epoch of a run (net, activation, depth, init scale, m, lr, replicate) "+
				"with other numbers; the first of each was kept: give the runs distinct keys", as.Conflicts)})
	}
	if doc.Smoke && len(smokeFailed) > 0 {
		resp.Diagnostics = append(resp.Diagnostics, sdk.Diagnostic{Severity: sdk.Warning,
			Summary: "claims expected at smoke size failed", Detail: strings.Join(smokeFailed, ", ")})
	}
	return resp, nil
}

// readInputs reads every table input of req and the figures (sorted in
// report order); a bad input is a failed response.
func readInputs(req *sdk.Request) (claims.Inputs, []render.Figure, *sdk.Response) {
	var in claims.Inputs
	var err error
	if in.Checks, err = analysis.ReadInput[schema.Check](req, "checks"); err != nil {
		return in, nil, sdk.Failf("bad input", "%v", err)
	}
	if in.Best, err = analysis.ReadInput[schema.Best](req, "best"); err != nil {
		return in, nil, sdk.Failf("bad input", "%v", err)
	}
	if in.Spectra, err = analysis.ReadInput[schema.Spectrum](req, "spectra"); err != nil {
		return in, nil, sdk.Failf("bad input", "%v", err)
	}
	if in.Theory, err = analysis.ReadInput[schema.Theory](req, "theory"); err != nil {
		return in, nil, sdk.Failf("bad input", "%v", err)
	}
	if in.Curves, err = analysis.ReadInput[schema.Curve](req, "curves"); err != nil {
		return in, nil, sdk.Failf("bad input", "%v", err)
	}
	if in.Stats, err = analysis.ReadInput[schema.Stats](req, "stats"); err != nil {
		return in, nil, sdk.Failf("bad input", "%v", err)
	}
	if in.Eigenvalues, err = analysis.ReadInput[schema.Eigenvalue](req, "eigenvalues"); err != nil {
		return in, nil, sdk.Failf("bad input", "%v", err)
	}
	var figs []render.Figure
	for _, p := range req.Inputs["figures"] {
		f, err := render.ReadFigure(p)
		if err != nil {
			return in, nil, sdk.Failf("bad input", "figures: %v", err)
		}
		figs = append(figs, f)
	}
	render.SortFigures(figs)
	return in, figs, nil
}

// writeOutputs writes doc's claims (claims.parquet, claims.json) and its
// report (report.html, report.md) into dir.
func writeOutputs(dir string, doc render.Doc) error {
	if err := table.Write(filepath.Join(dir, "claims.parquet"), doc.Claims); err != nil {
		return fmt.Errorf("report: write claims.parquet: %w", err)
	}
	js, err := claimsJSON(doc.Claims)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "claims.json"), js, 0o644); err != nil {
		return fmt.Errorf("report: write claims.json: %w", err)
	}
	var html, md bytes.Buffer
	if err := render.HTML(&html, doc); err != nil {
		return err
	}
	if err := render.Markdown(&md, doc); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.html"), html.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: write report.html: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: write report.md: %w", err)
	}
	return nil
}
