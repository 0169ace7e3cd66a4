// Package slurmtest helps tests that drive the pipeline's Slurm executor
// against a real cluster (started by .ci/slurm-up.sh).
//
// Typical use, in a test that runs the pipeline binary:
//
//	slurmtest.Require(t) // skips without a cluster; fails instead when CI=true
//	cmd := exec.Command(pipelineBin, "--store", store, "--log-format", "json",
//		"run", "--executor", "slurm", "-j", "16", "manifests/smoke.yaml")
//	cmd.Env = append(os.Environ(), slurmtest.FastPollEnv)
//	...
//	ids := slurmtest.SubmittedJobs(stderr) // the jobs the run submitted
//	left, _ := slurmtest.Queued(ctx, ids) // must be empty once the run ended
package slurmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/demystify-resnet/repro/pipeline/internal/slurm"
)

// FastPollEnv is an environment entry that makes the pipeline poll the
// Slurm queue every 200 ms instead of every second, so tests on a
// single-node cluster finish quickly.
const FastPollEnv = "PIPELINE_SLURM_POLL=200ms"

// The cluster is checked once per test process: a missing controller
// makes `scontrol ping` wait for its timeout.
var (
	checkOnce sync.Once
	checkErr  error
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// cluster is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips tb when no Slurm cluster answers (sbatch, squeue, scontrol
// and scancel on PATH and `scontrol ping` UP), with a message saying how to
// start one; when CI=true it fails tb instead. It also skips in -short mode
// outside CI.
func Require(tb testing.TB) {
	tb.Helper()
	if testing.Short() && !InCI() {
		tb.Skip("slurmtest: integration test against a real Slurm cluster; skipped in -short mode")
	}
	checkOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		checkErr = slurm.CheckCluster(ctx, 10*time.Second)
	})
	if err := checkErr; err != nil {
		if InCI() {
			tb.Fatalf("slurmtest: CI=true but no Slurm cluster is reachable (.ci/run must call .ci/slurm-up.sh first): %v", err)
		}
		tb.Skipf("slurmtest: no Slurm cluster reachable (start one with `bash .ci/slurm-up.sh`): %v", err)
	}
}

// SubmittedJobs returns the Slurm job ids that a pipeline run reported
// submitting, read from its log (stderr) in JSON format (--log-format
// json): the "job" field of every "submitted Slurm job" record, in order.
func SubmittedJobs(log []byte) []string {
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("submitted Slurm job")) {
			continue
		}
		var rec struct {
			Message string `json:"message"`
			Job     string `json:"job"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Message == "submitted Slurm job" && rec.Job != "" {
			ids = append(ids, rec.Job)
		}
	}
	return ids
}

// Queued returns "ID STATE" for each of ids that squeue still shows as
// pending, running, completing or in any other not-yet-finished state.
func Queued(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, "squeue", "-h", "-j", strings.Join(ids, ","), "-o", "%i %T").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		if strings.Contains(stderr, "Invalid job id") {
			return nil, nil
		}
		return nil, fmt.Errorf("slurmtest: squeue: %v: %s", err, strings.TrimSpace(stderr))
	}
	var left []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			left = append(left, l)
		}
	}
	return left, nil
}

// State returns the state of job id as scontrol shows it (e.g. RUNNING,
// PENDING, COMPLETED), or "" once the controller has forgotten the job.
func State(ctx context.Context, id string) string {
	out, err := exec.CommandContext(ctx, "scontrol", "show", "job", "-o", id).Output()
	if err != nil {
		return ""
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "JobState="); ok {
			return v
		}
	}
	return ""
}
