package memtrim

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counting is a Trimmer whose trims are counted instead of done.
func counting(quiet time.Duration) (*Trimmer, *atomic.Int64, *atomic.Int64) {
	var trims, frees atomic.Int64
	t := New(quiet)
	t.OnTrim(func() { trims.Add(1) })
	t.free = func() { frees.Add(1) }
	return t, &trims, &frees
}

func TestTrimsOnceABurstIsOver(t *testing.T) {
	tr, trims, frees := counting(20 * time.Millisecond)
	ends := []func(){tr.Begin(), tr.Begin(), tr.Begin()}
	for _, end := range ends {
		end()
		end() // a second call is a no-op, not a second end
	}
	require.Eventually(t, func() bool { return frees.Load() == 1 }, 2*time.Second, 5*time.Millisecond)
	time.Sleep(60 * time.Millisecond)
	assert.Equal(t, int64(1), frees.Load(), "one trim per burst, not one per large piece of work")
	assert.Equal(t, int64(1), trims.Load(), "the trim functions run before memory is freed")
}

func TestNoTrimWhileLargeWorkIsInFlight(t *testing.T) {
	tr, _, frees := counting(10 * time.Millisecond)
	tr.Begin()() // a burst ends: the timer is armed
	long := tr.Begin()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, int64(0), frees.Load(), "large work began again before the quiet time passed")
	long()
	require.Eventually(t, func() bool { return frees.Load() == 1 }, 2*time.Second, 5*time.Millisecond)
}

func TestSmallWorkAndNilTrimmerDoNothing(t *testing.T) {
	tr, _, frees := counting(time.Millisecond)
	tr.Size(Large - 1)()
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, int64(0), frees.Load())
	tr.Size(Large)()
	require.Eventually(t, func() bool { return frees.Load() == 1 }, 2*time.Second, time.Millisecond)

	var none *Trimmer
	none.Size(Large)()
	none.Begin()()
}
