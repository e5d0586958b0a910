package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With every kind of secret configured and every sink failing, no page, API answer, metric or
// log line of the admin listener shows one, while an operator walks every page, tests every
// sink, retries and discards, signs in wrongly and rightly, and asks for what does not exist.
func TestConsoleShowsNoSecret(t *testing.T) {
	const (
		oktaSecret   = "okta-hook-secret-9f8e7d6c"
		adminToken   = "admin-token-5a4b3c2d1e"
		apiToken     = "00oktaApiToken-revoked-77"
		routingKey   = "PDROUTINGKEYsecret0123456789ab"
		headerSecret = "header-secret-value-987654"
	)
	slack := alertingtest.NewSlack(t)
	recv := alertingtest.NewReceiver(t, webhookSecret)
	recv.SetGone(true)
	okta := systemlogtest.NewOkta(t, "the-right-token")
	dir := t.TempDir()
	slackURL := slack.URL("gone") + "/T000/B000/slacksecretpath"
	webhookURL := recv.URL + "/hookd/webhook-secret-path"
	pdURL := "http://127.0.0.1:1/v2/enqueue/pd-secret-path"
	configPath := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(fmt.Sprintf(`
sinks:
  - {name: chat, type: slack, url: %q}
  - {name: siem, type: webhook, url: %q, secret: %q, headers: {X-Api-Key: %q}}
  - {name: oncall, type: pagerduty, routing_key: %q, url: %q, timeout: 300ms}
delivery:
  group_window: 200ms
  max_attempts: 1
`, slackURL, webhookURL, webhookSecret, headerSecret, routingKey, pdURL)), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS": oktaSecret,
		"HOOKD_ADMIN_TOKEN": adminToken, "HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": apiToken,
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s"}
	secrets := []string{oktaSecret, adminToken, apiToken, routingKey, headerSecret, webhookSecret,
		strings.TrimPrefix(webhookSecret, "whsec_"), slackURL, webhookURL, pdURL, "slacksecretpath", "webhook-secret-path", "pd-secret-path"}

	srv := start(t, env, "--config", configPath)
	code, out, errOut := run(map[string]string{"HOOKD_OKTA_SECRETS": oktaSecret, "HOOKD_LISTEN_ADDR": srv.addr}, "replay")
	require.Equal(t, 0, code, out+errOut)
	admin := "http://" + srv.adminAddr
	var seen strings.Builder
	call := func(method, path string, form url.Values, auth bool, wantStatus int) string {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, admin+path, body)
		require.NoError(t, err)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth {
			req.Header.Set("Authorization", "Bearer "+adminToken)
		}
		req.Header.Set("Accept", "text/html")
		if strings.HasPrefix(path, "/api/") {
			req.Header.Set("Accept", "application/json")
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, wantStatus, resp.StatusCode, "%s %s: %s", method, path, b)
		fmt.Fprintf(&seen, "%s %s\nLocation: %s\n%s\n%s\n", method, path, resp.Header.Get("Location"), resp.Header, b)
		return string(b)
	}
	// Every sink fails; the alerts are dead letters (one attempt each).
	require.Eventually(t, func() bool {
		var letters []adminapi.DeadLetter
		req, _ := http.NewRequest(http.MethodGet, admin+"/api/v1/deadletters", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !assert.NoError(t, jsonUnmarshal(b, &letters)) {
			return false
		}
		sinks := map[string]bool{}
		for _, l := range letters {
			sinks[l.Sink] = true
		}
		return len(sinks) == 3
	}, 30*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool { return strings.Contains(srv.stderr.String(), "System Log polling stopped") }, 20*time.Second, 50*time.Millisecond)

	// Without the token: nothing but a refusal, or the way to sign in.
	for _, path := range []string{"/", "/deadletters", "/sinks", "/coverage", "/metrics", "/readyz", "/api/v1/changes", "/api/v1/sinks"} {
		want := http.StatusUnauthorized
		if !strings.HasPrefix(path, "/api/") && path != "/metrics" && path != "/readyz" {
			want = http.StatusSeeOther
		}
		call(http.MethodGet, path, nil, false, want)
	}
	call(http.MethodPost, "/api/v1/sinks/siem/test", nil, false, http.StatusUnauthorized)
	call(http.MethodPost, "/login", url.Values{"token": {"wrong"}}, false, http.StatusUnauthorized)
	call(http.MethodGet, "/login", nil, false, http.StatusOK)

	// With it: every page and answer.
	var page adminapi.ChangePage
	require.NoError(t, jsonUnmarshal([]byte(call(http.MethodGet, "/api/v1/changes?limit=500", nil, true, http.StatusOK)), &page))
	require.NotEmpty(t, page.Changes)
	for _, c := range page.Changes[:5] {
		call(http.MethodGet, "/changes/"+url.PathEscape(c.Record.EventID), nil, true, http.StatusOK)
		call(http.MethodGet, "/api/v1/changes/"+url.PathEscape(c.Record.EventID), nil, true, http.StatusOK)
	}
	for _, path := range []string{"/", "/?role=Folder&since=30d", "/deadletters", "/deadletters?handled=1", "/sinks", "/coverage",
		"/api/v1/deadletters", "/api/v1/sinks", "/api/v1/coverage", "/metrics", "/static/console.css"} {
		call(http.MethodGet, path, nil, true, http.StatusOK)
	}
	call(http.MethodGet, "/readyz", nil, true, http.StatusServiceUnavailable)
	for _, sink := range []string{"chat", "siem", "oncall"} {
		call(http.MethodPost, "/api/v1/sinks/"+sink+"/test", nil, true, http.StatusBadGateway)
		call(http.MethodPost, "/sinks/"+sink+"/test", url.Values{}, true, http.StatusOK)
	}
	var letters []adminapi.DeadLetter
	require.NoError(t, jsonUnmarshal([]byte(call(http.MethodGet, "/api/v1/deadletters", nil, true, http.StatusOK)), &letters))
	call(http.MethodPost, fmt.Sprintf("/deadletters/%d/retry", letters[0].JobID), url.Values{}, true, http.StatusSeeOther)
	call(http.MethodPost, fmt.Sprintf("/api/v1/deadletters/%d/discard", letters[1].JobID), nil, true, http.StatusOK)
	call(http.MethodPost, fmt.Sprintf("/api/v1/deadletters/%d/discard", letters[1].JobID), nil, true, http.StatusConflict)
	call(http.MethodGet, "/changes/no-such-event", nil, true, http.StatusNotFound)
	call(http.MethodGet, "/api/v1/changes?before=%21%21", nil, true, http.StatusBadRequest)
	call(http.MethodGet, "/nowhere", nil, true, http.StatusNotFound)
	call(http.MethodPost, "/login", url.Values{"token": {adminToken}, "next": {"//evil.example/"}}, false, http.StatusSeeOther)
	// The retried letter's failure reaches the log: its fresh delivery is dead in turn.
	require.Eventually(t, func() bool {
		var change adminapi.Change
		require.NoError(t, jsonUnmarshal([]byte(call(http.MethodGet, "/api/v1/changes/"+url.PathEscape(letters[0].EventID), nil, true, http.StatusOK)), &change))
		for _, d := range change.Deliveries {
			if d.Sink == letters[0].Sink {
				return d.State == adminapi.StateDead
			}
		}
		return false
	}, 20*time.Second, 50*time.Millisecond, "the retried letter failed again")
	// And the poller's next cycles.
	pollsPast(t, func() string { return call(http.MethodGet, "/metrics", nil, true, http.StatusOK) }, 2)

	everything := seen.String() + srv.stderr.String() + srv.stdout.String()
	assert.Contains(t, everything, "oncall: ", "the sinks' failures are shown")
	assert.Contains(t, seen.String(), "Test alert to chat: failed")
	for _, s := range secrets {
		assert.NotContains(t, everything, s)
	}
	assert.Contains(t, seen.String(), "Location: /\n", "sign-in never sends the browser to another site")
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
