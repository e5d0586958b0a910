package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSystemLogPollerFeedsTheSamePipeline(t *testing.T) {
	okta := systemlogtest.NewOkta(t, "okta-api-token")
	okta.Add("polled-1", hook.WorkflowsUserRoleAdd, time.Now().Add(-10*time.Minute))
	okta.Add("polled-2", hook.WorkflowsGroupRoleRemove, time.Now().Add(-5*time.Minute))
	okta.Add("noise", "user.session.start", time.Now().Add(-time.Minute))
	env := map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": "okta-api-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s", "HOOKD_GROUP_WINDOW": "0s",
	}
	code, out, _ := run(env, "check")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "polls it")
	assert.NotContains(t, out, "WARNING")

	srv := start(t, env)
	require.Eventually(t, func() bool { return strings.Count(srv.stdout.String(), "ALERT ") == 2 },
		20*time.Second, 20*time.Millisecond, srv.stderr.String())
	assert.Contains(t, srv.stdout.String(), `event="polled-1" source=systemlog`)
	assert.Contains(t, srv.stdout.String(), `event="polled-2" source=systemlog`)
	assert.NotContains(t, srv.stderr.String(), "okta-api-token")
	assert.NotContains(t, srv.stderr.String(), "no Okta event hook delivers", "the poller covers the Workflows types")
	assert.Contains(t, srv.stderr.String(), `"msg":"System Log poller on"`, "the start says the poller is on")
	assert.Contains(t, srv.stderr.String(), `"interval":1,"event_types":["application.user_membership.add"`)
	assert.Contains(t, httpGet(t, "http://"+srv.adminAddr+"/readyz"), `"ready"`)
	// The cycle is counted when it ends, which can be after its alerts went out.
	assert.Eventually(t, func() bool {
		return strings.Contains(httpGet(t, "http://"+srv.adminAddr+"/metrics"), `hookd_systemlog_polls_total{result="ok"}`)
	}, 10*time.Second, 20*time.Millisecond, "a poll cycle counted as ok")
}

func TestSystemLogRefusedTokenFailsReadiness(t *testing.T) {
	okta := systemlogtest.NewOkta(t, "the-right-token")
	env := map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": "a-revoked-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s",
	}
	srv := start(t, env)
	require.Eventually(t, func() bool { return strings.Contains(httpGet(t, "http://"+srv.adminAddr+"/readyz"), "systemlog") },
		20*time.Second, 20*time.Millisecond)
	body := httpGet(t, "http://"+srv.adminAddr+"/readyz")
	assert.Contains(t, body, `"status":"unavailable"`)
	assert.Contains(t, body, "HOOKD_OKTA_API_TOKEN")
	requests := okta.Requests()
	// Two more polls run, and send nothing.
	require.Eventually(t, func() bool {
		m := httpGet(t, "http://"+srv.adminAddr+"/metrics")
		return strings.Contains(m, `hookd_systemlog_polls_total{result="stopped"} 2`)
	}, 20*time.Second, 50*time.Millisecond)
	assert.Equal(t, requests, okta.Requests(), "no tight loop against Okta")
	assert.Equal(t, 1, strings.Count(srv.stderr.String(), "System Log polling stopped"), "one clear error line")
	assert.NotContains(t, srv.stderr.String(), "a-revoked-token")
}

// TestReconciliation: a hook delivery dropped on purpose is still alerted once, by the
// poller, within a poll interval, and counted as missed by hook; an event that arrives by
// both paths alerts once and is not missed.
func TestReconciliation(t *testing.T) {
	okta := systemlogtest.NewOkta(t, "okta-api-token")
	okta.Add("dropped-1", "user.account.privilege.grant", time.Now().Add(-time.Minute))
	env := map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": "okta-api-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s", "HOOKD_GROUP_WINDOW": "0s",
	}
	srv := start(t, env)
	// The hook brings "both-1"; only then does the System Log show it too.
	body := oktagen.Delivery(oktagen.Event{UUID: "both-1", EventType: "group.privilege.grant"}.JSON(time.Now().Add(-30 * time.Second)))
	require.Equal(t, 200, postDelivery(t, srv.addr, "hook-secret", body))
	okta.Add("both-1", "group.privilege.grant", time.Now().Add(-30*time.Second))

	require.Eventually(t, func() bool {
		return strings.Contains(srv.stdout.String(), `event="dropped-1" source=systemlog`)
	}, 5*time.Second, 20*time.Millisecond, "alerted by the poller within a poll interval or so")
	// Both events read from the System Log ("both-1" as a duplicate of the hook's), then two
	// more polls and an empty queue: a second alert of either would have gone out by then.
	require.Eventually(t, func() bool { return metric(t, srv.adminAddr, "hookd_systemlog_events_total") >= 2 },
		10*time.Second, 20*time.Millisecond, "the poller read both-1 too")
	settle(t, srv.adminAddr, 2)
	out := srv.stdout.String()
	assert.Equal(t, 1, strings.Count(out, `event="dropped-1"`), "alerted once")
	assert.Equal(t, 1, strings.Count(out, `event="both-1"`), "alerted once, by the hook")
	assert.Contains(t, out, `event="both-1" source=hook`)
	metrics := httpGet(t, "http://"+srv.adminAddr+"/metrics")
	assert.Contains(t, metrics, `hookd_hook_missed_total{event_type="user.account.privilege.grant"} 1`)
	assert.NotContains(t, metrics, `hookd_hook_missed_total{event_type="group.privilege.grant"}`)
	assert.Contains(t, srv.stderr.String(), "Okta did not deliver 1 events by hook")
}

// TestRevokedTokenIsOneAlertAndRecoveryAnother: revoking the poller's token gives one
// "cannot read" alert after the threshold; a good token (after a restart) gives one
// "recovered" alert.
func TestRevokedTokenIsOneAlertAndRecoveryAnother(t *testing.T) {
	okta := systemlogtest.NewOkta(t, "first-token")
	okta.Add("before-1", hook.WorkflowsUserRoleAdd, time.Now().Add(-time.Minute))
	dataDir := t.TempDir()
	env := map[string]string{
		"HOOKD_DATA_DIR": dataDir, "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": "first-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s", "HOOKD_SYSTEMLOG_SILENCE_AFTER": "2s", "HOOKD_GROUP_WINDOW": "0s",
	}
	srv := start(t, env)
	require.Eventually(t, func() bool { return strings.Contains(srv.stdout.String(), `event="before-1"`) },
		10*time.Second, 20*time.Millisecond, "a first good poll")
	okta.SetToken("second-token") // the first one is revoked

	require.Eventually(t, func() bool { return strings.Contains(srv.stdout.String(), "hookd cannot read Okta's System Log") },
		15*time.Second, 50*time.Millisecond, srv.stderr.String())
	settle(t, srv.adminAddr, 3) // more failing cycles, whatever they queued delivered
	assert.Equal(t, 1, strings.Count(srv.stdout.String(), `event="hookd-systemlog-silence-`), "one alert")
	assert.Contains(t, srv.stdout.String(), "HTTP 401")
	require.Equal(t, 0, srv.stop())

	env["HOOKD_OKTA_API_TOKEN"] = "second-token" // the operator fixes the credential
	srv = start(t, env)
	require.Eventually(t, func() bool { return strings.Contains(srv.stdout.String(), "hookd reads Okta's System Log again") },
		15*time.Second, 50*time.Millisecond, srv.stderr.String())
	settle(t, srv.adminAddr, 2) // more good cycles, whatever they queued delivered
	assert.Equal(t, 1, strings.Count(srv.stdout.String(), `event="hookd-systemlog-recovered-`), "one recovered alert")
	assert.NotContains(t, srv.stdout.String(), "hookd cannot read", "not told again")
}
