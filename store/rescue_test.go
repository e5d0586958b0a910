package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrashedJobsAreRescuedAtStart: a job a dead process left "running" is delivered as soon
// as hookd starts again, not after River's rescue interval. On Postgres only this replica's
// own jobs are taken; another replica's stay where they are.
func TestCrashedJobsAreRescuedAtStart(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			o := be.fresh(t)
			o.Sinks = []string{"console"}
			o.ReplicaID = "replica-a"

			// A first run accepts two events and "dies" with both jobs running: one by this
			// replica's earlier River client, one by another replica's.
			first := open(t, o)
			_, err := first.Accept(context.Background(), records("mine", "theirs"))
			require.NoError(t, err)
			earlier := "replica_a_2026_11_27T10_00_00_000000"
			if be.name == "postgres" {
				_, err = first.DB().Exec(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
					attempted_by = ARRAY[CASE WHEN args->>'event_id' = 'mine' THEN $1 ELSE 'replica_b_2026_11_27T10_00_00_000000' END]`, earlier)
				require.NoError(t, err)
				_, err = first.DB().Exec(`INSERT INTO hookd_state (name, value, updated_at) VALUES ('replica:replica-a', $1, now())`, earlier)
			} else {
				_, err = first.DB().Exec(`UPDATE river_job SET state = 'running', attempt = 1`)
			}
			require.NoError(t, err)
			require.NoError(t, first.Close())

			c := &collector{}
			o.Deliverer = c
			o.FetchPollInterval = 20 * time.Millisecond
			o.GroupWindow = 0
			second := open(t, o)
			require.NoError(t, second.Start(context.Background()))
			t.Cleanup(func() { _ = second.Stop(context.Background()) })

			require.Eventually(t, func() bool { return len(c.deliveries("mine")) == 1 }, 10*time.Second, 20*time.Millisecond)
			if be.name == "postgres" {
				time.Sleep(300 * time.Millisecond)
				assert.Empty(t, c.deliveries("theirs"), "another replica's job is left to River's rescuer")
				assert.Equal(t, 1, count(t, second, `SELECT count(*) FROM river_job WHERE state = 'running'`))
				var recorded string
				require.NoError(t, second.DB().QueryRow(`SELECT value FROM hookd_state WHERE name = 'replica:replica-a'`).Scan(&recorded))
				assert.NotEqual(t, earlier, recorded, "this run's River client is recorded for the next start")
			} else {
				require.Eventually(t, func() bool { return len(c.deliveries("theirs")) == 1 }, 10*time.Second, 20*time.Millisecond)
			}
		})
	}
}

// TestDataDirIsExclusive: two hookd on one SQLite data dir would take each other's running
// jobs for a dead process's; the second is refused with a clear message.
func TestDataDirIsExclusive(t *testing.T) {
	dir := t.TempDir()
	first := open(t, Options{DataDir: dir})
	_, err := Open(context.Background(), Options{DataDir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use by another hookd")
	require.NoError(t, first.Close())
	again := open(t, Options{DataDir: dir})
	require.NoError(t, again.Ping(context.Background()), "free again once closed")
}
