//go:build !lapacke

package bench

// setBLASThreads does nothing in the pure-Go build (gonum's BLAS uses
// GOMAXPROCS).
func setBLASThreads(int) {}

// blasThreads returns 0 in the pure-Go build: there is no native BLAS.
func blasThreads() int { return 0 }
