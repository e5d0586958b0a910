package parts

import (
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOf(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	assert.Equal(t, 1, Of(0, 1024))
	assert.Equal(t, 1, Of(1023, 1024))
	assert.Equal(t, min(procs, 2), Of(2048, 1024))
	assert.Equal(t, procs, Of(procs*1024, 1024))
}

// TestDoCoversEveryItemOnce: the ranges cover the n items, in order, each once, whatever the
// split; the i-th range is part i.
func TestDoCoversEveryItemOnce(t *testing.T) {
	for _, c := range []struct{ n, parts int }{{0, 1}, {5, 1}, {10, 3}, {7, 7}, {3, 4}, {1000, 2}} {
		seen := make([]int, c.n)
		var mu sync.Mutex
		var ranges [][2]int
		Do(c.n, c.parts, func(i, lo, hi int) {
			for k := lo; k < hi; k++ {
				seen[k]++
			}
			mu.Lock()
			defer mu.Unlock()
			for len(ranges) <= i {
				ranges = append(ranges, [2]int{})
			}
			ranges[i] = [2]int{lo, hi}
		})
		for k, times := range seen {
			assert.Equal(t, 1, times, "n=%d parts=%d item %d", c.n, c.parts, k)
		}
		for i := 1; i < len(ranges); i++ {
			assert.Equal(t, ranges[i-1][1], ranges[i][0], "part %d starts where part %d ends", i, i-1)
		}
	}
}
