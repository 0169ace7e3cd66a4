package cli

import (
	"github.com/demystify-resnet/repro/plugins/host"
	"github.com/demystify-resnet/repro/plugins/sdk"
)

// The JSON form of `pipeline plugins --json`: lower_snake keys like every
// other JSON the CLI prints (host.Plugin and sdk.StageSpec have no JSON
// tags of their own; this view is the documented shape).
type (
	pluginJSON struct {
		Name   string      `json:"name"`
		Path   string      `json:"path"`
		Digest string      `json:"digest"`
		Stages []stageJSON `json:"stages"`
	}
	stageJSON struct {
		Name    string      `json:"name"`
		Version string      `json:"version"`
		Doc     string      `json:"doc"`
		Threads int         `json:"threads"`
		Params  []paramJSON `json:"params"`
		Inputs  []portJSON  `json:"inputs"`
		Outputs []portJSON  `json:"outputs"`
	}
	paramJSON struct {
		Name     string   `json:"name"`
		Type     string   `json:"type"`
		Required bool     `json:"required"`
		Default  any      `json:"default,omitempty"`
		Min      *float64 `json:"min,omitempty"`
		Max      *float64 `json:"max,omitempty"`
		Doc      string   `json:"doc"`
	}
	portJSON struct {
		Name     string `json:"name"`
		Doc      string `json:"doc"`
		Many     bool   `json:"many,omitempty"`
		Optional bool   `json:"optional,omitempty"`
	}
)

func pluginsJSON(ps []*host.Plugin) []pluginJSON {
	ports := func(in []sdk.PortSpec) []portJSON {
		out := make([]portJSON, len(in))
		for i, p := range in {
			out[i] = portJSON{Name: p.Name, Doc: p.Doc, Many: p.Many, Optional: p.Optional}
		}
		return out
	}
	out := make([]pluginJSON, len(ps))
	for i, p := range ps {
		pj := pluginJSON{Name: p.Name, Path: p.Path, Digest: p.Digest, Stages: make([]stageJSON, len(p.Stages))}
		for j, s := range p.Stages {
			sj := stageJSON{Name: s.Name, Version: s.Version, Doc: s.Doc, Threads: s.Threads,
				Params: make([]paramJSON, len(s.Params)), Inputs: ports(s.Inputs), Outputs: ports(s.Outputs)}
			for k, prm := range s.Params {
				sj.Params[k] = paramJSON{Name: prm.Name, Type: string(prm.Type), Required: prm.Default == nil,
					Default: prm.Default, Min: prm.Min, Max: prm.Max, Doc: prm.Doc}
			}
			pj.Stages[j] = sj
		}
		out[i] = pj
	}
	return out
}
