// Package host discovers, verifies, launches and talks to pipeline plugin
// binaries over hashicorp/go-plugin (gRPC). It is used by the engine
// (pipeline/...); plugin authors use plugins/sdk instead.
//
// Every call launches a fresh plugin process: Discover launches each binary
// once to Describe it, Run launches it once per stage instance. Discovery
// hashes each binary; its first launch reads it once more into a sealed
// in-memory snapshot (Linux), checked against that digest, which every
// later launch in the process executes: the bytes that run are the
// bytes whose digest was recorded, even if the file is replaced during a
// run. Each plugin leads a process group of its own, which is ended when
// the plugin exits, is stopped, times out or is cancelled; plugin processes
// die with the host (Linux parent-death signal); the package never exits
// the process.
package host

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/demystify-resnet/repro/artifacts/safefile"
	pb "github.com/demystify-resnet/repro/plugins/internal/proto"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// FilePrefix is the file-name prefix of plugin binaries: a plugin called
// "example" lives in a file named pipeline-plugin-example.
const FilePrefix = "pipeline-plugin-"

// describeTimeout bounds the Describe call of a freshly launched plugin.
const describeTimeout = 30 * time.Second

// Plugin is a discovered, described plugin binary.
type Plugin struct {
	// Name comes from the file name pipeline-plugin-<name>.
	Name string
	// Path is the absolute path of the binary.
	Path string
	// Digest is the sha256 (lower-case hex) of the binary at discovery; every
	// launch executes bytes with this digest (or fails with ErrBinaryChanged).
	Digest string
	// Stages are the plugin's stages as it described them, sorted by name.
	Stages []sdk.StageSpec
}

// Stage returns the spec of the stage called name.
func (p *Plugin) Stage(name string) (sdk.StageSpec, bool) {
	for _, s := range p.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return sdk.StageSpec{}, false
}

// FindStage returns the plugin among plugins that provides stage, and the
// stage's spec. Discover guarantees at most one plugin provides each stage.
func FindStage(plugins []*Plugin, stage string) (*Plugin, sdk.StageSpec, bool) {
	for _, p := range plugins {
		if s, ok := p.Stage(stage); ok {
			return p, s, true
		}
	}
	return nil, sdk.StageSpec{}, false
}

// Discover finds every executable regular file (symlinks followed) named
// pipeline-plugin-* directly inside dirs, hashes it and launches it once to
// Describe its stages (several at a time). On a plugin-name clash the first
// directory wins and a warning is logged; a directory that does not exist is
// skipped with a warning. It fails, naming the binary, if a plugin cannot be
// described or describes an invalid stage, and fails if two plugins declare
// the same stage name. The result is sorted by plugin name.
func Discover(ctx context.Context, dirs []string, log zerolog.Logger) ([]*Plugin, error) {
	return DiscoverCached(ctx, dirs, nil, log)
}

// DiscoverCached is Discover with a cache of descriptions keyed by binary
// digest: a binary described before is hashed but not launched. A nil cache
// launches every binary.
func DiscoverCached(ctx context.Context, dirs []string, cache DescribeCache, log zerolog.Logger) ([]*Plugin, error) {
	paths := map[string]string{} // name -> path
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			log.Warn().Str("dir", dir).Msg("plugin directory does not exist; skipped")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("host: discover: %w", err)
		}
		for _, e := range entries { // sorted by name
			name, ok := strings.CutPrefix(e.Name(), FilePrefix)
			if !ok || name == "" {
				continue
			}
			path, err := filepath.Abs(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("host: discover: %w", err)
			}
			fi, err := os.Stat(path)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				log.Debug().Str("path", path).Msg("not an executable file; skipped")
				continue
			}
			if first, dup := paths[name]; dup {
				log.Warn().Str("plugin", name).Str("used", first).Str("ignored", path).
					Msg("plugin name clash: the first directory wins")
				continue
			}
			paths[name] = path
		}
	}
	names := make([]string, 0, len(paths))
	for n := range paths {
		names = append(names, n)
	}
	slices.Sort(names)

	plugins := make([]*Plugin, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			plugins[i], errs[i] = load(ctx, paths[n], cache, log)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	owner := map[string]*Plugin{}
	for _, p := range plugins {
		for _, s := range p.Stages {
			if o, dup := owner[s.Name]; dup {
				return nil, fmt.Errorf("host: stage %q is declared by two plugins: %s and %s", s.Name, o.Path, p.Path)
			}
			owner[s.Name] = p
		}
	}
	return plugins, nil
}

// Load hashes the plugin binary at path and launches it once to Describe
// its stages. The file name must start with FilePrefix. Errors name the
// path.
func Load(ctx context.Context, path string, log zerolog.Logger) (*Plugin, error) {
	return load(ctx, path, nil, log)
}

func load(ctx context.Context, path string, cache DescribeCache, log zerolog.Logger) (*Plugin, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("host: load %s: %w", path, err)
	}
	name, ok := strings.CutPrefix(filepath.Base(abs), FilePrefix)
	if !ok || name == "" {
		return nil, fmt.Errorf("host: load %q: file name does not start with %q", abs, FilePrefix)
	}
	if !sdk.ValidName(name) {
		return nil, fmt.Errorf("host: load %q: plugin name %q is not [A-Za-z][A-Za-z0-9_.-]*", abs, name)
	}
	digest, err := FileDigest(abs) // the first launch snapshots the binary and checks this digest
	if err != nil {
		return nil, fmt.Errorf("host: load %s: %w", abs, err)
	}
	resp, cached := cachedDescription(cache, digest)
	if !cached {
		if resp, err = describe(ctx, name, abs, digest, log); err != nil {
			return nil, err
		}
	}
	if v := resp.GetProtocolVersion(); v != pb.ProtocolVersion {
		return nil, fmt.Errorf("host: describe %s: protocol version %d, want %d (rebuild the plugin)", abs, v, pb.ProtocolVersion)
	}
	p := &Plugin{Name: name, Path: abs, Digest: digest}
	seen := map[string]bool{}
	for _, w := range resp.GetStages() {
		spec, err := specFromWire(w)
		if err != nil {
			return nil, fmt.Errorf("host: describe %s: %w", abs, err)
		}
		if seen[spec.Name] {
			return nil, fmt.Errorf("host: describe %s: duplicate stage %q", abs, spec.Name)
		}
		seen[spec.Name] = true
		p.Stages = append(p.Stages, spec)
	}
	if len(p.Stages) == 0 {
		return nil, fmt.Errorf("host: describe %s: plugin declares no stages", abs)
	}
	slices.SortFunc(p.Stages, func(a, b sdk.StageSpec) int { return strings.Compare(a.Name, b.Name) })
	if cache != nil && !cached {
		if b, err := proto.Marshal(resp); err == nil {
			if err := cache.Put(digest, b); err != nil {
				log.Warn().Err(err).Str("plugin", name).Msg("cannot cache the plugin description")
			}
		}
	}
	return p, nil
}

// describe launches the binary once and asks it for its stages.
func describe(ctx context.Context, name, abs, digest string, log zerolog.Logger) (*pb.DescribeResponse, error) {
	g := newGate(log.With().Str("plugin", name).Logger())
	defer g.close()
	s, err := launch(ctx, process{name: name, path: abs, digest: digest, procs: 1}, g, log.GetLevel())
	if err != nil {
		return nil, fmt.Errorf("host: describe %s: %w", abs, err)
	}
	defer s.close()
	dctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	resp, err := s.stub.Describe(dctx, &pb.DescribeRequest{})
	if err != nil {
		return nil, fmt.Errorf("host: describe %s: %w%s", abs, err, s.stderrSuffix())
	}
	return resp, nil
}

// DescribeCache remembers the description a plugin binary gave, keyed by the
// binary's sha256, so that discovery need not launch a binary it has seen.
// Get returns the bytes Put stored (a miss on any problem); implementations
// must be safe for concurrent use.
type DescribeCache interface {
	Get(digest string) ([]byte, bool)
	Put(digest string, data []byte) error
}

// cachedDescription decodes a cached description; anything unreadable or of
// another protocol version is a miss.
func cachedDescription(cache DescribeCache, digest string) (*pb.DescribeResponse, bool) {
	if cache == nil {
		return nil, false
	}
	b, ok := cache.Get(digest)
	if !ok {
		return nil, false
	}
	var resp pb.DescribeResponse
	if err := proto.Unmarshal(b, &resp); err != nil || resp.GetProtocolVersion() != pb.ProtocolVersion {
		return nil, false
	}
	return &resp, true
}

// FileDigest returns the lower-case hex sha256 of the file at path.
func FileDigest(path string) (string, error) {
	sum, _, err := safefile.Digest(path)
	if err != nil {
		return "", fmt.Errorf("host: hash: %w", err)
	}
	return hex.EncodeToString(sum[:]), nil
}

// specFromWire converts a described stage into an sdk.StageSpec, decoding
// defaults into their canonical representation, and validates it.
func specFromWire(w *pb.StageSpec) (sdk.StageSpec, error) {
	s := sdk.StageSpec{Name: w.GetName(), Version: w.GetVersion(), Doc: w.GetDoc(), Threads: int(w.GetThreads()), Persistent: w.GetPersistent()}
	for _, p := range w.GetParams() {
		ps := sdk.ParamSpec{Name: p.GetName(), Type: sdk.ParamType(p.GetType()), Doc: p.GetDoc()}
		if p.Min != nil {
			ps.Min = sdk.Bound(p.GetMin())
		}
		if p.Max != nil {
			ps.Max = sdk.Bound(p.GetMax())
		}
		if p.GetDefaultJson() != "" {
			m, err := sdk.DecodeParamsJSON([]byte(`{"v":` + p.GetDefaultJson() + `}`))
			if err != nil {
				return sdk.StageSpec{}, fmt.Errorf("stage %q: param %q: default: %w", s.Name, ps.Name, err)
			}
			v, err := ps.Type.Normalize(m["v"])
			if err != nil {
				return sdk.StageSpec{}, fmt.Errorf("stage %q: param %q: default: %w", s.Name, ps.Name, err)
			}
			ps.Default = v
		}
		s.Params = append(s.Params, ps)
	}
	for _, p := range w.GetInputs() {
		s.Inputs = append(s.Inputs, sdk.PortSpec{Name: p.GetName(), Doc: p.GetDoc(), Many: p.GetMany(), Optional: p.GetOptional()})
	}
	for _, p := range w.GetOutputs() {
		s.Outputs = append(s.Outputs, sdk.PortSpec{Name: p.GetName(), Doc: p.GetDoc(), Many: p.GetMany(), Optional: p.GetOptional()})
	}
	return s, s.Validate()
}
