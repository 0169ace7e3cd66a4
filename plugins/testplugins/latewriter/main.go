// Command pipeline-plugin-latewriter is a hostile persistent plugin binary
// (its stage declares sdk.StageSpec.Persistent) for the tests of what a
// long-lived worker can do after it has answered a task
// (pipeline/internal/cli/workers_test.go). On every task, late.w:
//
//  1. writes its output out.bin: `size` bytes repeating the label (a pure
//     function of the parameters, what a fresh process leaves);
//  2. starts a goroutine that waits until someone opens out.bin after the
//     answer (the host storing it: inotify IN_OPEN), then keeps appending to
//     it, rewriting its first bytes, creating files in OutDir and, once the
//     host has removed OutDir, recreating it; with mode=replace it instead
//     replaces out.bin by a symbolic link to another file (once);
//  3. forks a child (a re-exec of this binary through /proc/self/exe) that
//     stays in the plugin's process group (with detach=true, through an
//     intermediate process that exits at once, so the child is an orphan), waits until the task's OutDir is
//     gone (the task is over), then overwrites every object of the store
//     (found from OutDir, <store>/tmp/<dir>) with bytes of the same size and
//     writes a poisoned out.bin into every other staging folder of tmp/ (the
//     next task's OutDir);
//
// then answers (once the child runs). When $LATE_LOG is set, the worker appends "worker PID", the
// child "child PID" and, when it starts attacking, "attack PID" to that file,
// so tests can check that no process of the plugin survives and whether the
// child outlived its task. The goroutine and the child give up by themselves
// after about a minute, so a failing test leaves nothing running for long.
//
// Build: go build -o DIR/pipeline-plugin-latewriter ./plugins/testplugins/latewriter
package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/demystify-resnet/repro/plugins/sdk"
)

const (
	childEnv  = "LATE_CHILD_OUTDIR" // set in the child: its task's OutDir
	detachEnv = "LATE_DETACH"       // set in the intermediate process of detach=true
	output    = "out.bin"
	giveUp    = time.Minute
	pause     = 2 * time.Millisecond // between two late writes (not a test timing)
)

func main() {
	if os.Getenv(detachEnv) != "" {
		detach()
		return
	}
	if dir := os.Getenv(childEnv); dir != "" {
		child(dir)
		return
	}
	logLine("worker %d", os.Getpid())
	sdk.Serve(late{})
}

// logLine appends a line to $LATE_LOG, if set.
func logLine(format string, args ...any) {
	p := os.Getenv("LATE_LOG")
	if p == "" {
		return
	}
	if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
		fmt.Fprintf(f, format+"\n", args...)
		f.Close()
	}
}

type late struct{}

func (late) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name: "late.w", Version: "1", Doc: "Writes after answering, from a goroutine and a child.", Persistent: true,
		Params: []sdk.ParamSpec{
			{Name: "detach", Type: sdk.TypeBool, Default: false, Doc: "orphan the child: start it through a process that exits at once"},
			{Name: "label", Type: sdk.TypeString, Default: "x", Doc: "repeated into the output"},
			{Name: "mode", Type: sdk.TypeString, Default: "append", Doc: "append | replace: what the goroutine does"},
			{Name: "size", Type: sdk.TypeInt, Default: 4 << 20, Min: sdk.Bound(1), Max: sdk.Bound(64 << 20), Doc: "output bytes"},
		},
		Inputs:  []sdk.PortSpec{{Name: "in", Many: true, Optional: true, Doc: "ignored"}},
		Outputs: []sdk.PortSpec{{Name: "out", Doc: output}},
	}
}

// content is what late.w's output holds: size bytes repeating label.
func content(label string, size int) []byte {
	return bytes.Repeat([]byte(label), size/len(label)+1)[:size]
}

func (late) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	label := req.Params.String("label")
	if label == "" {
		label = "x"
	}
	out := filepath.Join(req.OutDir, output)
	if err := os.WriteFile(out, content(label, int(req.Params.Int("size"))), 0o644); err != nil {
		return nil, err
	}
	opened, err := watchOpen(out)
	if err != nil {
		return sdk.Failf("inotify", "%v", err), nil
	}
	go lateWrites(req.OutDir, req.Params.String("mode"), opened)
	if err := fork(req.OutDir, req.Params.Bool("detach")); err != nil {
		return sdk.Failf("fork", "%v", err), nil
	}
	return &sdk.Response{Outputs: map[string]string{"out": output}}, nil
}

// fork starts the child of step 3 (through an intermediate process when
// detached) and waits until it runs (it has logged its pid).
func fork(dir string, detached bool) error {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	if detached {
		cmd.Env = append(cmd.Env, detachEnv+"=1")
	}
	ready, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b := make([]byte, 1)
	_, err = ready.Read(b)
	go cmd.Wait() // only now: Wait closes ready once the (intermediate) process exits
	if err != nil {
		return fmt.Errorf("child: %w", err)
	}
	return nil
}

// watchOpen returns a channel closed at the first open of path from now on.
func watchOpen(path string) (<-chan struct{}, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_OPEN); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	ch := make(chan struct{})
	go func() {
		defer syscall.Close(fd)
		buf := make([]byte, 4096)
		syscall.Read(fd, buf)
		close(ch)
	}()
	return ch, nil
}

// lateWrites is the goroutine of step 2.
func lateWrites(dir, mode string, opened <-chan struct{}) {
	select {
	case <-opened:
	case <-time.After(giveUp):
		return
	}
	out := filepath.Join(dir, output)
	if mode == "replace" {
		link := filepath.Join(dir, "link")
		os.Symlink("/proc/self/status", link)
		os.Rename(link, out)
		return
	}
	end := time.Now().Add(giveUp)
	for i := 0; time.Now().Before(end); i++ {
		if f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0); err == nil {
			f.WriteString("late\n")
			f.Close()
		}
		if f, err := os.OpenFile(out, os.O_WRONLY, 0); err == nil {
			f.WriteAt([]byte("LATE"), 0)
			f.Close()
		}
		if _, err := os.Stat(dir); err != nil {
			os.MkdirAll(dir, 0o755)
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("late-%d", i%100)), []byte("late"), 0o644)
		time.Sleep(pause)
	}
}

// detach is the intermediate process of detach=true: it starts the child,
// which inherits its stdout (the ready pipe), and exits at once.
func detach() {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, detachEnv+"=") {
			env = append(env, e)
		}
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env, cmd.Stdout = env, os.Stdout
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "latewriter: detach:", err)
		os.Exit(1)
	}
}

// once guards the child's attack log line.
var once sync.Once

// child is step 3, in the forked process.
func child(dir string) {
	logLine("child %d", os.Getpid())
	os.Stdout.WriteString("ready\n")
	end := time.Now().Add(giveUp)
	for time.Now().Before(end) {
		if _, err := os.Stat(dir); err != nil {
			break // the task is over
		}
		time.Sleep(pause)
	}
	store := filepath.Dir(filepath.Dir(dir))
	for time.Now().Before(end) {
		once.Do(func() { logLine("attack %d", os.Getpid()) })
		poisonObjects(filepath.Join(store, "objects"))
		poisonStaging(filepath.Join(store, "tmp"), filepath.Base(dir))
		time.Sleep(pause)
	}
}

// poisonObjects overwrites every object with bytes of the same size.
func poisonObjects(objects string) {
	filepath.WalkDir(objects, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		os.Chmod(p, 0o644)
		os.WriteFile(p, bytes.Repeat([]byte("X"), int(fi.Size())), 0o444)
		return nil
	})
}

// poisonStaging writes a poisoned output into every staging folder of
// tmp/ but the child's own.
func poisonStaging(tmp, own string) {
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		if e.IsDir() && e.Name() != own && strings.Contains(e.Name(), ".run.") {
			os.WriteFile(filepath.Join(tmp, e.Name(), output), []byte("poisoned by a child"), 0o644)
		}
	}
}
