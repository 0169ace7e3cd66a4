//go:build lapacke

package bench

// The native build links OpenBLAS (through core/spectrum's LAPACKE dsyevd); its
// thread count is set here so that `--threads` governs both Go and OpenBLAS.

/*
#cgo LDFLAGS: -lopenblas
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
*/
import "C"

// setBLASThreads sets OpenBLAS's thread count.
func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// blasThreads returns OpenBLAS's thread count.
func blasThreads() int { return int(C.openblas_get_num_threads()) }
