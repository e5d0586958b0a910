package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiGet decodes an admin API answer.
// apiGetStatus reads a JSON answer of the admin API, which must have the status given.
func apiGetStatus(t *testing.T, url string, status int, out any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, status, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}

func apiGet(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", url, body)
	require.NoError(t, json.Unmarshal(body, out), string(body))
}

// delivered counts, by event uuid, the alerts the receiver verified.
func delivered(t *testing.T, recv *alertingtest.Receiver) map[string]int {
	out := map[string]int{}
	for _, d := range recv.Deliveries() {
		var doc alerting.WebhookDocument
		require.NoError(t, json.Unmarshal(d.Body, &doc))
		for _, a := range doc.Alerts {
			out[a.EventID]++
		}
	}
	return out
}

// The walk-through: replay the samples, see every change with its delivery state, make
// the sink fail for good, see the alerts in the dead letter, fix the sink, retry from the
// command line, and see each delivered exactly once.
func TestConsoleDeadLetterRetryEndToEnd(t *testing.T) {
	recv := alertingtest.NewReceiver(t, webhookSecret)
	recv.SetGone(true)
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "okta-secret")
	require.NoError(t, os.WriteFile(secretPath, []byte("console-e2e-secret\n"), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS_FILE": secretPath,
		"HOOKD_WEBHOOK_URL": recv.URL + "/hookd", "HOOKD_WEBHOOK_SECRET": webhookSecret}
	want := expectedRecords(t)
	groups := groupsOf(want)

	srv := start(t, env)
	code, out, _ := run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", "--secret-file", secretPath, payloads)
	require.Equal(t, 0, code, out)
	admin := "http://" + srv.adminAddr
	// The subcommand's own words come first (deadletters retry 42), then the flags.
	cli := func(args ...string) (int, string, string) {
		return run(env, append(args, "--admin-url", admin)...)
	}

	// Every replayed change is listed, each with its delivery to the one sink; they die.
	var page adminapi.ChangePage
	require.Eventually(t, func() bool {
		apiGet(t, admin+"/api/v1/changes?limit=500", &page)
		for _, c := range page.Changes {
			if len(c.Deliveries) != 1 || c.Deliveries[0].State != adminapi.StateDead {
				return false
			}
		}
		return len(page.Changes) == len(want)
	}, 30*time.Second, 100*time.Millisecond)
	for _, c := range page.Changes {
		_, ok := want[c.Record.EventID]
		assert.True(t, ok, "unexpected change %s", c.Record.EventID)
		assert.Contains(t, c.Deliveries[0].LastError, "410")
		assert.NotEmpty(t, c.Severity)
		assert.NotEmpty(t, c.Title)
	}
	assert.True(t, sort.SliceIsSorted(page.Changes, func(i, j int) bool {
		return page.Changes[i].Record.Published.After(page.Changes[j].Record.Published)
	}), "newest first")

	// The dead letter holds one alert per message: one per admin action.
	code, out, errOut := cli("deadletters", "list", "--json")
	require.Equal(t, 0, code, errOut)
	var letters []adminapi.DeadLetter
	require.NoError(t, json.Unmarshal([]byte(out), &letters))
	assert.Len(t, letters, len(groups))
	code, out, _ = cli("deadletters")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "JOB")
	assert.Contains(t, out, "webhook")

	deadGauge := `hookd_delivery_jobs{state="dead"} `
	assert.Contains(t, httpGet(t, admin+"/metrics"), deadGauge+strconv.Itoa(len(groups)))

	// Fix the sink, retry them all, and each change is delivered exactly once.
	recv.SetGone(false)
	code, out, errOut = cli("deadletters", "retry", "--sink", "webhook", "--all")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, fmt.Sprintf("%d dead letter(s) re-queued", len(groups)))
	require.Eventually(t, func() bool { return len(delivered(t, recv)) == len(want) }, 30*time.Second, 50*time.Millisecond)
	settle(t, srv.adminAddr, 0) // every re-queued delivery done: any duplicate has been sent
	for id, n := range delivered(t, recv) {
		assert.Equal(t, 1, n, "alerts for %s", id)
	}
	require.Eventually(t, func() bool { // the record of each delivery is committed a moment after
		apiGet(t, admin+"/api/v1/changes?limit=500", &page)
		for _, c := range page.Changes {
			if c.Deliveries[0].State != adminapi.StateDelivered {
				return false
			}
		}
		return len(page.Changes) == len(want)
	}, 10*time.Second, 50*time.Millisecond, "every change delivered")
	assert.Contains(t, httpGet(t, admin+"/metrics"), deadGauge+"0\n", "an operator's dead > 0 alert clears")
	for _, c := range page.Changes {
		assert.GreaterOrEqual(t, c.Deliveries[0].Attempts, 1, "a delivered alert was attempted: %s", c.Record.EventID)
	}
	code, out, _ = cli("deadletters", "list", "--json")
	require.Equal(t, 0, code)
	assert.JSONEq(t, "[]", out)
	code, _, errOut = cli("deadletters", "retry", fmt.Sprint(letters[0].JobID))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "already handled")

	// The command line's other answers.
	code, out, _ = cli("changes", "--role", "Folder", "--limit", "3")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "PUBLISHED")
	assert.Contains(t, out, "webhook=delivered")
	assert.Equal(t, 4, strings.Count(out, "\n"), out)
	code, out, _ = cli("changes", "--json", "--since", "3650d", "--limit", "1")
	require.Equal(t, 0, code)
	var one adminapi.ChangePage
	require.NoError(t, json.Unmarshal([]byte(out), &one))
	assert.Len(t, one.Changes, 1)
	assert.NotEmpty(t, one.Next)
	code, _, errOut = cli("changes", "--since", "yesterday")
	assert.Equal(t, 2, code, "checked before the server is asked")
	assert.Contains(t, errOut, "not a time")
	code, out, errOut = cli("deadletters", "retry", "--sink", "nosuch", "--all")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, errOut, `no sink is named "nosuch"`)
	code, _, errOut = cli("changes", "--severity", "crit")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `hookd changes: severity "crit": must be low, medium, high or critical`)
	code, _, errOut = cli("changes", "--source", "okta")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `hookd changes: source "okta": must be hook or systemlog`)
	var bad struct{ Error, Detail string }
	apiGetStatus(t, admin+"/api/v1/changes?source=okta", http.StatusBadRequest, &bad)
	assert.Equal(t, `source "okta": must be hook or systemlog`, bad.Detail, "the API says the same")

	// Only the changes with a finding, or with one finding.
	code, out, errOut = cli("changes", "--finding", "self-grant", "--since", "3650d", "--json")
	require.Equal(t, 0, code, errOut)
	var found adminapi.ChangePage
	require.NoError(t, json.Unmarshal([]byte(out), &found))
	require.NotEmpty(t, found.Changes)
	for _, c := range found.Changes {
		var ids []string
		for _, f := range c.Record.Findings {
			ids = append(ids, f.ID)
		}
		assert.Contains(t, ids, "self-grant", c.Record.EventID)
	}
	code, _, errOut = cli("changes", "--finding", "self grant")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `finding "self grant": a finding's id`)
	assert.Contains(t, httpGet(t, admin+"/?finding=*"), `<option value="*" selected>any finding</option>`)

	// The next page keeps the filters: the command it prints lists only what they match.
	code, _, errOut = cli("changes", "--severity", "high", "--since", "3650d", "--limit", "1")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "more: hookd changes --severity high --since 3650d --before ")
	next := strings.Fields(errOut[strings.Index(errOut, "more: hookd ")+len("more: hookd "):])
	code, out, errOut = cli(append(next, "--json")...)
	require.Equal(t, 0, code, errOut)
	var later adminapi.ChangePage
	require.NoError(t, json.Unmarshal([]byte(out), &later))
	require.NotEmpty(t, later.Changes)
	for _, c := range later.Changes {
		assert.Equal(t, "high", c.Severity, c.Record.EventID)
	}
	code, out, _ = cli("sinks", "test")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "webhook: test alert delivered")
	last := recv.Deliveries()[len(recv.Deliveries())-1]
	assert.Contains(t, string(last.Body), alerting.TestAlertTitle)
	assert.Equal(t, 1, strings.Count(strings.ToLower(string(last.Body)), "test alert from hookd"), "the title is not said twice")
	assert.Contains(t, string(last.Body), `"test":true`)
	recv.SetGone(true)
	code, out, _ = cli("sinks", "test", "webhook")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "webhook: test alert FAILED")
	code, _, errOut = cli("sinks", "test", "nosuch")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `no sink is named "nosuch"`)
	code, _, errOut = run(env, "changes", "--admin-url", "http://127.0.0.1:1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no hookd admin listener answers")

	// Each repair is logged at info with who did it.
	assert.Contains(t, srv.stderr.String(), "dead letter retried")
	assert.Contains(t, srv.stderr.String(), "api from 127.0.0.1 (loopback)")
}

// The container image's way: HOOKD_ADMIN_TOKEN_FILE names a file that is not there yet, so
// hookd makes a token in it, prints it once, and the admin listener off loopback asks for it.
func TestAdminTokenFileIsMadeOnce(t *testing.T) {
	dir := t.TempDir()
	tokenPath := filepath.Join(dir, "data", "admin-token")
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS": "s",
		"HOOKD_ADMIN_ADDR": "0.0.0.0:0", "HOOKD_ADMIN_TOKEN_FILE": tokenPath}
	srv := start(t, env)
	data, err := os.ReadFile(tokenPath)
	require.NoError(t, err)
	token := strings.TrimSpace(string(data))
	require.GreaterOrEqual(t, len(token), 32)
	info, err := os.Stat(tokenPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	assert.Contains(t, srv.stderr.String(), "hookd made its admin token and keeps it in "+tokenPath)
	assert.Equal(t, 1, strings.Count(srv.stderr.String(), token), "shown once, in the banner")

	port := srv.adminAddr[strings.LastIndex(srv.adminAddr, ":"):]
	resp, err := http.Get("http://127.0.0.1" + port + "/api/v1/sinks")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// The CLI beside it reads the same file.
	code, out, errOut := run(env, "sinks", "--admin-url", "http://127.0.0.1"+port)
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "console")
	require.Equal(t, 0, srv.stop())

	again := start(t, env)
	assert.NotContains(t, again.stderr.String(), token, "not shown again")
	data2, _ := os.ReadFile(tokenPath)
	assert.Equal(t, string(data), string(data2), "the same token")
}

// The samples replayed in another order, or twice, give the same ledger of holders.
func TestHoldersAfterReplayInAnyOrder(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(payloads, "*.json"))
	require.NoError(t, err)
	var ledgers []string
	for _, order := range [][]string{files, reversed(files)} {
		env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "ledger-secret"}
		srv := start(t, env)
		replayEnv := map[string]string{"HOOKD_OKTA_SECRETS": "ledger-secret", "HOOKD_LISTEN_ADDR": srv.addr}
		for round := 0; round < 2; round++ {
			code, out, errOut := run(replayEnv, append([]string{"replay"}, order...)...)
			require.Equal(t, 0, code, out+errOut)
		}
		code, out, errOut := run(env, "holders", "--json", "--admin-url", "http://"+srv.adminAddr)
		require.Equal(t, 0, code, errOut)
		ledgers = append(ledgers, out)
		var holders []adminapi.Holder
		require.NoError(t, json.Unmarshal([]byte(out), &holders))
		require.NotEmpty(t, holders)
		held := map[string]bool{}
		for _, h := range holders {
			held[h.SubjectName+" holds "+h.Role] = true
		}
		assert.True(t, held["Bob Builder holds Workflows Administrator"], "granted in workflows-user-role-add.json")
		assert.False(t, held["Carol Ops holds Super administrator"], "revoked in the mixed batch")
		assert.False(t, held["Workflow Builders holds Super administrator"], "privilege-grant-failed.json: a FAILURE outcome changes nothing")
		code, out, _ = run(env, "holders", "--role", "workflows admin*", "--admin-url", "http://"+srv.adminAddr)
		require.Equal(t, 0, code)
		assert.Contains(t, out, "ROLE")
		assert.NotContains(t, out, "Folder Reader")
		require.Equal(t, 0, srv.stop())
	}
	assert.JSONEq(t, ledgers[0], ledgers[1], "the same ledger whatever the order")
}

func reversed(in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[len(in)-1-i] = v
	}
	return out
}
