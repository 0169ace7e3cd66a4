package engine

import (
	"runtime"
	"sync"
)

// parallelFor calls fn(i) for every i in [0, n), spread over GOMAXPROCS
// goroutines in contiguous chunks; it returns when all calls have returned.
// fn must be safe to call concurrently for different i.
func parallelFor(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 || n < 256 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
