package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// benchCmd is replaced by the benchmark implementation.
func benchCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "bench CASE",
		Short: "Time the paper's kernels (hessian, train, relu) like the PyTorch peer does",
		RunE:  func(*cobra.Command, []string) error { return errors.New("bench: not implemented yet") },
	}
}
