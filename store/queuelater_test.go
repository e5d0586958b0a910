package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func bigRequest(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%05d", prefix, i)
	}
	return ids
}

// keptRow writes a row of console jobs for events, as a commit keeps them, without queueing it.
func keptRow(t *testing.T, s *Store, events ...string) int64 {
	t.Helper()
	jobs := make([]river.InsertManyParams, len(events))
	for i, e := range events {
		jobs[i] = river.InsertManyParams{Args: DeliveryArgs{EventID: e, Sink: "console"}}
	}
	var id int64
	require.NoError(t, s.inTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		id, err = s.keepJobs(context.Background(), tx, jobs)
		return err
	}))
	return id
}

// keptRows is how many rows of jobs to queue later were ever written (their ids).
func keptRows(t *testing.T, s *Store) int {
	t.Helper()
	if s.dialect == sqlite {
		return count(t, s, `SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'hookd_queue_later'`)
	}
	return count(t, s, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM hookd_queue_later_id_seq`)
}

// jobsPerEvent counts delivery jobs by event.
func jobsPerEvent(t *testing.T, s *Store) map[string]int {
	t.Helper()
	rows, err := s.DB().Query(`SELECT args FROM river_job WHERE kind = $1`, DeliveryArgs{}.Kind())
	if s.dialect == sqlite {
		rows, err = s.DB().Query(`SELECT json(args) FROM river_job WHERE kind = $1`, DeliveryArgs{}.Kind())
	}
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var raw string
		require.NoError(t, rows.Scan(&raw))
		var a DeliveryArgs
		require.NoError(t, json.Unmarshal([]byte(raw), &a))
		out[a.EventID]++
	}
	require.NoError(t, rows.Err())
	return out
}

// TestLargeRequestQueuesItsJobsAfterTheAnswer: a request whose commit holds queueLaterFrom
// jobs or more keeps them as one row in it (on Postgres a large request is shared among the
// committers, a commit each); they are queued right after, each event's once.
func TestLargeRequestQueuesItsJobsAfterTheAnswer(t *testing.T) {
	consoleStores(t, func(t *testing.T, o Options, s *Store) {
		ids := bigRequest("big", s.committers*(queueLaterFrom+1))
		res, err := s.Accept(context.Background(), records(ids...))
		require.NoError(t, err)
		assert.Equal(t, len(ids), res.Accepted)
		require.Eventually(t, func() bool {
			return count(t, s, `SELECT count(*) FROM hookd_queue_later`) == 0
		}, 10*time.Second, 10*time.Millisecond, "the kept jobs are queued")
		assert.Equal(t, s.committers, keptRows(t, s), "each commit kept its jobs as one row")
		jobs := jobsPerEvent(t, s)
		assert.Len(t, jobs, len(ids))
		for _, id := range ids {
			assert.Equal(t, 1, jobs[dbKey(id)], id)
		}

		small := bigRequest("small", 3)
		_, err = s.Accept(context.Background(), records(small...))
		require.NoError(t, err)
		assert.Equal(t, 1, jobsPerEvent(t, s)[dbKey(small[0])], "a small request queues its jobs in its commit")
		assert.Equal(t, s.committers, keptRows(t, s), "and keeps no row")
	})
}

// TestKeptJobsSurviveACrash: jobs kept by a commit whose process died before queueing them
// are queued when the store opens next.
func TestKeptJobsSurviveACrash(t *testing.T) {
	consoleStores(t, func(t *testing.T, o Options, s *Store) {
		// What a commit leaves when the process dies right after it: the row, unqueued.
		keptRow(t, s, "crashed-1", "crashed-2")
		require.NoError(t, s.Close())
		s = open(t, o)
		require.Eventually(t, func() bool {
			return count(t, s, `SELECT count(*) FROM hookd_queue_later`) == 0
		}, queueSweep/2, 10*time.Millisecond, "queued at start, not at the first sweep")
		assert.Equal(t, map[string]int{"crashed-1": 1, "crashed-2": 1}, jobsPerEvent(t, s))
	})
}

// TestKeptJobsQueuedOnce: two replicas (or a sweep and a hand-over) queueing the same row
// at once queue its jobs once.
func TestKeptJobsQueuedOnce(t *testing.T) {
	consoleStores(t, func(t *testing.T, o Options, s *Store) {
		id := keptRow(t, s, "once")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = s.queueKept(context.Background(), id) })
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		assert.Equal(t, map[string]int{"once": 1}, jobsPerEvent(t, s))
	})
}

// TestKeptJobsCountAsPending: jobs a large commit kept to queue later are delivery jobs not
// finished yet, for the queue depth and the pending gauge, before they reach River's queue.
func TestKeptJobsCountAsPending(t *testing.T) {
	consoleStores(t, func(t *testing.T, o Options, s *Store) {
		id := keptRow(t, s, "kept-1", "kept-2", "kept-3")
		counts, err := s.JobCounts(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(3), counts["pending"])
		require.NoError(t, s.queueKept(context.Background(), id))
		counts, err = s.JobCounts(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(3), counts["pending"], "queued, the same jobs counted once")
	})
}

// consoleStores runs test on a fresh store (console sink) of each backend, with the options
// it was opened with.
func consoleStores(t *testing.T, test func(t *testing.T, o Options, s *Store)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			o := b.fresh(t)
			o.Sinks = []string{"console"}
			test(t, o, open(t, o))
		})
	}
}
