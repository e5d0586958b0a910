package memtrim

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counting is a Trimmer whose trims are counted instead of done; freed has a value for each
// time memory would have been returned.
func counting(quiet time.Duration) (tr *Trimmer, trims, frees *atomic.Int64, freed chan struct{}) {
	trims, frees, freed = new(atomic.Int64), new(atomic.Int64), make(chan struct{}, 10)
	tr = New(quiet)
	tr.OnTrim(func() { trims.Add(1) })
	tr.free = func() { frees.Add(1); freed <- struct{}{} }
	return tr, trims, frees, freed
}

// The tests run in a synctest bubble: the quiet time passes on the bubble's clock, at once
// and exactly, once every goroutine of the test waits; waiting a long while for a trim that
// must not come costs no real time.

// noFree fails the test if memory is freed within d of the bubble's time.
func noFree(t *testing.T, freed <-chan struct{}, d time.Duration, why string) {
	t.Helper()
	select {
	case <-freed:
		t.Fatal(why)
	case <-time.After(d):
	}
}

// waitFree waits for memory to be freed and returns how long that took on the bubble's clock.
func waitFree(t *testing.T, freed <-chan struct{}) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-freed:
		return time.Since(start)
	case <-time.After(time.Hour):
		t.Fatal("memory was never freed")
		return 0
	}
}

func TestTrimsOnceABurstIsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const quiet = 20 * time.Millisecond
		tr, trims, frees, freed := counting(quiet)
		ends := []func(){tr.Begin(), tr.Begin(), tr.Begin()}
		for _, end := range ends {
			end()
			end() // a second call is a no-op, not a second end
		}
		assert.Equal(t, quiet, waitFree(t, freed), "freed once the quiet time has passed")
		noFree(t, freed, time.Hour, "one trim per burst, not one per large piece of work")
		assert.Equal(t, int64(1), frees.Load(), "one trim per burst, not one per large piece of work")
		assert.Equal(t, int64(1), trims.Load(), "the trim functions run before memory is freed")
	})
}

func TestNoTrimWhileLargeWorkIsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const quiet = 10 * time.Millisecond
		tr, _, frees, freed := counting(quiet)
		tr.Begin()() // a burst ends: the timer is armed
		long := tr.Begin()
		noFree(t, freed, 5*quiet, "large work began again before the quiet time passed")
		assert.Equal(t, int64(0), frees.Load(), "large work began again before the quiet time passed")
		long()
		assert.Equal(t, quiet, waitFree(t, freed), "freed a quiet time after the last large work ended")
		require.Equal(t, int64(1), frees.Load())
	})
}

func TestSmallWorkAndNilTrimmerDoNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, _, frees, freed := counting(time.Millisecond)
		tr.Size(Large - 1)()
		noFree(t, freed, time.Hour, "small work is no reason to trim")
		assert.Equal(t, int64(0), frees.Load())
		tr.Size(Large)()
		assert.Equal(t, time.Millisecond, waitFree(t, freed))
		require.Equal(t, int64(1), frees.Load())

		var none *Trimmer
		none.Size(Large)()
		none.Begin()()
	})
}
