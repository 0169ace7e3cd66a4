// Package hosttest builds plugin binaries (and the pipeline binary) for
// tests that need real ones: the one builder of the host's, the engine's,
// the CLI's and the plugins' own tests.
package hosttest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Module is the import path of this module; the constants below are the
// import paths of the plugins tests build (see plugins/testplugins for the
// test plugins' stages).
const (
	Module = "github.com/demystify-resnet/repro"
	// Example is the annotated reference plugin (plugins/example).
	Example = Module + "/plugins/example"
	// Testkit is the misbehaving test plugin.
	Testkit = Module + "/plugins/testplugins/testkit"
	// Enginekit's stages exercise the engine (tables, fan-in, failures).
	Enginekit = Module + "/plugins/testplugins/enginekit"
	// Worker's stages declare themselves persistent (plugins/testplugins/worker).
	Worker = Module + "/plugins/testplugins/worker"
	// Flood floods the host with log lines, files, bytes or descriptors.
	Flood = Module + "/plugins/testplugins/flood"
	// StoreHostile attacks the store through its inputs and outputs.
	StoreHostile = Module + "/plugins/testplugins/store-hostile"
	// LateWriter is a persistent plugin that writes after answering, from a
	// goroutine and from a child that outlives the task.
	LateWriter = Module + "/plugins/testplugins/latewriter"
)

// Build compiles each package of plugins (plugin name -> import path) into
// dir/pipeline-plugin-<name> with BuildFiles. Usable from TestMain:
//
//	dir, _ := os.MkdirTemp("", "plugins-")
//	err := hosttest.Build(dir, map[string]string{"example": hosttest.Example})
func Build(dir string, plugins map[string]string, flags ...string) error {
	files := make(map[string]string, len(plugins))
	for name, pkg := range plugins {
		files["pipeline-plugin-"+name] = pkg
	}
	return BuildFiles(dir, files, flags...)
}

// BuildFiles compiles each package of files (file name in dir -> import
// path) with `go build -trimpath` and the extra go build flags (e.g.
// "-ldflags=-X main.bias=0.001"), in one go command (links run in parallel;
// compiled packages come from the build cache); a file name may hold
// folders ("plugins/pipeline-plugin-x"), made as needed. It must run inside
// the module (any directory of it). Two packages with the same last path
// element need separate calls.
func BuildFiles(dir string, files map[string]string, flags ...string) error {
	if len(files) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hosttest: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("hosttest: %w", err)
	}
	defer os.RemoveAll(tmp)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	args := append([]string{"build", "-trimpath"}, flags...)
	args = append(args, "-o", tmp+string(os.PathSeparator))
	bases := map[string]bool{}
	for _, n := range names {
		b := path.Base(files[n])
		if bases[b] {
			return fmt.Errorf("hosttest: two packages named %q; build them in separate calls", b)
		}
		bases[b] = true
		args = append(args, files[n])
	}
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hosttest: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for _, n := range names {
		dst := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("hosttest: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, path.Base(files[n])), dst); err != nil {
			return fmt.Errorf("hosttest: %w", err)
		}
	}
	return nil
}
