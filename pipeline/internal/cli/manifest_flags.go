package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/pipeline/internal/manifest"
)

// manifestFlags are the flags that shape how a manifest is loaded: --set
// overrides (manifest.Options.Set) and the --max-* limits (manifest.Limits),
// which default to the PIPELINE_MAX_* environment variables, else
// manifest.DefaultLimits.
type manifestFlags struct {
	set                                              []string
	stages, bindings, bytes, paramBytes, totalParams string
}

func addManifestFlags(cmd *cobra.Command, f *manifestFlags) {
	d := manifest.DefaultLimits
	pf := cmd.PersistentFlags()
	pf.StringArrayVar(&f.set, "set", nil, "override a manifest variable (name=value) or a stage parameter (stage.param=value); values are YAML, e.g. --set depths=[2,4] (repeatable)")
	pf.StringVar(&f.stages, "max-stages", "", fmt.Sprintf("most stage instances a manifest may expand to (env %s; default %d)", manifest.EnvMaxStages, d.Stages))
	pf.StringVar(&f.bindings, "max-bindings", "", fmt.Sprintf("most input bindings (instances times the instances each reads) (env %s; default %d)", manifest.EnvMaxBindings, d.Bindings))
	pf.StringVar(&f.bytes, "max-manifest-bytes", "", fmt.Sprintf("largest manifest file, e.g. 64M (env %s; default %d)", manifest.EnvMaxManifestBytes, d.Bytes))
	pf.StringVar(&f.totalParams, "max-total-param-bytes", "", fmt.Sprintf("largest encoded parameters of all stage instances together, e.g. 256M (env %s; default %d)", manifest.EnvMaxTotalParams, d.TotalParamBytes))
	pf.StringVar(&f.paramBytes, "max-param-bytes", "", fmt.Sprintf("largest encoded parameters of one stage instance; a plugin request, with its input paths, must stay below the protocol's 64 MiB (env %s; default %d)", manifest.EnvMaxParamBytes, d.ParamBytes))
}

// options resolves the manifest options: limits from flags over environment
// over defaults, and the --set overrides.
func (f *manifestFlags) options() (manifest.Options, error) {
	l, err := f.limits()
	return manifest.Options{Limits: l, Set: f.set}, err
}

func (f *manifestFlags) limits() (manifest.Limits, error) {
	l, err := manifest.LimitsFromEnv()
	if err != nil {
		return l, withCode(ExitUsage, err)
	}
	for _, v := range []struct {
		flag, val string
		set       func(int64)
	}{
		{"max-stages", f.stages, func(n int64) { l.Stages = int(n) }},
		{"max-bindings", f.bindings, func(n int64) { l.Bindings = int(n) }},
		{"max-manifest-bytes", f.bytes, func(n int64) { l.Bytes = n }},
		{"max-param-bytes", f.paramBytes, func(n int64) { l.ParamBytes = int(n) }},
		{"max-total-param-bytes", f.totalParams, func(n int64) { l.TotalParamBytes = n }},
	} {
		if v.val == "" {
			continue
		}
		n, err := manifest.ParseCount(v.val)
		if err != nil {
			return l, withCode(ExitUsage, fmt.Errorf("--%s %s: %w", v.flag, strconv.Quote(v.val), err))
		}
		v.set(n)
	}
	return l, nil
}
