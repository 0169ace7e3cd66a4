//go:build unix

package manifest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadOrHang runs LoadWith in the background and fails the test if it has
// not returned after a minute (it used to block forever, ignoring SIGTERM).
func loadOrHang(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := LoadWith(path, Options{Limits: DefaultLimits})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("LoadWith(%s) still blocked after a minute", path)
		return nil
	}
}

// A FIFO with no writer, as the manifest or as an include, is an error
// (empty manifest), not a command that blocks in open(2) for ever.
func TestFIFOManifestDoesNotHang(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	inc := filepath.Join(dir, "inc.yaml")
	if err := os.WriteFile(inc, []byte("version: 1\ninclude: fifo\nstages: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "fifo:1:1: empty manifest"},
		{inc, "stages is empty"}, // the include read as empty, the file went on
	} {
		err := loadOrHang(t, tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadWith(%s) = %v, want an error containing %q", tc.path, err, tc.want)
		}
	}
}

// A directory as the manifest or an include is refused with one line.
func TestDirectoryManifest(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.yaml")
	if err := os.WriteFile(inc, []byte("version: 1\ninclude: /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, inc} {
		err := loadOrHang(t, p)
		if err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("LoadWith(%s) = %v, want 'is a directory'", p, err)
		}
	}
}

// A file that is not a manifest (an include of /etc/passwd, say) is named in
// the error by its first bytes, not copied whole into the message.
func TestNonManifestScalarIsNotEchoed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(p, []byte(strings.Repeat("secret ", 100_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := loadOrHang(t, p)
	if err == nil || !strings.Contains(err.Error(), "manifest must be a mapping") {
		t.Fatalf("LoadWith = %v, want 'manifest must be a mapping'", err)
	}
	if n := len(err.Error()); n > 300 {
		t.Errorf("error message is %d bytes long, want a line: %.200s...", n, err)
	}
}

// Variable references cannot expand a small manifest into a huge one: what
// substitution adds is held to the manifest size limit (a 1 MB file once
// expanded to 1 GB, 3 GB of memory, in a minute).
func TestVariableExpansionIsBounded(t *testing.T) {
	big := strings.Repeat("x", 10_000)
	list := "[" + strings.Repeat("1,", 10_000) + "1]"
	var many strings.Builder // one list variable read by 100 stages
	many.WriteString("version: 1\nvars: {l: " + list + "}\nstages:\n")
	for i := range 100 {
		many.WriteString("  g" + strconv.Itoa(i) + ": {plugin: p.s, params: {xs: \"${l}\"}}\n")
	}
	for name, body := range map[string]string{
		"string": "version: 1\nvars: {big: " + big + "}\nstages:\n  g: {plugin: p.s, params: {label: \"" + strings.Repeat("${big}", 200) + "\"}}\n",
		"list":   many.String(),
	} {
		p := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadWith(p, Options{Limits: Limits{Bytes: 1 << 20}})
		if err == nil || !strings.Contains(err.Error(), "variable references expand the manifest by more than 1048576 bytes") {
			t.Errorf("%s: LoadWith = %v, want the expansion limit", name, err)
		}
	}
}
