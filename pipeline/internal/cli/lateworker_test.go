package cli_test

// A hostile persistent worker (issue 14, third look): the plugin
// plugins/testplugins/latewriter keeps writing after it has answered, from a
// goroutine of the worker (appending and rewriting, or replacing its output
// by a symbolic link) and from a child process that outlives the task and
// attacks the store and the next task's staging folder.

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

const lateManifest = `version: 1
stages:
  a:
    plugin: latewriter.late.w
    matrix:
      label: [alpha, beta, gamma]
  b:
    plugin: latewriter.late.w
    params: {label: delta}
    publish: true
    inputs:
      in: a.out
  r:
    plugin: latewriter.late.w
    params: {label: rho, mode: replace}
`

// lateContent is what latewriter's late.w writes (and all a fresh process
// leaves): size bytes repeating label.
func lateContent(label string, size int) []byte {
	return bytes.Repeat([]byte(label), size/len(label)+1)[:size]
}

// TestPersistentWorkerLateWrites: whatever a persistent worker does after
// answering, the cache holds exactly the bytes of the answer, every object
// hashes to its name, `verify` (fresh processes) finds everything
// bitwise-equal, a second run reuses verified bytes, the child the worker
// forked does not outlive its task, and no process of the plugin survives
// the run; with one worker (-j1) and with two side by side (-j2).
func TestPersistentWorkerLateWrites(t *testing.T) {
	plugins := t.TempDir()
	if err := hosttest.Build(plugins, map[string]string{"latewriter": hosttest.LateWriter}); err != nil {
		t.Fatal(err)
	}
	for _, jobs := range []string{"1", "2"} {
		t.Run("j"+jobs, func(t *testing.T) { lateWrites(t, plugins, jobs) })
	}
}

func lateWrites(t *testing.T, plugins, jobs string) {
	dir := t.TempDir()
	writeManifest(t, dir, lateManifest)
	logPath := filepath.Join(dir, "late.log")
	t.Setenv("LATE_LOG", logPath)
	t.Cleanup(func() { killLogged(logPath) })

	r := pipelineWith(t, dir, plugins, "run", "--json", "-j", jobs, "--out", "out", "m.yaml")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	workers, children, attacks := lateLog(t, logPath)
	if len(workers) == 0 || len(children) < 5 {
		t.Fatalf("the plugin did not run as expected: workers %v, children %v", workers, children)
	}
	// Each task's worker starts writing to its output when the host opens
	// it to store it; the host stops the worker (SIGSTOP) before that, so
	// the writes come after the output is stored, and a task whose output
	// did change anyway is rerun in a fresh process (describe, then at most
	// a worker and a fresh process per task).
	if len(workers) > 1+2*5 {
		t.Errorf("%d plugin processes for 5 tasks", len(workers))
	}
	for _, pid := range append(workers, children...) {
		if alive(pid) {
			t.Errorf("process %d of the plugin is alive after the run", pid)
		}
	}
	if len(attacks) > 0 {
		t.Errorf("children %v outlived their task (their OutDir was removed while they ran)", attacks)
	}

	var rec engine.RunRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("run record: %v\n%s", err, r.stdout)
	}
	checkObjects(t, dir)
	for _, s := range rec.Stages {
		label := map[string]string{"b": "delta", "r": "rho"}[s.Name]
		if strings.HasPrefix(s.Name, "a[") {
			label = strings.TrimSuffix(strings.TrimPrefix(s.Name, "a[label="), "]")
		}
		got, err := os.ReadFile(objectPath(dir, s.Outputs["out"]))
		if err != nil {
			t.Fatal(err)
		}
		if want := lateContent(label, 4<<20); !bytes.Equal(got, want) {
			t.Errorf("%s: the cached output is not the answer (%d bytes, want %d; starts %.8q)", s.Name, len(got), len(want), got)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out", "out.bin")); !bytes.Equal(b, lateContent("delta", 4<<20)) {
		t.Errorf("out/out.bin is not b's answer (%d bytes)", len(b))
	}
	if left, _ := os.ReadDir(filepath.Join(dir, ".pipeline", "tmp")); len(left) > 0 {
		t.Errorf("the run left %d entries in tmp/, e.g. %s", len(left), left[0].Name())
	}

	if r := pipelineWith(t, dir, plugins, "verify", "m.yaml"); r.code != 0 {
		t.Errorf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = pipelineWith(t, dir, plugins, "run", "--json", "-j", jobs, "--out", "out", "m.yaml")
	if r.code != 0 {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	var rec2 engine.RunRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec2); err != nil {
		t.Fatal(err)
	}
	for _, s := range rec2.Stages {
		if s.Status != engine.StatusCached {
			t.Errorf("second run: %s %s, want cached", s.Name, s.Status)
		}
	}
}

// lateLog reads latewriter's $LATE_LOG: the pids of its worker processes,
// of its children, and of the children that started attacking.
func lateLog(t *testing.T, path string) (workers, children, attacks []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		switch f[0] {
		case "worker":
			workers = append(workers, pid)
		case "child":
			children = append(children, pid)
		case "attack":
			attacks = append(attacks, pid)
		}
	}
	return workers, children, attacks
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// killLogged ends what a failed test may have left running: the logged
// processes that are still the plugin's (their environment names the log).
func killLogged(path string) {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil || pid <= 1 || !alive(pid) {
			continue
		}
		env, _ := os.ReadFile("/proc/" + f[1] + "/environ")
		if bytes.Contains(env, []byte("LATE_LOG="+path+"\x00")) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
