package handlers

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/verify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// What a request says about itself reaches the metrics and the log before anyone is
// authenticated, so no method, path or request id a stranger makes up may become a series of
// its own or a log line of its size.
func TestMadeUpMethodsMakeNoSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(o *Options) { o.Registry = reg })
	for i := range 2000 {
		f.do(fmt.Sprintf("M%05d", i), "/healthz", "")
	}
	f.do(strings.Repeat("X", 30<<10), "/healthz", "")
	series, err := testutil.GatherAndCount(reg, "hookd_http_requests_total")
	require.NoError(t, err)
	assert.LessOrEqual(t, series, 2, "made-up methods are all counted as one method")
	assert.Equal(t, 2001.0, testutil.ToFloat64(f.server.metrics.requests.WithLabelValues("/healthz", "other", "405")))
	for _, e := range f.logs.FilterMessage("request").All() {
		assert.LessOrEqual(t, len(e.ContextMap()["method"].(string)), len("OPTIONS"))
	}
}

func TestClientRequestIDsAreKeptOnlyWhenShortAndPlain(t *testing.T) {
	long := strings.Repeat("A", 600<<10)
	for _, tt := range []struct {
		name, sent string
		kept       bool
	}{
		{"a plain id", "okta-3f2a:9b_c.d@e+f/g=", true},
		{"600 kB", long, false},
		{"a new line", "abc\ndef", false},
		{"an escape", "abc\x1b[2J", false},
		{"just over the cap", strings.Repeat("a", maxRequestID+1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(http.MethodGet, "/healthz", "", "X-Request-Id", tt.sent, "X-Okta-Request-Id", tt.sent)
			got := rec.Header().Get("X-Request-Id")
			require.NotEmpty(t, got)
			if tt.kept {
				assert.Equal(t, tt.sent, got)
			} else {
				assert.NotEqual(t, tt.sent, got)
				assert.LessOrEqual(t, len(got), maxRequestID)
			}
			entries := f.logs.FilterMessage("request").All()
			require.Len(t, entries, 1)
			m := entries[0].ContextMap()
			assert.Equal(t, got, m["request_id"])
			assert.LessOrEqual(t, len(m["okta_request_id"].(string)), maxRequestID, "Okta's request id is capped too")
		})
	}
}

func TestLoggedPathAndErrorAreCapped(t *testing.T) {
	f := newFixture(t)
	f.do(http.MethodGet, "/"+strings.Repeat("p", 100<<10), "")
	entries := f.logs.FilterMessage("request").All()
	require.Len(t, entries, 1)
	assert.LessOrEqual(t, len(entries[0].ContextMap()["path"].(string)), maxLoggedPath+len("…"))
	assert.LessOrEqual(t, len(entries[0].ContextMap()["error"].(string)), maxLoggedError+len("…"))
}

func TestHostNamesAreParsedStrictly(t *testing.T) {
	s, _, _ := newConsole(t)
	s.opts.AdminHosts = []string{"hookd.internal", "10.1.2.3"}
	for host, want := range map[string]bool{
		"localhost:9090": true, "localhost:9090.evil.example": false, "localhost:abc": false, "127.0.0.1:99999": false,
		"hookd.internal:9090": true, "10.1.2.3:9090": true, "10.1.2.4:9090": false, "[::ffff:127.0.0.1]:9090": true,
	} {
		assert.Equal(t, want, s.ownHostName(host), host)
	}
}

// On loopback, a token does not stand in for the Host check: a rebound page may guess at a
// token, and would hold up the operator's sign-ins, since it comes from loopback too.
func TestLoopbackAdminWithATokenAnswersOnlyItsOwnNames(t *testing.T) {
	s, _, _ := newTokenConsole(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.ServeAdmin(l) }()
	t.Cleanup(func() { _ = s.Shutdown(t.Context()) })
	for host, want := range map[string]int{"evil.example": http.StatusMisdirectedRequest, l.Addr().String(): http.StatusOK} {
		req, err := http.NewRequest(http.MethodGet, "http://"+l.Addr().String()+"/api/v1/changes", nil)
		require.NoError(t, err)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, host)
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), host)
	}
}

func TestSafeNextStaysOnTheListener(t *testing.T) {
	for _, tt := range []struct{ next, want string }{
		{"/changes/abc?x=1", "/changes/abc?x=1"},
		{"/holders?role=Workflows%20Admin", "/holders?role=Workflows%20Admin"},
		{"", "/"},
		{"https://evil.example/", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"/\\\\evil.example", "/"},
		{"\\/evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/\r/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"/\x00/evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{"/%2F%2Fevil.example", "/"}, // a path that decodes to a host-relative URL is not worth the doubt
	} {
		assert.Equal(t, tt.want, safeNext(tt.next), "%q", tt.next)
	}
}

// Every browser resolves the Location the sign-in answers with to this listener.
func TestSignInRedirectsOnlyToThisListener(t *testing.T) {
	s, _, _ := newTokenConsole(t)
	base, _ := url.Parse("http://127.0.0.1:9090/login")
	for _, next := range []string{"/\\evil.example", "/\t/evil.example", "//evil.example", "/changes/1"} {
		rec := signIn(s, adminToken, next)
		require.Equal(t, http.StatusSeeOther, rec.Code)
		to, err := base.Parse(strings.ReplaceAll(rec.Header().Get("Location"), "\\", "/"))
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1:9090", to.Host, "next=%q went to %q", next, rec.Header().Get("Location"))
	}
}

const adminToken = "an-admin-token-of-32-characters!"

func newTokenConsole(t *testing.T) (*Server, *consoleFake, *observer.ObservedLogs) {
	t.Helper()
	auth, err := verify.New("Authorization", []string{secret})
	require.NoError(t, err)
	core, logs := observer.New(zapcore.InfoLevel)
	fake := &consoleFake{}
	s, err := New(Options{Auth: auth, Store: &fakeStore{}, Logger: zap.New(core), AdminToken: adminToken,
		Console: &ConsoleOptions{Store: fake, Sinks: []SinkInfo{{Name: "slack", Type: "slack"}}}})
	require.NoError(t, err)
	return s, fake, logs
}

func signIn(s *Server, token, next string) *httptest.ResponseRecorder {
	return signInFrom(s, token, next, "192.0.2.1:1234")
}

func signInFrom(s *Server, token, next, remote string) *httptest.ResponseRecorder {
	form := url.Values{"token": {token}, "next": {next}}
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9090/login", strings.NewReader(form.Encode()))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, req)
	return rec
}

func getWith(s *Server, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9090"+path, nil)
	req.Header.Set("Accept", "application/json")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, req)
	return rec
}

func sessionOf(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// Each sign-in is a session of its own that expires and can be ended; the cookie never holds
// the token or anything made only from it.
func TestConsoleSessionsArePerSignInAndEnd(t *testing.T) {
	s, _, _ := newTokenConsole(t)
	a, b := sessionOf(t, signIn(s, adminToken, "/")), sessionOf(t, signIn(s, adminToken, "/"))
	assert.NotEqual(t, a.Value, b.Value, "two sign-ins, two sessions")
	assert.NotContains(t, a.Value, adminToken)
	assert.Equal(t, int(sessionLifetime/time.Second), a.MaxAge, "the cookie expires")
	assert.True(t, a.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, a.SameSite)
	assert.Equal(t, http.StatusOK, getWith(s, "/api/v1/changes", a).Code)
	assert.Equal(t, http.StatusUnauthorized, getWith(s, "/api/v1/changes", &http.Cookie{Name: sessionCookie, Value: "forged"}).Code)

	// Sign out: that session opens nothing any more, the other still does.
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9090/logout", nil)
	req.AddCookie(a)
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, -1, sessionOf(t, rec).MaxAge, "the browser is told to drop the cookie")
	assert.Equal(t, http.StatusUnauthorized, getWith(s, "/api/v1/changes", a).Code, "a kept cookie opens nothing after sign-out")
	assert.Equal(t, http.StatusOK, getWith(s, "/api/v1/changes", b).Code)

	// A session past its lifetime opens nothing.
	var ss sessions
	id := ss.start(time.Now().Add(-sessionLifetime - time.Minute))
	assert.False(t, ss.valid(id, time.Now()))
	assert.True(t, ss.valid(ss.start(time.Now()), time.Now()))
}

func TestConsolePageOffersSignOut(t *testing.T) {
	s, _, _ := newTokenConsole(t)
	ck := sessionOf(t, signIn(s, adminToken, "/"))
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9090/", nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(ck)
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), `action="/logout"`)
}

func TestSessionsAreBounded(t *testing.T) {
	var ss sessions
	now := time.Now()
	first := ss.start(now)
	for range maxSessions + 10 {
		ss.start(now.Add(time.Second))
	}
	assert.LessOrEqual(t, len(ss.expires), maxSessions)
	assert.False(t, ss.valid(first, now), "the one closest to expiry went first")
}

// Wrong tokens are throttled per client, by the form and by the bearer header alike; another
// client, and the right token within the allowance, are not held up.
func TestWrongAdminTokensAreThrottled(t *testing.T) {
	s, _, logs := newTokenConsole(t)
	codes := map[int]int{}
	for range 50 {
		codes[signIn(s, "wrong-token", "/").Code]++
	}
	assert.Equal(t, wrongTokenBurst, codes[http.StatusUnauthorized], "a few wrong tokens are answered")
	assert.Equal(t, 50-wrongTokenBurst, codes[http.StatusTooManyRequests], "then the client waits")
	rec := signIn(s, adminToken, "/")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "a throttled client's token is not even looked at")
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.Equal(t, http.StatusSeeOther, signInFrom(s, adminToken, "/", "192.0.2.9:1").Code, "another client signs in")
	assert.Positive(t, logs.FilterMessage("console sign-in throttled: too many wrong admin tokens").Len())

	bearer := func(token, remote string) int {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9090/api/v1/changes", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(rec, req)
		return rec.Code
	}
	codes = map[int]int{}
	for range 20 {
		codes[bearer("wrong", "192.0.2.50:1")]++
	}
	assert.Equal(t, map[int]int{http.StatusUnauthorized: wrongTokenBurst, http.StatusTooManyRequests: 20 - wrongTokenBurst}, codes)
	assert.Equal(t, http.StatusOK, bearer(adminToken, "192.0.2.51:1"))
}

func TestThrottleLetsAClientTryAgainLater(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	for range wrongTokenBurst {
		_, wait := th.attempt("192.0.2.1", now)
		require.Zero(t, wait)
	}
	_, wait := th.attempt("192.0.2.1", now)
	assert.Positive(t, wait)
	_, again := th.attempt("192.0.2.1", now.Add(wait+time.Millisecond))
	assert.Zero(t, again)
	// A right token gives its attempt back: the operator's own use is never held up.
	for range 3 * wrongTokenBurst {
		giveBack, wait := th.attempt("192.0.2.2", now)
		require.Zero(t, wait)
		giveBack()
	}
	// One IPv6 host fills its /64: the /64 is one client.
	for i := range wrongTokenBurst {
		_, wait := th.attempt(fmt.Sprintf("2001:db8::%x", i+1), now)
		require.Zero(t, wait)
	}
	_, wait = th.attempt("2001:db8::ffff", now)
	assert.Positive(t, wait)
}

// Many wrong tokens sent at once are held like many in turn; strangers at many addresses do
// not hold up the right token from another.
func TestThrottleHoldsConcurrentGuessesAndLocksNobodyOut(t *testing.T) {
	s, _, _ := newTokenConsole(t)
	codes := make(chan int, 40)
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- signIn(s, "wrong-token", "/").Code
		}()
	}
	wg.Wait()
	close(codes)
	tally := map[int]int{}
	for c := range codes {
		tally[c]++
	}
	assert.Equal(t, wrongTokenBurst, tally[http.StatusUnauthorized], "only a burst's worth were compared: %v", tally)
	for i := range 50 {
		signInFrom(s, "wrong-token", "/", fmt.Sprintf("198.51.100.%d:1", i))
	}
	assert.Equal(t, http.StatusSeeOther, signInFrom(s, adminToken, "/", "203.0.113.5:1").Code)
}

// A page whose name is rebound to 127.0.0.1 reaches the token-less admin listener under its
// own name: it is refused, for reads and repairs alike; hookd's own names are answered.
func TestTokenlessAdminAnswersOnlyItsOwnNames(t *testing.T) {
	s, fake, _ := newConsole(t)
	do := func(method, host, path string) int {
		req := httptest.NewRequest(method, "http://127.0.0.1:9090"+path, nil)
		req.Host = host
		rec := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(rec, req)
		return rec.Code
	}
	for _, host := range []string{"evil.example", "evil.example:9090", "rebind.127.0.0.1.nip.io:9090", "10.0.0.5:9090", "localhost.evil.example"} {
		assert.Equal(t, http.StatusMisdirectedRequest, do(http.MethodGet, host, "/api/v1/changes"), host)
		assert.Equal(t, http.StatusMisdirectedRequest, do(http.MethodGet, host, "/metrics"), host)
		assert.Equal(t, http.StatusMisdirectedRequest, do(http.MethodPost, host, "/api/v1/deadletters/7/discard"), host)
	}
	assert.Empty(t, fake.retried)
	for _, host := range []string{"127.0.0.1:9090", "localhost:9090", "LOCALHOST.:9090", "[::1]:9090", "127.0.0.2:9090", "hookd.localhost:9090"} {
		assert.Equal(t, http.StatusOK, do(http.MethodGet, host, "/api/v1/changes"), host)
	}

	listed, err := New(Options{Auth: s.opts.Auth, Store: &fakeStore{}, AdminHosts: []string{"hookd.internal"},
		Console: &ConsoleOptions{Store: fake}})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "http://hookd.internal:9090/api/v1/changes", nil)
	rec := httptest.NewRecorder()
	listed.AdminHandler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code, "a name the operator lists is answered")

	// With a token the token decides, whatever the name.
	tok, _, _ := newTokenConsole(t)
	req = httptest.NewRequest(http.MethodGet, "http://hookd.example.com/api/v1/changes", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	rec = httptest.NewRecorder()
	tok.AdminHandler().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestAdminAnswersAreNotCachedAndStaticIsNotListed(t *testing.T) {
	s, _, _ := newConsole(t)
	for _, path := range []string{"/", "/api/v1/changes", "/holders", "/metrics", "/nowhere"} {
		rec := getWith(s, path)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), path)
	}
	for _, path := range []string{"/static/", "/static"} {
		rec := getWith(s, path)
		assert.NotEqual(t, http.StatusOK, rec.Code, path)
		assert.NotContains(t, rec.Body.String(), "console.css", "%s lists its folder", path)
	}
	rec := getWith(s, "/static/console.css")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "header")
}

// With the read and write timeouts equal (the defaults), a body that stops arriving must
// still get its 408: the answer has time of its own to be written.
func TestTrickledBodyGets408WithEqualTimeouts(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ReadTimeout, o.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = f.server.Serve(l) }()
	t.Cleanup(func() { _ = f.server.Shutdown(t.Context()) })
	for i := range 4 {
		conn, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		_, err = fmt.Fprintf(conn, "POST /okta/events HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"eventType\":", secret)
		require.NoError(t, err)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, "run %d: the client got no answer", i)
		_, _ = io.Copy(io.Discard, resp.Body)
		assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		conn.Close()
	}
}

func TestHugeHeadersAreRefusedBeforeAnyHandler(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = f.server.Serve(l) }()
	t.Cleanup(func() { _ = f.server.Shutdown(t.Context()) })
	req, err := http.NewRequest(http.MethodGet, "http://"+l.Addr().String()+"/healthz", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", strings.Repeat("A", 100<<10)) // over the limit, small enough that the client finishes sending
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	assert.Zero(t, f.logs.FilterMessage("request").Len(), "no handler saw it")
}

// The session cookie is Secure when the browser came over TLS, through a trusted proxy that
// says so; from anyone else X-Forwarded-Proto is not believed.
func TestSessionCookieIsSecureBehindATrustedTLSProxy(t *testing.T) {
	_, proxies, err := net.ParseCIDR("10.0.0.0/8")
	require.NoError(t, err)
	auth, err := verify.New("Authorization", []string{secret})
	require.NoError(t, err)
	s, err := New(Options{Auth: auth, Store: &fakeStore{}, AdminToken: adminToken, TrustedProxies: []*net.IPNet{proxies},
		Console: &ConsoleOptions{Store: &consoleFake{}}})
	require.NoError(t, err)
	for _, tt := range []struct {
		remote string
		secure bool
	}{{"10.1.2.3:5000", true}, {"192.0.2.7:5000", false}} {
		form := url.Values{"token": {adminToken}}
		req := httptest.NewRequest(http.MethodPost, "http://hookd.example.com/login", strings.NewReader(form.Encode()))
		req.RemoteAddr = tt.remote
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(rec, req)
		assert.Equal(t, tt.secure, sessionOf(t, rec).Secure, tt.remote)
	}
}

// TestSignInPageSaysWhatToEnter: the sign-in page names the token to enter, on loopback too,
// and a wrong token says so, not that the token is unset.
func TestSignInPageSaysWhatToEnter(t *testing.T) {
	s, _, _ := newTokenConsole(t)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9090/login", nil)
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.NotContains(t, rec.Body.String(), "not on loopback")
	assert.Contains(t, rec.Body.String(), "<code>HOOKD_ADMIN_TOKEN_FILE</code>")
	wrong := signIn(s, "not-the-token", "/")
	assert.Equal(t, http.StatusUnauthorized, wrong.Code)
	assert.Contains(t, wrong.Body.String(), "That is not the admin token.")
	assert.NotContains(t, wrong.Body.String(), "set HOOKD_ADMIN_TOKEN")
}
