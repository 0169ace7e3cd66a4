package slurm

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"strings"
)

// logTail follows a job's log file (the worker's JSON log lines plus
// anything the batch script printed). It forwards the worker's progress
// records and remembers what the last error line was.
type logTail struct {
	path    string
	offset  int64
	partial []byte
}

// progressRecord is a worker log line carrying stage progress (see
// `pipeline exec`, which logs progress at debug level with done/total).
type progressRecord struct {
	Done, Total float64
	Msg         string
	Stage       string // the worker's "stage" field: the stage instance
}

// maxTailRead bounds how much of a log one poll reads.
const maxTailRead = 1 << 20

// poll reads what was appended since the last call and returns the last
// progress record in it of each stage (by the record's stage field).
func (lt *logTail) poll() map[string]progressRecord {
	f, err := os.Open(lt.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < lt.offset {
		lt.offset, lt.partial = 0, nil // truncated or replaced
	}
	if _, err := f.Seek(lt.offset, io.SeekStart); err != nil {
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(f, maxTailRead))
	if err != nil || len(buf) == 0 {
		return nil
	}
	lt.offset += int64(len(buf))
	data := append(lt.partial, buf...)
	last := bytes.LastIndexByte(data, '\n')
	if last < 0 {
		lt.partial = data
		return nil
	}
	lt.partial = append([]byte(nil), data[last+1:]...)
	var recs map[string]progressRecord
	for _, line := range bytes.Split(data[:last], []byte{'\n'}) {
		if p, ok := parseProgress(line); ok {
			if recs == nil {
				recs = map[string]progressRecord{}
			}
			recs[p.Stage] = p
		}
	}
	return recs
}

// parseProgress decodes a JSON log line with numeric "done" and "total".
func parseProgress(line []byte) (progressRecord, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || !bytes.Contains(line, []byte(`"total"`)) {
		return progressRecord{}, false
	}
	var m struct {
		Done    *float64 `json:"done"`
		Total   *float64 `json:"total"`
		Message string   `json:"message"`
		Stage   string   `json:"stage"`
	}
	if err := json.Unmarshal(line, &m); err != nil || m.Done == nil || m.Total == nil {
		return progressRecord{}, false
	}
	return progressRecord{Done: *m.Done, Total: *m.Total, Msg: m.Message, Stage: m.Stage}, true
}

// lastErrorLine returns the most telling line of a failed job's log: the
// worker's final "pipeline: ..." message if there is one, else the last
// JSON log record at level error (message and error field), else the last
// non-empty line. It reads at most the last 64 KiB and returns "" when the
// log cannot be read.
func lastErrorLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > tail {
		if _, err := f.Seek(fi.Size()-tail, io.SeekStart); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	var lastErr, lastAny string
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "pipeline: ") {
			return clip(strings.TrimPrefix(l, "pipeline: "))
		}
		if lastAny == "" {
			lastAny = l
		}
		if lastErr == "" && strings.HasPrefix(l, "{") {
			var m struct {
				Level   string `json:"level"`
				Message string `json:"message"`
				Error   string `json:"error"`
			}
			if json.Unmarshal([]byte(l), &m) == nil && (m.Level == "error" || m.Level == "fatal" || m.Level == "panic") {
				lastErr = m.Message
				if m.Error != "" {
					lastErr += ": " + m.Error
				}
			}
		}
	}
	if lastErr != "" {
		return clip(lastErr)
	}
	return clip(lastAny)
}

// clip shortens s to one line of at most 400 bytes.
func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
