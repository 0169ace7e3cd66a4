package stagekit

import (
	"fmt"
	"path/filepath"

	"github.com/demystify-resnet/repro/internal/mnistdir"
)

// FindMNIST returns the folder holding the MNIST IDX .gz files. A non-empty
// param (the datagen stage's mnist_dir) is used as is and must contain
// train-images-idx3-ubyte.gz. Otherwise it is mnistdir.Find ($MNIST_DIR, then
// `go list -m` and `go env GOMODCACHE`, then the module cache locations that
// need no `go` binary: $GOMODCACHE, $GOPATH/pkg/mod and $HOME/go/pkg/mod),
// whose error lists everything tried.
func FindMNIST(param string) (string, error) {
	const probe = "train-images-idx3-ubyte.gz"
	if param != "" {
		if Exists(filepath.Join(param, probe)) {
			return param, nil
		}
		return "", fmt.Errorf("mnist_dir %q has no %s", param, probe)
	}
	dir, err := mnistdir.Find()
	if err != nil {
		return "", fmt.Errorf("%w (or set the mnist_dir param)", err)
	}
	return dir, nil
}
