package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
)

// TestDecisionsAndEscalations: a decision is recorded once per request, on a stored change
// only; it shows on the change; an escalation goes out only for the changes nobody decided
// on, marked with how long they waited.
func TestDecisionsAndEscalations(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			d := &fakeDeliverer{}
			o := be.fresh(t)
			o.Sinks, o.Deliverer, o.FetchPollInterval = []string{"chat"}, d, 20*time.Millisecond
			o.Escalate = func(*hookd.RoleChange) []Escalation {
				return []Escalation{{After: time.Second, Sinks: []string{"pager"}}}
			}
			s := open(t, o)
			ctx := context.Background()
			_, err := s.Accept(ctx, records("decided", "ignored"))
			require.NoError(t, err)

			at := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
			dec := hookd.Decision{Decision: hookd.Acknowledged, ByID: "U1", ByName: "Alice", At: at, Via: "slack"}
			ids, err := s.Decide(ctx, "decided", dec, "request-1")
			require.NoError(t, err)
			assert.Equal(t, []string{"decided"}, ids, "a change of no admin action is decided alone")
			_, err = s.Decide(ctx, "decided", dec, "request-1")
			assert.ErrorIs(t, err, ErrReplayed)
			_, err = s.Decide(ctx, "ignored", dec, "request-1")
			assert.ErrorIs(t, err, ErrReplayed, "the key is the request's, whatever it names")
			_, err = s.Decide(ctx, "missing", dec, "request-2")
			assert.ErrorIs(t, err, ErrNotFound)
			later := dec
			later.Decision, later.At = hookd.Suspicious, at.Add(time.Minute)
			_, err = s.Decide(ctx, "decided", later, "request-3")
			require.NoError(t, err)

			c, err := s.Change(ctx, "decided")
			require.NoError(t, err)
			require.NotNil(t, c.Record.Decision)
			assert.Equal(t, hookd.Suspicious, c.Record.Decision.Decision, "the newest decision shows")
			assert.True(t, later.At.Equal(c.Record.Decision.At))
			page, err := s.Changes(ctx, adminapi.ChangeFilter{})
			require.NoError(t, err)
			for _, c := range page.Changes {
				assert.Equal(t, c.Record.EventID == "decided", c.Record.Decision != nil, c.Record.EventID)
			}

			require.NoError(t, s.Start(ctx))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			require.Eventually(t, func() bool { return len(d.sent("pager")) == 1 }, 10*time.Second, 20*time.Millisecond)
			// A row is settled only after its sink was handed what it sends: once none is
			// pending, the decided change's escalation has been worked, and a wrong one shows.
			require.Eventually(t, func() bool {
				return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'pending'") == 0
			}, 5*time.Second, 20*time.Millisecond, "the decided escalation is done, not left pending")
			assert.Equal(t, [][]string{{"ignored"}}, d.sent("pager"))
			assert.Len(t, d.sent("chat"), 2)
			assert.Equal(t, 1, d.last().EscalatedAfter)
		})
	}
}

// TestEscalationsGoWhenDueAndActionsAreDecidedWhole: escalations of changes of no admin
// action go one by one, each when due, never swept along with another's; a decision on one
// change of an admin action is the whole action's, and none of it escalates.
func TestEscalationsGoWhenDueAndActionsAreDecidedWhole(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			d := &fakeDeliverer{}
			o := be.fresh(t)
			o.Sinks, o.Deliverer, o.FetchPollInterval, o.GroupWindow = []string{"chat"}, d, 20*time.Millisecond, 50*time.Millisecond
			clock := &aheadClock{}
			o.Now = clock.now
			o.Escalate = func(*hookd.RoleChange) []Escalation {
				return []Escalation{{After: time.Second, Sinks: []string{"pager"}}}
			}
			s := open(t, o)
			ctx := context.Background()
			require.NoError(t, s.Start(ctx))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })

			action := records("act-1", "act-2")
			for i := range action {
				action[i].TransactionID, action[i].Actor = "tx-1", hookd.Ref{ID: "00uAdmin"}
			}
			_, err := s.Accept(ctx, append(records("alone-1"), action...))
			require.NoError(t, err)
			ids, err := s.Decide(ctx, "act-2", hookd.Decision{Decision: hookd.Acknowledged, ByID: "U1", At: time.Now()}, "req-1")
			require.NoError(t, err)
			assert.Equal(t, []string{"act-2", "act-1"}, ids, "the clicked change first, then the rest of its action")

			clock.advance(600 * time.Millisecond) // alone-2 comes 600 ms after the rest
			_, err = s.Accept(ctx, records("alone-2"))
			require.NoError(t, err)
			require.Eventually(t, func() bool { return len(d.sent("pager")) == 1 }, 5*time.Second, 10*time.Millisecond)
			assert.Equal(t, [][]string{{"alone-1"}}, d.sent("pager"), "alone-2 is not due yet")
			require.Eventually(t, func() bool { return len(d.sent("pager")) == 2 }, 5*time.Second, 10*time.Millisecond)
			// Every row settled, the decided action's escalations too (due with alone-1's): a
			// wrong escalation of them has been sent by now.
			require.Eventually(t, func() bool {
				return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'pending'") == 0
			}, 5*time.Second, 10*time.Millisecond, "every escalation worked")
			assert.Equal(t, [][]string{{"alone-1"}, {"alone-2"}}, d.sent("pager"))
		})
	}
}

// aheadClock is a store's clock (Options.Now) that a test moves on: the time now plus what
// the test advanced it by, so that a row comes due without the test waiting for it.
type aheadClock struct{ ahead atomic.Int64 }

func (c *aheadClock) now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

func (c *aheadClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }
