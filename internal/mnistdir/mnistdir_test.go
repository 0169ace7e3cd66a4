package mnistdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MNIST_DIR", dir)
	if _, err := Find(); err == nil || !strings.Contains(err.Error(), "$MNIST_DIR") {
		t.Fatalf("empty $MNIST_DIR: err = %v, want one naming $MNIST_DIR", err)
	}
	if err := os.WriteFile(filepath.Join(dir, probe), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Find(); err != nil || got != dir {
		t.Fatalf("Find = %q, %v; want %q", got, err, dir)
	}
}

// Without a go binary on PATH, Find falls back to $GOMODCACHE.
func TestFindWithoutGo(t *testing.T) {
	cache := t.TempDir()
	d := InCache(cache)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MNIST_DIR", "")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOMODCACHE", filepath.Join(t.TempDir(), "empty"))
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "nogopath"))
	t.Setenv("HOME", t.TempDir())
	if _, err := Find(); err == nil || !strings.Contains(err.Error(), "tried:") {
		t.Fatalf("no files anywhere: err = %v, want the list of places tried", err)
	}
	if err := os.WriteFile(filepath.Join(d, probe), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMODCACHE", cache)
	if got, err := Find(); err != nil || got != d {
		t.Fatalf("Find = %q, %v; want %q", got, err, d)
	}
}

// Version must be the version go.mod requires, or Find looks in the wrong place.
func TestVersionMatchesGoMod(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), Module+" "+Version) {
		t.Fatalf("go.mod does not require %s %s", Module, Version)
	}
}
