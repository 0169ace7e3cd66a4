// Package manifest loads and validates pipeline manifests (format v1).
//
// A manifest is a YAML file naming stages; each stage runs one plugin stage with
// parameters, optionally swept over a matrix, and consumes the outputs of other
// stages. Loading is strict: an unknown key, a wrong type, a dangling or cyclic
// reference is an *Error that names file, line and column, and nothing runs.
// The format is documented in docs/manifest.md and manifests/schema.json.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// FormatVersion is the manifest format this package reads.
const FormatVersion = 1

// Pos is a position in a manifest file.
type Pos struct {
	File      string
	Line, Col int
}

// String formats the position as file:line:col.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is a manifest error at a position. Its message is one line.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the error as file:line:col: message.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errorf returns an *Error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// Value is a scalar or list parameter value with the position it was written at.
// V holds int64, float64, string, bool or []any of those.
type Value struct {
	V   any
	Pos Pos
}

// Param is one named parameter value.
type Param struct {
	Name  string
	Value Value
	Pos   Pos // position of the key
}

// Axis is one dimension of a stage's matrix.
type Axis struct {
	Name   string
	Values []Value
	Pos    Pos
}

// Ref refers to an output of another stage: "stage.output", optionally with a
// selector "stage[key=value,...].output" that keeps the instances of a swept
// stage whose matrix values match.
type Ref struct {
	Raw      string
	Stage    string
	Selector []Param
	Output   string
	Pos      Pos
}

// Input binds a plugin input port to one or more references.
type Input struct {
	Port string
	Refs []Ref
	Pos  Pos
}

// Resources are what a stage asks of an executor (used by the Slurm executor;
// the local executor uses CPUs as its concurrency weight when set).
type Resources struct {
	CPUs   int
	Memory string // Slurm syntax, e.g. "2G"
	Time   time.Duration
}

// Stage is one stage declaration, before matrix expansion.
type Stage struct {
	Name      string
	Pos       Pos
	Plugin    string // "name" or "name.stage"
	PluginPos Pos
	Params    []Param
	Matrix    []Axis
	Exclude   [][]Param
	Inputs    []Input
	Timeout   time.Duration
	Retries   int
	Publish   []string // outputs copied to the out folder; ["*"] = all
	Resources Resources
	Estimate  time.Duration // expected run time of one instance (scheduling, ETA) until one is recorded
}

// Manifest is a loaded, syntactically valid manifest.
type Manifest struct {
	Path       string
	Digest     string // sha256 of the file bytes, hex
	Name       string
	Seed       uint64
	PluginDirs []string // absolute
	Stages     []*Stage // in file order
	byName     map[string]*Stage
}

// Stage returns the stage called name.
func (m *Manifest) Stage(name string) (*Stage, bool) {
	s, ok := m.byName[name]
	return s, ok
}

// Load reads and validates the manifest at path, within DefaultLimits.
func Load(path string) (*Manifest, error) { return LoadWith(path, Options{Limits: DefaultLimits}) }

// LoadLimited reads and validates the manifest at path, refusing a file
// larger than lim.Bytes before reading it.
func LoadLimited(path string, lim Limits) (*Manifest, error) {
	return LoadWith(path, Options{Limits: lim})
}

// LoadWith reads the manifest at path, composes it with its includes and
// o.Set, and validates the result within o.Limits.
func LoadWith(path string, o Options) (*Manifest, error) {
	data, err := readLimited(path, o.Limits.Bytes)
	if err != nil {
		return nil, err
	}
	return ParseWith(path, data, o)
}

// readLimited reads a manifest file of at most max bytes (0: any size).
func readLimited(path string, max int64) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	r := io.Reader(f)
	if max > 0 {
		r = io.LimitReader(f, max+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if max > 0 && int64(len(data)) > max {
		return nil, Errorf(Pos{File: path}, "manifest is larger than %d bytes (raise with --max-manifest-bytes or %s)", max, EnvMaxManifestBytes)
	}
	return data, nil
}

// openFile opens a manifest or include file for reading without blocking:
// a FIFO with no writer is opened at once (and reads as empty) instead of
// hanging the command beyond the reach of Ctrl-C and SIGTERM, and a directory
// is refused at once.
func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		if err == nil {
			err = &os.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
		}
		return nil, err
	}
	return f, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// Parse validates manifest bytes; path is used in positions and to resolve
// relative plugin directories and includes.
func Parse(path string, data []byte) (*Manifest, error) {
	return ParseWith(path, data, Options{Limits: DefaultLimits})
}

// ParseWith composes manifest bytes with their includes and o.Set
// (compose.go), then validates the result.
func ParseWith(path string, data []byte, o Options) (m *Manifest, err error) {
	defer func() {
		// The YAML library panics on a few pathological inputs; never let that
		// escape as a crash.
		if r := recover(); r != nil {
			m, err = nil, Errorf(Pos{File: path}, "cannot parse manifest: %v", r)
		}
	}()
	p := &parser{file: path, files: map[*yaml.Node]string{}}
	c := &composer{p: p, opts: o, read: int64(len(data))}
	root, digest, err := c.compose(path, data)
	if err != nil {
		return nil, err
	}
	m = &Manifest{Path: path, Digest: digest, byName: map[string]*Stage{}}
	fields, err := p.mapping(root, "manifest", map[string]bool{"version": true, "name": true, "seed": true, "plugin_dirs": true, "stages": true})
	if err != nil {
		return nil, err
	}
	if err := p.header(m, root, fields); err != nil {
		return nil, err
	}
	if err := p.stages(m, root, fields); err != nil {
		return nil, err
	}
	if err := m.checkRefs(); err != nil {
		return nil, err
	}
	return m, nil
}

// parser decodes manifest trees. files maps nodes read from other files
// (includes, --set) to their file; other nodes are from file.
type parser struct {
	file  string
	files map[*yaml.Node]string
}

func (p *parser) pos(n *yaml.Node) Pos {
	f := p.file
	if g, ok := p.files[n]; ok {
		f = g
	}
	return Pos{File: f, Line: n.Line, Col: n.Column}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)(?::? column (\d+))?`)

// yamlErr turns a yaml library error into a positioned one-line error.
func (p *parser) yamlErr(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	pos := Pos{File: p.file}
	if mm := yamlLineRE.FindStringSubmatch(msg); mm != nil {
		pos.Line, _ = strconv.Atoi(mm[1])
		if mm[2] != "" {
			pos.Col, _ = strconv.Atoi(mm[2])
		} else {
			pos.Col = 1
		}
		msg = strings.TrimSpace(yamlLineRE.ReplaceAllString(msg, ""))
		msg = strings.TrimPrefix(msg, ": ")
	}
	msg = strings.ReplaceAll(msg, "\n", "; ")
	if msg == "" {
		msg = "invalid YAML"
	}
	return &Error{Pos: pos, Msg: "invalid YAML: " + msg}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		if len(n.Value) > 40 {
			return fmt.Sprintf("the scalar %.40q... (%d bytes)", n.Value, len(n.Value))
		}
		return fmt.Sprintf("the scalar %q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an empty node"
}

// mapping checks that n is a mapping with only allowed, unique keys.
func (p *parser) mapping(n *yaml.Node, what string, allowed map[string]bool) (map[string]*yaml.Node, error) {
	if n.Kind == yaml.AliasNode {
		return nil, Errorf(p.pos(n), "%s: YAML aliases are not supported in manifests", what)
	}
	if n.Kind != yaml.MappingNode {
		return nil, Errorf(p.pos(n), "%s must be a mapping, got %s", what, kindName(n))
	}
	out := map[string]*yaml.Node{}
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			return nil, Errorf(p.pos(k), "%s: keys must be strings", what)
		}
		if allowed != nil && !allowed[k.Value] {
			return nil, Errorf(p.pos(k), "unknown key %q in %s (allowed: %s)", k.Value, what, keys(allowed))
		}
		if _, dup := out[k.Value]; dup {
			return nil, Errorf(p.pos(k), "duplicate key %q in %s", k.Value, what)
		}
		out[k.Value] = n.Content[i+1]
	}
	return out, nil
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

func (p *parser) str(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", Errorf(p.pos(n), "%s must be a string, got %s", what, kindName(n))
	}
	return n.Value, nil
}

func (p *parser) int(n *yaml.Node, what string) (int64, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, Errorf(p.pos(n), "%s must be an integer, got %s", what, kindName(n))
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		return 0, Errorf(p.pos(n), "%s: %v", what, err)
	}
	return v, nil
}

func (p *parser) strList(n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, Errorf(p.pos(n), "%s must be a list of strings, got %s", what, kindName(n))
	}
	var out []string
	for _, c := range n.Content {
		s, err := p.str(c, what+" entry")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// value decodes a parameter value: a scalar or a flat list of scalars.
func (p *parser) value(n *yaml.Node, what string, allowList bool) (Value, error) {
	pos := p.pos(n)
	switch n.Kind {
	case yaml.ScalarNode:
		var v any
		switch n.Tag {
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return Value{}, Errorf(pos, "%s: %v", what, err)
			}
			v = i
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return Value{}, Errorf(pos, "%s: %v", what, err)
			}
			v = f
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return Value{}, Errorf(pos, "%s: %v", what, err)
			}
			v = b
		case "!!str":
			v = n.Value
		case "!!null":
			return Value{}, Errorf(pos, "%s: a value is required, got null", what)
		default:
			return Value{}, Errorf(pos, "%s: unsupported value type %s", what, n.Tag)
		}
		return Value{V: v, Pos: pos}, nil
	case yaml.SequenceNode:
		if !allowList {
			return Value{}, Errorf(pos, "%s: lists are not allowed here", what)
		}
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			cv, err := p.value(c, what+" entry", false)
			if err != nil {
				return Value{}, err
			}
			list = append(list, cv.V)
		}
		return Value{V: list, Pos: pos}, nil
	}
	return Value{}, Errorf(pos, "%s must be a scalar or a list of scalars, got %s", what, kindName(n))
}

func (p *parser) params(n *yaml.Node, what string) ([]Param, error) {
	fields, err := p.mapping(n, what, nil)
	if err != nil {
		return nil, err
	}
	_ = fields
	var out []Param
	for i := 0; i < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if !nameRE.MatchString(k.Value) {
			return nil, Errorf(p.pos(k), "invalid parameter name %q", k.Value)
		}
		v, err := p.value(vn, fmt.Sprintf("parameter %q", k.Value), true)
		if err != nil {
			return nil, err
		}
		out = append(out, Param{Name: k.Value, Value: v, Pos: p.pos(k)})
	}
	return out, nil
}

var stageKeys = map[string]bool{"plugin": true, "params": true, "matrix": true, "exclude": true, "inputs": true,
	"timeout": true, "retries": true, "publish": true, "resources": true, "doc": true, "estimate": true}

// header reads the top-level keys of a manifest other than stages into m:
// version (required, FormatVersion), name (default: the file's base name),
// seed and plugin_dirs (relative to the manifest's folder).
func (p *parser) header(m *Manifest, root *yaml.Node, fields map[string]*yaml.Node) error {
	vn, ok := fields["version"]
	if !ok {
		return Errorf(p.pos(root), "missing required key \"version\" (this tool reads version %d)", FormatVersion)
	}
	v, err := p.int(vn, "version")
	if err != nil {
		return err
	}
	if v != FormatVersion {
		return Errorf(p.pos(vn), "unsupported manifest version %d (this tool reads version %d)", v, FormatVersion)
	}
	if n, ok := fields["name"]; ok {
		if m.Name, err = p.str(n, "name"); err != nil {
			return err
		}
	} else {
		m.Name = strings.TrimSuffix(filepath.Base(m.Path), filepath.Ext(m.Path))
	}
	if n, ok := fields["seed"]; ok {
		s, err := p.int(n, "seed")
		if err != nil {
			return err
		}
		if s < 0 {
			return Errorf(p.pos(n), "seed must be >= 0, got %d", s)
		}
		m.Seed = uint64(s)
	}
	if n, ok := fields["plugin_dirs"]; ok {
		dirs, err := p.strList(n, "plugin_dirs")
		if err != nil {
			return err
		}
		base := filepath.Dir(m.Path)
		for _, d := range dirs {
			if !filepath.IsAbs(d) {
				d = filepath.Join(base, d)
			}
			abs, err := filepath.Abs(d)
			if err != nil {
				return fmt.Errorf("manifest: %w", err)
			}
			m.PluginDirs = append(m.PluginDirs, abs)
		}
	}
	return nil
}

// stages reads the stages mapping (required, not empty) into m, in order:
// valid, unique names, each stage read by stage.
func (p *parser) stages(m *Manifest, root *yaml.Node, fields map[string]*yaml.Node) error {
	sn, ok := fields["stages"]
	if !ok {
		return Errorf(p.pos(root), "missing required key \"stages\"")
	}
	if sn.Kind != yaml.MappingNode {
		return Errorf(p.pos(sn), "stages must be a mapping of stage name to stage, got %s", kindName(sn))
	}
	if len(sn.Content) == 0 {
		return Errorf(p.pos(sn), "stages is empty")
	}
	for i := 0; i < len(sn.Content); i += 2 {
		k, vnode := sn.Content[i], sn.Content[i+1]
		name := k.Value
		if !nameRE.MatchString(name) {
			return Errorf(p.pos(k), "invalid stage name %q (letters, digits, '_' and '-', starting with a letter)", name)
		}
		if prev, dup := m.byName[name]; dup {
			return Errorf(p.pos(k), "duplicate stage %q (first declared at %s)", name, prev.Pos)
		}
		st, err := p.stage(name, k, vnode)
		if err != nil {
			return err
		}
		m.Stages = append(m.Stages, st)
		m.byName[name] = st
	}
	return nil
}

// stage reads the stage called name (key k, mapping n): its plugin, doc,
// params, matrix and exclude (exclude), inputs, how it runs (execution) and
// its resources. Errors name the stage and the position.
func (p *parser) stage(name string, k, n *yaml.Node) (*Stage, error) {
	st := &Stage{Name: name, Pos: p.pos(k)}
	what := fmt.Sprintf("stage %q", name)
	f, err := p.mapping(n, what, stageKeys)
	if err != nil {
		return nil, err
	}
	pn, ok := f["plugin"]
	if !ok {
		return nil, Errorf(p.pos(k), "%s: missing required key \"plugin\"", what)
	}
	if st.Plugin, err = p.str(pn, what+": plugin"); err != nil {
		return nil, err
	}
	st.PluginPos = p.pos(pn)
	if d, ok := f["doc"]; ok {
		if _, err := p.str(d, what+": doc"); err != nil {
			return nil, err
		}
	}
	if n, ok := f["params"]; ok {
		if st.Params, err = p.params(n, what+": params"); err != nil {
			return nil, err
		}
	}
	if n, ok := f["matrix"]; ok {
		if err := p.matrix(st, n, what); err != nil {
			return nil, err
		}
	}
	if n, ok := f["exclude"]; ok {
		if err := p.exclude(st, n, what); err != nil {
			return nil, err
		}
	}
	for _, q := range st.Params {
		if a := st.axis(q.Name); a != nil {
			return nil, Errorf(q.Pos, "%s: parameter %q is set in params and in matrix (at %s)", what, q.Name, a.Pos)
		}
	}
	if n, ok := f["inputs"]; ok {
		if err := p.inputs(st, n, what); err != nil {
			return nil, err
		}
	}
	if err := p.execution(st, f, what); err != nil {
		return nil, err
	}
	if n, ok := f["resources"]; ok {
		if err := p.resources(st, n, what); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// exclude reads st's exclude list (n): mappings of matrix keys to values,
// which need a matrix and may name only its keys.
func (p *parser) exclude(st *Stage, n *yaml.Node, what string) error {
	if len(st.Matrix) == 0 {
		return Errorf(p.pos(n), "%s: exclude needs a matrix", what)
	}
	if n.Kind != yaml.SequenceNode {
		return Errorf(p.pos(n), "%s: exclude must be a list of mappings, got %s", what, kindName(n))
	}
	for _, c := range n.Content {
		ps, err := p.params(c, what+": exclude entry")
		if err != nil {
			return err
		}
		for _, q := range ps {
			if st.axis(q.Name) == nil {
				return Errorf(q.Pos, "%s: exclude names %q, which is not a matrix key", what, q.Name)
			}
		}
		st.Exclude = append(st.Exclude, ps)
	}
	return nil
}

// execution reads the keys of stage mapping f that say how st runs:
// timeout, estimate, retries (0 to 10) and publish (true, or a list of
// outputs).
func (p *parser) execution(st *Stage, f map[string]*yaml.Node, what string) error {
	var err error
	if n, ok := f["timeout"]; ok {
		if st.Timeout, err = p.duration(n, what+": timeout"); err != nil {
			return err
		}
	}
	if n, ok := f["estimate"]; ok {
		if st.Estimate, err = p.duration(n, what+": estimate"); err != nil {
			return err
		}
	}
	if n, ok := f["retries"]; ok {
		r, err := p.int(n, what+": retries")
		if err != nil {
			return err
		}
		if r < 0 || r > 10 {
			return Errorf(p.pos(n), "%s: retries must be between 0 and 10, got %d", what, r)
		}
		st.Retries = int(r)
	}
	if n, ok := f["publish"]; ok {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
			if n.Value == "true" {
				st.Publish = []string{"*"}
			}
		} else if st.Publish, err = p.strList(n, what+": publish"); err != nil {
			return err
		}
	}
	return nil
}

// resources reads st's resources mapping (n): cpus (1 to 1024), memory (a
// size like 512M) and time.
func (p *parser) resources(st *Stage, n *yaml.Node, what string) error {
	rf, err := p.mapping(n, what+": resources", map[string]bool{"cpus": true, "memory": true, "time": true})
	if err != nil {
		return err
	}
	if c, ok := rf["cpus"]; ok {
		v, err := p.int(c, what+": resources.cpus")
		if err != nil {
			return err
		}
		if v < 1 || v > 1024 {
			return Errorf(p.pos(c), "%s: resources.cpus must be between 1 and 1024, got %d", what, v)
		}
		st.Resources.CPUs = int(v)
	}
	if c, ok := rf["memory"]; ok {
		if st.Resources.Memory, err = p.str(c, what+": resources.memory"); err != nil {
			return err
		}
		if !memRE.MatchString(st.Resources.Memory) {
			return Errorf(p.pos(c), "%s: resources.memory %q is not a size like 512M or 4G", what, st.Resources.Memory)
		}
	}
	if c, ok := rf["time"]; ok {
		if st.Resources.Time, err = p.duration(c, what+": resources.time"); err != nil {
			return err
		}
	}
	return nil
}

var memRE = regexp.MustCompile(`^[0-9]+[KMGT]?$`)

func (p *parser) duration(n *yaml.Node, what string) (time.Duration, error) {
	s, err := p.str(n, what)
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, Errorf(p.pos(n), "%s: %q is not a positive duration like 90s, 10m or 2h", what, s)
	}
	return d, nil
}

func (p *parser) matrix(st *Stage, n *yaml.Node, what string) error {
	if _, err := p.mapping(n, what+": matrix", nil); err != nil {
		return err
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		if !nameRE.MatchString(k.Value) {
			return Errorf(p.pos(k), "%s: invalid matrix key %q", what, k.Value)
		}
		if vn.Kind != yaml.SequenceNode {
			return Errorf(p.pos(vn), "%s: matrix.%s must be a list of values, got %s", what, k.Value, kindName(vn))
		}
		if len(vn.Content) == 0 {
			return Errorf(p.pos(vn), "%s: matrix.%s is empty", what, k.Value)
		}
		ax := Axis{Name: k.Value, Pos: p.pos(k)}
		seen := map[string]Pos{}
		for _, c := range vn.Content {
			v, err := p.value(c, fmt.Sprintf("matrix.%s entry", k.Value), true)
			if err != nil {
				return err
			}
			key := FormatValue(v.V)
			if prev, dup := seen[key]; dup {
				return Errorf(v.Pos, "%s: matrix.%s lists %s twice (first at %s)", what, k.Value, key, prev)
			}
			seen[key] = v.Pos
			ax.Values = append(ax.Values, v)
		}
		st.Matrix = append(st.Matrix, ax)
	}
	return nil
}

func (st *Stage) axis(name string) *Axis {
	for i := range st.Matrix {
		if st.Matrix[i].Name == name {
			return &st.Matrix[i]
		}
	}
	return nil
}

var refRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*)(?:\[([^\]]*)\])?\.([A-Za-z][A-Za-z0-9_-]*)$`)

func (p *parser) inputs(st *Stage, n *yaml.Node, what string) error {
	if _, err := p.mapping(n, what+": inputs", nil); err != nil {
		return err
	}
	for i := 0; i < len(n.Content); i += 2 {
		k, vn := n.Content[i], n.Content[i+1]
		in := Input{Port: k.Value, Pos: p.pos(k)}
		var nodes []*yaml.Node
		if vn.Kind == yaml.SequenceNode {
			nodes = vn.Content
		} else {
			nodes = []*yaml.Node{vn}
		}
		for _, rn := range nodes {
			s, err := p.str(rn, fmt.Sprintf("%s: input %q", what, k.Value))
			if err != nil {
				return err
			}
			ref, err := p.ref(s, p.pos(rn))
			if err != nil {
				return err
			}
			in.Refs = append(in.Refs, ref)
		}
		if len(in.Refs) == 0 {
			return Errorf(p.pos(vn), "%s: input %q has no reference", what, k.Value)
		}
		st.Inputs = append(st.Inputs, in)
	}
	return nil
}

// ParseRef parses a reference "stage.output" or "stage[k=v,...].output".
func ParseRef(s string, pos Pos) (Ref, error) { return (&parser{file: pos.File}).ref(s, pos) }

func (p *parser) ref(s string, pos Pos) (Ref, error) {
	mm := refRE.FindStringSubmatch(strings.TrimSpace(s))
	if mm == nil {
		return Ref{}, Errorf(pos, "invalid reference %q: want stage.output or stage[key=value,...].output", s)
	}
	r := Ref{Raw: s, Stage: mm[1], Output: mm[3], Pos: pos}
	if sel := strings.TrimSpace(mm[2]); sel != "" && sel != "*" {
		for _, part := range strings.Split(sel, ",") {
			kv := strings.SplitN(part, "=", 2)
			if len(kv) != 2 || !nameRE.MatchString(strings.TrimSpace(kv[0])) {
				return Ref{}, Errorf(pos, "invalid selector %q in reference %q: want key=value", part, s)
			}
			var node yaml.Node
			if err := yaml.Unmarshal([]byte(strings.TrimSpace(kv[1])), &node); err != nil || len(node.Content) != 1 {
				return Ref{}, Errorf(pos, "invalid selector value in %q", part)
			}
			v, err := p.value(node.Content[0], "selector value", false)
			if err != nil {
				return Ref{}, Errorf(pos, "invalid selector value in %q", part)
			}
			v.Pos = pos
			r.Selector = append(r.Selector, Param{Name: strings.TrimSpace(kv[0]), Value: v, Pos: pos})
		}
	}
	return r, nil
}

// checkRefs verifies that every reference names a declared stage, that
// selectors use that stage's matrix keys, and that the stage graph has no cycle.
func (m *Manifest) checkRefs() error {
	for _, st := range m.Stages {
		for _, in := range st.Inputs {
			for _, r := range in.Refs {
				tgt, ok := m.byName[r.Stage]
				if !ok {
					return Errorf(r.Pos, "stage %q: input %q refers to unknown stage %q", st.Name, in.Port, r.Stage)
				}
				for _, s := range r.Selector {
					if tgt.axis(s.Name) == nil {
						return Errorf(r.Pos, "stage %q: selector key %q is not a matrix key of stage %q", st.Name, s.Name, r.Stage)
					}
				}
			}
		}
	}
	// Cycle detection by depth-first search in file order (deterministic).
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(st *Stage) error
	visit = func(st *Stage) error {
		color[st.Name] = grey
		stack = append(stack, st.Name)
		for _, in := range st.Inputs {
			for _, r := range in.Refs {
				switch color[r.Stage] {
				case grey:
					i := indexOf(stack, r.Stage)
					cyc := append(append([]string{}, stack[i:]...), r.Stage)
					return Errorf(r.Pos, "dependency cycle: %s", strings.Join(cyc, " -> "))
				case white:
					if err := visit(m.byName[r.Stage]); err != nil {
						return err
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[st.Name] = black
		return nil
	}
	for _, st := range m.Stages {
		if color[st.Name] == white {
			if err := visit(st); err != nil {
				return err
			}
		}
	}
	return nil
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// FormatValue renders a value canonically (as it appears in instance names).
func FormatValue(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = FormatValue(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

// ErrNotFound reports a missing stage or instance.
var ErrNotFound = errors.New("not found")
