package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPlanAfterFailureAndSummary: after a run in which a stage failed, plan
// gives the true reason (the run it failed in), and --summary prints one row
// per manifest stage.
func TestPlanAfterFailureAndSummary(t *testing.T) {
	const m = `version: 1
stages:
  bad: {plugin: testkit.test.fail}
  gen:
    plugin: enginekit.det
    matrix: {n: [1, 2, 3]}
`
	dir := t.TempDir()
	writeManifest(t, dir, m)
	rec, r := runJSON(t, dir, "-j", "1", "--keep-going", "m.yaml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	r = pipeline(t, dir, "plan", "--json", "m.yaml")
	var rows []struct{ Stage, Status, Reason string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, row := range rows {
		if row.Stage == "bad" && (row.Status != "miss" || row.Reason != "failed in run "+rec.Name) {
			t.Errorf("bad: %s %q, want miss %q", row.Status, row.Reason, "failed in run "+rec.Name)
		}
	}
	r = pipeline(t, dir, "plan", "--summary", "m.yaml")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "STAGE") || !strings.Contains(lines[2], "gen") ||
		!strings.Contains(lines[1], "failed in run") || lines[3] != "4 stages: 3 cached, 1 to run" {
		t.Errorf("plan --summary:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[2]); len(f) < 6 || f[2] != "3" || f[3] != "3" || f[4] != "0" {
		t.Errorf("gen row %q: want 3 instances, 3 hits, 0 misses", lines[2])
	}
}

// TestRunOutputAtScale: on a console, per-stage lines appear only at debug
// level; JSON logs keep every stage's events.
func TestRunOutputAtScale(t *testing.T) {
	const m = `version: 1
stages:
  gen:
    plugin: enginekit.det
    matrix: {n: [1, 2, 3, 4, 5, 6, 7, 8]}
`
	dir := t.TempDir()
	writeManifest(t, dir, m)
	r := pipeline(t, dir, "--log-format", "console", "run", "--out", "", "m.yaml")
	if r.code != 0 || strings.Contains(r.stderr, "gen[n=") {
		t.Fatalf("console run at info printed per-stage lines (exit %d):\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "8 stages: 8 ran, 0 cached, 0 failed, 0 skipped") {
		t.Errorf("no summary line:\n%s", r.stderr)
	}
	r = pipeline(t, dir, "--log-format", "console", "--log-level", "debug", "run", "--out", "", "m.yaml")
	if strings.Count(r.stderr, "cached") < 8 {
		t.Errorf("debug run did not log each cached stage:\n%s", r.stderr)
	}
	dir2 := t.TempDir()
	writeManifest(t, dir2, m)
	r = pipeline(t, dir2, "run", "--out", "", "m.yaml") // the helper logs JSON
	if n := strings.Count(r.stderr, `"message":"done"`); n != 8 {
		t.Errorf("JSON logs have %d done events, want 8:\n%s", n, r.stderr)
	}
}

// TestSetAndLimitFlags: --set overrides a variable; limits refuse with one line.
func TestSetAndLimitFlags(t *testing.T) {
	const m = `version: 1
vars: {ns: [1, 2]}
stages:
  gen:
    plugin: enginekit.det
    matrix: {n: "${ns}"}
`
	dir := t.TempDir()
	writeManifest(t, dir, m)
	r := pipeline(t, dir, "--set", "ns=[1, 2, 3]", "plan", "m.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "3 stages: 0 cached, 3 to run") {
		t.Fatalf("--set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = pipeline(t, dir, "--max-stages", "1", "plan", "m.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "m.yaml:4:3: stage \"gen\": the manifest expands to more than 1 stage instances") {
		t.Fatalf("--max-stages: exit %d\n%s", r.code, r.stderr)
	}
	r = pipeline(t, dir, "--max-stages", "lots", "plan", "m.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "--max-stages") {
		t.Fatalf("bad --max-stages: exit %d\n%s", r.code, r.stderr)
	}
}
