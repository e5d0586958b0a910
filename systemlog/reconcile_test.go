package systemlog

import (
	"context"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHookEligibleEventsFirstSeenByPollAreMissed: an event a hook could have delivered that
// the poller stores first is counted as missed by hook; one the hook brought first is a
// duplicate, not missed; Workflows events (no hook can bring them) are never "missed".
func TestHookEligibleEventsFirstSeenByPollAreMissed(t *testing.T) {
	f := newFixture(t)
	f.add("dropped", "user.account.privilege.grant", 1)
	f.add("delivered", "group.privilege.grant", 1)
	f.add("workflows", hook.WorkflowsUserRoleAdd, 1)
	// The hook brought "delivered" before the poll.
	byHook := hookd.RoleChange{EventID: "delivered-000", EventType: "group.privilege.grant", Published: f.clock.Now(),
		Category: hookd.AdminPrivilege, Action: hookd.Granted, Source: hookd.SourceHook, Raw: []byte(`{}`)}
	_, err := f.store.Accept(context.Background(), []hookd.RoleChange{byHook})
	require.NoError(t, err)

	reg := prometheus.NewRegistry()
	p, err := New(Config{OrgURL: f.okta.URL, Credentials: okta.APIToken("good-token"), Store: f.store, Now: f.clock.Now,
		Registerer: reg, Report: func(r Report) { f.reports = append(f.reports, r) }})
	require.NoError(t, err)
	require.NoError(t, p.Poll(context.Background()))
	rep := f.last()
	assert.Equal(t, map[string]int{"user.account.privilege.grant": 1}, rep.MissedByHook)
	assert.Equal(t, 2, rep.Accepted, "the dropped one and the Workflows one are new")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP hookd_hook_missed_total Hook-eligible events the System Log poller stored first, by type: Okta did not deliver them by hook (or not yet).
# TYPE hookd_hook_missed_total counter
hookd_hook_missed_total{event_type="user.account.privilege.grant"} 1
`), "hookd_hook_missed_total"))

	// Read again: nothing new, nothing more missed.
	require.NoError(t, p.Poll(context.Background()))
	assert.Empty(t, f.last().MissedByHook)
}

// TestAPICallsPerPoll measures what polling costs Okta's rate limit: one request per poll
// when nothing is new (the empty page that carries the cursor), and one more per page of
// up to 1,000 new events.
func TestAPICallsPerPoll(t *testing.T) {
	f := newFixture(t)
	p := f.poller(t, "good-token", 1000)
	ctx := context.Background()
	calls := func() int {
		before := f.okta.Requests()
		require.NoError(t, p.Poll(ctx))
		return f.okta.Requests() - before
	}
	assert.Equal(t, 1, calls(), "first poll, nothing in the log")
	assert.Equal(t, 1, calls(), "idle poll")
	f.add("few", "user.account.privilege.grant", 10)
	assert.Equal(t, 2, calls(), "10 new events: their page, then the empty one")
	f.add("many", hook.WorkflowsUserRoleAdd, 1500)
	assert.Equal(t, 3, calls(), "1,500 new events: two pages, then the empty one")
	assert.Equal(t, 1, calls(), "idle again")
	t.Logf("API calls per poll: 1 idle, +1 per 1,000 new events; at the default 30 s interval, 120 an hour idle")
}
