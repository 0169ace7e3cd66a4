// Command pipeline runs the stages of a manifest as plugins over a
// content-addressed Parquet artifact store. See README.md and docs/cli.md.
package main

import (
	"os"

	"github.com/demystify-resnet/repro/pipeline/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
