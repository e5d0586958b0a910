package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/verify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const secret = "s3cret-header-value-do-not-log"

// fakeStore keeps accepted records in memory, de-duplicating by uuid like the real store.
type fakeStore struct {
	mu   sync.Mutex
	seen map[string]hookd.RoleChange
	down bool
	// late, when set, holds each commit until the caller has given up waiting for it (its
	// context is done) and the test closes late: a commit that lands after the delivery was
	// answered.
	late chan struct{}
	// commits counts the requests the fake committed, late ones too.
	commits int
}

func (f *fakeStore) AcceptAndReport(ctx context.Context, records []hookd.RoleChange, committed func(hookd.AcceptResult)) (hookd.AcceptResult, error) {
	if late := f.late; late != nil {
		// A commit that lands after the caller's timeout: reported when it is done.
		gaveUp := ctx.Done()
		go func() {
			<-gaveUp
			<-late
			res, _ := f.accept(records)
			committed(res)
		}()
		<-gaveUp
		return hookd.AcceptResult{}, fmt.Errorf("%w: %w", hookd.ErrUnavailable, ctx.Err())
	}
	res, err := f.accept(records)
	if err == nil && committed != nil {
		committed(res)
	}
	return res, err
}

func (f *fakeStore) accept(records []hookd.RoleChange) (hookd.AcceptResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return hookd.AcceptResult{}, fmt.Errorf("%w: connection refused", hookd.ErrUnavailable)
	}
	f.commits++
	if f.seen == nil {
		f.seen = map[string]hookd.RoleChange{}
	}
	var res hookd.AcceptResult
	for _, rc := range records {
		if rc.IsMembership() {
			res.NotWatched++ // as the store does for a group that holds nothing watched
			continue
		}
		if _, dup := f.seen[rc.EventID]; dup {
			res.Duplicates++
			continue
		}
		f.seen[rc.EventID] = rc
		res.Accepted++
	}
	return res, nil
}

func (f *fakeStore) Ping(context.Context) error {
	if f.down {
		return fmt.Errorf("%w: connection refused", hookd.ErrUnavailable)
	}
	return nil
}

func (f *fakeStore) stored() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

type fixture struct {
	server *Server
	store  *fakeStore
	logs   *observer.ObservedLogs
}

func newFixture(t *testing.T, mutate ...func(*Options)) *fixture {
	t.Helper()
	auth, err := verify.New("Authorization", []string{secret, "older-secret"})
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	st := &fakeStore{}
	o := Options{Auth: auth, Store: st, Logger: zap.New(core), BodyLimit: 1 << 20}
	for _, m := range mutate {
		m(&o)
	}
	s, err := New(o)
	require.NoError(t, err)
	return &fixture{server: s, store: st, logs: logs}
}

func (f *fixture) do(method, path string, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.server.Handler().ServeHTTP(rec, req)
	return rec
}

// admin sends a request to the admin listener's routes, at its default address.
func (f *fixture) admin(method, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://127.0.0.1:9090"+path, nil)
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.server.AdminHandler().ServeHTTP(rec, req)
	return rec
}

func payload(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "payloads", name))
	require.NoError(t, err)
	return string(b)
}

func (f *fixture) post(body string, headers ...string) *httptest.ResponseRecorder {
	h := append([]string{"Authorization", secret, "Content-Type", "application/json"}, headers...)
	return f.do(http.MethodPost, "/okta/events", body, h...)
}

func TestStatuses(t *testing.T) {
	f := newFixture(t)
	good := payload(t, "workflows-user-role-add.json")
	tests := []struct {
		name    string
		rec     *httptest.ResponseRecorder
		status  int
		errBody string
	}{
		{"delivery accepted", f.post(good), 200, ""},
		{"redelivery accepted", f.post(good), 200, ""},
		{"rotated secret accepted", f.post(good, "Authorization", "older-secret"), 200, ""},
		{"charset parameter is fine", f.post(good, "Content-Type", "application/json; charset=utf-8"), 200, ""},
		{"not watched only", f.post(`{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"u","eventType":"user.session.start","published":"2026-11-20T14:00:00Z"}]}}`), 200, ""},
		{"missing secret", f.do("POST", "/okta/events", good, "Content-Type", "application/json"), 401, `{"error":"unauthorized","detail":"missing Authorization header"}`},
		{"wrong secret", f.post(good, "Authorization", "guess"), 401, `{"error":"unauthorized","detail":"wrong Authorization header value"}`},
		{"malformed JSON", f.post(payload(t, "malformed-truncated.json")), 400, ""},
		{"wrong envelope", f.post(payload(t, "malformed-wrong-envelope-type.json")), 400, `{"error":"not an Okta event-hook delivery","detail":"eventType: must be \"com.okta.event_hook\", got \"com.okta.oauth2.tokens.transform\""}`},
		{"events not an array", f.post(payload(t, "malformed-events-not-array.json")), 400, `{"error":"not an Okta event-hook delivery","detail":"data.events: must be an array, got object"}`},
		{"non-JSON content type", f.post(good, "Content-Type", "text/plain"), 415, `{"error":"unsupported media type","detail":"Content-Type must be application/json"}`},
		{"no content type", f.post(good, "Content-Type", ""), 415, ""},
		{"body over the limit", f.post(`{"eventType":"com.okta.event_hook","data":{"events":[` + strings.Repeat(" ", 2<<20) + `]}}`), 413, `{"error":"payload too large","detail":"the body limit is 1048576 bytes"}`},
		{"challenge", f.do("GET", "/okta/events", "", "Authorization", secret, "x-okta-verification-challenge", `a"b`), 200, `{"verification":"a\"b"}`},
		{"challenge without auth", f.do("GET", "/okta/events", "", "X-Okta-Verification-Challenge", "abc"), 401, ""},
		{"challenge without challenge", f.do("GET", "/okta/events", "", "Authorization", secret), 400, `{"error":"bad request","detail":"missing X-Okta-Verification-Challenge header"}`},
		{"health", f.do("GET", "/healthz", ""), 200, `{"status":"ok"}`},
		{"ready", f.admin("GET", "/readyz"), 200, `{"status":"ready"}`},
		{"unknown route", f.do("GET", "/nope", ""), 404, ""},
		{"wrong method", f.do("PUT", "/okta/events", ""), 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.status, tt.rec.Code, tt.rec.Body.String())
			if tt.status >= 400 {
				assert.Equal(t, "application/json", strings.Split(tt.rec.Header().Get("Content-Type"), ";")[0])
				assert.Contains(t, tt.rec.Body.String(), `"error":`)
			}
			if tt.errBody != "" {
				assert.JSONEq(t, tt.errBody, tt.rec.Body.String())
			}
		})
	}
	assert.Equal(t, 1, f.store.stored())
}

func TestMalformedBodiesSayWhatIsWrong(t *testing.T) {
	f := newFixture(t)
	rec := f.post(payload(t, "malformed-truncated.json"))
	require.Equal(t, 400, rec.Code)
	assert.Contains(t, rec.Body.String(), `"error":"malformed JSON"`)
	assert.Contains(t, rec.Body.String(), "unexpected end of JSON input (at byte")
}

func TestBadEventAmongGoodOnesKeepsTheGoodOnes(t *testing.T) {
	f := newFixture(t)
	rec := f.post(payload(t, "partial-missing-uuid.json"))
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "2", rec.Header().Get("X-Hookd-Accepted"))
	assert.Equal(t, "3", rec.Header().Get("X-Hookd-Rejected"))
	assert.Equal(t, 2, f.store.stored())
	warned := f.logs.FilterMessage("events rejected; the rest of the delivery is kept").All()
	require.Len(t, warned, 1, "one summary line per delivery")
	assert.EqualValues(t, 3, warned[0].ContextMap()["rejected"])
	examples := warned[0].ContextMap()["examples"].([]any)
	require.Len(t, examples, 3)
	assert.Equal(t, `events[1] uuid="": data.events[1].uuid: required`, examples[0])
}

func TestCountsInHeaders(t *testing.T) {
	f := newFixture(t)
	rec := f.post(payload(t, "mixed-batch-50.json"))
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "23", rec.Header().Get("X-Hookd-Accepted"))
	assert.Equal(t, "27", rec.Header().Get("X-Hookd-Not-Watched"))
	rec = f.post(payload(t, "redelivery-of-mixed-batch-50.json"))
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, "0", rec.Header().Get("X-Hookd-Accepted"))
	assert.Equal(t, "23", rec.Header().Get("X-Hookd-Duplicates"))
}

func TestStoreDownIsA503AndNotReady(t *testing.T) {
	f := newFixture(t)
	f.store.down = true
	rec := f.post(payload(t, "workflows-user-role-add.json"))
	assert.Equal(t, 503, rec.Code)
	assert.JSONEq(t, `{"error":"store unavailable","detail":"nothing was acknowledged; Okta's retry will be taken"}`, rec.Body.String())
	rec = f.admin("GET", "/readyz")
	assert.Equal(t, 503, rec.Code)
	assert.Contains(t, rec.Body.String(), `"store":"store unavailable: connection refused"`)
}

func TestReadyChecks(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.ReadyChecks = map[string]func(context.Context) error{"systemlog": func(context.Context) error { return errors.New("401 from Okta: check HOOKD_OKTA_API_TOKEN") }}
	})
	rec := f.admin("GET", "/readyz")
	assert.Equal(t, 503, rec.Code)
	assert.Contains(t, rec.Body.String(), "check HOOKD_OKTA_API_TOKEN")
}

func TestSecretNeverLogged(t *testing.T) {
	f := newFixture(t)
	f.store.down = true
	f.post(payload(t, "workflows-user-role-add.json"))
	f.store.down = false
	f.post(payload(t, "partial-missing-uuid.json"))
	f.post(payload(t, "malformed-truncated.json"))
	f.post("{}", "Authorization", secret+"x")
	f.do("GET", "/okta/events", "", "Authorization", secret, "X-Okta-Verification-Challenge", "c")
	require.NotZero(t, f.logs.Len())
	for _, entry := range f.logs.All() {
		line := fmt.Sprint(entry.Message, entry.ContextMap())
		assert.NotContains(t, line, secret)
	}
	metrics := f.admin("GET", "/metrics").Body.String()
	assert.NotContains(t, metrics, secret)
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.post(payload(t, "mixed-batch-50.json"))
	f.post(payload(t, "partial-missing-uuid.json"))
	f.post("{}", "Authorization", "wrong")
	f.do("GET", "/no/such/path/"+strings.Repeat("x", 10), "")
	rec := f.admin("GET", "/metrics")
	require.Equal(t, 200, rec.Code)
	body := rec.Body.String()
	for _, want := range []string{
		`hookd_events_total{result="accepted"} 25`,
		`hookd_events_total{result="not_watched"} 27`,
		`hookd_events_total{result="rejected"} 3`,
		`hookd_events_total{result="duplicate"} 0`,
		`hookd_http_requests_total{method="POST",route="/okta/events",status="200"} 2`,
		`hookd_http_requests_total{method="POST",route="/okta/events",status="401"} 1`,
		`hookd_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`hookd_accept_duration_seconds_count 2`,
		"\ngo_goroutines ",
		"\nprocess_resident_memory_bytes ",
	} {
		assert.Contains(t, body, want)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		standard := strings.HasPrefix(line, "go_") || strings.HasPrefix(line, "process_")
		assert.True(t, strings.HasPrefix(line, "hookd_") || standard, "series neither hookd_ nor a standard collector's: %s", line)
	}
}

func (f *fakeStore) committed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits
}
