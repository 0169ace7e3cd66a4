//go:build !amd64 || noasm

package kernel

func dot(x, y []float64) float64 { return dotGeneric(x, y) }

func axpy(alpha float64, x, y []float64) { axpyGeneric(alpha, x, y) }
