package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

func TestDescribeRoundTrip(t *testing.T) {
	p := load(t, "testkit")
	if p.Name != "testkit" || !filepath.IsAbs(p.Path) || len(p.Digest) != 64 {
		t.Fatalf("plugin identity: %+v", p)
	}
	// Oracle: the digest is the sha256 of the file, computed independently.
	d, err := host.FileDigest(p.Path)
	if err != nil || d != p.Digest {
		t.Fatalf("digest %s, FileDigest %s (%v)", p.Digest, d, err)
	}
	var names []string
	for _, s := range p.Stages {
		names = append(names, s.Name)
	}
	// Oracle: the stage list declared in plugins/testplugins/testkit, sorted.
	want := "test.badout test.crash test.echo test.fail test.goerror test.hang test.orphan test.random test.spin"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("stages = %q, want %q", got, want)
	}
	echo, ok := p.Stage("test.echo")
	if !ok {
		t.Fatal("no test.echo")
	}
	// Oracle: the spec literal in testkit, defaults in canonical form.
	checks := map[string]any{"n": int64(3), "scale": 1.5, "flag": false, "label": nil}
	for name, want := range checks {
		ps, ok := echo.Param(name)
		if !ok {
			t.Fatalf("param %s missing", name)
		}
		if ps.Default != want {
			t.Errorf("param %s default = %#v, want %#v", name, ps.Default, want)
		}
	}
	if ps, _ := echo.Param("ks"); ps.Type != sdk.TypeInts || len(ps.Default.([]int64)) != 2 || ps.Default.([]int64)[1] != 2 {
		t.Errorf("ks = %#v", ps)
	}
	// Oracle: the bounds in the testkit literal survive the wire; absent
	// bounds stay absent.
	if ps, _ := echo.Param("n"); ps.Min == nil || *ps.Min != 0 || ps.Max == nil || *ps.Max != 1000 {
		t.Errorf("n bounds = %v, %v", ps.Min, ps.Max)
	}
	if ps, _ := echo.Param("ks"); ps.Min != nil || ps.Max == nil || *ps.Max != 10 {
		t.Errorf("ks bounds = %v, %v", ps.Min, ps.Max)
	}
	if ps, _ := echo.Param("scale"); ps.Min != nil || ps.Max != nil {
		t.Errorf("scale bounds = %v, %v", ps.Min, ps.Max)
	}
	if in, _ := echo.Input("many"); !in.Many || !in.Optional {
		t.Errorf("input many = %+v", in)
	}
	if out, _ := echo.Output("extra"); !out.Optional || out.Doc != "never written" {
		t.Errorf("output extra = %+v", out)
	}
	if echo.Version != "1" || echo.Threads != 1 || echo.Doc == "" {
		t.Errorf("echo spec = %+v", echo)
	}
}

func TestRunEcho(t *testing.T) {
	p := load(t, "testkit")
	in := t.TempDir()
	a, b := filepath.Join(in, "a.txt"), filepath.Join(in, "b.txt")
	for path, body := range map[string]string{a: "alpha", b: "beta"} {
		if err := os.WriteFile(path, []byte(body), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	log, logs := testLogger(zerolog.InfoLevel)
	var progress []string
	res, err := host.Run(context.Background(), p, host.RunRequest{
		Stage:  "test.echo",
		Params: map[string]any{"label": "hi", "n": 2, "xs": []any{1, 2.5}},
		Inputs: map[string][]string{"one": {a}, "many": {a, b}},
		OutDir: out,
		Seed:   42,
		Log:    log,
		OnProgress: func(done, total float64, msg string) {
			progress = append(progress, strconv.FormatFloat(done, 'g', -1, 64)+"/"+strconv.FormatFloat(total, 'g', -1, 64)+" "+msg)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() || len(res.Diagnostics) != 1 || res.Diagnostics[0].Severity != sdk.Warning || res.Diagnostics[0].Summary != "echo warns" {
		t.Fatalf("diagnostics = %+v", res.Diagnostics)
	}
	if len(res.Outputs) != 1 || res.Outputs["echo"] != "echo.json" {
		t.Fatalf("outputs = %v", res.Outputs)
	}
	raw, err := os.ReadFile(filepath.Join(out, "echo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Stage   string
		Params  map[string]any
		Inputs  map[string][]string
		Seed    uint64
		OutDir  string `json:"out_dir"`
		Typed   map[string]any
		Content map[string]string
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	// Oracle: what we sent, with defaults from the testkit spec filled in.
	if rec.Stage != "test.echo" || rec.Seed != 42 || rec.OutDir != out {
		t.Errorf("record = %+v", rec)
	}
	typed, _ := json.Marshal(rec.Typed)
	wantTyped := `{"flag":false,"ks":[1,2],"label":"hi","n":2,"names":["a"],"scale":1.5,"xs":[1,2.5]}`
	if string(typed) != wantTyped {
		t.Errorf("typed params = %s, want %s", typed, wantTyped)
	}
	if len(rec.Inputs["many"]) != 2 || rec.Inputs["one"][0] != a || rec.Content[b] != "beta" {
		t.Errorf("inputs = %v content = %v", rec.Inputs, rec.Content)
	}
	// Progress: n=2 gives 0/2, 1/2, 2/2; throttling may drop the middle one
	// but never the first or the last.
	if len(progress) < 2 || progress[0] != "0/2 step 0" || progress[len(progress)-1] != "2/2 step 2" {
		t.Errorf("progress = %q", progress)
	}
	l := logs.String()
	for _, want := range []string{
		`"level":"info","n":2,"label":"hi","message":"echo starting"`, // fields kept in order
		`"level":"warn","message":"echo done"`,
		`"stream":"stderr","message":"testkit: stray stderr line"`,
		`"stream":"stdout","message":"testkit: stray stdout line"`,
	} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s:\n%s", want, l)
		}
	}
	if strings.Contains(l, "echo debug line") {
		t.Errorf("debug line leaked through an info logger:\n%s", l)
	}
}

func TestDiagnosticsVersusCallErrors(t *testing.T) {
	p := load(t, "testkit")
	log, _ := testLogger(zerolog.WarnLevel)
	res, err := host.Run(context.Background(), p, host.RunRequest{Stage: "test.fail", OutDir: t.TempDir(), Log: log})
	if err != nil {
		t.Fatalf("a stage failure must not be a Go error: %v", err)
	}
	if !res.Failed() || res.Outputs != nil || res.Diagnostics[0].Summary != "diverged" ||
		res.Diagnostics[0].Detail != "loss became NaN at step 7" {
		t.Fatalf("result = %+v", res)
	}
	if e := res.Err("test.fail"); e == nil || !strings.Contains(e.Error(), "diverged") {
		t.Fatalf("Err = %v", e)
	}

	_, err = host.Run(context.Background(), p, host.RunRequest{Stage: "test.goerror", OutDir: t.TempDir(), Log: log})
	if !errors.Is(err, host.ErrCallFailed) || !strings.Contains(err.Error(), "testkit: broken call") {
		t.Fatalf("goerror: %v", err)
	}
	if errors.Is(err, host.ErrCrashed) {
		t.Fatalf("a Go error is not a crash: %v", err)
	}
}

func TestCrash(t *testing.T) {
	p := load(t, "testkit")
	for mode, want := range map[string]string{
		"panic": "panic: testkit: deliberate crash",
		"exit":  "exit status 3",
	} {
		t.Run(mode, func(t *testing.T) {
			log, _ := testLogger(zerolog.WarnLevel)
			_, err := host.Run(context.Background(), p, host.RunRequest{
				Stage: "test.crash", Params: map[string]any{"mode": mode}, OutDir: t.TempDir(), Log: log})
			if !errors.Is(err, host.ErrCrashed) {
				t.Fatalf("want ErrCrashed, got %v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "plugin testkit crashed during stage test.crash: ") || !strings.Contains(msg, want) {
				t.Fatalf("message %q lacks %q", msg, want)
			}
		})
	}
}

// pidDead reports whether pid no longer runs (absent, or a zombie awaiting
// a reaper that is not us).
func pidDead(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

func readPid(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatalf("hang stage wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestHangTimeout(t *testing.T) {
	p := load(t, "testkit")
	out := t.TempDir()
	log, _ := testLogger(zerolog.WarnLevel)
	_, err := host.Run(context.Background(), p, host.RunRequest{
		Stage: "test.hang", OutDir: out, Log: log, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, host.ErrTimeout) || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("want timeout, got %v", err)
	}
	if pid := readPid(t, out); !pidDead(pid) {
		t.Fatalf("hung plugin %d still alive after Run returned", pid)
	}
}

func TestCancelKillsPlugin(t *testing.T) {
	p := load(t, "testkit")
	out := t.TempDir()
	log, _ := testLogger(zerolog.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := host.Run(ctx, p, host.RunRequest{
		Stage: "test.hang", OutDir: out, Log: log,
		OnProgress: func(_, _ float64, msg string) {
			if msg == "hanging" {
				cancel()
			}
		},
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("want cancellation, got %v", err)
	}
	if pid := readPid(t, out); !pidDead(pid) {
		t.Fatalf("plugin %d still alive after cancel", pid)
	}
}

func TestBadOutputs(t *testing.T) {
	p := load(t, "testkit")
	log, _ := testLogger(zerolog.WarnLevel)
	for mode, want := range map[string]string{
		"nothing":    `did not write output "out"`,
		"missing":    `file "out.txt" was not written`,
		"escape":     "escapes",
		"abs":        "escapes",
		"symlink":    "not a regular file",
		"dir":        "not a regular file",
		"undeclared": `undeclared output "bonus"`,
	} {
		t.Run(mode, func(t *testing.T) {
			_, err := host.Run(context.Background(), p, host.RunRequest{
				Stage: "test.badout", Params: map[string]any{"mode": mode}, OutDir: t.TempDir(), Log: log})
			if !errors.Is(err, host.ErrBadOutput) || !strings.Contains(err.Error(), want) ||
				!strings.Contains(err.Error(), "test.badout") {
				t.Fatalf("want ErrBadOutput %q, got %v", want, err)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	p := load(t, "testkit")
	log, _ := testLogger(zerolog.WarnLevel)
	out := t.TempDir()
	cases := map[string]struct {
		req  host.RunRequest
		want string
	}{
		"unknown stage":   {host.RunRequest{Stage: "test.nope", OutDir: out}, `no stage "test.nope"`},
		"missing param":   {host.RunRequest{Stage: "test.echo", OutDir: out}, `missing required param "label"`},
		"wrong type":      {host.RunRequest{Stage: "test.echo", OutDir: out, Params: map[string]any{"label": "x", "n": "three"}}, `param "n": want int`},
		"above max":       {host.RunRequest{Stage: "test.echo", OutDir: out, Params: map[string]any{"label": "x", "n": 1e9}}, `param "n": 1000000000 is above the maximum 1000`},
		"element above":   {host.RunRequest{Stage: "test.echo", OutDir: out, Params: map[string]any{"label": "x", "ks": []any{1, 11}}}, `param "ks": element 1 = 11 is above the maximum 10`},
		"unknown param":   {host.RunRequest{Stage: "test.echo", OutDir: out, Params: map[string]any{"label": "x", "m": 1}}, `unknown param "m"`},
		"undeclared in":   {host.RunRequest{Stage: "test.echo", OutDir: out, Params: map[string]any{"label": "x"}, Inputs: map[string][]string{"zz": {"/a"}}}, `undeclared input "zz"`},
		"two for one":     {host.RunRequest{Stage: "test.echo", OutDir: out, Params: map[string]any{"label": "x"}, Inputs: map[string][]string{"one": {"/a", "/b"}}}, `takes one file, got 2`},
		"relative input":  {host.RunRequest{Stage: "test.echo", OutDir: out, Params: map[string]any{"label": "x"}, Inputs: map[string][]string{"one": {"a"}}}, `not absolute`},
		"relative outdir": {host.RunRequest{Stage: "test.echo", OutDir: "rel", Params: map[string]any{"label": "x"}}, `not absolute`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			c.req.Log = log
			_, err := host.Run(context.Background(), p, c.req)
			if !errors.Is(err, host.ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want ErrBadRequest %q, got %v", c.want, err)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	// Two directories: the first holds testkit, the second a copy of testkit
	// under the same name (loses the clash), a non-executable file, and an
	// unrelated executable.
	d1, d2 := t.TempDir(), t.TempDir()
	src, err := os.ReadFile(filepath.Join(binDir, host.FilePrefix+"testkit"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{filepath.Join(d1, host.FilePrefix+"testkit"), 0o755},
		{filepath.Join(d2, host.FilePrefix+"testkit"), 0o755},
		{filepath.Join(d2, host.FilePrefix+"noexec"), 0o644},
		{filepath.Join(d2, "other-tool"), 0o755},
	} {
		if err := os.WriteFile(f.path, src, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	log, logs := testLogger(zerolog.InfoLevel)
	ps, err := host.Discover(context.Background(), []string{d1, d2, filepath.Join(d1, "absent")}, log)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Path != filepath.Join(d1, host.FilePrefix+"testkit") {
		t.Fatalf("discovered %+v", ps)
	}
	if l := logs.String(); !strings.Contains(l, "plugin name clash") || !strings.Contains(l, "does not exist") {
		t.Errorf("expected clash and missing-dir warnings, log:\n%s", l)
	}
	if pl, spec, ok := host.FindStage(ps, "test.echo"); !ok || pl != ps[0] || spec.Name != "test.echo" {
		t.Errorf("FindStage = %v %v %v", pl, spec.Name, ok)
	}

	// A second plugin declaring the same stages is an error naming both.
	if err := os.WriteFile(filepath.Join(d2, host.FilePrefix+"twin"), src, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Discover(context.Background(), []string{d1, d2}, log); err == nil ||
		!strings.Contains(err.Error(), "declared by two plugins") {
		t.Fatalf("want stage clash error, got %v", err)
	}

	// A binary that is not a plugin fails to describe; the error names it.
	d3 := t.TempDir()
	bad := filepath.Join(d3, host.FilePrefix+"bad")
	if err := os.WriteFile(bad, []byte("#!/bin/sh\necho not a plugin\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Discover(context.Background(), []string{d3}, log); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("want error naming %s, got %v", bad, err)
	}
}

func TestHostKilledLeavesNoOrphan(t *testing.T) {
	// A helper host process (this test binary, see orphanHelper) launches
	// test.hang; we SIGKILL the helper, which cannot clean up, and the
	// kernel's parent-death signal must take the plugin down with it.
	out := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "HOST_TEST_ORPHAN_HELPER="+filepath.Join(binDir, host.FilePrefix+"testkit")+"|"+out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // best-effort cleanup
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(out, "pid")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("helper never started the hang stage")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := readPid(t, out)
	if pidDead(pid) {
		t.Fatal("plugin dead before the host was killed")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	for !pidDead(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d outlived its SIGKILLed host", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunMeasuresCPU: RunResult.CPUSeconds is the plugin's own CPU time for
// the call. test.spin burns 300 ms of its CPU time (measured by itself with
// getrusage); /proc's 10 ms ticks and the plugin's own overhead (GC, the SDK)
// bound the measure from below by 300 - 20 ms and from above by a margin far
// below a second spin. A call that does next to nothing measures below it.
func TestRunMeasuresCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU time is measured from /proc on Linux only")
	}
	p := load(t, "testkit")
	log, _ := testLogger(zerolog.WarnLevel)
	res, err := host.Run(context.Background(), p, host.RunRequest{
		Stage: "test.spin", Params: map[string]any{"ms": 300}, OutDir: t.TempDir(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if res.CPUSeconds < 0.28 || res.CPUSeconds > 0.55 {
		t.Errorf("test.spin of 300 ms CPU: CPUSeconds = %v, want 0.28..0.55", res.CPUSeconds)
	}
	res, err = host.Run(context.Background(), p, host.RunRequest{
		Stage: "test.echo", Params: map[string]any{"label": "x"}, OutDir: t.TempDir(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if res.CPUSeconds >= 0.28 {
		t.Errorf("test.echo: CPUSeconds = %v, want well below a 300 ms spin", res.CPUSeconds)
	}
}

// TestPluginGOMAXPROCS: a plugin process runs with GOMAXPROCS = its stage's
// thread weight (test.echo declares 1), unless the host's environment sets
// GOMAXPROCS, which then wins.
func TestPluginGOMAXPROCS(t *testing.T) {
	p := load(t, "testkit")
	procs := func() int {
		t.Helper()
		out := t.TempDir()
		log, _ := testLogger(zerolog.WarnLevel)
		if err := runEcho(p, out, log); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(out, "echo.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ GOMAXPROCS int }
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		return rec.GOMAXPROCS
	}
	if got := procs(); got != 1 {
		t.Errorf("test.echo (Threads 1) ran with GOMAXPROCS=%d, want 1", got)
	}
	t.Setenv("GOMAXPROCS", "3")
	if got := procs(); got != 3 {
		t.Errorf("with GOMAXPROCS=3 in the environment: the plugin ran with %d, want 3", got)
	}
}
