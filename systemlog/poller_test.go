package systemlog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/okta"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/storetest"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a settable time for the poller and the fake org.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	okta    *systemlogtest.Okta
	store   *store.Store
	clock   *clock
	reports []Report
	opts    store.Options
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}}
	f.okta = systemlogtest.NewOkta(t, "good-token")
	f.okta.Now = f.clock.Now
	f.opts = store.Options{DataDir: t.TempDir(), Sinks: []string{"console"}}
	f.store = f.open(t)
	return f
}

func (f *fixture) open(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), f.opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (f *fixture) poller(t *testing.T, token string, limit int) *Poller {
	t.Helper()
	p, err := New(Config{OrgURL: f.okta.URL, Credentials: okta.APIToken(token), Store: f.store, Limit: limit,
		Now: f.clock.Now, Report: func(r Report) { f.reports = append(f.reports, r) }})
	require.NoError(t, err)
	return p
}

func (f *fixture) last() Report { return f.reports[len(f.reports)-1] }

func (f *fixture) events(t *testing.T) int {
	var n int
	require.NoError(t, f.store.DB().QueryRow("SELECT count(*) FROM hookd_event WHERE source = 'systemlog'").Scan(&n))
	return n
}

// add puts n events of the type on the fake org, published just before now.
func (f *fixture) add(prefix, eventType string, n int) {
	for i := 0; i < n; i++ {
		f.okta.Add(fmt.Sprintf("%s-%03d", prefix, i), eventType, f.clock.Now().Add(-time.Minute+time.Duration(i)*time.Millisecond))
	}
}

func TestSteadyPolling(t *testing.T) {
	f := newFixture(t)
	f.okta.Add("too-old", hook.WorkflowsUserRoleAdd, f.clock.Now().Add(-2*time.Hour))
	f.add("first", hook.WorkflowsUserRoleAdd, 3)
	f.add("noise", "user.session.start", 4)
	p := f.poller(t, "good-token", 2)
	ctx := context.Background()

	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultOK, f.last().Result)
	assert.Equal(t, 3, f.last().Accepted, "watched types only, and only the last hour")
	assert.Equal(t, 3, f.events(t))

	// Nothing new: one request, an empty page, and the cursor stays.
	before := f.okta.Requests()
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, 0, f.last().Accepted)
	assert.Equal(t, before+1, f.okta.Requests())

	// Events arrive later, including one of another watched type.
	f.clock.Add(time.Minute)
	f.add("second", hook.WorkflowsGroupRoleRemove, 2)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, 2, f.last().Accepted)
	assert.Equal(t, 5, f.events(t))
	assert.False(t, f.last().Newest.IsZero())

	rc, err := f.store.Record(ctx, "second-001")
	require.NoError(t, err)
	assert.Equal(t, hookd.SourceSystemLog, rc.Source)
	assert.Equal(t, f.okta.URL, rc.Org)
	assert.Equal(t, []string{"Folder Editor"}, rc.RoleNames())
}

func TestRestartInTheMiddle(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 7)
	p := f.poller(t, "good-token", 2)
	ctx := context.Background()

	// The first page is read and committed, then Okta fails.
	f.okta.FailAfter(1)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultError, f.last().Result)
	assert.Equal(t, 2, f.events(t))

	// A new process (new store handle, new poller) continues from the kept cursor after the
	// backoff: the rest, once each.
	require.NoError(t, f.store.Close())
	f.store = f.open(t)
	f.clock.Add(time.Minute)
	p = f.poller(t, "good-token", 2)
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultOK, f.last().Result)
	assert.Equal(t, 5, f.last().Accepted)
	assert.Equal(t, 7, f.events(t), "nothing missed")
	var dup int
	for _, r := range f.reports {
		dup += r.Events - r.Accepted
	}
	assert.Equal(t, 0, dup, "nothing read twice")
}

func TestRateLimits(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 10)
	f.okta.RateLimit = 20
	f.okta.TooMany = 3
	p := f.poller(t, "good-token", 2)
	ctx := context.Background()

	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultRateLimited, f.last().Result)
	assert.True(t, f.clock.Now().Truncate(time.Second).Add(2*time.Second).Equal(f.last().Until), "until Okta's reset, got %v", f.last().Until)
	requests := f.okta.Requests()

	// Before the reset nothing is sent, however often the poller runs.
	for i := 0; i < 5; i++ {
		require.NoError(t, p.Poll(ctx))
		assert.Equal(t, ResultWaiting, f.last().Result)
	}
	assert.Equal(t, requests, f.okta.Requests())

	// The storm goes on: each try waits for the reset again.
	for f.okta.TooManyLeft() > 0 {
		f.clock.Add(2 * time.Second)
		f.okta.Reset()
		require.NoError(t, p.Poll(ctx))
	}
	f.clock.Add(2 * time.Second)
	f.okta.Reset()
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, 10, f.events(t))

	// Near the limit the poller stops before Okta has to refuse it: it keeps a tenth of the
	// window (at least one request) for the org's other clients; of 8, it reads seven pages.
	f.add("more", hook.WorkflowsUserRoleAdd, 20)
	f.okta.RateLimit = 8
	f.clock.Add(2 * time.Second)
	f.okta.Reset()
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultRateLimited, f.last().Result)
	assert.Equal(t, 7, f.last().Pages)
	assert.Equal(t, 1, f.last().RateLimitRemaining)
	assert.Equal(t, 0, f.okta.Refused(), "no 429 earned by polling")
	for i := 0; i < 3; i++ {
		f.clock.Add(2 * time.Second)
		f.okta.Reset()
		require.NoError(t, p.Poll(ctx))
	}
	assert.Equal(t, 30, f.events(t), "the rest over the next windows")
}

func TestUnauthorizedStopsPolling(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 2)
	p := f.poller(t, "revoked-token", 0)
	ctx := context.Background()

	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, ResultUnauthorized, f.last().Result)
	assert.Contains(t, f.last().Err.Error(), "HTTP 401")
	assert.NotContains(t, f.last().Err.Error(), "revoked-token")
	err := p.Ready(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HOOKD_OKTA_API_TOKEN")

	requests := f.okta.Requests()
	for i := 0; i < 10; i++ {
		require.NoError(t, p.Poll(ctx))
		assert.Equal(t, ResultStopped, f.last().Result)
	}
	assert.Equal(t, requests, f.okta.Requests(), "no tight loop against Okta")

	// A corrected token polls again.
	p = f.poller(t, "good-token", 0)
	require.NoError(t, p.Ready(ctx))
	require.NoError(t, p.Poll(ctx))
	assert.Equal(t, 2, f.last().Accepted)
}

func TestSameEventByHookAndByPoll(t *testing.T) {
	f := newFixture(t)
	f.add("ev", hook.WorkflowsUserRoleAdd, 1)
	body := fmt.Sprintf(`{"eventType":"com.okta.event_hook","source":"%s/api/v1/eventHooks/x","data":{"events":[%s]}}`, f.okta.URL, f.okta.Raw(0))
	b, err := hook.DecodeBytes([]byte(body))
	require.NoError(t, err)
	var c hook.Classifier
	records, _ := c.RoleChanges(b, hookd.SourceHook)
	res, err := f.store.Accept(context.Background(), records)
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted)

	require.NoError(t, f.poller(t, "good-token", 0).Poll(context.Background()))
	assert.Equal(t, 1, f.last().Events)
	assert.Equal(t, 0, f.last().Accepted, "the hook had it already")
	var jobs int
	require.NoError(t, f.store.DB().QueryRow("SELECT count(*) FROM hookd_delivery").Scan(&jobs))
	assert.Equal(t, 1, jobs, "one alert")
}

func TestNextLinkMustStayOnTheOrg(t *testing.T) {
	p, err := New(Config{OrgURL: "https://acme.okta.com", Credentials: okta.APIToken("t"), Store: &store.Store{}})
	require.NoError(t, err)
	for _, tt := range []struct {
		links []string
		ok    bool
	}{
		{[]string{`<https://acme.okta.com/api/v1/logs?after=1>; rel="next"`}, true},
		{[]string{`<https://acme.okta.com/api/v1/logs?after=1&x=a,b>; rel="self", <https://acme.okta.com/api/v1/logs?after=2>; rel="next"`}, true},
		{[]string{`<https://evil.example/api/v1/logs?after=1>; rel="next"`}, false},
		{[]string{`<https://acme.okta.com/api/v1/users>; rel="next"`}, false},
		{[]string{`<http://acme.okta.com/api/v1/logs?after=1>; rel="next"`}, false},
		{[]string{`<https://acme.okta.com/api/v1/logs?after=1>; rel="self"`}, false},
	} {
		h := http.Header{"Link": tt.links}
		_, err := p.nextLink(h)
		assert.Equal(t, tt.ok, err == nil, "%v: %v", tt.links, err)
	}
}

func TestFilter(t *testing.T) {
	assert.Equal(t, `eventType eq "a.b" or eventType eq "c.d"`, Filter([]string{"a.b", "c.d"}))
	// Every watched type: the hook is the fast path, the System Log the safety net.
	var watched []string
	for _, w := range hook.Watched() {
		watched = append(watched, w.EventType)
	}
	assert.Equal(t, watched, DefaultEventTypes())
	assert.Len(t, DefaultEventTypes(), 19)
	_, err := New(Config{OrgURL: "https://acme.okta.com", Credentials: okta.APIToken("t"), Store: &store.Store{}, EventTypes: []string{`x" or eventType sw "`}})
	assert.Error(t, err, "no filter injection")
}

func TestServiceAppToken(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	signer, err := okta.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	require.NoError(t, err)

	var tokenRequests int
	var tokenURL string
	// The token server judges the assertion by the test's clock, as the poller signs it:
	// against the real clock the assertion expired five minutes after the fixture's noon.
	f := newFixture(t)
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenRequests++
		assert.NoError(t, r.ParseForm())
		assert.Equal(t, "client_credentials", r.Form.Get("grant_type"))
		assert.Equal(t, "okta.logs.read", r.Form.Get("scope"))
		assert.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", r.Form.Get("client_assertion_type"))
		claims := jwt.RegisteredClaims{}
		_, err := jwt.ParseWithClaims(r.Form.Get("client_assertion"), &claims, func(tok *jwt.Token) (any, error) {
			if tok.Header["kid"] != "kid-1" {
				return nil, fmt.Errorf("unknown kid %v", tok.Header["kid"])
			}
			return &key.PublicKey, nil
		}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(tokenURL), jwt.WithIssuer("0oaClient"), jwt.WithSubject("0oaClient"),
			jwt.WithTimeFunc(f.clock.Now))
		if err != nil {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "access-123", "token_type": "Bearer", "expires_in": 3600})
	}))
	defer tokens.Close()
	tokenURL = tokens.URL + "/oauth2/v1/token"

	f.okta.Bearer = "access-123"
	f.add("ev", hook.WorkflowsUserRoleAdd, 2)
	app := &okta.ServiceApp{TokenURL: tokenURL, ClientID: "0oaClient", Key: signer, KeyID: "kid-1", Now: f.clock.Now}
	p, err := New(Config{OrgURL: f.okta.URL, Credentials: app, Store: f.store, Now: f.clock.Now,
		Report: func(r Report) { f.reports = append(f.reports, r) }})
	require.NoError(t, err)
	require.NoError(t, p.Poll(context.Background()))
	assert.Equal(t, 2, f.last().Accepted)
	require.NoError(t, p.Poll(context.Background()))
	assert.Equal(t, 1, tokenRequests, "the token is kept until it expires")

	// A client Okta refuses stops polling like a refused token.
	other := &okta.ServiceApp{TokenURL: tokenURL, ClientID: "0oaOther", Key: signer, Now: f.clock.Now}
	p, err = New(Config{OrgURL: f.okta.URL, Credentials: other, Store: f.store, Now: f.clock.Now,
		Report: func(r Report) { f.reports = append(f.reports, r) }})
	require.NoError(t, err)
	require.NoError(t, p.Poll(context.Background()))
	assert.Equal(t, ResultUnauthorized, f.last().Result)
}

// Two replicas on one Postgres database: only the leader (an advisory lock) polls, so polls
// never overlap.
func TestTwoReplicasPollOneAtATime(t *testing.T) {
	base := os.Getenv("HOOKD_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("HOOKD_TEST_DATABASE_URL is not set: the two-replica test needs Postgres")
	}
	fake := systemlogtest.NewOkta(t, "good-token")
	fake.Delay = 150 * time.Millisecond // a poll lasts longer than the interval
	fake.Add("ev-1", hook.WorkflowsUserRoleAdd, time.Now().Add(-time.Minute))
	dbURL := storetest.FreshSchema(t, base)

	var mu sync.Mutex
	polls := map[string]int{}
	for _, name := range []string{"a", "b"} {
		var p *Poller
		s, err := store.Open(context.Background(), store.Options{
			DatabaseURL: dbURL, FetchPollInterval: 20 * time.Millisecond,
			Periodic: []store.Periodic{{Name: "systemlog", Interval: 100 * time.Millisecond, Run: func(ctx context.Context) error {
				mu.Lock()
				polls[name]++
				mu.Unlock()
				return p.Poll(ctx)
			}}},
		})
		require.NoError(t, err)
		p, err = New(Config{OrgURL: fake.URL, Credentials: okta.APIToken("good-token"), Store: s})
		require.NoError(t, err)
		require.NoError(t, s.Start(context.Background()))
		t.Cleanup(func() {
			_ = s.Stop(context.Background())
			_ = s.Close()
		})
	}
	require.Eventually(t, func() bool { return fake.Requests() >= 6 }, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1, fake.MaxInFlight(), "never two polls at once")
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, polls["a"]+polls["b"], 3)
}
