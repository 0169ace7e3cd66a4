package engine

import "github.com/demystify-resnet/repro/artifacts"

// The engine's view of a store. The planner side asks only for the
// interfaces of the storage seam that it uses (artifacts/storage.go):
// Resolve reads action entries (artifacts.Actions); Estimates and the run
// records read and write artifacts.RunRecords; Costs needs both
// (PlanStore). Running a plugin needs more: the plugin is a process that
// reads its inputs from, and writes its outputs to, files on this
// machine's disks, so the local executor (Local, ExecuteTask, Verify) takes
// a LocalStore, and Run, which hands every task the paths of its input
// objects, a RunStore. The filesystem store, *artifacts.Store, is all of
// them; the in-memory store, *artifacts.Memory, serves the planner side
// (unit tests).

// ObjectPaths locates the objects of a store on this machine's filesystem.
type ObjectPaths interface {
	// Path returns the absolute, clean path of object id's file in the
	// store, whether or not the object exists; the same id always gives
	// the same path. The file may be read (it is what a Task's Inputs
	// name, and what handOver accepts) but never modified.
	Path(id artifacts.OutputID) string
}

// LocalStore is what the local executor needs of a store: the objects,
// action entries and locks of the storage seam, plus the filesystem facts
// of a store that the plugin processes it launches can see.
type LocalStore interface {
	artifacts.Objects
	artifacts.Actions
	artifacts.Locker
	ObjectPaths
	// Dir returns the absolute path of the store's root folder (named in
	// errors about paths that are not the store's).
	Dir() string
	// Staging creates a fresh, empty folder private to the caller on the
	// store's filesystem (where files are cheap to publish with Put) and
	// returns its path; kind, made of letters, digits, '-' and '_', is part
	// of its name for humans. The caller removes it when done; the store
	// removes those a dead process left behind.
	Staging(kind string) (string, error)
}

// PlanStore is what the planner side reads of a store: action entries
// (what is cached: Resolve) and run records (what the work cost: Costs,
// Estimates).
type PlanStore interface {
	artifacts.Actions
	artifacts.RunRecords
}

// RunStore is what Run needs of the store a plan runs against: a PlanStore
// (what is cached, the times that order the work, the run's own record),
// objects (to publish outputs) and their paths (the inputs of every Task it
// hands to the executor).
type RunStore interface {
	PlanStore
	artifacts.Objects
	ObjectPaths
}

var (
	_ LocalStore = (*artifacts.Store)(nil)
	_ RunStore   = (*artifacts.Store)(nil)
	_ PlanStore  = (*artifacts.Memory)(nil)
)
