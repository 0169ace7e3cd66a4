package artifacts

import (
	"os"
	"path/filepath"
	"testing"
)

// An entry of the format the CLI wrote before the cache was sealed (a bare
// Describe response) is a silent miss, replaced by the next Put; a sealed
// entry whose bytes changed is quarantined.
func TestCacheOldFormatIsASilentMiss(t *testing.T) {
	s := openTest(t)
	c := s.Cache("describe")
	p := filepath.Join(s.Dir(), "describe", "old.pb")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("\x0a\x05bare protobuf of an old CLI"), 0o444); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("old.pb"); ok {
		t.Fatal("an old-format entry was a hit")
	}
	if q := s.Quarantined(); len(q) != 0 {
		t.Fatalf("an old-format entry was quarantined: %v", q)
	}
	if err := c.Put("old.pb", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, ok := c.Get("old.pb"); !ok || string(b) != "new" {
		t.Fatalf("after Put: %q, %v", b, ok)
	}

	if err := c.Put("bad.pb", []byte("description")); err != nil {
		t.Fatal(err)
	}
	bp := filepath.Join(s.Dir(), "describe", "bad.pb")
	b, err := os.ReadFile(bp)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.Chmod(bp, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("bad.pb"); ok {
		t.Fatal("a corrupt entry was a hit")
	}
	if q := s.Quarantined(); len(q) != 1 {
		t.Fatalf("Quarantined = %v, want the corrupt entry", q)
	}
}
