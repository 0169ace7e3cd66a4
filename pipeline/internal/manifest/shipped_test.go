package manifest

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/resolved/*.txt from the shipped manifests")

// shipped are the manifests of manifests/ whose resolved form is pinned.
var shipped = []string{"smoke", "paper", "paper-full"}

// resolved is the form of an expanded manifest that determines its
// ActionIDs and seeds: per instance (sorted by name) its plugin, parameters
// (sorted by name), input bindings in binding order, and what the executor
// is told. Comments, stage order, variables, includes and the way a value
// was written do not appear in it; the engine's tests show that two
// manifests with the same resolved form plan the same ActionIDs
// (engine.TestComposedManifestHasTheFlatActionIDs).
func resolved(t *testing.T, path string) string {
	t.Helper()
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Expand()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, in := range e.Instances {
		ps := slices.Clone(in.Params)
		slices.SortFunc(ps, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
		pm := make([]string, len(ps))
		for i, p := range ps {
			v, err := json.Marshal(p.Value.V)
			if err != nil {
				t.Fatal(err)
			}
			pm[i] = p.Name + "=" + string(v)
		}
		var ports []string
		for port := range e.Inputs[in] {
			ports = append(ports, port)
		}
		slices.Sort(ports)
		var ins []string
		for _, port := range ports {
			var bs []string
			for _, b := range e.Inputs[in][port] {
				bs = append(bs, b.Instance.Name+"."+b.Output)
			}
			list := strings.Join(bs, ",")
			if len(bs) > 3 { // long lists (select, report) by count and digest
				sum := sha256.Sum256([]byte(list))
				list = fmt.Sprintf("%d bindings sha256:%x", len(bs), sum[:8])
			}
			ins = append(ins, port+"<-"+list)
		}
		st := in.Stage
		lines = append(lines, fmt.Sprintf("%s\tplugin=%s\tparams=%s\tinputs=%s\tpublish=%s\ttimeout=%s\tretries=%d\tresources=%+v\testimate=%s",
			in.Name, st.Plugin, strings.Join(pm, " "), strings.Join(ins, " "), strings.Join(st.Publish, ","), st.Timeout, st.Retries, st.Resources, st.Estimate))
	}
	slices.Sort(lines)
	return fmt.Sprintf("name=%s seed=%d instances=%d\n", m.Name, m.Seed, len(lines)) + strings.Join(lines, "\n") + "\n"
}

// TestShippedManifestsResolved pins the resolved form of every shipped
// manifest (testdata/resolved/NAME.txt), so that a rewrite of how the
// manifests are written (smoke.yaml and paper-full.yaml derived from one
// definition by include and vars) is proven to change no ActionID and no
// seed. A change of the experiment on purpose regenerates the files
// (go test ./pipeline/internal/manifest -run TestShippedManifestsResolved
// -update) and the diff shows exactly which instances changed.
func TestShippedManifestsResolved(t *testing.T) {
	for _, name := range shipped {
		t.Run(name, func(t *testing.T) {
			got := resolved(t, filepath.Join("..", "..", "..", "manifests", name+".yaml"))
			want := filepath.Join("testdata", "resolved", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(want), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (generate with -update)", err)
			}
			if string(b) == got {
				return
			}
			wl, gl := strings.Split(string(b), "\n"), strings.Split(got, "\n")
			for _, l := range gl {
				if !slices.Contains(wl, l) {
					t.Errorf("new or changed: %.300s", l)
				}
			}
			for _, l := range wl {
				if !slices.Contains(gl, l) {
					t.Errorf("gone or changed: %.300s", l)
				}
			}
		})
	}
}
