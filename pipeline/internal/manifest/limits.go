package manifest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits bound what a manifest may ask for. They are checked before the
// work they bound is done (reading the file, expanding matrices, resolving
// references, binding parameters), so that a small manifest cannot exhaust
// memory or time. Zero means no limit.
type Limits struct {
	Bytes      int64 // size of the manifest file
	Stages     int   // stage instances after matrix expansion, all stages together
	Bindings   int   // input bindings after expansion: sum over instances of the instances each reads
	ParamBytes int   // encoded parameters of one instance plus its input paths: what one RPC carries
	// TotalParamBytes bounds the encoded parameters of all instances
	// together (each instance holds its own copy of its stage's
	// parameters), estimated from the stages before expansion.
	TotalParamBytes int64
}

// DefaultLimits are high enough for real work (a million stage instances, the
// engine benchmark) and low enough to fail in seconds rather than exhaust a
// machine. ParamBytes stays far below the plugin protocol's 64 MiB message
// cap (host.MaxRequestBytes), which the plugin request, parameters plus one
// path per input file, must fit in.
var DefaultLimits = Limits{
	Bytes:      64 << 20,
	Stages:     1_000_000,
	Bindings:   5_000_000,
	ParamBytes: 3 << 20,
	// 1e6 instances of ~100 bytes fit ~2.5 times over; 300 instances of
	// 3 MiB (2.2 GB to plan) do not.
	TotalParamBytes: 256 << 20,
}

// Environment variables that override DefaultLimits (LimitsFromEnv); the
// command line's --max-* flags override them in turn.
const (
	EnvMaxManifestBytes = "PIPELINE_MAX_MANIFEST_BYTES"
	EnvMaxStages        = "PIPELINE_MAX_STAGES"
	EnvMaxBindings      = "PIPELINE_MAX_BINDINGS"
	EnvMaxParamBytes    = "PIPELINE_MAX_PARAM_BYTES"
	EnvMaxTotalParams   = "PIPELINE_MAX_TOTAL_PARAM_BYTES"
)

// LimitsFromEnv returns DefaultLimits with the values set in the
// environment; an unparsable value is an error naming the variable.
func LimitsFromEnv() (Limits, error) {
	l := DefaultLimits
	for _, v := range []struct {
		env string
		set func(int64)
	}{
		{EnvMaxManifestBytes, func(n int64) { l.Bytes = n }},
		{EnvMaxStages, func(n int64) { l.Stages = int(n) }},
		{EnvMaxBindings, func(n int64) { l.Bindings = int(n) }},
		{EnvMaxParamBytes, func(n int64) { l.ParamBytes = int(n) }},
		{EnvMaxTotalParams, func(n int64) { l.TotalParamBytes = n }},
	} {
		s := os.Getenv(v.env)
		if s == "" {
			continue
		}
		n, err := ParseCount(s)
		if err != nil {
			return Limits{}, fmt.Errorf("%s=%q: %w", v.env, s, err)
		}
		v.set(n)
	}
	return l, nil
}

// ParseCount parses a non-negative count: digits, optionally in exponent form
// (1e6) or with a K, M or G suffix (binary for sizes: 64M = 64 MiB).
func ParseCount(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, strings.TrimSuffix(t, "K")
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, strings.TrimSuffix(t, "M")
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, strings.TrimSuffix(t, "G")
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 && n <= (1<<62)/mult {
		return n * mult, nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil && f >= 0 && f == float64(int64(f)) && f*float64(mult) < 1<<62 {
		return int64(f) * mult, nil
	}
	return 0, fmt.Errorf("not a count like 1000000, 1e6 or 64M")
}

// checkUTF8 reports the first byte sequence of data that is not UTF-8, at its
// line and column (columns count characters, as the YAML parser's do).
func checkUTF8(path string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return Errorf(Pos{File: path, Line: line, Col: col}, "invalid UTF-8 byte 0x%02x: a manifest must be UTF-8 text", data[i])
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return nil
}
