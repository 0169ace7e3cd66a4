package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/demystify-resnet/repro/internal/mnistdir"
)

// idxBytes builds an IDX file (unsigned bytes) with the given magic and dims.
func idxBytes(magic uint32, dims []int, payload []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(payload)
	return b.Bytes()
}

func gz(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadIDXRoundTrip(t *testing.T) {
	// Oracle: the IDX layout written by hand (magic, big-endian dims, bytes).
	dir := t.TempDir()
	pix := make([]byte, 3*2*4)
	for i := range pix {
		pix[i] = uint8(7 * i)
	}
	raw := idxBytes(idxImagesMagic, []int{3, 2, 4}, pix)
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"raw.idx", raw}, {"img.gz", gz(t, raw)}} {
		img, err := ReadIDXImages(writeFile(t, dir, tc.name, tc.b))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if img.N != 3 || img.Rows != 2 || img.Cols != 4 || !bytes.Equal(img.Pixels, pix) {
			t.Fatalf("%s: got %+v", tc.name, img)
		}
		if got := img.Pixel(2, 1, 3); got != pix[2*8+1*4+3] {
			t.Errorf("Pixel(2,1,3) = %d, want %d", got, pix[23])
		}
	}
	lbl := []byte{0, 9, 3}
	got, err := ReadIDXLabels(writeFile(t, dir, "l.gz", gz(t, idxBytes(idxLabelsMagic, []int{3}, lbl))))
	if err != nil || !bytes.Equal(got, lbl) {
		t.Fatalf("labels: %v %v", got, err)
	}
}

func TestReadIDXErrors(t *testing.T) {
	dir := t.TempDir()
	good := idxBytes(idxImagesMagic, []int{2, 2, 2}, make([]byte, 8))
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"labels-as-images": {idxBytes(idxLabelsMagic, []int{8}, make([]byte, 8)), "magic"},
		"truncated":        {good[:len(good)-1], "truncated"},
		"trailing":         {append(append([]byte{}, good...), 1), "trailing"},
		"zero-dim":         {idxBytes(idxImagesMagic, []int{0, 2, 2}, nil), "zero"},
		"short-header":     {good[:6], "header"},
		"truncated-gzip":   {gz(t, good)[:20], "truncated"},
	}
	for name, tc := range cases {
		p := writeFile(t, dir, name, tc.b)
		_, err := ReadIDXImages(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want one naming %s and containing %q", name, err, p, tc.want)
		}
	}
	if _, err := ReadIDXImages(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestLoadMNISTRejectsWrongBytes(t *testing.T) {
	dir := t.TempDir()
	raw := gz(t, idxBytes(idxImagesMagic, []int{1, 28, 28}, make([]byte, 784)))
	writeFile(t, dir, "t10k-images-idx3-ubyte.gz", raw)
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(t, idxBytes(idxLabelsMagic, []int{1}, []byte{1})))
	_, _, err := LoadMNIST(dir, "t10k")
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v, want a sha256 mismatch", err)
	}
	if _, _, err := LoadMNIST(dir, "test"); err == nil || !strings.Contains(err.Error(), "split") {
		t.Fatalf("bad split: err = %v", err)
	}
}

// mnistFixture loads and whitens the MNIST training set once per test binary.
var mnistFixture struct {
	once   sync.Once
	img    Images
	labels []uint8
	x      *mat.Dense
	w      Whitening
	err    error
}

func mnist(t testing.TB) (Images, []uint8, *mat.Dense, Whitening) {
	t.Helper()
	f := &mnistFixture
	f.once.Do(func() {
		var dir string
		dir, f.err = mnistdir.Find()
		if f.err != nil {
			return
		}
		f.img, f.labels, f.err = LoadMNIST(dir, "train")
		if f.err != nil {
			return
		}
		prev := runtime.GOMAXPROCS(2)
		var y *mat.Dense
		f.x, y, f.w, f.err = WhitenedMNIST(dir, 10)
		runtime.GOMAXPROCS(prev)
		if f.err == nil && !mat.Equal(y, OneHot(f.labels, 10)) {
			f.err = errors.New("WhitenedMNIST: y is not OneHot(labels, 10)")
		}
	})
	if f.err != nil {
		t.Fatalf("MNIST fixture: %v", f.err)
	}
	return f.img, f.labels, f.x, f.w
}

// Reference values: /usr/bin/python3 (Debian python3-numpy 1.24.2) running the numpy part
// of whitened_mnist() in /work/shared/bench/peer_torch.py on the GoMNIST files
// (centred float covariance, numpy.linalg.eigh, same sign rule), printed with repr().
var (
	refEig = []float64{5.1167877283420875, 3.741328478864805, 3.2526542396844818, 2.841573337266546,
		2.5670749588127775, 2.2736254916206122, 1.7251262295281946, 1.5205348976536197,
		1.4562809808876906, 1.2427293764173308}
	refZ0 = []float64{0.2148555816304777, 0.6339266842375352, 0.0533035296828303, 1.292903392835567,
		-0.06681134052732847, 0.6046151293189699, 0.6986462287839995, 0.5082027641494166,
		-1.1812983347255797, 0.6980309216566837}
	refZLast = []float64{-0.3006770280620793, 0.050115760264153215, -1.209011464612955, 0.28117048618490453,
		-0.4846256682009531, -0.6060459358391139, -1.3777312037233693, -0.4912072031386088,
		0.2837066926163142, -0.42487949341923503}
	refArgmax   = []int{550, 156, 632, 656, 408, 347, 574, 466, 268, 521}
	refCompPeak = []float64{0.10622305796759532, 0.12265020671366965, 0.13870877661546407, 0.1569904261852832,
		0.1545175554519364, 0.13994607929128877, 0.17545034777939814, 0.16191691792400303,
		0.1899191663475126, 0.15856516072124796}
	refMean350 = []float64{0.35034784313719314, 0.39888045751625867, 0.4432857516338858}
	refSyx     = [10][10]float64{
		{0.17153326950030695, 0.034965063746244474, -0.03055710037093133, 0.026947877814581755, -0.12825208565898785, -0.007127721306876294, 0.009447269354329144, -0.026635179983862934, 0.016294863331673713, 0.027635271073204043},
		{-0.16399609389200645, 0.0968192974246359, -0.01903959074148465, -0.023716713860085, -0.0680714049608122, -0.01097818011780737, 0.018875279884063897, -0.04635105996428807, 0.03935877674450048, 0.02787499603583715},
		{0.01615891793887275, 0.062354141182505485, -0.04419514459673985, -0.09786353857544969, 0.06431907509171103, -0.07303139591326334, 0.034520004385483166, 0.047341924355346066, -0.058860886971623956, 0.04735246009349255},
		{0.013098110066480472, 0.09524093308990668, 0.09755597268247955, 0.06491327524062902, 0.03056915660276317, 0.013318833202571824, -0.011344574176268466, 0.09463353393475886, -0.012061698689559126, -0.03931065786778236},
		{-0.01003043600017941, -0.11360973619233214, -0.0027797423373376665, -0.047315931916769124, 0.030586630253813807, -0.002632048936470446, -0.09851905209296719, 0.0006950128235963436, 0.017278484013751445, -0.03651280123869909},
		{0.01695890595066986, 0.025160271319623114, 0.021231945605316993, 0.05683911252200694, -0.031789559667005036, 0.05113833920374373, -0.049202140764861534, -0.01956253226231007, 0.0030099969096091888, -0.011308170180295972},
		{0.02932015418544535, 1.7871519940874906e-05, -0.059437993572057694, -0.12499320522617775, 0.045609587949010585, 0.12302129996131424, 0.03584986967289839, -0.027762367558014905, -0.0026048499645438114, -0.029750119467234094},
		{-0.04625302356036983, -0.12381395079382079, 0.016900297284434675, 0.05315762262030713, -0.061208627474032364, -0.05753706037741184, 0.09298340137432644, 0.0735122743955735, -0.02034754327248109, -0.015165000269870669},
		{-0.0005776044426537983, 0.03719351829116701, -0.002803072919053113, 0.06153929272628704, 0.08603125544664728, -0.038493089338258644, -0.01729991015919128, -0.07396571614930164, -0.007164766419211065, 0.018086845093226375},
		{-0.026212199746394597, -0.11432740958788859, 0.023124428965256835, 0.03049220865497203, 0.03220597241741619, 0.002321023622443643, -0.015310147477438618, -0.021905889591560403, 0.02509762431809407, 0.011097176728215193},
	}
	// Digit counts of the MNIST training set (as published with the data; also
	// numpy.bincount of the labels file).
	refCounts = []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
)

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Abs(want)
}

func TestWhitenMNISTMatchesNumpy(t *testing.T) {
	img, labels, x, w := mnist(t)
	if img.N != 60000 || img.Rows != 28 || img.Cols != 28 || len(labels) != 60000 {
		t.Fatalf("MNIST train shape %d x %d x %d, %d labels", img.N, img.Rows, img.Cols, len(labels))
	}
	if r, c := x.Dims(); r != 10 || c != 60000 {
		t.Fatalf("x is %d x %d", r, c)
	}
	for j, want := range refEig {
		if !relClose(w.Eigenvalues[j], want, 1e-12) {
			t.Errorf("eigenvalue %d = %.17g, numpy %.17g", j, w.Eigenvalues[j], want)
		}
	}
	for j := range refArgmax {
		row := w.Components.RawRowView(j)
		at := 0
		for i, v := range row {
			if math.Abs(v) > math.Abs(row[at]) {
				at = i
			}
		}
		if at != refArgmax[j] || row[at] <= 0 || !relClose(row[at], refCompPeak[j], 1e-10) {
			t.Errorf("component %d: peak %g at %d, numpy %g at %d", j, row[at], at, refCompPeak[j], refArgmax[j])
		}
	}
	// Our mean is the exactly rounded integer sum / (255 N); numpy's axis-0 mean sums
	// 60,000 floats naively and is off by ~1e-12 relative, hence the tolerance.
	for i, want := range refMean350 {
		if !relClose(w.Mean[350+i], want, 1e-11) {
			t.Errorf("mean[%d] = %.17g, numpy %.17g", 350+i, w.Mean[350+i], want)
		}
	}
	for j := 0; j < 10; j++ {
		if !relClose(x.At(j, 0), refZ0[j], 1e-9) || !relClose(x.At(j, 59999), refZLast[j], 1e-9) {
			t.Errorf("z[%d]: first %.17g (numpy %.17g), last %.17g (numpy %.17g)",
				j, x.At(j, 0), refZ0[j], x.At(j, 59999), refZLast[j])
		}
	}
	s := ComputeStats(x, OneHot(labels, 10))
	for i := 0; i < 10; i++ {
		for j := 0; j < 10; j++ {
			want := 0.0
			if i == j {
				want = 1
			}
			if d := math.Abs(s.Sxx.At(i, j) - want); d > 1e-10 {
				t.Errorf("Sxx[%d,%d] = %.17g, want %g (whitened)", i, j, s.Sxx.At(i, j), want)
			}
			if !relClose(s.Syx.At(i, j), refSyx[i][j], 1e-9) {
				t.Errorf("Syx[%d,%d] = %.17g, numpy %.17g", i, j, s.Syx.At(i, j), refSyx[i][j])
			}
			wantY := 0.0
			if i == j {
				wantY = float64(refCounts[i]) / 60000
			}
			if s.Syy.At(i, j) != wantY {
				t.Errorf("Syy[%d,%d] = %.17g, want %.17g (class frequency)", i, j, s.Syy.At(i, j), wantY)
			}
		}
	}
}

func TestWhitenBitReproducible(t *testing.T) {
	img, _, x, w := mnist(t) // run 1: GOMAXPROCS=2
	prev := runtime.GOMAXPROCS(1)
	x1, w1, err := Whiten(img, 10) // run 2: GOMAXPROCS=1
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	same := func(name string, a, b []float64) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: lengths %d, %d", name, len(a), len(b))
		}
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				t.Fatalf("%s[%d]: %x vs %x across GOMAXPROCS 2 and 1", name, i, math.Float64bits(a[i]), math.Float64bits(b[i]))
			}
		}
	}
	same("x", x.RawMatrix().Data, x1.RawMatrix().Data)
	same("mean", w.Mean, w1.Mean)
	same("components", w.Components.RawMatrix().Data, w1.Components.RawMatrix().Data)
	same("eigenvalues", w.Eigenvalues, w1.Eigenvalues)
	// Transform of the fitted images reproduces x bit for bit.
	x2, err := w.Transform(img)
	if err != nil {
		t.Fatal(err)
	}
	same("Transform(train)", x.RawMatrix().Data, x2.RawMatrix().Data)
}

func TestCovarianceMatchesDenseCentred(t *testing.T) {
	// Oracle: the textbook centred covariance (1/N) Xcᵀ Xc with gonum mat.Mul, on the
	// first 3000 MNIST images; the exact-integer path must agree to rounding.
	img, _, _, _ := mnist(t)
	sub := Images{N: 3000, Rows: 28, Cols: 28, Pixels: img.Pixels[:3000*784]}
	mean, cov := covariance(sub)
	xc := mat.NewDense(sub.N, 784, nil)
	for i := 0; i < sub.N; i++ {
		for j := 0; j < 784; j++ {
			xc.Set(i, j, float64(sub.Pixels[i*784+j])/255)
		}
	}
	ref := mat.NewDense(784, 784, nil)
	for j := 0; j < 784; j++ {
		col := mat.Col(nil, j, xc)
		m := 0.0
		for _, v := range col {
			m += v
		}
		m /= float64(sub.N)
		if math.Abs(m-mean[j]) > 1e-13 {
			t.Fatalf("mean[%d] = %.17g, dense %.17g", j, mean[j], m)
		}
		for i := range col {
			xc.Set(i, j, col[i]-m)
		}
	}
	ref.Mul(xc.T(), xc)
	ref.Scale(1/float64(sub.N), ref)
	worst := 0.0
	for i := 0; i < 784; i++ {
		for j := 0; j < 784; j++ {
			worst = max(worst, math.Abs(cov[i*784+j]-ref.At(i, j)))
		}
		if cov[i*784+i] < 0 {
			t.Fatalf("negative variance at %d", i)
		}
	}
	if worst > 1e-14 {
		t.Fatalf("max |cov - dense| = %g, want <= 1e-14", worst)
	}
}

func TestTransformOtherSplit(t *testing.T) {
	_, _, _, w := mnist(t)
	dir, err := mnistdir.Find()
	if err != nil {
		t.Fatal(err)
	}
	test, labels, err := LoadMNIST(dir, "t10k")
	if err != nil {
		t.Fatal(err)
	}
	if test.N != 10000 || len(labels) != 10000 {
		t.Fatalf("t10k: %d images, %d labels", test.N, len(labels))
	}
	z, err := w.Transform(test)
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: the test set comes from the same distribution, so its whitened
	// second moments are near I (loose bound; exact I holds only for the fitted set).
	s := ComputeStats(z, OneHot(labels, 10))
	for i := 0; i < 10; i++ {
		if d := s.Sxx.At(i, i); d < 0.8 || d > 1.2 {
			t.Errorf("t10k whitened variance %d = %g, want about 1", i, d)
		}
	}
	if _, err := w.Transform(Images{N: 1, Rows: 2, Cols: 2, Pixels: make([]uint8, 4)}); err == nil {
		t.Error("Transform accepted images of the wrong size")
	}
}

func TestWhitenErrors(t *testing.T) {
	// Constant images: the covariance is zero, so no eigenvalue is positive.
	img := Images{N: 5, Rows: 2, Cols: 2, Pixels: bytes.Repeat([]byte{9}, 20)}
	if _, _, err := Whiten(img, 1); err == nil || !strings.Contains(err.Error(), "not positive") {
		t.Fatalf("constant images: err = %v", err)
	}
	if _, _, err := Whiten(Images{Rows: 2, Cols: 2}, 1); err == nil {
		t.Fatal("no images: no error")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("k > pixels did not panic")
		}
	}()
	Whiten(img, 5)
}

func TestWhitenSmallByHand(t *testing.T) {
	// Oracle: 4 images of 1x2 pixels (0,0), (255,0), (0,255), (255,255)/255 -> pixels are
	// independent with variance 1/4 each, so the eigenvalues are 1/4, 1/4... degenerate;
	// use (0,0), (255,255), (255,0), (255,255) instead: mean (3/4, 1/2),
	// covariance [[3/16, 1/8], [1/8, 1/4]], eigenvalues (7 ± sqrt(17))/32.
	img := Images{N: 4, Rows: 1, Cols: 2, Pixels: []uint8{0, 0, 255, 255, 255, 0, 255, 255}}
	x, w, err := Whiten(img, 2)
	if err != nil {
		t.Fatal(err)
	}
	l1, l2 := (7+math.Sqrt(17))/32, (7-math.Sqrt(17))/32
	if !relClose(w.Eigenvalues[0], l1, 1e-14) || !relClose(w.Eigenvalues[1], l2, 1e-14) {
		t.Fatalf("eigenvalues %v, want %g %g", w.Eigenvalues, l1, l2)
	}
	if w.Mean[0] != 0.75 || w.Mean[1] != 0.5 {
		t.Fatalf("mean %v", w.Mean)
	}
	// Leading eigenvector of [[3,2],[2,4]]/16 is proportional to (2, l1*16-3), both
	// positive, so the sign rule keeps it positive.
	v := []float64{2, l1*16 - 3}
	nv := math.Hypot(v[0], v[1])
	if !relClose(w.Components.At(0, 0), v[0]/nv, 1e-13) || !relClose(w.Components.At(0, 1), v[1]/nv, 1e-13) {
		t.Fatalf("component 0 = %v, want %v", w.Components.RawRowView(0), []float64{v[0] / nv, v[1] / nv})
	}
	s := ComputeStats(x, x)
	if !mat.EqualApprox(s.Sxx, mat.NewDense(2, 2, []float64{1, 0, 0, 1}), 1e-14) {
		t.Fatalf("Sxx = %v, want I", mat.Formatted(s.Sxx))
	}
}

func TestComputeStatsSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := Synthetic(rng, 4, 50)
	s := ComputeStats(x, y)
	if s.D != 4 || s.M != 50 {
		t.Fatalf("D, M = %d, %d", s.D, s.M)
	}
	// Oracle: the definitions (1/m) sum_mu a^mu b^muᵀ by explicit loops.
	direct := func(a, b *mat.Dense) *mat.Dense {
		ra, m := a.Dims()
		rb, _ := b.Dims()
		out := mat.NewDense(ra, rb, nil)
		for i := 0; i < ra; i++ {
			for j := 0; j < rb; j++ {
				v := 0.0
				for mu := 0; mu < m; mu++ {
					v += a.At(i, mu) * b.At(j, mu)
				}
				out.Set(i, j, v/float64(m))
			}
		}
		return out
	}
	for name, pair := range map[string][2]*mat.Dense{
		"Sxx": {s.Sxx, direct(x, x)}, "Syx": {s.Syx, direct(y, x)}, "Syy": {s.Syy, direct(y, y)},
	} {
		if !mat.EqualApprox(pair[0], pair[1], 1e-13) {
			t.Errorf("%s differs from the direct sum", name)
		}
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			if s.Sxx.At(i, j) != s.Sxx.At(j, i) || s.Syy.At(i, j) != s.Syy.At(j, i) {
				t.Fatalf("Sxx or Syy not exactly symmetric at %d,%d", i, j)
			}
		}
	}
	// Same seed, same bits.
	x2, y2 := Synthetic(rand.New(rand.NewPCG(1, 2)), 4, 50)
	if !mat.Equal(x, x2) || !mat.Equal(y, y2) {
		t.Fatal("Synthetic not reproducible from the same seed")
	}
	// The target is correlated with the input (noisy linear map): Syx is not small.
	if mat.Norm(s.Syx, 2) < 0.1 {
		t.Fatalf("Syx norm %g: target looks independent of input", mat.Norm(s.Syx, 2))
	}
}

func TestOneHot(t *testing.T) {
	y := OneHot([]uint8{2, 0, 2}, 3)
	want := mat.NewDense(3, 3, []float64{0, 1, 0, 0, 0, 0, 1, 0, 1})
	if !mat.Equal(y, want) {
		t.Fatalf("OneHot = %v", mat.Formatted(y))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("label 3 with 3 classes did not panic")
		}
	}()
	OneHot([]uint8{3}, 3)
}

func TestComputeStatsPanicsOnMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	ComputeStats(mat.NewDense(2, 3, nil), mat.NewDense(2, 4, nil))
}

func TestFashionMNIST(t *testing.T) {
	dir, err := FashionMNISTDir()
	if err != nil {
		t.Skipf("Fashion-MNIST not installed: %v", err)
	}
	img, labels, err := LoadFashionMNIST(dir, "t10k")
	if err != nil {
		t.Fatal(err)
	}
	// Oracle: Fashion-MNIST's test split has exactly 1000 images per class (its README).
	counts := make([]int, 10)
	for _, l := range labels {
		counts[l]++
	}
	for c, n := range counts {
		if n != 1000 {
			t.Errorf("class %d: %d images, want 1000", c, n)
		}
	}
	if img.N != 10000 || img.Rows != 28 || img.Cols != 28 {
		t.Fatalf("shape %d x %d x %d", img.N, img.Rows, img.Cols)
	}
	// MNIST digests must not accept Fashion-MNIST files.
	if _, _, err := LoadMNIST(dir, "t10k"); err == nil {
		t.Fatal("LoadMNIST accepted Fashion-MNIST files")
	}
}

func BenchmarkLoadMNISTTrain(b *testing.B) {
	dir, err := mnistdir.Find()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := LoadMNIST(dir, "train"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWhitenMNIST measures Whiten(k=10) of all 60,000 training images.
func BenchmarkWhitenMNIST(b *testing.B) {
	img, _, _, _ := mnist(b)
	for b.Loop() {
		if _, _, err := Whiten(img, 10); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCovarianceExactInteger is the covariance step of Whiten on all MNIST.
func BenchmarkCovarianceExactInteger(b *testing.B) {
	img, _, _, _ := mnist(b)
	for b.Loop() {
		covariance(img)
	}
}

// BenchmarkCovarianceDenseGemm is the alternative that Whiten does not use: centred
// float64 rows and gonum's blocked parallel Dgemm, Xcᵀ Xc over all 60,000 images.
func BenchmarkCovarianceDenseGemm(b *testing.B) {
	img, _, _, w := mnist(b)
	xc := mat.NewDense(img.N, 784, nil)
	for i := 0; i < img.N; i++ {
		for j := 0; j < 784; j++ {
			xc.Set(i, j, float64(img.Pixels[i*784+j])/255-w.Mean[j])
		}
	}
	cov := mat.NewDense(784, 784, nil)
	for b.Loop() {
		cov.Mul(xc.T(), xc)
	}
}
