// Package parts shares work on the items of a slice among the processors: a delivery at the
// body limit holds thousands of events, and Okta waits while hookd reads and encodes them.
package parts

import (
	"runtime"
	"sync"
)

// Of is how many parts n items are shared among: one per processor, each of at least from
// items; 1 when n is smaller than twice from.
func Of(n, from int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/from))
}

// Do calls fn on parts consecutive ranges [lo, hi) that cover n items, the i-th range
// being part i, each on its own goroutine, and returns once all have returned. With one
// part it calls fn itself.
func Do(n, parts int, fn func(i, lo, hi int)) {
	if parts <= 1 {
		fn(0, 0, n)
		return
	}
	size := (n + parts - 1) / parts
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := min(i*size, n), min((i+1)*size, n)
		wg.Go(func() { fn(i, lo, hi) })
	}
	wg.Wait()
}
