// Package bench runs the paper's heavy kernels the way the PyTorch peer
// (../shared/bench/peer_torch.py, also described in docs/performance.md) runs
// them, on the same whitened MNIST, with the project's own core: the exact
// Hessian and full spectrum of a linear net ("hessian"), full-batch gradient
// descent of a linear net ("train"), and the exact Hessian and spectrum of a
// ReLU-mid net on the first m samples ("relu"). It times the work only (data
// loading is timed separately, as the peer does) and reports the same result
// fields as the peer, so the two can be compared value by value (with
// Init "zero" or "det", both sides start from the same point).
package bench

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/core/initw"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/core/spectrum"
	"github.com/demystify-resnet/repro/core/train"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Cases lists the benchmark cases in their canonical order.
var Cases = []string{"hessian", "train", "relu"}

// Config is one benchmark invocation. Its fields and defaults mirror the
// peer's command-line flags (see Default).
type Config struct {
	// Case is "hessian", "train" or "relu".
	Case string
	// N is the shortcut depth; 0 means a plain net. For "relu", N == 2 is a
	// 2-shortcut net and any other value a plain net with ReLUs after weight
	// layers 1, 3, 5, ... (as in the peer).
	N int
	// Depth is the number of weight layers.
	Depth int
	// Init is zero, small, xavier, orthogonal (core/initw, drawn from
	// rand.NewPCG(Seed, 0): not the peer's draws) or det, a deterministic
	// point both sides can build: W_k[i][j] = 0.1 sin(k d² + i d + j + 1)
	// (bench/peer_check.py adds it to the peer).
	Init string
	// Seed seeds the random initialisations.
	Seed uint64
	// LR and Epochs configure "train" (full-batch gradient descent).
	LR     float64
	Epochs int
	// M is the number of samples (the first M of whitened MNIST) for "relu".
	M int
	// Threads, if > 0, sets GOMAXPROCS (and the OpenBLAS thread count in
	// the native build) before the work; 0 keeps the defaults.
	Threads int
	// SaveHessian, if not empty, names a file that receives the Hessian
	// (hessian, relu) as P x P little-endian float64, row-major, full
	// (both triangles), after the timed work: bench/dsyevd_alone.py times
	// LAPACK's dsyevd alone on it.
	SaveHessian string
}

// Default returns the peer's defaults for the given case: n = 2, depth 20,
// init small, seed 1, lr 0.1, 1000 epochs, m = 6000, default threads.
func Default(c string) Config {
	return Config{Case: c, N: 2, Depth: 20, Init: "small", Seed: 1, LR: 0.1, Epochs: 1000, M: 6000}
}

// Data is whitened MNIST (SPEC 6) and its sufficient statistics.
type Data struct {
	X, Y  *mat.Dense // 10 x 60,000, columns are samples
	Stats data.Stats // Sxx, Syx, Syy with 1/m
	// LoadSeconds is the wall time Load took (reading, checking, whitening).
	LoadSeconds float64
}

// Load reads and whitens the MNIST training set in dir (core/data.WhitenedMNIST
// with k = 10) and computes its statistics. It returns an error if the files
// are missing or corrupt.
func Load(dir string) (*Data, error) {
	t0 := time.Now()
	x, y, _, err := data.WhitenedMNIST(dir, schema.Width)
	if err != nil {
		return nil, fmt.Errorf("bench: load MNIST from %s: %w", dir, err)
	}
	st := data.ComputeStats(x, y)
	return &Data{X: x, Y: y, Stats: st, LoadSeconds: time.Since(t0).Seconds()}, nil
}

// Result is what one case reports. Fields that a case does not compute are
// left out of JSON (Fields lists the ones that are set).
type Result struct {
	Config
	// Seconds is the wall time of the work (the Hessian and its spectrum, or
	// the training loop plus the final loss), excluding data loading.
	Seconds float64
	// HessianSeconds and EigSeconds split Seconds for the Hessian cases.
	HessianSeconds, EigSeconds float64
	// Spectrum of the Hessian (hessian, relu): P, |λ|max, |λ|min, q10 of |λ|,
	// cond_10 and index with the peer's zero tolerance (spectrum.DefaultRelTol).
	Summary spectrum.Summary
	// FinalLoss is L after Epochs steps and LMin the global optimum (train).
	FinalLoss, LMin float64
	// Samples is the number of samples used (relu).
	Samples int
	// LoadSeconds is copied from Data.
	LoadSeconds float64
	// Backend is the eigensolver (spectrum.Backend()).
	Backend string
	// GoThreads is GOMAXPROCS during the work; BLASThreads is OpenBLAS's
	// thread count in the native build (0 in the pure-Go build).
	GoThreads, BLASThreads int
}

// Validate returns an error if cfg is not a runnable case.
func (cfg Config) Validate() error {
	switch cfg.Case {
	case "hessian", "train", "relu":
	default:
		return fmt.Errorf("bench: unknown case %q (want hessian, train or relu)", cfg.Case)
	}
	if cfg.Depth < 1 {
		return fmt.Errorf("bench: depth %d < 1", cfg.Depth)
	}
	if cfg.N < 0 {
		return fmt.Errorf("bench: n %d < 0", cfg.N)
	}
	if cfg.Case == "relu" {
		if cfg.Depth%2 != 0 {
			return fmt.Errorf("bench: relu: depth %d is not even (ReLU after layers 1, 3, 5, ...)", cfg.Depth)
		}
		if cfg.M < 1 {
			return fmt.Errorf("bench: relu: m = %d < 1", cfg.M)
		}
	} else if cfg.N > 0 && cfg.Depth%cfg.N != 0 {
		return fmt.Errorf("bench: depth %d is not a multiple of n = %d", cfg.Depth, cfg.N)
	}
	if cfg.Case == "train" && (!(cfg.LR > 0) || math.IsInf(cfg.LR, 0) || cfg.Epochs < 0) {
		return fmt.Errorf("bench: train: lr %g, epochs %d (want lr > 0 finite, epochs >= 0)", cfg.LR, cfg.Epochs)
	}
	if cfg.Threads < 0 {
		return fmt.Errorf("bench: threads %d < 0", cfg.Threads)
	}
	if cfg.Init != "det" {
		if _, err := initw.ParseKind(cfg.Init); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

// Arch returns the network of the case: for hessian and train, a plain
// linear net of Depth layers when N == 0, else an N-shortcut net of Depth/N
// units; for relu, a 2-shortcut (N == 2) or plain net with ReLU at the mid
// position of pairs of layers. It assumes cfg is valid.
func (cfg Config) Arch() nets.Arch {
	if cfg.Case == "relu" {
		return nets.Arch{Width: schema.Width, Shortcut: 2, Units: cfg.Depth / 2, Plain: cfg.N != 2, Mid: nets.ReLU}
	}
	if cfg.N == 0 {
		return nets.Arch{Width: schema.Width, Shortcut: 1, Units: cfg.Depth, Plain: true}
	}
	return nets.Arch{Width: schema.Width, Shortcut: cfg.N, Units: cfg.Depth / cfg.N}
}

// InitialPoint returns the starting weights of cfg for arch (see Config.Init).
func (cfg Config) InitialPoint(arch nets.Arch) []float64 {
	w := make([]float64, arch.NumParams())
	if cfg.Init == "det" {
		d := arch.Width
		for k := 0; k < arch.Depth(); k++ {
			for i := 0; i < d; i++ {
				for j := 0; j < d; j++ {
					// The peer's flat order is row-major per layer; ours is column-major.
					w[arch.ParamIndex(k, i, j)] = 0.1 * math.Sin(float64(k*d*d+i*d+j+1))
				}
			}
		}
		return w
	}
	kind, err := initw.ParseKind(cfg.Init)
	if err != nil {
		panic(err)
	}
	initw.Init(w, arch, kind, rand.New(rand.NewPCG(cfg.Seed, 0)))
	return w
}

// Run performs the case on dat and returns its result. It returns an error if
// cfg is invalid or the eigensolver fails. With cfg.Threads > 0 it changes
// GOMAXPROCS (and OpenBLAS's threads) for the rest of the process.
func Run(cfg Config, dat *Data) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Threads > 0 {
		runtime.GOMAXPROCS(cfg.Threads)
		setBLASThreads(cfg.Threads)
	}
	res := Result{Config: cfg, LoadSeconds: dat.LoadSeconds, Backend: spectrum.Backend(),
		GoThreads: runtime.GOMAXPROCS(0), BLASThreads: blasThreads()}
	arch := cfg.Arch()
	w := cfg.InitialPoint(arch)
	st := dat.Stats
	switch cfg.Case {
	case "hessian":
		newObj := func() hessianer { return nets.NewLinear(arch, st.Sxx, st.Syx, st.Syy) }
		if err := res.timeHessian(newObj, w, cfg.SaveHessian); err != nil {
			return Result{}, err
		}
	case "relu":
		m := min(cfg.M, dat.X.RawMatrix().Cols)
		x := dat.X.Slice(0, schema.Width, 0, m).(*mat.Dense)
		y := dat.Y.Slice(0, schema.Width, 0, m).(*mat.Dense)
		res.Samples = m
		newObj := func() hessianer { return nets.NewSampled(arch, x, y) }
		if err := res.timeHessian(newObj, w, cfg.SaveHessian); err != nil {
			return Result{}, err
		}
	case "train":
		t0 := time.Now()
		obj := nets.NewLinear(arch, st.Sxx, st.Syx, st.Syy)
		tr := train.GD(obj, arch, w, train.Options{LR: cfg.LR, Epochs: cfg.Epochs})
		res.FinalLoss = tr.Loss[cfg.Epochs]
		res.Seconds = time.Since(t0).Seconds()
		_, res.LMin = nets.Optimum(st.Sxx, st.Syx, st.Syy)
	}
	return res, nil
}

// saveHessian writes h to path (if not empty) as described at Config.SaveHessian.
func saveHessian(path string, h *mat.SymDense) error {
	if path == "" {
		return nil
	}
	n := h.SymmetricDim()
	buf := make([]byte, 8*n*n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			binary.LittleEndian.PutUint64(buf[8*(i*n+j):], math.Float64bits(h.At(i, j)))
		}
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		return fmt.Errorf("bench: save Hessian: %w", err)
	}
	return nil
}

func (r *Result) spectrum(h *mat.SymDense) error {
	ev := make([]float64, h.SymmetricDim())
	if err := spectrum.Eigenvalues(ev, h); err != nil {
		return fmt.Errorf("bench: %s: %w", r.Case, err)
	}
	r.Summary = spectrum.Summarize(ev, spectrum.DefaultRelTol)
	return nil
}

// JSON returns the result as one line of JSON with the peer's field names, in
// a fixed order. Non-finite numbers are written as Python's json module
// writes them (Infinity, -Infinity, NaN), so the peer's and the project's
// lines parse alike; cond10 of an all-zero spectrum is written as Infinity,
// as the peer does.
func (r Result) JSON() string {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(strconv.Quote(k))
		b.WriteString(": ")
	}
	num := func(k string, v float64) { key(k); b.WriteString(formatFloat(v)) }
	integer := func(k string, v int) { key(k); b.WriteString(strconv.Itoa(v)) }
	str := func(k, v string) { key(k); b.WriteString(strconv.Quote(v)) }
	str("case", r.Case)
	num("seconds", r.Seconds)
	switch r.Case {
	case "hessian", "relu":
		s := r.Summary
		cond10 := s.Cond10
		if math.IsNaN(cond10) {
			cond10 = math.Inf(1) // the peer's convention for an all-zero spectrum
		}
		integer("P", s.P)
		num("abs_max", s.AbsMax)
		num("abs_min", s.AbsMin)
		num("q10", s.Q10)
		num("cond10", cond10)
		num("index", s.Index)
		if r.Case == "relu" {
			integer("m", r.Samples)
		}
		num("hessian_s", r.HessianSeconds)
		num("eig_s", r.EigSeconds)
	case "train":
		num("final_loss", r.FinalLoss)
		num("L_min", r.LMin)
		num("lr", r.LR)
		integer("epochs", r.Epochs)
	}
	integer("n", r.N)
	integer("depth", r.Depth)
	str("init", r.Init)
	integer("seed", int(r.Seed))
	num("load_s", r.LoadSeconds)
	integer("threads", r.GoThreads)
	integer("blas_threads", r.BLASThreads)
	str("backend", r.Backend)
	str("go", runtime.Version())
	b.WriteByte('}')
	return b.String()
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// hessianer is an objective whose exact Hessian the bench times.
type hessianer interface {
	Hessian(dst *mat.SymDense, w []float64)
}

// timeHessian times the exact Hessian at w of the objective newObj builds
// (its construction included) and then res.spectrum of it, sets
// HessianSeconds, EigSeconds and Seconds (their sum), and saves the Hessian
// to save (saveHessian: "" saves nothing).
func (res *Result) timeHessian(newObj func() hessianer, w []float64, save string) error {
	t0 := time.Now()
	obj := newObj()
	var h mat.SymDense
	obj.Hessian(&h, w)
	t1 := time.Now()
	if err := res.spectrum(&h); err != nil {
		return err
	}
	t2 := time.Now()
	res.HessianSeconds, res.EigSeconds, res.Seconds = t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t2.Sub(t0).Seconds()
	return saveHessian(save, &h)
}
