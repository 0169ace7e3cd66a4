package archtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/demystify-resnet/repro"

// pkg is what the rules see of one package: its path inside the module
// ("core/nets"; "" for the module root) and the module-internal packages it
// imports, directly and transitively, with and without its tests.
type pkg struct {
	Path        string
	Imports     []string // direct, non-test
	Deps        []string // transitive, non-test
	TestImports []string // direct, of the _test.go files (both test packages)
}

// rule is one forbidden arrow. applies selects the importing packages;
// forbidden reports whether importing (or depending on) dep is forbidden;
// transitive says whether the rule is checked against every dependency or
// only against direct imports; tests says whether test files are bound too.
type rule struct {
	name       string
	why        string
	applies    func(p string) bool
	forbidden  func(dep string) bool
	transitive bool
	tests      bool
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

func not(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }

// rules are the layering of docs/design.md. Each reason says what breaks
// when the arrow appears.
var rules = []rule{
	{
		name: "core imports nothing of ours",
		why: "core is the mathematics: every plugin may import it, and its results must not depend on " +
			"the pipeline, the store or the plugin protocol; it is handed its inputs (an MNIST folder is " +
			"found by internal/mnistdir, outside core)",
		applies:    under("core"),
		forbidden:  not(under("core")),
		transitive: true,
	},
	{
		name: "core's tests import only core and internal/mnistdir",
		why: "core's tests check the mathematics on real data; finding that data is the one piece of " +
			"environment they need",
		applies:   under("core"),
		forbidden: func(d string) bool { return !under("core")(d) && d != "internal/mnistdir" },
		tests:     true,
	},
	{
		name: "artifacts imports only itself",
		why: "the store and the Parquet table layer sit below everything (engine, CLI, plugins read " +
			"tables); an import upward would make the storage format depend on its users",
		applies:    under("artifacts"),
		forbidden:  not(under("artifacts")),
		transitive: true,
	},
	{
		name: "the SDK never imports the store",
		why: "a plugin sees only the files the host hands it (inputs by path, an empty out dir); " +
			"reaching the store from the SDK would let a stage read or write cache entries behind " +
			"the engine's back and break the content-addressed keys",
		applies:    under("plugins/sdk"),
		forbidden:  func(d string) bool { return d == "artifacts" || under("pipeline")(d) },
		transitive: true,
	},
	{
		name: "plugins never import the engine",
		why: "plugins are separate binaries speaking the gRPC protocol; the engine (planner, " +
			"scheduler, cache, CLI) is the host's business, and a plugin importing it would tie " +
			"every plugin digest (part of every key) to the engine's code",
		applies:    under("plugins"),
		forbidden:  under("pipeline"),
		transitive: true,
	},
	{
		name: "the engine does not reach into core",
		why: "the engine schedules opaque stages and must not know the mathematics; only the bench " +
			"command, from its own package pipeline/internal/bench, times core's kernels",
		applies:   func(p string) bool { return under("pipeline")(p) && !under("pipeline/internal/bench")(p) },
		forbidden: under("core"),
	},
}

// violations returns one line per forbidden arrow in pkgs, sorted.
func violations(pkgs []pkg) []string {
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			if !r.applies(p.Path) {
				continue
			}
			deps := p.Imports
			switch {
			case r.tests:
				deps = p.TestImports
			case r.transitive:
				deps = p.Deps
			}
			for _, d := range deps {
				if d != p.Path && r.forbidden(d) {
					out = append(out, fmt.Sprintf("%s -> %s: breaks %q (%s)", show(p.Path), show(d), r.name, r.why))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func show(p string) string {
	if p == "" {
		return module
	}
	return p
}

// listed is the part of `go list -json` the test reads.
type listed struct {
	ImportPath   string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

// ours returns the module-relative paths of the module's packages among paths.
func ours(paths []string) []string {
	var out []string
	for _, p := range paths {
		switch {
		case p == module:
			out = append(out, "")
		case strings.HasPrefix(p, module+"/"):
			out = append(out, strings.TrimPrefix(p, module+"/"))
		}
	}
	return out
}

// load lists every package of the module with `go list -json`.
func load(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var l listed
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		path := ours([]string{l.ImportPath})
		if len(path) != 1 {
			t.Fatalf("go list returned %s, outside the module", l.ImportPath)
		}
		pkgs = append(pkgs, pkg{
			Path:        path[0],
			Imports:     ours(l.Imports),
			Deps:        ours(l.Deps),
			TestImports: ours(append(l.TestImports, l.XTestImports...)),
		})
	}
	return pkgs
}

// TestLayering fails on every forbidden import arrow of the module.
func TestLayering(t *testing.T) {
	pkgs := load(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; the module has more than 20", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestRulesCatch feeds each rule an arrow it forbids and one it allows, so a
// rule that matches nothing (a typo in a prefix) fails here.
func TestRulesCatch(t *testing.T) {
	cases := []struct {
		p    pkg
		want string // the rule that must fire, "" for none
	}{
		{pkg{Path: "core/nets", Deps: []string{"core/spectrum", "artifacts/table"}}, "core imports nothing of ours"},
		{pkg{Path: "core/data", TestImports: []string{"internal/mnistdir", "core/nets"}}, ""},
		{pkg{Path: "core/data", TestImports: []string{"plugins/schema"}}, "core's tests import only core and internal/mnistdir"},
		{pkg{Path: "artifacts/table", Deps: []string{"artifacts"}}, ""},
		{pkg{Path: "artifacts", Deps: []string{"core/nets"}}, "artifacts imports only itself"},
		{pkg{Path: "plugins/sdk", Deps: []string{"plugins/internal/proto", "artifacts"}}, "the SDK never imports the store"},
		{pkg{Path: "plugins/train", Deps: []string{"core/train", "plugins/sdk", "artifacts/table"}}, ""},
		{pkg{Path: "plugins/host", Deps: []string{"pipeline/internal/engine"}}, "plugins never import the engine"},
		{pkg{Path: "pipeline/internal/engine", Imports: []string{"core/nets"}}, "the engine does not reach into core"},
		{pkg{Path: "pipeline/internal/cli", Imports: []string{"pipeline/internal/bench"}, Deps: []string{"pipeline/internal/bench", "core/nets"}}, ""},
		{pkg{Path: "pipeline/internal/bench", Imports: []string{"core/nets"}}, ""},
	}
	for _, c := range cases {
		got := violations([]pkg{c.p})
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s: allowed arrow reported: %v", c.p.Path, got)
		case c.want != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), fmt.Sprintf("%q", c.want))):
			t.Errorf("%s: got %v, want a violation of %q", c.p.Path, got, c.want)
		}
	}
}
