package host_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/plugins/host"
)

// copyBinary copies the test binary called name to a fresh directory as
// pipeline-plugin-<as> and returns its path.
func copyBinary(t *testing.T, name, as string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(binDir, host.FilePrefix+name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), host.FilePrefix+as)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func runEcho(p *host.Plugin, out string, log zerolog.Logger) error {
	_, err := host.Run(context.Background(), p, host.RunRequest{
		Stage: "test.echo", Params: map[string]any{"label": "x"}, OutDir: out, Log: log})
	return err
}

func TestModifiedBinaryRefused(t *testing.T) {
	// A task recorded with the digest of one binary (as `pipeline exec`
	// receives it) must not run another binary found at the same path.
	path := copyBinary(t, "testkit", "tampered")
	digest, err := host.FileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	// Appending bytes keeps the ELF runnable but changes its sha256.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("tampered")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ref := load(t, "testkit")
	p := &host.Plugin{Name: "tampered", Path: path, Digest: digest, Stages: ref.Stages}
	out := t.TempDir()
	log, _ := testLogger(zerolog.WarnLevel)
	err = runEcho(p, out, log)
	if !errors.Is(err, host.ErrBinaryChanged) || !strings.Contains(err.Error(), "changed since discovery") {
		t.Fatalf("want ErrBinaryChanged, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "echo.json")); err == nil {
		t.Fatal("the modified binary ran")
	}
	// Restoring the original bytes makes the same task runnable again: the
	// refusal was not cached.
	b, err := os.ReadFile(ref.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runEcho(p, t.TempDir(), log); err != nil {
		t.Fatalf("restored binary: %v", err)
	}
}

func TestBinarySwappedMidRun(t *testing.T) {
	// After discovery the binary is replaced by another plugin (as `make
	// build` does during a long run): every later launch must still execute
	// the bytes that were hashed, never the new file.
	path := copyBinary(t, "testkit", "swapped")
	log, _ := testLogger(zerolog.WarnLevel)
	p, err := host.Load(context.Background(), path, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := runEcho(p, t.TempDir(), log); err != nil {
		t.Fatal(err)
	}
	other := copyBinary(t, "example", "swapped")
	if err := os.Rename(other, path); err != nil { // atomic replacement, a new inode
		t.Fatal(err)
	}
	for i := range 3 {
		out := t.TempDir()
		// The example plugin has no test.echo: only the original bytes can
		// succeed here.
		if err := runEcho(p, out, log); err != nil {
			t.Fatalf("launch %d after the swap: %v", i, err)
		}
		if _, err := os.Stat(filepath.Join(out, "echo.json")); err != nil {
			t.Fatalf("launch %d: %v", i, err)
		}
	}
	// In-place rewrite of the same inode (a copy over the file) is covered
	// too: the snapshot is a sealed in-memory copy, not a link.
	ex, err := os.ReadFile(filepath.Join(binDir, host.FilePrefix+"example"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, ex, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := runEcho(p, t.TempDir(), log); err != nil {
		t.Fatalf("after an in-place rewrite: %v", err)
	}
	// A fresh discovery sees the new binary under its own digest.
	q, err := host.Load(context.Background(), path, log)
	if err != nil {
		t.Fatal(err)
	}
	if q.Digest == p.Digest {
		t.Fatal("rediscovery kept the old digest")
	}
	if _, ok := q.Stage("example.scale"); !ok {
		t.Fatalf("rediscovered stages: %v", q.Stages)
	}
}

// readPids reads the pids the hostile scripts appended to a file.
func readPids(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no pids recorded: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitDead fails the test if a pid is still alive after d.
func waitDead(t *testing.T, d time.Duration, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, pid := range pids {
		for !pidDead(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("process %d is an orphan: still alive", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// scriptPlugin copies a hostile script of plugins/testplugins/scripts to a
// fresh directory, pointing it at a pid file (and at exe, for scripts that
// exec a real plugin).
func scriptPlugin(t *testing.T, name, exe string) (path, pids string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testplugins", "scripts", host.FilePrefix+name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path = filepath.Join(dir, host.FilePrefix+name)
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	pids = filepath.Join(dir, "pids")
	t.Setenv("HOSTILE_PIDS", pids)
	t.Setenv("HOSTILE_EXEC", exe)
	return path, pids
}

func TestGrandchildHoldingPipes(t *testing.T) {
	// A script that leaves a sleep holding stdout/stderr, then execs the
	// real plugin: discovery and a run complete, and every sleep dies.
	path, pids := scriptPlugin(t, "forker", filepath.Join(binDir, host.FilePrefix+"testkit"))
	log, _ := testLogger(zerolog.WarnLevel)
	start := time.Now()
	p, err := host.Load(context.Background(), path, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := runEcho(p, t.TempDir(), log); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("describe + run took %s", d)
	}
	got := readPids(t, pids)
	if len(got) != 2 {
		t.Fatalf("want a sleep per launch, got pids %v", got)
	}
	waitDead(t, 5*time.Second, got...)
}

func TestChildInheritingStderr(t *testing.T) {
	// An SDK plugin whose stage starts a child that inherits its stderr (the
	// one the SDK relays, or descriptor 2) and returns: the stage succeeds,
	// is not reported timed out, and the child is ended with the plugin.
	p := load(t, "testkit")
	for _, mode := range []string{"captured", "raw"} {
		t.Run(mode, func(t *testing.T) {
			out := t.TempDir()
			log, _ := testLogger(zerolog.WarnLevel)
			start := time.Now()
			res, err := host.Run(context.Background(), p, host.RunRequest{
				Stage: "test.orphan", Params: map[string]any{"mode": mode}, OutDir: out, Log: log,
				Timeout: 15 * time.Second})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Failed() || res.Outputs["out"] != "out.txt" {
				t.Fatalf("result %+v", res)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("Run took %s", d)
			}
			b, err := os.ReadFile(filepath.Join(out, "child.pid"))
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(string(b))
			waitDead(t, 5*time.Second, pid)
		})
	}
}

func TestHandshakeNeverComesCancel(t *testing.T) {
	// A script that never performs the handshake and whose child holds its
	// pipes: cancelling discovery returns at once and ends the child.
	path, pids := scriptPlugin(t, "sleeper", "")
	log, _ := testLogger(zerolog.WarnLevel)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := host.Load(ctx, path, log)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Load returned after %s", d)
	}
	waitDead(t, 5*time.Second, readPids(t, pids)...)
}

func TestSIGTERMHonoured(t *testing.T) {
	// A host process (see sigtermHelper) discovering the sleeper script is
	// sent SIGTERM: it exits promptly and leaves no orphan.
	path, pids := scriptPlugin(t, "sleeper", "")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOST_TEST_SIGTERM_HELPER="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // best-effort cleanup
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, _ := os.ReadFile(pids); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("helper never launched the script")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("host ignored SIGTERM")
	}
	waitDead(t, 5*time.Second, readPids(t, pids)...)
}
