package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/artifacts/safefile"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/slurm"
)

// Unit tests of the pieces that execCmd, showCmd and statusCmd are made of.

func code(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return -1
}

func TestReadTaskRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	aid := artifacts.ActionID(artifacts.HashBytes([]byte("x"))).String()
	good := `{"instance":"a","action_id":"` + aid + `","plugin_path":"/p","spec":{"name":"s"},"params":{"n":9007199254740993}}`
	cases := map[string]string{
		"trailing":  good + ` {}`,
		"badaction": `{"instance":"a","action_id":"zz","plugin_path":"/p","spec":{"name":"s"}}`,
		"noplugin":  `{"instance":"a","action_id":"` + aid + `","spec":{"name":"s"}}`,
		"notjson":   `{`,
	}
	for name, body := range cases {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readTask(p); code(err) != ExitUsage {
			t.Errorf("%s: %v (code %d), want exit %d", name, err, code(err), ExitUsage)
		}
	}
	if _, err := readTask(dir); code(err) != ExitUsage {
		t.Errorf("a folder: %v, want exit %d", err, ExitUsage)
	}
	// A planted task file past the bound (sparse: no disk used) is an
	// error naming it, read not at all (before: read whole into memory).
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, slurm.MaxTaskFileBytes+1); err != nil {
		t.Fatal(err)
	}
	if _, err := readTask(huge); code(err) != ExitUsage || !errors.Is(err, safefile.ErrTooLarge) || !strings.Contains(err.Error(), "huge.json") {
		t.Errorf("a task file past the bound: %v (code %d), want exit %d naming it", err, code(err), ExitUsage)
	}
	p := filepath.Join(dir, "good.json")
	if err := os.WriteFile(p, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	task, err := readTask(p)
	if err != nil || task.Instance != "a" || task.Spec.Name != "s" {
		t.Fatalf("good task: %+v, %v", task, err)
	}
	if n := task.Params["n"]; n == nil || n.(interface{ String() string }).String() != "9007199254740993" {
		t.Errorf("param n read as %v (%T), want the number as written", n, n)
	}
}

func TestExecReport(t *testing.T) {
	one := []*engine.Task{{Instance: "a"}}
	two := []*engine.Task{{Instance: "a"}, {Instance: "b"}}
	boom := errors.New("stage b: boom")
	a := &artifacts.Action{Files: map[string]string{"out": "out.txt"}}
	cases := []struct {
		name        string
		run         execRun
		interrupted error
		tasks       []*engine.Task
		code        int    // 0: no error
		err, stdout string // substrings
	}{
		{"one ok", execRun{results: []execResult{{Instance: "a", Action: a}}}, nil, one, 0, "", `"out.txt"`},
		{"one failed", execRun{results: []execResult{{Instance: "a", Error: boom.Error()}}, firstErr: boom, failed: 1}, nil, one, ExitStageFailed, "stage b: boom", ""},
		{"one interrupted", execRun{}, context.Canceled, one, ExitStageFailed, "exec: stage a: interrupted: context canceled", ""},
		{"several, one failed", execRun{results: []execResult{{Instance: "a", Action: a}, {Instance: "b", Error: boom.Error()}}, firstErr: boom, failed: 1},
			nil, two, ExitStageFailed, "exec: 1 of 2 tasks failed; the first: stage b: boom", `"error": "stage b: boom"`},
		{"several interrupted", execRun{results: []execResult{{Instance: "a", Action: a}}}, context.Canceled, two, ExitStageFailed,
			"exec: interrupted after 1 of 2 tasks", `"instance": "a"`},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := c.run.report(&out, c.interrupted, c.tasks)
		switch {
		case c.code == 0 && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.code != 0 && (code(err) != c.code || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v (code %d), want code %d and %q", c.name, err, code(err), c.code, c.err)
		}
		if !strings.Contains(out.String(), c.stdout) {
			t.Errorf("%s: printed %q, want %q in it", c.name, out.String(), c.stdout)
		}
	}
}

func TestOutputName(t *testing.T) {
	two := artifacts.Action{Outputs: map[string]artifacts.OutputID{"a": {}, "b": {}}}
	one := artifacts.Action{Outputs: map[string]artifacts.OutputID{"only": {}}}
	if n, err := outputName("s", one, nil); err != nil || n != "only" {
		t.Errorf("only output: %q %v", n, err)
	}
	if n, err := outputName("s", two, []string{"b"}); err != nil || n != "b" {
		t.Errorf("named output: %q %v", n, err)
	}
	if _, err := outputName("s", two, nil); code(err) != ExitUsage || err.Error() != "s has outputs a, b: name one" {
		t.Errorf("two outputs, none named: %v", err)
	}
	if _, err := outputName("s", one, []string{"x"}); code(err) != ExitUsage || err.Error() != `s has no output "x" (outputs: only)` {
		t.Errorf("unknown output: %v", err)
	}
}

func TestPrintLastRun(t *testing.T) {
	var out bytes.Buffer
	printLastRun(&out, &engine.RunRecord{Name: "r1", Status: "failed", Manifest: "m.yaml", Executor: "local", Seconds: 2,
		Stages: []engine.StageRecord{{Name: "a", Status: engine.StatusRan}, {Name: "b", Status: engine.StatusFailed, Error: "line 1\n\x1b[31mred"}},
		Counts: map[engine.Status]int{engine.StatusRan: 1, engine.StatusFailed: 1}})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "last run r1: failed, manifest m.yaml, executor local, ") ||
		!strings.HasSuffix(lines[0], ", 2 stages (1 ran, 0 cached, 1 failed, 0 skipped)") {
		t.Fatalf("printed %q", out.String())
	}
	// A stage's error from the record is quoted, not sent to the terminal.
	if want := `  failed: b: "line 1\n\x1b[31mred"`; lines[1] != want {
		t.Errorf("failed line %q, want %q", lines[1], want)
	}
	out.Reset()
	printLastRun(&out, &engine.RunRecord{Name: "r2", Status: "running", PID: 7, Host: "node1", Seconds: 1})
	if !strings.Contains(out.String(), "last run r2: running (pid 7 on node1; this record was saved ") {
		t.Errorf("running record printed %q", out.String())
	}
}
