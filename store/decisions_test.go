package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd/hook"
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
			o.Escalate = func(*hook.RoleChange) []Escalation {
				return []Escalation{{After: time.Second, Sinks: []string{"pager"}}}
			}
			s := open(t, o)
			ctx := context.Background()
			_, err := s.Accept(ctx, records("decided", "ignored"))
			require.NoError(t, err)

			at := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
			dec := hook.Decision{Decision: hook.Acknowledged, ByID: "U1", ByName: "Alice", At: at, Via: "slack"}
			require.NoError(t, s.Decide(ctx, "decided", dec, "request-1"))
			assert.ErrorIs(t, s.Decide(ctx, "decided", dec, "request-1"), ErrReplayed)
			assert.ErrorIs(t, s.Decide(ctx, "ignored", dec, "request-1"), ErrReplayed, "the key is the request's, whatever it names")
			assert.ErrorIs(t, s.Decide(ctx, "missing", dec, "request-2"), ErrNotFound)
			later := dec
			later.Decision, later.At = hook.Suspicious, at.Add(time.Minute)
			require.NoError(t, s.Decide(ctx, "decided", later, "request-3"))

			c, err := s.Change(ctx, "decided")
			require.NoError(t, err)
			require.NotNil(t, c.Record.Decision)
			assert.Equal(t, hook.Suspicious, c.Record.Decision.Decision, "the newest decision shows")
			assert.True(t, later.At.Equal(c.Record.Decision.At))
			page, err := s.Changes(ctx, adminapi.ChangeFilter{})
			require.NoError(t, err)
			for _, c := range page.Changes {
				assert.Equal(t, c.Record.EventID == "decided", c.Record.Decision != nil, c.Record.EventID)
			}

			require.NoError(t, s.Start(ctx))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			require.Eventually(t, func() bool { return len(d.sent("pager")) == 1 }, 10*time.Second, 20*time.Millisecond)
			time.Sleep(300 * time.Millisecond) // time for a wrong second escalation to show
			assert.Equal(t, [][]string{{"ignored"}}, d.sent("pager"))
			assert.Len(t, d.sent("chat"), 2)
			assert.Equal(t, 1, d.last().EscalatedAfter)
			require.Eventually(t, func() bool {
				return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'pending'") == 0
			}, 5*time.Second, 20*time.Millisecond, "the decided escalation is done, not left pending")
		})
	}
}
