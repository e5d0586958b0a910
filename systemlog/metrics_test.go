package systemlog

import (
	"context"
	"github.com/hookd/hookd/okta"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetrics: the poller counts its own work; its lag is absent until an event was seen.
func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 3)
	reg := prometheus.NewRegistry()
	p, err := New(Config{OrgURL: f.okta.URL, Credentials: okta.APIToken("good-token"), Store: f.store, Now: f.clock.Now, Registerer: reg})
	require.NoError(t, err)

	n, err := testutil.GatherAndCount(reg, "hookd_systemlog_lag_seconds")
	require.NoError(t, err)
	assert.Zero(t, n, "no lag before the first poll saw an event")

	require.NoError(t, p.Poll(context.Background()))
	f.clock.Add(30 * time.Second)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP hookd_systemlog_events_total Events read from the System Log (accepted or already stored).
# TYPE hookd_systemlog_events_total counter
hookd_systemlog_events_total 3
# HELP hookd_systemlog_polls_total System Log poll cycles by result: ok, rate_limited, error, unauthorized, waiting, stopped.
# TYPE hookd_systemlog_polls_total counter
hookd_systemlog_polls_total{result="ok"} 1
`), "hookd_systemlog_events_total", "hookd_systemlog_polls_total"))
	families, err := reg.Gather()
	require.NoError(t, err)
	lag := -1.0
	for _, fam := range families {
		if fam.GetName() == "hookd_systemlog_lag_seconds" {
			lag = fam.GetMetric()[0].GetGauge().GetValue()
		}
	}
	// The newest event was published 58 ms short of a minute before the poll, 30 s ago.
	assert.InDelta(t, 90, lag, 1)
}
