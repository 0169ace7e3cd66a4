package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestDisabledPassesThrough: on a non-terminal the display writes nothing of
// its own and log lines pass through unchanged.
func TestDisabledPassesThrough(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, false, 3)
	d.Start("a")
	d.Update("a", 1, 2, "half")
	d.Writer().Write([]byte("log line\n"))
	d.Finish("a", false, false)
	d.Close()
	if b.String() != "log line\n" {
		t.Fatalf("output %q", b.String())
	}
}

// TestFooterKeepsLogsAbove: on a terminal a log line clears the footer, is
// written, and the footer (counts and running stages) is drawn again below it.
func TestFooterKeepsLogsAbove(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, true, 3)
	d.Start("train[depth=2]")
	d.Update("train[depth=2]", 1, 4, "epoch 250")
	d.Finish("data", true, false)
	d.Writer().Write([]byte("first\n"))
	d.Writer().Write([]byte("second\n"))
	d.Close()
	out := b.String()
	for _, want := range []string{"first\n", "second\n", "1/3 stages done (1 cached), 1 running", "train[depth=2]  25% epoch 250", "\x1b[1A\x1b[2K"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%q", want, out)
		}
	}
	// Closing removes the footer: the output ends with the clear sequences, not a footer line.
	if !strings.HasSuffix(out, "\x1b[1A\x1b[2K") {
		t.Errorf("footer not cleared at Close: %q", out[max(0, len(out)-80):])
	}
}

// TestFooterShowsETA: an estimate set by the engine appears in the footer
// and counts down; none is shown before the first estimate.
func TestFooterShowsETA(t *testing.T) {
	var b bytes.Buffer
	d := New(&b, true, 10)
	d.Writer().Write([]byte("before\n"))
	d.SetETA(95)
	d.Writer().Write([]byte("after\n"))
	d.Close()
	out := b.String()
	before, after, _ := strings.Cut(out, "after\n")
	if strings.Contains(before, "left") {
		t.Errorf("ETA shown before any estimate: %q", before)
	}
	if !strings.Contains(after, "0/10 stages done (0 cached), 0 running, about 1m35s left") {
		t.Errorf("no ETA after SetETA:\n%q", after)
	}
}

func TestHeartbeatOnANonTerminal(t *testing.T) {
	var out bytes.Buffer
	d := New(&out, false, 3)
	got := make(chan Status, 16)
	d.Heartbeat(10*time.Millisecond, func(s Status) { got <- s })
	d.Start("a")
	d.Finish("a", true, false)
	d.SetETA(60)
	var s Status
	for s = range got {
		if s.Done == 1 {
			break
		}
	}
	if s.Total != 3 || s.Cached != 1 || s.Left <= 0 || s.Left > time.Minute {
		t.Errorf("status %+v", s)
	}
	d.Close()
	// Close stops it; nothing was drawn.
	n := len(got)
	time.Sleep(30 * time.Millisecond)
	if len(got) != n || out.Len() != 0 {
		t.Errorf("heartbeat after Close (%d -> %d) or output %q", n, len(got), out.String())
	}
}

func TestIntervalFromEnv(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want time.Duration
		ok   bool
	}{
		{"", DefaultInterval, true},
		{"10s", 10 * time.Second, true},
		{"0", 0, true},
		{"abc", 0, false},
		{"-1s", 0, false},
		{"10", 0, false},
	} {
		t.Setenv(EnvInterval, tc.val)
		got, err := IntervalFromEnv()
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("%s=%q: got %v, %v; want %v (ok %v)", EnvInterval, tc.val, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), EnvInterval+"=\""+tc.val+"\"") {
			t.Errorf("error %q does not name the variable and the value", err)
		}
	}
}
