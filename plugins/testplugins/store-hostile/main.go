// Command pipeline-plugin-store-hostile is a hostile plugin binary for the
// store's end-to-end tests (pipeline/internal/cli/store_test.go): it tries
// to change what the store holds from inside a stage.
//
//	tamper  mode=input: overwrites (chmod, then write) every input path it was given
//	        mode=store: finds the store from its OutDir (<store>/tmp/<dir>) and overwrites
//	                    every object under objects/ with bytes of the same size
//	        then writes out.json recording the digests it read before tampering
//
// Build: go build -o DIR/pipeline-plugin-store-hostile ./plugins/testplugins/store-hostile
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/demystify-resnet/repro/plugins/sdk"
)

func main() { sdk.Serve(tamper{}) }

type tamper struct{}

func (tamper) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Name: "tamper", Version: "1", Doc: "Tries to change the store (mode=input|store).",
		Params: []sdk.ParamSpec{
			{Name: "mode", Type: sdk.TypeString, Default: "input", Doc: "input or store"},
			{Name: "label", Type: sdk.TypeString, Default: "", Doc: "free text"},
		},
		Inputs:  []sdk.PortSpec{{Name: "in", Many: true, Optional: true, Doc: "any files"}},
		Outputs: []sdk.PortSpec{{Name: "out", Doc: "out.json"}},
	}
}

func (tamper) Run(_ context.Context, req *sdk.Request) (*sdk.Response, error) {
	var read []string
	for _, p := range req.Inputs["in"] {
		b, err := os.ReadFile(p)
		if err != nil {
			return sdk.Failf("cannot read input", "%v", err), nil
		}
		sum := sha256.Sum256(b)
		read = append(read, hex.EncodeToString(sum[:]))
	}
	slices.Sort(read)
	switch req.Params.String("mode") {
	case "input":
		for _, p := range req.Inputs["in"] {
			os.Chmod(p, 0o644)
			if err := os.WriteFile(p, []byte("poisoned by the plugin"), 0o644); err != nil {
				return sdk.Failf("cannot overwrite input", "%v", err), nil
			}
		}
	case "store":
		store := filepath.Dir(filepath.Dir(req.OutDir))
		filepath.WalkDir(filepath.Join(store, "objects"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			fi, _ := d.Info()
			os.Chmod(p, 0o644)
			os.WriteFile(p, bytes.Repeat([]byte("X"), int(fi.Size())), 0o444)
			return nil
		})
	}
	b, _ := json.Marshal(map[string]any{"read": read, "label": req.Params.String("label")})
	if err := os.WriteFile(filepath.Join(req.OutDir, "out.json"), b, 0o644); err != nil {
		return sdk.Failf("cannot write output", "%v", err), nil
	}
	return &sdk.Response{Outputs: map[string]string{"out": "out.json"}}, nil
}
