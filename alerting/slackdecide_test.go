package alerting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decideRouter(t *testing.T, rules ...Rule) (*Router, error) {
	t.Helper()
	return Build(Spec{Sinks: []SinkSpec{
		{Where: "sinks[0]", Name: "secops", Type: "slack", URL: "https://hooks.slack.com/services/T0/B0/xyz", SigningSecret: "s3cr3t-signing"},
		{Where: "sinks[1]", Name: "plain", Type: "slack", URL: "https://hooks.slack.com/services/T0/B1/abc"},
		{Where: "sinks[2]", Name: "pager", Type: "pagerduty", RoutingKey: "R0123456789", MinSeverity: "critical"},
	}, Rules: rules})
}

func TestEscalationNeedsSomeoneToDecide(t *testing.T) {
	_, err := decideRouter(t, Rule{Sinks: []string{"plain"}, Escalate: &Escalation{After: time.Minute, Sinks: []string{"pager"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "routes[0].escalate: none of the route's sinks is a Slack sink with a signing_secret")

	_, err = decideRouter(t, Rule{Sinks: []string{"secops"}, Escalate: &Escalation{Sinks: []string{"nobody"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "routes[0].escalate: needs after (1s or more) and sinks")
	assert.Contains(t, err.Error(), `routes[0].escalate: no sink named "nobody"`)

	_, err = Build(Spec{Sinks: []SinkSpec{{Where: "sinks[0]", Name: "hook", Type: "webhook", URL: "https://r.example/h",
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SigningSecret: "x"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sinks[0]: signing_secret is for Slack sinks only")
}

func TestEscalationOf(t *testing.T) {
	r, err := decideRouter(t, Rule{Sinks: []string{"secops"}, Escalate: &Escalation{After: time.Minute, Sinks: []string{"pager"}}})
	require.NoError(t, err)
	rc := sample() // a grant of Workflows Administrator: critical
	assert.Equal(t, &Escalation{After: time.Minute, Sinks: []string{"pager"}}, r.Escalation(rc))
	rc.Roles = []hookd.Role{{Name: "Folder Reader"}} // high: below the pager's minimum
	assert.Nil(t, r.Escalation(rc))
	rc = sample()
	rc.Category = hookd.Test
	assert.Nil(t, r.Escalation(rc), "a test alert never escalates")
	assert.Equal(t, map[string]string{"secops": "s3cr3t-signing"}, r.SlackSigningSecrets())
}

func TestDecisionButtonsAndTheDecidedMessage(t *testing.T) {
	a := &Alert{Changes: []*hookd.RoleChange{sample()}, Severity: Critical}
	m := withDecisionButtons(RenderSlack(a), a)
	actions := m.Blocks[len(m.Blocks)-2]
	require.Equal(t, "actions", actions.Type)
	assert.Equal(t, "context", m.Blocks[len(m.Blocks)-1].Type, "the context line stays last")
	require.Len(t, actions.Buttons, 3, "no console link: no link button")
	for _, b := range actions.Buttons {
		assert.Equal(t, a.ID(), b.Value)
		assert.NotEmpty(t, SlackDecisionOf(b.ActionID))
	}
	assert.Empty(t, SlackDecisionOf("hookd_open"))

	d := &hookd.Decision{Decision: hookd.Suspicious, ByID: "U1", ByName: "<!channel> Mallory", At: time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)}
	replaced := RenderSlackDecided(a, d)
	assert.True(t, replaced.ReplaceOriginal)
	text := replaced.AllText()
	assert.Contains(t, text, ":rotating_light: Marked as suspicious by &lt;!channel&gt; Mallory (`U1`) at 2026-12-07 04:00:00 UTC")
	for _, b := range replaced.Blocks {
		assert.NotEqual(t, "actions", b.Type)
	}

	// A later alert of a decided change says so, and has no buttons to decide again.
	a.Changes[0].Decision = d
	assert.Contains(t, RenderSlack(a).AllText(), "Marked as suspicious by")
}

func TestRespondGoesOnlyToSlack(t *testing.T) {
	r, err := decideRouter(t)
	require.NoError(t, err)
	d := &hookd.Decision{Decision: hookd.Acknowledged, ByID: "U1", At: time.Now()}
	for _, u := range []string{"https://evil.example/actions/x", "http://hooks.slack.com/actions/x", "https://hooks.slack.com.evil.example/x", "::"} {
		err := r.Respond(context.Background(), "secops", u, []*hookd.RoleChange{sample()}, d)
		assert.ErrorIs(t, err, ErrForeignResponseURL, u)
	}
	err = r.Respond(context.Background(), "pager", "https://hooks.slack.com/actions/x", []*hookd.RoleChange{sample()}, d)
	assert.ErrorIs(t, err, ErrUnknownSink)
}

func TestEscalatedTitle(t *testing.T) {
	rc := sample()
	for secs, want := range map[int]string{4: "4 seconds", 60: "1 minute", 600: "10 minutes", 7200: "2 hours", 90: "90 seconds"} {
		rc.EscalatedAfter = secs
		assert.True(t, strings.HasPrefix(Title(rc), "Not acknowledged for "+want+": Workflows role granted"), Title(rc))
	}
}
