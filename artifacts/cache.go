package artifacts

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/demystify-resnet/repro/artifacts/safefile"
)

// Cache returns the namespace kind of the store, kept in <store>/<kind>/.
// Each entry is a file holding a format line ("pipeline-cache-v1"), the
// sha256 of the data and the data, published like every other file of the
// store (tmp/, rename, durable at the next Sync); an entry whose checksum fails is a miss and is
// quarantined, an entry of an older format (no format line) a silent miss.
func (s *Store) Cache(kind string) Cache {
	if !validCacheKind(kind) {
		panic(fmt.Sprintf("artifacts: unknown cache kind %q", kind))
	}
	return fsCache{s: s, kind: kind}
}

type fsCache struct {
	s    *Store
	kind string
}

func (c fsCache) path(name string) string { return filepath.Join(c.s.dir, c.kind, name) }

// Get implements Cache.
func (c fsCache) Get(name string) ([]byte, bool) {
	if safefile.CheckName(name) != nil {
		return nil, false
	}
	p := c.path(name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, false
	}
	if !fi.Mode().IsRegular() {
		c.s.quarantineIfSame(p, fi, c.kind+"-"+name, c.kind+" "+name+": not a regular file")
		return nil, false
	}
	b, err := safefile.ReadRegular(p, maxCacheEntryBytes)
	if errors.Is(err, safefile.ErrTooLarge) {
		c.s.quarantineIfSame(p, fi, c.kind+"-"+name, fmt.Sprintf("%s %s: %d bytes, more than the limit of %d", c.kind, name, fi.Size(), maxCacheEntryBytes))
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	if !bytes.HasPrefix(b, cacheMagic) {
		// An entry of an older format (the CLI once wrote bare Describe
		// responses here): a plain miss, replaced by the next Put; not
		// corruption, so nothing is quarantined or logged.
		return nil, false
	}
	data, ok := unsealCache(b)
	if !ok {
		c.s.quarantineIfSame(p, fi, c.kind+"-"+name, c.kind+" "+name+": checksum mismatch")
		return nil, false
	}
	return data, true
}

// Put implements Cache.
func (c fsCache) Put(name string, data []byte) error {
	if err := safefile.CheckName(name); err != nil {
		return fmt.Errorf("artifacts: put %s entry: %w", c.kind, err)
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	if c.s.closed {
		return fmt.Errorf("artifacts: put %s %s: %w", c.kind, name, ErrClosed)
	}
	sealed := sealCache(data)
	tmp, _, err := c.s.writeTemp(c.kind, deferred, func(w io.Writer) (int64, error) {
		n, err := w.Write(sealed)
		return int64(n), err
	})
	if err == nil {
		err = c.s.publish(tmp, c.path(name), 0o444, deferred)
	}
	if err != nil {
		return fmt.Errorf("artifacts: put %s %s: %w", c.kind, name, err)
	}
	return nil
}

// sealCache prefixes data with its sha256; unsealCache checks and strips it.
// cacheMagic starts every cache entry: the format's name and version, then
// the sha256 of the data, then the data. A file without it is from an older
// format (a miss); a file with it whose checksum fails is corrupt.
var cacheMagic = []byte("pipeline-cache-v1\n")

func sealCache(data []byte) []byte {
	sum := sha256.Sum256(data)
	return append(append(append([]byte(nil), cacheMagic...), sum[:]...), data...)
}

// unsealCache returns the data of a sealed entry (magic, sum, data), or
// false if the entry is short, lacks the magic or fails its checksum.
func unsealCache(b []byte) ([]byte, bool) {
	b, ok := bytes.CutPrefix(b, cacheMagic)
	if !ok || len(b) < sha256.Size {
		return nil, false
	}
	sum := sha256.Sum256(b[sha256.Size:])
	if !bytes.Equal(sum[:], b[:sha256.Size]) {
		return nil, false
	}
	return b[sha256.Size:], true
}
