package cli_test

// End-to-end tests of the store's guarantees (issue 14 findings 1, 2, 3, 4,
// 10, 11, 12): the real pipeline binary, real plugins, a real store, and
// the hostile plugin plugins/testplugins/store-hostile.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

var buildHostile = sync.OnceValue(func() error {
	return hosttest.Build(pluginDir, map[string]string{"store-hostile": hosttest.StoreHostile})
})

func hostile(t *testing.T) {
	t.Helper()
	if err := buildHostile(); err != nil {
		t.Fatal(err)
	}
}

// stageRecord returns the record of stage instance name in rec.
func stageRecord(t *testing.T, rec engine.RunRecord, name string) engine.StageRecord {
	t.Helper()
	for _, s := range rec.Stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stage %s in the run record", name)
	return engine.StageRecord{}
}

func objectPath(dir, id string) string {
	return filepath.Join(dir, ".pipeline", "objects", id[:2], id)
}

func actionPath(dir, id string) string {
	return filepath.Join(dir, ".pipeline", "actions", id[:2], id)
}

// overwrite replaces the file at p (read-only in the store) with b.
func overwrite(t *testing.T, p string, b []byte) {
	t.Helper()
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

// checkObjects fails unless every object of the store hashes to its name.
func checkObjects(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(filepath.Join(dir, ".pipeline", "objects"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != filepath.Base(p) {
			t.Errorf("object %s does not hash to its name", filepath.Base(p)[:12])
		}
		return nil
	})
}

// Finding 1: `--store DIR` on an existing folder adopted it and deleted its
// tmp/ entries older than an hour, even for `status`.
func TestStoreRefusesForeignFolder(t *testing.T) {
	home := t.TempDir()
	precious := filepath.Join(home, "tmp", "thesis.tex")
	os.MkdirAll(filepath.Dir(precious), 0o755)
	os.WriteFile(precious, []byte("years of work"), 0o644)
	old := time.Now().Add(-72 * time.Hour)
	os.Chtimes(precious, old, old)
	for _, args := range [][]string{{"status"}, {"gc", "--apply"}} {
		cmd := exec.Command(pipelineBin, append([]string{"--store", home}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "not a store") {
			t.Fatalf("pipeline --store %s %v: %v\n%s", home, args, err, out)
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Errorf("exit %v, want 3", err)
		}
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("the folder's tmp/ file is gone: %v", err)
	}
	for _, sub := range []string{"objects", "VERSION", "locks"} {
		if _, err := os.Stat(filepath.Join(home, sub)); err == nil {
			t.Errorf("the refused folder got a %s", sub)
		}
	}
}

// actionEntry mirrors the on-disk action entry (docs/store.md), so that a
// test can forge one whose checksum is right.
type actionEntry struct {
	Format       int               `json:"format"`
	Action       string            `json:"action"`
	Outputs      map[string]string `json:"outputs"`
	Sizes        map[string]int64  `json:"sizes"`
	Files        map[string]string `json:"files,omitempty"`
	Stage        string            `json:"stage"`
	Plugin       string            `json:"plugin"`
	PluginDigest string            `json:"plugin_digest"`
	Check        string            `json:"check,omitempty"`
}

// Finding 2: publishing trusted the file names of action entries, whose
// checksum anyone can recompute: an edited entry made `run` write anywhere.
func TestEditedEntryCannotWriteOutsideOut(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	rec, r := runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	p := actionPath(dir, stageRecord(t, rec, "b").ActionID)
	b, _ := os.ReadFile(p)
	var e actionEntry
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	e.Files["out"] = "../escaped.json"
	e.Check = ""
	compact, _ := json.Marshal(e)
	sum := sha256.Sum256(compact)
	e.Check = hex.EncodeToString(sum[:])
	forged, _ := json.MarshalIndent(e, "", "  ")
	overwrite(t, p, append(forged, '\n'))

	rec, r = runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatalf("run after the forged entry: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.json")); err == nil {
		t.Fatal("run wrote outside the out folder")
	}
	if st := stageRecord(t, rec, "b").Status; st != engine.StatusRan {
		t.Errorf("b is %s after its entry was forged, want ran (the entry is a miss)", st)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "det.json")); err != nil {
		t.Errorf("published file missing: %v", err)
	}
	if !strings.Contains(r.stderr, "quarantine") {
		t.Errorf("no warning about the quarantined entry:\n%s", r.stderr)
	}
}

// Finding 3: Put skipped an object of the right size without checking it,
// so a recompute reused a bit-rotted object, published it and fed it on.
func TestRecomputeReplacesCorruptObject(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	rec, r := runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	b := stageRecord(t, rec, "b")
	obj := objectPath(dir, b.Outputs["out"])
	good, _ := os.ReadFile(obj)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 1
	overwrite(t, obj, bad)
	// Without its entry, b recomputes and Puts the same bytes again: the
	// corrupt object of the same size must not be trusted.
	os.Remove(actionPath(dir, b.ActionID))
	rec, r = runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	if st := stageRecord(t, rec, "b").Status; st != engine.StatusRan {
		t.Fatalf("b is %s, want ran", st)
	}
	if got, _ := os.ReadFile(obj); string(got) != string(good) {
		t.Error("the corrupt object was kept")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out", "det.json")); string(got) != string(good) {
		t.Error("the published file has the corrupt bytes")
	}
	checkObjects(t, dir)
}

const hostileChain = `version: 1
seed: 3
stages:
  a:
    plugin: enginekit.det
    params: {label: source}
  t:
    plugin: store-hostile.tamper
    params: {mode: MODE}
    inputs:
      in: a.out
  d:
    plugin: enginekit.det
    params: {label: after}
    inputs:
      in: a.out
`

// Finding 4: inputs reached plugins as paths into objects/, so a plugin
// could rewrite its input in the store and `verify` reported everything
// bitwise-equal. Inputs are private copies now.
func TestPluginCannotChangeItsInputInTheStore(t *testing.T) {
	hostile(t)
	dir := t.TempDir()
	m := strings.Replace(hostileChain, "MODE", "input", 1)
	writeManifest(t, dir, m)
	rec, r := runJSON(t, dir, "-j", "1", "m.yaml", "t")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	a := stageRecord(t, rec, "a")
	checkObjects(t, dir)
	if b, _ := os.ReadFile(objectPath(dir, a.Outputs["out"])); strings.Contains(string(b), "poisoned") {
		t.Fatal("the plugin rewrote its input inside the store")
	}
	// A later stage reading the same input sees the true bytes.
	rec, r = runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	out, _ := os.ReadFile(objectPath(dir, stageRecord(t, rec, "d").Outputs["out"]))
	want, _ := os.ReadFile(objectPath(dir, a.Outputs["out"]))
	sum := sha256.Sum256(want)
	if !strings.Contains(string(out), hex.EncodeToString(sum[:])) {
		t.Errorf("d did not read a's true bytes: %s", out)
	}
}

// Finding 4 (the part no file permission can stop: a plugin running as the
// store's owner writes into objects/ directly) and finding 10: the damage
// never reaches a result silently. The next run recomputes what was
// damaged, and `verify` reports every corruption and fails (it printed
// "not-cached" and exited 0).
func TestStoreTamperingIsDetected(t *testing.T) {
	hostile(t)
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	if _, r := runJSON(t, dir, "m.yaml"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Bit rot in one object: verify must say so.
	rec, _ := runJSON(t, dir, "m.yaml")
	obj := objectPath(dir, stageRecord(t, rec, "c").Outputs["out"])
	b, _ := os.ReadFile(obj)
	b[0] ^= 0x20
	overwrite(t, obj, b)
	r := pipeline(t, dir, "verify", "m.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, "corrupt: ") || !strings.Contains(r.stderr, "corrupt entries") {
		t.Fatalf("verify of a store with a flipped byte: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A plugin overwrites every object of the store.
	m := strings.Replace(hostileChain, "MODE", "store", 1)
	writeManifest(t, dir, m)
	if _, r := runJSON(t, dir, "-j", "1", "m.yaml", "t"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	rec, r = runJSON(t, dir, "-j", "1", "m.yaml")
	if r.code != 0 {
		t.Fatalf("run after tampering: exit %d\n%s", r.code, r.stderr)
	}
	if st := stageRecord(t, rec, "a").Status; st != engine.StatusRan {
		t.Errorf("a is %s after its output was overwritten, want ran", st)
	}
	if st := stageRecord(t, rec, "d").Status; st != engine.StatusRan {
		t.Errorf("d is %s, want ran", st)
	}
	if !strings.Contains(r.stderr, "quarantine") {
		t.Errorf("run did not warn about the damage:\n%s", r.stderr)
	}
}

// Finding 11: a directory in place of an object or an action entry failed
// every run with "rename: file exists".
func TestDirectoryInPlaceOfFilesIsRepaired(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	rec, r := runJSON(t, dir, "m.yaml")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	b, c := stageRecord(t, rec, "b"), stageRecord(t, rec, "c")
	for _, p := range []string{actionPath(dir, b.ActionID), objectPath(dir, c.Outputs["out"])} {
		os.Chmod(p, 0o644)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(p, "junk"), 0o755)
	}
	for i := 0; i < 2; i++ {
		rec, r = runJSON(t, dir, "m.yaml")
		if r.code != 0 {
			t.Fatalf("run %d with directories in the store: exit %d\n%s", i+2, r.code, r.stderr)
		}
	}
	for name, st := range statuses(rec) {
		if st != engine.StatusCached {
			t.Errorf("after repair, %s is %s, want cached", name, st)
		}
	}
	for _, p := range []string{actionPath(dir, b.ActionID), objectPath(dir, c.Outputs["out"])} {
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s not repaired: %v", filepath.Base(p)[:12], err)
		}
	}
}

// Finding 12 (gc): `gc --apply --keep-last 1` during a run deleted run
// records, then refused with "store is in use".
func TestGCDuringRunDeletesNothing(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, chain)
	for i := 0; i < 2; i++ {
		if _, r := runJSON(t, dir, "m.yaml"); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	runs := func() int {
		es, _ := os.ReadDir(filepath.Join(dir, ".pipeline", "runs"))
		return len(es)
	}
	before := runs()
	slow := filepath.Join(dir, "slow.yaml")
	os.WriteFile(slow, []byte("version: 1\nseed: 1\nstages:\n  s:\n    plugin: enginekit.sleep\n    params: {ms: 4000}\n"), 0o644)
	launch := filepath.Join(dir, "launch.log")
	cmd := exec.Command(pipelineBin, "--plugin-dir", pluginDir, "--store", filepath.Join(dir, ".pipeline"), "--log-format", "json", "run", "slow.yaml")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ENGINEKIT_LAUNCH_LOG="+launch)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(launch); strings.Contains(string(b), "start") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow run never launched its plugin")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := pipeline(t, dir, "gc", "--apply", "--keep-last", "1")
	if r.code != 3 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("gc during a run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := runs(); got != before {
		t.Fatalf("gc that refused deleted run records: %d before, %d after", before, got)
	}
}
