package sdk

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
)

// TestRequest describes an in-process call of a stage, for a plugin's unit
// tests: the fields a test sets by name instead of NewRequest's positional
// arguments. The zero value is a call with default parameters, no inputs,
// seed 0 and a discarding logger; OutDir must be set.
type TestRequest struct {
	// Params are raw values, as a manifest gives them; they are validated
	// and defaulted against the stage's spec exactly as the host and the SDK
	// server do.
	Params   map[string]any
	Inputs   map[string][]string
	OutDir   string
	Seed     uint64
	Log      *zerolog.Logger                       // nil: zerolog.Nop()
	Progress func(done, total float64, msg string) // nil: dropped
}

// For validates the parameters against s.Spec() and returns the Request
// that s.Run would receive from the server.
func (tr TestRequest) For(s Stage) (*Request, error) {
	spec := s.Spec()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	params, err := ValidateParams(spec, tr.Params)
	if err != nil {
		return nil, err
	}
	if tr.OutDir == "" {
		return nil, fmt.Errorf("sdk: TestRequest for %s: empty OutDir", spec.Name)
	}
	log := zerolog.Nop()
	if tr.Log != nil {
		log = *tr.Log
	}
	return NewRequest(spec.Name, params, tr.Inputs, tr.OutDir, tr.Seed, log, tr.Progress), nil
}

// Run builds the Request (see For), runs s and fails if the stage failed:
// the error is the Go error of Run or the stage's failing diagnostics
// joined (DiagnosticsError). The Response is returned in both cases when
// Run returned one.
func (tr TestRequest) Run(ctx context.Context, s Stage) (*Response, error) {
	req, err := tr.For(s)
	if err != nil {
		return nil, err
	}
	resp, err := s.Run(ctx, req)
	if err != nil {
		return resp, err
	}
	if resp == nil {
		return nil, fmt.Errorf("sdk: stage %s returned a nil Response", req.Stage)
	}
	return resp, DiagnosticsError(req.Stage, resp.Diagnostics)
}
