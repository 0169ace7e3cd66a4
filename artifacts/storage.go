package artifacts

import (
	"context"
	"io"
	"io/fs"
)

// The storage seam: what the rest of the pipeline may ask of a store, one
// job per interface. *Store (the filesystem store) and *Memory (for unit
// tests) implement all of them; artifacts/storetest is the conformance
// suite every implementation passes. Methods not listed here (Dir, Path,
// Staging) are filesystem facts that only the local executor uses.

// Objects holds immutable, content-addressed bytes.
type Objects interface {
	// Put reads the regular file at path and stores its bytes as the object
	// named by their OutputID (HashFile), returning the ID and the size.
	// It is idempotent and safe for concurrent use. An object already
	// stored under that ID is trusted only after checking it (size and
	// hash): a wrong or unreadable one is replaced. On error nothing is
	// stored. The file at path is not changed.
	Put(path string) (OutputID, int64, error)
	// OpenObject returns a reader of the object's bytes that fails, at the
	// end and before io.EOF, with an error wrapping ErrCorrupt if the bytes
	// do not hash to id (the object is then quarantined, so a later Put
	// repairs it). A missing object gives an error wrapping fs.ErrNotExist.
	OpenObject(id OutputID) (io.ReadCloser, error)
	// Verify reads the whole object through OpenObject: nil if it is
	// intact, ErrCorrupt (quarantined) or fs.ErrNotExist otherwise.
	Verify(id OutputID) error
	// Export writes a checked copy of object id as dir/name with mode,
	// atomically; name must be a plain file name (safefile.CheckName).
	// A corrupt object writes nothing and gives ErrCorrupt.
	Export(id OutputID, dir, name string, mode fs.FileMode) error
	// ExportTemp is Export for private, short-lived copies: the same
	// checked bytes written into the new file dir/name (which must not
	// exist), without the fsync and rename that make Export durable. A
	// corrupt object leaves no file.
	ExportTemp(id OutputID, dir, name string, mode fs.FileMode) error
}

// Actions is the cache index: ActionID -> Action.
type Actions interface {
	// GetAction returns the entry of id. A hit needs an entry that parses,
	// passes its checksum, names id, has plain file names, and whose
	// outputs all exist with their recorded sizes. Anything else is a miss
	// (the entry is quarantined): (Action{}, false, nil). Only a store that
	// cannot be read gives an error.
	GetAction(id ActionID) (Action, bool, error)
	// GetActionVerified is GetAction that also re-hashes every output; a
	// corrupt output makes the lookup a miss and quarantines both.
	GetActionVerified(id ActionID) (Action, bool, error)
	// PutAction records a under id, replacing any previous entry
	// atomically. Every output must already be stored with its size, and
	// every file name must be plain; otherwise nothing is recorded.
	PutAction(id ActionID, a Action) error
}

// RunRecords keeps the engine's run records: opaque documents named by a
// string of 1 to 200 letters, digits, '.', '-', '_' (not starting with '.').
type RunRecords interface {
	// PutRun stores data under name, atomically replacing a previous one.
	// It is the durability barrier: every object, action entry and cache
	// entry published before the call is durable before the record is, so
	// a record that survives a power cut never names results that did not.
	PutRun(name string, data []byte) error
	// Runs lists the record names in lexical order.
	Runs() ([]string, error)
	// GetRun returns a record; a missing one wraps fs.ErrNotExist.
	GetRun(name string) ([]byte, error)
	// DeleteRun removes a record; a missing one wraps fs.ErrNotExist.
	DeleteRun(name string) error
	// QuarantineRun moves the record name aside because its content, data,
	// is not a record (records are opaque to the store: their reader
	// decides), reporting it with reason among Quarantined; Runs no longer
	// lists it. It does nothing if the record no longer holds data
	// (replaced meanwhile) or is gone.
	QuarantineRun(name string, data []byte, reason string)
}

// Locker gives exclusive locks per ActionID, across goroutines and
// processes sharing the store.
type Locker interface {
	// Lock blocks until the lock of id is held or ctx is done. unlock
	// releases it; calling unlock again is harmless.
	Lock(ctx context.Context, id ActionID) (unlock func() error, err error)
}

// Cache is a namespace of small documents that can always be recomputed
// (for example plugin descriptions keyed by binary digest). Get never
// fails: a missing, unreadable or corrupt entry is a miss (and a corrupt
// one is quarantined). Names are plain file names (safefile.CheckName).
type Cache interface {
	Get(name string) ([]byte, bool)
	Put(name string, data []byte) error
}

// Caches hands out the Cache namespaces a store keeps. The kinds are fixed
// (CacheKinds), so that every folder of a store is documented.
type Caches interface {
	// Cache returns the namespace kind; it panics on a kind not in
	// CacheKinds (a programming error).
	Cache(kind string) Cache
}

// CacheKinds are the Cache namespaces: "describe" holds the Describe
// responses of plugin binaries, keyed by "<sha256 of the binary>.pb".
var CacheKinds = []string{"describe"}

// Quarantiner reports the corruption a store found and moved aside.
type Quarantiner interface {
	// Quarantined returns what was quarantined since the store was opened,
	// in order.
	Quarantined() []Quarantined
}

// Storage is everything the pipeline keeps in a store.
type Storage interface {
	Objects
	Actions
	RunRecords
	Locker
	Caches
	Quarantiner
}

var (
	_ Storage = (*Store)(nil)
	_ Storage = (*Memory)(nil)
)

func validCacheKind(kind string) bool {
	for _, k := range CacheKinds {
		if k == kind {
			return true
		}
	}
	return false
}
