package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/okta"
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

// TestCheckSaysWhichOktaScopes: with Okta configured, check lists what hookd's features ask
// of it, so that the service app (or the token's admin) gets exactly that; without Okta,
// nothing.
func TestCheckSaysWhichOktaScopes(t *testing.T) {
	dir := t.TempDir()
	scopes := []string{"okta.logs.read", "okta.groups.read", "okta.eventHooks.manage", "okta.eventHooks.read", "okta.roles.read"}
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for no line at all
	}{
		{"no Okta", map[string]string{}, ""},
		{"service app", map[string]string{"HOOKD_OKTA_ORG_URL": "https://acme.okta.com", "HOOKD_OKTA_CLIENT_ID": "0oaHookd",
			"HOOKD_OKTA_PRIVATE_KEY_FILE": filepath.Join(dir, "app.pem")}, "Okta scopes needed: "},
		{"API token", map[string]string{"HOOKD_OKTA_ORG_URL": "https://acme.okta.com", "HOOKD_OKTA_API_TOKEN": "00secret-token"},
			"Okta permissions needed (the API token acts with its admin's): "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["HOOKD_DATA_DIR"] = dir
			code, stdout, stderr := run(tt.env, "check")
			require.Equal(t, 0, code, stderr)
			var line string
			for _, l := range strings.Split(stdout, "\n") {
				if strings.HasPrefix(l, "Okta scopes needed") || strings.HasPrefix(l, "Okta permissions needed") {
					line = l
				}
			}
			if tt.want == "" {
				assert.Empty(t, line, "no Okta, nothing to grant")
				return
			}
			require.True(t, strings.HasPrefix(line, tt.want), "%q", line)
			for _, s := range scopes {
				assert.Contains(t, line, s)
			}
			assert.Contains(t, line, "okta.roles.read for hookd holders snapshot")
			assert.Contains(t, line, "okta.eventHooks.read for hookd okta register")
			assert.NotContains(t, stdout, "00secret-token")
		})
	}
}

// TestCheckShowsTheDPoPKeyPath: check shows where the service app's DPoP key is kept, the
// same path the credentials use: the data dir's by default, HOOKD_OKTA_DPOP_KEY_FILE's when set.
func TestCheckShowsTheDPoPKeyPath(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	appKey := filepath.Join(dir, "app.pem")
	require.NoError(t, os.WriteFile(appKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": dir, "HOOKD_OKTA_ORG_URL": "https://acme.okta.com",
		"HOOKD_OKTA_CLIENT_ID": "0oaHookd", "HOOKD_OKTA_PRIVATE_KEY_FILE": appKey}

	for _, keyFile := range []string{"", filepath.Join(t.TempDir(), "keys", "dpop.pem")} {
		env["HOOKD_OKTA_DPOP_KEY_FILE"] = keyFile
		code, stdout, stderr := run(env, "check")
		require.Equal(t, 0, code, stderr)

		cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok && v != "" })
		require.NoError(t, err)
		creds, err := pollerCredentials(cfg.SystemLog, cfg.DataDir)
		require.NoError(t, err)
		app, ok := creds.(*okta.ServiceApp)
		require.True(t, ok)
		want := keyFile
		if keyFile == "" {
			want = filepath.Join(dir, dpopKeyFile)
			assert.Contains(t, stdout, want+" (default: made on the first token request)")
		}
		assert.Equal(t, want, app.DPoPKeyFile)
		var shown []string
		for _, l := range strings.Split(stdout, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "HOOKD_OKTA_DPOP_KEY_FILE" {
				shown = f
			}
		}
		require.NotEmpty(t, shown, "check lists the setting")
		assert.Equal(t, want, shown[1])
	}
}
