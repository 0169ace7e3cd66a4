// Package lockfile builds, writes, reads and compares a manifest's results
// lock: for every stage instance, the OutputIDs and sizes of its outputs and,
// for Parquet outputs, a decoded per-column summary (digest, min, max, mean),
// plus the statuses and numbers of the claims the manifest's reports make.
//
// A lock is committed beside its manifest (manifests/smoke.lock) and checked
// by `pipeline run --locked`: a difference names the diverging stages whose
// inputs all still match the lock (the roots of the difference: everything
// below them is explained by them) with a decoded diff of each. The column
// summaries let that diff say what changed where the old bytes are gone, as
// on a fresh CI machine; where the old object is still in the store the diff
// is exact, row by row.
//
// The lock depends only on the results, never on how or when they were made:
// no ActionIDs (they change with every plugin rebuild), no times, no paths.
package lockfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/demystify-resnet/repro/artifacts/safefile"
	"github.com/demystify-resnet/repro/artifacts/table"
)

// Format versions the lock file's layout.
const Format = 1

// digestLen is how many hex digits of a column digest the lock keeps:
// 64 bits tell a changed column from an unchanged one; the full OutputID of
// the file is kept as well.
const digestLen = 16

// Lock is the results of one manifest.
type Lock struct {
	Format   int     `json:"format"`
	Manifest string  `json:"manifest"`         // the manifest's name
	Stages   []Stage `json:"stages"`           // sorted by Name
	Claims   []Claim `json:"claims,omitempty"` // sorted by Stage, then ID
}

// Stage is one stage instance's results.
type Stage struct {
	Name    string              `json:"name"`             // instance name
	Plugin  string              `json:"plugin"`           // plugin.stage
	Inputs  map[string][]string `json:"inputs,omitempty"` // port -> "instance.output", in binding order
	Outputs map[string]Output   `json:"outputs"`
}

// Output is one output file of a stage.
type Output struct {
	ID   string `json:"id"`   // OutputID (sha256 of the bytes)
	Size int64  `json:"size"` // bytes
	File string `json:"file"` // the file name the plugin gave it
	// Table summarises a Parquet output's decoded content (nil otherwise).
	Table *table.Summary `json:"table,omitempty"`
}

// Claim is one claim of a report: its status and every number it carries.
type Claim struct {
	ID     string `json:"id"`
	Stage  string `json:"stage"` // the report stage instance that made it
	Status string `json:"status"`
	// Statement, Figure, Claim and Measured are the claim's text fields when
	// the report writes them (the README's claims table is made from them).
	Statement string `json:"statement,omitempty"`
	Figure    string `json:"figure,omitempty"`
	Claim     string `json:"claim,omitempty"`
	Measured  string `json:"measured,omitempty"`
	// Numbers are the claim's numeric fields, flattened with dotted paths
	// ("points.2.depth"); non-finite values are kept as "+Inf", "-Inf", "NaN".
	Numbers map[string]table.JSONFloat `json:"numbers,omitempty"`
}

// Result is what Build needs to know of one stage instance that has results.
type Result struct {
	Name    string
	Plugin  string              // plugin.stage
	Inputs  map[string][]string // port -> "instance.output"
	Outputs map[string]string   // output name -> OutputID (hex)
	Sizes   map[string]int64
	Files   map[string]string // output name -> file name
}

// Build makes the lock of results. objectPath returns the path of an
// output's bytes (a verified object of the store), or "" when they are gone
// (then the output is locked by ID and size alone); Parquet outputs are
// summarised, and outputs named claims.json are read for claims.
func Build(manifest string, results []Result, objectPath func(id string) string) (*Lock, error) {
	l := &Lock{Format: Format, Manifest: manifest}
	summaries := map[string]*table.Summary{} // by OutputID: shared outputs are read once
	for _, r := range results {
		st := Stage{Name: r.Name, Plugin: r.Plugin, Outputs: map[string]Output{}}
		if len(r.Inputs) > 0 {
			st.Inputs = r.Inputs
		}
		for _, name := range slices.Sorted(maps.Keys(r.Outputs)) {
			id := r.Outputs[name]
			o := Output{ID: id, Size: r.Sizes[name], File: r.Files[name]}
			path := objectPath(id)
			if strings.HasSuffix(o.File, ".parquet") && path != "" {
				s, ok := summaries[id]
				if !ok {
					sum, err := table.Summarize(path)
					if err != nil {
						return nil, fmt.Errorf("lock: %s.%s: %w", r.Name, name, err)
					}
					for i := range sum.Columns {
						sum.Columns[i].Digest = sum.Columns[i].Digest[:digestLen]
					}
					s = &sum
					summaries[id] = s
				}
				o.Table = s
			}
			if o.File == "claims.json" && path != "" {
				cs, err := readClaims(path, r.Name)
				if err != nil {
					return nil, fmt.Errorf("lock: %s.%s: %w", r.Name, name, err)
				}
				l.Claims = append(l.Claims, cs...)
			}
			st.Outputs[name] = o
		}
		l.Stages = append(l.Stages, st)
	}
	slices.SortFunc(l.Stages, func(a, b Stage) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(l.Claims, func(a, b Claim) int {
		if c := strings.Compare(a.Stage, b.Stage); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return l, nil
}

// Bounds on the files this package reads whole, far above real ones so
// that only a damaged or hostile file reaches them (an error naming it, not
// an exhausted memory).
const (
	// MaxBytes bounds a lock file: manifests/paper.lock is 7.3 MB for 2,773
	// stages (2.6 KB a stage), so 1 GiB is about 400,000 stages. Write
	// refuses a larger lock, so every lock written can be read back.
	MaxBytes = 1 << 30
	// MaxClaimsBytes bounds a report's claims.json: the smoke manifest's
	// is 64 KB.
	MaxClaimsBytes = 256 << 20
)

// readClaims reads a report's claims.json: a list of objects with at least
// "id" and "status"; every numeric field (at any depth) is kept.
func readClaims(path, stage string) ([]Claim, error) {
	data, err := safefile.ReadRegular(path, MaxClaimsBytes)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		return nil, fmt.Errorf("claims.json: %w", err)
	}
	out := make([]Claim, 0, len(rows))
	for i, row := range rows {
		id, _ := row["id"].(string)
		status, _ := row["status"].(string)
		if id == "" {
			return nil, fmt.Errorf("claims.json: claim %d has no id", i)
		}
		text := func(k string) string { v, _ := row[k].(string); return v }
		c := Claim{ID: id, Stage: stage, Status: status, Statement: text("statement"), Figure: text("figure"),
			Claim: text("claim"), Measured: text("measured"), Numbers: map[string]table.JSONFloat{}}
		for k, v := range row {
			flatten(c.Numbers, k, v)
		}
		if len(c.Numbers) == 0 {
			c.Numbers = nil
		}
		out = append(out, c)
	}
	return out, nil
}

// flatten adds the numbers inside v to dst under dotted paths; the strings
// "+Inf", "-Inf" and "NaN" count as numbers (claims.json writes them so).
func flatten(dst map[string]table.JSONFloat, path string, v any) {
	switch x := v.(type) {
	case json.Number:
		var f table.JSONFloat
		if err := f.UnmarshalJSON([]byte(x.String())); err == nil {
			dst[path] = f
		}
	case string:
		switch x {
		case "+Inf", "-Inf", "NaN":
			var f table.JSONFloat
			f.UnmarshalJSON([]byte(`"` + x + `"`))
			dst[path] = f
		}
	case []any:
		for i, e := range x {
			flatten(dst, fmt.Sprintf("%s.%d", path, i), e)
		}
	case map[string]any:
		for k, e := range x {
			flatten(dst, path+"."+k, e)
		}
	}
}

// Path returns the lock file that belongs to a manifest: the manifest's
// path with its extension replaced by ".lock".
func Path(manifest string) string {
	return strings.TrimSuffix(manifest, filepath.Ext(manifest)) + ".lock"
}

// Read reads a lock file. Only a regular file of at most MaxBytes is read:
// a FIFO, a device, a folder or a larger file is an error naming it at once
// (safefile.ReadRegular), never a hang or an exhausted memory.
func Read(path string) (*Lock, error) {
	data, err := safefile.ReadRegular(path, MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	var l Lock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("lock: %s: %w", path, err)
	}
	if l.Format != Format {
		return nil, fmt.Errorf("lock: %s: format %d, this pipeline reads format %d", path, l.Format, Format)
	}
	return &l, nil
}

// Write writes l to path atomically (artifacts/safefile: a synced temporary
// file renamed over path).
func Write(path string, l *Lock) error {
	data, err := l.Encode()
	if err != nil {
		return err
	}
	if len(data) > MaxBytes {
		return fmt.Errorf("lock: %s: %d bytes, more than the limit of %d a lock file may have", path, len(data), MaxBytes)
	}
	if err := safefile.WriteBytes(path, data, 0o644); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// Encode returns the lock's text: JSON laid out for review, one stage
// output, one column summary and one claim per line (so that a change to one
// number changes one line of a pull request's diff), keys sorted.
func (l *Lock) Encode() ([]byte, error) {
	var b bytes.Buffer
	line := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat(" ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	js := func(v any) string {
		out, err := json.Marshal(v)
		if err != nil {
			panic(err) // every field is a string, an integer or a JSONFloat
		}
		return string(out)
	}
	line(0, "{")
	line(1, `"format": %d,`, l.Format)
	line(1, `"manifest": %s,`, js(l.Manifest))
	line(1, `"stages": [`)
	for i, s := range l.Stages {
		line(2, `{"name": %s, "plugin": %s,`, js(s.Name), js(s.Plugin))
		if len(s.Inputs) > 0 {
			line(3, `"inputs": %s,`, js(s.Inputs))
		}
		line(3, `"outputs": {`)
		names := slices.Sorted(maps.Keys(s.Outputs))
		for j, name := range names {
			o := s.Outputs[name]
			head := fmt.Sprintf(`%s: {"id": %s, "size": %d, "file": %s`, js(name), js(o.ID), o.Size, js(o.File))
			end := "}"
			if j < len(names)-1 {
				end += ","
			}
			if o.Table == nil {
				line(4, "%s%s", head, end)
				continue
			}
			line(4, `%s, "table": {"rows": %d, "columns": [`, head, o.Table.Rows)
			for k, c := range o.Table.Columns {
				sep := ","
				if k == len(o.Table.Columns)-1 {
					sep = ""
				}
				line(5, "%s%s", js(c), sep)
			}
			line(4, "]}%s", end)
		}
		end := "}}"
		if i < len(l.Stages)-1 {
			end += ","
		}
		line(3, "%s", end)
	}
	if len(l.Claims) == 0 {
		line(1, "]")
	} else {
		line(1, "],")
		line(1, `"claims": [`)
		for i, c := range l.Claims {
			sep := ","
			if i == len(l.Claims)-1 {
				sep = ""
			}
			line(2, "%s%s", js(c), sep)
		}
		line(1, "]")
	}
	line(0, "}")
	// The layout is ours; the content must still be plain JSON.
	var check Lock
	if err := json.Unmarshal(b.Bytes(), &check); err != nil {
		return nil, fmt.Errorf("lock: encode: %w", err)
	}
	return b.Bytes(), nil
}

// ClaimsMarkdown is the lock's claims as a Markdown table (status, id, the
// statement formalised, the figure, the claim and what was measured), for a
// README; claims of other report stages than the first are left out.
func (l *Lock) ClaimsMarkdown() string {
	var b strings.Builder
	b.WriteString("| status | claim | paper | figure | measured |\n|---|---|---|---|---|\n")
	cell := func(s string) string {
		s = strings.ReplaceAll(s, "|", "\\|")
		return strings.ReplaceAll(s, "\n", " ")
	}
	first := ""
	for _, c := range l.Claims {
		if first == "" {
			first = c.Stage
		}
		if c.Stage != first {
			continue
		}
		st := c.Status
		if st != "PASS" {
			st = "**" + st + "**"
		}
		text := "`" + c.ID + "`"
		if c.Claim != "" {
			text += ": " + cell(c.Claim)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", st, text, cell(c.Statement), cell(c.Figure), cell(c.Measured))
	}
	return b.String()
}
