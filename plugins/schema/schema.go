// Package schema defines the rows of every Parquet artifact the paper's stage
// plugins exchange. It is public so that users' own analysis plugins can read
// (and write) the same tables with artifacts/table:
//
//	rows, err := table.Read[schema.Spectrum](req.Inputs["spectra"][0])
//
// Every table repeats the network description (Net, N, Depth, Init,
// Activation) in each row, so a file is self-describing: plugins that collect
// many instances of a swept stage tell them apart by these columns, never by
// file names. Column names are snake_case; slices are Parquet LISTs. The
// tables are documented column by column in docs/parquet.md.
package schema

// Network families used in the Net column. A plain net has no shortcut; an
// n-shortcut net has residual units of n layers. Each has a default
// initialisation (SPEC section 4 and 6).
const (
	NetXavier     = "xavier"     // plain net, Xavier (Glorot normal) initialisation
	NetOrthogonal = "orthogonal" // plain net, orthogonal initialisation
	NetShortcut1  = "shortcut1"  // 1-shortcut net, 0.01 x Xavier initialisation
	NetShortcut2  = "shortcut2"  // 2-shortcut net, 0.01 x Xavier initialisation
	NetShortcut3  = "shortcut3"  // 3-shortcut net, 0.01 x Xavier initialisation
)

// Stats holds the sufficient statistics of a data set (SPEC 2): one row.
// Matrices are d x d, stored row-major.
type Stats struct {
	Dataset string    `parquet:"dataset"`
	D       int64     `parquet:"d"`
	M       int64     `parquet:"m"`
	Sxx     []float64 `parquet:"sxx,list"`
	Syx     []float64 `parquet:"syx,list"`
	Syy     []float64 `parquet:"syy,list"`
	LMin    float64   `parquet:"l_min"` // 1/2 tr(Syy - Syx Sxx^+ Syx^T)
}

// Sample is one whitened sample: input x (d values) and one-hot target y.
type Sample struct {
	Index int64     `parquet:"index"`
	Label int64     `parquet:"label"`
	X     []float64 `parquet:"x,list"`
	Y     []float64 `parquet:"y,list"`
}

// Curve is one epoch of a training run (epoch 0 is the initial point).
type Curve struct {
	Net        string  `parquet:"net"`
	N          int64   `parquet:"n"` // shortcut depth, 0 for plain nets
	Depth      int64   `parquet:"depth"`
	Init       string  `parquet:"init"`
	Activation string  `parquet:"activation"` // linear, relu, tanh, sigmoid (mid position)
	LR         float64 `parquet:"lr"`
	Replicate  int64   `parquet:"replicate"`
	Epoch      int64   `parquet:"epoch"`
	Loss       float64 `parquet:"loss"`
	GradNorm   float64 `parquet:"grad_norm"`
	AvgFrob    float64 `parquet:"avg_frob"` // mean Frobenius norm of the weight matrices
	LMin       float64 `parquet:"l_min"`
	Diverged   bool    `parquet:"diverged"`
}

// Checkpoint holds the flat weights (paper's parameter order) at one epoch.
type Checkpoint struct {
	Net        string    `parquet:"net"`
	N          int64     `parquet:"n"`
	Depth      int64     `parquet:"depth"`
	Init       string    `parquet:"init"`
	Activation string    `parquet:"activation"`
	LR         float64   `parquet:"lr"`
	Replicate  int64     `parquet:"replicate"`
	Epoch      int64     `parquet:"epoch"`
	Loss       float64   `parquet:"loss"`
	W          []float64 `parquet:"w,list"`
}

// Spectrum is the Hessian spectral summary at one point (SPEC 4).
// Point is "zero" (w = 0), "init" (the initial point) or "epoch" (a
// checkpoint along training, see Epoch).
type Spectrum struct {
	Net        string  `parquet:"net"`
	N          int64   `parquet:"n"`
	Depth      int64   `parquet:"depth"`
	Init       string  `parquet:"init"`
	Activation string  `parquet:"activation"`
	LR         float64 `parquet:"lr"`
	Replicate  int64   `parquet:"replicate"`
	Point      string  `parquet:"point"`
	Epoch      int64   `parquet:"epoch"`
	Loss       float64 `parquet:"loss"`
	GradNorm   float64 `parquet:"grad_norm"`
	P          int64   `parquet:"p"`
	AbsMax     float64 `parquet:"abs_max"`
	AbsMin     float64 `parquet:"abs_min"`
	Q10        float64 `parquet:"q10"`
	Cond       float64 `parquet:"cond"`   // AbsMax / AbsMin
	Cond10     float64 `parquet:"cond10"` // AbsMax / Q10
	Index      float64 `parquet:"index"`  // fraction of negative eigenvalues
	Pos        int64   `parquet:"pos"`
	Neg        int64   `parquet:"neg"`
	Zero       int64   `parquet:"zero"`
	ZeroTol    float64 `parquet:"zero_tol"` // absolute tolerance used for the inertia
}

// Eigenvalue is one eigenvalue (ascending K) of the Hessian at a point.
type Eigenvalue struct {
	Net   string  `parquet:"net"`
	Depth int64   `parquet:"depth"`
	Init  string  `parquet:"init"`
	Point string  `parquet:"point"`
	Epoch int64   `parquet:"epoch"`
	K     int64   `parquet:"k"`
	Value float64 `parquet:"value"`
}

// HessianRow is one row of a full Hessian matrix (paper's parameter order).
type HessianRow struct {
	Net    string    `parquet:"net"`
	Depth  int64     `parquet:"depth"`
	Point  string    `parquet:"point"`
	Row    int64     `parquet:"row"`
	Values []float64 `parquet:"values,list"`
}

// Theory compares cond(H at 0) predicted by Theorem 1 with the measured value.
type Theory struct {
	N             int64   `parquet:"n"`
	Depth         int64   `parquet:"depth"`
	CondTheory    float64 `parquet:"cond_theory"` // +Inf where the Hessian is 0 (n >= 3)
	CondMeasured  float64 `parquet:"cond_measured"`
	Cond10Measure float64 `parquet:"cond10_measured"`
	AbsMax        float64 `parquet:"abs_max"`
}

// Best is the learning rate with the lowest mean final loss over seeds for one
// network and depth (SPEC 4).
type Best struct {
	Net           string  `parquet:"net"`
	N             int64   `parquet:"n"`
	Depth         int64   `parquet:"depth"`
	Init          string  `parquet:"init"`
	Activation    string  `parquet:"activation"`
	LR            float64 `parquet:"lr"`
	MeanFinalLoss float64 `parquet:"mean_final_loss"`
	StdFinalLoss  float64 `parquet:"std_final_loss"`
	Seeds         int64   `parquet:"seeds"`
	LRsTried      int64   `parquet:"lrs_tried"`
	LMin          float64 `parquet:"l_min"`
}

// Check is one numerical check of a theorem (SPEC 3) with its numbers.
type Check struct {
	ID        string  `parquet:"id"`
	Theorem   string  `parquet:"theorem"`
	Data      string  `parquet:"data"` // mnist, synthetic
	Claim     string  `parquet:"claim"`
	Measured  float64 `parquet:"measured"`
	Tolerance float64 `parquet:"tolerance"`
	Detail    string  `parquet:"detail"`
	Pass      bool    `parquet:"pass"`
}

// Claim is one claim of the paper as evaluated by the report: PASS or FAIL
// with the measured numbers and the criterion (SPEC 3 and 5).
type Claim struct {
	ID        string `parquet:"id"`
	Source    string `parquet:"source"` // e.g. "SPEC 3 T2", "fig5"
	Claim     string `parquet:"claim"`
	Measured  string `parquet:"measured"`
	Criterion string `parquet:"criterion"`
	Status    string `parquet:"status"` // PASS, FAIL, or SKIP (not enough data in this manifest)
	Smoke     bool   `parquet:"smoke"`  // expected to hold at smoke size (checked by CI)
}
