package artifacts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/demystify-resnet/repro/artifacts/safefile"
)

// Memory is a Storage held in memory, for unit tests of code that uses the
// storage seam (it passes artifacts/storetest like *Store). It keeps the
// same encoded action entries as the filesystem store, so the same checks
// apply. The zero value is not usable: call NewMemory.
type Memory struct {
	mu          sync.Mutex
	objects     map[OutputID][]byte
	actions     map[ActionID][]byte
	runs        map[string][]byte
	caches      map[string]map[string][]byte
	locks       map[ActionID]chan struct{}
	quarantined []Quarantined
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		objects: map[OutputID][]byte{}, actions: map[ActionID][]byte{}, runs: map[string][]byte{},
		caches: map[string]map[string][]byte{}, locks: map[ActionID]chan struct{}{},
	}
}

// Corrupt flips one byte of object id (fault injection for tests); it
// reports whether the object exists.
func (m *Memory) Corrupt(id OutputID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[id]
	if !ok || len(b) == 0 {
		return ok
	}
	c := slices.Clone(b)
	c[len(c)/2] ^= 0x40
	m.objects[id] = c
	return true
}

func (m *Memory) quarantine(path, reason string) {
	m.quarantined = append(m.quarantined, Quarantined{Path: path, Reason: reason})
}

// Put implements Objects.
func (m *Memory) Put(path string) (OutputID, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: not a regular file", path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return OutputID{}, 0, fmt.Errorf("artifacts: put %s: %w", path, err)
	}
	id := OutputID(sha256.Sum256(b))
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.objects[id]; !ok || !bytes.Equal(old, b) {
		if ok {
			m.quarantine("objects/"+id.String(), "object "+id.Short()+": replaced by a Put of the right bytes")
		}
		m.objects[id] = b
	}
	return id, int64(len(b)), nil
}

// OpenObject implements Objects.
func (m *Memory) OpenObject(id OutputID) (io.ReadCloser, error) {
	m.mu.Lock()
	b, ok := m.objects[id]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("artifacts: open object %s: %w", id, fs.ErrNotExist)
	}
	if got := OutputID(sha256.Sum256(b)); got != id {
		// Checked up front (the bytes are at hand); reported at the end of
		// the read, as the contract says.
		m.mu.Lock()
		if cur, ok := m.objects[id]; ok && bytes.Equal(cur, b) {
			delete(m.objects, id)
			m.quarantine("objects/"+id.String(), "object "+id.Short()+": content hashes to "+got.Short())
		}
		m.mu.Unlock()
		return io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{
			fmt.Errorf("artifacts: object %s hashes to %s: %w", id, got.Short(), ErrCorrupt)})), nil
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Verify implements Objects.
func (m *Memory) Verify(id OutputID) error {
	rc, err := m.OpenObject(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// Export implements Objects.
func (m *Memory) Export(id OutputID, dir, name string, mode fs.FileMode) error {
	if err := safefile.CheckName(name); err != nil {
		return fmt.Errorf("artifacts: export %s: %w", id.Short(), err)
	}
	rc, err := m.OpenObject(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	return safefile.WriteIn(dir, name, mode, func(w io.Writer) error {
		_, err := io.Copy(w, rc)
		return err
	})
}

// ExportTemp implements Objects.
func (m *Memory) ExportTemp(id OutputID, dir, name string, mode fs.FileMode) error {
	rc, err := m.OpenObject(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeNew(dir, name, mode, rc)
}

// hasSize reports whether object id is stored with size n; m.mu is held.
func (m *Memory) hasSize(id OutputID, n int64) bool {
	o, ok := m.objects[id]
	return ok && int64(len(o)) == n
}

// GetAction implements Actions.
func (m *Memory) GetAction(id ActionID) (Action, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.actions[id]
	if !ok {
		return Action{}, false, nil
	}
	a, err := decodeAction(id, b)
	if err == nil {
		err = outputsStored(a, m.hasSize)
	}
	if err != nil {
		delete(m.actions, id)
		m.quarantine("actions/"+id.String(), "action "+id.Short()+": "+err.Error())
		return Action{}, false, nil
	}
	return a, true, nil
}

// GetActionVerified implements Actions.
func (m *Memory) GetActionVerified(id ActionID) (Action, bool, error) {
	a, ok, err := m.GetAction(id)
	if !ok || err != nil {
		return a, ok, err
	}
	for _, name := range slices.Sorted(maps.Keys(a.Outputs)) {
		if err := m.Verify(a.Outputs[name]); err != nil {
			m.mu.Lock()
			delete(m.actions, id)
			m.quarantine("actions/"+id.String(), "action "+id.Short()+": output "+name+" is corrupt or missing")
			m.mu.Unlock()
			return Action{}, false, nil
		}
	}
	return a, true, nil
}

// PutAction implements Actions.
func (m *Memory) PutAction(id ActionID, a Action) error {
	if err := checkAction(a); err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := outputsStored(a, m.hasSize); err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	b, err := encodeAction(id, a)
	if err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	m.actions[id] = b
	return nil
}

// PutRun implements RunRecords.
func (m *Memory) PutRun(name string, data []byte) error {
	if !validRunName(name) {
		return fmt.Errorf("artifacts: put run: invalid name %q", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.runs[name] = slices.Clone(data)
	return nil
}

// Runs implements RunRecords.
func (m *Memory) Runs() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.runs)), nil
}

// GetRun implements RunRecords.
func (m *Memory) GetRun(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.runs[name]
	if !ok {
		return nil, fmt.Errorf("artifacts: get run %s: %w", name, fs.ErrNotExist)
	}
	return slices.Clone(b), nil
}

// DeleteRun implements RunRecords.
func (m *Memory) DeleteRun(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[name]; !ok {
		return fmt.Errorf("artifacts: delete run %s: %w", name, fs.ErrNotExist)
	}
	delete(m.runs, name)
	return nil
}

// QuarantineRun implements RunRecords.
func (m *Memory) QuarantineRun(name string, data []byte, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.runs[name]; !ok || !bytes.Equal(cur, data) {
		return
	}
	delete(m.runs, name)
	m.quarantine("runs/"+name, reason)
}

// Lock implements Locker.
func (m *Memory) Lock(ctx context.Context, id ActionID) (func() error, error) {
	for {
		m.mu.Lock()
		ch, held := m.locks[id]
		if !held {
			ch = make(chan struct{})
			m.locks[id] = ch
			m.mu.Unlock()
			var once sync.Once
			return func() error {
				once.Do(func() {
					m.mu.Lock()
					delete(m.locks, id)
					m.mu.Unlock()
					close(ch)
				})
				return nil
			}, nil
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("artifacts: lock action %s: %w", id, ctx.Err())
		case <-ch:
		}
	}
}

// Cache implements Caches.
func (m *Memory) Cache(kind string) Cache {
	if !validCacheKind(kind) {
		panic(fmt.Sprintf("artifacts: unknown cache kind %q", kind))
	}
	return memCache{m: m, kind: kind}
}

type memCache struct {
	m    *Memory
	kind string
}

func (c memCache) Get(name string) ([]byte, bool) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	b, ok := c.m.caches[c.kind][name]
	if !ok {
		return nil, false
	}
	data, ok := unsealCache(b)
	if !ok {
		delete(c.m.caches[c.kind], name)
		c.m.quarantine(c.kind+"/"+name, c.kind+" "+name+": checksum mismatch")
		return nil, false
	}
	return slices.Clone(data), true
}

func (c memCache) Put(name string, data []byte) error {
	if err := safefile.CheckName(name); err != nil {
		return fmt.Errorf("artifacts: put %s entry: %w", c.kind, err)
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.caches[c.kind] == nil {
		c.m.caches[c.kind] = map[string][]byte{}
	}
	c.m.caches[c.kind][name] = sealCache(data)
	return nil
}

// Quarantined implements Quarantiner.
func (m *Memory) Quarantined() []Quarantined {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.quarantined)
}
