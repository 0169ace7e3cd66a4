//go:build linux

package cli_test

// Second adversarial pass (issue 14, Done-when 2): the real pipeline binary
// against the hostile plugin plugins/testplugins/flood, which floods the host
// with log lines, files, bytes or closed descriptors and then completes.

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

var buildFlood = sync.OnceValue(func() error {
	return hosttest.Build(pluginDir, map[string]string{"flood": hosttest.Flood})
})

// floodRun runs `pipeline run --out out` of one flood.x stage in a fresh
// folder, output discarded, and returns the folder and the peak RSS of the
// pipeline process in KiB.
func floodRun(t *testing.T, mode string, lines int) (dir string, maxRSSKiB int64) {
	t.Helper()
	if err := buildFlood(); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	writeManifest(t, dir, fmt.Sprintf("version: 1\nseed: 1\nstages:\n  f:\n    plugin: flood.x\n    params: {mode: %s, lines: %d}\n    publish: true\n", mode, lines))
	cmd := exec.Command(pipelineBin, "--plugin-dir", pluginDir, "--store", filepath.Join(dir, ".pipeline"),
		"--log-format", "json", "run", "--out", "out", "m.yaml")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Run(); err != nil {
		t.Fatalf("flood mode=%s: pipeline run: %v", mode, err)
	}
	return dir, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

// 100 MB of stderr without a newline once grew the host by three times that
// (the crash tail kept the unfinished line); lines are now cut at 64 KiB.
func TestLongStderrLineBoundsHostMemory(t *testing.T) {
	const boundKiB = 150 << 10
	_, rss := floodRun(t, "longline", 100_000)
	if rss > boundKiB {
		t.Errorf("pipeline peak RSS %d MiB after a plugin wrote 100 MB on one stderr line, want < %d MiB", rss>>10, boundKiB>>10)
	}
}

// Floods that held in the second pass stay held: each run succeeds, publishes
// the stage's real output, and leaves no staging folder behind.
func TestFloodsAreHeld(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		lines int
		size  int64 // of out/out.txt
	}{
		{"log", 20_000, 3},
		{"files", 5_000, 5},
		{"big", 64, 64 << 20},
		{"closeout", 1, 8},
	} {
		dir, rss := floodRun(t, tc.mode, tc.lines)
		fi, err := os.Stat(filepath.Join(dir, "out", "out.txt"))
		if err != nil || fi.Size() != tc.size {
			t.Errorf("mode=%s: out/out.txt: %v, size %d, want %d bytes", tc.mode, err, sizeOf(fi), tc.size)
		}
		if tmp, _ := os.ReadDir(filepath.Join(dir, ".pipeline", "tmp")); len(tmp) != 0 {
			t.Errorf("mode=%s: %d entries left in the store's tmp/", tc.mode, len(tmp))
		}
		t.Logf("mode=%s lines=%d: pipeline peak RSS %d MiB", tc.mode, tc.lines, rss>>10)
	}
}

func sizeOf(fi os.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}
