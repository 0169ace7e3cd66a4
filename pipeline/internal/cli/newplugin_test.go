package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNewPlugin follows docs/plugins.md's tutorial: `pipeline new-plugin
// hello` inside the module, the generated test, the printed build command
// (the Makefile's flags), `pipeline plugins`, the generated manifest run twice.
// It checks that the tutorial's listings are the generated files, and that a
// comment-only edit that moves no line keeps the binary digest while a code
// edit changes it.
func TestNewPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a generated plugin")
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// Inside the module (a plugin must live there), under testdata so that
	// `go ... ./...` elsewhere never sees it.
	gen, err := os.MkdirTemp("testdata", "newplugin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(gen) })
	dir, _ := filepath.Abs(filepath.Join(gen, "hello"))
	rel, _ := filepath.Rel(root, dir)

	cmd := exec.Command(pipelineBin, "new-plugin", "--dir", dir, "hello")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("new-plugin: %v\n%s", err, out)
	}
	for _, f := range []string{"main.go", "main_test.go", "manifest.yaml"} {
		if !strings.Contains(string(out), "wrote "+filepath.Join(rel, f)) {
			t.Errorf("new-plugin output does not name %s:\n%s", f, out)
		}
	}
	build := regexp.MustCompile(`(?m)^  (CGO_ENABLED=0 go build .*)$`).FindStringSubmatch(string(out))
	if build == nil {
		t.Fatalf("new-plugin printed no build command:\n%s", out)
	}
	wantBuild := "CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-buildid= -o bin/pipeline-plugin-hello ./" + filepath.ToSlash(rel)
	if build[1] != wantBuild {
		t.Fatalf("build command %q, want %q (the Makefile's GOBUILD)", build[1], wantBuild)
	}
	checkMakefileFlags(t, root)
	checkTutorial(t, root, dir, filepath.ToSlash(rel))

	if out, err := runIn(root, "go", "test", "-count=1", "./"+filepath.ToSlash(rel)); err != nil {
		t.Fatalf("the generated test fails: %v\n%s", err, out)
	}

	bin := t.TempDir()
	digest := func() string {
		t.Helper()
		cmdline := strings.Replace(build[1], "-o bin/", "-o "+bin+"/", 1)
		if out, err := runIn(root, "sh", "-c", cmdline); err != nil {
			t.Fatalf("%s: %v\n%s", cmdline, err, out)
		}
		b, err := os.ReadFile(filepath.Join(bin, "pipeline-plugin-hello"))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	main := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	d0 := digest()
	edit := func(old, new string) {
		t.Helper()
		s := strings.Replace(string(src), old, new, 1)
		if s == string(src) {
			t.Fatalf("main.go has no %q", old)
		}
		if err := os.WriteFile(main, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("// Run does the work:", "// Run does all of the work, and")
	if d := digest(); d != d0 {
		t.Errorf("a comment-only edit changed the digest: %s -> %s", d0[:12], d[:12])
	}
	edit(`default:"8"`, `default:"9"`)
	if d := digest(); d == d0 {
		t.Errorf("a code edit kept the digest %s", d0[:12])
	}
	if err := os.WriteFile(main, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if d := digest(); d != d0 {
		t.Fatalf("rebuilding the original source gave %s, want %s", d[:12], d0[:12])
	}

	store := filepath.Join(t.TempDir(), "store")
	pipe := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(pipelineBin, append([]string{"--plugin-dir", bin, "--store", store, "--log-level", "warn"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pipeline %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := pipe("plugins"); !strings.Contains(out, "stage hello.draw (version 1)") {
		t.Fatalf("pipeline plugins does not list hello.draw:\n%s", out)
	}
	if out := pipe("run", "manifest.yaml"); !strings.Contains(out, "3 stages: 3 ran, 0 cached") {
		t.Fatalf("first run:\n%s", out)
	}
	if out := pipe("run", "manifest.yaml"); !strings.Contains(out, "3 stages: 0 ran, 3 cached") {
		t.Fatalf("second run:\n%s", out)
	}
	csv := pipe("show", "--format", "csv", "manifest.yaml", "shifted")
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 13 || lines[0] != "i,x" {
		t.Fatalf("shifted: want a header and 4+8 rows:\n%s", csv)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "rows.parquet")); err != nil {
		t.Fatalf("published output: %v", err)
	}
}

func runIn(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// checkMakefileFlags fails if the Makefile's GOBUILD no longer uses the flags
// new-plugin prints: the two builds would give different digests, and
// switching between them would throw the plugin's cache away.
func checkMakefileFlags(t *testing.T, root string) {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "$(GO) build -trimpath -buildvcs=false -ldflags=-buildid= ") {
		t.Fatal("Makefile GOBUILD differs from new-plugin's build command (pipeline/internal/cli.PluginBuild)")
	}
}

// checkTutorial checks that docs/plugins.md shows the generated files: each
// listing follows a line `<!-- new-plugin hello: FILE -->`.
func checkTutorial(t *testing.T, root, dir, rel string) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "plugins.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "main_test.go", "manifest.yaml"} {
		re := regexp.MustCompile("(?s)<!-- new-plugin hello: " + regexp.QuoteMeta(f) + " -->\n```[a-z]*\n(.*?)```\n")
		m := re.FindSubmatch(doc)
		if m == nil {
			t.Errorf("docs/plugins.md has no listing of %s", f)
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want := strings.ReplaceAll(string(got), rel, "plugins/hello")
		if string(m[1]) != want {
			t.Errorf("docs/plugins.md's %s is not what new-plugin writes; the generated file is:\n%s", f, want)
		}
	}
}
