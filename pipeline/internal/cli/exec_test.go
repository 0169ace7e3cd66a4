package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/plugins/host"
)

// A task file carries a stage's parameters to `pipeline exec` (Slurm) as
// written: an int parameter above 2^53 reaches the plugin unchanged, as it
// does on the local executor (third adversarial pass: decoded as a float64,
// 9007199254740993 ran as ...992 and was cached under the ActionID of ...993).
func TestExecKeepsLargeIntParams(t *testing.T) {
	dir := t.TempDir()
	ps, err := host.Discover(context.Background(), []string{pluginDir}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	var p *host.Plugin
	for _, q := range ps {
		if q.Name == "enginekit" {
			p = q
		}
	}
	if p == nil {
		t.Fatal("no enginekit plugin")
	}
	spec, _ := p.Stage("det")
	const big = int64(9007199254740993) // 2^53 + 1: not a float64
	task := engine.Task{
		Instance: "a", ActionID: artifacts.ActionID(artifacts.HashBytes([]byte("t"))).String(),
		PluginName: p.Name, PluginPath: p.Path, PluginDigest: p.Digest, Spec: spec,
		Params: map[string]any{"n": big}, Seed: 1,
	}
	b, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "task.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := pipeline(t, dir, "exec", "task.json")
	if r.code != 0 {
		t.Fatalf("exec: exit %d: %s", r.code, r.stderr)
	}
	var a artifacts.Action
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
		t.Fatalf("exec output %q: %v", r.stdout, err)
	}
	st, err := artifacts.Open(filepath.Join(dir, ".pipeline"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out, err := os.ReadFile(st.Path(a.Outputs["out"]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"n":9007199254740993`) {
		t.Errorf("the plugin saw another n: its output is %s", out)
	}
}
