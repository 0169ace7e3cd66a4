package slurm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

func members(est ...float64) []*member {
	ms := make([]*member, len(est))
	for i, e := range est {
		ms[i] = &member{t: &engine.Task{Instance: fmt.Sprintf("s%02d", i)}, est: e}
	}
	return ms
}

// layout prints groups as "s00+s02 s01" for comparison.
func layout(gs [][]*member) string {
	var parts []string
	for _, g := range gs {
		var names []string
		for _, m := range g {
			names = append(names, m.t.Instance)
		}
		parts = append(parts, strings.Join(names, "+"))
	}
	return strings.Join(parts, " ")
}

func TestPack(t *testing.T) {
	cases := []struct {
		est    []float64
		target float64
		width  int
		want   string
	}{
		// Little work: spread over the width, round robin by name.
		{[]float64{1, 1, 1, 1}, 20, 2, "s00+s02 s01+s03"},
		// Enough work: ceil(50/20) = 3 jobs of about 20 s.
		{[]float64{5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, 20, 1, "s00+s03+s06+s09 s01+s04+s07 s02+s05+s08"},
		// Longest first onto the least loaded job.
		{[]float64{1, 8, 3, 4}, 20, 2, "s01 s03+s02+s00"},
		// Never more jobs than tasks, never fewer than one.
		{[]float64{1, 1}, 20, 8, "s00 s01"},
		{[]float64{0.1}, 20, 0, "s00"},
	}
	for _, c := range cases {
		if got := layout(pack(members(c.est...), c.target, c.width)); got != c.want {
			t.Errorf("pack(%v, %v, %d) = %q, want %q", c.est, c.target, c.width, got, c.want)
		}
	}
	if pack(nil, 20, 2) != nil {
		t.Error("groups of nothing")
	}
}

func TestGroupable(t *testing.T) {
	e := testExecutor(t, Config{GroupSeconds: 20})
	for name, task := range map[string]*engine.Task{
		"small":    {Instance: "s", Estimate: 3},
		"cpus":     {Resources: engine.ResourcesJSON{CPUs: 2}}, // grouped with stages of 2 CPUs
		"threaded": {Spec: sdk.StageSpec{Threads: 4}},
	} {
		if !e.groupable(task) {
			t.Errorf("%s: not grouped", name)
		}
	}
	for name, task := range map[string]*engine.Task{
		"memory": {Resources: engine.ResourcesJSON{Memory: "1G"}},
		"time":   {Resources: engine.ResourcesJSON{Time: 60e9}},
		"long":   {Estimate: 20},
	} {
		if e.groupable(task) {
			t.Errorf("%s: grouped", name)
		}
	}
	if off := testExecutor(t, Config{}); off.groupable(&engine.Task{Instance: "s", Estimate: 3}) {
		t.Error("grouped with GroupSeconds 0")
	}
}

// TestGroupsByCPUs: a batch is split by the CPUs its tasks ask for, each
// class over GroupWidth/c jobs (at least one), and within a job the tasks
// of one plugin are next to each other.
func TestGroupsByCPUs(t *testing.T) {
	e := testExecutor(t, Config{GroupSeconds: 20, GroupWidth: 2})
	var ms []*member
	add := func(name, plugin string, threads int, est float64) {
		ms = append(ms, &member{t: &engine.Task{Instance: name, PluginPath: plugin, Spec: sdk.StageSpec{Threads: threads}}, est: est})
	}
	add("t1", "/p/train", 1, 4)
	add("s1", "/p/select", 1, 3.5)
	add("t2", "/p/train", 1, 3)
	add("t3", "/p/train", 1, 2)
	add("s2", "/p/select", 1, 1)
	add("h1", "/p/hessian", 2, 1)
	add("h2", "/p/hessian", 2, 1)
	add("h3", "/p/hessian", 2, 1)
	gs := e.groups(ms)
	// One CPU: two jobs, longest first onto the least loaded (t1+t3+s2,
	// s1+t2), then each job's tasks by plugin in order of first appearance.
	// Two CPUs: 2/2 = one job.
	if got, want := layout(gs), "t1+t3+s2 s1+t2 h1+h2+h3"; got != want {
		t.Errorf("groups = %q, want %q", got, want)
	}
	ms[3].t.PluginPath = "/p/select" // t3 is now a select: s2 moves up next to it
	if got, want := layout(e.groups(ms)), "t1+t3+s2 s1+t2 h1+h2+h3"; got != want {
		t.Errorf("groups = %q, want %q", got, want)
	}
	ms[3].t.PluginPath = "/p/train"
	ms[0].t.PluginPath = "/p/select" // t1 select, t3 train, s2 select: s2 joins t1
	if got, want := layout(e.groups(ms)), "t1+s2+t3 s1+t2 h1+h2+h3"; got != want {
		t.Errorf("groups = %q, want %q", got, want)
	}
	for _, g := range gs {
		if e.cpus(g[0].t) == 2 {
			dir, script, err := e.writeScript(g)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := flagValue(e.sbatchArgs(g, dir, script), "--cpus-per-task"); got != "2" {
				t.Errorf("job of 2-CPU stages: --cpus-per-task %s", got)
			}
		}
	}
}

func TestGroupScriptAndArgs(t *testing.T) {
	e := testExecutor(t, Config{WorkerLogLevel: "debug", Time: 90e9, Memory: "1G"})
	var ms []*member
	for _, name := range []string{"a", "b", "c"} {
		ms = append(ms, &member{t: &engine.Task{Instance: name}, taskPath: "/s/slurm/" + name + "/task-1.json"})
	}
	dir, script, err := e.writeScript(ms)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, e.storeDir+"/slurm/group-") || script != dir+"/job.sh" {
		t.Errorf("dir %s script %s", dir, script)
	}
	args := e.sbatchArgs(ms, dir, script)
	// One CPU, the default memory, and the default time limit per task.
	for flag, want := range map[string]string{"--cpus-per-task": "1", "--mem": "1G", "--time": "5", "--job-name": "pipeline:a +2"} {
		if got, _ := flagValue(args, flag); got != want {
			t.Errorf("%s = %q, want %q", flag, got, want)
		}
	}
}
