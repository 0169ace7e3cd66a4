package cli

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
)

// modulePath is the module a plugin must live in: it imports plugins/sdk
// (whose wire code is internal to this module) and is built with this go.mod,
// so its binary digest, part of every cache key, is reproducible.
const modulePath = "github.com/demystify-resnet/repro"

// PluginBuild is the build command of a plugin binary: the Makefile's GOBUILD
// (for the pure-Go build) with -o and the package appended. No paths, no VCS
// stamp and no build ID go into the binary, so the same source gives the same
// digest: an edit that changes no code and moves no line (a comment) keeps
// the cache; -trimpath alone does not (the build ID hashes the source).
const PluginBuild = "CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-buildid="

//go:embed scaffold/*.tmpl
var scaffold embed.FS

// scaffoldFiles maps each template to the file it becomes.
var scaffoldFiles = []struct{ tmpl, file string }{
	{"scaffold/main.go.tmpl", "main.go"},
	{"scaffold/main_test.go.tmpl", "main_test.go"},
	{"scaffold/manifest.yaml.tmpl", "manifest.yaml"},
}

// pluginNameRE is what a new plugin may be called: a Go package directory,
// the binary pipeline-plugin-NAME and the prefix of its stage names at once.
var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// newPluginCmd is `pipeline new-plugin NAME`.
func newPluginCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "new-plugin NAME",
		Short: "Create a new plugin (main.go, a test, a manifest) in plugins/NAME of this module",
		Long: `new-plugin writes a working plugin with one stage, NAME.draw, into plugins/NAME (or --dir, which
must be inside the module ` + modulePath + `: a plugin lives in this module). It writes main.go,
main_test.go and manifest.yaml, then prints how to build (with the Makefile's reproducible flags),
test and run it. See docs/plugins.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, build, err := newPlugin(args[0], dir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, f := range files {
				fmt.Fprintln(out, "wrote", f)
			}
			rel := filepath.Dir(files[0])
			fmt.Fprintf(out, "next, from the module root:\n  go test ./%s\n  %s\n  bin/pipeline run %s\n",
				rel, build, filepath.Join(rel, "manifest.yaml"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder of the new plugin, inside the module (default plugins/NAME of the module root)")
	return cmd
}

// newPlugin writes the scaffold of plugin name into dir (default
// plugins/NAME of the module root found from the working directory). It
// returns the files written relative to the module root, and the command that
// builds the plugin into bin/.
func newPlugin(name, dir string) (files []string, build string, err error) {
	if !pluginNameRE.MatchString(name) {
		return nil, "", withCode(ExitUsage, fmt.Errorf("new-plugin: name %q: want lower-case letters and digits, starting with a letter", name))
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, "", withCode(ExitEnv, fmt.Errorf("new-plugin: %w", err))
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return nil, "", withCode(ExitUsage, fmt.Errorf("new-plugin: %w", err))
	}
	if dir == "" {
		dir = filepath.Join(root, "plugins", name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", withCode(ExitUsage, fmt.Errorf("new-plugin: %w", err))
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == ".." {
		return nil, "", withCode(ExitUsage, fmt.Errorf("new-plugin: --dir %s is not inside the module at %s (a plugin must live in module %s)", dir, root, modulePath))
	}
	// The same check on the folder's real path: a symbolic link on the way
	// (plugins/NAME -> /elsewhere) must not take the files out of the module.
	realRoot, err1 := filepath.EvalSymlinks(root)
	realDir, err2 := resolveExisting(abs)
	if realRel, err := filepath.Rel(realRoot, realDir); err1 != nil || err2 != nil || err != nil || realRel == "." || realRel == ".." || strings.HasPrefix(realRel, ".."+string(filepath.Separator)) {
		return nil, "", withCode(ExitUsage, fmt.Errorf("new-plugin: --dir %s resolves to %s, which is not inside the module at %s (a symbolic link on the way?)", dir, realDir, realRoot))
	}
	if entries, err := os.ReadDir(abs); err == nil && len(entries) > 0 {
		return nil, "", withCode(ExitUsage, fmt.Errorf("new-plugin: %s already exists and is not empty", abs))
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, "", withCode(ExitEnv, fmt.Errorf("new-plugin: %w", err))
	}
	data := struct{ Name, Dir string }{name, filepath.ToSlash(rel)}
	for _, f := range scaffoldFiles {
		// [[ ]] delimiters: Go composite literals are full of {{.
		t, err := template.New(filepath.Base(f.tmpl)).Delims("[[", "]]").ParseFS(scaffold, f.tmpl)
		if err != nil {
			return nil, "", fmt.Errorf("new-plugin: template %s: %w", f.tmpl, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, "", fmt.Errorf("new-plugin: template %s: %w", f.tmpl, err)
		}
		if err := os.WriteFile(filepath.Join(abs, f.file), b.Bytes(), 0o644); err != nil {
			return nil, "", withCode(ExitEnv, fmt.Errorf("new-plugin: %w", err))
		}
		files = append(files, filepath.Join(rel, f.file))
	}
	build = fmt.Sprintf("%s -o bin/pipeline-plugin-%s ./%s", PluginBuild, name, data.Dir)
	return files, build, nil
}

// resolveExisting returns p with the symbolic links of its longest existing
// prefix resolved and the rest of its components appended.
func resolveExisting(p string) (string, error) {
	rest := ""
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// moduleRoot returns the folder of the go.mod of modulePath that contains dir.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		f, err := os.Open(filepath.Join(d, "go.mod"))
		if err == nil {
			mod := readModule(f)
			f.Close()
			if mod != modulePath {
				return "", fmt.Errorf("%s is in module %q, not %s: a plugin must live in module %s (run new-plugin inside its checkout)", dir, mod, modulePath, modulePath)
			}
			return d, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside a Go module: a plugin must live in module %s (run new-plugin inside its checkout)", dir, modulePath)
		}
	}
}

// readModule returns the module path declared in a go.mod.
func readModule(f *os.File) string {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
