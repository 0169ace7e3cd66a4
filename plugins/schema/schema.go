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

// Nets lists every network family in the fixed order tables, legends and
// error messages use; PlainNets the two without shortcuts. Callers must not
// modify them.
var (
	Nets      = []string{NetXavier, NetOrthogonal, NetShortcut1, NetShortcut2, NetShortcut3}
	PlainNets = []string{NetXavier, NetOrthogonal}
)

// Width is the width d of every network of the reproduction (SPEC 4): the
// length of every x and y vector in these tables.
const Width = 10

// Stats holds the sufficient statistics of a data set (SPEC 2): one row.
// Matrices are d x d, stored row-major.
type Stats struct {
	Dataset string    `parquet:"dataset"`  // data set: mnist, fashion or synthetic
	D       int64     `parquet:"d"`        // width d (inputs and outputs)
	M       int64     `parquet:"m"`        // number of samples the statistics average over
	Sxx     []float64 `parquet:"sxx,list"` // (1/m) X X^T, d x d row-major
	Syx     []float64 `parquet:"syx,list"` // (1/m) Y X^T, d x d row-major
	Syy     []float64 `parquet:"syy,list"` // (1/m) Y Y^T, d x d row-major
	LMin    float64   `parquet:"l_min"`    // 1/2 tr(Syy - Syx Sxx^+ Syx^T)
}

// Sample is one whitened sample: input x (d values) and one-hot target y.
type Sample struct {
	Index int64     `parquet:"index"`  // position of the sample in the data set
	Label int64     `parquet:"label"`  // class (digit) of the sample; -1 for synthetic data
	X     []float64 `parquet:"x,list"` // whitened input, d values
	Y     []float64 `parquet:"y,list"` // one-hot target, d values
}

// Curve is one epoch of a training run (epoch 0 is the initial point).
type Curve struct {
	Net        string  `parquet:"net"`        // network family: xavier, orthogonal, shortcut1, shortcut2, shortcut3
	N          int64   `parquet:"n"`          // shortcut depth, 0 for plain nets
	Depth      int64   `parquet:"depth"`      // number of weight layers D
	Init       string  `parquet:"init"`       // initialisation: xavier, orthogonal, small (0.01 x Xavier), zero, identity
	Activation string  `parquet:"activation"` // linear, relu, tanh, sigmoid (mid position)
	LR         float64 `parquet:"lr"`         // learning rate (0 where not trained)
	Replicate  int64   `parquet:"replicate"`  // replicate number: with the net fields it names the initial weights (see Init)
	Epoch      int64   `parquet:"epoch"`      // number of full-batch GD steps taken (0 = initial point)
	Loss       float64 `parquet:"loss"`       // training loss 1/(2m) ||Y - f(X)||_F^2
	GradNorm   float64 `parquet:"grad_norm"`  // Euclidean norm of the gradient
	AvgFrob    float64 `parquet:"avg_frob"`   // mean Frobenius norm of the weight matrices
	LMin       float64 `parquet:"l_min"`      // L_min of the data used: 1/2 tr(Syy - Syx Sxx^+ Syx^T) of the m samples the loss averages over
	Diverged   bool    `parquet:"diverged"`   // true from the epoch the loss became non-finite (loss and norms are then +Inf)
	Dataset    string  `parquet:"dataset"`    // data set of the stats input: mnist, fashion or synthetic
	M          int64   `parquet:"m"`          // number of samples the loss averages over (linear nets: all of the stats; nonlinear: the first m samples)
	InitScale  float64 `parquet:"init_scale"` // factor applied to the initialisation's draws (small: 0.01 unless overridden; 1 for xavier, orthogonal, identity)
	WNorm      float64 `parquet:"w_norm"`     // Euclidean norm of all weights ||w||_2, the distance from w = 0: set at epoch 0, at saved checkpoints and at the last epoch, NaN at other epochs (+Inf after a divergence)
}

// Checkpoint holds the flat weights (paper's parameter order) at one epoch.
type Checkpoint struct {
	Net        string    `parquet:"net"`        // network family: xavier, orthogonal, shortcut1, shortcut2, shortcut3
	N          int64     `parquet:"n"`          // shortcut depth n, 0 for plain nets
	Depth      int64     `parquet:"depth"`      // number of weight layers D
	Init       string    `parquet:"init"`       // initialisation: xavier, orthogonal, small (0.01 x Xavier), zero, identity
	Activation string    `parquet:"activation"` // activation at the mid positions: linear, relu, tanh, sigmoid
	LR         float64   `parquet:"lr"`         // learning rate (0 where not trained)
	Replicate  int64     `parquet:"replicate"`  // replicate number: with the net fields it names the initial weights (see Init)
	Epoch      int64     `parquet:"epoch"`      // number of full-batch GD steps taken (0 = initial point)
	Loss       float64   `parquet:"loss"`       // training loss 1/(2m) ||Y - f(X)||_F^2
	W          []float64 `parquet:"w,list"`     // flat weights in the paper parameter order (unit, matrix, column, row)
	InitScale  float64   `parquet:"init_scale"` // factor applied to the initialisation's draws (see Curve)
}

// Init holds the initial weights of one network replicate: written by
// train.init, read by train, hessian.point and hessian.trajectory, so that
// every stage that needs "replicate r of net X at depth D" starts from
// exactly these weights. The weights depend only on the columns below
// (net, depth, activation, init, init_scale, replicate) and the manifest
// seed: never on a learning rate, a number of epochs or the stage using
// them. One row.
type Init struct {
	Net        string    `parquet:"net"`        // network family: xavier, orthogonal, shortcut1, shortcut2, shortcut3
	N          int64     `parquet:"n"`          // shortcut depth n, 0 for plain nets
	Depth      int64     `parquet:"depth"`      // number of weight layers D
	Init       string    `parquet:"init"`       // initialisation: xavier, orthogonal, small (0.01 x Xavier), zero, identity
	Activation string    `parquet:"activation"` // activation at the mid positions: linear, relu, tanh, sigmoid
	InitScale  float64   `parquet:"init_scale"` // factor applied to the initialisation's draws (see Curve)
	Replicate  int64     `parquet:"replicate"`  // replicate number
	WNorm      float64   `parquet:"w_norm"`     // ||w||_2 of the weights
	W          []float64 `parquet:"w,list"`     // flat weights in the paper parameter order (unit, matrix, column, row)
}

// Spectrum is the Hessian spectral summary at one point (SPEC 4).
// Point is "zero" (w = 0), "init" (the initial point) or "epoch" (a
// checkpoint along training, see Epoch).
type Spectrum struct {
	Net        string  `parquet:"net"`        // network family: xavier, orthogonal, shortcut1, shortcut2, shortcut3
	N          int64   `parquet:"n"`          // shortcut depth n, 0 for plain nets
	Depth      int64   `parquet:"depth"`      // number of weight layers D
	Init       string  `parquet:"init"`       // initialisation: xavier, orthogonal, small (0.01 x Xavier), zero, identity
	Activation string  `parquet:"activation"` // activation at the mid positions: linear, relu, tanh, sigmoid
	LR         float64 `parquet:"lr"`         // learning rate (0 where not trained)
	Replicate  int64   `parquet:"replicate"`  // replicate number: with the net fields it names the initial weights (see Init); with lr it names the training run
	Point      string  `parquet:"point"`      // zero (w = 0), init (initial point) or epoch (checkpoint along training)
	Epoch      int64   `parquet:"epoch"`      // number of full-batch GD steps taken (0 = initial point)
	Loss       float64 `parquet:"loss"`       // training loss 1/(2m) ||Y - f(X)||_F^2
	GradNorm   float64 `parquet:"grad_norm"`  // Euclidean norm of the gradient
	P          int64   `parquet:"p"`          // number of parameters P = D d^2
	AbsMax     float64 `parquet:"abs_max"`    // largest |eigenvalue|
	AbsMin     float64 `parquet:"abs_min"`    // smallest |eigenvalue|
	Q10        float64 `parquet:"q10"`        // 10th percentile of |eigenvalues| (linear interpolation)
	Cond       float64 `parquet:"cond"`       // AbsMax / AbsMin
	Cond10     float64 `parquet:"cond10"`     // AbsMax / Q10
	Index      float64 `parquet:"index"`      // fraction of negative eigenvalues
	Pos        int64   `parquet:"pos"`        // eigenvalues > zero_tol
	Neg        int64   `parquet:"neg"`        // eigenvalues < -zero_tol
	Zero       int64   `parquet:"zero"`       // eigenvalues within zero_tol of 0
	ZeroTol    float64 `parquet:"zero_tol"`   // absolute tolerance used for the inertia
	Dataset    string  `parquet:"dataset"`    // data set of the stats input: mnist, fashion or synthetic
	M          int64   `parquet:"m"`          // number of samples the loss averages over (see Curve)
	InitScale  float64 `parquet:"init_scale"` // factor applied to the initialisation's draws (see Curve)
	WNorm      float64 `parquet:"w_norm"`     // ||w||_2 at the point (distance from w = 0)
	HFrob      float64 `parquet:"h_frob"`     // Frobenius norm ||H(w)||_F of the Hessian at the point
	HDist0     float64 `parquet:"h_dist0"`    // ||H(w) - H(0)||_F / ||H(0)||_F, H(0) the Hessian at w = 0 of the same net; NaN where not computed (point zero, init) or H(0) = 0 (n >= 3, plain depth >= 3)
}

// Eigenvalue is one eigenvalue (ascending K) of the Hessian at a point.
type Eigenvalue struct {
	Net       string  `parquet:"net"`        // network family: xavier, orthogonal, shortcut1, shortcut2, shortcut3
	Depth     int64   `parquet:"depth"`      // number of weight layers D
	Init      string  `parquet:"init"`       // initialisation: xavier, orthogonal, small (0.01 x Xavier), zero, identity
	Point     string  `parquet:"point"`      // zero (w = 0), init (initial point) or epoch (checkpoint along training)
	Epoch     int64   `parquet:"epoch"`      // number of full-batch GD steps taken (0 = initial point)
	K         int64   `parquet:"k"`          // position in ascending order
	Value     float64 `parquet:"value"`      // eigenvalue
	LR        float64 `parquet:"lr"`         // learning rate of the run (0 where not trained)
	Replicate int64   `parquet:"replicate"`  // replicate number (see Spectrum)
	InitScale float64 `parquet:"init_scale"` // factor applied to the initialisation's draws (see Curve)
}

// HessianRow is one row of a full Hessian matrix (paper's parameter order).
type HessianRow struct {
	Net       string    `parquet:"net"`         // network family: xavier, orthogonal, shortcut1, shortcut2, shortcut3
	Depth     int64     `parquet:"depth"`       // number of weight layers D
	Point     string    `parquet:"point"`       // zero (w = 0), init (initial point) or epoch (checkpoint along training)
	Row       int64     `parquet:"row"`         // row of the Hessian
	Values    []float64 `parquet:"values,list"` // the row, P values
	Replicate int64     `parquet:"replicate"`   // replicate number (see Spectrum)
}

// Theory compares cond(H at 0) predicted by Theorem 1 with the measured value.
type Theory struct {
	N             int64   `parquet:"n"`               // shortcut depth n, 0 for plain nets
	Depth         int64   `parquet:"depth"`           // number of weight layers D
	CondTheory    float64 `parquet:"cond_theory"`     // +Inf where the Hessian is 0 (n >= 3)
	CondMeasured  float64 `parquet:"cond_measured"`   // |lambda|max/|lambda|min of the exact Hessian at 0
	Cond10Measure float64 `parquet:"cond10_measured"` // cond_10 of the exact Hessian at 0
	AbsMax        float64 `parquet:"abs_max"`         // largest |eigenvalue|
}

// Best is the learning rate with the lowest mean final loss over seeds for one
// network and depth (SPEC 4), with what is needed to judge it: where it sits
// in the grid, its neighbours, the largest stable rate, the per-replicate
// final losses, escape epochs and distances from w = 0. One row per (net,
// init, init_scale, activation, dataset, m, depth). Per-replicate lists are
// in replicate order (column replicates).
type Best struct {
	Net           string  `parquet:"net"`             // network family: xavier, orthogonal, shortcut1, shortcut2, shortcut3
	N             int64   `parquet:"n"`               // shortcut depth n, 0 for plain nets
	Depth         int64   `parquet:"depth"`           // number of weight layers D
	Init          string  `parquet:"init"`            // initialisation: xavier, orthogonal, small (0.01 x Xavier), zero, identity
	Activation    string  `parquet:"activation"`      // activation at the mid positions: linear, relu, tanh, sigmoid
	LR            float64 `parquet:"lr"`              // learning rate (0 where not trained)
	MeanFinalLoss float64 `parquet:"mean_final_loss"` // final loss averaged over replicates (+Inf if any diverged)
	StdFinalLoss  float64 `parquet:"std_final_loss"`  // standard deviation of the final loss over replicates
	Seeds         int64   `parquet:"seeds"`           // replicates averaged
	LRsTried      int64   `parquet:"lrs_tried"`       // learning rates compared
	LMin          float64 `parquet:"l_min"`           // L_min of the data used (see Curve): the m samples the loss averages over

	Dataset         string    `parquet:"dataset"`                // data set of the stats input: mnist, fashion or synthetic
	M               int64     `parquet:"m"`                      // number of samples the loss averages over (see Curve)
	InitScale       float64   `parquet:"init_scale"`             // factor applied to the initialisation's draws (see Curve)
	Epochs          int64     `parquet:"epochs"`                 // number of GD steps of every run
	LRMinTried      float64   `parquet:"lr_min_tried"`           // smallest learning rate run
	LRMaxTried      float64   `parquet:"lr_max_tried"`           // largest learning rate run
	AtGridEdge      bool      `parquet:"at_grid_edge"`           // the best rate is the smallest or the largest run: the optimum is not bracketed (a diverged neighbour does bracket it)
	LRBelow         float64   `parquet:"lr_below"`               // the next smaller rate run (NaN if none)
	LRAbove         float64   `parquet:"lr_above"`               // the next larger rate run (NaN if none)
	MeanLossBelow   float64   `parquet:"mean_loss_below"`        // mean final loss at lr_below (+Inf if a replicate diverged, NaN if none)
	MeanLossAbove   float64   `parquet:"mean_loss_above"`        // mean final loss at lr_above (+Inf if a replicate diverged, NaN if none)
	MaxStableLR     float64   `parquet:"max_stable_lr"`          // largest rate at which no replicate diverged (NaN if every rate diverged)
	MaxStableAtEdge bool      `parquet:"max_stable_at_edge"`     // max_stable_lr is the largest rate run: the stability limit lies beyond the grid
	Replicates      []int64   `parquet:"replicates,list"`        // replicate numbers at the best rate, ascending
	FinalLosses     []float64 `parquet:"final_losses,list"`      // final loss of each replicate at the best rate (+Inf if diverged)
	MinFinalLoss    float64   `parquet:"min_final_loss"`         // smallest of final_losses
	MaxFinalLoss    float64   `parquet:"max_final_loss"`         // largest of final_losses
	InitLoss        float64   `parquet:"init_loss"`              // mean loss at epoch 0 over the replicates (L(0))
	EscapeFraction  float64   `parquet:"escape_fraction"`        // f of the escape epoch definition (stagekit.EscapeFraction = 0.1)
	EscapeEpochs    []int64   `parquet:"escape_epochs,list"`     // per replicate at the best rate: first epoch e with L(e) - L_min <= (1 - f) (L(0) - L_min); -1 if never
	FinalWNorms     []float64 `parquet:"final_w_norms,list"`     // per replicate at the best rate: ||w||_2 of the trained weights (distance from w = 0)
	MeanFinalWNorm  float64   `parquet:"mean_final_w_norm"`      // mean of final_w_norms
	MeanFinalFrob   float64   `parquet:"mean_final_avg_frob"`    // mean over replicates of the final avg_frob (mean Frobenius norm of the weight matrices)
	LRs             []float64 `parquet:"lrs,list"`               // every rate run, ascending
	MeanFinalLosses []float64 `parquet:"mean_final_losses,list"` // mean final loss at each rate of lrs (+Inf where a replicate diverged)
}

// Check is one numerical check of a theorem (SPEC 3) with its numbers.
type Check struct {
	ID        string  `parquet:"id"`        // stable identifier
	Theorem   string  `parquet:"theorem"`   // T1 ... T6 or relu
	Data      string  `parquet:"data"`      // mnist, synthetic
	Claim     string  `parquet:"claim"`     // the claim in words
	Measured  float64 `parquet:"measured"`  // the measured number
	Tolerance float64 `parquet:"tolerance"` // the tolerance it is compared with
	Detail    string  `parquet:"detail"`    // how it was measured
	Pass      bool    `parquet:"pass"`      // the check passed
}

// Claim is one claim of the paper as evaluated by the report: PASS, FAIL or
// SKIP, with the statement of the paper it formalises, the figure that shows
// it, its criterion and the numbers that decided it (docs/claims.md).
type Claim struct {
	ID           string    `parquet:"id"`                // stable identifier
	Status       string    `parquet:"status"`            // PASS, FAIL, or SKIP (the inputs lack the rows it needs)
	Statement    string    `parquet:"statement"`         // the statement of PAPER.md it formalises, e.g. "S4.3" (several joined by "+"), or "SPEC 3 T2"
	Figure       string    `parquet:"figure"`            // the figure that shows it, e.g. "fig7" ("" when none)
	Kind         string    `parquet:"kind"`              // theorem, stated, inferred, unstated or deciding (docs/claims.md)
	Claim        string    `parquet:"claim"`             // the claim in words
	Criterion    string    `parquet:"criterion"`         // the documented criterion with its threshold
	OldCriterion string    `parquet:"old_criterion"`     // the previous report's criterion of a re-formalised claim ("" otherwise)
	Value        float64   `parquet:"value"`             // the decisive measured number (NaN for SKIP)
	Threshold    float64   `parquet:"threshold"`         // the threshold Value is compared with
	Comparison   string    `parquet:"comparison"`        // how Value must compare with Threshold to PASS: <, <=, >, >=
	Spread       float64   `parquet:"spread"`            // the seed-to-seed spread the decision was judged against (NaN if none)
	Seeds        int64     `parquet:"seeds"`             // the smallest number of seeds behind any point used
	Depths       []int64   `parquet:"depths,list"`       // the depths used
	PointX       []float64 `parquet:"point_x,list"`      // the points used: abscissae (see PointWhat)
	PointY       []float64 `parquet:"point_y,list"`      // the points used: values
	PointSeries  []string  `parquet:"point_series,list"` // the series (net, net/seed) each point belongs to
	PointWhat    string    `parquet:"point_what"`        // what PointX and PointY are, e.g. "depth -> relative excess loss"
	Measured     string    `parquet:"measured"`          // the numbers as text ("not evaluated: ..." for SKIP)
	Smoke        bool      `parquet:"smoke"`             // must PASS at smoke size (theorem claims; checked by CI)
}
