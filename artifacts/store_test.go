package artifacts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// putBytes writes b to a staging file and publishes it.
func putBytes(t *testing.T, s *Store, b []byte) (OutputID, int64) {
	t.Helper()
	dir, err := s.Staging("t")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	id, n, err := s.Put(p)
	if err != nil {
		t.Fatal(err)
	}
	return id, n
}

func tmpEntries(t *testing.T, s *Store) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(s.Dir(), "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// objectFiles lists every file under objects/.
func objectFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(s.Dir(), "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestIDParseRoundTrip(t *testing.T) {
	// Oracle: crypto/sha256 of "abc" is the FIPS 180-2 test vector.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	id := HashBytes([]byte("abc"))
	if id.String() != want || id.Short() != want[:12] {
		t.Fatalf("HashBytes(abc) = %s", id)
	}
	got, err := ParseID(want)
	if err != nil || got != id {
		t.Fatalf("ParseID(%s) = %v, %v", want, got, err)
	}
	for _, bad := range []string{"", want[:63], want + "0", strings.ToUpper(want), "g" + want[1:]} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) succeeded", bad)
		}
	}
	// Text marshalling keeps the distinct types apart but with one spelling.
	oid := OutputID(id)
	b, _ := oid.MarshalText()
	var back OutputID
	if err := back.UnmarshalText(b); err != nil || back != oid {
		t.Fatalf("OutputID text round trip: %v %v", back, err)
	}
}

func TestKeyTextAndSum(t *testing.T) {
	k := NewKey("demystify-resnet")
	k.Add("schema", strconv.Itoa(KeySchemaVersion))
	k.Add("plugin", "train@0123")
	k.AddQuoted("param.note", "two\nlines")
	want := "salt demystify-resnet\nschema 1\nplugin train@0123\nparam.note \"two\\nlines\"\n"
	if k.Text() != want {
		t.Fatalf("Text() = %q, want %q", k.Text(), want)
	}
	// Oracle: Sum is the sha256 of exactly the text shown to humans.
	if k.Sum() != ActionID(sha256.Sum256([]byte(want))) {
		t.Fatal("Sum is not sha256(Text)")
	}
	// Order matters and the salt separates key spaces.
	a, b := NewKey("s"), NewKey("s")
	a.Add("x", "1")
	a.Add("y", "2")
	b.Add("y", "2")
	b.Add("x", "1")
	if a.Sum() == b.Sum() {
		t.Error("line order does not change the key")
	}
	c := NewKey("other")
	c.Add("x", "1")
	c.Add("y", "2")
	if a.Sum() == c.Sum() {
		t.Error("salt does not change the key")
	}
	for _, f := range []func(){
		func() { NewKey("s").Add("x", "a\nb") },
		func() { NewKey("s").Add("", "v") },
		func() { NewKey("s").Add("a b", "v") },
		func() { NewKey("bad\nsalt") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("misuse did not panic")
				}
			}()
			f()
		}()
	}
}

func TestOpenLayoutAndErrors(t *testing.T) {
	s := openTest(t)
	for _, sub := range []string{"objects", "actions", "runs", "tmp", "locks", "quarantine"} {
		if fi, err := os.Stat(filepath.Join(s.Dir(), sub)); err != nil || !fi.IsDir() {
			t.Errorf("layout: %s missing: %v", sub, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(), "VERSION"))
	if err != nil || string(b) != StoreFormat+"\n" {
		t.Fatalf("VERSION = %q, %v", b, err)
	}
	// Reopening an existing store works (a second Store on the same dir).
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()

	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Open(file); err == nil || !strings.Contains(err.Error(), "not a directory") || !strings.Contains(err.Error(), file) {
		t.Errorf("Open(file) = %v, want a not-a-directory error naming it", err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "VERSION"), []byte("something else\n"), 0o644)
	if _, err := Open(other); err == nil || !strings.Contains(err.Error(), "VERSION") {
		t.Errorf("Open(foreign store) = %v, want a VERSION error", err)
	}
	if _, err := s.Staging("a/b"); err == nil {
		t.Error("Staging accepted a prefix with a slash")
	}
}

// Finding 1 of issue 14: `--store DIR` on an existing folder adopted it and
// deleted DIR/tmp/* older than an hour. A non-empty folder that is not a
// store is refused, untouched; an empty or missing one becomes a store.
func TestOpenRefusesForeignFolder(t *testing.T) {
	home := t.TempDir()
	precious := filepath.Join(home, "tmp", "precious")
	os.MkdirAll(filepath.Dir(precious), 0o755)
	os.WriteFile(precious, []byte("user data"), 0o644)
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(precious, old, old)
	before := dirListing(t, home)
	_, err := Open(home)
	if err == nil || !strings.Contains(err.Error(), "not a store") || !strings.Contains(err.Error(), home) {
		t.Fatalf("Open(non-empty folder) = %v, want a not-a-store error naming it", err)
	}
	if after := dirListing(t, home); !slices.Equal(before, after) {
		t.Fatalf("Open changed a folder it refused:\nbefore %v\nafter  %v", before, after)
	}
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "new", "store")} {
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("Open(empty or missing %s): %v", dir, err)
		}
		s.Close()
	}
	// A crash during the first Open leaves only the VERSION temporary file:
	// still empty as far as Open is concerned.
	crashed := t.TempDir()
	os.WriteFile(filepath.Join(crashed, versionTmp+"123"), nil, 0o644)
	s, err := Open(crashed)
	if err != nil {
		t.Fatalf("Open after a crashed first Open: %v", err)
	}
	s.Close()
}

// dirListing lists every path under dir with its size.
func dirListing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		out = append(out, fmt.Sprintf("%s %d", p, fi.Size()))
		return nil
	})
	return out
}

func TestPutPublishesReadOnlyObject(t *testing.T) {
	s := openTest(t)
	content := []byte("hello, store\n")
	id, n := putBytes(t, s, content)
	// Oracle: the OutputID is the sha256 of the bytes, computed independently.
	if id != OutputID(sha256.Sum256(content)) || n != int64(len(content)) {
		t.Fatalf("Put = %s, %d", id, n)
	}
	p := s.Path(id)
	if want := filepath.Join(s.Dir(), "objects", id.String()[:2], id.String()); p != want {
		t.Fatalf("Path = %s, want %s", p, want)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("object content %q, %v", got, err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o444 {
		t.Errorf("object mode %v, want 0444", fi.Mode().Perm())
	}
	if !hasObject(s, id) || hasObject(s, OutputID(HashBytes([]byte("absent")))) {
		t.Error("Has is wrong")
	}
	if err := s.Verify(id); err != nil {
		t.Fatal(err)
	}
	// Idempotent: same ID, one object, no temporary left behind.
	id2, _ := putBytes(t, s, content)
	if id2 != id || len(objectFiles(t, s)) != 1 {
		t.Fatalf("second Put: %s, objects %v", id2, objectFiles(t, s))
	}
	if e := tmpEntries(t, s); len(e) != 0 {
		t.Errorf("tmp/ not empty after Puts: %v", e)
	}
	if _, _, err := s.Put(filepath.Join(s.Dir(), "objects")); err == nil {
		t.Error("Put of a directory succeeded")
	}
	if _, _, err := s.Put(filepath.Join(s.Dir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Put of a missing file: %v", err)
	}
}

func TestPutConcurrentGoroutines(t *testing.T) {
	s := openTest(t)
	src := t.TempDir()
	const workers = 16
	var wg sync.WaitGroup
	ids := make([][2]OutputID, workers)
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j, c := range [][]byte{sharedContent(), uniqueContent("g", w)} {
				p := filepath.Join(src, fmt.Sprintf("%d-%d", w, j))
				if err := os.WriteFile(p, c, 0o644); err != nil {
					errs <- err
					return
				}
				id, _, err := s.Put(p)
				if err != nil {
					errs <- err
					return
				}
				ids[w][j] = id
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range ids {
		if ids[w][0] != OutputID(sha256.Sum256(sharedContent())) {
			t.Fatalf("worker %d: shared id %s", w, ids[w][0])
		}
		if err := s.Verify(ids[w][1]); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(objectFiles(t, s)); n != workers+1 {
		t.Fatalf("%d objects, want %d", n, workers+1)
	}
	if e := tmpEntries(t, s); len(e) != 0 {
		t.Errorf("tmp/ not empty: %v", e)
	}
}

func TestPutTwoProcesses(t *testing.T) {
	s := openTest(t)
	var outs [2]bytes.Buffer
	var cmds [2]*execCmd
	for i := range cmds {
		c := helperCmd(t, "put", s.Dir(), strconv.Itoa(i))
		c.Stdout = &outs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	// Publish the shared content from this process too, at the same time.
	for i := 0; i < 20; i++ {
		putBytes(t, s, sharedContent())
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper %d: %v", i, err)
		}
	}
	shared := OutputID(sha256.Sum256(sharedContent()))
	for i := range outs {
		lines := strings.Fields(outs[i].String())
		if len(lines) != 40 {
			t.Fatalf("helper %d printed %d ids", i, len(lines))
		}
		for j, l := range lines {
			id, err := ParseOutputID(l)
			if err != nil {
				t.Fatal(err)
			}
			// Oracle: sha256 of what helper i wrote at step j.
			want := shared
			if j%2 == 1 {
				want = OutputID(sha256.Sum256(uniqueContent(strconv.Itoa(i), j/2)))
			}
			if id != want {
				t.Fatalf("helper %d line %d: %s, want %s", i, j, id, want)
			}
			if err := s.Verify(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(objectFiles(t, s)); n != 41 {
		t.Fatalf("%d objects, want 41", n)
	}
}

func TestVerifyCorruptObjectQuarantinesAndGetActionMisses(t *testing.T) {
	s := openTest(t)
	id, n := putBytes(t, s, []byte("precious result"))
	aid := ActionID(HashBytes([]byte("action")))
	if err := s.PutAction(aid, Action{Outputs: map[string]OutputID{"r": id}, Sizes: map[string]int64{"r": n}, Stage: "st"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.GetActionVerified(aid); !ok || err != nil {
		t.Fatalf("GetActionVerified before corruption: %v %v", ok, err)
	}
	flipByte(t, s.Path(id), 3)
	// Same size: GetAction's cheap check passes, the verified lookup does not.
	if err := s.Verify(id); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), id.String()) {
		t.Fatalf("Verify after flip = %v, want ErrCorrupt naming the id", err)
	}
	if hasObject(s, id) {
		t.Fatal("corrupt object still in objects/ after Verify")
	}
	if q, _ := os.ReadDir(filepath.Join(s.Dir(), "quarantine")); len(q) != 1 {
		t.Fatalf("quarantine holds %d files, want 1", len(q))
	}
	if _, ok, err := s.GetAction(aid); ok || err != nil {
		t.Fatalf("GetAction with a quarantined output = %v, %v; want a miss", ok, err)
	}
	// Re-publishing the right bytes repairs the store.
	putBytes(t, s, []byte("precious result"))
	if err := s.Verify(id); err != nil {
		t.Fatal(err)
	}

	// Corrupt again, then GetActionVerified must miss without error.
	if err := s.PutAction(aid, Action{Outputs: map[string]OutputID{"r": id}, Sizes: map[string]int64{"r": n}}); err != nil {
		t.Fatal(err)
	}
	flipByte(t, s.Path(id), 0)
	if _, ok, err := s.GetActionVerified(aid); ok || err != nil {
		t.Fatalf("GetActionVerified with corrupt output = %v, %v; want a miss", ok, err)
	}
}

func flipByte(t *testing.T, p string, at int64) {
	t.Helper()
	os.Chmod(p, 0o644)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, at)
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

func TestActionEntries(t *testing.T) {
	s := openTest(t)
	id1, n1 := putBytes(t, s, []byte("one"))
	id2, n2 := putBytes(t, s, []byte("two two"))
	a := Action{
		Outputs: map[string]OutputID{"b": id2, "a": id1},
		Sizes:   map[string]int64{"a": n1, "b": n2},
		Stage:   "train/d=4", Plugin: "train", PluginDigest: "sha256:00",
	}
	aid := ActionID(HashBytes([]byte("k")))
	if _, ok, err := s.GetAction(aid); ok || err != nil {
		t.Fatalf("GetAction of an absent entry: %v %v", ok, err)
	}
	if err := s.PutAction(aid, a); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.GetAction(aid)
	if !ok || err != nil || got.Outputs["a"] != id1 || got.Sizes["b"] != n2 || got.Stage != a.Stage || got.PluginDigest != a.PluginDigest {
		t.Fatalf("GetAction = %+v %v %v", got, ok, err)
	}
	// The entry's bytes do not depend on map insertion order: sorted keys.
	raw, _ := os.ReadFile(s.actionPath(aid))
	if bytes.Index(raw, []byte(`"a"`)) > bytes.Index(raw, []byte(`"b"`)) {
		t.Errorf("entry keys not sorted:\n%s", raw)
	}
	// Missing object, mismatched sizes: PutAction refuses.
	bad := Action{Outputs: map[string]OutputID{"x": OutputID(HashBytes([]byte("nope")))}, Sizes: map[string]int64{"x": 4}}
	if err := s.PutAction(aid, bad); err == nil {
		t.Error("PutAction with a missing object succeeded")
	}
	if err := s.PutAction(aid, Action{Outputs: map[string]OutputID{"a": id1}}); err == nil {
		t.Error("PutAction without sizes succeeded")
	}

	cases := map[string]func(p string, raw []byte){
		"truncated": func(p string, raw []byte) { os.WriteFile(p, raw[:len(raw)/2], 0o644) },
		"empty":     func(p string, raw []byte) { os.WriteFile(p, nil, 0o644) },
		"edited": func(p string, raw []byte) {
			os.WriteFile(p, bytes.Replace(raw, []byte(`"train/d=4"`), []byte(`"train/d=5"`), 1), 0o644)
		},
		"other-id": func(p string, raw []byte) {
			other := ActionID(HashBytes([]byte("other")))
			b, _ := encodeAction(other, a)
			os.WriteFile(p, b, 0o644)
		},
		"dangling": func(p string, raw []byte) {
			os.Chmod(s.Path(id2), 0o644)
			os.Remove(s.Path(id2))
		},
		"wrong-size": func(p string, raw []byte) {
			os.Chmod(s.Path(id2), 0o644)
			os.WriteFile(s.Path(id2), []byte("two two two"), 0o644)
		},
	}
	for _, name := range slices.Sorted(mapsKeys(cases)) {
		t.Run(name, func(t *testing.T) {
			putBytes(t, s, []byte("two two")) // repair object 2 if a case broke it
			if err := s.PutAction(aid, a); err != nil {
				t.Fatal(err)
			}
			p := s.actionPath(aid)
			raw, _ := os.ReadFile(p)
			os.Chmod(p, 0o644)
			cases[name](p, raw)
			if _, ok, err := s.GetAction(aid); ok || err != nil {
				t.Fatalf("GetAction = %v, %v; want a miss", ok, err)
			}
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("bad entry not removed: %v", err)
			}
		})
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// failingWriter fails with err once more than limit bytes were written.
type failingWriter struct {
	w     io.Writer
	limit int
	err   error
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.w.Write(p[:f.limit])
		f.limit = 0
		return n, f.err
	}
	f.limit -= len(p)
	return f.w.Write(p)
}

func TestFullDiskPublishesNothing(t *testing.T) {
	s := openTest(t)
	goodID, goodN := putBytes(t, s, []byte("old state"))
	aid := ActionID(HashBytes([]byte("a")))
	old := Action{Outputs: map[string]OutputID{"o": goodID}, Sizes: map[string]int64{"o": goodN}, Stage: "old"}
	if err := s.PutAction(aid, old); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRun("r1", []byte("old run")); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "big")
	big := bytes.Repeat([]byte("0123456789"), 300000) // 3 MB: several buffer flushes
	os.WriteFile(src, big, 0o644)

	// Fault injection only: the writer under test is the real one.
	s.hooks.Wrap = func(w io.Writer) io.Writer { return &failingWriter{w: w, limit: 1 << 20, err: syscall.ENOSPC} }
	if _, _, err := s.Put(src); !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), src) {
		t.Fatalf("Put on a full disk = %v, want ENOSPC naming the file", err)
	}
	s.hooks.Wrap = func(w io.Writer) io.Writer { return &failingWriter{w: w, limit: 10, err: syscall.ENOSPC} }
	newer := Action{Outputs: old.Outputs, Sizes: old.Sizes, Stage: "new"}
	if err := s.PutAction(aid, newer); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("PutAction on a full disk = %v", err)
	}
	if err := s.PutRun("r1", bytes.Repeat([]byte("new run "), 10)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("PutRun on a full disk = %v", err)
	}
	s.hooks.Wrap = nil

	// Old state intact, nothing partial published, no temporary left.
	if objs := objectFiles(t, s); len(objs) != 1 {
		t.Fatalf("objects after failures: %v", objs)
	}
	if got, ok, _ := s.GetAction(aid); !ok || got.Stage != "old" {
		t.Fatalf("action entry after failure: %+v %v", got, ok)
	}
	if b, _ := s.GetRun("r1"); string(b) != "old run" {
		t.Fatalf("run after failure: %q", b)
	}
	if e := tmpEntries(t, s); len(e) != 0 {
		t.Errorf("tmp/ after failures: %v", e)
	}
	// And the store works again once space is back.
	if id, _, err := s.Put(src); err != nil || id != OutputID(sha256.Sum256(big)) {
		t.Fatalf("Put after recovery: %v %v", id, err)
	}

	// A failing write-back (EIO, or ENOSPC on delayed allocation) is
	// reported by the durability barrier: the run record that would name
	// the results is not written, and the barrier stays due.
	s.hooks.Sync = func(*os.File) error { return syscall.EIO }
	if err := s.PutRun("r1", []byte("new run")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("PutRun with a failing barrier = %v", err)
	}
	if b, _ := s.GetRun("r1"); string(b) != "old run" {
		t.Fatalf("run after a failing barrier: %q", b)
	}
	s.hooks.Sync = nil
	if err := s.Sync(); err != nil {
		t.Fatalf("the barrier once the disk is back = %v", err)
	}
	s.hooks.Sync = func(*os.File) error { return syscall.EIO }
	if err := s.Sync(); err != nil {
		t.Fatalf("a barrier with nothing published since the last = %v, want no call", err)
	}
	s.hooks.Sync = nil
}

func TestOpenReadOnly(t *testing.T) {
	t.Run("injected-EROFS", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "store")
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		// Fault injection: the first file Open creates fails as on a read-only mount.
		openFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EROFS}
		}
		defer func() { openFile = os.OpenFile }()
		_, err = Open(dir)
		if err == nil || !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), dir) ||
			!strings.Contains(err.Error(), "not writable") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("Open on read-only = %v, want one line naming %s", err, dir)
		}
	})
	t.Run("bind-mount", func(t *testing.T) {
		// Tests run as root, which ignores permission bits (chmod 0555 would
		// prove nothing), so use a real read-only bind mount when allowed.
		base := t.TempDir()
		src, dst := filepath.Join(base, "src"), filepath.Join(base, "ro")
		os.Mkdir(src, 0o755)
		os.Mkdir(dst, 0o755)
		s, err := Open(filepath.Join(src, "store"))
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
			t.Skipf("cannot bind-mount (%v): the injected-EROFS subtest covers the error path", err)
		}
		defer syscall.Unmount(dst, 0)
		if err := syscall.Mount("", dst, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("cannot remount read-only (%v)", err)
		}
		for _, dir := range []string{filepath.Join(dst, "store"), filepath.Join(dst, "fresh")} {
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "\n") ||
				!errors.Is(err, syscall.EROFS) {
				t.Errorf("Open(%s) on a read-only mount = %v", dir, err)
			}
		}
	})
}

func TestLockGoroutinesAndContext(t *testing.T) {
	s := openTest(t)
	// A second Store on the same folder in this process: its locks must
	// exclude the first one's too.
	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	id := counterAction()
	var inside, maxInside, total int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		st := s
		if g%2 == 1 {
			st = s2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				unlock, err := st.Lock(context.Background(), id)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inside++
				maxInside = max(maxInside, inside)
				mu.Unlock()
				time.Sleep(100 * time.Microsecond)
				mu.Lock()
				inside--
				total++
				mu.Unlock()
				if err := unlock(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if maxInside != 1 || total != 80 {
		t.Fatalf("max holders %d (want 1), total %d (want 80)", maxInside, total)
	}
	unlock, err := s.Lock(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Store{s, s2} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if _, err := st.Lock(ctx, id); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock while held = %v, want DeadlineExceeded", err)
		}
		cancel()
	}
	// Another action is not blocked by it.
	k := NewKey("test")
	k.Add("what", "another")
	other, err := s2.Lock(context.Background(), k.Sum())
	if err != nil {
		t.Fatal(err)
	}
	other()
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal("second unlock:", err)
	}
	again, err := s2.Lock(context.Background(), id)
	if err != nil {
		t.Fatal("Lock after unlock:", err)
	}
	again()
	// No file per action: locking creates and unlinks nothing per stage
	// (where OFD locks exist), else the per-action file is gone after
	// unlock.
	_, err = os.Stat(s.lockPath(id.String()))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock file left after unlock: %v", err)
	}
}

func TestLockAcrossProcesses(t *testing.T) {
	s := openTest(t)
	const procs, iters = 3, 25
	var cmds []*execCmd
	for i := 0; i < procs; i++ {
		c := helperCmd(t, "count", s.Dir(), strconv.Itoa(iters))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// Oracle: without mutual exclusion, read-modify-write loses increments.
	b, _ := os.ReadFile(filepath.Join(s.Dir(), "counter"))
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(procs*iters) {
		t.Fatalf("counter = %s, want %d", got, procs*iters)
	}
}

func TestRuns(t *testing.T) {
	s := openTest(t)
	for _, n := range []string{"b.json", "a.json", "2026-01-01T00-00-00_x.json"} {
		if err := s.PutRun(n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	names, err := s.Runs()
	if err != nil || !slices.Equal(names, []string{"2026-01-01T00-00-00_x.json", "a.json", "b.json"}) {
		t.Fatalf("Runs = %v, %v", names, err)
	}
	if b, err := s.GetRun("a.json"); err != nil || string(b) != "a.json" {
		t.Fatalf("GetRun = %q, %v", b, err)
	}
	if err := s.DeleteRun("a.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRun("a.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("GetRun after delete = %v", err)
	}
	for _, bad := range []string{"", ".hidden", "../x", "a/b", "a b"} {
		if err := s.PutRun(bad, nil); err == nil {
			t.Errorf("PutRun(%q) succeeded", bad)
		}
	}
}

// QuarantineRun moves a record its reader could not decode out of runs/ and
// reports it, but never a record that was replaced meanwhile.
func TestQuarantineRun(t *testing.T) {
	s := openTest(t)
	s.PutRun("bad", []byte("garbage"))
	s.PutRun("rewritten", []byte("new"))
	s.QuarantineRun("bad", []byte("garbage"), "not a record")
	s.QuarantineRun("rewritten", []byte("old"), "not a record")
	s.QuarantineRun("../x", nil, "invalid name")
	if names, _ := s.Runs(); !slices.Equal(names, []string{"rewritten"}) {
		t.Errorf("Runs after quarantine = %v, want [rewritten]", names)
	}
	q := s.Quarantined()
	if len(q) != 1 || q[0].Path != filepath.Join("runs", "bad") || q[0].Reason != "not a record" {
		t.Errorf("Quarantined = %+v", q)
	}
	if es, _ := os.ReadDir(filepath.Join(s.Dir(), "quarantine")); len(es) != 1 || !strings.HasPrefix(es[0].Name(), "run-bad.") {
		t.Errorf("quarantine/ holds %v", es)
	}
}

func TestGCKeepsReachable(t *testing.T) {
	s := openTest(t)
	keepObj, n1 := putBytes(t, s, []byte("kept via action"))
	pinned, _ := putBytes(t, s, []byte("kept via object set"))
	lost, _ := putBytes(t, s, []byte("garbage object"))
	lostOut, n4 := putBytes(t, s, []byte("output of a dropped action"))
	keepA := ActionID(HashBytes([]byte("keep")))
	dropA := ActionID(HashBytes([]byte("drop")))
	s.PutAction(keepA, Action{Outputs: map[string]OutputID{"o": keepObj}, Sizes: map[string]int64{"o": n1}})
	s.PutAction(dropA, Action{Outputs: map[string]OutputID{"o": lostOut}, Sizes: map[string]int64{"o": n4}})
	os.WriteFile(filepath.Join(s.Dir(), "quarantine", "object-x"), []byte("junk"), 0o644)

	keepActions := map[ActionID]bool{keepA: true}
	keepObjects := map[OutputID]bool{pinned: true}
	dry, err := s.GC(true, keep(keepActions, keepObjects))
	if err != nil {
		t.Fatal(err)
	}
	if dry.Objects != 2 || dry.Actions != 1 || !hasObject(s, lost) {
		t.Fatalf("dry run: %+v, lost present %v", dry, hasObject(s, lost))
	}

	// Another Store open on the directory makes GC refuse.
	other, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(false, keep(keepActions, keepObjects)); !errors.Is(err, ErrBusy) {
		t.Fatalf("GC with another Store open = %v, want ErrBusy", err)
	}
	other.Close()

	rep, err := s.GC(false, keep(keepActions, keepObjects))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join("actions", dropA.String()[:2], dropA.String()),
		filepath.Join("objects", lost.String()[:2], lost.String()),
		filepath.Join("objects", lostOut.String()[:2], lostOut.String()),
		filepath.Join("quarantine", "object-x"),
	}
	slices.Sort(want)
	if !slices.Equal(rep.Removed, want) || rep.Objects != 2 || rep.Actions != 1 {
		t.Fatalf("GC removed %v (%+v), want %v", rep.Removed, rep, want)
	}
	if !hasObject(s, keepObj) || !hasObject(s, pinned) || hasObject(s, lost) || hasObject(s, lostOut) {
		t.Fatal("GC kept or removed the wrong objects")
	}
	if _, ok, _ := s.GetAction(keepA); !ok {
		t.Fatal("kept action lost")
	}
	if _, ok, _ := s.GetAction(dropA); ok {
		t.Fatal("dropped action still there")
	}
	// The store is still usable (its shared lock came back) and GC is idempotent.
	if rep, err := s.GC(false, keep(keepActions, keepObjects)); err != nil || len(rep.Removed) != 0 {
		t.Fatalf("second GC: %+v %v", rep, err)
	}
	other2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer other2.Close()
	if _, err := s.GC(false, keep(keepActions, keepObjects)); !errors.Is(err, ErrBusy) {
		t.Fatalf("GC after a refused GC = %v, want ErrBusy (shared lock restored)", err)
	}
}

func TestOpenCleansOnlyDeadWriters(t *testing.T) {
	s := openTest(t)
	// A live Store's staging dir, made to look old: must survive.
	liveStage, err := s.Staging("live")
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(liveStage, old, old)
	// Unknown owner (no session lock proves the store made it): kept,
	// however old.
	oldUnknown := filepath.Join(s.Dir(), "tmp", "unknown-old")
	freshUnknown := filepath.Join(s.Dir(), "tmp", "unknown-fresh")
	os.WriteFile(oldUnknown, []byte("x"), 0o644)
	os.WriteFile(freshUnknown, []byte("x"), 0o644)
	os.Chtimes(oldUnknown, old, old)
	// A process that exits without Close leaves a staging dir behind.
	var out bytes.Buffer
	c := helperCmd(t, "leave", s.Dir(), "")
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	deadStage := strings.TrimSpace(out.String())
	if _, err := os.Stat(filepath.Join(deadStage, "partial")); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for p, want := range map[string]bool{liveStage: true, freshUnknown: true, oldUnknown: true, deadStage: false} {
		_, err := os.Stat(p)
		if (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	// Close removes the Store's own leftovers.
	s.Close()
	if _, err := os.Stat(liveStage); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Close left its staging dir: %v", err)
	}
}

func TestSIGKILLLeavesConsistentStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s0, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s0.Close()
	c := helperCmd(t, "crash", dir, "")
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for i := 0; i < 5 && sc.Scan(); i++ {
	}
	// Kill at whatever point the child has reached: the invariants below
	// must hold for every point.
	c.Process.Signal(syscall.SIGKILL)
	io.Copy(io.Discard, stdout)
	c.Wait()

	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if e := tmpEntries(t, s); len(e) != 0 {
		t.Errorf("tmp/ after Open following a crash: %v", e)
	}
	objs := objectFiles(t, s)
	if len(objs) < 5 {
		t.Fatalf("only %d objects", len(objs))
	}
	for _, p := range objs {
		id, err := ParseOutputID(filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(id); err != nil {
			t.Fatalf("published object is partial: %v", err)
		}
	}
	hits := 0
	for i := 0; ; i++ {
		k := NewKey("crash")
		k.Add("i", strconv.Itoa(i))
		if _, ok, err := s.GetAction(k.Sum()); err != nil {
			t.Fatal(err)
		} else if !ok {
			break
		}
		hits++
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "actions", "*", "*"))
	if hits < 5 || hits != len(entries) {
		t.Fatalf("%d consecutive hits, %d entries: every published entry must be whole", hits, len(entries))
	}
}

// hasObject reports whether the object id exists as a regular file.
func hasObject(s *Store, id OutputID) bool {
	fi, err := os.Lstat(s.Path(id))
	return err == nil && fi.Mode().IsRegular()
}

// keep returns a GC plan keeping a and o.
func keep(a map[ActionID]bool, o map[OutputID]bool) func() (GCPlan, error) {
	return func() (GCPlan, error) { return GCPlan{KeepActions: a, KeepObjects: o}, nil }
}

// Finding 12 of issue 14: `gc --apply --keep-last 1` during a run deleted
// run records, then refused with "store is in use". GC checks for other
// users before deleting anything, run records included, and computes what
// to keep only once it has the store to itself.
func TestGCBusyDeletesNothing(t *testing.T) {
	s := openTest(t)
	for _, n := range []string{"r1", "r2", "r3"} {
		if err := s.PutRun(n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	other, err := Open(s.Dir()) // another user (a running pipeline)
	if err != nil {
		t.Fatal(err)
	}
	planned := false
	plan := func() (GCPlan, error) {
		planned = true
		return GCPlan{DeleteRuns: []string{"r1", "r2"}}, nil
	}
	if _, err := s.GC(false, plan); !errors.Is(err, ErrBusy) {
		t.Fatalf("GC while another Store is open = %v, want ErrBusy", err)
	}
	if planned {
		t.Error("GC asked for its plan before it had the store to itself")
	}
	if names, _ := s.Runs(); len(names) != 3 {
		t.Fatalf("busy GC deleted run records: %v left", names)
	}
	other.Close()
	rep, err := s.GC(false, plan)
	if err != nil || rep.Runs != 2 {
		t.Fatalf("GC = %+v, %v", rep, err)
	}
	if names, _ := s.Runs(); !slices.Equal(names, []string{"r3"}) {
		t.Fatalf("runs after GC: %v", names)
	}
}
