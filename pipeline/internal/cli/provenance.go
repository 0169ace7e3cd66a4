package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/demystify-resnet/repro/artifacts/safefile"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
)

// Provenance says which run produced the files of an out folder. The host
// writes it at every run (out/provenance.json, and a block at the top of a
// published report.html and report.md), so that a warm run shows its own run
// while the cached report artifact stays independent of runs.
type Provenance struct {
	Run            string         `json:"run"` // run record id
	Manifest       string         `json:"manifest"`
	ManifestDigest string         `json:"manifest_digest"`
	CodeVersion    string         `json:"code_version"` // git commit of the manifest's checkout (+dirty), or "unknown"
	GoVersion      string         `json:"go_version"`
	OS             string         `json:"os"`
	Arch           string         `json:"arch"`
	CPU            string         `json:"cpu"`
	CPUs           int            `json:"cpus"`
	Executor       string         `json:"executor"`
	Started        time.Time      `json:"started"`
	WallSeconds    float64        `json:"wall_seconds"`
	Stages         int            `json:"stages"`
	Counts         map[string]int `json:"counts"`
}

// provenanceOf describes the run of rec.
func provenanceOf(rec engine.RunRecord, manifestPath string) Provenance {
	p := Provenance{
		Run: rec.Name, Manifest: manifestPath, ManifestDigest: rec.ManifestDigest,
		CodeVersion: codeVersion(filepath.Dir(manifestPath)), GoVersion: runtime.Version(),
		OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(), CPUs: runtime.NumCPU(),
		Executor: rec.Executor, Started: rec.Started.UTC(), WallSeconds: rec.Seconds,
		Stages: len(rec.Stages), Counts: map[string]int{},
	}
	for k, v := range rec.Counts {
		p.Counts[string(k)] = v
	}
	return p
}

// codeVersion is the git commit of the checkout holding dir, with "+dirty"
// when tracked files differ from it; "unknown" outside a checkout.
func codeVersion(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	v := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		v += "+dirty"
	}
	return v
}

// cpuModel is the processor's model name (Linux /proc/cpuinfo), or GOARCH.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// rows are the provenance as label/value pairs, in reading order.
func (p Provenance) rows() [][2]string {
	return [][2]string{
		{"run", p.Run},
		{"manifest", p.Manifest + " (sha256 " + short(p.ManifestDigest) + ")"},
		{"code version", p.CodeVersion},
		{"Go", p.GoVersion + ", " + p.OS + "/" + p.Arch},
		{"machine", fmt.Sprintf("%s, %d CPUs", p.CPU, p.CPUs)},
		{"executor", p.Executor},
		{"started", p.Started.Format(time.RFC3339)},
		{"wall time", fmtDur(p.WallSeconds)},
		{"stages", fmt.Sprintf("%d (%d ran, %d cached)", p.Stages, p.Counts[string(engine.StatusRan)], p.Counts[string(engine.StatusCached)])},
	}
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// provenanceMarker starts the block written into a published report, so a
// page that already has one (a stale copy) gets it replaced, not doubled.
const provenanceMarker = "<!-- pipeline provenance -->"

// writeProvenance writes out/provenance.json and puts the provenance block
// into out/report.html and out/report.md when this run published them.
func writeProvenance(out string, p Provenance) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := safefile.WriteIn(out, "provenance.json", 0o644, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	if err := rewriteIn(out, "report.html", func(page []byte) []byte { return withHTMLProvenance(page, p) }); err != nil {
		return err
	}
	return rewriteIn(out, "report.md", func(page []byte) []byte { return withMarkdownProvenance(page, p) })
}

// maxPageBytes bounds the report page rewriteIn reads whole (the smoke
// manifest's report.html is 2.7 MB): a larger file in out/ is an error
// naming it, not an exhausted memory.
const maxPageBytes = 256 << 20

// rewriteIn replaces out/name (when it exists) by edit of its content.
func rewriteIn(out, name string, edit func([]byte) []byte) error {
	page, err := safefile.ReadRegular(filepath.Join(out, name), maxPageBytes)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	if err := safefile.WriteIn(out, name, 0o644, func(w io.Writer) error {
		_, err := w.Write(edit(page))
		return err
	}); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	return nil
}

// withHTMLProvenance inserts the block right after <body ...>.
func withHTMLProvenance(page []byte, p Provenance) []byte {
	if i := bytes.Index(page, []byte(provenanceMarker)); i >= 0 {
		if j := bytes.Index(page[i:], []byte("<!-- /pipeline provenance -->")); j >= 0 {
			page = append(append([]byte{}, page[:i]...), page[i+j+len("<!-- /pipeline provenance -->"):]...)
		}
	}
	var b bytes.Buffer
	b.WriteString(provenanceMarker)
	b.WriteString(`<section id="provenance" style="font-size:0.85em;border:1px solid #ccc;padding:0.4em 0.8em;margin:0.5em 0"><b>Provenance of this run</b> (written by the pipeline at every run; the report artifact itself does not depend on the run)<table>`)
	for _, r := range p.rows() {
		fmt.Fprintf(&b, "<tr><th style=\"text-align:left;padding-right:1em\">%s</th><td><code>%s</code></td></tr>", html.EscapeString(r[0]), html.EscapeString(r[1]))
	}
	b.WriteString("</table></section><!-- /pipeline provenance -->")
	i := bytes.Index(page, []byte("<body"))
	if i < 0 {
		return append(b.Bytes(), page...)
	}
	j := bytes.IndexByte(page[i:], '>')
	if j < 0 {
		return page
	}
	at := i + j + 1
	out := append([]byte{}, page[:at]...)
	out = append(out, b.Bytes()...)
	return append(out, page[at:]...)
}

// withMarkdownProvenance appends a provenance section (replacing an old one).
func withMarkdownProvenance(page []byte, p Provenance) []byte {
	const head = "\n## Provenance of this run\n"
	if i := bytes.Index(page, []byte(head)); i >= 0 {
		page = page[:i]
	}
	var b bytes.Buffer
	b.Write(bytes.TrimRight(page, "\n"))
	b.WriteString("\n" + head + "\n| | |\n|---|---|\n")
	for _, r := range p.rows() {
		fmt.Fprintf(&b, "| %s | `%s` |\n", r[0], r[1])
	}
	return b.Bytes()
}
