package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/verify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// consoleFake is a ConsoleStore that records the repairs asked of it.
type consoleFake struct {
	mu      sync.Mutex
	retried []int64
}

func (f *consoleFake) Changes(context.Context, adminapi.ChangeFilter) (adminapi.ChangePage, error) {
	return adminapi.ChangePage{Changes: []adminapi.Change{{Record: &hookd.RoleChange{EventID: "e1", EventType: hook.WorkflowsUserRoleAdd,
		Subject: hookd.Subject{Kind: hookd.SubjectUser, DisplayName: `<script>alert("x")</script>`}, Roles: []hookd.Role{{Name: "Folder Reader"}},
		Findings: []hookd.Finding{{ID: "self-grant", Title: "Self-grant", Detail: `<img src=x> granted Folder Reader to themselves`}}}}}}, nil
}
func (f *consoleFake) Change(_ context.Context, id string) (adminapi.Change, error) {
	if id != "e1" {
		return adminapi.Change{}, adminapi.ErrNotFound
	}
	return adminapi.Change{Record: &hookd.RoleChange{EventID: "e1", EventType: hook.WorkflowsUserRoleAdd,
		Subject: hookd.Subject{Kind: hookd.SubjectUser, DisplayName: `<!channel> Bob`}, Roles: []hookd.Role{{Name: "Folder Reader"}},
		Client: hookd.ClientInfo{IP: "198.51.100.23", City: "Denver", Country: "United States", UserAgent: "Mozilla/5.0"}}}, nil
}
func (f *consoleFake) DeadLetters(context.Context, adminapi.DeadLetterFilter) ([]adminapi.DeadLetter, error) {
	return nil, nil
}
func (f *consoleFake) RetryDeadLetter(_ context.Context, id int64, by string) (adminapi.DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retried = append(f.retried, id)
	return adminapi.DeadLetter{JobID: id, Sink: "slack", Handling: "retried", HandledBy: by}, nil
}
func (f *consoleFake) DiscardDeadLetter(_ context.Context, id int64, by string) (adminapi.DeadLetter, error) {
	return adminapi.DeadLetter{JobID: id, Handling: "discarded", HandledBy: by}, nil
}
func (f *consoleFake) SinkJobs(context.Context) (map[string]adminapi.JobCounts, error) {
	return map[string]adminapi.JobCounts{}, nil
}

func (f *consoleFake) Holders(context.Context, string) ([]adminapi.Holder, error) {
	return []adminapi.Holder{}, nil
}

func newConsole(t *testing.T) (*Server, *consoleFake, *observer.ObservedLogs) {
	t.Helper()
	auth, err := verify.New("Authorization", []string{secret})
	require.NoError(t, err)
	core, logs := observer.New(zapcore.InfoLevel)
	fake := &consoleFake{}
	s, err := New(Options{Auth: auth, Store: &fakeStore{}, Logger: zap.New(core),
		Console: &ConsoleOptions{Store: fake, Sinks: []SinkInfo{{Name: "slack", Type: "slack"}}}})
	require.NoError(t, err)
	return s, fake, logs
}

// A repair posted from another site (a page the operator happens to visit) is refused; the
// console's own forms and non-browser clients (curl, hookd's CLI) are not.
func TestConsoleRefusesCrossSiteRepairs(t *testing.T) {
	s, fake, logs := newConsole(t)
	post := func(header map[string]string) int {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9090/deadletters/7/retry", strings.NewReader(url.Values{"sink": {"slack"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, http.StatusForbidden, post(map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}))
	assert.Equal(t, http.StatusForbidden, post(map[string]string{"Origin": "https://evil.example"}))
	assert.Empty(t, fake.retried, "nothing was retried")
	assert.Equal(t, http.StatusSeeOther, post(map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:9090"}))
	assert.Equal(t, http.StatusSeeOther, post(nil), "no browser headers: the CLI or curl")
	assert.Equal(t, []int64{7, 7}, fake.retried)
	entries := logs.FilterMessage("dead letter retried").All()
	require.Len(t, entries, 2)
	assert.Equal(t, int64(7), entries[0].ContextMap()["job"])
	assert.Equal(t, "console from 192.0.2.1 (loopback)", entries[0].ContextMap()["by"])
}

// Okta-supplied text is escaped in pages; an unknown change is a 404 page for a browser and
// JSON for the API.
func TestConsoleEscapesAndAnswersErrors(t *testing.T) {
	s, _, _ := newConsole(t)
	get := func(path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9090"+path, nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(rec, req)
		return rec
	}
	page := get("/", "text/html")
	require.Equal(t, http.StatusOK, page.Code)
	assert.NotContains(t, page.Body.String(), `<script>alert`)
	assert.Contains(t, page.Body.String(), `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`)
	assert.Contains(t, page.Body.String(), `<span class="finding" title="&lt;img src=x&gt; granted Folder Reader to themselves">self-grant</span>`,
		"a finding shows in the list, its detail escaped")
	assert.NotContains(t, page.Body.String(), `<img src=x>`)
	assert.Contains(t, page.Header().Get("Content-Security-Policy"), "default-src 'none'")

	// The change page: the record JSON shows what Okta sent, escaped once, for HTML; the
	// address, place and browser apart.
	one := get("/changes/e1", "text/html").Body.String()
	assert.Contains(t, one, `&#34;displayName&#34;: &#34;&lt;!channel&gt; Bob&#34;`)
	assert.NotContains(t, one, `\u003c`)
	assert.Contains(t, one, `<dd><code>198.51.100.23</code> · Denver, United States<div class="ua">Mozilla/5.0</div></dd>`)

	missing := get("/changes/nope", "text/html")
	assert.Equal(t, http.StatusNotFound, missing.Code)
	assert.Contains(t, missing.Header().Get("Content-Type"), "text/html")
	api := get("/api/v1/changes/nope", "application/json")
	assert.Equal(t, http.StatusNotFound, api.Code)
	assert.JSONEq(t, `{"error":"not found","detail":"not found"}`, api.Body.String())
	bad := get("/api/v1/changes?since=whenever", "application/json")
	assert.Equal(t, http.StatusBadRequest, bad.Code)
	assert.Contains(t, bad.Body.String(), "is not a time")
	noSink := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(noSink, httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9090/api/v1/deadletters/retry", nil))
	assert.Equal(t, http.StatusBadRequest, noSink.Code, "retry all needs a sink")
	assert.Contains(t, noSink.Body.String(), "name the sink")
}
