package sdk

import (
	"strings"
	"testing"
)

// The one rule for "stage failed": every severity but Warning fails, the zero
// Severity included (the host treats an unspecified wire severity as Error).
func TestSeverityFails(t *testing.T) {
	for _, c := range []struct {
		sev  Severity
		want bool
	}{{Error, true}, {Warning, false}, {0, true}, {7, true}} {
		if got := c.sev.Fails(); got != c.want {
			t.Errorf("%v.Fails() = %v, want %v", c.sev, got, c.want)
		}
	}
}

func TestDiagnosticsRule(t *testing.T) {
	warn := Diagnostic{Severity: Warning, Summary: "slow"}
	zero := Diagnostic{Summary: "no severity", Detail: "set by mistake"}
	if HasErrors([]Diagnostic{warn}) || DiagnosticsError("s", []Diagnostic{warn}) != nil {
		t.Fatal("a warning alone fails the stage")
	}
	if !HasErrors([]Diagnostic{warn, zero}) {
		t.Fatal("HasErrors: a zero-severity diagnostic does not fail the stage (the host fails it)")
	}
	err := DiagnosticsError("s", []Diagnostic{warn, zero, {Severity: Error, Summary: "diverged"}})
	if err == nil {
		t.Fatal("DiagnosticsError: nil for failing diagnostics")
	}
	want := "stage s failed: severity(0): no severity: set by mistake; error: diverged"
	if err.Error() != want {
		t.Fatalf("DiagnosticsError = %q, want %q", err, want)
	}
	if strings.Contains(err.Error(), "slow") {
		t.Fatalf("DiagnosticsError includes the warning: %q", err)
	}
}
