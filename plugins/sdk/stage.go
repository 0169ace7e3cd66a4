package sdk

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Stage is one unit of work a plugin offers. Implementations must be safe
// for one Run call at a time per plugin process (the host launches a fresh
// process for every stage instance).
type Stage interface {
	// Spec describes the stage. It must return the same value every time.
	Spec() StageSpec
	// Run does the work. It reads inputs (read-only paths), writes each
	// declared output as one file in req.OutDir, and returns the file name
	// (a plain name, no directories) per output. A failure of the stage
	// itself (bad data, diverged, ...) is returned as Diagnostics with an
	// Error severity, not as a Go error; a Go error means the call itself
	// broke. Run should return promptly when ctx is cancelled, although the
	// host kills the process anyway.
	Run(ctx context.Context, req *Request) (*Response, error)
}

// Request is what Run receives.
type Request struct {
	// Stage is the name of the stage being run.
	Stage string
	// Params are already validated and defaulted.
	Params Params
	// Inputs maps an input name to absolute, read-only file paths: exactly
	// one path unless the input is Many; absent optional inputs have no key.
	Inputs map[string][]string
	// OutDir is an empty directory (absolute path) for the outputs.
	OutDir string
	// Seed is derived by the engine for this stage instance; use it for every
	// random number the stage draws (rand.New(rand.NewPCG(Seed, k))).
	Seed uint64
	// Log sends lines back to the host, which tags them with the stage name.
	Log zerolog.Logger

	progress func(done, total float64, msg string)
	mu       sync.Mutex
	lastSent time.Time
	sentAny  bool
}

// progressInterval throttles Progress to at most ~10 events per second.
const progressInterval = 100 * time.Millisecond

// NewRequest builds a Request from its parts, as the SDK's server does.
// progress may be nil. In a plugin's tests, TestRequest is easier to read
// and validates the parameters first.
func NewRequest(stage string, params Params, inputs map[string][]string, outDir string, seed uint64,
	log zerolog.Logger, progress func(done, total float64, msg string)) *Request {
	return &Request{Stage: stage, Params: params, Inputs: inputs, OutDir: outDir, Seed: seed, Log: log, progress: progress}
}

// Input returns the single path of input name and whether it was given.
// For a Many input it returns the first path.
func (r *Request) Input(name string) (string, bool) {
	ps := r.Inputs[name]
	if len(ps) == 0 {
		return "", false
	}
	return ps[0], true
}

// Progress reports that done of total units of work are complete. Calls are
// throttled to about ten per second; the first call and a call with
// done >= total are always delivered. Safe for concurrent use.
func (r *Request) Progress(done, total float64, msg string) {
	if r == nil || r.progress == nil {
		return
	}
	r.mu.Lock()
	now := time.Now()
	send := !r.sentAny || done >= total || now.Sub(r.lastSent) >= progressInterval
	if send {
		r.sentAny = true
		r.lastSent = now
	}
	r.mu.Unlock()
	if send {
		r.progress(done, total, msg)
	}
}

// Response is what Run returns.
type Response struct {
	// Outputs maps an output name to the file name written in OutDir.
	Outputs map[string]string
	// Diagnostics report the stage's own problems and warnings.
	Diagnostics []Diagnostic
}

// Severity grades a Diagnostic.
type Severity int

// Severities. Error means the stage failed (its outputs are not used). The
// zero Severity (or any other value but Warning) fails the stage too: see Fails.
const (
	Error Severity = iota + 1
	Warning
)

// String returns "error", "warning" or "severity(N)".
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Fails reports whether a diagnostic of severity s fails the stage: every
// severity but Warning does, the zero Severity included. It is the one rule,
// used by HasErrors and DiagnosticsError in a plugin's own tests and by the
// host on the diagnostics it receives, so a diagnostic built without a
// severity fails a unit test exactly as it fails a real run.
func (s Severity) Fails() bool { return s != Warning }

// Diagnostic is a problem of the stage itself (as opposed to a broken call).
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
}

// String formats the diagnostic as "severity: summary: detail".
func (d Diagnostic) String() string {
	if d.Detail == "" {
		return d.Severity.String() + ": " + d.Summary
	}
	return d.Severity.String() + ": " + d.Summary + ": " + d.Detail
}

// HasErrors reports whether any diagnostic fails the stage (Severity.Fails).
func HasErrors(ds []Diagnostic) bool {
	for _, d := range ds {
		if d.Severity.Fails() {
			return true
		}
	}
	return false
}

// DiagnosticsError joins the diagnostics of ds that fail the stage
// (Severity.Fails) into one error, or returns nil if there are none.
func DiagnosticsError(stage string, ds []Diagnostic) error {
	var msgs []string
	for _, d := range ds {
		if d.Severity.Fails() {
			msgs = append(msgs, d.String())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("stage %s failed: %s", stage, strings.Join(msgs, "; "))
}
