package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// files writes name -> body into a temporary folder and returns it.
func files(t *testing.T, fs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range fs {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const base = `version: 1
name: base
seed: 3
plugin_dirs: [plugins]
vars:
  depths: [2, 4]
  epochs: 10
  init: xavier
stages:
  train:
    plugin: train
    params: {epochs: "${epochs}", note: "depth sweep of ${init}, $${literal}"}
    matrix: {depth: "${depths}"}
  plot:
    plugin: plot
    inputs: {curves: train.curve}
`

func TestIncludeVariablesAndSet(t *testing.T) {
	dir := files(t, map[string]string{
		"sub/base.yaml": base,
		"small.yaml": `version: 1
name: small
include: sub/base.yaml
vars: {depths: [2]}
stages:
  plot:
    plugin: plot
    inputs: {curves: "train[depth=2].curve"}
  extra: {plugin: report}
`,
	})
	m, err := LoadWith(filepath.Join(dir, "small.yaml"), Options{Limits: DefaultLimits, Set: []string{"epochs=5", "train.lr=0.5"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "small" || m.Seed != 3 {
		t.Errorf("name %q seed %d: want the includer's name and the included seed", m.Name, m.Seed)
	}
	if want := filepath.Join(dir, "sub", "plugins"); len(m.PluginDirs) != 1 || m.PluginDirs[0] != want {
		t.Errorf("plugin_dirs %v, want %s (relative to the included file)", m.PluginDirs, want)
	}
	var stages []string
	for _, s := range m.Stages {
		stages = append(stages, s.Name)
	}
	if strings.Join(stages, " ") != "train plot extra" {
		t.Errorf("stages %v: a redeclared stage replaces the included one in place", stages)
	}
	tr, _ := m.Stage("train")
	got := map[string]any{}
	for _, p := range tr.Params {
		got[p.Name] = p.Value.V
	}
	if got["epochs"] != int64(5) || got["lr"] != 0.5 || got["note"] != "depth sweep of xavier, ${literal}" {
		t.Errorf("train params %v", got)
	}
	if len(tr.Matrix) != 1 || len(tr.Matrix[0].Values) != 1 || tr.Matrix[0].Values[0].V != int64(2) {
		t.Errorf("train matrix %+v", tr.Matrix)
	}
	// Values keep the position they were written at: the variable in the
	// included file, the override on the command line.
	if p := tr.Matrix[0].Values[0].Pos; p.File != filepath.Join(dir, "small.yaml") || p.Line != 4 {
		t.Errorf("matrix value position %v", p)
	}
	for _, p := range tr.Params {
		if p.Name == "epochs" && p.Value.Pos.File != "--set epochs=5" {
			t.Errorf("epochs position %v", p.Value.Pos)
		}
	}
	plot, _ := m.Stage("plot")
	if r := plot.Inputs[0].Refs[0]; len(r.Selector) != 1 {
		t.Errorf("plot was not replaced: %+v", r)
	}
}

func TestComposeErrors(t *testing.T) {
	dir := files(t, map[string]string{
		"base.yaml": base,
		"a.yaml":    "version: 1\ninclude: b.yaml\nstages: {x: {plugin: p}}\n",
		"b.yaml":    "version: 1\ninclude: [a.yaml]\nstages: {y: {plugin: p}}\n",
		"undef.yaml": `version: 1
stages:
  s: {plugin: p, params: {x: "${nope}"}}
`,
		"listinstr.yaml": `version: 1
vars: {l: [1, 2]}
stages:
  s: {plugin: p, params: {x: "a-${l}"}}
`,
		"badinc.yaml":    "version: 1\ninclude: base.yaml\nstages:\n  t:\n    plugin: p\n    params: {x: [[1]]}\n",
		"errinbase.yaml": "version: 1\ninclude: broken.yaml\n",
		"broken.yaml":    "version: 1\nstages:\n  s: {plugin: p, bogus: 1}\n",
		"dup.yaml":       "version: 1\nstages:\n  s: {plugin: p}\n  s: {plugin: q}\n",
		"varvar.yaml":    "version: 1\nvars: {a: 1, b: \"${a}\"}\nstages: {s: {plugin: p}}\n",
		"missing.yaml":   "version: 1\ninclude: nowhere.yaml\nstages: {s: {plugin: p}}\n",
		"noversion.yaml": "version: 1\ninclude: nov.yaml\n",
		"nov.yaml":       "stages: {s: {plugin: p}}\n",
	})
	p := func(n string) string { return filepath.Join(dir, n) }
	for _, tc := range []struct {
		file string
		set  []string
		want string
	}{
		{"a.yaml", nil, p("b.yaml") + ":2:11: include cycle: " + p("a.yaml") + " -> " + p("b.yaml") + " -> " + p("a.yaml")},
		{"undef.yaml", nil, p("undef.yaml") + `:3:30: unknown variable "nope" (variables: none declared)`},
		{"listinstr.yaml", nil, `variable "l" is a list, which cannot be part of a string`},
		{"base.yaml", []string{"epoch=3"}, `--set epoch=3: the manifest has no variable "epoch" (its variables: depths, epochs, init)`},
		{"base.yaml", []string{"train.depth=3"}, `stage "train" sweeps "depth" in its matrix`},
		{"base.yaml", []string{"nostage.x=3"}, `the manifest has no stage "nostage" (its stages: train, plot)`},
		{"base.yaml", []string{"noequals"}, `want name=value`},
		{"errinbase.yaml", nil, p("broken.yaml") + `:3:18: unknown key "bogus"`},
		{"dup.yaml", nil, p("dup.yaml") + `:4:3: duplicate stage "s" (first declared at ` + p("dup.yaml") + `:3:3)`},
		{"varvar.yaml", nil, p("varvar.yaml") + ":2:17: a variable's value cannot refer to variables"},
		{"missing.yaml", nil, p("missing.yaml") + `:2:10: include "nowhere.yaml": no such file or directory`},
		{"noversion.yaml", nil, p("nov.yaml") + `:1:1: missing required key "version"`},
	} {
		_, err := LoadWith(p(tc.file), Options{Limits: DefaultLimits, Set: tc.set})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: error %v\nwant it to contain %s", tc.file, tc.set, err, tc.want)
		}
	}
	// A huge --set value is not echoed whole into the one-line error (third
	// adversarial pass: a 10 KB nested list came back in full).
	deep := "train.depth=" + strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	if _, err := LoadWith(p("base.yaml"), Options{Limits: DefaultLimits, Set: []string{deep}}); err == nil || len(err.Error()) > 400 ||
		!strings.Contains(err.Error(), "--set train.depth=[[[") || !strings.Contains(err.Error(), "... (10012 bytes)") {
		t.Errorf("huge --set: error of %d bytes: %.300v", len(fmt.Sprint(err)), err)
	}
	// The size limit counts included files.
	lim := DefaultLimits
	lim.Bytes = int64(len(base)) + 10
	if _, err := LoadWith(p("badinc.yaml"), Options{Limits: lim}); err == nil || !strings.Contains(err.Error(), "and its includes are larger than") {
		t.Errorf("include size limit: %v", err)
	}
}

func TestDigestOfAPlainFileIsItsHash(t *testing.T) {
	data := []byte("version: 1\nstages: {s: {plugin: p}}\n")
	m, err := Parse("m.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if m.Digest != hex.EncodeToString(sum[:]) {
		t.Errorf("digest %s", m.Digest)
	}
	m2, err := ParseWith("m.yaml", []byte("version: 1\nvars: {p: p}\nstages: {s: {plugin: p}}\n"), Options{Set: []string{"p=q"}})
	if err != nil || m2.Digest == m.Digest {
		t.Errorf("a --set must change the manifest digest: %v", err)
	}
}
