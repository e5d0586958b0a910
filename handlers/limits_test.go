package handlers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookd/hookd"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

func TestTooManyEventsIs413WithOneLogLineAtMost(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxEvents = 100; o.BodyLimit = 10 << 20 })
	body := `{"eventType":"com.okta.event_hook","data":{"events":[` + strings.TrimSuffix(strings.Repeat("{},", 1_000_000), ",") + `]}}`
	rec := f.post(body)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.JSONEq(t, `{"error":"payload too large","detail":"a delivery may hold at most 100 events"}`, rec.Body.String())
	assert.LessOrEqual(t, f.logs.Len(), 1, "only the request line")

	// Under the cap, a delivery of bad events is one summary line, not one per event.
	f = newFixture(t, func(o *Options) { o.BodyLimit = 10 << 20 })
	body = `{"eventType":"com.okta.event_hook","data":{"events":[` + strings.TrimSuffix(strings.Repeat("{},", 5000), ",") + `]}}`
	rec = f.post(body)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "5000", rec.Header().Get("X-Hookd-Rejected"))
	rejected := f.logs.FilterMessage("events rejected; the rest of the delivery is kept").All()
	require.Len(t, rejected, 1)
	assert.EqualValues(t, 5000, rejected[0].ContextMap()["rejected"])
	assert.Len(t, rejected[0].ContextMap()["examples"], maxExamples)
}

// TestTrickledBodyIs408: a body that stops arriving before the read timeout is the client's
// fault, answered 408 and logged at info, not a 500.
func TestTrickledBodyIs408(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ReadTimeout = 300 * time.Millisecond })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = f.server.Serve(l) }()
	t.Cleanup(func() { _ = f.server.Shutdown(t.Context()) })

	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /okta/events HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"eventType\":", secret)
	require.NoError(t, err)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode, string(body))
	assert.Zero(t, f.logs.FilterLevelExact(zapcore.ErrorLevel).Len(), "nothing at error level")
	assert.Equal(t, 1, f.logs.FilterLevelExact(zapcore.InfoLevel).FilterMessage("request").Len())
}

func TestLargeBodiesBeyondTheBudgetWaitThen503(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.BodyLimit = 1 << 20
		o.BodyBudget = 1 << 20 // room for one at-limit body
		o.BodyWait = 100 * time.Millisecond
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = f.server.Serve(l) }()
	t.Cleanup(func() { _ = f.server.Shutdown(t.Context()) })

	// One at-limit body holds the budget while its sender trickles it.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/okta/events", pr)
	req.ContentLength = 1 << 20
	req.Header.Set("Authorization", secret)
	req.Header.Set("Content-Type", "application/json")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	_, _ = pw.Write([]byte(`{"eventType"`))
	require.Eventually(t, func() bool {
		if f.server.bodies.TryAcquire(1) {
			f.server.bodies.Release(1)
			return false
		}
		return true
	}, 5*time.Second, 5*time.Millisecond, "the trickled body holds the whole budget")

	// A second large one finds no room within the wait: 503, which Okta retries.
	big := `{"eventType":"com.okta.event_hook","data":{"events":[` + strings.Repeat(" ", 900<<10) + `]}}`
	resp, err := http.Post("http://"+l.Addr().String()+"/okta/events", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	// The post above has no auth header: authentication comes first, so it is a 401.
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req2, _ := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/okta/events", strings.NewReader(big))
	req2.Header.Set("Authorization", secret)
	req2.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req2)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "too many large deliveries")

	_ = pw.CloseWithError(io.ErrUnexpectedEOF)
	wg.Wait()
	// With the budget free again the same delivery is taken.
	resp, err = http.DefaultClient.Do(func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/okta/events", strings.NewReader(payload(t, "workflows-user-role-add.json")))
		r.Header.Set("Authorization", secret)
		r.Header.Set("Content-Type", "application/json")
		return r
	}())
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestRemoteIPCannotBeForged: the logged client address is the direct peer's; a forwarded
// address is believed only from a configured trusted proxy.
func TestRemoteIPCannotBeForged(t *testing.T) {
	logged := func(trusted []*net.IPNet) string {
		f := newFixture(t, func(o *Options) { o.TrustedProxies = trusted })
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.RemoteAddr = "192.0.2.10:4321"
		req.Header.Set("X-Forwarded-For", "203.0.113.66")
		req.Header.Set("X-Real-IP", "203.0.113.77")
		f.server.Handler().ServeHTTP(httptest.NewRecorder(), req)
		lines := f.logs.FilterMessage("request").All()
		require.Len(t, lines, 1)
		return lines[0].ContextMap()["remote_ip"].(string)
	}
	assert.Equal(t, "192.0.2.10", logged(nil), "a forged X-Forwarded-For is ignored")
	_, proxies, err := net.ParseCIDR("192.0.2.0/24")
	require.NoError(t, err)
	assert.Equal(t, "203.0.113.66", logged([]*net.IPNet{proxies}), "a trusted proxy's forwarded address is used")
	_, other, err := net.ParseCIDR("198.51.100.0/24")
	require.NoError(t, err)
	assert.Equal(t, "192.0.2.10", logged([]*net.IPNet{other}), "an untrusted peer's forwarded address is not")
}

// TestEveryErrorHasADetail: answers Echo gives itself (404, 405) carry a detail too.
func TestEveryErrorHasADetail(t *testing.T) {
	f := newFixture(t)
	rec := f.do(http.MethodGet, "/nowhere", "")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.JSONEq(t, `{"error":"not found","detail":"hookd serves /okta/events and /healthz here"}`, rec.Body.String())
	rec = f.do(http.MethodDelete, "/okta/events", "")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.JSONEq(t, `{"error":"method not allowed","detail":"Okta sends GET (the verification challenge) and POST (deliveries) to /okta/events"}`, rec.Body.String())
}

// TestLateCommitIsCounted: a delivery answered 503 after the accept timeout may still be
// committed afterwards; what was stored is counted when it was stored.
func TestLateCommitIsCounted(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.AcceptTimeout = 50 * time.Millisecond })
	late := make(chan struct{})
	f.store.late = late
	rec := f.post(payload(t, "workflows-user-role-add.json"))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Zero(t, f.store.committed(), "not committed when answered")
	close(late) // the commit lands now, after the answer
	require.Eventually(t, func() bool {
		return strings.Contains(f.admin(http.MethodGet, "/metrics").Body.String(), `hookd_events_total{result="accepted"} 1`)
	}, 5*time.Second, 20*time.Millisecond)
}

// TestNotWatchedIsCountedOnceAcknowledged: a membership of a group that holds nothing is
// stored nowhere, so a delivery answered 503 (its commit landing late) counts it not, and
// Okta's retry counts it once.
func TestNotWatchedIsCountedOnceAcknowledged(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.AcceptTimeout = 50 * time.Millisecond })
	late := make(chan struct{})
	f.store.late = late
	body := `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"m1","eventType":"group.user_membership.add","published":"2026-11-20T14:00:00Z",
		"target":[{"id":"00u1","type":"User"},{"id":"00g1","type":"UserGroup"}]}]}}`
	assert.Equal(t, http.StatusServiceUnavailable, f.post(body).Code)
	close(late) // the commit lands now, after the answer
	require.Eventually(t, func() bool { return f.store.committed() == 1 }, 5*time.Second, 10*time.Millisecond, "the late commit")
	notWatched := func() float64 { return testutil.ToFloat64(f.server.metrics.events.WithLabelValues("not_watched")) }
	assert.Zero(t, notWatched())
	f.store.late = nil
	rec := f.post(body)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("X-Hookd-Not-Watched"))
	assert.Equal(t, 1.0, notWatched())
}

// TestStoreOutageIsToldOnceWhenOver: deliveries refused while the store is unavailable long
// enough give every sink one health record as soon as the store is back. In a synctest
// bubble: the outage lasts on the bubble's clock, and synctest.Wait returns once the record
// queued off the request is stored and nothing else is under way.
func TestStoreOutageIsToldOnceWhenOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.OutageAlertAfter = 50 * time.Millisecond })
		f.store.down = true
		assert.Equal(t, http.StatusServiceUnavailable, f.post(payload(t, "workflows-user-role-add.json")).Code)
		time.Sleep(80 * time.Millisecond) // the bubble's clock: no real wait
		assert.Equal(t, http.StatusServiceUnavailable, f.post(payload(t, "workflows-user-role-remove.json")).Code)
		f.store.down = false
		require.Equal(t, http.StatusOK, f.post(payload(t, "workflows-user-role-add.json")).Code)
		require.Equal(t, http.StatusOK, f.post(payload(t, "workflows-group-role-add.json")).Code)

		told := func() []hookd.RoleChange {
			f.store.mu.Lock()
			defer f.store.mu.Unlock()
			var out []hookd.RoleChange
			for id, rc := range f.store.seen {
				if strings.HasPrefix(id, "hookd-store-outage-") {
					out = append(out, rc)
				}
			}
			return out
		}
		// Queued off the request, so that Okta's answer does not wait for it: once every
		// goroutine of the bubble is done or blocked, whatever was to be told has been.
		synctest.Wait()
		require.Len(t, told(), 1, "told once")
		assert.Equal(t, hookd.Health, told()[0].Category)
		assert.Contains(t, told()[0].DisplayMessage, "hookd answered 2 Okta deliveries 503")
	})
}

func TestAdminNotFoundSaysWhatIsThere(t *testing.T) {
	f := newFixture(t)
	rec := f.admin(http.MethodGet, "/okta/events")
	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.JSONEq(t, `{"error":"not found","detail":"the admin listener serves /readyz, /metrics and /healthz"}`, rec.Body.String())
}

// Deliveries decode a processor's worth at a time; the rest wait their turn (parked, not
// competing with the store's committer for the processors) and all are answered.
func TestDecodingTakesTurns(t *testing.T) {
	f := newFixture(t)
	good := payload(t, "workflows-user-role-add.json")
	require.Equal(t, runtime.GOMAXPROCS(0), cap(f.server.decoding))

	// Every slot taken: a delivery waits, and goes once one is free.
	for range cap(f.server.decoding) {
		f.server.decoding <- struct{}{}
	}
	answered := make(chan int, 1)
	go func() { answered <- f.post(good).Code }()
	select {
	case code := <-answered:
		t.Fatalf("decoded with no slot free: %d", code)
	case <-time.After(100 * time.Millisecond):
	}
	<-f.server.decoding
	select {
	case code := <-answered:
		assert.Equal(t, http.StatusOK, code)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting delivery never decoded")
	}

	// A caller that is gone stops waiting (every slot taken again).
	f.server.decoding <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, _, err := f.server.decode(ctx, []byte(good))
	assert.ErrorIs(t, err, errBusy)
	for range cap(f.server.decoding) {
		<-f.server.decoding
	}

	// Many at once: all answered.
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- f.post(good).Code }()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		assert.Equal(t, http.StatusOK, code)
	}
	assert.Empty(t, f.server.decoding, "every slot given back")
}
