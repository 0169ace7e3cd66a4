package cli_test

// End-to-end tests of the pipeline CLI: the real pipeline binary, real plugin
// binaries over real go-plugin, a real store on disk.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

var (
	pipelineBin string // the pipeline binary under test
	pluginDir   string // holds pipeline-plugin-testkit
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "cli-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	pipelineBin = filepath.Join(tmp, "pipeline")
	pluginDir = filepath.Join(tmp, "plugins")
	if err := hosttest.BuildFiles(tmp, map[string]string{
		"pipeline":                          hosttest.Module + "/pipeline",
		"plugins/pipeline-plugin-testkit":   hosttest.Testkit,
		"plugins/pipeline-plugin-enginekit": hosttest.Enginekit,
	}); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

type result struct {
	stdout, stderr string
	code           int
}

// pipeline runs the CLI in dir with the test plugin folder and the store dir/.pipeline.
func pipeline(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return pipelineWith(t, dir, pluginDir, args...)
}

// pipelineWith is pipeline with another plugin folder.
func pipelineWith(t *testing.T, dir, plugins string, args ...string) result {
	t.Helper()
	full := append([]string{"--plugin-dir", plugins, "--store", filepath.Join(dir, ".pipeline"), "--log-format", "json"}, args...)
	cmd := exec.Command(pipelineBin, full...)
	cmd.Dir = dir
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run pipeline: %v", err)
	}
	return result{so.String(), se.String(), code}
}

func writeManifest(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runJSON runs `pipeline run --json` and decodes the run record.
func runJSON(t *testing.T, dir string, args ...string) (engine.RunRecord, result) {
	t.Helper()
	r := pipeline(t, dir, append([]string{"run", "--json"}, args...)...)
	var rec engine.RunRecord
	if r.stdout != "" {
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
			t.Fatalf("decode run record: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
		}
	}
	return rec, r
}

func statuses(rec engine.RunRecord) map[string]engine.Status {
	out := map[string]engine.Status{}
	for _, s := range rec.Stages {
		out[s.Name] = s.Status
	}
	return out
}

const chain = `version: 1
seed: 3
stages:
  a:
    plugin: enginekit.det
    params: {label: first}
    matrix:
      n: [1, 2]
  b:
    plugin: enginekit.det
    params: {label: second}
    inputs:
      in: a.out
    publish: [out]
  c:
    plugin: enginekit.det
    params: {label: unrelated}
`

func TestRerunIsCachedAndParamChangeRerunsDependants(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	rec, r := runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatalf("first run exit %d: %s", r.code, r.stderr)
	}
	for name, st := range statuses(rec) {
		if st != engine.StatusRan {
			t.Errorf("first run: %s is %s, want ran", name, st)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "det.json")); err != nil {
		t.Errorf("published output missing: %v", err)
	}
	rec, r = runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatalf("second run exit %d: %s", r.code, r.stderr)
	}
	for name, st := range statuses(rec) {
		if st != engine.StatusCached {
			t.Errorf("second run: %s is %s, want cached", name, st)
		}
	}
	// Change one instance's parameter: exactly it and its dependant re-run.
	writeManifest(t, dir, strings.Replace(chain, "n: [1, 2]", "n: [1, 5]", 1))
	plan := pipeline(t, dir, "plan", "m.yaml")
	if !strings.Contains(plan.stdout, "a[n=5]") || !strings.Contains(plan.stdout, "never run") {
		t.Errorf("plan does not explain the miss:\n%s", plan.stdout)
	}
	rec, r = runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatalf("third run exit %d: %s", r.code, r.stderr)
	}
	want := map[string]engine.Status{"a[n=1]": engine.StatusCached, "a[n=5]": engine.StatusRan, "b": engine.StatusRan, "c": engine.StatusCached}
	got := statuses(rec)
	for name, st := range want {
		if got[name] != st {
			t.Errorf("after param change: %s is %s, want %s", name, got[name], st)
		}
	}
	// A changed param of b is explained by the key line that changed.
	writeManifest(t, dir, strings.Replace(strings.Replace(chain, "n: [1, 2]", "n: [1, 5]", 1), "label: second", "label: other", 1))
	plan = pipeline(t, dir, "plan", "m.yaml")
	if !strings.Contains(plan.stdout, "changed: params") {
		t.Errorf("plan does not name the changed key line:\n%s", plan.stdout)
	}
}

func TestCorruptArtifactIsRecomputed(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	rec, r := runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	var obj string
	for _, s := range rec.Stages {
		if s.Name == "c" {
			obj = s.Outputs["out"]
		}
	}
	path := filepath.Join(dir, ".pipeline", "objects", obj[:2], obj)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff // same size, different bytes
	os.Chmod(path, 0o644)
	if err := os.WriteFile(path, data, 0o444); err != nil {
		t.Fatal(err)
	}
	rec, r = runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatalf("rerun: %s", r.stderr)
	}
	if st := statuses(rec)["c"]; st != engine.StatusRan {
		t.Fatalf("tampered stage c is %s, want ran (recomputed)", st)
	}
	fixed, err := os.ReadFile(path)
	if err != nil || bytes.Equal(fixed, data) {
		t.Fatalf("object not repaired (err %v)", err)
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain+`  r:
    plugin: testkit.test.random
`)
	if _, r := runJSON(t, dir, "m.yaml"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	r := pipeline(t, dir, "verify", "--json", "m.yaml")
	if r.code != 1 {
		t.Fatalf("verify exit %d, want 1 (nondeterministic stage); stderr %s", r.code, r.stderr)
	}
	var rows []struct{ Stage, Verdict string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		want := "bitwise-equal"
		if row.Stage == "r" {
			want = "different"
		}
		if row.Verdict != want {
			t.Errorf("verify %s: %s, want %s", row.Stage, row.Verdict, want)
		}
	}
	if !strings.Contains(r.stderr, "stage r is not reproducible") {
		t.Errorf("verify does not name the first differing stage: %s", r.stderr)
	}
	if r := pipeline(t, dir, "verify", "m.yaml", "b"); r.code != 0 {
		t.Errorf("verify of deterministic target b: exit %d: %s", r.code, r.stderr)
	}
}

// TestBadInput checks one-line errors that say what and where, and exit codes.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name, manifest, want string
		code                 int
	}{
		{"unknown plugin", "version: 1\nstages:\n  a: {plugin: nosuch}\n", `m.yaml:3:15: stage "a": unknown plugin "nosuch" (found: `, 2},
		{"unknown stage", "version: 1\nstages:\n  a: {plugin: testkit.test.nope}\n", `plugin "testkit" has no stage "test.nope"`, 2},
		{"undeclared param", "version: 1\nstages:\n  a:\n    plugin: testkit.test.echo\n    params: {label: x, bogus: 1}\n", `m.yaml:5:24: stage "a": testkit.test.echo does not declare parameter "bogus"`, 2},
		{"wrong type", "version: 1\nstages:\n  a:\n    plugin: testkit.test.echo\n    params: {label: x, n: many}\n", `m.yaml:5:27: a: parameter "n": want int`, 2},
		{"missing required", "version: 1\nstages:\n  a:\n    plugin: testkit.test.echo\n", `m.yaml:3:3: a: required parameter "label"`, 2},
		{"unknown output", "version: 1\nstages:\n  a: {plugin: testkit.test.echo, params: {label: x}}\n  b:\n    plugin: testkit.test.echo\n    params: {label: y}\n    inputs: {one: a.nope}\n", `m.yaml:7:19: stage "b": input "one" refers to "a.nope", but test.echo has no output "nope"`, 2},
		{"many into one", "version: 1\nstages:\n  a: {plugin: testkit.test.echo, params: {label: x}, matrix: {n: [1, 2]}}\n  b:\n    plugin: testkit.test.echo\n    params: {label: y}\n    inputs: {one: a.echo}\n", `input "one" takes one file, but its references match 2 instances`, 2},
		{"malformed", "version: 1\nstages: [\n", "m.yaml:2:1: invalid YAML", 2},
		{"crash", "version: 1\nstages:\n  a: {plugin: testkit.test.crash}\n", "crashed during stage", 1},
		{"diagnostic", "version: 1\nstages:\n  a: {plugin: testkit.test.fail}\n", "stage a failed: diverged: loss became NaN at step 7", 1},
		{"writes nothing", "version: 1\nstages:\n  a: {plugin: testkit.test.badout, params: {mode: nothing}}\n", "stage a:", 1},
		{"hang", "version: 1\nstages:\n  a: {plugin: testkit.test.hang, timeout: 2s}\n", "timed out after 2s", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeManifest(t, dir, c.manifest)
			r := pipeline(t, dir, "run", "m.yaml")
			if r.code != c.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, c.code, r.stderr)
			}
			last := lastLine(r.stderr)
			if !strings.Contains(last, c.want) {
				t.Fatalf("last stderr line %q does not contain %q", last, c.want)
			}
			if !strings.HasPrefix(last, "pipeline: ") {
				t.Fatalf("error line %q lacks the pipeline: prefix", last)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestStoreErrors(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	// A store path that is a file.
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(pipelineBin, "--plugin-dir", pluginDir, "--store", filepath.Join(dir, "file"), "run", "m.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "not a directory") {
		t.Fatalf("store is a file: %v\n%s", err, out)
	}
	// A read-only store (a read-only bind mount; root ignores permission bits).
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("read-only bind mount needs root on Linux")
	}
	src, ro := filepath.Join(dir, "src"), filepath.Join(dir, "ro")
	os.MkdirAll(src, 0o755)
	os.MkdirAll(ro, 0o755)
	if out, err := exec.Command("mount", "--bind", src, ro).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount here (%v: %s); the read-only error path is covered by artifacts tests", err, out)
	}
	defer exec.Command("umount", ro).Run()
	if out, err := exec.Command("mount", "-o", "remount,ro,bind", ro).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v: %s", err, out)
	}
	cmd = exec.Command(pipelineBin, "--plugin-dir", pluginDir, "--store", filepath.Join(ro, "store"), "run", "m.yaml")
	cmd.Dir = dir
	out, err = cmd.CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "read-only file system") {
		t.Fatalf("read-only store: %v\n%s", err, out)
	}
	if n := strings.Count(strings.TrimSpace(string(out)), "\n"); n != 0 {
		t.Errorf("error is not one line:\n%s", out)
	}
}

func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	prof := filepath.Join(dir, "prof")
	if r := pipeline(t, dir, "run", "--cpuprofile", prof, "m.yaml"); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	entries, err := os.ReadDir(prof)
	if err != nil {
		t.Fatal(err)
	}
	var host, stages int
	for _, e := range entries {
		fi, _ := e.Info()
		switch {
		case e.Name() == "pipeline.pprof" && fi.Size() > 0:
			host++
		case strings.HasPrefix(e.Name(), "det-") && strings.HasSuffix(e.Name(), ".pprof") && fi.Size() > 0:
			stages++
		}
	}
	if host != 1 || stages != 4 {
		t.Fatalf("profiles: %d host, %d stage runs (want 1 and 4): %v", host, stages, entries)
	}
}

// TestKeepGoing: a failing stage stops its dependants; without --keep-going
// the run stops starting new stages, with it independent stages still run.
func TestKeepGoing(t *testing.T) {
	const m = `version: 1
stages:
  bad: {plugin: testkit.test.fail}
  after: {plugin: enginekit.det, inputs: {in: bad.out}}
  other: {plugin: enginekit.det, params: {label: independent}}
`
	dir := t.TempDir()
	writeManifest(t, dir, m)
	rec, r := runJSON(t, dir, "-j", "1", "m.yaml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	st := statuses(rec)
	if st["bad"] != engine.StatusFailed || st["after"] != engine.StatusSkipped || st["other"] != engine.StatusSkipped {
		t.Fatalf("without --keep-going: %v", st)
	}
	rec, r = runJSON(t, dir, "-j", "1", "--keep-going", "m.yaml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	st = statuses(rec)
	if st["bad"] != engine.StatusFailed || st["after"] != engine.StatusSkipped || st["other"] != engine.StatusRan {
		t.Fatalf("with --keep-going: %v", st)
	}
}
