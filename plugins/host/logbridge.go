package host

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

// gate is the only path from a plugin session to the caller's zerolog
// logger. go-plugin keeps some goroutines (the stdio copier) alive after
// Kill returns; closing the gate when Run returns guarantees nothing is
// written to the caller's logger afterwards.
type gate struct {
	mu     sync.Mutex
	log    zerolog.Logger
	closed bool
}

func newGate(log zerolog.Logger) *gate { return &gate{log: log} }

// open points the gate at log and lets lines through again (a persistent
// worker's gate is opened for each task it serves and closed after it).
func (g *gate) open(log zerolog.Logger) {
	g.mu.Lock()
	g.log = log
	g.closed = false
	g.mu.Unlock()
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// with runs f with the logger unless the gate is closed.
func (g *gate) with(f func(l *zerolog.Logger)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		f(&g.log)
	}
}

// pluginLine re-emits one zerolog JSON line produced by Request.Log inside
// the plugin, preserving its level, message and fields in order. A line that
// is not a JSON object is logged verbatim at info level.
func (g *gate) pluginLine(line []byte) {
	lvl, msg, fields, ok := parseJSONLine(line, "level", "message", "time")
	g.with(func(l *zerolog.Logger) {
		if !ok {
			l.Info().Str("raw", string(line)).Msg("plugin log line")
			return
		}
		zl, err := zerolog.ParseLevel(lvl)
		if err != nil || lvl == "" {
			zl = zerolog.InfoLevel
		}
		ev := l.WithLevel(zl) // WithLevel never exits or panics, even for fatal/panic
		for _, f := range fields {
			ev = ev.RawJSON(f.key, f.raw)
		}
		ev.Msg(msg)
	})
}

type field struct {
	key string
	raw json.RawMessage
}

// parseJSONLine decodes a flat JSON object, returning the string values of
// levelKey and msgKey and the other fields (minus skipKey) in their original
// order.
func parseJSONLine(line []byte, levelKey, msgKey, skipKey string) (lvl, msg string, fields []field, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if d, isDelim := tok.(json.Delim); err != nil || !isDelim || d != '{' {
		return "", "", nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", "", nil, false
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "", "", nil, false
		}
		switch key {
		case levelKey:
			_ = json.Unmarshal(raw, &lvl)
		case msgKey:
			_ = json.Unmarshal(raw, &msg)
		case skipKey:
		default:
			fields = append(fields, field{key, raw})
		}
	}
	return lvl, msg, fields, true
}

// hclogWriter receives go-plugin's own hclog output (JSON lines) and writes
// it to the gate. go-plugin's lifecycle chatter (trace/debug/info/warn) goes
// to debug, its errors (for example raw plugin stderr lines after a panic)
// to warn: the error itself is returned by Run, with the relevant stderr
// lines, so it need not be logged twice at error level.
type hclogWriter struct {
	g     *gate
	lines lineBuffer
}

func (w *hclogWriter) Write(p []byte) (int, error) { return w.lines.write(p, w.emit) }

// lineBuffer splits what is written into lines (newline removed) and hands
// each complete line to emit, one Write at a time; a partial last line waits
// for the next Write.
type lineBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lineBuffer) write(p []byte, emit func(line []byte)) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	for {
		line, rest, ok := nextLine(b.buf)
		if !ok {
			break
		}
		emit(line)
		b.buf = rest
	}
	return len(p), nil
}

// maxLineBytes bounds a line of plugin output kept in memory: a longer run
// of bytes without a newline is cut into lines of this size, so that a
// plugin writing hundreds of megabytes without a newline cannot grow the
// host (it did: 200 MB on one line took the host to 730 MB).
const maxLineBytes = 64 << 10

// nextLine splits the first line off buf: up to a newline (dropped), or the
// first maxLineBytes bytes when no newline comes before them. ok is false
// when buf holds only the start of a line shorter than that.
func nextLine(buf []byte) (line, rest []byte, ok bool) {
	if i := bytes.IndexByte(buf[:min(len(buf), maxLineBytes)], '\n'); i >= 0 {
		return buf[:i], buf[i+1:], true
	}
	if len(buf) >= maxLineBytes {
		return buf[:maxLineBytes], buf[maxLineBytes:], true
	}
	return nil, buf, false
}

func (w *hclogWriter) emit(line []byte) {
	lvl, msg, fields, ok := parseJSONLine(line, "@level", "@message", "@timestamp")
	w.g.with(func(l *zerolog.Logger) {
		if !ok {
			l.Debug().Str("raw", string(line)).Msg("go-plugin")
			return
		}
		zl := zerolog.DebugLevel
		if lvl == "error" {
			zl = zerolog.WarnLevel
		}
		ev := l.WithLevel(zl)
		for _, f := range fields {
			key := f.key
			if key == "@module" {
				key = "module"
			}
			if key == "timestamp" { // wall-clock time go-plugin adds to plugin lines
				continue
			}
			ev = ev.RawJSON(key, f.raw)
		}
		ev.Msg(msg)
	})
}

// newHCLogger returns an hclog.Logger (for go-plugin's ClientConfig.Logger)
// that writes into the gate at a level matching the zerolog logger's.
func newHCLogger(g *gate, zl zerolog.Level) hclog.Logger {
	lvl := hclog.Error // go-plugin errors become zerolog warnings
	switch {
	case zl <= zerolog.DebugLevel:
		lvl = hclog.Debug // trace is too chatty to be useful even at debug
	case zl > zerolog.WarnLevel:
		lvl = hclog.Off
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        "go-plugin",
		Level:       lvl,
		Output:      &hclogWriter{g: g},
		JSONFormat:  true,
		DisableTime: true,
	})
}

// streamWriter forwards the plugin's os.Stdout/os.Stderr (relayed by
// go-plugin after the handshake) line by line to the gate at info level,
// tagged stream=stdout|stderr, and feeds stderr lines to the crash tail.
type streamWriter struct {
	g      *gate
	stream string
	tail   *tail
	lines  lineBuffer
}

func (w *streamWriter) Write(p []byte) (int, error) { return w.lines.write(p, w.emit) }

func (w *streamWriter) emit(b []byte) {
	line := string(b)
	if w.tail != nil {
		_, _ = io.WriteString(w.tail, line+"\n")
	}
	w.g.with(func(l *zerolog.Logger) { l.Info().Str("stream", w.stream).Msg(line) })
}

// tail keeps the last lines written to it (the plugin's raw stderr, and its
// relayed os.Stderr), for crash reports.
type tail struct {
	mu    sync.Mutex
	lines []string
	part  []byte
}

const tailLines = 40

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		line, rest, ok := nextLine(t.part)
		if !ok {
			break
		}
		t.lines = append(t.lines, string(line))
		t.part = rest
		if len(t.lines) > tailLines {
			t.lines = t.lines[len(t.lines)-tailLines:]
		}
	}
	return len(p), nil
}

// summary returns the most useful stderr lines: from the first "panic:" or
// "fatal error:" line (up to 8 lines), else the last 8 lines that are not
// go-plugin's JSON log records.
func (t *tail) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keep []string
	for _, l := range t.lines {
		if strings.HasPrefix(l, "{") && strings.Contains(l, `"@level"`) {
			continue
		}
		keep = append(keep, l)
	}
	if len(t.part) > 0 {
		keep = append(keep, string(t.part))
	}
	for i, l := range keep {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return strings.Join(keep[i:min(len(keep), i+8)], "\n")
		}
	}
	return strings.Join(keep[max(0, len(keep)-8):], "\n")
}
