package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// groupsOf is how the payloads' events go out: one message per admin action (the events
// sharing a transaction id and actor), keyed by the uuids it carries.
func groupsOf(records map[string]hookd.RoleChange) map[string][]string {
	out := map[string][]string{}
	for id, rc := range records {
		key := "alone:" + id
		if rc.TransactionID != "" && rc.Actor.ID != "" {
			key = rc.TransactionID + "|" + rc.Actor.ID
		}
		out[key] = append(out[key], id)
	}
	return out
}

func TestAlertsReachSlackAndWebhooks(t *testing.T) {
	slack := alertingtest.NewSlack(t)
	slack.RateLimited = 3 // the first three messages to "limited" get 429 Retry-After: 1
	recv := alertingtest.NewReceiver(t, webhookSecret)

	dir := t.TempDir()
	secretPath := filepath.Join(dir, "okta-secret")
	require.NoError(t, os.WriteFile(secretPath, []byte("alerting-e2e-secret\n"), 0o600))
	configPath := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(fmt.Sprintf(`
sinks:
  - {name: secops, type: slack, url: %q, per_second: 500}
  - {name: limited, type: slack, url: %q, per_second: 500}
  - {name: gone, type: slack, url: %q, per_second: 500}
  - {name: siem, type: webhook, url: %q, secret: %q, headers: {X-Tenant: acme}}
delivery:
  group_window: 300ms
`, slack.URL("ok"), slack.URL("limited"), slack.URL("gone"), recv.URL+"/hookd", webhookSecret)), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS_FILE": secretPath}

	records := expectedRecords(t)
	groups := groupsOf(records)
	require.Less(t, len(groups), len(records), "the payloads hold an admin action of several events")

	srv := start(t, env, "--config", configPath)
	url := "http://" + srv.addr + "/okta/events"
	code, out, _ := run(env, "replay", "--url", url, "--secret-file", secretPath, payloads)
	require.Equal(t, 0, code, out)

	require.Eventually(t, func() bool {
		return len(slack.Messages("ok")) == len(groups) && len(recv.Deliveries()) == len(groups) &&
			len(slack.Messages("limited")) == len(groups) && slack.Hits("gone") == len(groups) &&
			metric(t, srv.adminAddr, "hookd_queue_depth") == 0
	}, 30*time.Second, 50*time.Millisecond, "slack ok %d, limited %d, gone %d, webhook %d of %d groups",
		len(slack.Messages("ok")), len(slack.Messages("limited")), slack.Hits("gone"), len(recv.Deliveries()), len(groups))

	// Slack: each event is in exactly one message, every message inside Slack's limits.
	assert.Empty(t, slack.Problems())
	for _, kind := range []string{"ok", "limited"} {
		for id := range records {
			n := 0
			for _, m := range slack.Messages(kind) {
				if strings.Contains(m.AllText(), "`"+id+"`") {
					n++
				}
			}
			assert.Equal(t, 1, n, "%s: messages naming %s", kind, id)
		}
	}
	assert.Equal(t, len(groups)+3, slack.Hits("limited"), "three 429s, then each message once")

	// The admin action of three roles is one message listing all three.
	var several []alertingtest.SlackMessage
	for _, m := range slack.Messages("ok") {
		if strings.Contains(m.AllText(), "*3 changes in one admin action:*") {
			several = append(several, m)
		}
	}
	require.Len(t, several, 1)
	assert.Equal(t, ":large_orange_circle: HIGH · Workflows roles granted", several[0].Blocks[0].Text.Text)
	assert.Contains(t, several[0].AllText(), "Folder Manager, Integration Builder, Connection Manager")

	// Webhook: verified by the receiver's own implementation of Standard Webhooks, one
	// document per admin action, each event once.
	assert.Empty(t, recv.Rejected())
	seen := map[string]int{}
	for _, d := range recv.Deliveries() {
		var doc alerting.WebhookDocument
		require.NoError(t, json.Unmarshal(d.Body, &doc))
		assert.Equal(t, 1, doc.Version)
		assert.Equal(t, "acme", d.Header.Get("X-Tenant"))
		for _, rc := range doc.Alerts {
			seen[rc.EventID]++
		}
	}
	assert.Len(t, seen, len(records))
	for id, n := range seen {
		assert.Equal(t, 1, n, id)
	}

	// The 404 sink: every message tried once, cancelled, one error line each, and no
	// error line for any other sink.
	assert.Equal(t, float64(len(groups)), metric(t, srv.adminAddr, `hookd_delivery_jobs{state="dead"}`), "one dead letter a message")
	var deadLines []string
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(line, `"level":"error"`) {
			deadLines = append(deadLines, line)
		}
	}
	assert.Len(t, deadLines, len(groups))
	for _, line := range deadLines {
		assert.Contains(t, line, "dead letter")
		assert.Contains(t, line, `"sink":"gone"`)
		assert.Contains(t, line, `"event_uuid":"`)
		assert.Contains(t, line, "channel_not_found")
		assert.NotContains(t, line, "secretToken", "the Slack URL is a secret")
	}

	// A redelivery alerts nothing new anywhere.
	code, out, _ = run(env, "replay", "--url", url, "--secret-file", secretPath,
		filepath.Join(payloads, "redelivery-of-mixed-batch-50.json"), filepath.Join(payloads, "workflows-several-roles-one-action.json"))
	require.Equal(t, 0, code, out)
	assert.Zero(t, metric(t, srv.adminAddr, "hookd_queue_depth"), "nothing new queued")
	assert.Equal(t, float64(len(groups)), metric(t, srv.adminAddr, `hookd_delivery_jobs{state="dead"}`))
	assert.Len(t, slack.Messages("ok"), len(groups))
	assert.Len(t, recv.Deliveries(), len(groups))

	metrics := httpGet(t, "http://"+srv.adminAddr+"/metrics")
	assert.Contains(t, metrics, fmt.Sprintf(`hookd_deliveries_total{outcome="permanent",sink="gone"} %d`, len(groups)))
	assert.Contains(t, metrics, `hookd_deliveries_total{outcome="rate_limited",sink="limited"} 3`)
	assert.Contains(t, metrics, fmt.Sprintf(`hookd_delivery_jobs{state="dead"} %d`, len(groups)))
	assert.Contains(t, metrics, `hookd_delivery_latency_seconds_count{sink="secops"}`)
	for _, secret := range []string{"secretToken", webhookSecret, "alerting-e2e-secret"} {
		assert.NotContains(t, metrics, secret)
		assert.NotContains(t, srv.stderr.String(), secret)
	}
}
