package alerting_test

import (
	"context"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBytesThatAreNotUTF8ReachEverySinkAsValidJSON: an event whose raw JSON and strings hold
// bytes that are not UTF-8 is still delivered to receivers that refuse anything but UTF-8
// JSON, and the webhook's signature is over the body it received.
func TestBytesThatAreNotUTF8ReachEverySinkAsValidJSON(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	rc := *payloadAlerts(t, "workflows-user-role-add.json")[0].First()
	rc.Raw = json.RawMessage("{\"displayName\":\"Bob\xff\xfe Builder\",\"note\":\"\xc3(\"}")
	rc.Subject.DisplayName = "Bob\xff\xfe Builder"
	rc.Actor.DisplayName = "Alice\xc3( Admin"
	a := &alerting.Alert{Changes: []*hookd.RoleChange{&rc}, Severity: alerting.Critical}

	slack := alertingtest.NewSlack(t)
	teams := alertingtest.NewTeams(t)
	pd := alertingtest.NewPagerDuty(t, routingKey)
	recv := alertingtest.NewReceiver(t, secret)
	newSinks := map[string]func() (alerting.Sink, error){
		"slack": func() (alerting.Sink, error) { return alerting.NewSlackSink("ops", slack.URL("ok"), 1000, "") },
		"teams": func() (alerting.Sink, error) { return alerting.NewTeamsSink("secops", teams.URL+"/workflows/x") },
		"pagerduty": func() (alerting.Sink, error) {
			return alerting.NewPagerDutySink("oncall", routingKey, pd.URL+"/v2/enqueue")
		},
		"webhook": func() (alerting.Sink, error) { return alerting.NewWebhookSink("siem", recv.URL, secret, nil) },
	}
	for name, newSink := range newSinks {
		t.Run(name, func(t *testing.T) {
			sink, err := newSink()
			require.NoError(t, err)
			require.NoError(t, sink.Deliver(context.Background(), a))
		})
	}
	_, problems := teams.Cards()
	assert.Empty(t, problems)
	_, problems = pd.Requests()
	assert.Empty(t, problems)
	assert.Empty(t, recv.Rejected(), "the signature verifies over the body received")
	got := recv.Deliveries()
	require.Len(t, got, 1)
	assert.True(t, utf8.Valid(got[0].Body) && json.Valid(got[0].Body))
	var doc alerting.WebhookDocument
	require.NoError(t, json.Unmarshal(got[0].Body, &doc))
	require.Len(t, doc.Alerts, 1)
	assert.Contains(t, string(doc.Alerts[0].Raw), "Bob\ufffd Builder", "invalid bytes show as U+FFFD")
}
