package stagekit

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/artifacts/table"
	"github.com/demystify-resnet/repro/core/data"
	"github.com/demystify-resnet/repro/core/nets"
	"github.com/demystify-resnet/repro/plugins/schema"
)

// Stats is a validated stats table (one schema.Stats row) with its
// matrices.
type Stats struct {
	Row           schema.Stats
	Sxx, Syx, Syy *mat.Dense
}

// StatsRow builds the schema.Stats row of a data set: the matrices stored
// row-major and L_min from nets.Optimum. It panics if st's matrices are not
// st.D x st.D.
func StatsRow(dataset string, st data.Stats) schema.Stats {
	_, lmin := nets.Optimum(st.Sxx, st.Syx, st.Syy)
	return schema.Stats{
		Dataset: dataset, D: int64(st.D), M: int64(st.M),
		Sxx: rowMajor(st.Sxx), Syx: rowMajor(st.Syx), Syy: rowMajor(st.Syy),
		LMin: lmin,
	}
}

func rowMajor(m *mat.Dense) []float64 {
	r, c := m.Dims()
	out := make([]float64, 0, r*c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out = append(out, m.At(i, j))
		}
	}
	return out
}

// ReadStats reads and validates a stats table: exactly one row, d = schema.Width,
// matrices of d*d finite values. Errors name the file and the problem.
func ReadStats(path string) (Stats, error) {
	rows, err := table.Read[schema.Stats](path)
	if err != nil {
		return Stats{}, fmt.Errorf("stats input: %w", err)
	}
	if len(rows) != 1 {
		return Stats{}, fmt.Errorf("stats input %s: %d rows, want exactly 1", path, len(rows))
	}
	r := rows[0]
	if r.D != schema.Width {
		return Stats{}, fmt.Errorf("stats input %s: d = %d, the networks have width %d", path, r.D, schema.Width)
	}
	d := int(r.D)
	mk := func(name string, v []float64) (*mat.Dense, error) {
		if len(v) != d*d {
			return nil, fmt.Errorf("stats input %s: %s has %d values, want %d", path, name, len(v), d*d)
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("stats input %s: %s[%d] = %v", path, name, i, x)
			}
		}
		return mat.NewDense(d, d, append([]float64(nil), v...)), nil
	}
	s := Stats{Row: r}
	if s.Sxx, err = mk("sxx", r.Sxx); err != nil {
		return Stats{}, err
	}
	if s.Syx, err = mk("syx", r.Syx); err != nil {
		return Stats{}, err
	}
	if s.Syy, err = mk("syy", r.Syy); err != nil {
		return Stats{}, err
	}
	return s, nil
}

// Samples is a validated samples table as d x m matrices (columns are
// samples, in file order).
type Samples struct {
	X, Y *mat.Dense
}

// M returns the number of samples.
func (s Samples) M() int { _, m := s.X.Dims(); return m }

// ReadSamples reads the first m samples of a samples table (m = 0: all of
// them) and checks that every x and y has schema.Width finite values. It is an
// error if the file holds fewer than m samples or none.
func ReadSamples(path string, m int) (Samples, error) {
	rows, err := table.Read[schema.Sample](path)
	if err != nil {
		return Samples{}, fmt.Errorf("samples input: %w", err)
	}
	if len(rows) == 0 {
		return Samples{}, fmt.Errorf("samples input %s: no rows", path)
	}
	if m < 0 {
		return Samples{}, fmt.Errorf("samples: m = %d < 0", m)
	}
	if m == 0 {
		m = len(rows)
	}
	if m > len(rows) {
		return Samples{}, fmt.Errorf("samples input %s: m = %d but the file has only %d samples", path, m, len(rows))
	}
	d := schema.Width
	x := mat.NewDense(d, m, nil)
	y := mat.NewDense(d, m, nil)
	for j, r := range rows[:m] {
		if len(r.X) != d || len(r.Y) != d {
			return Samples{}, fmt.Errorf("samples input %s: row %d has %d x and %d y values, want %d", path, j, len(r.X), len(r.Y), d)
		}
		for i := 0; i < d; i++ {
			if math.IsNaN(r.X[i]) || math.IsInf(r.X[i], 0) || math.IsNaN(r.Y[i]) || math.IsInf(r.Y[i], 0) {
				return Samples{}, fmt.Errorf("samples input %s: row %d has a non-finite value", path, j)
			}
			x.Set(i, j, r.X[i])
			y.Set(i, j, r.Y[i])
		}
	}
	return Samples{X: x, Y: y}, nil
}

// Objective returns the training loss of net and the L_min it is compared
// with. A linear net uses the sufficient statistics (nets.NewLinear; its
// cost is independent of m) and L_min of st. A nonlinear net needs samples
// (ReadSamples) and uses nets.NewSampled on them; its L_min is that of the
// best linear map on those same samples (nets.Optimum of their statistics),
// so that the reference line matches the data actually fitted. samples may
// be nil for a linear net.
func Objective(net Net, st Stats, samples *Samples) (nets.Objective, float64, error) {
	if net.Linear() {
		return nets.NewLinear(net.Arch, st.Sxx, st.Syx, st.Syy), st.Row.LMin, nil
	}
	if samples == nil {
		return nil, 0, fmt.Errorf("activation %s needs the samples input (nonlinear nets are trained on samples)", net.Activation)
	}
	ds := data.ComputeStats(samples.X, samples.Y)
	_, lmin := nets.Optimum(ds.Sxx, ds.Syx, ds.Syy)
	return nets.NewSampled(net.Arch, samples.X, samples.Y), lmin, nil
}

// WriteTable writes rows as the Parquet file dir/file with the pinned
// table configuration and returns file (the name a Response reports).
func WriteTable[T any](dir, file string, rows []T) (string, error) {
	if err := table.Write(filepath.Join(dir, file), rows); err != nil {
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return file, nil
}

// Exists reports whether path is an existing regular file.
func Exists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
