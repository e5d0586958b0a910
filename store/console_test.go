package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// switchDeliverer refuses sink "fragile" for good until fixed, and counts what each sink took.
type switchDeliverer struct {
	fixed atomic.Bool
	mu    sync.Mutex
	taken map[string]map[string]int // sink -> event id -> times
}

func (d *switchDeliverer) Deliver(_ context.Context, sink string, changes []*hookd.RoleChange) error {
	if sink == "fragile" && !d.fixed.Load() {
		return fmt.Errorf("webhook answered 410: %w", permanentErr)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.taken == nil {
		d.taken = map[string]map[string]int{}
	}
	if d.taken[sink] == nil {
		d.taken[sink] = map[string]int{}
	}
	for _, rc := range changes {
		d.taken[sink][rc.EventID]++
	}
	return nil
}

func (d *switchDeliverer) count(sink string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.taken[sink])
}

func (d *switchDeliverer) times(sink, id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.taken[sink][id]
}

// consoleRecords are n changes a minute apart, the newest last: every third for a group,
// every fifth by another actor with another role, every seventh from the System Log.
func consoleRecords(n int) []hookd.RoleChange {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]hookd.RoleChange, n)
	for i := range out {
		rc := record(fmt.Sprintf("ev-%04d", i))
		rc.Published = base.Add(time.Duration(i) * time.Minute)
		rc.Actor = hookd.Ref{ID: "00uADMIN", Login: "alice@example.com", DisplayName: "Alice"}
		rc.Subject = hookd.Subject{Kind: hookd.SubjectUser, ID: fmt.Sprintf("00u%d", i), Login: fmt.Sprintf("user%d@example.com", i)}
		if i%3 == 0 {
			rc.EventType = hook.WorkflowsGroupRoleAdd
			rc.Subject = hookd.Subject{Kind: hookd.SubjectGroup, ID: fmt.Sprintf("00g%d", i), DisplayName: fmt.Sprintf("Team %d", i)}
		}
		if i%5 == 0 {
			rc.Actor = hookd.Ref{ID: "00uMALLORY", Login: "mallory@example.com"}
			rc.Roles = []hookd.Role{{Name: "Workflows Administrator"}}
		}
		if i%7 == 0 {
			rc.Source = hookd.SourceSystemLog
		}
		if i%11 == 0 {
			rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingSelfGrant})
		}
		if i%13 == 0 {
			rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingBurst})
		}
		out[i] = rc
	}
	return out
}

func ids(page adminapi.ChangePage) []string {
	var out []string
	for _, c := range page.Changes {
		out = append(out, c.Record.EventID)
	}
	return out
}

func TestConsoleReads(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			o := be.fresh(t)
			d := &switchDeliverer{}
			o.Sinks, o.Deliverer, o.RetryBase, o.RetryCap = []string{"steady", "fragile"}, d, 10*time.Millisecond, 20*time.Millisecond
			o.Severity = func(rc *hookd.RoleChange) (string, int) {
				if rc.Roles[0].Name == "Workflows Administrator" {
					return "critical", 4
				}
				return "low", 1
			}
			s := open(t, o)
			recs := consoleRecords(120)
			_, err := s.Accept(ctx, recs)
			require.NoError(t, err)

			t.Run("pages newest first without gaps or repeats", func(t *testing.T) {
				var all []string
				f := adminapi.ChangeFilter{}
				for {
					page, err := s.Changes(ctx, f)
					require.NoError(t, err)
					all = append(all, ids(page)...)
					if page.Next == "" {
						break
					}
					f.Before = page.Next
				}
				require.Len(t, all, 120)
				assert.Equal(t, "ev-0119", all[0])
				assert.Equal(t, "ev-0000", all[119])
				page, err := s.Changes(ctx, adminapi.ChangeFilter{Limit: 1})
				require.NoError(t, err)
				assert.Equal(t, "low", page.Changes[0].Severity, "the severity kept at acceptance")
				seen := map[string]bool{}
				for _, id := range all {
					assert.False(t, seen[id], "%s twice", id)
					seen[id] = true
				}
			})

			t.Run("filters", func(t *testing.T) {
				for name, tc := range map[string]struct {
					f    adminapi.ChangeFilter
					want func(i int) bool
				}{
					"role":                 {f: adminapi.ChangeFilter{Role: "workflows admin"}, want: func(i int) bool { return i%5 == 0 }},
					"actor":                {f: adminapi.ChangeFilter{Actor: "MALLORY"}, want: func(i int) bool { return i%5 == 0 }},
					"group":                {f: adminapi.ChangeFilter{Group: "team"}, want: func(i int) bool { return i%3 == 0 }},
					"user":                 {f: adminapi.ChangeFilter{User: "user1"}, want: func(i int) bool { return i%3 != 0 && fmt.Sprint(i)[0] == '1' }},
					"type":                 {f: adminapi.ChangeFilter{EventType: hook.WorkflowsGroupRoleAdd}, want: func(i int) bool { return i%3 == 0 }},
					"source":               {f: adminapi.ChangeFilter{Source: "systemlog"}, want: func(i int) bool { return i%7 == 0 }},
					"time range":           {f: adminapi.ChangeFilter{Since: time.Date(2026, 11, 1, 0, 10, 0, 0, time.UTC), Until: time.Date(2026, 11, 1, 0, 20, 0, 0, time.UTC)}, want: func(i int) bool { return i >= 10 && i < 20 }},
					"combined":             {f: adminapi.ChangeFilter{Actor: "mallory", Group: "team"}, want: func(i int) bool { return i%15 == 0 }},
					"severity":             {f: adminapi.ChangeFilter{Severity: "CRITICAL"}, want: func(i int) bool { return i%5 == 0 }},
					"sql quote":            {f: adminapi.ChangeFilter{Actor: "' OR 1=1 --"}, want: func(int) bool { return false }},
					"finding":              {f: adminapi.ChangeFilter{Finding: hookd.FindingSelfGrant}, want: func(i int) bool { return i%11 == 0 }},
					"any finding":          {f: adminapi.ChangeFilter{Finding: "*"}, want: func(i int) bool { return i%11 == 0 || i%13 == 0 }},
					"a finding's id whole": {f: adminapi.ChangeFilter{Finding: "grant"}, want: func(int) bool { return false }},
					"no wildcard":          {f: adminapi.ChangeFilter{Role: "%"}, want: func(int) bool { return false }},
				} {
					t.Run(name, func(t *testing.T) {
						var want []string
						for i := 119; i >= 0; i-- {
							if tc.want(i) {
								want = append(want, fmt.Sprintf("ev-%04d", i))
							}
						}
						tc.f.Limit = 500
						page, err := s.Changes(ctx, tc.f)
						require.NoError(t, err)
						assert.Equal(t, want, ids(page))
						assert.Empty(t, page.Next)
					})
				}
			})

			t.Run("a bad cursor is a bad request", func(t *testing.T) {
				_, err := s.Changes(ctx, adminapi.ChangeFilter{Before: "!!"})
				assert.ErrorIs(t, err, adminapi.ErrBadRequest)
			})

			require.NoError(t, s.Start(ctx))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			require.Eventually(t, func() bool {
				dead, err := s.DeadLetters(ctx, adminapi.DeadLetterFilter{})
				require.NoError(t, err)
				return len(dead) == 120 && d.count("steady") == 120
			}, 30*time.Second, 50*time.Millisecond)

			t.Run("delivery state per sink", func(t *testing.T) {
				byName := map[string]adminapi.Delivery{}
				// The sink took it; the record of that is committed a moment later.
				require.Eventually(t, func() bool {
					c, err := s.Change(ctx, "ev-0007")
					require.NoError(t, err)
					require.Len(t, c.Deliveries, 2)
					for _, dl := range c.Deliveries {
						byName[dl.Sink] = dl
					}
					return byName["steady"].State == adminapi.StateDelivered
				}, 10*time.Second, 20*time.Millisecond)
				assert.False(t, byName["steady"].DeliveredAt.IsZero())
				assert.Equal(t, adminapi.StateDead, byName["fragile"].State)
				assert.Contains(t, byName["fragile"].LastError, "410")
				assert.Equal(t, 1, byName["fragile"].Attempts)
				assert.NotZero(t, byName["fragile"].JobID)
				_, err = s.Change(ctx, "nope")
				assert.ErrorIs(t, err, ErrNotFound)
			})

			t.Run("sink counts", func(t *testing.T) {
				// A delivered event's job is marked completed a moment after the sink took it.
				var counts map[string]adminapi.JobCounts
				require.Eventually(t, func() bool {
					var err error
					counts, err = s.SinkJobs(ctx)
					require.NoError(t, err)
					return counts["steady"] == adminapi.JobCounts{}
				}, 10*time.Second, 20*time.Millisecond, "steady's jobs all completed")
				assert.Equal(t, adminapi.JobCounts{Dead: 120}, counts["fragile"])
				last, err := s.LastDelivered(ctx)
				require.NoError(t, err)
				assert.False(t, last["steady"].IsZero())
				assert.True(t, last["fragile"].IsZero())
			})

			t.Run("retry delivers once, discard keeps for audit", func(t *testing.T) {
				dead, err := s.DeadLetters(ctx, adminapi.DeadLetterFilter{Sink: "fragile", Limit: 2})
				require.NoError(t, err)
				require.Len(t, dead, 2)
				assert.Equal(t, "fragile", dead[0].Sink)
				assert.WithinDuration(t, time.Now(), dead[0].FailedAt, time.Minute)
				assert.Contains(t, dead[0].Reason, "410")
				d.fixed.Store(true)
				retried, err := s.RetryDeadLetter(ctx, dead[0].JobID, "cli@127.0.0.1")
				require.NoError(t, err)
				assert.NotZero(t, retried.RetryJobID)
				_, err = s.RetryDeadLetter(ctx, dead[0].JobID, "again")
				assert.ErrorIs(t, err, ErrAlreadyHandled)
				_, err = s.DiscardDeadLetter(ctx, dead[1].JobID, "console")
				require.NoError(t, err)
				_, err = s.DiscardDeadLetter(ctx, retried.RetryJobID, "console")
				assert.True(t, errors.Is(err, ErrNotDead) || errors.Is(err, ErrAlreadyHandled))
				_, err = s.DiscardDeadLetter(ctx, 1<<40, "console")
				assert.ErrorIs(t, err, adminapi.ErrNotFound)

				require.Eventually(t, func() bool { return d.times("fragile", dead[0].EventID) == 1 }, 10*time.Second, 20*time.Millisecond)
				require.Eventually(t, func() bool {
					c, err := s.Change(ctx, dead[0].EventID)
					require.NoError(t, err)
					return c.Deliveries[0].State == adminapi.StateDelivered && c.Deliveries[1].State == adminapi.StateDelivered
				}, 10*time.Second, 20*time.Millisecond, "both sinks delivered")
				c, err := s.Change(ctx, dead[1].EventID)
				require.NoError(t, err)
				assert.Contains(t, []string{c.Deliveries[0].State, c.Deliveries[1].State}, adminapi.StateHandled)

				open, err := s.DeadLetters(ctx, adminapi.DeadLetterFilter{Sink: "fragile"})
				require.NoError(t, err)
				assert.Len(t, open, 118)
				all, err := s.DeadLetters(ctx, adminapi.DeadLetterFilter{Sink: "fragile", Handled: true})
				require.NoError(t, err)
				require.Len(t, all, 120)
				handled := map[string]string{}
				for _, dl := range all {
					if dl.Handling != "" {
						handled[dl.EventID] = dl.Handling + " by " + dl.HandledBy
					}
				}
				assert.Equal(t, map[string]string{dead[0].EventID: "retried by cli@127.0.0.1", dead[1].EventID: "discarded by console"}, handled)
				// Nothing left pending (a row is settled only after its sink took it): no
				// further sending of the retried letter, nor of the discarded one, can come.
				require.Eventually(t, func() bool {
					return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'pending'") == 0
				}, 10*time.Second, 20*time.Millisecond, "the queue is done")
				assert.Equal(t, 1, d.times("fragile", dead[0].EventID), "delivered exactly once")
				assert.Equal(t, 0, d.times("fragile", dead[1].EventID), "a discarded letter is not sent")
			})

			t.Run("last seen per type", func(t *testing.T) {
				seen, err := s.LastSeen(ctx, []string{hook.WorkflowsUserRoleAdd, hook.WorkflowsGroupRoleAdd, hook.WorkflowsUserRoleRemove})
				require.NoError(t, err)
				assert.Equal(t, recs[119].Published, seen[hook.WorkflowsUserRoleAdd].Published)
				assert.Equal(t, recs[117].Published, seen[hook.WorkflowsGroupRoleAdd].Published)
				assert.Equal(t, "hook", seen[hook.WorkflowsGroupRoleAdd].Source)
				_, ok := seen[hook.WorkflowsUserRoleRemove]
				assert.False(t, ok)
			})
		})
	}
}

// Events stored before the console's index existed are indexed at the next start.
func TestOldChangesAreIndexedAtStart(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			o := be.fresh(t)
			s := open(t, o)
			_, err := s.Accept(ctx, consoleRecords(30))
			require.NoError(t, err)
			_, err = s.DB().Exec(`DELETE FROM hookd_change`)
			require.NoError(t, err)
			_, err = s.DB().Exec(`DELETE FROM hookd_state WHERE name = 'console index'`) // as before the index existed
			require.NoError(t, err)
			require.NoError(t, s.Close())
			s = open(t, o)
			page, err := s.Changes(ctx, adminapi.ChangeFilter{Actor: "mallory"})
			require.NoError(t, err)
			assert.Len(t, page.Changes, 6)
			assert.Equal(t, 30, count(t, s, `SELECT count(*) FROM hookd_change`))
		})
	}
}

// A large request is committed in parts at once on Postgres; its counts are the request's
// whole, duplicates across parts included, as on SQLite's single commit.
func TestLargeRequestCountsAsOne(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			o := be.fresh(t)
			o.Sinks = []string{"console"}
			s := open(t, o)
			recs := consoleRecords(1000)
			for i := 0; i < 10; i++ { // the last ten repeat the first ten: other parts
				recs[990+i] = recs[i]
			}
			if be.name == "postgres" {
				require.Less(t, s.partSize(len(recs)), len(recs), "committed in parts")
			}
			res, err := s.Accept(ctx, recs)
			require.NoError(t, err)
			assert.Equal(t, hookd.AcceptResult{Accepted: 990, Duplicates: 10}, counts(res))
			assert.Equal(t, 990, count(t, s, `SELECT count(*) FROM hookd_event`))
			assert.Equal(t, 990, count(t, s, `SELECT count(*) FROM hookd_change`))
			assert.Equal(t, 990, count(t, s, `SELECT count(*) FROM hookd_delivery`))
			res, err = s.Accept(ctx, recs)
			require.NoError(t, err)
			assert.Equal(t, hookd.AcceptResult{Duplicates: 1000}, counts(res))
		})
	}
}
