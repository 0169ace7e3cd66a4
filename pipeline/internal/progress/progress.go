// Package progress draws a live status footer on a terminal: stages done out
// of total, how many came from the cache, the estimated time left, and each
// running stage's own progress. Log lines written through Writer appear above the footer and are
// never lost. On a non-terminal the display is off and Writer passes through; Heartbeat then
// reports the same counts at a fixed interval (a log line for CI logs and nohup runs).
package progress

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Display is a live footer. The zero value is not usable; call New.
type Display struct {
	mu      sync.Mutex
	out     io.Writer
	enabled bool
	total   int
	done    int
	cached  int
	failed  int
	running map[string]string // stage -> progress text
	lines   int               // footer lines currently drawn
	stop    chan struct{}
	wg      sync.WaitGroup
	started time.Time
	eta     float64 // estimated seconds left when etaAt was set; <0: unknown
	etaAt   time.Time
	beat    *time.Ticker // Heartbeat's, stopped by Close
}

// Status is what the footer shows, for Heartbeat.
type Status struct {
	Done, Total, Cached, Failed, Running int
	Elapsed                              time.Duration
	// Left is the estimated time until the run ends; negative when unknown.
	Left time.Duration
}

// status returns the current counts; d.mu must be held.
func (d *Display) status() Status {
	s := Status{Done: d.done, Total: d.total, Cached: d.cached, Failed: d.failed, Running: len(d.running),
		Elapsed: time.Since(d.started), Left: -1}
	if d.eta >= 0 && d.done < d.total {
		s.Left = time.Duration(max(0, d.eta-time.Since(d.etaAt).Seconds()) * float64(time.Second))
	}
	return s
}

// Heartbeat calls emit with the current Status every interval until Close,
// and not at all once every stage is done. It is meant for a disabled
// display (no terminal), where nothing else reports progress.
func (d *Display) Heartbeat(every time.Duration, emit func(Status)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.beat != nil || every <= 0 {
		return
	}
	d.beat = time.NewTicker(every)
	d.wg.Add(1)
	go func(c <-chan time.Time) {
		defer d.wg.Done()
		for {
			select {
			case <-d.stop:
				return
			case <-c:
				d.mu.Lock()
				s := d.status()
				d.mu.Unlock()
				if s.Done < s.Total {
					emit(s)
				}
			}
		}
	}(d.beat.C)
}

// New returns a display writing to out; enabled is false on a non-terminal,
// which makes every method but Writer a no-op.
func New(out io.Writer, enabled bool, total int) *Display {
	d := &Display{out: out, enabled: enabled, total: total, running: map[string]string{}, stop: make(chan struct{}), started: time.Now(), eta: -1}
	if enabled {
		d.wg.Add(1)
		go d.loop()
	}
	return d
}

func (d *Display) loop() {
	defer d.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.mu.Lock()
			d.redraw()
			d.mu.Unlock()
		}
	}
}

// Start marks a stage as running.
func (d *Display) Start(stage string) {
	d.mu.Lock()
	d.running[stage] = ""
	d.mu.Unlock()
}

// Update sets a running stage's progress.
func (d *Display) Update(stage string, done, total float64, msg string) {
	d.mu.Lock()
	if _, ok := d.running[stage]; ok {
		s := msg
		if total > 0 {
			s = fmt.Sprintf("%3.0f%% %s", 100*done/total, msg)
		}
		d.running[stage] = s
	}
	d.mu.Unlock()
}

// SetETA sets the estimated seconds until the run ends (from recorded stage
// times); the footer counts it down until the next estimate.
func (d *Display) SetETA(seconds float64) {
	d.mu.Lock()
	d.eta, d.etaAt = seconds, time.Now()
	d.mu.Unlock()
}

// Finish marks a stage done (cached, ran, or failed).
func (d *Display) Finish(stage string, cached, failed bool) {
	d.mu.Lock()
	delete(d.running, stage)
	d.done++
	if cached {
		d.cached++
	}
	if failed {
		d.failed++
	}
	d.mu.Unlock()
}

// Close removes the footer and stops the heartbeat.
func (d *Display) Close() {
	d.mu.Lock()
	beating := d.beat != nil
	if beating {
		d.beat.Stop()
	}
	d.mu.Unlock()
	if !d.enabled && !beating {
		return
	}
	close(d.stop)
	d.wg.Wait()
	if !d.enabled {
		return
	}
	d.mu.Lock()
	d.clear()
	d.mu.Unlock()
}

// Writer returns an io.Writer for log output that keeps the footer below it.
func (d *Display) Writer() io.Writer { return writer{d} }

type writer struct{ d *Display }

func (w writer) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	if w.d.enabled {
		w.d.clear()
	}
	n, err := w.d.out.Write(p)
	if w.d.enabled {
		w.d.redraw()
	}
	return n, err
}

func (d *Display) clear() {
	for i := 0; i < d.lines; i++ {
		fmt.Fprint(d.out, "\x1b[1A\x1b[2K")
	}
	d.lines = 0
}

func (d *Display) redraw() {
	d.clear()
	names := make([]string, 0, len(d.running))
	for n := range d.running {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %d/%d stages done (%d cached", time.Since(d.started).Round(time.Second), d.done, d.total, d.cached)
	if d.failed > 0 {
		fmt.Fprintf(&b, ", %d failed", d.failed)
	}
	fmt.Fprintf(&b, "), %d running", len(names))
	if st := d.status(); st.Left >= 0 {
		fmt.Fprintf(&b, ", about %s left", st.Left.Round(time.Second))
	}
	b.WriteByte('\n')
	lines := 1
	const maxShown = 6
	for i, n := range names {
		if i == maxShown {
			fmt.Fprintf(&b, "  ... and %d more\n", len(names)-maxShown)
			lines++
			break
		}
		fmt.Fprintf(&b, "  %s %s\n", n, d.running[n])
		lines++
	}
	fmt.Fprint(d.out, b.String())
	d.lines = lines
}

// EnvInterval names the environment variable that sets the Heartbeat
// interval of a run without a terminal: a Go duration such as 10s, 0 for
// never.
const EnvInterval = "PIPELINE_PROGRESS_INTERVAL"

// DefaultInterval is the Heartbeat interval when EnvInterval is unset.
const DefaultInterval = 30 * time.Second

// IntervalFromEnv returns the Heartbeat interval EnvInterval sets, else
// DefaultInterval; a value that is not a non-negative duration is an error
// naming the variable and the value.
func IntervalFromEnv() (time.Duration, error) {
	s := os.Getenv(EnvInterval)
	if s == "" {
		return DefaultInterval, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: not a duration like 30s, 2m or 0 (never)", EnvInterval, s)
	}
	return d, nil
}
