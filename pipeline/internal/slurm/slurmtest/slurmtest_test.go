package slurmtest

import (
	"slices"
	"testing"
)

func TestSubmittedJobs(t *testing.T) {
	// Oracle: the records the Slurm executor logs (slurm.Executor.Execute)
	// as the pipeline prints them with --log-format json.
	log := []byte(`{"level":"info","stage":"a","job":"5","log":"/s/slurm/e2/slurm-5.log","time":"2026-11-28T06:33:40Z","message":"submitted Slurm job"}
{"level":"info","stage":"a","time":"2026-11-28T06:33:40Z","message":"started"}
not json, but mentions submitted Slurm job
{"level":"info","stage":"b","job":"6","message":"submitted Slurm job"}
{"level":"info","stage":"c","job":"7","message":"submitted Slurm job twice?"}
`)
	if got := SubmittedJobs(log); !slices.Equal(got, []string{"5", "6"}) {
		t.Fatalf("got %v", got)
	}
	if got := SubmittedJobs(nil); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}
