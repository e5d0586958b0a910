package alerting_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/hookd/hookd/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const routingKey = "R0UT1NGKEYdonotleak0123456789abc"

// TestPagerDutyOneIncidentDespiteRetry: the first trigger is taken but answered too late, so
// the attempt fails and is retried; the retry carries the same dedup_key and PagerDuty keeps
// one incident.
func TestPagerDutyOneIncidentDespiteRetry(t *testing.T) {
	pd := alertingtest.NewPagerDuty(t, routingKey)
	pd.SlowFirst = 500 * time.Millisecond
	sink, err := alerting.NewPagerDutySink("oncall", routingKey, pd.URL+"/v2/enqueue")
	require.NoError(t, err)
	a := payloadAlerts(t, "workflows-user-role-add.json")[0]
	a.Severity = alerting.Critical

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err = sink.Deliver(ctx, a)
	cancel()
	require.Error(t, err, "the first attempt times out")
	failure, _ := hookd.FailureOf(err)
	assert.Equal(t, hookd.FailRetry, failure, "and is retried")
	require.NoError(t, sink.Deliver(context.Background(), a))

	requests, problems := pd.Requests()
	assert.Equal(t, 2, requests)
	assert.Empty(t, problems, "every trigger has PagerDuty's required fields")
	incidents := pd.Incidents()
	require.Len(t, incidents, 1, "one incident")
	for key, ev := range incidents {
		assert.Equal(t, alerting.PagerDutyDedupKey("pagerduty oncall", a), key)
		assert.Equal(t, "critical", ev.Payload.Severity)
		assert.Equal(t, "https://acme.okta.com", ev.Payload.Source)
		assert.Equal(t, hook.WorkflowsUserRoleAdd, ev.Payload.Class)
		assert.Contains(t, ev.Payload.Summary, "Workflows Administrator")
		assert.Contains(t, ev.Payload.Summary, "Bob Builder")
		assert.Contains(t, ev.Payload.Summary, "Alice Admin")
		assert.Equal(t, a.First().EventID, ev.Payload.CustomDetails["event_uuid"])
	}
}

func TestPagerDutySeverityAndLimits(t *testing.T) {
	a := payloadAlerts(t, "hostile-strings.json")[0]
	for sev, want := range map[alerting.Severity]string{alerting.Critical: "critical", alerting.High: "error", alerting.Medium: "warning", alerting.Low: "info"} {
		a.Severity = sev
		ev := alerting.RenderPagerDuty("x", a)
		assert.Equal(t, want, ev.Payload.Severity)
		assert.LessOrEqual(t, utf8.RuneCountInString(ev.Payload.Summary), 1024)
		assert.LessOrEqual(t, len(ev.DedupKey), 255)
	}
}

// TestMinSeverityKeepsMediumFromPaging: a PagerDuty sink with min_severity critical gets the
// critical grant, not the medium one.
func TestMinSeverityKeepsMediumFromPaging(t *testing.T) {
	router, err := alerting.Build(alerting.Spec{Console: io.Discard, Sinks: []alerting.SinkSpec{
		{Where: "sinks[0]", Name: "console", Type: "console"},
		{Where: "sinks[1]", Name: "oncall", Type: "pagerduty", RoutingKey: routingKey, URL: "http://127.0.0.1:9/v2/enqueue", MinSeverity: "critical"},
	}})
	require.NoError(t, err)
	critical := payloadAlerts(t, "workflows-user-role-add.json")[0].First()
	medium := payloadAlerts(t, "privilege-grant-failed.json")[0].First()
	require.Equal(t, alerting.Critical, alerting.DefaultSeverity(critical))
	require.Equal(t, alerting.Medium, alerting.DefaultSeverity(medium))
	assert.Equal(t, []string{"console", "oncall"}, router.Route(critical))
	assert.Equal(t, []string{"console"}, router.Route(medium))
}

// TestTeamsShowsHostileNamesAsPlainText: Markdown, mentions, template expressions and a
// 10,000-character display name render as plain text, and the card stays under Teams' limit.
func TestTeamsShowsHostileNamesAsPlainText(t *testing.T) {
	teams := alertingtest.NewTeams(t)
	sink, err := alerting.NewTeamsSink("secops", teams.URL+"/workflows/SECRETSIG")
	require.NoError(t, err)
	a := payloadAlerts(t, "workflows-user-role-add.json")[0]
	rc := *a.First()
	rc.Subject.DisplayName = "**Bob** [click here](https://evil.example) <at>everyone</at> {{DATE(2026-01-01T00:00:00Z)}} _x_ ~~y~~ `z`\n- list\n# heading" + strings.Repeat("é", 10000)
	rc.Actor.DisplayName = "1. Mallory"
	a = &alerting.Alert{Changes: []*hookd.RoleChange{&rc}, Severity: alerting.Critical}

	require.NoError(t, sink.Deliver(context.Background(), a))
	cards, problems := teams.Cards()
	require.Empty(t, problems, "the card has what Teams requires")
	require.Len(t, cards, 1)
	text := alertingtest.CardText(cards[0])
	for _, formed := range []string{"**", "](", "<at>", "{{", "_x_", "~~", "`z`", "\n- ", "\n#"} {
		assert.NotContains(t, text, formed, "no Markdown or mention forms")
	}
	for _, seen := range []string{"Bob", "click here", "everyone", "Mallory"} {
		assert.Contains(t, strings.ReplaceAll(text, "\u200b", ""), seen, "the characters are all still there")
	}
	body, err := json.Marshal(alerting.RenderTeams(a))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(body), alertingtest.TeamsMaxBytes)
	assert.Equal(t, "Attention", cards[0].Body[0].Color, "critical is red")

	// A large admin action stays within the limit too.
	many := make([]*hookd.RoleChange, 300)
	for i := range many {
		c := rc
		c.EventID = strings.Repeat("u", 36)
		many[i] = &c
	}
	big := &alerting.Alert{Changes: many, Severity: alerting.High}
	big.Links = alerting.Links{AdminURL: "https://sso-admin.acme.example", ConsoleURL: "https://hookd.acme.example"}.For(big)
	require.NotEmpty(t, big.Links)
	body, err = json.Marshal(alerting.RenderTeams(big))
	require.NoError(t, err)
	assert.LessOrEqual(t, len(body), alertingtest.TeamsMaxBytes, "with its links")
	assert.Len(t, alerting.RenderTeams(big).Attachments[0].Content.Actions, len(big.Links))
}

// TestPagingSinksNeverLeakTheirSecrets: every failure path of the PagerDuty and Teams sinks
// (refused connection, 404, 500, redirect, bad answer, timeout) gives errors without the
// routing key or the Teams URL.
func TestPagingSinksNeverLeakTheirSecrets(t *testing.T) {
	answer := func(status int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusFound {
				http.Redirect(w, r, "https://elsewhere.example/", status)
				return
			}
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(status)
			_, _ = w.Write([]byte("answer of " + http.StatusText(status) + " " + string(body[:min(len(body), 0)])))
		}))
		t.Cleanup(s.Close)
		return s
	}
	// A receiver that never answers: it holds each request until the client gives up (the
	// sinks' deadline closes the connection) or the test ends.
	hold := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hold:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(hold) }) // runs first: slow.Close waits for the handlers
	bases := []string{"http://127.0.0.1:1", answer(404).URL, answer(500).URL, answer(http.StatusFound).URL, answer(400).URL, slow.URL}
	a := payloadAlerts(t, "workflows-user-role-add.json")[0]
	for _, base := range bases {
		pd, err := alerting.NewPagerDutySink("oncall", routingKey, base+"/v2/enqueue")
		require.NoError(t, err)
		teams, err := alerting.NewTeamsSink("secops", base+"/workflows/TEAMSSECRETSIG")
		require.NoError(t, err)
		for _, sink := range []alerting.Sink{pd, teams} {
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			err := sink.Deliver(ctx, a)
			cancel()
			require.Error(t, err, base)
			assert.NotContains(t, err.Error(), routingKey)
			assert.NotContains(t, err.Error(), "TEAMSSECRETSIG")
		}
	}
	_, err := alerting.NewPagerDutySink("oncall", "", "")
	assert.ErrorContains(t, err, "routing_key is required")
	_, err = alerting.NewTeamsSink("secops", "http://teams.example/TEAMSSECRETSIG")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "TEAMSSECRETSIG")
}
