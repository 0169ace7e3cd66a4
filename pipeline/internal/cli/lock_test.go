package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

const lockManifest = `version: 1
seed: 5
stages:
  t1:
    plugin: enginekit.table
    params: {n: 40}
  t2:
    plugin: enginekit.det
    params: {label: below}
    inputs:
      in: t1.out
  t3:
    plugin: enginekit.det
    params: {label: unrelated}
`

// TestLockCatchesAChangedNumber is the workflow of docs/reproduction.md: lock
// the results, change code so that one number changes (here: a plugin binary
// rebuilt with another constant, as a one-line change in core/ would do),
// and `run --locked` fails naming the stage where the difference starts and
// its size; after `pipeline lock` it passes again.
func TestLockCatchesAChangedNumber(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, lockManifest)
	if r := pipeline(t, dir, "run", "--out", "", "m.yaml"); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	if r := pipeline(t, dir, "run", "--locked", "--out", "", "m.yaml"); r.code != 4 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("--locked without a lock: exit %d, want 4 and a hint: %s", r.code, r.stderr)
	}
	if r := pipeline(t, dir, "lock", "m.yaml"); r.code != 0 {
		t.Fatalf("lock: exit %d: %s", r.code, r.stderr)
	}
	first, err := os.ReadFile(filepath.Join(dir, "m.lock"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Stages []struct {
			Name    string
			Outputs map[string]struct {
				ID    string
				Table *struct{ Rows int64 }
			}
		}
	}
	if err := json.Unmarshal(first, &lock); err != nil {
		t.Fatalf("lock is not JSON: %v", err)
	}
	if len(lock.Stages) != 3 || lock.Stages[0].Name != "t1" || lock.Stages[0].Outputs["out"].Table == nil || lock.Stages[0].Outputs["out"].Table.Rows != 40 {
		t.Fatalf("lock content: %s", first)
	}
	// The lock is stable: locking again writes the same bytes.
	if r := pipeline(t, dir, "lock", "m.yaml"); r.code != 0 {
		t.Fatalf("second lock: exit %d: %s", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "m.lock")); string(again) != string(first) {
		t.Fatal("locking the same results twice gave different files")
	}
	if r := pipeline(t, dir, "run", "--locked", "--out", "", "m.yaml"); r.code != 0 {
		t.Fatalf("--locked on unchanged results: exit %d: %s", r.code, r.stderr)
	}

	// "Change one line of code": the same plugin rebuilt with bias 0.001,
	// found first on the search path.
	changed := filepath.Join(t.TempDir(), "changed")
	if err := hosttest.Build(changed, map[string]string{"enginekit": hosttest.Enginekit}, "-ldflags=-X main.bias=0.001"); err != nil {
		t.Fatalf("build changed plugin: %v", err)
	}
	r := pipelineWith(t, dir, changed, "run", "--locked", "--out", "", "m.yaml")
	if r.code != 4 {
		t.Fatalf("--locked after a change: exit %d, want 4: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"root: t1 (enginekit.table)",                   // the root of the difference
		"column x: 40 value(s) differ, first at row 0", // decoded, exact (old object still in the store)
		"largest difference 0.001 absolute",
		"changed because an input changed (1): t2", // explained by the root
		"first diverging stage: t1",
		"pipeline lock m.yaml",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--locked output lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, report, _ := strings.Cut(r.stderr, "differs from"); strings.Contains(report, "t3") {
		t.Errorf("the unchanged stage t3 is reported:\n%s", r.stderr)
	}
	// On a fresh store (a CI machine) the old bytes are gone: the diff comes
	// from the lock's column summaries.
	fresh := t.TempDir()
	writeManifest(t, fresh, lockManifest)
	if err := os.WriteFile(filepath.Join(fresh, "m.lock"), first, 0o644); err != nil {
		t.Fatal(err)
	}
	r = pipelineWith(t, fresh, changed, "run", "--locked", "--out", "", "m.yaml")
	if r.code != 4 || !strings.Contains(r.stderr, "root: t1") || !strings.Contains(r.stderr, "column x: changed (from the lock's summaries") {
		t.Errorf("--locked on a fresh store: exit %d:\n%s", r.code, r.stderr)
	}
	if r := pipelineWith(t, dir, changed, "lock", "--check", "m.yaml"); r.code != 4 {
		t.Errorf("lock --check after a change: exit %d, want 4: %s", r.code, r.stderr)
	}
	// Accept the change: lock, and the check passes again.
	if r := pipelineWith(t, dir, changed, "lock", "m.yaml"); r.code != 0 || !strings.Contains(r.stderr, "root: t1") {
		t.Fatalf("lock after a change: exit %d (want 0, printing what changed): %s", r.code, r.stderr)
	}
	if r := pipelineWith(t, dir, changed, "run", "--locked", "--out", "", "m.yaml"); r.code != 0 {
		t.Fatalf("--locked after re-locking: exit %d: %s", r.code, r.stderr)
	}
}

func TestLockNeedsCachedResults(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, lockManifest)
	r := pipeline(t, dir, "lock", "m.yaml")
	if r.code != 1 || !strings.Contains(r.stderr, "3 of 3 stages of m.yaml have no cached result") || !strings.Contains(r.stderr, "pipeline run m.yaml") {
		t.Errorf("lock before any run: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "m.lock")); err == nil {
		t.Error("a lock was written without results")
	}
}

const sweepManifest = `version: 1
seed: 9
stages:
  train:
    plugin: enginekit.det
    matrix:
      n: [1, 2, 3]
  best:
    plugin: enginekit.det
    params: {label: best}
    inputs:
      in: train.out
  other:
    plugin: enginekit.det
    params: {label: untouched}
  report:
    plugin: enginekit.claims
    inputs:
      in: [best.out, other.out]
`

// TestDiffAfterChangingOneRate: change one value of a sweep, run again, and
// `diff last~1 last` lists exactly the stages and claims that it affects.
func TestDiffAfterChangingOneRate(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, sweepManifest)
	if r := pipeline(t, dir, "run", "--out", "", "m.yaml"); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	if r := pipeline(t, dir, "diff", "last", "last~1"); r.code != 2 || !strings.Contains(r.stderr, "only 1 run record") {
		t.Errorf("diff with one record: exit %d: %s", r.code, r.stderr)
	}
	writeManifest(t, dir, strings.Replace(sweepManifest, "n: [1, 2, 3]", "n: [1, 2, 4]", 1))
	if r := pipeline(t, dir, "run", "--out", "", "m.yaml"); r.code != 0 {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
	r := pipeline(t, dir, "runs")
	if r.code != 0 || !strings.Contains(r.stdout, "last~1") || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("runs: exit %d:\n%s", r.code, r.stdout)
	}
	r = pipeline(t, dir, "diff", "--json", "last~1", "last")
	if r.code != 4 {
		t.Fatalf("diff: exit %d, want 4: %s", r.code, r.stderr)
	}
	var d struct {
		Roots, Explained []struct{ Stage string }
		Added, Removed   []string
		Same             int
		Claims           []struct {
			ID        string
			OldStatus string `json:"old_status"`
			NewStatus string `json:"new_status"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("diff --json: %v\n%s", err, r.stdout)
	}
	stages := func(ss []struct{ Stage string }) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Stage)
		}
		return strings.Join(out, " ")
	}
	if got := strings.Join(d.Added, " ") + " | " + strings.Join(d.Removed, " "); got != "train[n=4] | train[n=3]" {
		t.Errorf("added | removed = %q", got)
	}
	if len(d.Roots) != 0 || stages(d.Explained) != "best report" || d.Same != 3 {
		t.Errorf("roots %q, explained %q, same %d: want none, best report, 3", stages(d.Roots), stages(d.Explained), d.Same)
	}
	for _, c := range d.Claims {
		if c.ID != "c.parity" {
			t.Errorf("claim %s reported changed; only c.parity's value can change", c.ID)
		}
	}
	if len(d.Claims) != 1 {
		t.Errorf("changed claims %+v: want c.parity", d.Claims)
	}
	// The same two runs through their lock files give the same answer.
	r = pipeline(t, dir, "diff", "last", "last")
	if r.code != 0 || !strings.Contains(r.stdout, "agree") {
		t.Errorf("diff last last: exit %d: %s", r.code, r.stdout)
	}
}
