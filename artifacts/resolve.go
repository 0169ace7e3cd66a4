package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ResolveObject returns the object whose hexadecimal ID starts with prefix
// (at least 4 lowercase hex digits), for commands that accept short IDs.
// No match gives an error wrapping fs.ErrNotExist; several give an error
// listing them.
func (s *Store) ResolveObject(prefix string) (OutputID, error) {
	id, err := s.resolve(dirObjects, prefix)
	return OutputID(id), err
}

// ResolveAction returns the action entry whose hexadecimal ID starts with
// prefix, like ResolveObject.
func (s *Store) ResolveAction(prefix string) (ActionID, error) {
	id, err := s.resolve(dirActions, prefix)
	return ActionID(id), err
}

func (s *Store) resolve(sub, prefix string) (ID, error) {
	if len(prefix) < 4 || len(prefix) > 64 || !isLowerHex(prefix) {
		return ID{}, fmt.Errorf("artifacts: resolve %q: want 4 to 64 lowercase hex digits", prefix)
	}
	if len(prefix) == 64 {
		id, _ := ParseID(prefix)
		if _, err := os.Lstat(filepath.Join(s.dir, sub, prefix[:2], prefix)); err != nil {
			return ID{}, fmt.Errorf("artifacts: resolve %s in %s: %w", prefix, sub, err)
		}
		return id, nil
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, sub, prefix[:2]))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ID{}, fmt.Errorf("artifacts: resolve %s in %s: %w", prefix, sub, err)
	}
	var found []ID
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			if id, err := ParseID(e.Name()); err == nil {
				found = append(found, id)
			}
		}
	}
	switch len(found) {
	case 0:
		return ID{}, fmt.Errorf("artifacts: resolve %s in %s: %w", prefix, sub, fs.ErrNotExist)
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, id := range found {
		names[i] = id.Short()
	}
	return ID{}, fmt.Errorf("artifacts: resolve %s in %s: ambiguous: %s", prefix, sub, strings.Join(names, ", "))
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
