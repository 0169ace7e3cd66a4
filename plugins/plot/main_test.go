package main

import (
	"bytes"
	"context"
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
)

// buildPlugin compiles this package into a real plugin binary.
func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := hosttest.Build(dir, map[string]string{"plot": hosttest.Module + "/plugins/plot"}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, host.FilePrefix+"plot")
}

// TestPluginThroughHost runs the real binary over go-plugin: fig9 from a
// hand-made best table and stats row gives a decodable PNG and an SVG with
// the declared names, twice with identical bytes; a table of the wrong
// schema on the best port is a stage failure (error diagnostic), not a
// broken call; an unknown figure likewise.
func TestPluginThroughHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := buildPlugin(t)
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	p, err := host.Load(context.Background(), bin, log)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var best []schema.Best
	for _, net := range []string{schema.NetXavier, schema.NetShortcut2} {
		for _, d := range []int64{2, 4, 8} {
			l := 0.3
			if net == schema.NetXavier {
				l += 0.05 * float64(d)
			}
			best = append(best, schema.Best{Net: net, Depth: d, Activation: "linear", LR: 0.1, MeanFinalLoss: l, Seeds: 2, LMin: 0.3})
		}
	}
	bestPath := filepath.Join(dir, "best.parquet")
	if err := table.Write(bestPath, best); err != nil {
		t.Fatal(err)
	}
	statsPath := filepath.Join(dir, "stats.parquet")
	if err := table.Write(statsPath, []schema.Stats{{Dataset: "synthetic", D: 10, M: 100, LMin: 0.3}}); err != nil {
		t.Fatal(err)
	}
	run := func(params map[string]any, inputs map[string][]string) (*host.RunResult, string) {
		t.Helper()
		out := t.TempDir()
		res, err := host.Run(context.Background(), p, host.RunRequest{Stage: "plot", Params: params, Inputs: inputs, OutDir: out, Seed: 1, Log: log})
		if err != nil {
			t.Fatalf("host.Run: %v", err)
		}
		return res, out
	}
	var first []byte
	for k := range 2 {
		res, out := run(map[string]any{"figure": "fig9"}, map[string][]string{"best": {bestPath}, "stats": {statsPath}})
		if res.Failed() {
			t.Fatal(res.Err("plot"))
		}
		if res.Outputs["png"] != "fig9.png" || res.Outputs["svg"] != "fig9.svg" {
			t.Fatalf("outputs = %v", res.Outputs)
		}
		b, err := os.ReadFile(filepath.Join(out, "fig9.png"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(b)); err != nil { // oracle: image/png decoder
			t.Fatalf("png: %v", err)
		}
		s, _ := os.ReadFile(filepath.Join(out, "fig9.svg"))
		if !strings.Contains(string(s), "</svg>") {
			t.Fatal("svg not closed")
		}
		if k == 0 {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatal("two runs gave different PNG bytes")
		}
	}
	res, _ := run(map[string]any{"figure": "fig9"}, map[string][]string{"best": {statsPath}})
	if !res.Failed() {
		t.Fatal("a stats table on the best port should fail the stage")
	}
	res, _ = run(map[string]any{"figure": "fig4"}, nil)
	if !res.Failed() || !strings.Contains(res.Err("plot").Error(), "unknown figure") {
		t.Fatalf("unknown figure: %v", res.Err("plot"))
	}
	res, _ = run(map[string]any{"figure": "fig5"}, map[string][]string{"best": {bestPath}})
	if !res.Failed() || !strings.Contains(res.Err("plot").Error(), "no spectrum rows") {
		t.Fatalf("fig5 without spectra: %v", res.Err("plot"))
	}
}
