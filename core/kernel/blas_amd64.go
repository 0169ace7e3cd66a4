//go:build amd64 && !noasm

package kernel

import "golang.org/x/sys/cpu"

// useAVX reports whether the AVX2+FMA kernels run (checked once at start-up;
// they give the same bits as the plain-Go ones, tested).
var useAVX = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX(x, y []float64) float64

//go:noescape
func axpyAVX(alpha float64, x, y []float64)

func dot(x, y []float64) float64 {
	if useAVX {
		return dotAVX(x, y[:len(x)])
	}
	return dotGeneric(x, y)
}

func axpy(alpha float64, x, y []float64) {
	if useAVX {
		axpyAVX(alpha, x, y[:len(x)])
		return
	}
	axpyGeneric(alpha, x, y)
}
