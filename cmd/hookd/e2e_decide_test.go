package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/hookd/hookd/verify"
)

const slackSigningSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// adminGrant is a critical grant: the Workflows Administrator role to a user.
func adminGrant(uuid, user string, at time.Time) []byte {
	return oktagen.Delivery(oktaEvent(uuid, hook.WorkflowsUserRoleAdd, at, "00uAdmin", "", userTarget(user),
		`{"id":"wfr-admin","type":"WorkflowsRole","displayName":"Workflows Administrator"}`))
}

// slackClick posts a click on an alert's button to hookd as Slack would, signed with secret
// at the time given (a second click with the same arguments is the same request, replayed),
// and returns the status.
func slackClick(t *testing.T, addr, secret string, at time.Time, action, eventID, responseURL string) int {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"type": "block_actions", "response_url": responseURL,
		"user":    map[string]string{"id": "U0RESPOND", "username": "alice", "name": "Alice <Responder>"},
		"actions": []map[string]string{{"action_id": action, "value": eventID, "type": "button"}}})
	require.NoError(t, err)
	body := url.Values{"payload": {string(payload)}}.Encode()
	ts := strconv.FormatInt(at.Unix(), 10)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/slack/interactions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(verify.SlackTimestampHeader, ts)
	req.Header.Set(verify.SlackSignatureHeader, "v0="+hex.EncodeToString(verify.SlackSignature([]byte(secret), ts, []byte(body))))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// decisions returns the decision `hookd changes --json` shows on each change, by event uuid.
func decisions(t *testing.T, env map[string]string, admin string) map[string]*hookd.Decision {
	t.Helper()
	code, out, errOut := run(env, "changes", "--json", "--since", "3650d", "--admin-url", admin)
	require.Equal(t, 0, code, errOut)
	var page adminapi.ChangePage
	require.NoError(t, json.Unmarshal([]byte(out), &page))
	got := map[string]*hookd.Decision{}
	for _, c := range page.Changes {
		got[c.Record.EventID] = c.Record.Decision
	}
	return got
}

// escalated returns the event uuids the pager received, with the alert's title.
func escalated(t *testing.T, recv *alertingtest.Receiver) map[string]string {
	out := map[string]string{}
	for _, d := range recv.Deliveries() {
		var doc struct {
			Title  string
			Alerts []hookd.RoleChange
		}
		require.NoError(t, json.Unmarshal(d.Body, &doc))
		for _, rc := range doc.Alerts {
			out[rc.EventID] = doc.Title
			assert.Equal(t, 4, rc.EscalatedAfter, rc.EventID)
		}
	}
	return out
}

// TestSlackDecisionsAndEscalation: through the binary, a critical grant reaches Slack with
// its links, the severity in the header and the decision buttons; a signed Acknowledge is
// recorded, replaces the message and shows in `hookd changes --json`; forged, stale and
// replayed clicks get 401 and change nothing; the unacknowledged grant is escalated to the
// pager and the acknowledged one is not, also across a restart.
func TestSlackDecisionsAndEscalation(t *testing.T) {
	slackFake := alertingtest.NewSlack(t)
	pager := alertingtest.NewReceiver(t, webhookSecret)
	dir := t.TempDir()
	configPath := filepath.Join(dir, "hookd.yaml")
	secretFile := filepath.Join(dir, "slack-signing-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(slackSigningSecret+"\n"), 0o600))
	require.NoError(t, os.WriteFile(configPath, []byte(fmt.Sprintf(`
console_url: https://hookd.acme.example
sinks:
  - {name: secops, type: slack, url: %q, per_second: 500, signing_secret_file: %q}
  - {name: pager, type: webhook, url: %q, secret: %q}
routes:
  - match: {event_types: ["workflows.*"]}
    sinks: [secops]
    escalate: {after: 4s, sinks: [pager]}
delivery: {group_window: 0s}
`, slackFake.URL("ok"), secretFile, pager.URL+"/pager", webhookSecret)), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS": "decide-secret"}
	srv := start(t, env, "--config", configPath)
	admin := "http://" + srv.adminAddr

	now := time.Now()
	for _, id := range []string{"grant-acked", "grant-ignored"} {
		require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, "decide-secret", adminGrant(id, "00u"+id, now)))
	}
	require.Eventually(t, func() bool { return len(slackFake.Messages("ok")) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Empty(t, slackFake.Problems())
	var m alertingtest.SlackMessage
	for _, msg := range slackFake.Messages("ok") {
		if strings.Contains(msg.AllText(), "grant-acked") {
			m = msg
		}
	}
	require.NotEmpty(t, m.Blocks)
	assert.Equal(t, ":red_circle: CRITICAL · Workflows role granted", m.Blocks[0].Text.Text)
	text := m.AllText()
	assert.Contains(t, text, "<https://acme-admin.okta.com/admin/user/profile/view/00ugrant-acked|User User 00ugrant-acked in Okta>")
	assert.Contains(t, text, "https://acme-admin.okta.com/report/system_log_2?fromTime=")
	assert.Contains(t, text, "search=transaction.id+eq+%22tx-grant-acked%22")
	assert.Contains(t, text, "<https://hookd.acme.example/changes/grant-acked|This change in hookd>")

	// Slack's own Block Kit types read the message: header, buttons, the link button.
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	var msg slack.Msg
	require.NoError(t, json.Unmarshal(raw, &msg))
	require.IsType(t, &slack.HeaderBlock{}, msg.Blocks.BlockSet[0])
	var buttons []*slack.ButtonBlockElement
	for _, b := range msg.Blocks.BlockSet {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				require.IsType(t, &slack.ButtonBlockElement{}, e)
				buttons = append(buttons, e.(*slack.ButtonBlockElement))
			}
		}
	}
	require.Len(t, buttons, 4)
	assert.Equal(t, "hookd_acknowledge", buttons[0].ActionID)
	assert.Equal(t, "grant-acked", buttons[0].Value)
	assert.Equal(t, "https://hookd.acme.example/changes/grant-acked", buttons[3].URL)

	// Forged, stale, unknown: 401, 401, 404; nothing recorded.
	respond := slackFake.ResponseURL("tok-1")
	code := slackClick(t, srv.addr, "not-the-secret", time.Now(), "hookd_acknowledge", "grant-ignored", respond)
	assert.Equal(t, http.StatusUnauthorized, code)
	code = slackClick(t, srv.addr, slackSigningSecret, time.Now().Add(-6*time.Minute), "hookd_acknowledge", "grant-ignored", respond)
	assert.Equal(t, http.StatusUnauthorized, code)
	code = slackClick(t, srv.addr, slackSigningSecret, time.Now(), "hookd_acknowledge", "no-such-change", respond)
	assert.Equal(t, http.StatusNotFound, code)

	// A signed Acknowledge: 200, recorded, the message replaced naming who.
	clicked := time.Now()
	code = slackClick(t, srv.addr, slackSigningSecret, clicked, "hookd_acknowledge", "grant-acked", respond)
	require.Equal(t, http.StatusOK, code)
	require.Eventually(t, func() bool { return len(slackFake.Messages("responses")) == 1 }, 5*time.Second, 20*time.Millisecond)
	replaced := slackFake.Messages("responses")[0]
	assert.True(t, replaced.ReplaceOriginal)
	assert.Contains(t, replaced.AllText(), ":eyes: Acknowledged by Alice &lt;Responder&gt; (`U0RESPOND`)")
	for _, b := range replaced.Blocks {
		assert.NotEqual(t, "actions", b.Type, "the replaced message has no buttons left")
	}
	got := decisions(t, env, admin)
	require.NotNil(t, got["grant-acked"])
	assert.Equal(t, hookd.Acknowledged, got["grant-acked"].Decision)
	assert.Equal(t, "Alice <Responder>", got["grant-acked"].ByName)
	assert.Nil(t, got["grant-ignored"], "the refused clicks recorded nothing")
	code, out, _ := run(env, "changes", "--since", "3650d", "--admin-url", admin)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Workflows role granted (acknowledged by Alice <Responder>)", "the table says it too")
	var change adminapi.Change
	apiGet(t, admin+"/api/v1/changes/grant-acked", &change)
	require.NotEmpty(t, change.Links)
	assert.Equal(t, "https://acme-admin.okta.com/admin/user/profile/view/00ugrant-acked", change.Links[0].Href)
	html := httpGet(t, admin+"/changes/grant-acked")
	assert.Contains(t, html, "acknowledged by Alice &lt;Responder&gt; <code>U0RESPOND</code>")
	assert.Contains(t, html, `href="https://acme-admin.okta.com/report/system_log_2?`)

	// The same signed request again: 401, nothing more recorded or replaced (checked once a
	// later click's message has been replaced, below).
	code = slackClick(t, srv.addr, slackSigningSecret, clicked, "hookd_acknowledge", "grant-acked", respond)
	assert.Equal(t, http.StatusUnauthorized, code, "a replayed request")

	// After 4 s the unacknowledged grant reaches the pager, the acknowledged one never.
	require.Eventually(t, func() bool { return len(escalated(t, pager)) == 1 }, 15*time.Second, 50*time.Millisecond)
	assert.Equal(t, map[string]string{"grant-ignored": "Not acknowledged for 4 seconds: Workflows role granted"}, escalated(t, pager))

	// Across a restart: two more grants, one acknowledged, hookd stopped and started again
	// before their 4 s are up.
	now = time.Now()
	for _, id := range []string{"later-acked", "later-ignored"} {
		require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, "decide-secret", adminGrant(id, "00u"+id, now)))
	}
	require.Eventually(t, func() bool { return len(slackFake.Messages("ok")) == 4 }, 10*time.Second, 20*time.Millisecond)
	code = slackClick(t, srv.addr, slackSigningSecret, time.Now(), "hookd_acknowledge", "later-acked", slackFake.ResponseURL("tok-2"))
	require.Equal(t, http.StatusOK, code)
	// This click's message is replaced, seconds after the replayed one was refused: that one
	// replaced nothing.
	replacedFor := func(id string) int {
		n := 0
		for _, r := range slackFake.Messages("responses") {
			if strings.Contains(r.AllText(), id) {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return replacedFor("later-acked") == 1 }, 5*time.Second, 20*time.Millisecond)
	assert.Len(t, slackFake.Messages("responses"), 2)
	assert.Equal(t, 1, replacedFor("grant-acked"), "the replayed click replaced nothing")
	require.Equal(t, 0, srv.stop())
	srv = start(t, env, "--config", configPath)
	assert.NotNil(t, decisions(t, env, "http://"+srv.adminAddr)["later-acked"], "the decision outlives the restart")
	require.Eventually(t, func() bool { return len(escalated(t, pager)) == 2 }, 15*time.Second, 50*time.Millisecond)
	// The acknowledged grant's escalation came due too, and was settled as decided, not sent.
	require.Eventually(t, func() bool {
		return metric(t, srv.adminAddr, `hookd_deliveries_total{outcome="decided",sink="pager"}`) >= 1
	}, 15*time.Second, 50*time.Millisecond, "the acknowledged grant's escalation was decided")
	settle(t, srv.adminAddr, 0)
	assert.Equal(t, map[string]string{
		"grant-ignored": "Not acknowledged for 4 seconds: Workflows role granted",
		"later-ignored": "Not acknowledged for 4 seconds: Workflows role granted",
	}, escalated(t, pager))
}
