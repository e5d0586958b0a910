package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPagingSinksEndToEnd: through the real server, a PagerDuty sink with min_severity
// critical pages only critical alerts, once each; a Teams sink gets a valid card for every
// alert, one for an admin action of several roles; neither secret shows anywhere.
func TestPagingSinksEndToEnd(t *testing.T) {
	const key = "PDROUTINGKEYe2e0123456789abcdef"
	pd := alertingtest.NewPagerDuty(t, key)
	pd.SlowFirst = 2 * time.Second // the first trigger is taken, but answered after hookd gave up
	teams := alertingtest.NewTeams(t)
	dir := t.TempDir()
	configPath := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(fmt.Sprintf(`
sinks:
  - {name: oncall, type: pagerduty, routing_key: %q, url: %q, min_severity: critical, timeout: 500ms}
  - {name: secops, type: teams, url: %q}
delivery:
  group_window: 300ms
`, key, pd.URL+"/v2/enqueue", teams.URL+"/workflows/TEAMSE2ESECRET")), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS": "paging-secret"}
	srv := start(t, env, "--config", configPath)
	code, out, errOut := run(map[string]string{"HOOKD_OKTA_SECRETS": "paging-secret", "HOOKD_LISTEN_ADDR": srv.addr}, "replay")
	require.Equal(t, 0, code, out+errOut)

	groups := groupsOf(expectedRecords(t))
	require.Eventually(t, func() bool {
		cards, _ := teams.Cards()
		return len(cards) == len(groups)
	}, 30*time.Second, 50*time.Millisecond, "a card for every alert")
	cards, problems := teams.Cards()
	assert.Empty(t, problems)
	several := 0
	for _, c := range cards {
		if strings.Contains(alertingtest.CardText(c), "3 changes in one admin action") {
			several++
		}
	}
	assert.Equal(t, 1, several, "the admin action of three roles is one card")

	// The timed-out trigger is retried (after the backoff, about 5 s): every critical alert
	// then has its incident, and no second one.
	require.Eventually(t, func() bool {
		requests, _ := pd.Requests()
		return requests > len(pd.Incidents())
	}, 30*time.Second, 100*time.Millisecond, "the timed-out attempt was retried")
	settle(t, srv.adminAddr, 0) // every delivery done: a second trigger would have been sent
	incidents := pd.Incidents()
	require.NotEmpty(t, incidents)
	for _, ev := range incidents {
		assert.Equal(t, "critical", ev.Payload.Severity, "only critical alerts page")
	}
	requests, pdProblems := pd.Requests()
	assert.Empty(t, pdProblems)
	assert.Equal(t, len(incidents)+1, requests, "each incident triggered once, plus the one retry")

	// Replaying again changes nothing: every event is a duplicate. A delivery queued would be
	// in the queue from its commit, before the replay's answer, until it was sent.
	accepted := metric(t, srv.adminAddr, `hookd_events_total{result="accepted"}`)
	code, _, _ = run(map[string]string{"HOOKD_OKTA_SECRETS": "paging-secret", "HOOKD_LISTEN_ADDR": srv.addr}, "replay")
	require.Equal(t, 0, code)
	assert.Equal(t, accepted, metric(t, srv.adminAddr, `hookd_events_total{result="accepted"}`), "nothing accepted again")
	settle(t, srv.adminAddr, 0)
	requests, _ = pd.Requests()
	assert.Equal(t, len(incidents)+1, requests, "nothing new after the replay")

	metrics := httpGet(t, "http://"+srv.adminAddr+"/metrics")
	for _, secret := range []string{key, "TEAMSE2ESECRET"} {
		assert.NotContains(t, srv.stderr.String(), secret)
		assert.NotContains(t, srv.stdout.String(), secret)
		assert.NotContains(t, metrics, secret)
	}
}
