package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browser starts a headless Chromium for the test. Without one it skips, except in CI, where
// .ci/run installs Debian's chromium and a missing browser is a failure.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("HOOKD_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path == "" {
			path, _ = exec.LookPath(name)
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium: .ci/run installs Debian's chromium package")
		}
		t.Skip("no Chromium on this machine (apt-get install chromium); browser tests skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start Chromium")
	return ctx
}

// screenshot saves the page as docs/<name>.png when HOOKD_SCREENSHOTS names a directory (the
// README shows them); otherwise it takes none.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("HOOKD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// The console as a person uses it, in a real browser: the role changes, a filter, a detail,
// a dead letter retried after the sink is fixed and delivered once, and a test alert.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browser(t)
	recv := alertingtest.NewReceiver(t, webhookSecret)
	recv.SetGone(true)
	dir := t.TempDir()
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS": "browser-secret",
		"HOOKD_WEBHOOK_URL": recv.URL + "/hookd", "HOOKD_WEBHOOK_SECRET": webhookSecret}
	want := expectedRecords(t)
	groups := groupsOf(want)
	srv := start(t, env)
	code, out, errOut := run(map[string]string{"HOOKD_OKTA_SECRETS": "browser-secret", "HOOKD_LISTEN_ADDR": srv.addr}, "replay")
	require.Equal(t, 0, code, out+errOut)
	admin := "http://" + srv.adminAddr
	require.Eventually(t, func() bool {
		return strings.Count(httpGet(t, admin+"/deadletters"), `action="/deadletters/`) == 2*len(groups)
	}, 30*time.Second, 100*time.Millisecond, "every alert in the dead letter")

	// Role changes, newest first, each with its delivery state.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(admin+"/"), chromedp.WaitVisible("table.changes")))
	rows := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.changes tbody tr").length`))
	text := get(t, ctx, chromedp.Text("table.changes"))
	assert.Equal(t, min(len(want), 50), rows)
	assert.Contains(t, text, "Bob Builder")
	assert.Contains(t, text, "webhook: dead")
	assert.Contains(t, text, "alice.admin@acme.example", "the actor's login under the name")
	screenshot(t, ctx, "console-changes")

	// A filter, typed and submitted like a person would.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="role"]`, "Folder Reader"),
		chromedp.Submit(`input[name="role"]`),
		chromedp.WaitVisible(`form.filters a[href="/"]`), // the "clear" link shows only while a filter is on
	))
	roles := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.changes tbody tr td:nth-child(3)")].map(td => td.textContent)`))
	require.NotEmpty(t, roles)
	for _, r := range roles {
		assert.Contains(t, r, "Folder Reader")
	}

	// The detail of the first: the typed record and the raw event.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`table.changes tbody tr:first-child td:first-child a`),
		chromedp.WaitVisible(`pre.json`),
	))
	url := get(t, ctx, chromedp.Location())
	detail := get(t, ctx, chromedp.Text("main"))
	assert.Contains(t, url, "/changes/")
	assert.Contains(t, detail, "Raw Okta event")
	assert.Contains(t, detail, `"alternateId"`, "the raw event as Okta sent it")
	assert.Contains(t, detail, "410")
	screenshot(t, ctx, "console-change")

	// The dead letter: fix the sink, press Retry on the first, and it is delivered once.
	recv.SetGone(false)
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`nav a[href="/deadletters"]`), chromedp.WaitVisible("table.dead")))
	eventID := get(t, ctx, chromedp.Text(`table.dead tbody tr:first-child td:nth-child(3)`))
	failedAt := get(t, ctx, chromedp.Text(`table.dead tbody tr:first-child td:nth-child(1)`))
	assert.Contains(t, failedAt, time.Now().UTC().Format("2006-01-02"), "when it died")
	screenshot(t, ctx, "console-deadletters")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`table.dead tbody tr:first-child form[action$="/retry"] button`),
		chromedp.WaitVisible(`p.notice`),
	))
	notice := get(t, ctx, chromedp.Text(`p.notice`))
	assert.Equal(t, "1 dead letter(s) re-queued", notice)
	eventID = strings.TrimSpace(eventID)
	require.Eventually(t, func() bool { return delivered(t, recv)[eventID] == 1 }, 20*time.Second, 50*time.Millisecond)
	settle(t, srv.adminAddr, 0) // the re-queued delivery done: a second send would have been made
	assert.Equal(t, 1, delivered(t, recv)[eventID], "delivered exactly once")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(admin+"/deadletters"), chromedp.WaitVisible("table.dead")))
	left := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.dead tbody tr").length`))
	assert.Equal(t, len(groups)-1, left)

	// A test alert from the Sinks page, through the real webhook code.
	before := len(recv.Deliveries())
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`nav a[href="/sinks"]`),
		chromedp.WaitVisible(`form[action="/sinks/webhook/test"]`),
		chromedp.Click(`form[action="/sinks/webhook/test"] button`),
		chromedp.WaitVisible(`p.notice`),
	))
	notice = get(t, ctx, chromedp.Text(`p.notice`))
	assert.Contains(t, notice, "Test alert to webhook: delivered")
	assert.Len(t, recv.Deliveries(), before+1)
	screenshot(t, ctx, "console-sinks")

	// Who holds what now, filtered like a person would.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`nav a[href="/holders"]`),
		chromedp.WaitVisible(`input[name="role"]`),
		chromedp.SendKeys(`input[name="role"]`, "Workflows Admin*"),
		chromedp.Submit(`input[name="role"]`),
		// "All roles" shows while a filter is on: in main, not the nav's link to the same
		// page, which is there before the filtered page has loaded.
		chromedp.WaitVisible(`main a[href="/holders"]`),
	))
	holderRoles := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main table tbody tr td:first-child")].map(td => td.textContent)`))
	require.NotEmpty(t, holderRoles)
	for _, r := range holderRoles {
		assert.Equal(t, "Workflows Administrator", r)
	}
	assert.Contains(t, get(t, ctx, chromedp.Text("main table")), "Bob Builder")
	// A long name is shortened with an ellipsis and an id never wraps: one line a holder.
	nowrap := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.holders .name, table.holders code")].map(e => getComputedStyle(e).whiteSpace)`))
	require.NotEmpty(t, nowrap)
	for _, ws := range nowrap {
		assert.Equal(t, "nowrap", ws)
	}
	screenshot(t, ctx, "console-holders")

	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`nav a[href="/coverage"]`),
		chromedp.WaitVisible(`nav a[href="/coverage"][aria-current="page"]`))) // the holders page has a table too
	coverage := get(t, ctx, chromedp.Text("main"))
	assert.Contains(t, coverage, "workflows.user.role.user.add")
	assert.Contains(t, coverage, "reach hookd by no path (event_hook.deactivated", "no poller configured: the types Okta cannot hook are uncovered")
	screenshot(t, ctx, "console-coverage")
}

// get runs one browser step and returns its value, failing the test on its error.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// Off loopback the console asks a browser for the admin token once, then keeps a session.
func TestConsoleSignInInABrowser(t *testing.T) {
	ctx := browser(t)
	const token = "browser-admin-token-0123456789"
	srv := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s",
		"HOOKD_ADMIN_ADDR": "0.0.0.0:0", "HOOKD_ADMIN_TOKEN": token})
	admin := "http://127.0.0.1" + srv.adminAddr[strings.LastIndex(srv.adminAddr, ":"):]
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(admin+"/sinks"), chromedp.WaitVisible(`form.login`)))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="token"]`, "not-it"),
		chromedp.Submit(`input[name="token"]`),
		chromedp.WaitVisible(`p.notice`),
	))
	assert.Equal(t, "That is not the admin token.", get(t, ctx, chromedp.Text(`p.notice`)))
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="token"]`, token),
		chromedp.Submit(`input[name="token"]`),
		chromedp.WaitVisible(`form[action="/sinks/console/test"]`),
	))
	assert.Contains(t, get(t, ctx, chromedp.Location()), "/sinks", "back where it was going")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(admin+"/coverage"), chromedp.WaitVisible("table")))
	assert.NotContains(t, srv.stderr.String(), token)
}
