package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
)

// sampleOfEvent maps each sample event's uuid to its file.
func sampleOfEvent(t *testing.T) map[string]string {
	files, err := filepath.Glob(filepath.Join(payloads, "*.json"))
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		var d struct {
			Data struct {
				Events []struct{ UUID any }
			}
		}
		if json.Unmarshal(body, &d) != nil {
			continue
		}
		for _, e := range d.Data.Events {
			if id, ok := e.UUID.(string); ok {
				out[id] = filepath.Base(f)
			}
		}
	}
	return out
}

// TestFindingsInAlerts replays every sample into the binary with off-hours configured and a
// route that pages on any finding: each finding fires on its own sample and on no other,
// the webhook document lists it, the Slack message says why, and the route sends exactly the
// alerts with findings to the paging channel.
func TestFindingsInAlerts(t *testing.T) {
	slack := alertingtest.NewSlack(t)
	recv := alertingtest.NewReceiver(t, webhookSecret)
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "okta-secret")
	require.NoError(t, os.WriteFile(secretPath, []byte("findings-e2e-secret\n"), 0o600))
	configPath := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(fmt.Sprintf(`
sinks:
  - {name: secops, type: slack, url: %q, per_second: 500}
  - {name: oncall, type: slack, url: %q, per_second: 500}
  - {name: siem, type: webhook, url: %q, secret: %q}
routes:
  - name: looks-like-an-attack
    match: {findings: ["*"]}
    sinks: [oncall, secops, siem]
  - name: the-rest
    sinks: [secops, siem]
delivery:
  group_window: 300ms
`, slack.URL("ok"), slack.URL("oncall"), recv.URL+"/hookd", webhookSecret)), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS_FILE": secretPath,
		"HOOKD_DETECT_OFF_HOURS_TIME_ZONE": "America/New_York"}
	groups := groupsOf(expectedRecords(t))

	srv := start(t, env, "--config", configPath)
	code, out, _ := run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", "--secret-file", secretPath, payloads)
	require.Equal(t, 0, code, out)
	require.Eventually(t, func() bool {
		return len(recv.Deliveries()) == len(groups) && len(slack.Messages("ok")) == len(groups)
	}, 30*time.Second, 50*time.Millisecond, "webhook %d, slack %d of %d", len(recv.Deliveries()), len(slack.Messages("ok")), len(groups))

	files := sampleOfEvent(t)
	fired := map[string][]string{}
	severities := map[string]string{}
	for _, d := range recv.Deliveries() {
		var doc alerting.WebhookDocument
		require.NoError(t, json.Unmarshal(d.Body, &doc))
		var perEvent []string
		for _, rc := range doc.Alerts {
			for _, f := range rc.Findings {
				perEvent = append(perEvent, f.ID)
				fired[files[rc.EventID]] = append(fired[files[rc.EventID]], f.ID)
			}
		}
		var top []string
		for _, f := range doc.Findings {
			top = append(top, f.ID)
			assert.NotEmpty(t, f.Title)
			assert.NotEmpty(t, f.Detail)
			severities[f.ID] = doc.Severity.String()
		}
		assert.ElementsMatch(t, perEvent, top, "the document's findings are its events'")
	}
	for f := range fired {
		sort.Strings(fired[f])
	}
	assert.Equal(t, map[string][]string{
		"finding-self-grant.json":    {"self-grant"},
		"finding-short-lived.json":   {"short-lived"},
		"finding-fresh-granter.json": {"fresh-granter"},
		"finding-new-network.json":   {"new-network"},
		"finding-burst.json":         {"burst"},
		"finding-off-hours.json":     {"off-hours"},
	}, fired)
	// A finding raises the alert: a self-granted admin role is critical, a revoke (medium
	// alone) that was short-lived is high.
	assert.Equal(t, "critical", severities["self-grant"])
	assert.Equal(t, "high", severities["short-lived"])
	assert.Equal(t, "critical", severities["fresh-granter"], "a Workflows Administrator grant stays critical")

	// Slack says why; only alerts with a finding reach the paging channel.
	require.Eventually(t, func() bool { return len(slack.Messages("oncall")) == 6 }, 10*time.Second, 50*time.Millisecond)
	for _, m := range slack.Messages("oncall") {
		assert.Contains(t, m.AllText(), ":rotating_light: *Why this matters*")
	}
	why := 0
	for _, m := range slack.Messages("ok") {
		if strings.Contains(m.AllText(), "*Why this matters*") {
			why++
		}
	}
	assert.Equal(t, 6, why, "secops gets every alert; six of them say why")
	var burst string
	for _, m := range slack.Messages("oncall") {
		if strings.Contains(m.AllText(), "Burst of role changes") {
			burst = m.AllText()
		}
	}
	assert.Contains(t, burst, "Paul Bulk has changed roles for 6 subjects within 10 minutes (more than 5)")
	assert.Empty(t, slack.Problems())
	require.Equal(t, 0, srv.stop())
}
