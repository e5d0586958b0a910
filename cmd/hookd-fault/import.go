package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/hookd/hookd/systemlog/systemlogtest"
)

func init() {
	scenarios = append(scenarios, scenario{name: "import", backends: []string{"sqlite", "postgres"}, run: importHistory})
}

// cleanups runs what the fake Okta asks to be closed with it.
type cleanups []func()

func (c *cleanups) Cleanup(f func()) { *c = append(*c, f) }
func (c *cleanups) run() {
	for _, f := range *c {
		f()
	}
}

// history is 90 days of System Log: grants and revokes of five Workflows roles to users and
// groups by a few dozen admins, one event every 77 s or so, and the holdings it leaves.
func history(o *systemlogtest.Okta, n int, now time.Time) map[string]bool {
	roles := []string{"Workflows Administrator", "Folder Editor", "Folder Reader", "Connection Manager", "Integration Builder"}
	held := map[string]bool{}
	start := now.Add(-89 * 24 * time.Hour)
	step := (88 * 24 * time.Hour) / time.Duration(n)
	seed := uint64(20261127)
	next := func(m int) int { // a fixed sequence, so every run reads the same history
		seed = seed*6364136223846793005 + 1442695040888963407
		return int((seed >> 33) % uint64(m))
	}
	for i := range n {
		published := start.Add(time.Duration(i) * step)
		role := roles[next(len(roles))]
		kind, subject := "User", fmt.Sprintf("00uhist%07d", next(3000))
		eventType := "workflows.user.role.user."
		if next(10) == 0 {
			kind, subject = "UserGroup", fmt.Sprintf("00ghist%07d", next(100))
			eventType = "workflows.user.role.group."
		}
		grant := next(3) != 0
		if grant {
			eventType += "add"
		} else {
			eventType += "remove"
		}
		actor := fmt.Sprintf("00uadmn%07d", next(40))
		raw := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":%q,"version":"0","severity":"INFO",
"actor":{"id":%q,"type":"User","alternateId":"%s@acme.example","displayName":"Admin %s"},
"client":{"ipAddress":"198.51.100.23","geographicalContext":{"country":"United States"}},
"securityContext":{"asNumber":64496},
"outcome":{"result":"SUCCESS"},"transaction":{"type":"WEB","id":"tx%d"},
"target":[{"id":%q,"type":%q,"alternateId":"%s@acme.example","displayName":"Subject %s"},
{"id":"wfr-%s","type":"WorkflowsRole","displayName":%q}]}`,
			oktagen.UUID(), published.UTC().Format("2006-01-02T15:04:05.000Z"), eventType, actor, actor, actor, i,
			subject, kind, subject, subject, strings.ReplaceAll(strings.ToLower(role), " ", "-"), role)
		o.AddRaw(eventType, published, json.RawMessage(raw))
		held[subject+"|"+role] = grant
	}
	return held
}

// importHistory imports 90 days of System Log history (100,000 events in the full version)
// from a fake Okta, kills the import with SIGKILL halfway, runs it again, and checks that it
// went on from where it stopped, showed its progress, and left exactly the holdings the
// history leaves; a third run changes nothing, and nothing was alerted.
func importHistory(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	var c cleanups
	defer c.run()
	okta := systemlogtest.NewOkta(&c, "import-token")
	n := pick(s, 100000, 100000)
	held := history(okta, n, time.Now())
	want := 0
	for _, h := range held {
		if h {
			want++
		}
	}
	recv := newReceiver()
	defer recv.close()
	dataDir, storeEnv, err := s.storeEnv(backend)
	if err != nil {
		return r.fail(err)
	}
	h := newHookd(s.bin, dataDir, append(append(storeEnv, recv.env()...), "HOOKD_OKTA_ORG_URL="+okta.URL, "HOOKD_OKTA_API_TOKEN=import-token")...)

	// First run: killed with SIGKILL once it has read a third of the pages.
	began := time.Now()
	lines, code, err := s.runImport(ctx, h, n/1000/3)
	if err != nil {
		return r.fail(err)
	}
	killedAt := pagesIn(lines)
	r.check(code == -1 && killedAt > 0, "the first run was to be killed halfway: exit %d after %d pages", code, killedAt)

	// Second run: goes on from the page after the last one kept.
	lines2, code, err := s.runImport(ctx, h, 0)
	if err != nil {
		return r.fail(err)
	}
	took := time.Since(began)
	r.check(code == 0, "the second run exited %d:\n%s", code, strings.Join(tail(lines2, 5), "\n"))
	resumedAt := -1
	if len(lines2) > 0 {
		_, _ = fmt.Sscanf(lines2[0], "import: going on with an import stopped after page %d", &resumedAt)
	}
	r.check(resumedAt >= killedAt, "the second run did not go on from page %d or after: %q", killedAt, strings.Join(tail(lines2, 3), " | "))
	progress := 0
	for _, l := range append(lines, lines2...) {
		if strings.HasPrefix(l, "import: page ") {
			progress++
		}
	}
	r.check(progress >= n/1000, "%d progress lines for %d pages", progress, n/1000)

	// The ledger, read through the admin API of a hookd serving the same store.
	got, err := s.holdings(h)
	if err != nil {
		return r.fail(err)
	}
	r.figure("%d events over 90 days imported in %s (killed with SIGKILL at page %d, gone on with from page %d), %d progress lines; %d holdings, %d expected",
		n, took.Round(10*time.Millisecond), killedAt, resumedAt+1, progress, len(got), want)
	r.check(len(got) == want, "%d holdings, the history leaves %d", len(got), want)
	for k, v := range got {
		if !held[k] || v != adminapi.KnownByImport {
			r.check(false, "holding %s (%s) is not one the history leaves", k, v)
			break
		}
	}

	// Third run: the same history again changes nothing.
	if _, code, err = s.runImport(ctx, h, 0); err != nil || code != 0 {
		return r.fail(fmt.Errorf("the third run: exit %d, %v", code, err))
	}
	again, err := s.holdings(h)
	if err != nil {
		return r.fail(err)
	}
	r.check(len(again) == len(got), "importing again changed the ledger: %d holdings, then %d", len(got), len(again))
	posts, _ := recv.stats()
	r.check(posts == 0, "importing history alerted %d times", posts)
	return r
}

// runImport runs hookd holders import on h's store and returns its progress lines and exit
// code; with killAfter above zero, it is killed with SIGKILL once it has read that many pages
// (exit code -1).
func (s *suite) runImport(ctx context.Context, h *hookd, killAfter int) ([]string, int, error) {
	cmd := exec.CommandContext(ctx, h.bin, "holders", "import", "--since", "90d")
	cmd.Env = h.env
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	var lines []string
	var mu sync.Mutex
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		mu.Lock()
		lines = append(lines, sc.Text())
		mu.Unlock()
		if killAfter > 0 && pagesIn(lines) >= killAfter {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	_, _ = io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return lines, -1, nil
		}
		return lines, ee.ExitCode(), nil
	}
	return lines, 0, err
}

// pagesIn is the last page number the progress lines name.
func pagesIn(lines []string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		var page int
		if _, err := fmt.Sscanf(lines[i], "import: page %d", &page); err == nil {
			return page
		}
	}
	return 0
}

func tail(lines []string, n int) []string { return lines[max(0, len(lines)-n):] }

// holdings starts hookd serve on h's store, reads the holders through the admin API, and
// stops it: subject|role to how it is known.
func (s *suite) holdings(h *hookd) (map[string]string, error) {
	if err := h.start(); err != nil {
		return nil, err
	}
	defer h.stop()
	resp, err := http.Get("http://" + h.admin + "/api/v1/holders")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/holders: %s", resp.Status)
	}
	var holders []adminapi.Holder
	if err := json.NewDecoder(resp.Body).Decode(&holders); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, x := range holders {
		out[x.SubjectID+"|"+x.Role] = x.KnownBy
	}
	return out, nil
}
