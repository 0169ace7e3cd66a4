// Package cli implements the `pipeline` command line.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/artifacts"
	"github.com/demystify-resnet/repro/pipeline/internal/engine"
	"github.com/demystify-resnet/repro/pipeline/internal/manifest"
	"github.com/demystify-resnet/repro/plugins/host"
)

// Exit codes (documented in docs/cli.md).
const (
	ExitOK          = 0
	ExitStageFailed = 1 // a stage failed, or verify found a difference
	ExitUsage       = 2 // bad command line or manifest
	ExitEnv         = 3 // store, plugin discovery or other environment problem
	ExitInterrupted = 130
)

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

type globals struct {
	store      string
	pluginDirs []string
	logLevel   string
	logFormat  string
	jsonOut    bool
	tty        bool
	log        zerolog.Logger
	logOut     io.Writer
	stores     []*artifacts.Store // closed by Main when the command returns
	manifest   manifestFlags
}

// Main runs the CLI and returns the process exit code. It never calls
// os.Exit itself, so deferred plugin cleanup always runs.
func Main(args []string) int {
	g := &globals{}
	root := &cobra.Command{
		Use:           "pipeline",
		Short:         "Reproduce \"Demystifying ResNet\" from a declarative manifest",
		Long:          "pipeline runs the stages of a manifest as plugins and keeps every intermediate as a content-addressed Parquet artifact, so unchanged work is never redone.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setup()
		},
	}
	root.PersistentFlags().StringVar(&g.store, "store", envOr("PIPELINE_STORE", ".pipeline"), "artifact store directory (env PIPELINE_STORE)")
	root.PersistentFlags().StringArrayVar(&g.pluginDirs, "plugin-dir", nil, "extra folder to search for pipeline-plugin-* binaries (repeatable; searched first)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "auto", "log format: auto (console on a terminal, JSON otherwise), console, json")
	addManifestFlags(root, &g.manifest)
	root.AddCommand(runCmd(g), planCmd(g), explainCmd(g), verifyCmd(g), statusCmd(g), showCmd(g), pluginsCmd(g), gcCmd(g), lockCmd(g), diffCmd(g), runsCmd(g), execCmd(g), benchCmd(g), newPluginCmd(g))
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	for _, s := range g.stores {
		for _, q := range s.Quarantined() {
			g.log.Warn().Str("path", q.Path).Str("reason", q.Reason).Msg("corrupt store entry moved to quarantine/")
		}
		if cerr := s.Close(); cerr != nil && err == nil {
			err = withCode(ExitEnv, cerr)
		}
	}
	if err == nil {
		return ExitOK
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintln(os.Stderr, "pipeline: "+msg)
	var ee *exitError
	var me *manifest.Error
	switch {
	case ctx.Err() != nil:
		return ExitInterrupted
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &me):
		return ExitUsage
	case strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "unknown flag"),
		strings.Contains(err.Error(), "arg(s)"), strings.HasPrefix(err.Error(), "invalid argument"):
		return ExitUsage
	}
	return ExitEnv
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (g *globals) setup() error {
	lvl, err := zerolog.ParseLevel(g.logLevel)
	if err != nil || g.logLevel == "" {
		return withCode(ExitUsage, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel))
	}
	g.tty = isatty.IsTerminal(os.Stderr.Fd())
	var console bool
	switch g.logFormat {
	case "auto":
		console = g.tty
	case "console":
		console = true
	case "json":
	default:
		return withCode(ExitUsage, fmt.Errorf("--log-format %q: want auto, console or json", g.logFormat))
	}
	g.logOut = os.Stderr
	g.setLogger(lvl, console)
	return nil
}

func (g *globals) setLogger(lvl zerolog.Level, console bool) {
	var w io.Writer = g.logOut
	if console {
		w = zerolog.ConsoleWriter{Out: g.logOut, TimeFormat: "15:04:05", NoColor: !g.tty}
	}
	g.log = zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// jsonLogs reports whether logs are JSON lines (for machines) rather than
// console text.
func (g *globals) jsonLogs() bool {
	return g.logFormat == "json" || (g.logFormat == "auto" && !g.tty)
}

// redirectLog sends log output through w (the progress display).
func (g *globals) redirectLog(w io.Writer) {
	g.logOut = w
	lvl := g.log.GetLevel()
	console := g.logFormat == "console" || (g.logFormat == "auto" && g.tty)
	g.setLogger(lvl, console)
}

// openStore opens (creating if needed) the artifact store.
func (g *globals) openStore() (*artifacts.Store, error) {
	s, err := artifacts.Open(g.store)
	if err != nil {
		return nil, withCode(ExitEnv, err)
	}
	g.stores = append(g.stores, s)
	return s, nil
}

// pluginSearchPath is: --plugin-dir folders, the manifest's plugin_dirs, then
// the folder of the pipeline binary itself (the build's bin/).
func (g *globals) pluginSearchPath(m *manifest.Manifest) []string {
	var dirs []string
	for _, d := range g.pluginDirs {
		if abs, err := filepath.Abs(d); err == nil {
			dirs = append(dirs, abs)
		}
	}
	if m != nil {
		dirs = append(dirs, m.PluginDirs...)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	return dedup(dirs)
}

func dedup(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// loaded is a manifest bound to plugins and a store.
type loaded struct {
	m     *manifest.Manifest
	plan  *engine.Plan
	reg   *engine.Registry
	store *artifacts.Store
}

// load reads the manifest, discovers plugins, builds the plan and opens the store.
func (g *globals) load(ctx context.Context, path string) (*loaded, error) {
	opts, err := g.manifest.options()
	if err != nil {
		return nil, err
	}
	// Reading, expanding and planning a big manifest is CPU-bound work that
	// does not watch ctx: each step is interruptible (Ctrl-C, SIGTERM).
	m, err := interruptible(ctx, func() (*manifest.Manifest, error) { return manifest.LoadWith(path, opts) })
	if err != nil {
		return nil, withUsage(err)
	}
	exp, err := interruptible(ctx, func() (*manifest.Expanded, error) { return m.ExpandLimited(opts.Limits) })
	if err != nil {
		return nil, withUsage(err)
	}
	store, err := g.openStore()
	if err != nil {
		return nil, err
	}
	plugins, err := g.discover(ctx, g.pluginSearchPath(m), store)
	if err != nil {
		return nil, err
	}
	reg := engine.NewRegistry(plugins)
	plan, err := interruptible(ctx, func() (*engine.Plan, error) { return engine.NewPlanLimited(exp, reg, opts.Limits) })
	if err != nil {
		return nil, withUsage(err)
	}
	return &loaded{m: m, plan: plan, reg: reg, store: store}, nil
}

// interruptible returns f's results, or an interruption error (exit 130) as
// soon as ctx is done (Ctrl-C, SIGTERM) if that comes first. It is for
// CPU-bound work that does not watch ctx, such as expanding and planning a
// manifest of 1e5 instances: f is left running, its results dropped, until
// the process exits, which it does as soon as Main returns. f may read the
// store but must not write to it.
func interruptible[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, withCode(ExitInterrupted, fmt.Errorf("interrupted: %w", ctx.Err()))
	}
}

// resolve is engine.Resolve, interruptible: which nodes are cached, with
// their ActionIDs (a lookup per node: seconds for 1e5 instances).
func resolve(ctx context.Context, nodes []*engine.Node, store artifacts.Actions) (map[*engine.Node]*engine.Result, error) {
	return interruptible(ctx, func() (map[*engine.Node]*engine.Result, error) { return engine.Resolve(nodes, store), nil })
}

// withUsage marks err as a usage error (exit 2) unless it already carries
// an exit code (an interruption).
func withUsage(err error) error {
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return withCode(ExitUsage, err)
}

// discover finds the plugins in dirs, remembering their descriptions in the
// store (by binary digest) so that a known binary is not launched again.
func (g *globals) discover(ctx context.Context, dirs []string, store *artifacts.Store) ([]*host.Plugin, error) {
	var cache host.DescribeCache
	if store != nil {
		cache = describeCache{store.Cache("describe")}
	}
	ps, err := host.DiscoverCached(ctx, dirs, cache, g.log)
	if err != nil {
		return nil, withCode(ExitEnv, err)
	}
	return ps, nil
}

// describeCache keeps plugin descriptions in the store's "describe" cache,
// one entry per binary digest.
type describeCache struct{ c artifacts.Cache }

func (d describeCache) Get(digest string) ([]byte, bool) { return d.c.Get(digest + ".pb") }
func (d describeCache) Put(digest string, data []byte) error {
	return d.c.Put(digest+".pb", data)
}

// loadTargets loads the manifest args[0] and returns the nodes that the
// targets args[1:] need (every node without targets).
func (g *globals) loadTargets(ctx context.Context, args []string) (*loaded, []*engine.Node, error) {
	l, err := g.load(ctx, args[0])
	if err != nil {
		return nil, nil, err
	}
	nodes, err := l.plan.Closure(args[1:])
	if err != nil {
		return nil, nil, withCode(ExitUsage, err)
	}
	return l, nodes, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func fmtDur(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}
