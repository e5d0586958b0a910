package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/hook"
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
	assert.Contains(t, srv.stderr.String(), `"interval":1,"event_types":["workflows.user.role.group.add"`)
	assert.Contains(t, httpGet(t, "http://"+srv.addr+"/readyz"), `"ready"`)
	assert.Contains(t, httpGet(t, "http://"+srv.addr+"/metrics"), `hookd_systemlog_polls_total{result="ok"}`)
}

func TestSystemLogRefusedTokenFailsReadiness(t *testing.T) {
	okta := systemlogtest.NewOkta(t, "the-right-token")
	env := map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": "a-revoked-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s",
	}
	srv := start(t, env)
	require.Eventually(t, func() bool { return strings.Contains(httpGet(t, "http://"+srv.addr+"/readyz"), "systemlog") },
		20*time.Second, 20*time.Millisecond)
	body := httpGet(t, "http://"+srv.addr+"/readyz")
	assert.Contains(t, body, `"status":"unavailable"`)
	assert.Contains(t, body, "HOOKD_OKTA_API_TOKEN")
	requests := okta.Requests()
	// Two more polls run, and send nothing.
	require.Eventually(t, func() bool {
		m := httpGet(t, "http://"+srv.addr+"/metrics")
		return strings.Contains(m, `hookd_systemlog_polls_total{result="stopped"} 2`)
	}, 20*time.Second, 50*time.Millisecond)
	assert.Equal(t, requests, okta.Requests(), "no tight loop against Okta")
	assert.Equal(t, 1, strings.Count(srv.stderr.String(), "System Log polling stopped"), "one clear error line")
	assert.NotContains(t, srv.stderr.String(), "a-revoked-token")
}
