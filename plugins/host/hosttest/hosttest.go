// Package hosttest builds plugin binaries for tests that need real plugins
// (the host's own tests, the engine's tests).
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

// Example and Testkit are the import paths of the example plugin and of the
// misbehaving test plugin (see plugins/testplugins/testkit for its stages).
const (
	Example = "github.com/demystify-resnet/repro/plugins/example"
	Testkit = "github.com/demystify-resnet/repro/plugins/testplugins/testkit"
	// Worker's stages declare themselves persistent (plugins/testplugins/worker).
	Worker = "github.com/demystify-resnet/repro/plugins/testplugins/worker"
)

// Build compiles each package of plugins (plugin name -> import path) with
// `go build -trimpath` into dir/pipeline-plugin-<name>, in one go command
// (links run in parallel; compiled packages come from the build cache). It
// must run inside the module (any directory of it). Usable from TestMain:
//
//	dir, _ := os.MkdirTemp("", "plugins-")
//	err := hosttest.Build(dir, map[string]string{"example": hosttest.Example})
func Build(dir string, plugins map[string]string) error {
	if len(plugins) == 0 {
		return nil
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("hosttest: %w", err)
	}
	defer os.RemoveAll(tmp)
	names := make([]string, 0, len(plugins))
	for n := range plugins {
		names = append(names, n)
	}
	slices.Sort(names)
	args := []string{"build", "-trimpath", "-o", tmp + string(os.PathSeparator)}
	bases := map[string]bool{}
	for _, n := range names {
		b := path.Base(plugins[n])
		if bases[b] {
			return fmt.Errorf("hosttest: two packages named %q; build them in separate calls", b)
		}
		bases[b] = true
		args = append(args, plugins[n])
	}
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hosttest: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for _, n := range names {
		dst := filepath.Join(dir, "pipeline-plugin-"+n)
		if err := os.Rename(filepath.Join(tmp, path.Base(plugins[n])), dst); err != nil {
			return fmt.Errorf("hosttest: %w", err)
		}
	}
	return nil
}
