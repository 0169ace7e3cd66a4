package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Composition: a manifest may include other manifests and declare variables,
// and the command line may override both (docs/manifest.md, "Composing
// manifests"). Composition works on the YAML trees before a manifest is
// validated, so a composed manifest is validated, expanded and hashed exactly
// like the single file it stands for: ActionIDs depend only on the resolved
// stages, never on how they were written.

// Options configure loading a manifest.
type Options struct {
	Limits Limits
	// Set overrides, in order: "name=value" sets variable name, and
	// "stage.param=value" sets a parameter of a stage. Values are YAML
	// (10, 0.5, xavier, [2, 4]).
	Set []string
}

// maxIncludeDepth bounds nested includes.
const maxIncludeDepth = 16

var (
	varRefRE  = regexp.MustCompile(`\$\$\{|\$\{([^}]*)\}`)
	varNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

var fileKeys = map[string]bool{"version": true, "name": true, "seed": true, "plugin_dirs": true, "stages": true, "include": true, "vars": true}

// entry is a key and its value node in a mapping.
type entry struct{ key, val *yaml.Node }

// layer is one file with its includes merged in.
type layer struct {
	top    map[string]entry // version, name, seed, plugin_dirs
	vars   []entry
	stages []entry
	stKey  *yaml.Node // the "stages" key node that positions the merged stages
}

func (l *layer) merge(o *layer) {
	for k, e := range o.top {
		l.top[k] = e
	}
	for _, v := range o.vars {
		l.setEntry(&l.vars, v)
	}
	for _, s := range o.stages {
		l.setEntry(&l.stages, s)
	}
	if o.stKey != nil {
		l.stKey = o.stKey
	}
}

// setEntry replaces the entry of the same name in place, or appends e.
func (l *layer) setEntry(list *[]entry, e entry) {
	for i := range *list {
		if (*list)[i].key.Value == e.key.Value {
			(*list)[i] = e
			return
		}
	}
	*list = append(*list, e)
}

type composer struct {
	p       *parser
	opts    Options
	read    int64    // bytes of all files read so far
	stack   []string // absolute paths being composed, for cycle errors
	digests []string // sha256 of every file, in composition order
	// expanded counts the bytes that variable substitution adds (a
	// variable's text, or a whole value's weight, per reference), so that
	// a small manifest cannot expand into an unbounded one: it is held to
	// Limits.Bytes like the files themselves.
	expanded int64
	weights  map[*yaml.Node]int64 // weight of each variable value, computed once
}

// weight is the size a substituted value adds to the manifest: the bytes of
// its scalars plus one per node.
func (c *composer) weight(n *yaml.Node) int64 {
	if w, ok := c.weights[n]; ok {
		return w
	}
	w := int64(len(n.Value)) + 1
	for _, ch := range n.Content {
		w += c.weight(ch)
	}
	if c.weights == nil {
		c.weights = map[*yaml.Node]int64{}
	}
	c.weights[n] = w
	return w
}

// grow adds n bytes of substituted text at pos to c.expanded, or fails when
// the expansion passes the manifest size limit.
func (c *composer) grow(pos Pos, n int64) error {
	c.expanded += n
	if max := c.opts.Limits.Bytes; max > 0 && c.expanded > max {
		return Errorf(pos, "variable references expand the manifest by more than %d bytes (raise with --max-manifest-bytes or %s)", max, EnvMaxManifestBytes)
	}
	return nil
}

// compose reads the top file's tree with its includes, applies the --set
// overrides and substitutes variables. It returns the root mapping of the
// resolved manifest and the manifest digest: sha256 of the file when nothing
// was composed, else of every file's digest and the overrides.
func (c *composer) compose(path string, data []byte) (*yaml.Node, string, error) {
	l, err := c.file(path, data, 0)
	if err != nil {
		return nil, "", err
	}
	if err := c.applySets(l); err != nil {
		return nil, "", err
	}
	vars := map[string]*yaml.Node{}
	for _, v := range l.vars {
		vars[v.key.Value] = v.val
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
	c.p.files[root] = path
	for _, k := range []string{"version", "name", "seed", "plugin_dirs"} {
		if e, ok := l.top[k]; ok {
			root.Content = append(root.Content, e.key, e.val)
		}
	}
	if l.stKey != nil {
		st := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: l.stKey.Line, Column: l.stKey.Column}
		c.p.files[st] = c.p.files[l.stKey]
		for _, s := range l.stages {
			val, err := c.subst(s.val, vars)
			if err != nil {
				return nil, "", err
			}
			st.Content = append(st.Content, s.key, val)
		}
		root.Content = append(root.Content, l.stKey, st)
	}
	digest := c.digests[0]
	if len(c.digests) > 1 || len(c.opts.Set) > 0 {
		h := sha256.New()
		for _, d := range c.digests {
			fmt.Fprintf(h, "file %s\n", d)
		}
		for _, s := range c.opts.Set {
			fmt.Fprintf(h, "set %q\n", s)
		}
		digest = hex.EncodeToString(h.Sum(nil))
	}
	return root, digest, nil
}

// file decodes one manifest file and merges its includes under it.
func (c *composer) file(path string, data []byte, depth int) (*layer, error) {
	if err := checkUTF8(path, data); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	c.digests = append(c.digests, hex.EncodeToString(sum[:]))
	fp := &parser{file: path, files: c.p.files}
	root, err := c.decode(fp, path, data)
	if err != nil {
		return nil, err
	}
	fields, err := fp.mapping(root, "manifest", fileKeys)
	if err != nil {
		return nil, err
	}
	if _, ok := fields["version"]; !ok {
		return nil, Errorf(fp.pos(root), "missing required key \"version\" (this tool reads version %d)", FormatVersion)
	}
	own, err := ownLayer(fp, root, path)
	if err != nil {
		return nil, err
	}
	acc := &layer{top: map[string]entry{}}
	if inc, ok := fields["include"]; ok {
		if err := c.includes(acc, fp, path, inc, depth); err != nil {
			return nil, err
		}
	}
	acc.merge(own)
	return acc, nil
}

// decode decodes the one YAML document of a manifest file, registers its
// nodes as path's and returns its root node.
func (c *composer) decode(fp *parser, path string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errorf(Pos{File: path, Line: 1, Col: 1}, "empty manifest")
		}
		return nil, fp.yamlErr(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errorf(fp.pos(&extra), "a manifest holds one YAML document; found a second")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, Errorf(Pos{File: path, Line: 1, Col: 1}, "empty manifest")
	}
	register(c.p.files, &doc, path)
	return doc.Content[0], nil
}

// ownLayer is the layer a manifest file's root mapping declares itself
// (its vars, stages and other top-level keys; plugin_dirs made absolute
// against the file's folder), without its includes.
func ownLayer(fp *parser, root *yaml.Node, path string) (*layer, error) {
	own := &layer{top: map[string]entry{}}
	var err error
	for i := 0; i < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "include":
		case "vars":
			if own.vars, err = fp.entries(v, "vars", varNameRE, "variable"); err != nil {
				return nil, err
			}
			for _, e := range own.vars {
				if err := noVarRefs(fp, e.val); err != nil {
					return nil, err
				}
			}
		case "stages":
			if v.Kind != yaml.MappingNode {
				return nil, Errorf(fp.pos(v), "stages must be a mapping of stage name to stage, got %s", kindName(v))
			}
			if len(v.Content) == 0 {
				return nil, Errorf(fp.pos(v), "stages is empty")
			}
			if own.stages, err = fp.entries(v, "stages", nil, "stage"); err != nil {
				return nil, err
			}
			own.stKey = k
		case "plugin_dirs":
			own.top[k.Value] = entry{k, absDirs(v, filepath.Dir(path))}
		default:
			own.top[k.Value] = entry{k, v}
		}
	}
	return own, nil
}

// includes merges into acc, in order, the layers of the files that the
// include key inc of the file at path names (each resolved by include,
// with path on the stack of files being read, for cycles).
func (c *composer) includes(acc *layer, fp *parser, path string, inc *yaml.Node, depth int) error {
	paths, err := fp.strList(inc, "include")
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	c.stack = append(c.stack, abs)
	for i, rel := range paths {
		pos := fp.pos(inc)
		if inc.Kind == yaml.SequenceNode {
			pos = fp.pos(inc.Content[i])
		}
		l, err := c.include(path, rel, pos, depth)
		if err != nil {
			return err
		}
		acc.merge(l)
	}
	c.stack = c.stack[:len(c.stack)-1]
	return nil
}

// include reads and composes the file rel names, relative to the including file.
func (c *composer) include(from, rel string, pos Pos, depth int) (*layer, error) {
	if depth+1 > maxIncludeDepth {
		return nil, Errorf(pos, "includes nest deeper than %d files", maxIncludeDepth)
	}
	p := rel
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(from), rel)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, Errorf(pos, "include %q: %v", rel, err)
	}
	if i := slices.Index(c.stack, abs); i >= 0 {
		return nil, Errorf(pos, "include cycle: %s -> %s", strings.Join(c.stack[i:], " -> "), abs)
	}
	f, err := openFile(p)
	if err != nil {
		return nil, Errorf(pos, "include %q: %v", rel, errors.Unwrap(err))
	}
	defer f.Close()
	var r io.Reader = f
	if max := c.opts.Limits.Bytes; max > 0 {
		r = io.LimitReader(f, max-c.read+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, Errorf(pos, "include %q: %v", rel, err)
	}
	c.read += int64(len(data))
	if max := c.opts.Limits.Bytes; max > 0 && c.read > max {
		return nil, Errorf(pos, "include %q: the manifest and its includes are larger than %d bytes (raise with --max-manifest-bytes or %s)", rel, max, EnvMaxManifestBytes)
	}
	return c.file(p, data, depth+1)
}

// applySets applies the --set overrides to the composed layer.
func (c *composer) applySets(l *layer) error {
	for _, s := range c.opts.Set {
		key, val, ok := strings.Cut(s, "=")
		key = strings.TrimSpace(key)
		pos := Pos{File: "--set " + s}
		if !ok || key == "" {
			return Errorf(pos, "want name=value (a variable) or stage.param=value")
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(val), &doc); err != nil {
			return Errorf(pos, "value is not YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		if len(doc.Content) == 1 {
			v = doc.Content[0]
		}
		register(c.p.files, v, pos.File)
		if err := noVarRefs(&parser{file: pos.File, files: c.p.files}, v); err != nil {
			return err
		}
		stage, param, dotted := strings.Cut(key, ".")
		if !dotted {
			i := slices.IndexFunc(l.vars, func(e entry) bool { return e.key.Value == key })
			if i < 0 {
				return Errorf(pos, "the manifest has no variable %q (its variables: %s)", key, entryNames(l.vars))
			}
			l.vars[i].val = v
			continue
		}
		i := slices.IndexFunc(l.stages, func(e entry) bool { return e.key.Value == stage })
		if i < 0 {
			return Errorf(pos, "the manifest has no stage %q (its stages: %s)", stage, entryNames(l.stages))
		}
		if !nameRE.MatchString(param) {
			return Errorf(pos, "invalid parameter name %q", param)
		}
		st := deepCopy(l.stages[i].val, c.p.files)
		if st.Kind != yaml.MappingNode {
			return Errorf(pos, "stage %q is not a mapping", stage)
		}
		var params *yaml.Node
		for j := 0; j+1 < len(st.Content); j += 2 {
			switch st.Content[j].Value {
			case "params":
				params = st.Content[j+1]
			case "matrix":
				m := st.Content[j+1]
				for q := 0; m.Kind == yaml.MappingNode && q < len(m.Content); q += 2 {
					if m.Content[q].Value == param {
						return Errorf(pos, "stage %q sweeps %q in its matrix; set the matrix through a variable instead", stage, param)
					}
				}
			}
		}
		if params == nil {
			params = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "params"}
			register(c.p.files, k, pos.File)
			register(c.p.files, params, pos.File)
			st.Content = append(st.Content, k, params)
		}
		if params.Kind != yaml.MappingNode {
			return Errorf(pos, "stage %q: params is not a mapping", stage)
		}
		set := false
		for j := 0; j+1 < len(params.Content); j += 2 {
			if params.Content[j].Value == param {
				params.Content[j+1], set = v, true
			}
		}
		if !set {
			k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: param}
			register(c.p.files, k, pos.File)
			params.Content = append(params.Content, k, v)
		}
		l.stages[i].val = st
	}
	return nil
}

// subst returns a copy of n with every variable reference replaced: a scalar
// that is exactly ${name} becomes the variable's value (of any type, at the
// position where the variable was defined); ${name} inside a longer string is
// replaced by the variable's text; $${ is a literal ${.
func (c *composer) subst(n *yaml.Node, vars map[string]*yaml.Node) (*yaml.Node, error) {
	fp := &parser{file: c.p.files[n], files: c.p.files}
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return n, nil
		}
		if m := varRefRE.FindStringSubmatchIndex(n.Value); m != nil && m[0] == 0 && m[1] == len(n.Value) && m[2] >= 0 {
			name := n.Value[m[2]:m[3]]
			v, ok := vars[name]
			if !ok {
				return nil, Errorf(fp.pos(n), "unknown variable %q (variables: %s)", name, varNames(vars))
			}
			if err := c.grow(fp.pos(n), c.weight(v)); err != nil {
				return nil, err
			}
			return v, nil
		}
		var err error
		out := varRefRE.ReplaceAllStringFunc(n.Value, func(ref string) string {
			if ref == "$${" {
				return "${"
			}
			name := ref[2 : len(ref)-1]
			v, ok := vars[name]
			if !ok {
				if err == nil {
					err = Errorf(fp.pos(n), "unknown variable %q (variables: %s)", name, varNames(vars))
				}
				return ""
			}
			if v.Kind != yaml.ScalarNode {
				if err == nil {
					err = Errorf(fp.pos(n), "variable %q is %s, which cannot be part of a string", name, kindName(v))
				}
				return ""
			}
			if err != nil {
				return ""
			}
			if err = c.grow(fp.pos(n), int64(len(v.Value))); err != nil {
				return ""
			}
			return v.Value
		})
		if err != nil {
			return nil, err
		}
		cp := *n
		cp.Value, cp.Tag, cp.Style = out, "!!str", 0
		c.p.files[&cp] = c.p.files[n]
		return &cp, nil
	case yaml.MappingNode, yaml.SequenceNode:
		var content []*yaml.Node
		for i, ch := range n.Content {
			s := ch
			if n.Kind == yaml.SequenceNode || i%2 == 1 {
				var err error
				if s, err = c.subst(ch, vars); err != nil {
					return nil, err
				}
			}
			if s != ch && content == nil {
				content = slices.Clone(n.Content[:i])
			}
			if content != nil {
				content = append(content, s)
			}
		}
		if content == nil {
			return n, nil
		}
		cp := *n
		cp.Content = content
		c.p.files[&cp] = c.p.files[n]
		return &cp, nil
	}
	return n, nil
}

// noVarRefs refuses variable references inside a variable's value.
func noVarRefs(p *parser, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && strings.Contains(strings.ReplaceAll(n.Value, "$${", ""), "${") {
		return Errorf(p.pos(n), "a variable's value cannot refer to variables")
	}
	for _, ch := range n.Content {
		if err := noVarRefs(p, ch); err != nil {
			return err
		}
	}
	return nil
}

// entries returns a mapping's entries, checking names against re (if set)
// and refusing duplicates.
func (p *parser) entries(n *yaml.Node, what string, re *regexp.Regexp, kind string) ([]entry, error) {
	if _, err := p.mapping(n, what, nil); err != nil {
		if strings.Contains(err.Error(), "duplicate key") {
			return nil, p.duplicate(n, kind)
		}
		return nil, err
	}
	out := make([]entry, 0, len(n.Content)/2)
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if re != nil && !re.MatchString(k.Value) {
			return nil, Errorf(p.pos(k), "invalid %s name %q (letters, digits and '_', starting with a letter)", kind, k.Value)
		}
		out = append(out, entry{k, n.Content[i+1]})
	}
	return out, nil
}

func (p *parser) duplicate(n *yaml.Node, kind string) error {
	first := map[string]*yaml.Node{}
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if prev, dup := first[k.Value]; dup {
			return Errorf(p.pos(k), "duplicate %s %q (first declared at %s)", kind, k.Value, p.pos(prev))
		}
		first[k.Value] = k
	}
	return nil
}

// absDirs returns plugin_dirs with relative entries made absolute against
// base, the folder of the file that declares them.
func absDirs(n *yaml.Node, base string) *yaml.Node {
	abs := func(s *yaml.Node) *yaml.Node {
		if s.Kind != yaml.ScalarNode || s.Tag != "!!str" || filepath.IsAbs(s.Value) {
			return s
		}
		cp := *s
		if a, err := filepath.Abs(filepath.Join(base, s.Value)); err == nil {
			cp.Value = a
		}
		return &cp
	}
	if n.Kind == yaml.SequenceNode {
		cp := *n
		cp.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			cp.Content[i] = abs(ch)
		}
		return &cp
	}
	return abs(n)
}

// register records the file every node of the tree n was read from.
func register(files map[*yaml.Node]string, n *yaml.Node, file string) {
	files[n] = file
	for _, ch := range n.Content {
		register(files, ch, file)
	}
}

// deepCopy copies a tree, keeping each node's file.
func deepCopy(n *yaml.Node, files map[*yaml.Node]string) *yaml.Node {
	cp := *n
	files[&cp] = files[n]
	if len(n.Content) > 0 {
		cp.Content = make([]*yaml.Node, len(n.Content))
		for i, ch := range n.Content {
			cp.Content[i] = deepCopy(ch, files)
		}
	}
	return &cp
}

func entryNames(es []entry) string {
	if len(es) == 0 {
		return "none"
	}
	var n []string
	for _, e := range es {
		n = append(n, e.key.Value)
	}
	return strings.Join(n, ", ")
}

func varNames(vars map[string]*yaml.Node) string {
	if len(vars) == 0 {
		return "none declared"
	}
	return strings.Join(slices.Sorted(func(yield func(string) bool) {
		for k := range vars {
			if !yield(k) {
				return
			}
		}
	}), ", ")
}
