package artifacts

// Bounds on the files of a store that are read whole (with
// safefile.ReadRegular), set far above any file the pipeline writes so that
// only a damaged or planted file reaches them. Such a file is quarantined
// (reported, with its size and the bound, and left out) or is an error
// naming it; it is never read into memory. Objects are never read whole:
// they are streamed.
const (
	// MaxRunRecordBytes bounds a run record. The smoke manifest's record
	// is 516 KB for 311 stages (1.7 KB a stage), so paper-full's (3,017
	// stages) is about 5 MB and 1 GiB is about 600,000 stages. PutRun
	// refuses a larger record, so every record written can be read back.
	MaxRunRecordBytes = 1 << 30
	// maxActionBytes bounds an action entry (510 to 888 bytes in a smoke
	// store).
	maxActionBytes = 16 << 20
	// maxCacheEntryBytes bounds a cache entry: a plugin description
	// (at most 5.3 KB in a smoke store) arrives in one plugin message, of
	// at most 64 MiB, plus the entry's header.
	maxCacheEntryBytes = 64<<20 + 4<<10
	// maxVersionBytes bounds VERSION (two bytes).
	maxVersionBytes = 4 << 10
)
