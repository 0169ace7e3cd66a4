package manifest

import (
	"errors"
	"strings"
	"testing"
)

const good = `version: 1
name: t
seed: 7
stages:
  data:
    plugin: datagen
    params: {dataset: mnist}
  train:
    plugin: train
    inputs:
      stats: data.stats
    params:
      epochs: 10
    matrix:
      depth: [2, 4]
      init: [xavier, orthogonal]
    exclude:
      - {depth: 4, init: orthogonal}
  curve:
    plugin: hessian.point
    matrix:
      init: [xavier, orthogonal]
    inputs:
      w: train.curve
  plot:
    plugin: plot
    inputs:
      all: train.curve
      one: "train[depth=2,init=xavier].curve"
    publish: [png]
    timeout: 90s
    retries: 2
    resources: {cpus: 2, memory: 4G, time: 1h}
`

func TestParseAndExpand(t *testing.T) {
	m, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "t" || m.Seed != 7 || len(m.Stages) != 4 {
		t.Fatalf("parsed %+v", m)
	}
	e, err := m.Expand()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range e.ByStage["train"] {
		names = append(names, in.Name)
	}
	// Oracle: the cartesian product in declaration order, last key fastest, minus the exclusion.
	want := "train[depth=2,init=xavier] train[depth=2,init=orthogonal] train[depth=4,init=xavier]"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("instances %q, want %q", got, want)
	}
	// curve[init=orthogonal] shares the key init with train: only matching instances.
	cu, _ := e.Instance("curve[init=orthogonal]")
	bs := e.Inputs[cu]["w"]
	if len(bs) != 1 || bs[0].Instance.Name != "train[depth=2,init=orthogonal]" {
		t.Fatalf("implicit zip: got %v", bs)
	}
	pl, _ := e.Instance("plot")
	if n := len(e.Inputs[pl]["all"]); n != 3 {
		t.Fatalf("plot.all binds %d instances, want 3", n)
	}
	if bs := e.Inputs[pl]["one"]; len(bs) != 1 || bs[0].Instance.Name != "train[depth=2,init=xavier]" {
		t.Fatalf("selector: %v", bs)
	}
	st, _ := m.Stage("plot")
	if st.Timeout.Seconds() != 90 || st.Retries != 2 || st.Resources.CPUs != 2 || st.Resources.Memory != "4G" {
		t.Fatalf("plot options: %+v", st)
	}
}

// TestErrors checks that every class of bad input gives a one-line error with
// the position of the offending text (oracle: the line/column in the input).
func TestErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"yaml syntax", "version: 1\nstages:\n  a: [\n", "bad.yaml:3:1: invalid YAML"},
		{"tab", "version: 1\nstages:\n\ta: 1\n", "bad.yaml:3:1: invalid YAML"},
		{"missing version", "stages: {a: {plugin: x}}\n", `bad.yaml:1:1: missing required key "version"`},
		{"wrong version", "version: 2\nstages: {a: {plugin: x}}\n", "bad.yaml:1:10: unsupported manifest version 2"},
		{"unknown top key", "version: 1\nstagez: {}\n", `bad.yaml:2:1: unknown key "stagez" in manifest`},
		{"unknown stage key", "version: 1\nstages:\n  a:\n    plugin: x\n    parms: {}\n", `bad.yaml:5:5: unknown key "parms" in stage "a"`},
		{"seed type", "version: 1\nseed: abc\nstages: {a: {plugin: x}}\n", "bad.yaml:2:7: seed must be an integer"},
		{"plugin type", "version: 1\nstages:\n  a:\n    plugin: [x]\n", `bad.yaml:4:13: stage "a": plugin must be a string, got a list`},
		{"no plugin", "version: 1\nstages:\n  a:\n    params: {}\n", `bad.yaml:3:3: stage "a": missing required key "plugin"`},
		{"duplicate stage", "version: 1\nstages:\n  a: {plugin: x}\n  a: {plugin: y}\n", "bad.yaml:4:3: duplicate stage"},
		{"bad stage name", "version: 1\nstages:\n  1a: {plugin: x}\n", `bad.yaml:3:3: invalid stage name "1a"`},
		{"dangling ref", "version: 1\nstages:\n  a:\n    plugin: x\n    inputs: {i: b.out}\n", `bad.yaml:5:17: stage "a": input "i" refers to unknown stage "b"`},
		{"bad ref", "version: 1\nstages:\n  a:\n    plugin: x\n    inputs: {i: nodot}\n", `bad.yaml:5:17: invalid reference "nodot"`},
		{"cycle", "version: 1\nstages:\n  a:\n    plugin: x\n    inputs: {i: b.o}\n  b:\n    plugin: x\n    inputs: {i: a.o}\n", "dependency cycle: a -> b -> a"},
		{"self cycle", "version: 1\nstages:\n  a:\n    plugin: x\n    inputs: {i: a.o}\n", "bad.yaml:5:17: dependency cycle: a -> a"},
		{"selector key", "version: 1\nstages:\n  a: {plugin: x, matrix: {d: [1]}}\n  b:\n    plugin: x\n    inputs: {i: \"a[e=1].o\"}\n", `selector key "e" is not a matrix key of stage "a"`},
		{"matrix not list", "version: 1\nstages:\n  a: {plugin: x, matrix: {d: 1}}\n", "bad.yaml:3:30: stage \"a\": matrix.d must be a list of values"},
		{"matrix dup", "version: 1\nstages:\n  a: {plugin: x, matrix: {d: [1, 1]}}\n", "lists 1 twice"},
		{"param and matrix", "version: 1\nstages:\n  a: {plugin: x, params: {d: 1}, matrix: {d: [1]}}\n", `parameter "d" is set in params and in matrix`},
		{"exclude key", "version: 1\nstages:\n  a: {plugin: x, matrix: {d: [1, 2]}, exclude: [{e: 1}]}\n", `exclude names "e", which is not a matrix key`},
		{"exclude all", "version: 1\nstages:\n  a: {plugin: x, matrix: {d: [1]}, exclude: [{d: 1}]}\n", "exclude removes every matrix combination"},
		{"timeout", "version: 1\nstages:\n  a: {plugin: x, timeout: soon}\n", `"soon" is not a positive duration`},
		{"retries", "version: 1\nstages:\n  a: {plugin: x, retries: 99}\n", "retries must be between 0 and 10"},
		{"nested param", "version: 1\nstages:\n  a: {plugin: x, params: {p: {q: 1}}}\n", `parameter "p" must be a scalar or a list of scalars`},
		{"null param", "version: 1\nstages:\n  a: {plugin: x, params: {p: null}}\n", "a value is required, got null"},
		{"two documents", "version: 1\nstages: {a: {plugin: x}}\n---\nversion: 1\n", "holds one YAML document"},
		{"empty", "", "empty manifest"},
		{"alias", "version: 1\nx: &a {plugin: x}\nstages: {a: *a}\n", "unknown key \"x\""},
		{"no match", "version: 1\nstages:\n  a: {plugin: x, matrix: {d: [1]}}\n  b:\n    plugin: x\n    inputs: {i: \"a[d=2].o\"}\n", "matches no instance"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse("bad.yaml", []byte(c.src))
			if err == nil {
				_, err = m.Expand()
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			var me *Error
			if !errors.As(err, &me) || me.Pos.File != "bad.yaml" {
				t.Fatalf("error %v is not a positioned *Error", err)
			}
		})
	}
}

// FuzzParse checks the decoder never panics and only returns positioned errors.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("version: 1\nstages:\n  a: {plugin: x, inputs: {i: \"a[d=1].o\"}}\n"))
	f.Add([]byte("version: 1\nstages: {a: {plugin: x, matrix: {d: [1, [2, 3]]}}}\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.yaml", data)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("unpositioned error %T: %v", err, err)
			}
			return
		}
		if len(m.Stages) > 50 {
			return
		}
		total := 1
		for _, st := range m.Stages {
			n := 1
			for _, ax := range st.Matrix {
				n *= len(ax.Values)
			}
			total += n
		}
		if total > 10000 {
			return
		}
		if _, err := m.Expand(); err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("unpositioned expand error %T: %v", err, err)
			}
		}
	})
}
