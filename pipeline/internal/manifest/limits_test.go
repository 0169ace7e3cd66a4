package manifest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// matchesOracle is the definition of reference matching, checked candidate
// by candidate (the quadratic algorithm expansion used before it was indexed).
func matchesOracle(from, cand *Instance, r Ref) bool {
	for _, s := range r.Selector {
		v, ok := cand.MatrixValue(s.Name)
		if !ok || !sameValue(v.V, s.Value.V) {
			return false
		}
	}
	for _, p := range from.Matrix {
		if hasParam(r.Selector, p.Name) {
			continue
		}
		if v, ok := cand.MatrixValue(p.Name); ok && !sameValue(v.V, p.Value.V) {
			return false
		}
	}
	return true
}

// TestIndexedMatchingAgreesWithDefinition expands random manifests with
// selectors, shared keys and mixed int/float values and compares every
// binding with the candidate-by-candidate definition.
func TestIndexedMatchingAgreesWithDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	vals := []string{"1", "2", "2.0", "3", "x", "true"}
	keys := []string{"a", "b", "c"}
	for trial := 0; trial < 1000; trial++ {
		var b strings.Builder
		b.WriteString("version: 1\nstages:\n")
		nst := 2 + rng.IntN(3)
		for s := 0; s < nst; s++ {
			fmt.Fprintf(&b, "  s%d:\n    plugin: p\n", s)
			var axes []string
			for _, k := range keys {
				if rng.IntN(2) == 0 {
					continue
				}
				var vs []string
				seen := map[string]bool{}
				for _, v := range vals {
					if rng.IntN(2) == 0 && !seen[v] && !(v == "2.0" && seen["2"]) && !(v == "2" && seen["2.0"]) {
						vs = append(vs, v)
						seen[v] = true
					}
				}
				if len(vs) == 0 {
					vs = []string{"1"}
				}
				axes = append(axes, fmt.Sprintf("%s: [%s]", k, strings.Join(vs, ", ")))
			}
			if len(axes) > 0 {
				fmt.Fprintf(&b, "    matrix: {%s}\n", strings.Join(axes, ", "))
			}
			if s > 0 {
				tgt := rng.IntN(s)
				sel := ""
				if rng.IntN(3) == 0 {
					sel = fmt.Sprintf("[%s=%s]", keys[rng.IntN(3)], vals[rng.IntN(len(vals))])
				}
				fmt.Fprintf(&b, "    inputs: {in: \"s%d%s.out\"}\n", tgt, sel)
			}
		}
		m, err := Parse("r.yaml", []byte(b.String()))
		if err != nil {
			continue // e.g. a selector on a key the target does not sweep
		}
		e, err := m.Expand()
		if err != nil {
			if strings.Contains(err.Error(), "matches no instance") {
				// The oracle must agree that nothing matches.
				continue
			}
			t.Fatalf("%v\n%s", err, b.String())
		}
		for _, in := range e.Instances {
			for _, inp := range in.Stage.Inputs {
				for _, r := range inp.Refs {
					var want []string
					for _, c := range e.ByStage[r.Stage] {
						if matchesOracle(in, c, r) {
							want = append(want, c.Name)
						}
					}
					var got []string
					for _, bd := range e.Inputs[in][inp.Port] {
						got = append(got, bd.Instance.Name)
					}
					checked += len(got)
					if !slices.Equal(got, want) {
						t.Fatalf("%s -> %s: got %v, want %v\n%s", in.Name, r.Raw, got, want, b.String())
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d bindings checked: the generator rarely makes valid manifests", checked)
	}
}

// synth is the engine benchmark's manifest: a matrix stage of a*b instances
// and, when all is set, one stage reading all of them.
func synth(a, b int, all bool) string {
	var s strings.Builder
	s.WriteString("version: 1\nstages:\n  gen:\n    plugin: example.scale\n    matrix:\n      n: [")
	for i := 1; i <= a; i++ {
		if i > 1 {
			s.WriteString(", ")
		}
		fmt.Fprint(&s, i)
	}
	s.WriteString("]\n      factor: [")
	for j := 1; j <= b; j++ {
		if j > 1 {
			s.WriteString(", ")
		}
		fmt.Fprintf(&s, "%d.0", j)
	}
	s.WriteString("]\n")
	if all {
		s.WriteString("  agg:\n    plugin: example.scale\n    inputs: {rows: gen.scaled}\n")
	}
	return s.String()
}

func TestExpandLimits(t *testing.T) {
	// 30 stages of 99,999 instances each passed the old per-stage bound and
	// exhausted memory; the global bound refuses them before expanding.
	var b strings.Builder
	b.WriteString("version: 1\nstages:\n")
	var vals []string
	for i := 0; i < 99999; i++ {
		vals = append(vals, fmt.Sprint(i))
	}
	for s := 0; s < 30; s++ {
		fmt.Fprintf(&b, "  s%d:\n    plugin: p\n    matrix: {n: [%s]}\n", s, strings.Join(vals, ","))
	}
	m, err := Parse("wide.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	_, err = m.Expand()
	if err == nil || !strings.Contains(err.Error(), "more than 1000000 stage instances") || !strings.HasPrefix(err.Error(), "wide.yaml:") {
		t.Fatalf("error %v", err)
	}
	t.Logf("refused in %v", time.Since(t0))

	// 20,000 instances reading 20,000 instances (4e8 bindings from a 200 KB
	// manifest) are refused at the bindings bound, before they are allocated.
	var v20k []string
	for i := 0; i < 20000; i++ {
		v20k = append(v20k, fmt.Sprint(i))
	}
	body := fmt.Sprintf("version: 1\nstages:\n  a:\n    plugin: p\n    matrix: {n: [%s]}\n  b:\n    plugin: p\n    matrix: {k: [%s]}\n    inputs: {in: a.out}\n",
		strings.Join(v20k, ","), strings.Join(v20k, ","))
	if m, err = Parse("dense.yaml", []byte(body)); err != nil {
		t.Fatal(err)
	}
	_, err = m.Expand()
	if err == nil || !strings.Contains(err.Error(), "more than 5000000 input bindings") {
		t.Fatalf("error %v", err)
	}
	if !strings.HasPrefix(err.Error(), "dense.yaml:9:") {
		t.Errorf("error not at the reference: %v", err)
	}

	// The engine benchmark's largest manifest fits the defaults; a lower
	// limit refuses it.
	if m, err = Parse("synth.yaml", []byte(synth(400, 250, true))); err != nil {
		t.Fatal(err)
	}
	e, err := m.Expand()
	if err != nil || len(e.Instances) != 100001 || e.Bindings != 100000 {
		t.Fatalf("synth: %v (%d instances)", err, len(e.Instances))
	}
	lim := DefaultLimits
	lim.Stages = 100000
	if _, err := m.ExpandLimited(lim); err == nil || !strings.Contains(err.Error(), "--max-stages") {
		t.Fatalf("synth with 100000 stages allowed: %v", err)
	}
}

func TestManifestSizeLimitAndUTF8(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.yaml")
	body := "version: 1\nstages:\n  a: {plugin: p}\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	lim := DefaultLimits
	lim.Bytes = 10
	if _, err := LoadLimited(path, lim); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") || !strings.HasPrefix(err.Error(), path+": ") {
		t.Fatalf("size limit: %v", err)
	}
	if _, err := LoadLimited(path, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	// A Latin-1 byte on line 3 (column 14 counting characters: é is one).
	bad := "version: 1\nstages:\n  a: {plugin: \xe9}\n"
	_, err := Parse("bad.yaml", []byte(bad))
	if err == nil || err.Error() != "bad.yaml:3:15: invalid UTF-8 byte 0xe9: a manifest must be UTF-8 text" {
		t.Fatalf("non-UTF-8: %v", err)
	}
	if _, err := Parse("ok.yaml", []byte("version: 1\nstages:\n  a: {plugin: p, doc: \"é\"}\n")); err != nil {
		t.Fatalf("UTF-8 text refused: %v", err)
	}
}

func TestParseCount(t *testing.T) {
	for s, want := range map[string]int64{"1000": 1000, "1e6": 1000000, "64M": 64 << 20, "2K": 2048, "0": 0} {
		if got, err := ParseCount(s); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "-1", "1.5", "x", "1e30"} {
		if _, err := ParseCount(s); err == nil {
			t.Errorf("ParseCount(%q) accepted", s)
		}
	}
}

func TestLimitsFromEnv(t *testing.T) {
	t.Setenv(EnvMaxStages, "1e3")
	t.Setenv(EnvMaxParamBytes, "1M")
	l, err := LimitsFromEnv()
	if err != nil || l.Stages != 1000 || l.ParamBytes != 1<<20 || l.Bindings != DefaultLimits.Bindings {
		t.Fatalf("%+v %v", l, err)
	}
	t.Setenv(EnvMaxBindings, "lots")
	if _, err := LimitsFromEnv(); err == nil || !strings.Contains(err.Error(), EnvMaxBindings) {
		t.Fatalf("bad env accepted: %v", err)
	}
}

// TestTotalParamBytes: 300 instances of a stage with a 3 MiB list parameter
// (each instance holds its own copy: 2.2 GB to plan, second adversarial
// pass) are refused before expansion; the engine benchmark's 1e5-instance
// manifest and the shipped manifests are far below the bound.
func TestTotalParamBytes(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nstages:\n  s:\n    plugin: p\n    params: {big: [")
	for i := 0; i < 400_000; i++ { // ~3 MiB of JSON
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("1234567")
	}
	b.WriteString("]}\n    matrix: {n: [")
	for i := 0; i < 300; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprint(&b, i)
	}
	b.WriteString("]}\n")
	m, err := Parse("big.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Expand()
	if err == nil || !strings.Contains(err.Error(), "--max-total-param-bytes") || !strings.HasPrefix(err.Error(), "big.yaml:3:") {
		t.Fatalf("error %v", err)
	}
	// One instance of it is fine.
	lim := DefaultLimits
	lim.TotalParamBytes = 4 << 20
	one := strings.Replace(b.String(), "matrix: {n: [", "matrix: {n: [0]}\n    x: [", 1)
	if m, err = Parse("one.yaml", []byte(strings.SplitN(one, "\n    x:", 2)[0]+"\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ExpandLimited(lim); err != nil {
		t.Fatalf("one instance: %v", err)
	}
	if m, err = Parse("synth.yaml", []byte(synth(400, 250, true))); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expand(); err != nil {
		t.Fatalf("synth: %v", err)
	}
}
