package slurm

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Job states as Slurm prints them (squeue %T, scontrol JobState, sacct State).
const (
	StatePending     = "PENDING"
	StateRunning     = "RUNNING"
	StateCompleting  = "COMPLETING"
	StateCompleted   = "COMPLETED"
	StateFailed      = "FAILED"
	StateTimeout     = "TIMEOUT"
	StateCancelled   = "CANCELLED"
	StateNodeFail    = "NODE_FAIL"
	StateOutOfMemory = "OUT_OF_MEMORY"
	StateBootFail    = "BOOT_FAIL"
	StateDeadline    = "DEADLINE"
	StatePreempted   = "PREEMPTED"
)

// terminal reports whether a job in state s has finished for good (its
// processes are gone and it will not run again). COMPLETING is not terminal:
// the job's processes may still be running.
func terminal(s string) bool {
	switch s {
	case StateCompleted, StateFailed, StateTimeout, StateCancelled, StateNodeFail,
		StateOutOfMemory, StateBootFail, StateDeadline, StatePreempted:
		return true
	}
	return false
}

// normState turns the state strings of the different Slurm tools into one
// form: sacct prints "CANCELLED by 0" and may append "+" to a state.
func normState(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	return strings.TrimRight(s, "+")
}

// jobInfo is what the executor learns about one job.
type jobInfo struct {
	ID        string
	State     string // normalised, e.g. COMPLETED
	Reason    string // scheduler reason ("None", "Priority", "NonZeroExitCode", ...)
	ExitCode  int    // exit status of the batch script (first half of ExitCode=X:Y)
	Signal    int    // signal that ended it (second half of ExitCode=X:Y)
	TimeLimit string // as Slurm prints it, e.g. 00:01:00 or UNLIMITED
	NodeList  string
	Source    string // where the final state came from: squeue, scontrol, sacct, sacct -c
}

// parseSqueue parses `squeue -h -o '%i|%T|%r'` output into job id -> info.
// Lines that do not have three fields are ignored.
func parseSqueue(out string) map[string]jobInfo {
	m := map[string]jobInfo{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) != 3 || f[0] == "" {
			continue
		}
		m[f[0]] = jobInfo{ID: f[0], State: normState(f[1]), Reason: f[2], Source: "squeue"}
	}
	return m
}

// parseScontrol parses the one-line form of `scontrol show job -o ID`. It
// returns false when the line names no job state.
func parseScontrol(out string) (jobInfo, bool) {
	var ji jobInfo
	ji.Source = "scontrol"
	fields := strings.Fields(strings.TrimSpace(out))
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "JobId":
			ji.ID = v
		case "JobState":
			ji.State = normState(v)
		case "Reason":
			ji.Reason = v
		case "ExitCode":
			ji.ExitCode, ji.Signal = parseExitCode(v)
		case "TimeLimit":
			ji.TimeLimit = v
		case "NodeList":
			ji.NodeList = v
		}
	}
	return ji, ji.State != ""
}

// parseSacct parses `sacct -n -P -o JobID,State,ExitCode` output (plain or
// -c) and returns the row of job id (not one of its steps such as 12.batch).
func parseSacct(out, id string) (jobInfo, bool) {
	var found jobInfo
	ok := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) < 3 || f[0] != id {
			continue
		}
		code, sig := parseExitCode(f[2])
		// With several rows for one id (a stale row after an unclean
		// controller stop), the last one is the newest.
		found = jobInfo{ID: id, State: normState(f[1]), ExitCode: code, Signal: sig}
		ok = true
	}
	return found, ok
}

// parseExitCode parses Slurm's "X:Y" (exit status : signal).
func parseExitCode(s string) (code, sig int) {
	a, b, _ := strings.Cut(s, ":")
	code, _ = strconv.Atoi(a)
	sig, _ = strconv.Atoi(b)
	return code, sig
}

// slurmTime formats d as a Slurm --time value in whole minutes, rounded up
// (Slurm's time limits have minute granularity), at least 1 minute; it
// returns "" for d <= 0 (no request: the partition's default applies).
func slurmTime(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	mins := int64((d + time.Minute - 1) / time.Minute)
	return strconv.FormatInt(mins, 10)
}

// parseSlurmDuration parses a time as Slurm prints it ([D-]HH:MM:SS, MM:SS
// or minutes); it returns false for UNLIMITED, N/A or anything else.
func parseSlurmDuration(s string) (time.Duration, bool) {
	days := 0
	if d, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, false
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, false
		}
		nums[i] = n
	}
	var h, m, sec int
	switch len(nums) {
	case 1:
		m = nums[0]
	case 2:
		m, sec = nums[0], nums[1]
	case 3:
		h, m, sec = nums[0], nums[1], nums[2]
	default:
		return 0, false
	}
	return time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour +
		time.Duration(m)*time.Minute + time.Duration(sec)*time.Second, true
}

// describeLimit formats a job's time limit for an error message.
func describeLimit(ji jobInfo, requested time.Duration) string {
	if d, ok := parseSlurmDuration(ji.TimeLimit); ok {
		return d.String()
	}
	if requested > 0 {
		return fmt.Sprintf("%s (requested)", requested)
	}
	if ji.TimeLimit != "" {
		return ji.TimeLimit
	}
	return "(unknown)"
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
