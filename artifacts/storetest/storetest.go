// Package storetest is the conformance suite of the storage seam
// (artifacts.Storage): every implementation runs it from its tests, as
// restic runs one suite against every backend. It checks the contracts
// written in the interfaces' doc comments, corruption included.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/demystify-resnet/repro/artifacts"
)

// Harness adapts one implementation to the suite.
type Harness struct {
	// New returns a fresh, empty store (closed by the test's Cleanup).
	New func(t *testing.T) artifacts.Storage
	// Corrupt changes the stored bytes of object id in place, keeping
	// their size, so that they no longer hash to id (bit rot).
	Corrupt func(t *testing.T, s artifacts.Storage, id artifacts.OutputID)
}

// Run runs every conformance test against h.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"PutOpenRoundTrip", testPutOpen},
		{"PutRejectsNonRegular", testPutNonRegular},
		{"Missing", testMissing},
		{"CorruptObjectDetectedAndRepaired", testCorrupt},
		{"Export", testExport},
		{"Actions", testActions},
		{"ActionFileNamesArePlain", testActionNames},
		{"CorruptOutputIsAMiss", testCorruptOutputMiss},
		{"RunRecords", testRuns},
		{"QuarantineRun", testQuarantineRun},
		{"Lock", testLock},
		{"Cache", testCache},
		{"ConcurrentPuts", testConcurrentPuts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

// file writes b into a fresh temporary file and returns its path.
func file(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func put(t *testing.T, s artifacts.Storage, b []byte) (artifacts.OutputID, int64) {
	t.Helper()
	id, n, err := s.Put(file(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return id, n
}

func read(s artifacts.Storage, id artifacts.OutputID) ([]byte, error) {
	rc, err := s.OpenObject(id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func testPutOpen(t *testing.T, h Harness) {
	s := h.New(t)
	data := bytes.Repeat([]byte("content-addressed\n"), 1000)
	p := file(t, data)
	id, n, err := s.Put(p)
	if err != nil {
		t.Fatal(err)
	}
	want, wn, err := artifacts.HashFile(p)
	if err != nil || id != want || n != wn || n != int64(len(data)) {
		t.Fatalf("Put = %s, %d; HashFile = %s, %d (%v)", id.Short(), n, want.Short(), wn, err)
	}
	got, err := read(s, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OpenObject read %d bytes, %v", len(got), err)
	}
	if id2, _, err := s.Put(p); err != nil || id2 != id {
		t.Fatalf("second Put = %s, %v", id2.Short(), err)
	}
	if src, _ := os.ReadFile(p); !bytes.Equal(src, data) {
		t.Fatal("Put changed its source file")
	}
	if err := s.Verify(id); err != nil {
		t.Fatal(err)
	}
}

func testPutNonRegular(t *testing.T, h Harness) {
	s := h.New(t)
	if _, _, err := s.Put(t.TempDir()); err == nil {
		t.Fatal("Put of a directory succeeded")
	}
	if _, _, err := s.Put(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("Put of a missing file succeeded")
	}
}

func testMissing(t *testing.T, h Harness) {
	s := h.New(t)
	id := artifacts.OutputID(artifacts.HashBytes([]byte("never stored")))
	if _, err := s.OpenObject(id); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenObject(missing) = %v, want fs.ErrNotExist", err)
	}
	if err := s.Verify(id); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Verify(missing) = %v, want fs.ErrNotExist", err)
	}
}

func testCorrupt(t *testing.T, h Harness) {
	s := h.New(t)
	data := bytes.Repeat([]byte("bit rot target "), 200)
	id, _ := put(t, s, data)
	h.Corrupt(t, s, id)
	if _, err := read(s, id); !errors.Is(err, artifacts.ErrCorrupt) {
		t.Fatalf("reading a corrupt object: %v, want ErrCorrupt", err)
	}
	if len(s.Quarantined()) == 0 {
		t.Fatal("a corrupt object was not reported by Quarantined")
	}
	// A Put of the right bytes repairs it, whether or not the corrupt copy
	// is still in place.
	put(t, s, data)
	if err := s.Verify(id); err != nil {
		t.Fatalf("after repair: %v", err)
	}
	// Put must not trust an existing object of the right size: corrupt it
	// again and Put without reading first.
	h.Corrupt(t, s, id)
	put(t, s, data)
	if got, err := read(s, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Put kept a corrupt object: %v", err)
	}
}

func testExport(t *testing.T, h Harness) {
	s := h.New(t)
	data := []byte("published result\n")
	id, _ := put(t, s, data)
	root := t.TempDir()
	out := filepath.Join(root, "out")
	os.Mkdir(out, 0o755)
	if err := s.Export(id, out, "result.txt", 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(out, "result.txt")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("exported %q, %v", got, err)
	}
	for _, bad := range []string{"../escape", "/abs", "", ".hidden", "a/b", ".."} {
		if err := s.Export(id, out, bad, 0o644); err == nil {
			t.Errorf("Export accepted the name %q", bad)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "escape")); err == nil {
		t.Fatal("Export wrote outside its folder")
	}
	if err := s.ExportTemp(id, out, "input-0", 0o444); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(out, "input-0")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ExportTemp wrote %q, %v", got, err)
	}
	if err := s.ExportTemp(id, out, "input-0", 0o444); err == nil {
		t.Error("ExportTemp overwrote an existing file")
	}
	if err := s.ExportTemp(id, out, "../input-1", 0o444); err == nil {
		t.Error("ExportTemp accepted ../input-1")
	}
	h.Corrupt(t, s, id)
	if err := s.ExportTemp(id, out, "bad-input", 0o444); !errors.Is(err, artifacts.ErrCorrupt) {
		t.Fatalf("ExportTemp of a corrupt object = %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(filepath.Join(out, "bad-input")); err == nil {
		t.Fatal("ExportTemp of a corrupt object left a file")
	}
	put(t, s, data)
	h.Corrupt(t, s, id)
	if err := s.Export(id, out, "bad.txt", 0o644); !errors.Is(err, artifacts.ErrCorrupt) {
		t.Fatalf("Export of a corrupt object = %v, want ErrCorrupt", err)
	}
	if _, err := os.Stat(filepath.Join(out, "bad.txt")); err == nil {
		t.Fatal("Export of a corrupt object left a file")
	}
}

func action(id artifacts.OutputID, n int64) artifacts.Action {
	return artifacts.Action{
		Outputs: map[string]artifacts.OutputID{"out": id}, Sizes: map[string]int64{"out": n},
		Files: map[string]string{"out": "out.json"}, Stage: "s", Plugin: "p", PluginDigest: "sha256:00",
	}
}

func actionID(s string) artifacts.ActionID {
	k := artifacts.NewKey("storetest")
	k.Add("what", s)
	return k.Sum()
}

func testActions(t *testing.T, h Harness) {
	s := h.New(t)
	aid := actionID("actions")
	if _, ok, err := s.GetAction(aid); ok || err != nil {
		t.Fatalf("GetAction(unknown) = %v, %v", ok, err)
	}
	id, n := put(t, s, []byte("an output"))
	missing := artifacts.OutputID(artifacts.HashBytes([]byte("not stored")))
	if err := s.PutAction(aid, action(missing, 3)); err == nil {
		t.Fatal("PutAction accepted an output that is not stored")
	}
	if err := s.PutAction(aid, action(id, n+1)); err == nil {
		t.Fatal("PutAction accepted a wrong size")
	}
	a := action(id, n)
	if err := s.PutAction(aid, a); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.GetAction(aid)
	if err != nil || !ok || got.Outputs["out"] != id || got.Sizes["out"] != n || got.Files["out"] != "out.json" {
		t.Fatalf("GetAction = %+v, %v, %v", got, ok, err)
	}
	if _, ok, err := s.GetActionVerified(aid); !ok || err != nil {
		t.Fatalf("GetActionVerified = %v, %v", ok, err)
	}
}

func testActionNames(t *testing.T, h Harness) {
	s := h.New(t)
	id, n := put(t, s, []byte("named output"))
	for _, bad := range []string{"../../../../tmp/x", "/etc/passwd", "a/b", "..", ""} {
		a := action(id, n)
		a.Files["out"] = bad
		if err := s.PutAction(actionID("names "+bad), a); err == nil {
			t.Errorf("PutAction accepted the file name %q", bad)
		}
	}
}

func testCorruptOutputMiss(t *testing.T, h Harness) {
	s := h.New(t)
	id, n := put(t, s, bytes.Repeat([]byte("x"), 100))
	aid := actionID("corrupt output")
	if err := s.PutAction(aid, action(id, n)); err != nil {
		t.Fatal(err)
	}
	h.Corrupt(t, s, id)
	if _, ok, err := s.GetActionVerified(aid); ok || err != nil {
		t.Fatalf("GetActionVerified with a corrupt output = %v, %v; want a miss", ok, err)
	}
	q := s.Quarantined()
	if len(q) < 2 {
		t.Fatalf("Quarantined = %v, want the object and the entry", q)
	}
}

func testRuns(t *testing.T, h Harness) {
	s := h.New(t)
	for _, n := range []string{"b-run", "a.run", "c_run"} {
		if err := s.PutRun(n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutRun("a.run", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	names, err := s.Runs()
	if err != nil || !slices.Equal(names, []string{"a.run", "b-run", "c_run"}) {
		t.Fatalf("Runs = %v, %v", names, err)
	}
	if b, err := s.GetRun("a.run"); err != nil || string(b) != "replaced" {
		t.Fatalf("GetRun = %q, %v", b, err)
	}
	if err := s.DeleteRun("b-run"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRun("b-run"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("GetRun(deleted) = %v", err)
	}
	if err := s.DeleteRun("b-run"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("DeleteRun(deleted) = %v", err)
	}
	for _, bad := range []string{"", "../x", ".hidden", "a/b", "x\ny"} {
		if err := s.PutRun(bad, nil); err == nil {
			t.Errorf("PutRun accepted the name %q", bad)
		}
	}
}

func testQuarantineRun(t *testing.T, h Harness) {
	s := h.New(t)
	if err := s.PutRun("bad", []byte("{trunc")); err != nil {
		t.Fatal(err)
	}
	before := len(s.Quarantined())
	// A record replaced since it was read is not the one judged bad.
	s.QuarantineRun("bad", []byte("something else"), "not a record")
	s.QuarantineRun("gone", []byte("{trunc"), "not a record")
	if b, err := s.GetRun("bad"); err != nil || string(b) != "{trunc" || len(s.Quarantined()) != before {
		t.Fatalf("after QuarantineRun of other data: GetRun = %q, %v; quarantined %v", b, err, s.Quarantined())
	}
	s.QuarantineRun("bad", []byte("{trunc"), "not a record")
	if _, err := s.GetRun("bad"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("GetRun(quarantined) = %v, want fs.ErrNotExist", err)
	}
	if names, err := s.Runs(); err != nil || len(names) != 0 {
		t.Fatalf("Runs = %v, %v after the only record was quarantined", names, err)
	}
	if q := s.Quarantined(); len(q) != before+1 || q[len(q)-1].Reason != "not a record" {
		t.Fatalf("Quarantined = %v, want the record with its reason", q)
	}
}

func testLock(t *testing.T, h Harness) {
	s := h.New(t)
	aid := actionID("lock")
	unlock, err := s.Lock(context.Background(), aid)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(ctx, aid); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held = %v, want a deadline error", err)
	}
	other, err := s.Lock(context.Background(), actionID("other"))
	if err != nil {
		t.Fatalf("Lock of another action blocked: %v", err)
	}
	other()
	got := make(chan error, 1)
	go func() {
		u, err := s.Lock(context.Background(), aid)
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter never got the lock")
	}
}

func testCache(t *testing.T, h Harness) {
	s := h.New(t)
	c := s.Cache("describe")
	if _, ok := c.Get("abc.pb"); ok {
		t.Fatal("hit in an empty cache")
	}
	if err := c.Put("abc.pb", []byte("description")); err != nil {
		t.Fatal(err)
	}
	if b, ok := c.Get("abc.pb"); !ok || string(b) != "description" {
		t.Fatalf("Get = %q, %v", b, ok)
	}
	for _, bad := range []string{"../x", "a/b", "", ".."} {
		if err := c.Put(bad, nil); err == nil {
			t.Errorf("Cache.Put accepted the name %q", bad)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Cache of an unknown kind did not panic")
		}
	}()
	s.Cache("no-such-kind")
}

func testConcurrentPuts(t *testing.T, h Harness) {
	s := h.New(t)
	data := bytes.Repeat([]byte("same bytes from everyone\n"), 4000)
	p := file(t, data)
	var wg sync.WaitGroup
	ids := make([]artifacts.OutputID, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], _, errs[i] = s.Put(p)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("Put %d = %s, %v", i, ids[i].Short(), errs[i])
		}
	}
	if got, err := read(s, ids[0]); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after concurrent Puts: %v", err)
	}
}
