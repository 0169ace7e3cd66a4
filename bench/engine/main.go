// Command engine is the engine benchmark (make bench-engine, docs/performance.md):
// it writes the synthetic manifests of the engine-scale issue (one matrix
// stage of the example plugin with N instances plus one stage reading all of
// them) and times `pipeline plan`, a cold run and a warm run of each, in a
// fresh store, printing the cost per stage. Times are wall clock; cpu is the
// user+system time of the pipeline process (and, for runs, its plugins).
//
//	go run ./bench/engine -bin bin/pipeline -n 1e3,1e4,1e5 -cold-max 1e4
//	go run ./bench/engine -write DIR -n 1e4   # only write the manifests (for Snakemake)
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/pipeline", "the pipeline binary (plugins are found next to it)")
	ns := flag.String("n", "1e3,1e4,1e5", "comma-separated instance counts of the matrix stage")
	coldMax := flag.Float64("cold-max", 1e4, "run (cold and warm) only manifests of at most this many instances; larger ones are only planned")
	jobs := flag.Int("jobs", 0, "job slots for the runs (0: the pipeline's default, the CPU count)")
	reps := flag.Int("reps", 1, "repetitions of each plan and warm run (the fastest is reported)")
	work := flag.String("dir", "", "working folder (default: a temporary one, removed at the end)")
	write := flag.String("write", "", "only write the manifests into this folder and exit")
	asJSON := flag.Bool("json", false, "print one JSON object per manifest instead of a table")
	flag.Parse()
	if err := run(*bin, *ns, *coldMax, *jobs, *reps, *work, *write, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "bench engine:", err)
		os.Exit(1)
	}
}

// shape splits n into the matrix a x b of the figures: b is the
// largest divisor of n not above sqrt(n) (1e3: 100 x 10, 1e4: 100 x 100),
// except 1e5, which the issue measured as 400 x 250.
func shape(n int) (a, b int) {
	if n == 100000 {
		return 400, 250
	}
	for b = int(math.Sqrt(float64(n))); b > 1 && n%b != 0; b-- {
	}
	return n / b, b
}

// Manifest writes the synthetic manifest of a x b instances.
func Manifest(a, b int) string {
	var s strings.Builder
	s.WriteString("version: 1\nname: synth\nstages:\n  gen:\n    plugin: example.scale\n    matrix:\n      n: [")
	for i := 1; i <= a; i++ {
		if i > 1 {
			s.WriteString(", ")
		}
		s.WriteString(strconv.Itoa(i))
	}
	s.WriteString("]\n      factor: [")
	for j := 1; j <= b; j++ {
		if j > 1 {
			s.WriteString(", ")
		}
		s.WriteString(strconv.Itoa(j) + ".0")
	}
	s.WriteString("]\n  agg:\n    plugin: example.scale\n    inputs: {rows: gen.scaled}\n")
	return s.String()
}

type timing struct {
	Wall, CPU float64 // seconds
	MaxRSSMiB float64
}

type row struct {
	N, Stages        int
	Plan, Cold, Warm *timing
	PlanMs, ColdMs   float64 // per stage
	WarmMs           float64
}

// run is the command: -write only writes the manifests; otherwise every
// count is measured in a folder of work (a fresh temporary one when empty)
// and printed as a table row or, with asJSON, a JSON line.
func run(bin, ns string, coldMax float64, jobs, reps int, work, write string, asJSON bool) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	counts, err := parseCounts(ns)
	if err != nil {
		return err
	}
	if write != "" {
		return writeManifests(write, counts)
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "bench-engine-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	if !asJSON {
		fmt.Printf("%-8s %-9s %-22s %-22s %-22s\n", "N", "stages", "plan s (ms/stage)", "cold s (ms/stage)", "warm s (ms/stage)")
	}
	for _, n := range counts {
		r, err := measure(bin, filepath.Join(work, strconv.Itoa(n)), n, coldMax, jobs, reps)
		if err != nil {
			return err
		}
		if asJSON {
			b, _ := json.Marshal(r)
			fmt.Println(string(b))
			continue
		}
		printRow(r)
	}
	return nil
}

// parseCounts parses -n: comma-separated positive whole counts (1e4 is
// allowed).
func parseCounts(ns string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(ns, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 1 || v != math.Trunc(v) {
			return nil, fmt.Errorf("-n: %q is not a positive count", f)
		}
		counts = append(counts, int(v))
	}
	return counts, nil
}

// writeManifests writes the synthetic manifest of every count into dir
// (synth-<n>.yaml) and says so on stdout.
func writeManifests(dir string, counts []int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range counts {
		a, b := shape(n)
		p := filepath.Join(dir, fmt.Sprintf("synth-%d.yaml", n))
		if err := os.WriteFile(p, []byte(Manifest(a, b)), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d x %d instances + 1\n", p, a, b)
	}
	return nil
}

// measure writes the manifest of n instances into dir and times, in a fresh
// store there, `pipeline plan` (best of reps) and, when n <= coldMax, a
// cold run and a warm run (best of reps) with jobs (0: the default).
func measure(bin, dir string, n int, coldMax float64, jobs, reps int) (row, error) {
	a, b := shape(n)
	r := row{N: n, Stages: a*b + 1}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	m := filepath.Join(dir, "synth.yaml")
	if err := os.WriteFile(m, []byte(Manifest(a, b)), 0o644); err != nil {
		return r, err
	}
	store := filepath.Join(dir, "store")
	pipe := func(args ...string) (*timing, error) {
		full := append([]string{"--store", store, "--log-level", "warn", "--log-format", "json"}, args...)
		return timeCmd(bin, full...)
	}
	best := func(args ...string) (*timing, error) {
		var t *timing
		for i := 0; i < reps; i++ {
			ti, err := pipe(args...)
			if err != nil {
				return nil, err
			}
			if t == nil || ti.Wall < t.Wall {
				t = ti
			}
		}
		return t, nil
	}
	var err error
	if r.Plan, err = best("plan", "--summary", m); err != nil {
		return r, err
	}
	r.PlanMs = 1e3 * r.Plan.Wall / float64(r.Stages)
	if float64(n) <= coldMax {
		runArgs := []string{"run", "--out", ""}
		if jobs > 0 {
			runArgs = append(runArgs, "--jobs", strconv.Itoa(jobs))
		}
		if r.Cold, err = pipe(append(runArgs, m)...); err != nil {
			return r, err
		}
		if r.Warm, err = best(append(runArgs, m)...); err != nil {
			return r, err
		}
		r.ColdMs = 1e3 * r.Cold.Wall / float64(r.Stages)
		r.WarmMs = 1e3 * r.Warm.Wall / float64(r.Stages)
	}
	return r, nil
}

// printRow prints r as a line of the table run heads: seconds (ms per
// stage) for plan, cold and warm, then their CPU seconds and the plan's
// peak RSS.
func printRow(r row) {
	cell := func(t *timing, per float64) string {
		if t == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f (%.3f)", t.Wall, per)
	}
	cpu := func(t *timing) string {
		if t == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", t.CPU)
	}
	fmt.Printf("%-8d %-9d %-22s %-22s %-22s  cpu s: plan %s cold %s warm %s; plan rss %.0f MiB\n", r.N, r.Stages,
		cell(r.Plan, r.PlanMs), cell(r.Cold, r.ColdMs), cell(r.Warm, r.WarmMs), cpu(r.Plan), cpu(r.Cold), cpu(r.Warm), r.Plan.MaxRSSMiB)
}

// timeCmd runs the command and returns its wall time, the CPU time of it and
// its children, and its peak resident memory.
func timeCmd(name string, args ...string) (*timing, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0).Seconds()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	t := &timing{Wall: wall, CPU: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		t.MaxRSSMiB = float64(ru.Maxrss) / 1024
	}
	return t, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
