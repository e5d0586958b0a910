package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("", envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8080", cfg.ListenAddr)
	assert.Equal(t, "./data", cfg.DataDir)
	assert.Equal(t, "Authorization", cfg.Okta.AuthHeader)
	assert.Equal(t, "/okta/events", cfg.Okta.EventsPath)
	assert.Equal(t, int64(10<<20), cfg.HTTP.BodyLimit)
	assert.Equal(t, 30*time.Second, cfg.SystemLog.PollInterval)
	assert.False(t, cfg.Postgres())
}

func TestFileThenEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
listen_addr: 127.0.0.1:9000
data_dir: /var/lib/hookd
okta:
  auth_header: X-Hook-Secret
  secrets: [from-file]
http:
  body_limit: 2048
console:
  format: json
`), 0o600))
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("s3cret-from-file\n"), 0o600))

	cfg, err := Load(file, envOf(map[string]string{
		"HOOKD_LISTEN_ADDR":             ":9001",
		"HOOKD_OKTA_SECRETS_FILE":       secretFile,
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1m",
		"HOOKD_DATABASE_URL":            "postgres://u:p@db:5432/hookd",
	}))
	require.NoError(t, err)
	assert.Equal(t, ":9001", cfg.ListenAddr, "environment beats the file")
	assert.Equal(t, "/var/lib/hookd", cfg.DataDir)
	assert.Equal(t, "X-Hook-Secret", cfg.Okta.AuthHeader)
	assert.Equal(t, []string{"s3cret-from-file"}, cfg.Okta.Secrets)
	assert.Equal(t, int64(2048), cfg.HTTP.BodyLimit)
	assert.Equal(t, "json", cfg.Console.Format)
	assert.Equal(t, time.Minute, cfg.SystemLog.PollInterval)
	assert.True(t, cfg.Postgres())
}

func TestErrorsNameTheSettingToFix(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"database scheme", map[string]string{"HOOKD_DATABASE_URL": "mysql://x/y"}, "HOOKD_DATABASE_URL: scheme must be postgres or postgresql"},
		{"bad duration", map[string]string{"HOOKD_SYSTEMLOG_POLL_INTERVAL": "often"}, "HOOKD_SYSTEMLOG_POLL_INTERVAL: not a duration"},
		{"short poll", map[string]string{"HOOKD_SYSTEMLOG_POLL_INTERVAL": "10ms"}, "HOOKD_SYSTEMLOG_POLL_INTERVAL: must be at least 1s"},
		{"empty listen", map[string]string{"HOOKD_LISTEN_ADDR": ""}, "HOOKD_LISTEN_ADDR: required"},
		{"listen not host:port", map[string]string{"HOOKD_LISTEN_ADDR": "8080"}, "HOOKD_LISTEN_ADDR: must be host:port or :port"},
		{"webhook without secret", map[string]string{"HOOKD_WEBHOOK_URL": "https://r.example/h"}, "HOOKD_WEBHOOK_URL and HOOKD_WEBHOOK_SECRET: set both or neither"},
		{"org without token", map[string]string{"HOOKD_OKTA_ORG_URL": "https://acme.okta.com"}, "HOOKD_OKTA_ORG_URL: needs HOOKD_OKTA_API_TOKEN, or HOOKD_OKTA_CLIENT_ID with HOOKD_OKTA_PRIVATE_KEY_FILE"},
		{"token without org", map[string]string{"HOOKD_OKTA_API_TOKEN": "t"}, "HOOKD_OKTA_ORG_URL: required with HOOKD_OKTA_API_TOKEN"},
		{"both ways", map[string]string{"HOOKD_OKTA_ORG_URL": "https://acme.okta.com", "HOOKD_OKTA_API_TOKEN": "t", "HOOKD_OKTA_CLIENT_ID": "0oa1"}, "use one way to authenticate"},
		{"client without key", map[string]string{"HOOKD_OKTA_ORG_URL": "https://acme.okta.com", "HOOKD_OKTA_CLIENT_ID": "0oa1"}, "HOOKD_OKTA_CLIENT_ID and HOOKD_OKTA_PRIVATE_KEY_FILE: set both"},
		{"dpop key without app", map[string]string{"HOOKD_OKTA_ORG_URL": "https://acme.okta.com", "HOOKD_OKTA_API_TOKEN": "t", "HOOKD_OKTA_DPOP_KEY_FILE": "/k.pem"}, "HOOKD_OKTA_DPOP_KEY_FILE: only with a service app"},
		{"header with space", map[string]string{"HOOKD_OKTA_AUTH_HEADER": "X Secret"}, "HOOKD_OKTA_AUTH_HEADER: must be a plain header name"},
		{"console format", map[string]string{"HOOKD_CONSOLE_FORMAT": "xml"}, "HOOKD_CONSOLE_FORMAT: must be one of: text, json"},
		{"missing secret file", map[string]string{"HOOKD_OKTA_SECRETS_FILE": "/nonexistent/secret"}, "HOOKD_OKTA_SECRETS_FILE: file /nonexistent/secret does not exist"},
		{"both secret and file", map[string]string{"HOOKD_OKTA_SECRETS": "a", "HOOKD_OKTA_SECRETS_FILE": "/x"}, "HOOKD_OKTA_SECRETS and HOOKD_OKTA_SECRETS_FILE: set one, not both"},
		{"workers", map[string]string{"HOOKD_DELIVERY_WORKERS": "0"}, "HOOKD_DELIVERY_WORKERS: must be at least 1"},
		{"body limit not a number", map[string]string{"HOOKD_HTTP_BODY_LIMIT": "10MB"}, "HOOKD_HTTP_BODY_LIMIT: must be a whole number"},
		{"admin url plain http", map[string]string{"HOOKD_OKTA_ADMIN_URL": "http://sso-admin.acme.example"}, "HOOKD_OKTA_ADMIN_URL: must be https://<host>"},
		{"admin url with a path", map[string]string{"HOOKD_OKTA_ADMIN_URL": "https://sso-admin.acme.example/admin"}, "HOOKD_OKTA_ADMIN_URL: must be https://<host>"},
		{"console url with a query", map[string]string{"HOOKD_CONSOLE_URL": "https://hookd.acme.example/?x=1"}, "HOOKD_CONSOLE_URL: must be an http(s):// URL"},
		{"console url not a url", map[string]string{"HOOKD_CONSOLE_URL": "hookd.acme.example"}, "HOOKD_CONSOLE_URL: must be an http(s):// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", envOf(tt.env))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "postgres-password-123"
	_, err := Load("", envOf(map[string]string{"HOOKD_DATABASE_URL": "mysql://user:" + secret + "@h/db"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}

func TestUnknownFileKeysAreErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte("listen_adr: :1\n"), 0o600))
	_, err := Load(file, envOf(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen_adr")

	empty := filepath.Join(t.TempDir(), "empty.yaml")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	_, err = Load(empty, envOf(nil))
	assert.NoError(t, err, "an empty file is no settings")
}

func TestSettingsHideSecrets(t *testing.T) {
	cfg, err := Load("", envOf(map[string]string{
		"HOOKD_OKTA_SECRETS":      "alpha-secret,beta-secret",
		"HOOKD_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
	}))
	require.NoError(t, err)
	var all strings.Builder
	got := map[string]string{}
	for _, s := range cfg.Settings() {
		got[s.Env] = s.Value
		all.WriteString(s.Env + "=" + s.Value + "\n")
	}
	assert.Equal(t, "(2 set, hidden)", got["HOOKD_OKTA_SECRETS"])
	assert.Equal(t, "(set, hidden)", got["HOOKD_SLACK_WEBHOOK_URL"])
	assert.Equal(t, "(not set)", got["HOOKD_DATABASE_URL"])
	assert.Equal(t, ":8080", got["HOOKD_LISTEN_ADDR"])
	for _, secret := range []string{"alpha-secret", "beta-secret", "XXXXSECRET"} {
		assert.NotContains(t, all.String(), secret)
	}
}

func TestSinksRoutesAndSeverity(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
sinks:
  - {name: secops, type: slack, url: "https://hooks.slack.com/services/T/B/X", min_severity: high}
  - {name: siem, type: webhook, url: "https://siem.example/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", headers: {X-Api-Key: k}}
routes:
  - name: ignore the bot
    match: {actors: ["svc-*@acme.example"]}
    drop: true
  - match: {event_types: ["workflows.*"]}
    sinks: [secops, siem]
severity:
  Folder Reader: low
delivery:
  group_window: 500ms
`), 0o600))
	cfg, err := Load(file, envOf(map[string]string{"HOOKD_CONSOLE": "true"}))
	require.NoError(t, err)
	var names []string
	for _, s := range cfg.AllSinks() {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"secops", "siem", "console"}, names)
	assert.Equal(t, 500*time.Millisecond, cfg.Delivery.GroupWindow)
	assert.Equal(t, 56, cfg.Delivery.MaxAttempts)
	summaries := strings.Join(cfg.SinkSummaries(), "\n")
	assert.Contains(t, summaries, "secops (slack, url set, hidden, min severity high)")
	assert.NotContains(t, summaries, "hooks.slack.com")
	assert.NotContains(t, summaries, "whsec_")

	// Without any sink, the console is the one.
	cfg, err = Load("", envOf(map[string]string{"HOOKD_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X"}))
	require.NoError(t, err)
	require.Len(t, cfg.AllSinks(), 1)
	assert.Equal(t, "slack", cfg.AllSinks()[0].Name)
}

func TestTrustedProxiesAndEventCap(t *testing.T) {
	cfg, err := Load("", envOf(map[string]string{"HOOKD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.0/24", "HOOKD_HTTP_MAX_EVENTS": "500"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.0/8", "192.0.2.0/24"}, cfg.HTTP.TrustedProxies)
	assert.Equal(t, 500, cfg.HTTP.MaxEvents)
	assert.Equal(t, 10000, mustDefaults(t).HTTP.MaxEvents)

	_, err = Load("", envOf(map[string]string{"HOOKD_TRUSTED_PROXIES": "10.0.0.1"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HOOKD_TRUSTED_PROXIES")
}

func mustDefaults(t *testing.T) Config {
	t.Helper()
	cfg, err := Load("", envOf(nil))
	require.NoError(t, err)
	return cfg
}

// TestLogFormatVocabulary: HOOKD_LOG_FORMAT takes text|json like HOOKD_CONSOLE_FORMAT.
func TestLogFormatVocabulary(t *testing.T) {
	for _, f := range []string{"text", "json", "console"} {
		_, err := Load("", envOf(map[string]string{"HOOKD_LOG_FORMAT": f}))
		assert.NoError(t, err, f)
	}
	_, err := Load("", envOf(map[string]string{"HOOKD_LOG_FORMAT": "xml"}))
	assert.ErrorContains(t, err, "HOOKD_LOG_FORMAT")
}

// TestYAMLErrorsNameKeyAndLine: YAML problems name the key and its line, suggest the nearest
// known key, and come one to a line, never in Go's type names.
func TestYAMLErrorsNameKeyAndLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte("okta:\n  auth_headr: X-Secret\nhttp:\n  accept_timeout: 5\nsinks:\n  - {name: a, typ: slack}\n"), 0o600))
	_, err := Load(file, envOf(nil))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, "invalid configuration:", lines[0])
	assert.Contains(t, err.Error(), `line 2: unknown key "okta.auth_headr"; did you mean "auth_header"?`)
	assert.Contains(t, err.Error(), `line 4: http.accept_timeout: "5" is not a duration with its unit, such as 5s or 2m`)
	assert.Contains(t, err.Error(), `line 6: unknown key "sinks[0].typ"; did you mean "type"?`)
	assert.NotContains(t, err.Error(), "config.Okta")
	assert.NotContains(t, err.Error(), "time.Duration")
	assert.Len(t, lines, 4, "one problem a line")
}

func TestDetections(t *testing.T) {
	cfg, err := Load("", envOf(nil))
	require.NoError(t, err)
	d := cfg.Detections
	assert.True(t, d.SelfGrant)
	assert.True(t, d.NewNetwork)
	assert.Equal(t, time.Hour, d.ShortLived)
	assert.Equal(t, 24*time.Hour, d.FreshGranter)
	assert.Equal(t, 14*24*time.Hour, d.NewNetworkHistory)
	assert.Equal(t, 5, d.BurstSubjects)
	assert.Equal(t, 10*time.Minute, d.BurstWindow)
	assert.Empty(t, d.OffHours.TimeZone, "off-hours is off until the team's hours are known")

	file := filepath.Join(t.TempDir(), "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
detections:
  self_grant: false
  short_lived: 30m
  burst_subjects: 0
  off_hours: {time_zone: Europe/Berlin, start: "08:00", end: "17:30", days: [mon, tue, wed, thu]}
`), 0o600))
	cfg, err = Load(file, envOf(map[string]string{"HOOKD_DETECT_FRESH_GRANTER": "0s"}))
	require.NoError(t, err)
	d = cfg.Detections
	assert.False(t, d.SelfGrant)
	assert.Equal(t, 30*time.Minute, d.ShortLived)
	assert.Zero(t, d.FreshGranter)
	assert.Zero(t, d.BurstSubjects)
	assert.Equal(t, OffHours{TimeZone: "Europe/Berlin", Start: "08:00", End: "17:30", Days: []string{"mon", "tue", "wed", "thu"}}, d.OffHours)

	_, err = Load("", envOf(map[string]string{
		"HOOKD_DETECT_OFF_HOURS_TIME_ZONE": "Mars/Olympus",
		"HOOKD_DETECT_OFF_HOURS_START":     "9am",
		"HOOKD_DETECT_OFF_HOURS_DAYS":      "mon,funday",
		"HOOKD_DETECT_SHORT_LIVED":         "-1h",
		"HOOKD_DETECT_BURST_WINDOW":        "0s",
	}))
	require.Error(t, err)
	for _, want := range []string{
		`HOOKD_DETECT_OFF_HOURS_TIME_ZONE: "Mars/Olympus" is not a known time zone`,
		`HOOKD_DETECT_OFF_HOURS_START: "9am": must be HH:MM`,
		`HOOKD_DETECT_OFF_HOURS_DAYS: "funday"`,
		"HOOKD_DETECT_SHORT_LIVED",
		"HOOKD_DETECT_BURST_WINDOW: must be above 0",
	} {
		assert.Contains(t, err.Error(), want)
	}
}

// Off loopback anyone on the network may guess at the admin token, so a short one is refused;
// on loopback any token is the operator's own choice.
func TestAdminTokenOffLoopbackIsLongEnough(t *testing.T) {
	_, err := Load("", envOf(map[string]string{"HOOKD_ADMIN_ADDR": "0.0.0.0:9090", "HOOKD_ADMIN_TOKEN": "a"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HOOKD_ADMIN_TOKEN: at least 24 characters")
	assert.NotContains(t, err.Error(), `"a"`, "the token itself is not repeated")
	_, err = Load("", envOf(map[string]string{"HOOKD_ADMIN_ADDR": "0.0.0.0:9090", "HOOKD_ADMIN_TOKEN": strings.Repeat("k", MinAdminToken)}))
	require.NoError(t, err)
	_, err = Load("", envOf(map[string]string{"HOOKD_ADMIN_ADDR": "127.0.0.1:9090", "HOOKD_ADMIN_TOKEN": "a"}))
	require.NoError(t, err)
}

func TestAdminHosts(t *testing.T) {
	cfg, err := Load("", envOf(map[string]string{"HOOKD_ADMIN_HOSTS": "hookd.internal,tunnel.example"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"hookd.internal", "tunnel.example"}, cfg.AdminHosts)
	_, err = Load("", envOf(map[string]string{"HOOKD_ADMIN_HOSTS": "http://hookd.internal/"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HOOKD_ADMIN_HOSTS")
}

// The DPoP key's path comes from the file or the environment; unset, serve keeps the key in
// the data dir.
func TestDPoPKeyFile(t *testing.T) {
	app := map[string]string{"HOOKD_OKTA_ORG_URL": "https://acme.okta.com", "HOOKD_OKTA_CLIENT_ID": "0oa1", "HOOKD_OKTA_PRIVATE_KEY_FILE": "/etc/hookd/app.pem"}
	cfg, err := Load("", envOf(app))
	require.NoError(t, err)
	assert.Empty(t, cfg.SystemLog.DPoPKeyFile)

	file := filepath.Join(t.TempDir(), "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte("systemlog:\n  dpop_key_file: /var/lib/keys/dpop.pem\n"), 0o600))
	cfg, err = Load(file, envOf(app))
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/keys/dpop.pem", cfg.SystemLog.DPoPKeyFile)

	app["HOOKD_OKTA_DPOP_KEY_FILE"] = "/run/hookd/dpop.pem"
	cfg, err = Load(file, envOf(app))
	require.NoError(t, err)
	assert.Equal(t, "/run/hookd/dpop.pem", cfg.SystemLog.DPoPKeyFile, "environment beats the file")
	got := map[string]string{}
	for _, s := range cfg.Settings() {
		got[s.Env] = s.Value
	}
	assert.Equal(t, "/run/hookd/dpop.pem", got["HOOKD_OKTA_DPOP_KEY_FILE"], "a path, not a secret: check shows it")
}

func TestLinkBasesLoad(t *testing.T) {
	cfg, err := Load("", envOf(map[string]string{"HOOKD_OKTA_ADMIN_URL": "https://sso-admin.acme.example/",
		"HOOKD_CONSOLE_URL": "http://hookd.internal:9090/hookd"}))
	require.NoError(t, err)
	assert.Equal(t, "https://sso-admin.acme.example/", cfg.Okta.AdminURL)
	assert.Equal(t, "http://hookd.internal:9090/hookd", cfg.ConsoleURL)
}

func TestSlackSigningSecretAndEscalation(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "signing")
	require.NoError(t, os.WriteFile(secretFile, []byte("signing-from-file\n"), 0o600))
	file := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
sinks:
  - {name: secops, type: slack, url: "https://hooks.slack.com/services/T/B/x", signing_secret_file: `+secretFile+`}
routes:
  - match: {roles: ["Workflows Admin*"]}
    sinks: [secops]
    escalate: {after: 10m, sinks: [secops]}
`), 0o600))
	cfg, err := Load(file, envOf(map[string]string{"HOOKD_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/y",
		"HOOKD_SLACK_SIGNING_SECRET": "signing-from-env"}))
	require.NoError(t, err)
	sinks := cfg.AllSinks()
	assert.Equal(t, "signing-from-file", sinks[0].SigningSecret)
	assert.Equal(t, "signing-from-env", sinks[1].SigningSecret)
	assert.Equal(t, &Escalate{After: 10 * time.Minute, Sinks: []string{"secops"}}, cfg.Routes[0].Escalate)
	for _, line := range cfg.SinkSummaries() {
		assert.NotContains(t, line, "signing-from")
	}

	require.NoError(t, os.WriteFile(file, []byte(`
sinks:
  - {name: a, type: slack, url: "https://hooks.slack.com/services/T/B/x", signing_secret: x, signing_secret_file: `+secretFile+`}
  - {name: b, type: slack, url: "https://hooks.slack.com/services/T/B/x", signing_secret_file: /nonexistent/signing}
`), 0o600))
	_, err = Load(file, envOf(nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sinks[0]: signing_secret and signing_secret_file: set one, not both")
	assert.Contains(t, err.Error(), "sinks[1]: signing_secret_file: file /nonexistent/signing does not exist")
}
