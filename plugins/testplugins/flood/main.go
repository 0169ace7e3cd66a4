// Command pipeline-plugin-flood is a hostile plugin binary for the second
// adversarial pass (pipeline/internal/cli/hardening_test.go): each mode of
// its one stage, flood.x, floods the host with something, then completes
// normally with a small out.txt, so that the host's bounds are what is tested.
//
//	mode=log       writes `lines` lines of 1 KiB to the SDK's stage log and to raw stderr
//	mode=longline  writes one line of `lines` KiB with no newline to raw stderr
//	mode=files     creates `lines` files in OutDir besides its output
//	mode=big       its output is `lines` MiB
//	mode=closeout  closes its stdout and stderr (descriptors 1 and 2) before it works
//
// Build: go build -o DIR/pipeline-plugin-flood ./plugins/testplugins/flood
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/demystify-resnet/repro/plugins/sdk"
)

func main() { sdk.Serve(flood{}) }

type flood struct{}

func (flood) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name: "flood.x", Version: "1", Doc: "Floods the host (mode=log|longline|files|big|closeout).",
		Params: []sdk.ParamSpec{
			{Name: "mode", Type: sdk.TypeString, Default: "log", Doc: "log | longline | files | big | closeout"},
			{Name: "lines", Type: sdk.TypeInt, Default: 1000, Min: sdk.Bound(0), Max: sdk.Bound(10_000_000), Doc: "how much"},
		},
		Outputs: []sdk.PortSpec{{Name: "out", Doc: "out.txt"}},
	}
}

func (flood) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	n := req.Params.Int("lines")
	kib := bytes.Repeat([]byte("L"), 1023)
	raw := os.NewFile(2, "fd2")
	out := filepath.Join(req.OutDir, "out.txt")
	switch mode := req.Params.String("mode"); mode {
	case "log":
		for i := range n {
			req.Log.Info().Msg(string(kib))
			fmt.Fprintf(raw, "%d %s\n", i, kib)
		}
	case "longline":
		for range n {
			raw.Write(kib)
			raw.Write([]byte("L"))
		}
	case "files":
		for i := range n {
			if err := os.WriteFile(filepath.Join(req.OutDir, "f"+strconv.Itoa(i)), kib, 0o644); err != nil {
				return nil, err
			}
		}
	case "big":
		f, err := os.Create(out)
		if err != nil {
			return nil, err
		}
		mib := bytes.Repeat(kib, 1026)[:1<<20]
		for range n {
			if _, err := f.Write(mib); err != nil {
				return nil, err
			}
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return &sdk.Response{Outputs: map[string]string{"out": "out.txt"}}, nil
	case "closeout":
		syscall.Close(1)
		syscall.Close(2)
	default:
		return nil, fmt.Errorf("flood: unknown mode %q", mode)
	}
	if err := os.WriteFile(out, []byte(req.Params.String("mode")), 0o644); err != nil {
		return nil, err
	}
	return &sdk.Response{Outputs: map[string]string{"out": "out.txt"}}, nil
}
