package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/okta/oktatest"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeactivatingTheHookIsCritical: an admin deactivating hookd's own event hook in Okta
// is, through the System Log, one critical alert naming the hook and the actor.
func TestDeactivatingTheHookIsCritical(t *testing.T) {
	logs := systemlogtest.NewOkta(t, "org-token")
	hooks := oktatest.NewEventHooks(t, "org-token")
	hooks.Log = func(eventType string, raw json.RawMessage) { logs.AddRaw(eventType, time.Now(), raw) }
	// One org: the Event Hooks API and the System Log API side by side.
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/eventHooks") {
			hooks.Config.Handler.ServeHTTP(w, r)
			return
		}
		logs.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(org.Close)
	env := map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "tamper-secret",
		"HOOKD_OKTA_ORG_URL": org.URL, "HOOKD_OKTA_API_TOKEN": "org-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s", "HOOKD_GROUP_WINDOW": "0s", "HOOKD_CONSOLE_FORMAT": "json",
	}
	srv := start(t, env)
	code, out, errOut := run(env, "okta", "register", "--url", "http://"+srv.addr+"/okta/events")
	require.Equal(t, 0, code, out+errOut)
	id := hooks.Hooks()[0].ID

	// Eve deactivates it, as in the Admin Console.
	req, err := http.NewRequest(http.MethodPost, org.URL+"/api/v1/eventHooks/"+id+"/lifecycle/deactivate", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "SSWS org-token")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	type line struct {
		Title    string `json:"title"`
		Severity string `json:"severity"`
		Category string `json:"category"`
		Subject  struct{ DisplayName, ID string }
		Actor    struct{ DisplayName, Login string }
	}
	var alerts []line
	require.Eventually(t, func() bool {
		alerts = nil
		for _, l := range strings.Split(srv.stdout.String(), "\n") {
			var a line
			if json.Unmarshal([]byte(l), &a) == nil && a.Category == "tampering" {
				alerts = append(alerts, a)
			}
		}
		return len(alerts) > 0
	}, 10*time.Second, 50*time.Millisecond, srv.stdout.String())
	settle(t, srv.adminAddr, 2) // more polls, whatever they queued delivered: still one
	alerts = alerts[:0]
	for _, l := range strings.Split(srv.stdout.String(), "\n") {
		var a line
		if json.Unmarshal([]byte(l), &a) == nil && a.Category == "tampering" {
			alerts = append(alerts, a)
		}
	}
	require.Len(t, alerts, 1, "one alert")
	a := alerts[0]
	assert.Equal(t, "hookd's Okta event hook deactivated", a.Title)
	assert.Equal(t, "critical", a.Severity)
	assert.Equal(t, "hookd", a.Subject.DisplayName, "names the hook")
	assert.Equal(t, id, a.Subject.ID)
	assert.Equal(t, oktatest.Actor.Name, a.Actor.DisplayName, "and who did it")
	assert.Equal(t, oktatest.Actor.Login, a.Actor.Login)
}
