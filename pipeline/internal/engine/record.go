package engine

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
)

// hostname is this machine's name, recorded in run records (State).
var hostname, _ = os.Hostname()

// recordWriter saves a run's record: checkpoints while it runs (one at a
// time, in the background, dropped while the previous is still being
// written) and the final record, after which no checkpoint is written, so
// that a slow checkpoint can never replace the final record.
type recordWriter struct {
	store    artifacts.RunRecords
	log      zerolog.Logger
	mu       sync.Mutex // held while a record is written
	done     bool       // guarded by mu: the final record was written
	inFlight atomic.Bool
}

// checkpoint saves rec in the background unless a checkpoint is already
// being written; a failure is logged (the run goes on).
func (w *recordWriter) checkpoint(rec RunRecord) {
	if !w.inFlight.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer w.inFlight.Store(false)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.done {
			return
		}
		if err := saveRecord(w.store, rec); err != nil {
			w.log.Warn().Err(err).Msg("saving the run record of the run in progress")
		}
	}()
}

// final saves the run's last record; no checkpoint is written after it.
func (w *recordWriter) final(rec RunRecord) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	return saveRecord(w.store, rec)
}

// State is the record's status, except that a "running" record written on
// this machine by a process that no longer exists is "killed": the run
// ended without writing its final record (kill -9, power loss), and the
// record holds what it had done at its last checkpoint. (A pid reused by
// another process since reads as "running".)
func (r RunRecord) State() string {
	if r.Status == "running" && r.PID > 0 && r.Host != "" && r.Host == hostname && !processAlive(r.PID) {
		return "killed"
	}
	return r.Status
}
