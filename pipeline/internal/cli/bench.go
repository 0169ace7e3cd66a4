package cli

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/demystify-resnet/repro/internal/mnistdir"
	"github.com/demystify-resnet/repro/pipeline/internal/bench"
)

// benchCmd is `pipeline bench CASE`: one run of a paper kernel, timed like the
// PyTorch peer (../shared/bench/peer_torch.py) times it, printed as one JSON line
// on stdout (docs/performance.md).
func benchCmd(g *globals) *cobra.Command {
	def := bench.Default("")
	cfg := def
	var mnist, cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench CASE",
		Short: "Time the paper's kernels (hessian, train, relu) like the PyTorch peer does",
		Long: `bench runs one of the paper's heavy kernels on whitened MNIST with the project's core and prints
one JSON line: "seconds" (the work only, without loading the data, as the peer measures it) and the
result fields of the peer (P, abs_max, abs_min, q10, cond10, index, hessian_s, eig_s for hessian and
relu; final_loss, L_min for train), plus load_s, threads and backend (the eigensolver compiled in).

Cases (flags and defaults as in the peer script):
  hessian  exact Hessian of an n-shortcut linear net (n = 0: plain) at the initial point + full spectrum
  train    full-batch gradient descent of a linear net for --epochs steps at --lr
  relu     exact Hessian of a ReLU-mid net (n = 2: 2-shortcut, else plain) on the first --m samples + spectrum

With --init zero (or det, a deterministic point bench/peer_check.py gives the peer too) both sides start
from the same point and their numbers agree to 1e-8 relative; random inits draw differently on each side.
bench/run.sh (make bench) repeats every case and compares medians with the peer.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Case = args[0]
			if err := cfg.Validate(); err != nil {
				return withCode(ExitUsage, err)
			}
			if mnist == "" {
				d, err := mnistdir.Find()
				if err != nil {
					return withCode(ExitEnv, fmt.Errorf("bench: %w", err))
				}
				mnist = d
			}
			dat, err := bench.Load(mnist)
			if err != nil {
				return withCode(ExitEnv, err)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return withCode(ExitEnv, fmt.Errorf("bench: cpu profile: %w", err))
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return withCode(ExitEnv, fmt.Errorf("bench: cpu profile: %w", err))
				}
				defer pprof.StopCPUProfile()
			}
			res, err := bench.Run(cfg, dat)
			if err != nil {
				return withCode(ExitStageFailed, err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), res.JSON())
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.N, "n", def.N, "shortcut depth; 0 = plain net (relu: 2 = 2-shortcut, else plain)")
	f.IntVar(&cfg.Depth, "depth", def.Depth, "number of weight layers")
	f.StringVar(&cfg.Init, "init", def.Init, "initial point: zero|small|xavier|orthogonal|det")
	f.Uint64Var(&cfg.Seed, "seed", def.Seed, "seed of the random initialisations (rand.NewPCG(seed, 0))")
	f.Float64Var(&cfg.LR, "lr", def.LR, "learning rate (train)")
	f.IntVar(&cfg.Epochs, "epochs", def.Epochs, "gradient-descent steps (train)")
	f.IntVar(&cfg.M, "m", def.M, "samples for the relu case (the first m of the 60,000)")
	f.StringVar(&mnist, "mnist", "", "folder with the MNIST IDX .gz files (default: core/mnistdir.Find())")
	f.IntVar(&cfg.Threads, "threads", 0, "GOMAXPROCS and OpenBLAS threads (0 = defaults)")
	f.StringVar(&cfg.SaveHessian, "save-hessian", "", "after the timed work, write the Hessian (hessian, relu) to this file as P x P little-endian float64 (bench/dsyevd_alone.py)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a pprof CPU profile of the work (not the loading) to this file")
	return cmd
}
