// Command pipeline-plugin-datagen is the data stage of the reproduction:
// it whitens MNIST (or Fashion-MNIST) following SPEC section 6, or draws a
// synthetic data set, and writes the sufficient statistics (stats.parquet,
// one schema.Stats row with L_min) and whitened samples (samples.parquet,
// schema.Sample rows) for the nonlinear nets. See docs/stages.md.
//
// Build: go build -trimpath -o bin/pipeline-plugin-datagen ./plugins/datagen
package main

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/plugins/schema"
	"github.com/demystify-resnet/repro/plugins/sdk"
	"github.com/demystify-resnet/repro/plugins/stagekit"
)

func main() { sdk.Serve(datagen{}) }

// syntheticStream is the second PCG word of the synthetic data RNG.
const syntheticStream uint64 = 0x73796e74_68657469 // "synthetic"

type datagen struct{}

type params struct {
	Dataset    string `param:"dataset" default:"mnist" doc:"mnist | fashion | synthetic"`
	Samples    int    `param:"samples" default:"6000" doc:"number of samples written to samples.parquet (the first ones, in data-set order; 0 = all)"`
	SyntheticM int    `param:"synthetic_m" default:"6000" doc:"synthetic only: number of samples drawn (seeded by the stage seed)"`
	MNISTDir   string `param:"mnist_dir" default:"" doc:"folder with the MNIST IDX .gz files; \"\" = auto ($MNIST_DIR, then the GoMNIST Go module in the module cache)"`
}

func (datagen) Spec() sdk.StageSpec {
	return sdk.StageSpec{
		Persistent: true, // keeps no state between tasks: a persistent worker may serve many
		Name:       "datagen",
		Version:    "1",
		Doc: "Builds the data set: MNIST or Fashion-MNIST training images (60,000) whitened to their 10 leading " +
			"principal components (SPEC 6) with one-hot labels, or synthetic data (core/data.Synthetic, d = 10). " +
			"Writes the sufficient statistics Sxx, Syx, Syy with L_min, and the first `samples` whitened samples.",
		Params: sdk.ParamsOf[params](),
		Outputs: []sdk.PortSpec{
			{Name: "stats", Doc: "stats.parquet: one schema.Stats row (statistics of ALL samples of the data set, with L_min)"},
			{Name: "samples", Doc: "samples.parquet: schema.Sample rows (whitened x, one-hot y; label -1 for synthetic)"},
		},
		Threads: 1,
	}
}

// Run implements sdk.Stage: it reads (readImages) or draws the data set,
// computes its statistics over all samples and writes them with the first
// samples (sampleRows).
func (datagen) Run(ctx context.Context, req *sdk.Request) (*sdk.Response, error) {
	p, err := sdk.Decode[params](req.Params)
	if err != nil {
		return nil, err
	}
	ds := p.Dataset
	nSamples := p.Samples
	if nSamples < 0 {
		return sdk.Failf("bad param", "samples = %d < 0", nSamples), nil
	}
	var x, y *mat.Dense
	var labels []uint8
	switch ds {
	case "mnist", "fashion":
		var resp *sdk.Response
		if x, y, labels, resp, err = readImages(ctx, req, ds, p.MNISTDir); resp != nil || err != nil {
			return resp, err
		}
	case "synthetic":
		m := p.SyntheticM
		if m < 1 {
			return sdk.Failf("bad param", "synthetic_m = %d < 1", m), nil
		}
		req.Progress(0, 2, "drawing synthetic data")
		x, y = data.Synthetic(rand.New(rand.NewPCG(req.Seed, syntheticStream)), schema.Width, m)
	default:
		return sdk.Failf("bad param", "dataset %q: want mnist, fashion or synthetic", ds), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, m := x.Dims()
	if nSamples == 0 || nSamples > m {
		if nSamples > m {
			req.Log.Warn().Int("samples", nSamples).Int("m", m).Msg("samples exceeds the data set; writing all")
		}
		nSamples = m
	}
	statsRow := stagekit.StatsRow(ds, data.ComputeStats(x, y))
	req.Log.Info().Int("m", m).Float64("l_min", statsRow.LMin).Msg("statistics computed")
	rows := sampleRows(x, y, labels, nSamples)
	req.Progress(3, 4, "writing tables")
	statsFile, err := stagekit.WriteTable(req.OutDir, "stats.parquet", []schema.Stats{statsRow})
	if err != nil {
		return nil, fmt.Errorf("datagen: %w", err)
	}
	samplesFile, err := stagekit.WriteTable(req.OutDir, "samples.parquet", rows)
	if err != nil {
		return nil, fmt.Errorf("datagen: %w", err)
	}
	req.Progress(4, 4, "done")
	return &sdk.Response{Outputs: map[string]string{"stats": statsFile, "samples": samplesFile}}, nil
}

// readImages reads the training images of ds (mnist, from mnistDir or the
// default places, or fashion) and returns them whitened to their
// schema.Width leading principal components (columns are samples), their
// one-hot labels and the labels. A non-nil Response is the stage's
// failure; a non-nil error is ctx's.
func readImages(ctx context.Context, req *sdk.Request, ds, mnistDir string) (x, y *mat.Dense, labels []uint8, resp *sdk.Response, err error) {
	req.Progress(0, 4, "locating "+ds)
	var dir string
	if ds == "mnist" {
		dir, err = stagekit.FindMNIST(mnistDir)
	} else {
		dir, err = data.FashionMNISTDir()
	}
	if err != nil {
		return nil, nil, nil, sdk.Failf("data set not found", "%v", err), nil
	}
	req.Log.Info().Str("dataset", ds).Str("dir", dir).Msg("reading IDX files")
	req.Progress(1, 4, "reading IDX files")
	load := data.LoadMNIST
	if ds == "fashion" {
		load = data.LoadFashionMNIST
	}
	img, lbl, err := load(dir, "train")
	if err != nil {
		return nil, nil, nil, sdk.Failf("cannot read "+ds, "%v", err), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, nil, err
	}
	req.Progress(2, 4, "whitening")
	x, _, err = data.Whiten(img, schema.Width)
	if err != nil {
		return nil, nil, nil, sdk.Failf("whitening failed", "%v", err), nil
	}
	return x, data.OneHot(lbl, schema.Width), lbl, nil, nil
}

// sampleRows returns the first n samples (columns) of x and y as rows,
// with their labels (-1 when labels is nil).
func sampleRows(x, y *mat.Dense, labels []uint8, n int) []schema.Sample {
	rows := make([]schema.Sample, n)
	for j := range rows {
		s := schema.Sample{Index: int64(j), Label: -1, X: make([]float64, schema.Width), Y: make([]float64, schema.Width)}
		if labels != nil {
			s.Label = int64(labels[j])
		}
		for i := 0; i < schema.Width; i++ {
			s.X[i] = x.At(i, j)
			s.Y[i] = y.At(i, j)
		}
		rows[j] = s
	}
	return rows
}
