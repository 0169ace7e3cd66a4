// Package render writes the report of the paper reproduction: one
// self-contained HTML page (figures inlined as data: URIs, no network
// access) and the same content as Markdown (figures referenced by file
// name). Output depends only on the inputs (no time stamps).
package render

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/plugins/analysis/num"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Figure is one PNG figure of the report.
type Figure struct {
	// ID is the figure id (fig5, ...) from the PNG's Title chunk, or the
	// file name without extension.
	ID string
	// Caption is the figure's title (from the Title chunk) or its file name.
	Caption string
	// Notes are the figure's notes (from the Comment chunk), one per line.
	Notes []string
	// PNG holds the image bytes.
	PNG []byte
}

// FileName is the name the plot stage gives this figure (<id>.png).
func (f Figure) FileName() string { return f.ID + ".png" }

// ReadFigure reads a PNG file and its caption: the iTXt or tEXt chunk
// "Title" written by the plot plugin ("<id>: <title>") and "Comment" (the
// notes). Without them the caption is the file name.
func ReadFigure(path string) (Figure, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Figure{}, fmt.Errorf("render: read figure: %w", err)
	}
	if len(b) < 8 || string(b[1:4]) != "PNG" {
		return Figure{}, fmt.Errorf("render: %s is not a PNG file", filepath.Base(path))
	}
	text := pngText(b)
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	f := Figure{ID: base, Caption: filepath.Base(path), PNG: b}
	if t, ok := text["Title"]; ok {
		if id, title, ok := strings.Cut(t, ": "); ok && id != "" && !strings.ContainsAny(id, " /") {
			f.ID, f.Caption = id, title
		} else {
			f.Caption = t
		}
	}
	if c := text["Comment"]; c != "" {
		f.Notes = strings.Split(c, "\n")
	}
	return f, nil
}

// pngText returns the tEXt and uncompressed iTXt chunks of a PNG.
func pngText(b []byte) map[string]string {
	out := map[string]string{}
	for p := 8; p+12 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p : p+4]))
		typ := string(b[p+4 : p+8])
		if p+12+n > len(b) || n < 0 {
			break
		}
		data := b[p+8 : p+8+n]
		switch typ {
		case "tEXt":
			if k, v, ok := bytes.Cut(data, []byte{0}); ok {
				out[string(k)] = latin1(v)
			}
		case "iTXt":
			// keyword 0 compflag method lang 0 transkw 0 text
			if k, rest, ok := bytes.Cut(data, []byte{0}); ok && len(rest) >= 2 && rest[0] == 0 {
				rest = rest[2:]
				if _, rest, ok = bytes.Cut(rest, []byte{0}); ok {
					if _, v, ok := bytes.Cut(rest, []byte{0}); ok {
						out[string(k)] = string(v)
					}
				}
			}
		case "IDAT", "IEND":
			return out
		}
		p += 12 + n
	}
	return out
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// figureOrder is the order of figures in the report.
var figureOrder = []string{"theory", "fig2", "fig3", "zero", "fig5", "fig6", "fig7", "fig8", "fig9", "lrs", "shortcut1", "fig10", "perturb", "fig11"}

// SortFigures orders figures by the paper's figure order (unknown ids
// last), stably.
func SortFigures(fs []Figure) {
	rank := func(id string) int {
		if i := slices.Index(figureOrder, id); i >= 0 {
			return i
		}
		return len(figureOrder)
	}
	slices.SortStableFunc(fs, func(a, b Figure) int { return rank(a.ID) - rank(b.ID) })
}

// Doc is the content of a report.
type Doc struct {
	Title   string
	Smoke   bool
	Claims  []schema.Claim
	Figures []Figure
}

// Counts returns the number of PASS, FAIL and SKIP claims.
func (d Doc) Counts() (pass, fail, skip int) {
	for _, c := range d.Claims {
		switch c.Status {
		case "PASS":
			pass++
		case "FAIL":
			fail++
		default:
			skip++
		}
	}
	return
}

// Intro is the short statement of what the paper claims, shown at the top.
const Intro = `"Demystifying ResNet" (Li, Jiao, Han, Weissman, 2016) explains why shortcut connections that skip
two weight layers make deep linear (and some nonlinear) networks easy to train. At the zero point the
Hessian of the loss of a 2-shortcut network has a condition number that does not depend on depth
(Theorem 1); with 1-layer shortcuts it grows with depth, and with shortcuts of 3 or more layers the
zero point is a high-order saddle where gradient and Hessian vanish. On whitened MNIST (d = 10) the
paper shows that 2-shortcut nets started near zero keep small, depth-independent condition numbers
along training, escape the initial saddle early, and reach the global optimum L_min at every depth,
while plain nets with Xavier or orthogonal initialisation and 1- or 3-shortcut nets degrade with depth.
Each claim below is checked against an explicit numerical criterion; FAIL is a result, not an error.`

type htmlClaim struct {
	schema.Claim
	Class    string
	Decision string
	FigLink  bool // the figure is in the report: link to it
}

// Decision is the claim's decisive comparison in words: "value 0.003 < 1
// (spread 0.2)", or for a SKIP the reason it was not evaluated.
func Decision(c schema.Claim) string {
	if c.Status == "SKIP" {
		return cmp.Or(c.Measured, "-") // why it could not be evaluated, in words
	}
	if c.Comparison == "" {
		return "-"
	}
	if c.Comparison == "stage" {
		return fmt.Sprintf("%s, tolerance %s (the theorems stage's verdict)", num.Format(c.Value), num.Format(c.Threshold))
	}
	s := fmt.Sprintf("%s %s %s", num.Format(c.Value), c.Comparison, num.Format(c.Threshold))
	if !math.IsNaN(c.Spread) {
		s += " (spread " + num.Format(c.Spread) + ")"
	}
	return s
}

type htmlFig struct {
	Figure
	URI template.URL
}

const page = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em} h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;font-size:.92em} th,td{border:1px solid #ccc;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.st{font-weight:bold;text-align:center;white-space:nowrap}
.PASS{background:#d8f0d8;color:#145214} .FAIL{background:#f8d7d7;color:#7a1010} .SKIP{background:#eee;color:#555}
.summary span{display:inline-block;padding:.2em .7em;margin-right:.5em;border-radius:4px;font-weight:bold}
.smoke{font-size:.8em;color:#555} .claim{margin:1em 0;padding:.6em .8em;border-left:5px solid #ccc;background:#fafafa}
.claim.PASS{border-color:#3a3} .claim.FAIL{border-color:#c33} .claim.SKIP{border-color:#999}
.claim .m,.claim .c{font-size:.9em;margin:.25em 0} code{font-size:.95em}
figure{margin:1.5em 0;text-align:center} figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.95em;margin-top:.3em} figcaption small{color:#555;display:block;text-align:left;max-width:900px;margin:.3em auto}
.intro{background:#f6f8fa;padding:.8em 1em;border-radius:6px}
</style></head><body>
<h1>{{.Title}}</h1>
<div class="intro">{{.Intro}}</div>
<h2>Summary</h2>
<p class="summary"><span class="PASS">{{.Pass}} PASS</span><span class="FAIL">{{.Fail}} FAIL</span><span class="SKIP">{{.Skip}} SKIP</span></p>
{{if .Smoke}}<p><b>Smoke-sized run.</b> Claims marked "smoke" are expected to hold at this size; the others need the full
manifest (more depths, epochs and seeds) and may fail here without contradicting the paper.</p>{{end}}
<p>Failures first, then claims that could not be evaluated, then passes; the value column is the decisive measured number against its threshold.</p>
<table><tr><th>status</th><th>id</th><th>statement</th><th>figure</th><th>claim</th><th>value</th><th>smoke</th></tr>
{{range .Claims}}<tr><td class="st {{.Class}}">{{.Status}}</td><td><a href="#{{.ID}}"><code>{{.ID}}</code></a></td><td>{{.Statement}}</td><td>{{if .FigLink}}<a href="#fig-{{.Figure}}">{{.Figure}}</a>{{else}}{{.Figure}}{{end}}</td><td>{{.Claim.Claim}}</td><td>{{.Decision}}</td><td>{{if .Smoke}}yes{{end}}</td></tr>
{{end}}</table>
<h2>Terms</h2>
<dl>{{range .Glossary}}<dt><b>{{.Name}}</b></dt><dd>{{.Meaning}}</dd>{{end}}</dl>
<h2>Claims in detail</h2>
{{range .Claims}}<div class="claim {{.Class}}" id="{{.ID}}"><b>{{.Status}}</b> &nbsp;<code>{{.ID}}</code> ({{.Statement}}; {{.Kind}}{{if .Figure}}; figure {{.Figure}}{{end}}){{if .Smoke}} <span class="smoke">[expected at smoke size]</span>{{end}}<br>{{.Claim.Claim}}
<div class="m"><b>Decision:</b> {{.Decision}}{{if .Seeds}}; seeds {{.Seeds}}{{end}}{{if .Depths}}; depths {{.Depths}}{{end}}</div>
<div class="m"><b>Measured:</b> {{.Measured}}</div><div class="c"><b>Criterion:</b> {{.Criterion}}</div>{{if .OldCriterion}}<div class="c"><b>Previous criterion (re-formalised):</b> {{.OldCriterion}}</div>{{end}}</div>
{{end}}
<h2>Figures</h2>
{{if not .Figures}}<p>No figures were given to the report.</p>{{end}}
{{range .Figures}}<figure id="fig-{{.ID}}"><img src="{{.URI}}" alt="{{.ID}}"><figcaption><b>{{.ID}}</b>: {{.Caption}}</figcaption></figure>
{{end}}
<p class="smoke">Generated by the report stage of the demystify-resnet reproduction pipeline. Criteria and thresholds: docs/claims.md; figures: docs/figures.md.</p>
</body></html>
`

var pageT = template.Must(template.New("report").Parse(page))

// HTML writes the report as one self-contained HTML page.
func HTML(w io.Writer, d Doc) error {
	pass, fail, skip := d.Counts()
	var cs []htmlClaim
	has := map[string]bool{}
	for _, f := range d.Figures {
		has[f.ID] = true
	}
	for _, c := range FailuresFirst(d.Claims) {
		cs = append(cs, htmlClaim{Claim: c, Class: c.Status, Decision: Decision(c), FigLink: has[c.Figure]})
	}
	var fs []htmlFig
	for _, f := range d.Figures {
		fs = append(fs, htmlFig{Figure: f, URI: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))})
	}
	err := pageT.Execute(w, map[string]any{"Title": d.Title, "Intro": strings.Join(strings.Fields(Intro), " "), "Smoke": d.Smoke,
		"Pass": pass, "Fail": fail, "Skip": skip, "Claims": cs, "Figures": fs, "Glossary": Glossary})
	if err != nil {
		return fmt.Errorf("render: html: %w", err)
	}
	return nil
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// Markdown writes the report as Markdown; figures are referenced by file
// name (<id>.png, as the plot stage names them).
func Markdown(w io.Writer, d Doc) error {
	var b strings.Builder
	pass, fail, skip := d.Counts()
	fmt.Fprintf(&b, "# %s\n\n%s\n\n## Summary\n\n**%d PASS, %d FAIL, %d SKIP**\n\n", d.Title, Intro, pass, fail, skip)
	if d.Smoke {
		b.WriteString("Smoke-sized run: claims marked *smoke* are expected to hold at this size; the others need the full manifest.\n\n")
	}
	claims := FailuresFirst(d.Claims)
	b.WriteString("Failures first, then claims that could not be evaluated, then passes.\n\n")
	b.WriteString("| status | id | statement | figure | claim | decision | smoke |\n|---|---|---|---|---|---|---|\n")
	for _, c := range claims {
		sm := ""
		if c.Smoke {
			sm = "yes"
		}
		fmt.Fprintf(&b, "| **%s** | `%s` | %s | %s | %s | %s | %s |\n", c.Status, c.ID, mdCell(c.Statement), c.Figure, mdCell(c.Claim), mdCell(Decision(c)), sm)
	}
	b.WriteString("\n## Terms\n\n")
	for _, t := range Glossary {
		fmt.Fprintf(&b, "- **%s**: %s\n", t.Name, t.Meaning)
	}
	b.WriteString("\n## Claims in detail\n")
	for _, c := range claims {
		fmt.Fprintf(&b, "\n### %s `%s` (%s; %s; figure %s)\n\n%s\n\n- Decision: %s\n- Measured: %s\n- Criterion: %s\n", c.Status, c.ID, c.Statement, c.Kind, cmp.Or(c.Figure, "-"), c.Claim, Decision(c), c.Measured, c.Criterion)
		if c.OldCriterion != "" {
			fmt.Fprintf(&b, "- Previous criterion (re-formalised): %s\n", c.OldCriterion)
		}
	}
	b.WriteString("\n## Figures\n")
	if len(d.Figures) == 0 {
		b.WriteString("\nNo figures were given to the report.\n")
	}
	for _, f := range d.Figures {
		fmt.Fprintf(&b, "\n### %s: %s\n\n![%s](%s)\n", f.ID, f.Caption, f.ID, f.FileName())
		for _, n := range f.Notes {
			fmt.Fprintf(&b, "\n> %s", n)
		}
		if len(f.Notes) > 0 {
			b.WriteString("\n")
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("render: markdown: %w", err)
	}
	return nil
}
