package alerting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/hookd/hookd/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// payloadAlerts turns every watched event of a payload file into a one-change alert.
func payloadAlerts(t *testing.T, name string) []*alerting.Alert {
	t.Helper()
	body, err := os.ReadFile("../testdata/payloads/" + name)
	require.NoError(t, err)
	b, err := hook.DecodeBytes(body)
	require.NoError(t, err)
	var c hook.Classifier
	changes, _ := c.RoleChanges(b, hookd.SourceHook)
	var out []*alerting.Alert
	for i := range changes {
		out = append(out, &alerting.Alert{Changes: []*hookd.RoleChange{&changes[i]}, Severity: alerting.DefaultSeverity(&changes[i])})
	}
	require.NotEmpty(t, out)
	return out
}

func TestSlackMessagesStayInsideSlacksLimitsAndEscapeOktaStrings(t *testing.T) {
	slack := alertingtest.NewSlack(t)
	sink, err := alerting.NewSlackSink("ops", slack.URL("ok"), 1000, "") // pacing has its own test
	require.NoError(t, err)

	var alerts []*alerting.Alert
	for _, f := range []string{"hostile-strings.json", "workflows-role-shapes.json", "privilege-grant-failed.json", "mixed-batch-50.json"} {
		alerts = append(alerts, payloadAlerts(t, f)...)
	}
	// One alert for several changes of one admin action, and one with many long roles.
	alerts = append(alerts, &alerting.Alert{Changes: []*hookd.RoleChange{alerts[0].First(), alerts[1].First(), alerts[2].First()}, Severity: alerting.Critical})
	many := *alerts[0].First()
	many.Roles = nil
	for i := 0; i < 300; i++ {
		many.Roles = append(many.Roles, hookd.Role{Name: strings.Repeat("<!channel> role & more ", 20)})
	}
	alerts = append(alerts, &alerting.Alert{Changes: []*hookd.RoleChange{&many}, Severity: alerting.High})

	for _, a := range alerts {
		require.NoError(t, sink.Deliver(context.Background(), a), a.ID())
	}
	assert.Empty(t, slack.Problems())
	got := slack.Messages("ok")
	require.Len(t, got, len(alerts))
	for _, m := range got {
		text := m.AllText()
		assert.False(t, strings.ContainsAny(text, "<>"), "an Okta string was not escaped:\n%s", text)
	}
	hostile := got[0].AllText()
	assert.Contains(t, hostile, "&lt;!channel&gt; &lt;http://evil.example|Click to verify&gt; &amp; \"quotes\"")
	assert.Contains(t, hostile, "&lt;@U012ABCDEF&gt;")
	assert.Equal(t, "header", got[0].Blocks[0].Type)
	assert.Equal(t, ":large_orange_circle: HIGH · Workflows role granted", got[0].Blocks[0].Text.Text)
	assert.Contains(t, hostile, ":large_orange_circle: HIGH", "\"<!here> Workflows Administrator\" is not the critical role")
	assert.NotContains(t, hostile, "\u202e", "no bidi override survives")
	assert.Contains(t, hostile, "Mallory &lt;@U012ABCDEF&gt; ∗bold∗ ˋcodeˋ ∼strike∼ \ufffdRTL\ufffd")
	assert.Contains(t, got[len(got)-2].AllText(), "*3 changes in one admin action:*")
}

func TestSlackMessageFields(t *testing.T) {
	a := payloadAlerts(t, "privilege-grant-failed.json")[0]
	m := alerting.RenderSlack(a)
	require.Len(t, m.Blocks, 3)
	assert.Equal(t, ":large_yellow_circle: MEDIUM · Okta admin privilege grant failed", m.Blocks[0].Text.Text)
	var fields []string
	for _, f := range m.Blocks[1].Fields {
		fields = append(fields, f.Text)
	}
	assert.Equal(t, []string{
		"*Role*\nSuper administrator",
		"*Group*\nWorkflow Builders",
		"*Actor*\nAlice Admin (alice.admin@acme.example)",
		"*Outcome*\n:x: FAILURE: Insufficient permissions",
		"*Source IP*\n`203.0.113.77` — Denver, Colorado, United States",
		"*Network*\nAS64496 · example transit · example isp inc.\n:warning: *through a proxy or anonymizer*",
		"*Okta time*\n2026-11-20 14:12:24 UTC",
	}, fields)
	assert.Equal(t, "context", m.Blocks[2].Type)
	assert.Contains(t, m.Blocks[2].Elements[0].Text, "· via Okta event hook · https://acme.okta.com")
	assert.Equal(t, "Okta admin privilege grant failed: Super administrator → Workflow Builders by Alice Admin (alice.admin@acme.example)", m.Text)
}

func TestSecretsNeverInErrors(t *testing.T) {
	slack := alertingtest.NewSlack(t)
	slack.RateLimited = 100
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream exploded", http.StatusBadGateway)
	}))
	defer broken.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
	}))
	defer redirect.Close()

	const token = "xoxsecretTOKEN123"
	const signing = "whsec_c2lnbmluZy1zZWNyZXQtMTIzNDU2Nzg5MA=="
	a := payloadAlerts(t, "workflows-user-role-add.json")[0]
	var sinks []alerting.Sink
	for _, base := range []string{slack.URL("gone"), slack.URL("limited"), deadURL + "/services/T/B/", broken.URL + "/services/T/B/", redirect.URL + "/x/"} {
		s, err := alerting.NewSlackSink("ops", base+token, 0, "")
		require.NoError(t, err)
		sinks = append(sinks, s)
		w, err := alerting.NewWebhookSink("siem", base+"?token="+token, signing, map[string]string{"X-Api-Key": token})
		require.NoError(t, err)
		sinks = append(sinks, w)
	}
	for i, s := range sinks {
		err := s.Deliver(context.Background(), a)
		require.Error(t, err, "sink %d", i)
		for _, secret := range []string{token, signing, "c2lnbmluZy1zZWNyZXQ"} {
			assert.NotContains(t, err.Error(), secret, "sink %d", i)
		}
	}
	// Construction errors too.
	_, err := alerting.NewWebhookSink("siem", "https://r.example/?token="+token, "whsec_!!"+token, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), token)
}

func TestWebhookSignedAndStable(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	recv := alertingtest.NewReceiver(t, secret)
	recv.Fail = 1
	sink, err := alerting.NewWebhookSink("siem", recv.URL+"/hook", secret, map[string]string{"X-Tenant": "acme"})
	require.NoError(t, err)
	a := payloadAlerts(t, "workflows-user-role-add.json")[0]

	err = sink.Deliver(context.Background(), a)
	require.Error(t, err, "the receiver's 503 is a retry")
	var p interface{ Permanent() bool }
	assert.False(t, errors.As(err, &p))
	require.NoError(t, sink.Deliver(context.Background(), a))
	require.NoError(t, sink.Deliver(context.Background(), a))

	got := recv.Deliveries()
	require.Len(t, got, 2)
	assert.Empty(t, recv.Rejected())
	assert.Equal(t, got[0].ID, got[1].ID, "webhook-id is stable across retries")
	assert.Equal(t, alerting.MessageID("webhook siem", a), got[0].ID)
	assert.Equal(t, "acme", got[0].Header.Get("X-Tenant"))
	var doc alerting.WebhookDocument
	require.NoError(t, json.Unmarshal(got[0].Body, &doc))
	assert.Equal(t, 1, doc.Version)
	assert.Equal(t, "Workflows role granted", doc.Title)
	require.Len(t, doc.Alerts, 1)
	assert.Equal(t, a.ID(), doc.Alerts[0].EventID)
	assert.JSONEq(t, string(a.First().Raw), string(doc.Alerts[0].Raw))

	// A receiver with another secret refuses it: the signature is real.
	other := alertingtest.NewReceiver(t, "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==")
	sink2, err := alerting.NewWebhookSink("siem", other.URL, secret, nil)
	require.NoError(t, err)
	err = sink2.Deliver(context.Background(), a)
	require.Error(t, err)
	failure, _ := hookd.FailureOf(err)
	assert.Equal(t, hookd.FailPermanent, failure, "401 is permanent")
	assert.Equal(t, []string{"bad signature"}, other.Rejected())
}

func TestWebhookRefusesReservedHeadersAndBadSecrets(t *testing.T) {
	_, err := alerting.NewWebhookSink("x", "https://r.example", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", map[string]string{"webhook-signature": "v1,forged"})
	assert.ErrorContains(t, err, "header Webhook-Signature is set by hookd")
	_, err = alerting.NewWebhookSink("x", "https://r.example", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", nil)
	assert.ErrorContains(t, err, "must start with whsec_")
	_, err = alerting.NewWebhookSink("x", "ftp://r.example", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", nil)
	assert.ErrorContains(t, err, "must be an http(s):// URL")
}

// TestGroupHasNoFakeLogin: Okta's alternateId for a group is "unknown"; the console line
// shows no login for it rather than login="unknown".
func TestGroupHasNoFakeLogin(t *testing.T) {
	a := payloadAlerts(t, "workflows-group-role-add.json")[0]
	line := alerting.ConsoleLine(a.First(), a.Severity)
	assert.NotContains(t, line, `"unknown"`)
	assert.Contains(t, line, "group=")
}

// TestDroppedAlertsAreCounted: a route with drop: true leaves a trace.
func TestDroppedAlertsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	var told []string
	router, err := alerting.Build(alerting.Spec{
		Sinks:      []alerting.SinkSpec{{Where: "console", Name: "console", Type: "console"}},
		Rules:      []alerting.Rule{{Name: "quiet-apps", EventTypes: []string{"application.*"}, Drop: true}},
		Console:    io.Discard,
		Registerer: reg,
		OnDrop:     func(_ *hookd.RoleChange, rule string) { told = append(told, rule) },
	})
	require.NoError(t, err)
	assert.Empty(t, router.Route(&hookd.RoleChange{EventType: "application.user_membership.add"}))
	assert.Equal(t, []string{"console"}, router.Route(&hookd.RoleChange{EventType: hook.WorkflowsUserRoleAdd}))
	assert.Equal(t, []string{"quiet-apps"}, told)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP hookd_alerts_dropped_total Events a routing rule dropped (drop: true), by rule.
# TYPE hookd_alerts_dropped_total counter
hookd_alerts_dropped_total{rule="quiet-apps"} 1
`), "hookd_alerts_dropped_total"))
}

func TestTamperingTitlesAndSeverity(t *testing.T) {
	own := &hookd.RoleChange{Category: hookd.Tampering, Action: hookd.Deactivated, HookdOwn: true, Subject: hookd.Subject{Kind: hookd.SubjectEventHook, DisplayName: "hookd"}}
	other := &hookd.RoleChange{Category: hookd.Tampering, Action: hookd.Deleted, Subject: hookd.Subject{Kind: hookd.SubjectEventHook, DisplayName: "siem"}}
	stream := &hookd.RoleChange{Category: hookd.Tampering, Action: hookd.Deactivated, Subject: hookd.Subject{Kind: hookd.SubjectLogStream}}
	failing := &hookd.RoleChange{Category: hookd.Tampering, Action: hookd.DeliveryFailed, HookdOwn: true, Subject: hookd.Subject{Kind: hookd.SubjectEventHook}}
	assert.Equal(t, "hookd's Okta event hook deactivated", alerting.Title(own))
	assert.Equal(t, alerting.Critical, alerting.DefaultSeverity(own))
	assert.Equal(t, "Okta event hook deleted", alerting.Title(other))
	assert.Equal(t, alerting.High, alerting.DefaultSeverity(other))
	assert.Equal(t, "Okta log stream deactivated", alerting.Title(stream))
	assert.Equal(t, "hookd's Okta event hook: deliveries failing", alerting.Title(failing))
	assert.Equal(t, alerting.High, alerting.DefaultSeverity(failing))
	m := alerting.RenderSlack(&alerting.Alert{Changes: []*hookd.RoleChange{own}, Severity: alerting.Critical})
	assert.Contains(t, m.AllText(), "*Event hook*\nhookd")
}

func TestFindingsSayWhyInEverySink(t *testing.T) {
	rc := payloadAlerts(t, "workflows-user-role-add.json")[0].Changes[0]
	rc.Findings = []hookd.Finding{{ID: "self-grant", Title: "Self-grant", Severity: "critical",
		Detail: "<!channel> <http://evil|Bob> granted Workflows Administrator to themselves"}}
	a := &alerting.Alert{Changes: []*hookd.RoleChange{rc}, Severity: alerting.Critical}

	msg := alerting.RenderSlack(a)
	require.GreaterOrEqual(t, len(msg.Blocks), 2)
	why := msg.Blocks[1].Text.Text
	assert.True(t, strings.HasPrefix(why, ":rotating_light: *Why this matters*\n• *Self-grant* (`self-grant`): "), why)
	assert.Contains(t, why, "&lt;!channel&gt; &lt;http://evil|Bob&gt; granted", "Okta names in a finding are escaped")
	assert.NotContains(t, msg.AllText(), "<!channel>")

	var out bytes.Buffer
	require.NoError(t, alerting.NewConsoleSink(&out, false).Deliver(context.Background(), a))
	assert.Contains(t, out.String(), " findings=self-grant why=")
}
