package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/backoff"
	"github.com/hookd/hookd/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend opens a fresh, empty store location for one test; reopening it with the same
// Options finds what was written before.
type backend struct {
	name  string
	fresh func(t *testing.T) Options
}

func backends(t *testing.T) []backend {
	out := []backend{{name: "sqlite", fresh: func(t *testing.T) Options {
		return Options{DataDir: t.TempDir()}
	}}}
	base := os.Getenv("HOOKD_TEST_DATABASE_URL")
	return append(out, backend{name: "postgres", fresh: func(t *testing.T) Options {
		if base == "" {
			t.Skip("HOOKD_TEST_DATABASE_URL is not set: the Postgres half of this test is skipped")
		}
		return Options{DatabaseURL: storetest.FreshSchema(t, base)}
	}})
}

func open(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func record(id string) hookd.RoleChange {
	return hookd.RoleChange{
		EventID: id, EventType: hook.WorkflowsUserRoleAdd, Published: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC),
		Category: hookd.WorkflowsRole, Action: hookd.Granted, Source: hookd.SourceHook,
		Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: "00u1", DisplayName: "Bob"},
		Roles:   []hookd.Role{{Name: "Folder Editor"}},
		Raw:     []byte(`{"uuid":"` + id + `"}`),
	}
}

func records(ids ...string) []hookd.RoleChange {
	out := make([]hookd.RoleChange, len(ids))
	for i, id := range ids {
		out[i] = record(id)
	}
	return out
}

func count(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB().QueryRow(query, args...).Scan(&n))
	return n
}

func TestContract(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			t.Run("accept stores each new event once with a delivery per sink", func(t *testing.T) {
				o := be.fresh(t)
				o.Sinks = []string{"console", "slack"}
				s := open(t, o)
				ctx := context.Background()

				res, err := s.Accept(ctx, records("e1", "e2", "e2", "e3"))
				require.NoError(t, err)
				assert.Equal(t, hookd.AcceptResult{Accepted: 3, Duplicates: 1}, counts(res))

				res, err = s.Accept(ctx, records("e3", "e4"))
				require.NoError(t, err)
				assert.Equal(t, hookd.AcceptResult{Accepted: 1, Duplicates: 1}, counts(res))

				assert.Equal(t, 4, count(t, s, "SELECT count(*) FROM hookd_event"))
				assert.Equal(t, 8, count(t, s, "SELECT count(*) FROM hookd_delivery"))
				counts, err := s.JobCounts(ctx)
				require.NoError(t, err)
				assert.Equal(t, int64(8), counts["pending"]+counts["retrying"], "queue depth")

				got, err := s.Record(ctx, "e2")
				require.NoError(t, err)
				want := record("e2")
				assert.Equal(t, want.EventID, got.EventID)
				assert.Equal(t, want.Roles, got.Roles)
				assert.True(t, want.Published.Equal(got.Published))
				assert.Equal(t, string(want.Raw), string(got.Raw), "raw is kept byte for byte")

				_, err = s.Record(ctx, "missing")
				assert.ErrorIs(t, err, ErrNotFound)
			})

			t.Run("route picks sinks per event", func(t *testing.T) {
				o := be.fresh(t)
				o.Route = func(rc *hookd.RoleChange) []string {
					if rc.EventID == "quiet" {
						return nil
					}
					return []string{"a", "b", "c"}
				}
				s := open(t, o)
				_, err := s.Accept(context.Background(), records("loud", "quiet"))
				require.NoError(t, err)
				assert.Equal(t, 2, count(t, s, "SELECT count(*) FROM hookd_event"))
				assert.Equal(t, 3, count(t, s, "SELECT count(*) FROM hookd_delivery"))
			})

			t.Run("50 concurrent overlapping batches give one row and one delivery per uuid per sink", func(t *testing.T) {
				o := be.fresh(t)
				o.Sinks = []string{"console", "webhook"}
				s := open(t, o)
				const goroutines, span, step = 50, 20, 4 // each batch overlaps the next four
				var wg sync.WaitGroup
				var mu sync.Mutex
				total := hookd.AcceptResult{}
				for g := 0; g < goroutines; g++ {
					wg.Add(1)
					go func(g int) {
						defer wg.Done()
						ids := make([]string, span)
						for i := range ids {
							ids[i] = fmt.Sprintf("ev-%04d", g*step+i)
						}
						res, err := s.Accept(context.Background(), records(ids...))
						assert.NoError(t, err)
						mu.Lock()
						total.Accepted += res.Accepted
						total.Duplicates += res.Duplicates
						mu.Unlock()
					}(g)
				}
				wg.Wait()
				distinct := (goroutines-1)*step + span
				assert.Equal(t, distinct, total.Accepted)
				assert.Equal(t, goroutines*span-distinct, total.Duplicates)
				assert.Equal(t, distinct, count(t, s, "SELECT count(*) FROM hookd_event"))
				assert.Equal(t, 2*distinct, count(t, s, "SELECT count(*) FROM hookd_delivery"))
				assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM (
					SELECT event, sink FROM hookd_delivery GROUP BY event, sink HAVING count(*) > 1) AS twice`))
			})

			t.Run("a restart keeps everything", func(t *testing.T) {
				o := be.fresh(t)
				o.Sinks = []string{"console"}
				s, err := Open(context.Background(), o)
				require.NoError(t, err)
				_, err = s.Accept(context.Background(), records("r1", "r2"))
				require.NoError(t, err)
				require.NoError(t, s.Close())

				s = open(t, o)
				res, err := s.Accept(context.Background(), records("r1", "r2", "r3"))
				require.NoError(t, err)
				assert.Equal(t, hookd.AcceptResult{Accepted: 1, Duplicates: 2}, counts(res))
				assert.Equal(t, 3, count(t, s, "SELECT count(*) FROM hookd_delivery"))
			})

			t.Run("a failed transaction writes nothing", func(t *testing.T) {
				o := be.fresh(t)
				o.Sinks = []string{"console"}
				s := open(t, o)
				_, err := s.DB().Exec("ALTER TABLE hookd_delivery RENAME TO hookd_delivery_gone")
				require.NoError(t, err)
				_, err = s.Accept(context.Background(), records("x1", "x2"))
				require.ErrorIs(t, err, hookd.ErrUnavailable)
				assert.Equal(t, 0, count(t, s, "SELECT count(*) FROM hookd_event"), "the events went with the failed delivery insert")
				_, err = s.DB().Exec("ALTER TABLE hookd_delivery_gone RENAME TO hookd_delivery")
				require.NoError(t, err)
				res, err := s.Accept(context.Background(), records("x1", "x2"))
				require.NoError(t, err)
				assert.Equal(t, hookd.AcceptResult{Accepted: 2}, counts(res), "Okta's retry is taken in full")
			})

			t.Run("deliveries reach the deliverer and failures map onto the queue", func(t *testing.T) {
				o := be.fresh(t)
				o.Sinks = []string{"ok", "permanent", "later", "flaky"}
				d := &fakeDeliverer{}
				o.Deliverer = d
				o.FetchPollInterval = 20 * time.Millisecond
				o.RetryBase = time.Hour // one attempt of "flaky" within the test
				seen := &outcomes{}
				o.OnOutcome = seen.add
				s := open(t, o)
				ctx := context.Background()
				require.NoError(t, s.Start(ctx))
				t.Cleanup(func() { _ = s.Stop(context.Background()) })
				_, err := s.Accept(ctx, records("d1"))
				require.NoError(t, err)

				require.Eventually(t, func() bool {
					return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'delivered'") == 1 &&
						count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'dead'") == 1 &&
						count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'pending' AND last_error = '' AND lease_until IS NULL AND attempt = 0") == 1 &&
						count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'pending' AND last_error <> '' AND lease_until IS NULL AND attempt = 1") == 1
				}, 10*time.Second, 20*time.Millisecond)
				calls := d.calls()
				assert.Equal(t, 1, calls["ok"], "delivered once")
				assert.Equal(t, 1, calls["permanent"], "never retried")
				assert.Equal(t, 1, calls["later"], "snoozed for an hour")
				assert.Equal(t, 1, calls["flaky"], "retried with backoff, an hour away")
				assert.Equal(t, map[string][]string{
					"ok": {ResultDelivered}, "permanent": {ResultPermanent}, "later": {ResultRateLimited}, "flaky": {ResultRetry},
				}, seen.bySink())
				counts, err := s.JobCounts(ctx)
				require.NoError(t, err)
				assert.Equal(t, map[string]int64{"pending": 1, "retrying": 1, "dead": 1}, counts)
				assert.Equal(t, "d1", d.last().EventID)
			})

			t.Run("the last failed attempt is a dead letter", func(t *testing.T) {
				o := be.fresh(t)
				o.Sinks = []string{"flaky"}
				o.Deliverer = &fakeDeliverer{}
				o.FetchPollInterval = 20 * time.Millisecond
				o.MaxAttempts = 1
				seen := &outcomes{}
				o.OnOutcome = seen.add
				s := open(t, o)
				require.NoError(t, s.Start(context.Background()))
				t.Cleanup(func() { _ = s.Stop(context.Background()) })
				_, err := s.Accept(context.Background(), records("z1"))
				require.NoError(t, err)
				require.Eventually(t, func() bool {
					return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'dead' AND attempt = 1") == 1
				}, 10*time.Second, 20*time.Millisecond)
				assert.Equal(t, map[string][]string{"flaky": {ResultDiscarded}}, seen.bySink())
			})

			t.Run("events of one admin action go out as one message per sink", func(t *testing.T) {
				o := be.fresh(t)
				o.Route = func(rc *hookd.RoleChange) []string {
					if rc.EventID == "g3" {
						return []string{"b"} // routed away from a: a's message must not carry it
					}
					return []string{"a", "b"}
				}
				d := &fakeDeliverer{}
				o.Deliverer = d
				o.FetchPollInterval = 20 * time.Millisecond
				o.GroupWindow = 300 * time.Millisecond
				seen := &outcomes{}
				o.OnOutcome = seen.add
				s := open(t, o)
				require.NoError(t, s.Start(context.Background()))
				t.Cleanup(func() { _ = s.Stop(context.Background()) })

				group := records("g1", "g2", "g3")
				for i := range group {
					group[i].TransactionID, group[i].Actor.ID = "tx1", "00uAdmin"
				}
				lone := records("solo")
				lone[0].TransactionID, lone[0].Actor.ID = "tx2", "00uAdmin"
				accepted := time.Now()
				_, err := s.Accept(context.Background(), group[:2])
				require.NoError(t, err)
				_, err = s.Accept(context.Background(), append(group[2:], lone...))
				require.NoError(t, err)

				require.Eventually(t, func() bool {
					return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'delivered'") == 7
				}, 10*time.Second, 20*time.Millisecond)
				assert.ElementsMatch(t, [][]string{{"g1", "g2"}, {"solo"}}, d.sent("a"))
				assert.ElementsMatch(t, [][]string{{"g1", "g2", "g3"}, {"solo"}}, d.sent("b"))
				assert.GreaterOrEqual(t, time.Since(accepted), o.GroupWindow, "held for the window")
				results := seen.bySink()
				assert.Equal(t, []string{ResultDelivered, ResultDelivered}, results["a"], "one outcome a message")
				assert.Equal(t, []string{ResultDelivered, ResultDelivered}, results["b"])
			})

			t.Run("ping fails once the database is gone", func(t *testing.T) {
				s, err := Open(context.Background(), be.fresh(t))
				require.NoError(t, err)
				require.NoError(t, s.Ping(context.Background()))
				require.NoError(t, s.Close())
				require.NoError(t, s.Close(), "closing twice is harmless")
				assert.ErrorIs(t, s.Ping(context.Background()), hookd.ErrUnavailable)
				_, err = s.Accept(context.Background(), records("late"))
				assert.ErrorIs(t, err, hookd.ErrClosed)
			})
		})
	}
}

type fakeDeliverer struct {
	mu       sync.Mutex
	counts   map[string]int
	rc       *hookd.RoleChange
	messages map[string][][]string // sink -> messages -> event ids
}

var (
	permanentErr = &hookd.DeliveryError{Failure: hookd.FailPermanent, Err: errors.New("channel_not_found")}
	laterErr     = &hookd.DeliveryError{Failure: hookd.FailWait, After: time.Hour, Err: errors.New("rate_limited")}
)

func (d *fakeDeliverer) Deliver(_ context.Context, sink string, changes []*hookd.RoleChange) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.counts == nil {
		d.counts, d.messages = map[string]int{}, map[string][][]string{}
	}
	d.counts[sink]++
	d.rc = changes[0]
	var ids []string
	for _, rc := range changes {
		ids = append(ids, rc.EventID)
	}
	d.messages[sink] = append(d.messages[sink], ids)
	switch sink {
	case "permanent":
		return fmt.Errorf("slack: %w", permanentErr)
	case "later":
		return fmt.Errorf("slack: %w", laterErr)
	case "flaky":
		return errors.New("connection refused")
	}
	return nil
}

func (d *fakeDeliverer) calls() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, v := range d.counts {
		out[k] = v
	}
	return out
}

func (d *fakeDeliverer) sent(sink string) [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]string(nil), d.messages[sink]...)
}

func (d *fakeDeliverer) last() *hookd.RoleChange {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rc
}

// outcomes records what OnOutcome reported.
type outcomes struct {
	mu  sync.Mutex
	all []Outcome
}

func (o *outcomes) add(x Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, x)
}

func (o *outcomes) bySink() map[string][]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]string{}
	for _, x := range o.all {
		out[x.Sink] = append(out[x.Sink], x.Result)
	}
	return out
}

func TestBackoffReachesAboutADay(t *testing.T) {
	b := backoff.Doubling{Base: 5 * time.Second, Cap: 30 * time.Minute}
	first := b.Jittered(1)
	assert.GreaterOrEqual(t, first, 3750*time.Millisecond)
	assert.LessOrEqual(t, first, 6250*time.Millisecond)
	assert.LessOrEqual(t, b.Jittered(40), 37*time.Minute+30*time.Second, "capped")
	for _, attempt := range []int{32, 33, 64, 1000} {
		assert.GreaterOrEqual(t, b.Jittered(attempt), 22*time.Minute+30*time.Second, "no overflow at attempt %d", attempt)
		assert.LessOrEqual(t, b.Jittered(attempt), 37*time.Minute+30*time.Second, "no overflow at attempt %d", attempt)
	}
	var total time.Duration
	for attempt := 1; attempt < 56; attempt++ { // 56 attempts: 55 waits
		total += b.Nominal(attempt)
	}
	assert.InDelta(t, 24, total.Hours(), 1, "the default keeps trying for about a day")
}

func TestRedact(t *testing.T) {
	for in, secret := range map[string]string{
		"failed to connect to postgres://hookd:hunter2@db:5432/x": "hunter2",
		"dial: host=db user=hookd password=hunter2 sslmode=off":   "hunter2",
	} {
		out := redact(errors.New(in))
		assert.NotContains(t, out, secret)
		assert.Contains(t, out, "***")
	}
}

func TestOpenFailsClearlyWithoutDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, Options{DatabaseURL: "postgres://hookd:hunter2@127.0.0.1:1/none?connect_timeout=2"})
	require.ErrorIs(t, err, hookd.ErrUnavailable)
	assert.NotContains(t, err.Error(), "hunter2")
}

// TestRenewalLeavesAWrittenOutcome: a lease renewal that comes after a delivery's outcome was
// written (a retry half an hour on) does not make the row due in 15 s again.
func TestRenewalLeavesAWrittenOutcome(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			o := be.fresh(t)
			o.Sinks = []string{"webhook"}
			s := open(t, o)
			ctx := context.Background()
			_, err := s.Accept(ctx, records("r1"))
			require.NoError(t, err)
			rows, err := s.step(ctx, nil, 1, nil)
			require.NoError(t, err)
			require.Len(t, rows, 1)
			later := time.Now().Add(30 * time.Minute)
			_, err = s.step(ctx, []settled{{ids: []int64{rows[0].id}, state: statePending, runAt: later, err: "HTTP 503"}}, 0, nil)
			require.NoError(t, err)
			require.NoError(t, s.renew(ctx, []int64{rows[0].id}), "a renewal the queue loop had started before the outcome")
			assert.Equal(t, 0, count(t, s, `SELECT count(*) FROM hookd_delivery WHERE lease_until IS NOT NULL`))
			again, err := s.step(ctx, nil, 1, nil)
			require.NoError(t, err)
			assert.Empty(t, again, "not due before its retry")
		})
	}
}
