package slurm

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/artifacts"
)

// follow polls job id, running the tasks of ms, until it ends, and gives
// each member its result: as soon as its outcome file appears when the job
// runs several tasks (except the last one left, which waits for the end of
// the job), else once the job has ended. When every member's context is
// cancelled it cancels the job. It returns the members to resubmit.
func (e *Executor) follow(ms []*member, id, logPath string) (retry []*member) {
	defer e.done(id)
	ctx, release := allDone(ms)
	defer release()
	f := newJobFollow(e, ms, id, logPath)
	tick := time.NewTicker(e.cfg.Poll)
	defer tick.Stop()
	// The job's outcome files are looked at more often than the queue: a
	// finished task's dependants need not wait for the next squeue, and
	// once every task has its outcome the job is about to end, so the queue
	// is asked at once, and then every outcomePoll, whether it has.
	var outcomes <-chan time.Time
	if outcomePoll < e.cfg.Poll {
		ot := time.NewTicker(outcomePoll)
		defer ot.Stop()
		outcomes = ot.C
	}
	for {
		fresh := false // ask squeue now rather than share the last answer
		select {
		case <-ctx.Done():
			e.cancel(id, f.log)
			f.failAll(func(m *member) error {
				return fmt.Errorf("stage %s: run interrupted; Slurm job %s cancelled: %w", m.t.Instance, id, context.Canceled)
			})
			return nil
		case <-outcomes:
			if fresh = f.outcomesTick(); !fresh {
				continue
			}
		case <-tick.C:
			f.collect(1)
		}
		ji, seen, err := e.queueState(id, fresh)
		if err != nil {
			if f.queueFailed(err) {
				return nil
			}
			continue
		}
		f.failingSince = time.Time{}
		if !seen || terminal(ji.State) {
			return f.finished(ji, seen)
		}
		f.report(ji)
	}
}

// jobFollow is the state of following one submitted Slurm job; it is owned
// by the job's goroutine (follow).
type jobFollow struct {
	e           *Executor
	ms          []*member
	id, logPath string
	log         zerolog.Logger
	group       bool               // the job runs several tasks
	index       map[*member]int    // a member's position in ms
	byName      map[string]*member // the members by stage instance
	lt          *logTail

	lastState, lastReason string    // the job state last reported to the members
	failingSince          time.Time // the first squeue failure in a row
	endingSince           time.Time // when every task first had its outcome
}

func newJobFollow(e *Executor, ms []*member, id, logPath string) *jobFollow {
	f := &jobFollow{e: e, ms: ms, id: id, logPath: logPath, log: ms[0].log, group: len(ms) > 1,
		index: make(map[*member]int, len(ms)), byName: make(map[string]*member, len(ms)),
		lt: &logTail{path: logPath}}
	for i, m := range ms {
		f.index[m] = i
		f.byName[m.t.Instance] = m
	}
	return f
}

// left returns the members still waiting for their result, in order.
func (f *jobFollow) left() []*member {
	var l []*member
	for _, m := range f.ms {
		if !m.done {
			l = append(l, m)
		}
	}
	return l
}

// collect gives the members of a grouped job whose task has finished (its
// outcome file is written) their result, keeping at least keep of them
// waiting. A job of one task is settled by finished alone.
func (f *jobFollow) collect(keep int) {
	if !f.group {
		return
	}
	for _, m := range f.left() {
		if len(f.left()) <= keep {
			return
		}
		if o, ok := readOutcome(m, f.id); ok {
			f.e.deliver(m, o, f.id, f.index[m], len(f.ms), f.logPath)
		}
	}
}

// forward passes the progress records of the job's log to their members
// (in a job of one task, every record is that task's).
func (f *jobFollow) forward(recs map[string]progressRecord) {
	for stage, p := range recs {
		m := f.byName[stage]
		if !f.group {
			m = f.ms[0]
		}
		if m != nil && !m.done {
			m.progress(p.Done, p.Total, p.Msg)
			m.lastDone, m.lastTotal = p.Done, p.Total
		}
	}
}

// ending reports whether every member left has its outcome file: the job
// is about to end.
func (f *jobFollow) ending() bool {
	for _, m := range f.left() {
		if _, ok := readOutcome(m, f.id); !ok {
			return false
		}
	}
	return true
}

// failAll delivers the outcomes already written, then fails every member
// left with the error errOf gives it.
func (f *jobFollow) failAll(errOf func(*member) error) {
	f.collect(0)
	for _, m := range f.left() {
		m.finish(artifacts.Action{}, errOf(m))
	}
}

// outcomesTick collects the finished tasks' results (keeping one member
// waiting for the job's end) and reports whether the queue should be asked
// now: the job is about to end, and has been for no longer than
// endingFast (a job slow to end is left to the queue's pace).
func (f *jobFollow) outcomesTick() bool {
	if f.collect(1); !f.ending() {
		return false
	}
	if f.endingSince.IsZero() {
		f.endingSince = time.Now()
	}
	return time.Since(f.endingSince) <= endingFast
}

// queueFailed handles a failed squeue: after LostContact of failures in a
// row it fails every member left and reports true (stop following);
// before, it logs a warning and reports false (retry at the next tick).
func (f *jobFollow) queueFailed(err error) bool {
	if f.failingSince.IsZero() {
		f.failingSince = time.Now()
	}
	if time.Since(f.failingSince) <= f.e.cfg.LostContact {
		f.log.Warn().Err(err).Str("job", f.id).Msg("squeue failed; will retry")
		return false
	}
	f.failAll(func(m *member) error {
		return fmt.Errorf("stage %s: lost contact with the Slurm controller for %s while following job %s: %w",
			m.t.Instance, f.e.cfg.LostContact, f.id, err)
	})
	return true
}

// finished settles every member left once the job has ended (ji is its
// squeue state) or is gone from squeue (seen is false, MinJobAge): the
// details come from scontrol, then accounting. A grouped task with an
// outcome file gets its recorded result; the others get the job's outcome,
// or are returned for resubmission when the state is retryable and they
// have attempts left.
func (f *jobFollow) finished(ji jobInfo, seen bool) (retry []*member) {
	f.forward(f.lt.poll())
	if fin, ok := f.e.final(f.id); ok && terminal(fin.State) {
		ji = fin
	} else if !seen {
		ji = jobInfo{ID: f.id}
	}
	for _, m := range f.left() {
		if f.group {
			if o, ok := readOutcome(m, f.id); ok {
				f.e.deliver(m, o, f.id, f.index[m], len(f.ms), f.logPath)
				continue
			}
		}
		a, err := f.e.outcome(m.ctx, m.t, m.aid, ji, f.logPath, f.e.timeLimit(f.ms))
		if err != nil && retryable(ji.State) && m.attempt < m.t.Retries {
			m.attempt++
			m.log.Warn().Err(err).Int("attempt", m.attempt+1).Msg("resubmitting the stage")
			retry = append(retry, m)
			continue
		}
		m.finish(a, err)
	}
	return retry
}

// report tells the members left about a change of the (unfinished) job's
// state, and while it runs forwards the progress its log records.
func (f *jobFollow) report(ji jobInfo) {
	if ji.State != f.lastState || ji.Reason != f.lastReason {
		msg := "Slurm job " + f.id + " " + ji.State
		if ji.Reason != "" && ji.Reason != "None" {
			msg += " (" + ji.Reason + ")"
		}
		f.log.Debug().Str("job", f.id).Str("state", ji.State).Str("reason", ji.Reason).Msg("Slurm job state")
		// A state change keeps the last fraction the stage reported:
		// COMPLETING after "step 3 of 3" must not read as 0 of 0.
		for _, m := range f.left() {
			m.progress(m.lastDone, m.lastTotal, msg)
		}
		f.lastState, f.lastReason = ji.State, ji.Reason
	}
	if ji.State == StateRunning {
		f.forward(f.lt.poll())
	}
}
