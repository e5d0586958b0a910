package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCheckAndServeRefuseTheSameSinks: what makes a sink, severity or route valid is decided
// in one place, so check and serve refuse the same file, each problem on its own line, and
// never show a URL.
func TestCheckAndServeRefuseTheSameSinks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
sinks:
  - {name: Bad Name, type: slack, url: "http://hooks.slack.com/services/SECRET"}
  - {name: hook, type: webhook, url: "not a url", secret: plain}
  - {name: hook, type: carrier-pigeon}
  - {name: ok, type: console, min_severity: urgent}
routes:
  - {sinks: [nowhere]}
severity: {Folder Reader: trivial}
`), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": dir, "HOOKD_OKTA_SECRETS": "s", "HOOKD_SLACK_WEBHOOK_URL": "http://hooks.slack.example/services/ENVSECRET"}
	want := []string{
		"sinks[0] (Bad Name): name must be lower-case letters, digits, - or _",
		"sinks[0] (Bad Name): url must be https:// (plain http only to a loopback host)",
		"sinks[1] (hook): url must be an http(s):// URL",
		"sinks[1] (hook): secret must start with whsec_",
		"sinks[2] (hook): type must be slack, webhook, pagerduty, teams, console",
		"sinks[3] (ok): min_severity must be low, medium, high or critical",
		"HOOKD_SLACK_WEBHOOK_URL: url must be https:// (plain http only to a loopback host)",
		`routes[0]: no sink named "nowhere"`,
		`severity["Folder Reader"]: must be low, medium, high or critical`,
	}
	for _, cmd := range []string{"check", "serve"} {
		code, stdout, stderr := run(env, cmd, "--config", file)
		assert.Equal(t, 1, code, cmd)
		assert.NotContains(t, stdout, "configuration OK")
		for _, w := range want {
			assert.Contains(t, stderr, "\n"+w, "%s: %s", cmd, w)
		}
		assert.NotContains(t, stderr+stdout, "SECRET")
	}

	// A plain http Slack URL to a loopback host is fine the short way, as in a YAML sink.
	code, _, stderr := run(map[string]string{"HOOKD_DATA_DIR": dir, "HOOKD_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/x"}, "check")
	assert.Equal(t, 0, code, stderr)
}

// TestCheckRefusesPostgresWithoutSecret: serve refuses to generate a secret on Postgres, so
// check does too (it used to say "configuration OK").
func TestCheckRefusesPostgresWithoutSecret(t *testing.T) {
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_DATABASE_URL": "postgres://127.0.0.1:1/none"}
	for _, cmd := range []string{"check", "serve"} {
		code, stdout, stderr := run(env, cmd)
		assert.Equal(t, 1, code, cmd)
		assert.NotContains(t, stdout, "configuration OK")
		assert.Contains(t, stderr, "HOOKD_OKTA_SECRETS: required with HOOKD_DATABASE_URL", cmd)
	}
}

// TestCheckShowsEffectiveValues: defaults that apply are shown as such, unset values say
// so, and routes and severity overrides are listed.
func TestCheckShowsEffectiveValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
routes:
  - {name: apps-quiet, match: {event_types: ["application.*"]}, drop: true}
severity: {Folder Reader: low}
`), 0o600))
	code, stdout, stderr := run(map[string]string{"HOOKD_DATA_DIR": dir}, "check", "--config", file)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{
		"okta_flow_sso,Okta Workflows (default)",
		"workflows.user.role.group.add,workflows.user.role.group.remove,workflows.user.role.user.add,workflows.user.role.user.remove (default)",
		"(default: the host name)",
		"serve makes one and keeps it in",
		"routes[0] (apps-quiet)  event_types=application.*  dropped",
		"Folder Reader  low",
	} {
		assert.Contains(t, stdout, want)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "HOOKD_") {
			assert.Greater(t, len(strings.Fields(line)), 1, "no blank value: %q", line)
		}
	}
}
