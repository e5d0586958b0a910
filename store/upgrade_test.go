package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upgradeManifest is what testdata/upgrade/manifest.json says of the fixtures: per event and
// sink, what the first start of this build must do with the River release's job.
type upgradeManifest struct {
	Events []struct {
		Label string `json:"label"`
		UUID  string `json:"uuid"`
		Sinks map[string]struct {
			JobID  int64  `json:"river_job_id"`
			Expect string `json:"expect"`
		} `json:"sinks"`
	} `json:"events"`
	Group struct {
		UUIDs []string `json:"uuids"`
	} `json:"group"`
}

// TestUpgradeFromRiver: a database the River release wrote (River's tables with available,
// retryable, scheduled, running, completed and dead jobs, hookd_delivered, a handled dead
// letter, jobs kept to queue later) is taken over at the first start, on both stores: every
// pending job is sent exactly once, what was delivered never, the dead letters stay (the
// handled one handled, under their job ids), and River's tables are gone.
func TestUpgradeFromRiver(t *testing.T) {
	var m upgradeManifest
	data, err := os.ReadFile("testdata/upgrade/manifest.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			o := be.fresh(t)
			if be.name == "sqlite" {
				db, err := os.ReadFile("testdata/upgrade/sqlite/hookd.db")
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(o.DataDir, "hookd.db"), db, 0o600))
			} else {
				script, err := os.ReadFile("testdata/upgrade/postgres.sql")
				require.NoError(t, err)
				db, err := sql.Open("pgx", o.DatabaseURL)
				require.NoError(t, err)
				_, err = db.Exec(string(script))
				require.NoError(t, err)
				require.NoError(t, db.Close())
			}
			d := &fakeDeliverer{}
			o.Sinks, o.Deliverer, o.FetchPollInterval = []string{"webhook", "slack"}, d, 20*time.Millisecond
			o.GroupWindow = 50 * time.Millisecond
			s := open(t, o)

			var river int
			q := `SELECT count(*) FROM sqlite_master WHERE name LIKE 'river%'`
			if be.name == "postgres" {
				q = `SELECT count(*) FROM pg_class WHERE relname LIKE 'river%' AND relnamespace = current_schema()::regnamespace`
			}
			require.NoError(t, s.DB().QueryRow(q).Scan(&river))
			assert.Zero(t, river, "River's tables, indexes and sequences are dropped")

			want := map[string][]string{}
			for _, e := range m.Events {
				for sink, j := range e.Sinks {
					if j.Expect == "deliver" {
						want[sink] = append(want[sink], e.UUID)
					}
				}
			}
			require.NoError(t, s.Start(context.Background()))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			require.Eventually(t, func() bool {
				c, err := s.JobCounts(context.Background())
				return err == nil && c["pending"] == 0 && c["retrying"] == 0
			}, 10*time.Second, 20*time.Millisecond)
			for sink, uuids := range want {
				var got []string
				for _, msg := range d.sent(sink) {
					got = append(got, msg...)
				}
				assert.ElementsMatch(t, uuids, got, "%s: every pending job sent once, nothing delivered sent again", sink)
				assert.Contains(t, d.sent(sink), m.Group.UUIDs, "%s: the admin action's events go out together", sink)
			}

			letters, err := s.DeadLetters(context.Background(), adminapi.DeadLetterFilter{Handled: true})
			require.NoError(t, err)
			byJob := map[int64]adminapi.DeadLetter{}
			for _, l := range letters {
				byJob[l.JobID] = l
			}
			for _, e := range m.Events {
				for sink, j := range e.Sinks {
					l, ok := byJob[j.JobID]
					switch j.Expect {
					case "dead":
						require.True(t, ok, "%s %s: a dead letter under job %d", e.Label, sink, j.JobID)
						assert.Equal(t, e.UUID, l.EventID)
						assert.Empty(t, l.Handling, "not handled yet")
						assert.Equal(t, "discarded", l.State, "out of attempts")
						assert.NotEmpty(t, l.Reason)
					case "dead-handled":
						require.True(t, ok, "%s %s: a dead letter under job %d", e.Label, sink, j.JobID)
						assert.Equal(t, "discarded", l.Handling)
						assert.Equal(t, "alice", l.HandledBy)
					}
				}
			}
			assert.Len(t, byJob, 2)

			// A new delivery is numbered past every id River gave.
			_, err = s.Accept(context.Background(), records("after-the-upgrade"))
			require.NoError(t, err)
			assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM hookd_delivery WHERE event = 'after-the-upgrade' AND id > 16`))

			page, err := s.Changes(context.Background(), adminapi.ChangeFilter{Limit: 50})
			require.NoError(t, err)
			for _, c := range page.Changes {
				for _, del := range c.Deliveries {
					assert.NotEqual(t, adminapi.StateUnknown, del.State, "%s %s: every delivery has a state after the upgrade", c.Record.EventID, del.Sink)
				}
			}
		})
	}
}
