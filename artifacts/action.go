package artifacts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"

	"github.com/demystify-resnet/repro/artifacts/safefile"
)

// Action is what one executed stage produced: the cache entry stored under
// its ActionID. Outputs and Sizes have the same keys. In JSON, map keys are
// sorted, so an entry's bytes depend only on its content.
type Action struct {
	Outputs      map[string]OutputID `json:"outputs"`         // output name -> object
	Sizes        map[string]int64    `json:"sizes"`           // output name -> object size in bytes
	Files        map[string]string   `json:"files,omitempty"` // output name -> file name the plugin gave it (used to publish to out/)
	Stage        string              `json:"stage"`           // informative: stage instance name
	Plugin       string              `json:"plugin"`          // informative: plugin name
	PluginDigest string              `json:"plugin_digest"`   // informative: sha256 of the plugin binary
}

// actionFormat is the version of the on-disk action entry.
const actionFormat = 1

// actionEntry is the on-disk form of an Action: the Action plus its own
// ActionID and a checksum of the compact JSON encoding with Check empty.
type actionEntry struct {
	Format int      `json:"format"`
	ID     ActionID `json:"action"`
	Action
	Check string `json:"check,omitempty"`
}

func encodeAction(id ActionID, a Action) ([]byte, error) {
	e := actionEntry{Format: actionFormat, ID: id, Action: a}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	e.Check = hex.EncodeToString(sum[:])
	out, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// decodeAction parses and checks an entry; every failure wraps ErrCorrupt.
func decodeAction(id ActionID, b []byte) (Action, error) {
	var e actionEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Action{}, fmt.Errorf("parse: %v: %w", err, ErrCorrupt)
	}
	if dec.InputOffset() != int64(len(bytes.TrimRight(b, "\n"))) {
		return Action{}, fmt.Errorf("trailing data: %w", ErrCorrupt)
	}
	if e.Format != actionFormat {
		return Action{}, fmt.Errorf("format %d, want %d: %w", e.Format, actionFormat, ErrCorrupt)
	}
	if e.ID != id {
		return Action{}, fmt.Errorf("entry names action %s: %w", e.ID.Short(), ErrCorrupt)
	}
	check := e.Check
	e.Check = ""
	c, err := json.Marshal(e)
	if err != nil {
		return Action{}, fmt.Errorf("re-encode: %v: %w", err, ErrCorrupt)
	}
	if sum := sha256.Sum256(c); hex.EncodeToString(sum[:]) != check {
		return Action{}, fmt.Errorf("checksum mismatch: %w", ErrCorrupt)
	}
	if err := checkAction(e.Action); err != nil {
		return Action{}, fmt.Errorf("%v: %w", err, ErrCorrupt)
	}
	return e.Action, nil
}

func checkAction(a Action) error {
	if len(a.Outputs) != len(a.Sizes) {
		return fmt.Errorf("%d outputs but %d sizes", len(a.Outputs), len(a.Sizes))
	}
	for _, name := range slices.Sorted(maps.Keys(a.Outputs)) {
		if name == "" {
			return errors.New("empty output name")
		}
		n, ok := a.Sizes[name]
		if !ok {
			return fmt.Errorf("output %q has no size", name)
		}
		if n < 0 {
			return fmt.Errorf("output %q has negative size %d", name, n)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Files)) {
		if _, ok := a.Outputs[name]; !ok {
			return fmt.Errorf("file name for unknown output %q", name)
		}
		// The name becomes a path when the output is published.
		if err := safefile.CheckName(a.Files[name]); err != nil {
			return fmt.Errorf("output %q: %w", name, err)
		}
	}
	return nil
}

// outputsStored checks what a hit (GetAction) and PutAction both need:
// every output's object is stored with its recorded size (has, the store's
// check). The error names the first one, in name order, that is not.
func outputsStored(a Action, has func(id OutputID, size int64) bool) error {
	for _, name := range slices.Sorted(maps.Keys(a.Outputs)) {
		if id, n := a.Outputs[name], a.Sizes[name]; !has(id, n) {
			return fmt.Errorf("output %q: object %s of size %d is not in the store", name, id.Short(), n)
		}
	}
	return nil
}

// GetAction looks up the entry of action id. It reports a hit only if the
// entry parses, passes its checksum, names id, and every output object
// exists with its recorded size. An entry that fails any of these checks is
// a miss: it is moved to quarantine/ and (Action{}, false, nil) is returned.
// An error is returned only when the store itself cannot be read (for
// example a permission or I/O error). Use GetActionVerified to also re-hash
// the outputs.
func (s *Store) GetAction(id ActionID) (Action, bool, error) {
	p := s.actionPath(id)
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		s.quarantineIfSame(p, fi, "action-"+id.String(), "action "+id.Short()+": not a regular file")
		return Action{}, false, nil
	}
	b, err := readAction(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Action{}, false, nil
	}
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return Action{}, false, fmt.Errorf("artifacts: get action %s: %w", id, err)
	}
	var a Action
	if err == nil {
		a, err = decodeAction(id, b)
	}
	if err == nil {
		err = outputsStored(a, s.hasSize)
	}
	if err != nil {
		s.quarantine(p, "action-"+id.String(), "action "+id.Short()+": "+err.Error())
		return Action{}, false, nil
	}
	return a, true, nil
}

// readAction reads the action entry at p, at most maxActionBytes: a larger
// one gives an error wrapping ErrCorrupt.
func readAction(p string) ([]byte, error) {
	b, err := safefile.ReadRegular(p, maxActionBytes)
	if errors.Is(err, safefile.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", err, ErrCorrupt)
	}
	return b, err
}

// GetActionVerified is GetAction that also re-hashes every output object
// (Verify). A corrupt object is quarantined and the lookup is a miss, with
// the entry quarantined too.
func (s *Store) GetActionVerified(id ActionID) (Action, bool, error) {
	a, ok, err := s.GetAction(id)
	if !ok || err != nil {
		return a, ok, err
	}
	for _, name := range slices.Sorted(maps.Keys(a.Outputs)) {
		if err := s.Verify(a.Outputs[name]); err != nil {
			if errors.Is(err, ErrCorrupt) || errors.Is(err, fs.ErrNotExist) {
				s.quarantine(s.actionPath(id), "action-"+id.String(),
					"action "+id.Short()+": output "+name+" is corrupt or missing")
				return Action{}, false, nil
			}
			return Action{}, false, fmt.Errorf("artifacts: get action %s: %w", id, err)
		}
	}
	return a, true, nil
}

// PutAction records a as the entry of action id, replacing any previous
// entry atomically (temporary file, rename; durable after the next Sync). Every
// output must already be in the store (Put) with its recorded size;
// otherwise PutAction fails and publishes nothing. On a write error (for
// instance ENOSPC) the previous entry, if any, is left as it was.
func (s *Store) PutAction(id ActionID, a Action) error {
	if err := checkAction(a); err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("artifacts: put action %s: %w", id, ErrClosed)
	}
	if err := outputsStored(a, s.hasSize); err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	b, err := encodeAction(id, a)
	if err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	tmp, _, err := s.writeTemp("action", deferred, func(w io.Writer) (int64, error) {
		n, err := w.Write(b)
		return int64(n), err
	})
	if err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	if err := s.publish(tmp, s.actionPath(id), 0o444, deferred); err != nil {
		return fmt.Errorf("artifacts: put action %s: %w", id, err)
	}
	return nil
}
