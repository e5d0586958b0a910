package store

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/memtrim"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLargeEventsMemoryIsReturned: a worker that delivered a large event tells the trimmer,
// which returns the memory once no large event is in flight; small events do not. In a
// synctest bubble, so that the trimmer's quiet time passes on the bubble's clock: waiting
// out ten quiet times for a wrong trim costs no real time.
func TestLargeEventsMemoryIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const quiet = 10 * time.Millisecond
		var trims atomic.Int64
		trimmed := make(chan struct{}, 10)
		memory := memtrim.New(quiet)
		memory.OnTrim(func() { trims.Add(1); trimmed <- struct{}{} })
		d := &fakeDeliverer{}
		s := open(t, Options{DataDir: t.TempDir(), Sinks: []string{"ok"}, Deliverer: d,
			FetchPollInterval: 20 * time.Millisecond, Memory: memory})
		require.NoError(t, s.Start(context.Background()))
		t.Cleanup(func() { _ = s.Stop(context.Background()) })

		_, err := s.Accept(context.Background(), records("small"))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return d.calls()["ok"] == 1 }, 10*time.Second, 10*time.Millisecond)
		select {
		case <-trimmed:
		case <-time.After(10 * quiet): // the bubble's clock: a wrong trim would have come by now
		}
		assert.Equal(t, int64(0), trims.Load(), "a small event is no reason to trim")

		large := record("large")
		large.Raw = []byte(`{"uuid":"large","displayName":"` + strings.Repeat("x", memtrim.Large) + `"}`)
		_, err = s.Accept(context.Background(), []hookd.RoleChange{large})
		require.NoError(t, err)
		require.Eventually(t, func() bool { return d.calls()["ok"] == 2 }, 10*time.Second, 10*time.Millisecond)
		require.Eventually(t, func() bool { return trims.Load() == 1 }, 10*time.Second, 10*time.Millisecond,
			"the large event's delivery ends with a trim")
	})
}

// TestTrimDoesNotWaitForTheWriter: SQLite's Trim frees each connection's cache it can take at
// once; a connection in a transaction (here the committer's, holding the write gate) is
// passed over within shrinkWait, not waited for, and the store goes on working.
func TestTrimDoesNotWaitForTheWriter(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), Sinks: []string{"console"}})
	_, err := s.Accept(context.Background(), records("before"))
	require.NoError(t, err)
	tx, err := s.commitDB.BeginTx(context.Background(), nil)
	require.NoError(t, err)
	began := time.Now()
	s.Trim()
	assert.Less(t, time.Since(began), time.Second, "Trim waited for the transaction")
	require.NoError(t, tx.Rollback())
	res, err := s.Accept(context.Background(), records("after"))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted)
}
