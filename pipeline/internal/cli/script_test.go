package cli_test

// Script tests of the pipeline CLI (testscript, as cmd/go tests itself):
// every command's behaviour, messages and exit codes, one scenario per
// testdata/script/*.txtar file. The scripts run the real pipeline binary and
// real plugin binaries built once by TestMain (cli_test.go), plus the
// example plugin (it writes Parquet, for `show`).
//
// Commands added to the script language:
//
//	pipeline ARGS...   runs the pipeline binary with --plugin-dir for the test
//	                   plugins, --store $WORK/.pipeline and console logs;
//	                   `! pipeline` expects a non-zero exit
//	exit N             the exit code of the last pipeline command must be N
//
// Run one script with: go test ./pipeline/internal/cli -run TestScripts/NAME

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/demystify-resnet/repro/plugins/host/hosttest"
)

var example struct {
	once sync.Once
	dir  string // holds pipeline-plugin-example
	err  error
}

// buildExample builds plugins/example once per test binary.
func buildExample(t *testing.T) string {
	t.Helper()
	example.once.Do(func() {
		example.dir, example.err = os.MkdirTemp("", "cli-example-")
		if example.err == nil {
			example.err = hosttest.Build(example.dir, map[string]string{"example": hosttest.Example})
		}
	})
	if example.err != nil {
		t.Fatal(example.err)
	}
	return example.dir
}

func TestScripts(t *testing.T) {
	exampleDir := buildExample(t)
	t.Cleanup(func() { os.RemoveAll(exampleDir) })
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PLUGINS", pluginDir)
			env.Setenv("EXAMPLE_PLUGINS", exampleDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"pipeline":     runPipeline,
			"exit":         checkExit,
			"edit-lock-id": editLockID,
		},
	})
}

// runPipeline is the script command `pipeline ARGS...`.
func runPipeline(ts *testscript.TestScript, neg bool, args []string) {
	full := append([]string{
		"--plugin-dir", ts.Getenv("PLUGINS"), "--plugin-dir", ts.Getenv("EXAMPLE_PLUGINS"),
		"--store", ts.MkAbs(".pipeline"), "--log-format", "console",
	}, args...)
	err := ts.Exec(pipelineBin, full...)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		ts.Fatalf("pipeline: %v", err)
	}
	ts.Setenv("PIPELINE_EXIT", strconv.Itoa(code))
	switch {
	case neg && code == 0:
		ts.Fatalf("pipeline %v succeeded unexpectedly", args)
	case !neg && code != 0:
		ts.Fatalf("pipeline %v: exit %d", args, code)
	}
}

// checkExit is the script command `exit N`.
func checkExit(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: exit N")
	}
	if got := ts.Getenv("PIPELINE_EXIT"); got != args[0] {
		ts.Fatalf("last pipeline exit code %s, want %s", got, args[0])
	}
}

// editLockID is the script command `edit-lock-id FILE STAGE OUTPUT`: it
// replaces the OutputID that the lock file records for STAGE's OUTPUT, as a
// change of results would.
func editLockID(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 || neg {
		ts.Fatalf("usage: edit-lock-id FILE STAGE OUTPUT")
	}
	path := ts.MkAbs(args[0])
	var lock map[string]any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &lock); err != nil {
		ts.Fatalf("edit-lock-id: %v", err)
	}
	for _, st := range lock["stages"].([]any) {
		st := st.(map[string]any)
		if st["name"] == args[1] {
			st["outputs"].(map[string]any)[args[2]].(map[string]any)["id"] = strings.Repeat("0", 64)
		}
	}
	b, err := json.Marshal(lock)
	if err != nil {
		ts.Fatalf("edit-lock-id: %v", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		ts.Fatalf("edit-lock-id: %v", err)
	}
}
