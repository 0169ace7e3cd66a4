package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
)

// progressCall is one call of a member's progress function.
type progressCall struct {
	done, total float64
	msg         string
}

// followed returns a jobFollow of job "42" over n members whose task files
// live in their own folders under t.TempDir(), and the progress calls
// each member receives.
func followed(t *testing.T, n int) (*jobFollow, [][]progressCall) {
	t.Helper()
	calls := make([][]progressCall, n)
	ms := make([]*member, n)
	for i := range ms {
		dir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ms[i] = &member{
			t:        &engine.Task{Instance: fmt.Sprintf("s%d", i), ActionID: fmt.Sprintf("aid%d", i)},
			ctx:      context.Background(),
			log:      zerolog.Nop(),
			taskPath: filepath.Join(dir, "task.json"),
			res:      make(chan memberResult, 1),
			progress: func(done, total float64, msg string) {
				calls[i] = append(calls[i], progressCall{done, total, msg})
			},
		}
	}
	return newJobFollow(&Executor{}, ms, "42", filepath.Join(t.TempDir(), "job.log")), calls
}

// writeOutcome records, as `pipeline exec` does, that m's task failed with msg.
func writeOutcome(t *testing.T, m *member, msg string) {
	t.Helper()
	data, err := json.Marshal(Outcome{Instance: m.t.Instance, ActionID: m.t.ActionID, Error: msg})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(OutcomePath(m.taskPath, "42"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFollowCollectKeepsOneWaiting(t *testing.T) {
	f, _ := followed(t, 3)
	f.collect(1)
	if len(f.left()) != 3 {
		t.Fatalf("collect without outcome files settled %d members", 3-len(f.left()))
	}
	writeOutcome(t, f.ms[0], "boom")
	writeOutcome(t, f.ms[2], "bang")
	if f.ending() {
		t.Fatal("ending with s1's outcome missing")
	}
	f.collect(1)
	if l := f.left(); len(l) != 1 || l[0] != f.ms[1] {
		t.Fatalf("after collect(1) waiting %v, want s1 only", names(l))
	}
	r := <-f.ms[2].res
	var je *JobError
	if !errors.As(r.err, &je) || je.JobID != "42" || !strings.Contains(r.err.Error(), "(task 3 of 3) failed: bang") {
		t.Fatalf("s2 got %v", r.err)
	}
	writeOutcome(t, f.ms[1], "late")
	if !f.ending() {
		t.Fatal("not ending with every outcome written")
	}
	// The last member waits for the job's end...
	f.collect(1)
	if len(f.left()) != 1 {
		t.Fatal("collect(1) settled the last member")
	}
	// ...unless the job is given up on.
	f.failAll(func(m *member) error { return errors.New("unused") })
	if r := <-f.ms[1].res; r.err == nil || !strings.Contains(r.err.Error(), "(task 2 of 3) failed: late") {
		t.Fatalf("s1 got %v, want its recorded outcome", r.err)
	}
}

func TestFollowSingleTaskWaitsForTheJob(t *testing.T) {
	f, _ := followed(t, 1)
	writeOutcome(t, f.ms[0], "boom")
	f.collect(0)
	if len(f.left()) != 1 {
		t.Fatal("a job of one task settled from its outcome file")
	}
	f.failAll(func(m *member) error { return fmt.Errorf("stage %s: gone", m.t.Instance) })
	if r := <-f.ms[0].res; r.err == nil || r.err.Error() != "stage s0: gone" {
		t.Fatalf("got %v", r.err)
	}
}

func TestFollowForwardsProgress(t *testing.T) {
	f, calls := followed(t, 2)
	f.ms[1].done = true
	f.forward(map[string]progressRecord{
		"s0": {Done: 1, Total: 3, Msg: "step 1"}, "s1": {Done: 2, Total: 3, Msg: "step 2"},
		"other": {Done: 9, Total: 9, Msg: "not ours"},
	})
	if fmt.Sprint(calls) != "[[{1 3 step 1}] []]" {
		t.Fatalf("progress %v", calls)
	}
	// In a job of one task every record is that task's.
	g, gcalls := followed(t, 1)
	g.forward(map[string]progressRecord{"": {Done: 2, Total: 4, Msg: "half"}})
	if fmt.Sprint(gcalls) != "[[{2 4 half}]]" || g.ms[0].lastDone != 2 || g.ms[0].lastTotal != 4 {
		t.Fatalf("progress %v, last %v/%v", gcalls, g.ms[0].lastDone, g.ms[0].lastTotal)
	}
}

func TestFollowReportsStateChanges(t *testing.T) {
	f, calls := followed(t, 1)
	f.ms[0].lastDone, f.ms[0].lastTotal = 3, 3
	f.report(jobInfo{ID: "42", State: StatePending, Reason: "Resources"})
	f.report(jobInfo{ID: "42", State: StatePending, Reason: "Resources"})
	f.report(jobInfo{ID: "42", State: "COMPLETING", Reason: "None"})
	want := "[[{3 3 Slurm job 42 PENDING (Resources)} {3 3 Slurm job 42 COMPLETING}]]"
	if fmt.Sprint(calls) != want {
		t.Fatalf("progress %v, want %s", calls, want)
	}
}

func names(ms []*member) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.t.Instance)
	}
	return s
}
