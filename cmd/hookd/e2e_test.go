package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is an io.Writer that tests may read while the program writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is one in-process hookd serve.
type running struct {
	addr      string
	adminAddr string
	stdout    *syncBuffer
	stderr    *syncBuffer
	stop      func() int
}

// start runs `hookd serve` with env on a random port and returns once it accepts requests.
func start(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	env["HOOKD_LISTEN_ADDR"] = "127.0.0.1:0"
	if _, ok := env["HOOKD_ADMIN_ADDR"]; !ok {
		env["HOOKD_ADMIN_ADDR"] = "127.0.0.1:0"
	}
	r := &running{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ready := make(chan string, 1)
	m := &Main{Stdout: r.stdout, Stderr: r.stderr, Getenv: lookup(env), Environ: environ(env), Listening: func(addr string) { ready <- addr },
		AdminListening: func(addr string) { r.adminAddr = addr }}
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int, 1)
	go func() { exit <- m.Run(ctx, append([]string{"serve"}, args...)) }()
	select {
	case r.addr = <-ready:
	case code := <-exit:
		cancel()
		t.Fatalf("serve exited with %d before it was ready:\n%s", code, r.stderr.String())
	}
	var once sync.Once
	code := 0
	r.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-exit
		})
		return code
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// environ is env as os.Environ lists it.
func environ(env map[string]string) func() []string {
	return func() []string {
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		return out
	}
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// run runs a non-serve subcommand and returns its exit code and output.
func run(env map[string]string, args ...string) (int, string, string) {
	var stdout, stderr syncBuffer
	m := &Main{Stdout: &stdout, Stderr: &stderr, Getenv: lookup(env), Environ: environ(env)}
	code := m.Run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

// expectedRecords is what the payloads hold: every watched role change, once, by uuid.
func expectedRecords(t *testing.T) map[string]hookd.RoleChange {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(payloads, "*.json"))
	require.NoError(t, err)
	out := map[string]hookd.RoleChange{}
	var c hook.Classifier
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		b, err := hook.DecodeBytes(body)
		if err != nil {
			continue
		}
		changes, _ := c.RoleChanges(b, hookd.SourceHook)
		for _, rc := range changes {
			if rc.IsMembership() {
				continue // the samples' groups hold nothing watched: not role changes
			}
			out[rc.EventID] = rc
		}
	}
	require.NotEmpty(t, out)
	return out
}

const payloads = "../../testdata/payloads"

// metric reads one series of a running hookd's /metrics (its name with labels, as the text
// format writes it), 0 when it is absent: a black-box test reads what an operator reads.
func metric(t *testing.T, adminAddr, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(httpGet(t, "http://"+adminAddr+"/metrics"), "\n") {
		if value, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err, line)
			return f
		}
	}
	return 0
}

// pollCycles is how many System Log poll cycles a /metrics text counts, whatever their
// result: a cycle is counted when it ends, after what it accepted was committed.
func pollCycles(t *testing.T, metrics string) float64 {
	t.Helper()
	total := 0.0
	for _, line := range strings.Split(metrics, "\n") {
		if rest, ok := strings.CutPrefix(line, "hookd_systemlog_polls_total{"); ok {
			f, err := strconv.ParseFloat(rest[strings.LastIndex(rest, " ")+1:], 64)
			require.NoError(t, err, line)
			total += f
		}
	}
	return total
}

// pollsPast waits until /metrics, as get reads it, counts n more System Log poll cycles than
// at the call: the last n-1 of them began after it, and every one but the last was logged
// (a cycle is told to the log after it is counted, before the next begins).
func pollsPast(t *testing.T, get func() string, n int) {
	t.Helper()
	from := pollCycles(t, get())
	if !assert.Eventually(t, func() bool { return pollCycles(t, get()) >= from+float64(n) }, 20*time.Second, 20*time.Millisecond) {
		t.Fatalf("not %d more poll cycles than %v:\n%s", n, from, get())
	}
}

// settle waits until a running hookd's System Log poller has ended cycles more cycles than it
// had at the call (0: none asked for), and then its delivery queue is empty: whatever those
// cycles accepted, and every delivery committed before, was sent (or died), its outcome
// logged. It is the proof of progress after which a test may assert that something did not
// happen (a second alert, a resend), instead of sleeping for a while.
func settle(t *testing.T, adminAddr string, cycles int) {
	t.Helper()
	get := func() string { return httpGet(t, "http://"+adminAddr+"/metrics") }
	if cycles > 0 {
		pollsPast(t, get, cycles)
	}
	if !assert.Eventually(t, func() bool { return strings.Contains("\n"+get(), "\nhookd_queue_depth 0\n") },
		20*time.Second, 20*time.Millisecond) {
		t.Fatalf("the delivery queue is not empty:\n%s", get())
	}
}

// changesOf lists a running hookd's stored changes through its API.
func changesOf(t *testing.T, adminAddr string) []adminapi.Change {
	t.Helper()
	var page adminapi.ChangePage
	apiGet(t, "http://"+adminAddr+"/api/v1/changes?limit=500", &page)
	return page.Changes
}

func TestEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	secretPath := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretPath, []byte("e2e-secret-value\n"), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": dataDir, "HOOKD_OKTA_SECRETS_FILE": secretPath}
	want := expectedRecords(t)

	srv := start(t, env)
	url := "http://" + srv.addr + "/okta/events"
	code, out, errOut := run(env, "replay", "--verify", "--url", url, "--secret-file", secretPath, payloads)
	require.Equal(t, 0, code, "replay:\n%s\n%s", out, errOut)
	assert.Contains(t, out, "verification challenge answered")
	assert.Contains(t, out, "ok  400  malformed-truncated.json")
	assert.Contains(t, out, "ok  200  partial-missing-uuid.json                accepted=2 duplicates=0 not_watched=0 rejected=3")
	assert.Contains(t, out, "ok  200  redelivery-of-mixed-batch-50.json        accepted=0 duplicates=23")

	// Every watched event is stored once, with one delivery for the console sink.
	changes := changesOf(t, srv.adminAddr)
	assert.Len(t, changes, len(want))
	for _, c := range changes {
		assert.Len(t, c.Deliveries, 1, c.Record.EventID)
	}

	// Each is alerted once on the console.
	require.Eventually(t, func() bool {
		return strings.Count(srv.stdout.String(), "ALERT ") == len(want)
	}, 20*time.Second, 20*time.Millisecond, "alerts so far:\n%s", srv.stdout.String())
	console := srv.stdout.String()
	for id := range want {
		assert.Equal(t, 1, strings.Count(console, `event="`+id+`"`), "alerts for %s", id)
	}
	assert.Contains(t, console, `ALERT medium Okta admin privilege grant failed: roles="Super administrator" group="Workflow Builders"`)
	assert.NotContains(t, srv.stderr.String(), "e2e-secret-value")
	// The jobs of events that went out in another's message finish after the group window.
	require.Eventually(t, func() bool {
		return metric(t, srv.adminAddr, "hookd_queue_depth") == 0
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, 0, srv.stop(), "graceful shutdown:\n%s", srv.stderr.String())
	assert.Contains(t, srv.stderr.String(), "hookd stopped")

	// After a restart on the same data dir, a redelivered batch alerts nothing new.
	srv = start(t, env)
	code, out, _ = run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", "--secret-file", secretPath,
		filepath.Join(payloads, "mixed-batch-50.json"), filepath.Join(payloads, "workflows-user-role-add.json"))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "accepted=0 duplicates=23 not_watched=27 rejected=0")
	assert.Contains(t, out, "accepted=0 duplicates=1 not_watched=0 rejected=0")
	// A delivery queued is counted in the queue's depth from its commit on, before it is sent.
	assert.Zero(t, metric(t, srv.adminAddr, "hookd_queue_depth"), "no new delivery, so no new alert")
	for _, c := range changesOf(t, srv.adminAddr) {
		assert.Equal(t, adminapi.StateDelivered, c.Deliveries[0].State, c.Record.EventID)
	}
	assert.NotContains(t, srv.stdout.String(), "ALERT ")
	assert.Equal(t, 0, srv.stop())
}

func TestServeGeneratesASecretOnce(t *testing.T) {
	dataDir := t.TempDir()
	env := map[string]string{"HOOKD_DATA_DIR": dataDir}
	srv := start(t, env)
	path := filepath.Join(dataDir, "okta-secret")
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	secret, err := readTrimmed(path)
	require.NoError(t, err)
	assert.Contains(t, srv.stderr.String(), "Header value:  "+secret, "shown to the operator on standard error")
	assert.Contains(t, srv.stderr.String(), "Header name:   Authorization")
	assert.NotContains(t, srv.stdout.String(), secret, "never in the alert stream")
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		if strings.HasPrefix(line, "{") {
			assert.NotContains(t, line, secret, "never in a log line")
		}
	}

	// replay finds the kept secret by itself, as the README's "try it" does.
	code, out, _ := run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", filepath.Join(payloads, "workflows-user-role-add.json"))
	assert.Equal(t, 0, code, out)
	require.Equal(t, 0, srv.stop())

	srv = start(t, env)
	assert.NotContains(t, srv.stdout.String()+srv.stderr.String(), secret, "shown only the first time")
	assert.Contains(t, srv.stderr.String(), "using the Okta secret kept in the data dir")
}

func TestReplayReportsUnexpectedAnswers(t *testing.T) {
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "right"}
	srv := start(t, env)
	code, out, errOut := run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", "--secret", "wrong",
		filepath.Join(payloads, "workflows-user-role-add.json"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "UNEXPECTED  401 (want 200)  workflows-user-role-add.json")
	assert.Contains(t, errOut, "hookd refused the secret (401)")

	// A wrong secret is said once, not for every file.
	code, out, errOut = run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", "--secret", "wrong", payloads)
	assert.Equal(t, 1, code)
	assert.Equal(t, 1, strings.Count(out, "UNEXPECTED"), out)
	assert.Contains(t, errOut, "pass the one serve uses with --secret-file")

	// Other unexpected answers are counted, every file sent.
	code, out, errOut = run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", "--secret", "right", "--expect", "400",
		filepath.Join(payloads, "workflows-user-role-add.json"))
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "UNEXPECTED  200 (want 400)")
	assert.Contains(t, errOut, "1 of 1 requests got an unexpected answer")
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOOKD_DATABASE_URL": "mysql://x/y"}, "HOOKD_DATABASE_URL: scheme must be postgres or postgresql"},
		{map[string]string{"HOOKD_DATABASE_URL": "postgres://127.0.0.1:1/x"}, "HOOKD_OKTA_SECRETS: required with HOOKD_DATABASE_URL"},
		{map[string]string{"HOOKD_OKTA_SECRETS": "s", "HOOKD_LISTEN_ADDR": "256.0.0.1:99999"}, "HOOKD_LISTEN_ADDR"},
	}
	for _, tt := range tests {
		tt.env["HOOKD_DATA_DIR"] = t.TempDir()
		code, _, errOut := run(tt.env, "serve")
		assert.Equal(t, 1, code)
		assert.Contains(t, errOut, tt.want)
	}
}

func TestCheck(t *testing.T) {
	code, out, _ := run(map[string]string{"HOOKD_OKTA_SECRETS": "very-secret-value"}, "check")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "HOOKD_OKTA_SECRETS")
	assert.Contains(t, out, "(1 set, hidden)")
	assert.NotContains(t, out, "very-secret-value")
	assert.Contains(t, out, "workflows.user.role.user.add")
	assert.Contains(t, out, "not offered by Okta (not hook-eligible)")
	assert.Contains(t, out, "WARNING: 11 watched event types reach hookd by no path")

	// A webhook on plain http to another host works, with a word about it; to loopback, none.
	env := map[string]string{"HOOKD_WEBHOOK_URL": "http://siem.internal:8080/hook/s3cretpath", "HOOKD_WEBHOOK_SECRET": webhookSecret}
	code, out, _ = run(env, "check")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "WARNING: HOOKD_WEBHOOK_URL: plain http to a host off this machine")
	assert.NotContains(t, out, "s3cretpath")
	env["HOOKD_WEBHOOK_URL"] = "http://127.0.0.1:8080/hook"
	_, out, _ = run(env, "check")
	assert.NotContains(t, out, "plain http")

	code, _, errOut := run(map[string]string{"HOOKD_SYSTEMLOG_POLL_INTERVAL": "soon"}, "check")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "HOOKD_SYSTEMLOG_POLL_INTERVAL: not a duration")
}

func TestVersionAndUsage(t *testing.T) {
	code, out, _ := run(nil, "version")
	assert.Equal(t, 0, code)
	// A development build says what the go command recorded (here, in a test binary: no VCS
	// revision, the Go version); a release build says its -X main.version.
	assert.Regexp(t, `^hookd dev( \([0-9a-f]+(, modified)?\))? go1\.\d+`, out)
	code, _, errOut := run(nil, "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
	code, _, _ = run(nil, "replay", "--no-such-flag")
	assert.Equal(t, 2, code)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// TestSecretShownOnlyOnceListening: a first start that fails on a busy port does not show the
// secret it made (nobody may see that output); the next start that listens does, once, on
// standard error, and JSON alerts on standard output stay JSON.
func TestSecretShownOnlyOnceListening(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dataDir := t.TempDir()
	code, stdout, stderr := run(map[string]string{"HOOKD_DATA_DIR": dataDir, "HOOKD_LISTEN_ADDR": busy.Addr().String()}, "serve")
	busy.Close()
	require.Equal(t, 1, code)
	assert.NotContains(t, stdout+stderr, "Header value:")
	_, err = os.Stat(filepath.Join(dataDir, "okta-secret"))
	require.True(t, os.IsNotExist(err), "a start that never listened makes no secret (TestTakenPortWritesNothing)")

	srv := start(t, map[string]string{"HOOKD_DATA_DIR": dataDir, "HOOKD_CONSOLE_FORMAT": "json"})
	secret, err := readTrimmed(filepath.Join(dataDir, "okta-secret"))
	require.NoError(t, err, "the secret is kept")
	assert.Contains(t, srv.stderr.String(), "Header value:  "+secret)
	assert.Empty(t, srv.stdout.String(), "the alert stream holds alerts only")
	require.Equal(t, 0, srv.stop())
	srv = start(t, map[string]string{"HOOKD_DATA_DIR": dataDir})
	assert.NotContains(t, srv.stderr.String(), secret)
}

// TestAdminListener: /metrics and /readyz answer only on the admin listener; on anything but
// loopback it needs a token, without which hookd refuses to start; with one, requests
// without it get 401 and nothing of the metrics.
func TestAdminListener(t *testing.T) {
	srv := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s"})
	for _, path := range []string{"/metrics", "/readyz"} {
		resp, err := http.Get("http://" + srv.addr + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%s is not on the Okta-facing listener", path)
	}
	assert.Contains(t, httpGet(t, "http://"+srv.adminAddr+"/metrics"), "hookd_events_total")
	assert.Contains(t, httpGet(t, "http://"+srv.adminAddr+"/readyz"), `"ready"`)

	code, _, errOut := run(map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s", "HOOKD_ADMIN_ADDR": "0.0.0.0:0"}, "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "HOOKD_ADMIN_TOKEN: required when HOOKD_ADMIN_ADDR is not a loopback address")

	code, _, errOut = run(map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s", "HOOKD_ADMIN_ADDR": "0.0.0.0:0", "HOOKD_ADMIN_TOKEN": "a"}, "serve")
	assert.Equal(t, 1, code, "a guessable token off loopback")
	assert.Contains(t, errOut, "HOOKD_ADMIN_TOKEN: at least 24 characters")

	const token = "admin-token-do-not-leak-0123"
	guarded := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s",
		"HOOKD_ADMIN_ADDR": "0.0.0.0:0", "HOOKD_ADMIN_TOKEN": token})
	port := guarded.adminAddr[strings.LastIndex(guarded.adminAddr, ":"):]
	for _, auth := range []string{"", "Bearer wrong"} {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1"+port+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.NotContains(t, string(body), "hookd_")
		assert.NotContains(t, string(body), token)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1"+port+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "hookd_events_total")
	assert.NotContains(t, guarded.stderr.String(), token, "the token is never logged")
}

// TestHelpGoesToStdout: help asked for, of hookd or of any command, is printed on standard
// output and exits 0; a mistake says what was wrong on standard error and exits 2.
func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"version", "--help"}, {"serve", "--help"}, {"replay", "--help"},
		{"check", "--help"}, {"changes", "--help"}, {"deadletters", "--help"}, {"deadletters", "retry", "--help"},
		{"sinks", "--help"}, {"holders", "--help"}, {"okta", "--help"}, {"okta", "register", "--help"}, {"healthcheck", "--help"}} {
		code, out, errOut := run(map[string]string{}, args...)
		assert.Equal(t, 0, code, "%v", args)
		assert.Contains(t, strings.ToLower(out), "usage", "%v: %s", args, errOut)
		assert.Empty(t, errOut, "%v", args)
	}
	code, out, errOut := run(map[string]string{}, "deadletters", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, `hookd deadletters: unknown action "frobnicate": list, retry or discard`)
	code, out, _ = run(map[string]string{}, "version", "--help")
	assert.Equal(t, 0, code)
	assert.NotContains(t, out, "hookd dev", "help, not the version")
}

// TestMisspeltVariableFailsCheck: a HOOKD_ variable hookd does not read is refused by check
// and serve, naming the closest one, in the same report as every other problem.
func TestMisspeltVariableFailsCheck(t *testing.T) {
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_SLACK_WEBHOOK": "https://hooks.slack.com/services/T/B/x",
		"HOOKD_TEST_DATABASE_URL": "postgres://ignored", "HOOKD_CONSOLE_FORMAT": "xml"}
	code, _, errOut := run(env, "check")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "HOOKD_SLACK_WEBHOOK: not a variable hookd reads (did you mean HOOKD_SLACK_WEBHOOK_URL?)")
	assert.Contains(t, errOut, "HOOKD_CONSOLE_FORMAT: must be one of: text, json", "one report of everything")
	assert.NotContains(t, errOut, "HOOKD_TEST_DATABASE_URL", "the tests' own variable is known")
	code, _, errOut = run(env, "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "did you mean HOOKD_SLACK_WEBHOOK_URL?")
	delete(env, "HOOKD_SLACK_WEBHOOK")
	delete(env, "HOOKD_CONSOLE_FORMAT")
	env["HOOKD_OKTA_SECRETS_FILE"] = "/nonexistent" // a _FILE variant is a variable hookd reads
	_, _, errOut = run(env, "check")
	assert.NotContains(t, errOut, "not a variable hookd reads")
}

// TestConfigProblemsAreNamedOnce: a sink of a misspelt type is one problem, not also every
// route to it; a bad webhook secret is blamed on its own variable; an unknown key inside a
// route's escalate is named by its path.
func TestConfigProblemsAreNamedOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hookd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
sinks:
  - {name: secops, type: slak, url: "https://hooks.slack.com/services/T/B/x"}
routes:
  - match: {roles: ["*"]}
    sinks: [secops]
`), 0o600))
	code, _, errOut := run(map[string]string{"HOOKD_DATA_DIR": dir, "HOOKD_CONSOLE_FORMAT": "xml"}, "check", "--config", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "sinks[0] (secops): type must be")
	assert.Contains(t, errOut, "HOOKD_CONSOLE_FORMAT: must be one of", "in the same report, not the next run's")
	assert.NotContains(t, errOut, `no sink named "secops"`)

	code, _, errOut = run(map[string]string{"HOOKD_DATA_DIR": dir, "HOOKD_WEBHOOK_URL": "https://siem.example/h",
		"HOOKD_WEBHOOK_SECRET": "hunter2"}, "check")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "HOOKD_WEBHOOK_SECRET: secret must start with whsec_")
	assert.NotContains(t, errOut, "hunter2")

	require.NoError(t, os.WriteFile(file, []byte(`
routes:
  - match: {roles: ["*"]}
    sinks: [console]
    escalate: {aftr: 10m, sinks: [console]}
`), 0o600))
	code, _, errOut = run(map[string]string{"HOOKD_DATA_DIR": dir}, "check", "--config", file)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "routes[0].escalate.aftr")
	assert.NotContains(t, errOut, "escalate.escalate")
}

// TestTakenPortWritesNothing: a start that cannot listen fails before it makes the data dir's
// secret, so the next start makes it, shows it once, and says nothing contradictory.
func TestTakenPortWritesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	dataDir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"HOOKD_DATA_DIR": dataDir, "HOOKD_LISTEN_ADDR": taken.Addr().String(), "HOOKD_ADMIN_ADDR": "127.0.0.1:0"}
	code, _, errOut := run(env, "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "HOOKD_LISTEN_ADDR")
	_, err = os.Stat(filepath.Join(dataDir, secretFile))
	assert.True(t, os.IsNotExist(err), "no secret made by a start that never listened")

	srv := start(t, env)
	logs := srv.stderr.String()
	assert.Contains(t, logs, "No Okta secret was configured, so hookd made one")
	assert.NotContains(t, logs, "using the Okta secret kept in the data dir")
}
