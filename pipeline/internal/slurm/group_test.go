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
	small := &engine.Task{Instance: "s", Estimate: 3}
	if !e.groupable(small) {
		t.Error("a small stage is not grouped")
	}
	for name, task := range map[string]*engine.Task{
		"cpus":     {Resources: engine.ResourcesJSON{CPUs: 2}},
		"memory":   {Resources: engine.ResourcesJSON{Memory: "1G"}},
		"time":     {Resources: engine.ResourcesJSON{Time: 60e9}},
		"long":     {Estimate: 20},
		"threaded": {Spec: sdk.StageSpec{Threads: 4}},
	} {
		if e.groupable(task) {
			t.Errorf("%s: grouped", name)
		}
	}
	if off := testExecutor(t, Config{}); off.groupable(small) {
		t.Error("grouped with GroupSeconds 0")
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
