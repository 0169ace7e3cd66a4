package host_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

// binDir holds the plugin binaries built by TestMain (real binaries over
// real go-plugin: no fakes in these tests).
var binDir string

// testPlugins maps plugin names to their packages.
var testPlugins = map[string]string{
	"testkit": hosttest.Testkit,
	"example": hosttest.Example,
	"worker":  hosttest.Worker,
	// A persistent worker that writes after answering and forks a child
	// that outlives its task.
	"latewriter": hosttest.LateWriter,
}

func TestMain(m *testing.M) {
	if spec := os.Getenv("HOST_TEST_ORPHAN_HELPER"); spec != "" {
		orphanHelper(spec) // never returns
	}
	if path := os.Getenv("HOST_TEST_SIGTERM_HELPER"); path != "" {
		sigtermHelper(path) // never returns
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "host-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	if err := hosttest.Build(dir, testPlugins); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(level zerolog.Level) (zerolog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return zerolog.New(buf).Level(level), buf
}

// load describes one of the binaries built by TestMain.
func load(t *testing.T, name string) *host.Plugin {
	t.Helper()
	log, _ := testLogger(zerolog.WarnLevel)
	p, err := host.Load(context.Background(), filepath.Join(binDir, host.FilePrefix+name), log)
	if err != nil {
		t.Fatalf("Load %s: %v", name, err)
	}
	return p
}

// orphanHelper runs as a separate host process: it launches test.hang and
// blocks, so the test can SIGKILL it and check the plugin dies too.
func orphanHelper(spec string) {
	bin, outDir, _ := strings.Cut(spec, "|")
	log := zerolog.New(os.Stderr)
	p, err := host.Load(context.Background(), bin, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, err = host.Run(context.Background(), p, host.RunRequest{Stage: "test.hang", OutDir: outDir, Log: log, Timeout: time.Minute})
	fmt.Fprintln(os.Stderr, "helper: Run returned:", err)
	os.Exit(1)
}

// sigtermHelper runs as a separate host process that handles SIGTERM as the
// pipeline CLI does (by cancelling its context) while discovering the
// plugin at path, which never completes its handshake.
func sigtermHelper(path string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	_, err := host.Load(ctx, path, zerolog.New(os.Stderr))
	fmt.Fprintln(os.Stderr, "helper: Load returned:", err)
	os.Exit(1)
}
