package sdk

import "fmt"

// Fail returns a Response carrying one Error diagnostic: the stage failed on
// its own terms (bad data, diverged, ...). It is a value the stage returns
// with a nil error, not an error: `return sdk.Fail("bad input", err.Error()), nil`.
func Fail(summary, detail string) *Response {
	return &Response{Diagnostics: []Diagnostic{{Severity: Error, Summary: summary, Detail: detail}}}
}

// Failf is Fail with a formatted detail:
// `return sdk.Failf("diverged", "loss %g at step %d", l, k), nil`.
func Failf(summary, detailFormat string, args ...any) *Response {
	return Fail(summary, fmt.Sprintf(detailFormat, args...))
}

// Warn returns a Warning diagnostic, for Response.Diagnostics: the stage
// succeeded but something deserves attention.
func Warn(summary, detail string) Diagnostic {
	return Diagnostic{Severity: Warning, Summary: summary, Detail: detail}
}
