package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

// TestPlainJobInsertsMatchRivers queues the same jobs through River's SQLite statement and
// through hookd's, and finds every column of the rows alike, times left to the database's
// clock aside (both in River's format), and River reading hookd's rows back as it wrote them.
func TestPlainJobInsertsMatchRivers(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), Sinks: []string{"console"}})
	ctx := context.Background()
	created := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("X", 3600))
	scheduled := created.Add(time.Hour)
	jobs := []*riverdriver.JobInsertFastParams{
		{EncodedArgs: []byte(`{"event_id":"e1","sink":"console"}`), Kind: "hookd_delivery", MaxAttempts: 56, Priority: 1,
			Queue: "default", State: rivertype.JobStateAvailable, Tags: []string{}},
		{EncodedArgs: []byte(`{"event_id":"e2","sink":"slack","inline":{"record":{"x":[1,2]}}}`), Kind: "other", MaxAttempts: 3,
			Priority: 2, Queue: "q", State: rivertype.JobStateScheduled, Tags: []string{"a", "b\"c"},
			Metadata: []byte(`{"m":"é"}`), CreatedAt: &created, ScheduledAt: &scheduled},
		{EncodedArgs: []byte(`{}`), Kind: "k", MaxAttempts: 1, Priority: 4, Queue: "default", State: rivertype.JobStateAvailable, Tags: []string{}, Metadata: []byte(`{}`)},
	}
	theirs, ours := riversqlite.New(s.db), queueDriver{riversqlite.New(s.db)}
	for _, unwrap := range []func(*sql.Tx) riverdriver.ExecutorTx{theirs.UnwrapExecutor, ours.UnwrapExecutor} {
		require.NoError(t, s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
			n, err := unwrap(tx).JobInsertFastManyNoReturning(ctx, &riverdriver.JobInsertFastManyParams{Jobs: jobs})
			require.NoError(t, err)
			require.Equal(t, len(jobs), n)
			return nil
		}))
	}
	_, plain := ours.UnwrapExecutor(nil).(plainJobInserts)
	require.True(t, plain, "hookd's driver must queue through its own statement")

	rows, err := s.db.QueryContext(ctx, "SELECT * FROM river_job ORDER BY id")
	require.NoError(t, err)
	columns, err := rows.Columns()
	require.NoError(t, err)
	var got [][]any
	for rows.Next() {
		values := make([]any, len(columns))
		ptrs := make([]any, len(columns))
		for i := range values {
			ptrs[i] = &values[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		got = append(got, values)
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, 2*len(jobs))
	riverFormat := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`)
	for i := range jobs {
		theirRow, ourRow := got[i], got[len(jobs)+i]
		for c, name := range columns {
			if name == "id" {
				continue
			}
			if (name == "created_at" && jobs[i].CreatedAt == nil) || (name == "scheduled_at" && jobs[i].ScheduledAt == nil) {
				require.WithinDuration(t, theirRow[c].(time.Time), ourRow[c].(time.Time), time.Minute, name)
				continue
			}
			require.Equal(t, theirRow[c], ourRow[c], "job %d, column %s", i, name)
		}
	}
	// The driver reads times back as time.Time; as stored, they must be text in River's format.
	stamps, err := s.db.QueryContext(ctx, "SELECT CAST(created_at AS TEXT), CAST(scheduled_at AS TEXT) FROM river_job")
	require.NoError(t, err)
	for stamps.Next() {
		var created, scheduled string
		require.NoError(t, stamps.Scan(&created, &scheduled))
		require.Regexp(t, riverFormat, created)
		require.Regexp(t, riverFormat, scheduled)
	}
	require.NoError(t, stamps.Err())
	for i := range jobs {
		id := got[len(jobs)+i][0].(int64)
		row, err := theirs.GetExecutor().JobGetByID(ctx, &riverdriver.JobGetByIDParams{ID: id})
		require.NoError(t, err)
		require.JSONEq(t, string(jobs[i].EncodedArgs), string(row.EncodedArgs))
		require.Equal(t, jobs[i].Kind, row.Kind)
		require.Equal(t, jobs[i].State, row.State)
		if jobs[i].ScheduledAt != nil {
			require.True(t, jobs[i].ScheduledAt.Round(time.Millisecond).Equal(row.ScheduledAt), "scheduled %s, read %s", jobs[i].ScheduledAt, row.ScheduledAt)
		}
	}
}

// TestUniqueJobsQueuedByRiver leaves a job River would insert as unique to River's own
// statement, which skips a duplicate of it.
func TestUniqueJobsQueuedByRiver(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), Sinks: []string{"console"}})
	ctx := context.Background()
	job := &riverdriver.JobInsertFastParams{EncodedArgs: []byte(`{}`), Kind: "k", MaxAttempts: 1, Priority: 1, Queue: "default",
		State: rivertype.JobStateAvailable, Tags: []string{}, UniqueKey: []byte{1, 2, 3}, UniqueStates: 0xff}
	ours := queueDriver{riversqlite.New(s.db)}
	for range 2 {
		require.NoError(t, s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
			_, err := ours.UnwrapExecutor(tx).JobInsertFastManyNoReturning(ctx, &riverdriver.JobInsertFastManyParams{Jobs: []*riverdriver.JobInsertFastParams{job}})
			return err
		}))
	}
	require.Equal(t, 1, count(t, s, "SELECT count(*) FROM river_job WHERE unique_key = x'010203'"))
}

// TestRefusedJobsReportedOnce: a job the database refuses (here a priority out of River's
// range) comes back from hookd's statement as a refusal, and the store's insert reports it
// as such once, not wrapped again under River.
func TestRefusedJobsReportedOnce(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir(), Sinks: []string{"console"}})
	ctx := context.Background()
	job := &riverdriver.JobInsertFastParams{EncodedArgs: []byte(`{}`), Kind: "k", MaxAttempts: 1, Priority: 9, Queue: "default",
		State: rivertype.JobStateAvailable, Tags: []string{}}
	err := s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
		_, err := queueDriver{riversqlite.New(s.db)}.UnwrapExecutor(tx).JobInsertFastManyNoReturning(ctx,
			&riverdriver.JobInsertFastManyParams{Jobs: []*riverdriver.JobInsertFastParams{job}})
		return dbError("queue deliveries", fmt.Errorf("river: %w", err))
	})
	var refused *rejectedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, 1, strings.Count(err.Error(), "queue deliveries"), err.Error())
	require.Contains(t, err.Error(), "CHECK constraint failed")
}
