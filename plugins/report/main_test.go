package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// captionedPNG encodes a small image and inserts an iTXt Title chunk the
// way the plot plugin does.
func captionedPNG(t *testing.T, title string) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	data := append([]byte("Title\x00\x00\x00\x00\x00"), title...)
	var chunk bytes.Buffer
	_ = binary.Write(&chunk, binary.BigEndian, uint32(len(data)))
	chunk.WriteString("iTXt")
	chunk.Write(data)
	_ = binary.Write(&chunk, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("iTXt"), data...)))
	out := append([]byte{}, b[:33]...) // signature + IHDR
	out = append(out, chunk.Bytes()...)
	return append(out, b[33:]...)
}

type fixture struct {
	checks, best, curves, fig, stats string
}

func writeFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{
		checks: filepath.Join(dir, "checks.parquet"), best: filepath.Join(dir, "best.parquet"),
		fig: filepath.Join(dir, "abc123"), stats: filepath.Join(dir, "stats.parquet"), curves: filepath.Join(dir, "curves.parquet"),
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(table.Write(f.checks, []schema.Check{
		{ID: "T2.spectrum", Theorem: "T2", Data: "mnist", Claim: "H(0) eigenvalues are +-sigma(M)", Measured: 3e-15, Tolerance: 1e-10, Pass: true},
		{ID: "T3.zero", Theorem: "T3", Data: "synthetic", Claim: "H(0) = 0 for n = 3", Measured: 0.2, Tolerance: 1e-12, Pass: false},
	}))
	// Two seeds of shortcut2 (at L_min) and xavier (rising with depth) at
	// three depths; lr 0.1 is the best of 0.01, 0.1, 1 (interior).
	var best []schema.Best
	var curves []schema.Curve
	for _, d := range []int64{2, 4, 8} {
		final := map[string]float64{schema.NetShortcut2: 0.3, schema.NetXavier: 0.3 + 0.01*float64(d)}
		for _, net := range []string{schema.NetShortcut2, schema.NetXavier} {
			best = append(best, schema.Best{Net: net, Depth: d, Activation: "linear", LR: 0.1, MeanFinalLoss: final[net], LMin: 0.3, Seeds: 2})
			for _, lr := range []float64{0.01, 0.1, 1} {
				for rep := range int64(2) {
					end := final[net]
					if lr != 0.1 {
						end += 0.05
					}
					curves = append(curves,
						schema.Curve{Net: net, Depth: d, Activation: "linear", LR: lr, Replicate: rep, Epoch: 0, Loss: 0.9, LMin: 0.3},
						schema.Curve{Net: net, Depth: d, Activation: "linear", LR: lr, Replicate: rep, Epoch: 1, Loss: end + 1e-6*float64(rep), LMin: 0.3})
				}
			}
		}
	}
	must(table.Write(f.best, best))
	must(table.Write(f.curves, curves))
	must(os.WriteFile(f.fig, captionedPNG(t, "fig9: Final training loss vs depth"), 0o644))
	must(table.Write(f.stats, []schema.Stats{{Dataset: "x", D: 2}}))
	return f
}

func runInProcess(t *testing.T, params map[string]any, inputs map[string][]string) (*sdk.Response, string) {
	t.Helper()
	st := reportStage{}
	p, err := sdk.ValidateParams(st.Spec(), params)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	resp, err := st.Run(context.Background(), sdk.NewRequest("report", p, inputs, out, 1, zerolog.Nop(), nil))
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

// TestReport checks the four outputs on hand-made rows: statuses follow
// the checks and the best table (oracle: the hand-made numbers), the JSON
// and Parquet hold the same claims, the HTML is self-contained with the
// figure inlined and captioned from its PNG chunk, the Markdown references
// it by name, and two runs give identical bytes.
func TestReport(t *testing.T) {
	f := writeFixture(t)
	in := map[string][]string{"checks": {f.checks}, "best": {f.best}, "curves": {f.curves}, "figures": {f.fig}}
	resp, out := runInProcess(t, map[string]any{}, in)
	if sdk.HasErrors(resp.Diagnostics) {
		t.Fatal(sdk.DiagnosticsError("report", resp.Diagnostics))
	}
	rows, err := table.Read[schema.Claim](filepath.Join(out, resp.Outputs["claims"]))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"check.T2.spectrum.mnist": "PASS", "check.T3.zero.synthetic": "FAIL", "fig9.shortcut2_at_lmin": "PASS",
		"fig3.frob_falls":     "FAIL",
		"fig9.degrade.xavier": "PASS", "fig9.degrade.orthogonal": "SKIP", "fig5.shortcut2_flat": "SKIP"}
	got := map[string]string{}
	for _, r := range rows {
		got[r.ID] = r.Status
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %q, want %q", id, got[id], w)
		}
	}
	var js []map[string]any
	b, _ := os.ReadFile(filepath.Join(out, "claims.json"))
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("claims.json: %v", err)
	}
	if len(js) != len(rows) || js[0]["id"] != rows[0].ID || js[0]["status"] != rows[0].Status {
		t.Errorf("json and parquet differ: %d vs %d rows", len(js), len(rows))
	}
	// Numbers are JSON numbers ("NaN", "+Inf" where not finite), points are arrays.
	for i, c := range js {
		if c["id"] == "fig9.degrade.xavier" {
			if v, ok := c["value"].(float64); !ok || v != rows[i].Value || c["comparison"] != ">" || len(c["point_y"].([]any)) != 6 {
				t.Errorf("fig9.degrade.xavier json: %v", c)
			}
		}
		if c["status"] == "SKIP" && c["value"] != "NaN" {
			t.Errorf("%s: SKIP with value %v (want \"NaN\")", c["id"], c["value"])
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, s := range []string{"data:image/png;base64,", "Final training loss vs depth", `class="st FAIL"`, "check.T3.zero.synthetic"} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("html lacks %q", s)
		}
	}
	for _, s := range []string{"http://", "https://", "<script", "<link"} {
		if bytes.Contains(html, []byte(s)) {
			t.Errorf("html is not self-contained: contains %q", s)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !bytes.Contains(md, []byte("![fig9](fig9.png)")) || !bytes.Contains(md, []byte("| **FAIL** | `check.T3.zero.synthetic`")) {
		t.Errorf("markdown:\n%s", md)
	}
	_, out2 := runInProcess(t, map[string]any{}, in)
	for _, name := range []string{"claims.parquet", "claims.json", "report.html", "report.md"} {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join(out2, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

// TestReportDiagnostics: a table of the wrong schema is a stage failure;
// in a smoke run a failed smoke claim (a theorem check) gives a warning.
func TestReportDiagnostics(t *testing.T) {
	f := writeFixture(t)
	resp, _ := runInProcess(t, map[string]any{}, map[string][]string{"checks": {f.best}})
	if !sdk.HasErrors(resp.Diagnostics) {
		t.Error("best table on the checks port should fail")
	}
	resp, _ = runInProcess(t, map[string]any{}, map[string][]string{"figures": {f.best}})
	if !sdk.HasErrors(resp.Diagnostics) {
		t.Error("a parquet file on the figures port should fail")
	}
	resp, _ = runInProcess(t, map[string]any{"smoke": true}, map[string][]string{"checks": {f.checks}})
	if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Severity != sdk.Warning || !strings.Contains(resp.Diagnostics[0].Detail, "check.T3.zero.synthetic") {
		t.Errorf("smoke warning: %v", resp.Diagnostics)
	}
}

// TestPluginThroughHost runs the real binary over go-plugin once.
func TestPluginThroughHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	dir := t.TempDir()
	if err := hosttest.Build(dir, map[string]string{"report": hosttest.Module + "/plugins/report"}); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, host.FilePrefix+"report")
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	p, err := host.Load(context.Background(), bin, log)
	if err != nil {
		t.Fatal(err)
	}
	f := writeFixture(t)
	out := t.TempDir()
	res, err := host.Run(context.Background(), p, host.RunRequest{Stage: "report", Params: map[string]any{"smoke": true},
		Inputs: map[string][]string{"checks": {f.checks}, "best": {f.best}, "figures": {f.fig}}, OutDir: out, Seed: 1, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatal(res.Err("report"))
	}
	for _, name := range []string{"claims.parquet", "claims.json", "report.html", "report.md"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
}
