package schema

// SmallScale is the default scale of the small initialisation: 0.01 x
// Xavier (SPEC 3).
const SmallScale = 0.01

// DefaultScale reports whether s is the default scale of initialisation
// init (SmallScale for small, 1 otherwise; 0 = a table without the column).
func DefaultScale(init string, s float64) bool {
	if s == 0 {
		return true
	}
	if init == "small" {
		return s == SmallScale
	}
	return s == 1
}

// MainSamples returns, for the best rows of (net, act) at the default
// initialisation scale, the number of samples m that was run at the most
// depths (the larger m on a tie), and whether there is any such row. The
// main rows of a figure or claim are those of this m, so that a trend over
// depths rests on one data set; rows of other m (e.g. the ReLU m study at
// two depths) serve only the comparisons made for them.
func MainSamples(best []Best, net, act string) (m int64, ok bool) {
	depths := map[int64]map[int64]bool{} // m -> depths
	for _, b := range best {
		if b.Net == net && b.Activation == act && DefaultScale(b.Init, b.InitScale) {
			if depths[b.M] == nil {
				depths[b.M] = map[int64]bool{}
			}
			depths[b.M][b.Depth] = true
		}
	}
	n := -1
	for k, ds := range depths {
		if len(ds) > n || (len(ds) == n && k > m) {
			m, n = k, len(ds)
		}
	}
	return m, n >= 0
}
