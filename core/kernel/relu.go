package kernel

// ReLU writes out[i] = x[i] and d1[i] = 1 where x[i] > 0, and out[i] = d1[i]
// = +0 elsewhere (at 0, at -0 and for NaN: relu'(0) = 0, the autodiff
// convention). out and d1 must be at least as long as x; they may not
// overlap x unless they are x itself. The amd64 kernel (AVX2) is a
// comparison mask and two ANDs, with the same bits; it has no branches, so
// its time does not depend on the signs of the data.
func ReLU(out, d1, x []float64) {
	if len(out) < len(x) || len(d1) < len(x) {
		panic("kernel: ReLU destination shorter than x")
	}
	relu(out, d1, x)
}

// reluGeneric is the reference implementation of ReLU (plain Go).
func reluGeneric(out, d1, x []float64) {
	for i, v := range x {
		var o, g float64
		if v > 0 {
			o, g = v, 1
		}
		out[i] = o
		d1[i] = g
	}
}
