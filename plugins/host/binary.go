package host

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
)

// A verified binary is a private, immutable snapshot of a plugin binary
// whose sha256 was computed from exactly the bytes the snapshot holds.
// Every launch of the plugin executes the snapshot, never the file at
// Plugin.Path, so a binary rebuilt or swapped during a run can neither run
// nor be cached under the digest of the one that was hashed. The snapshot
// is taken, and checked against the digest recorded at discovery, at the
// first launch of a binary in the host process (the digest is part of every
// ActionID already); later launches reuse it. Binaries never launched (all
// their stages cached) are never snapshotted.
//
// The snapshot's form is platform specific (see snapshotBinary).

// binKey identifies a snapshot: the file it was read from and its digest.
type binKey struct{ path, digest string }

// binEntry is one snapshot (or the error of taking it); mu serialises the
// first read so that concurrent launches of one plugin hash it once.
type binEntry struct {
	mu  sync.Mutex
	img *image
}

var binaries = struct {
	mu sync.Mutex
	m  map[binKey]*binEntry
}{m: map[binKey]*binEntry{}}

// verifiedImage returns the snapshot of the binary at path whose sha256 is
// digest, taking it on first use. If the file's bytes no longer hash to
// digest it fails with ErrBinaryChanged and nothing is cached.
func verifiedImage(name, path, digest string) (*image, error) {
	if _, err := hex.DecodeString(digest); err != nil || len(digest) != 2*sha256.Size {
		return nil, fmt.Errorf("host: plugin %s: bad digest %q", name, digest)
	}
	e := entry(binKey{path, digest})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.img != nil {
		return e.img, nil
	}
	img, got, err := snapshotBinary(path)
	if err != nil {
		return nil, fmt.Errorf("host: plugin %s: %w", name, err)
	}
	if got != digest {
		img.close()
		return nil, &Error{Kind: ErrBinaryChanged, Msg: fmt.Sprintf(
			"host: plugin %s: binary %s changed since discovery (sha256 %s, want %s); re-run discovery", name, path, got, digest)}
	}
	e.img = img
	return img, nil
}

// entry returns the cache entry of key, creating it empty.
func entry(key binKey) *binEntry {
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	e, ok := binaries.m[key]
	if !ok {
		e = &binEntry{}
		binaries.m[key] = e
	}
	return e
}

// copyHashed copies src to dst and returns the hex sha256 of what it copied.
func copyHashed(dst io.Writer, src *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(dst, h), src); err != nil {
		return "", fmt.Errorf("read %s: %w", src.Name(), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
