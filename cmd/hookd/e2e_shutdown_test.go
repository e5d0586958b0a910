package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowReceiver is a webhook sink that takes delay to answer and counts what it finished.
type slowReceiver struct {
	*httptest.Server
	arrived  chan struct{}
	mu       sync.Mutex
	delay    time.Duration
	finished int
}

func newSlowReceiver(t *testing.T, delay time.Duration) *slowReceiver {
	r := &slowReceiver{arrived: make(chan struct{}, 100), delay: delay}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.arrived <- struct{}{}
		r.mu.Lock()
		delay := r.delay
		r.mu.Unlock()
		time.Sleep(delay) // the slow sink whose deliveries in flight shutdown must wait for
		r.mu.Lock()
		r.finished++
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// setDelay changes how long the next requests take to answer.
func (r *slowReceiver) setDelay(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay = d
}

func (r *slowReceiver) done() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.finished
}

func postDelivery(t *testing.T, addr, secret string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/okta/events", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestShutdownWaitsForDeliveriesInFlight: SIGTERM lets the deliveries in flight finish (up
// to HOOKD_SHUTDOWN_TIMEOUT); each is delivered once and none is counted as failed.
func TestShutdownWaitsForDeliveriesInFlight(t *testing.T) {
	sink := newSlowReceiver(t, 2*time.Second)
	dataDir := t.TempDir()
	env := map[string]string{
		"HOOKD_DATA_DIR": dataDir, "HOOKD_OKTA_SECRETS": "shutdown-secret",
		"HOOKD_WEBHOOK_URL": sink.URL, "HOOKD_WEBHOOK_SECRET": webhookSecret,
		"HOOKD_GROUP_WINDOW": "0s", "HOOKD_SHUTDOWN_TIMEOUT": "10s", "HOOKD_LOG_LEVEL": "debug",
	}
	srv := start(t, env)
	require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, "shutdown-secret", oktagen.Watched(3)))
	for range 3 {
		select {
		case <-sink.arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the deliveries did not reach the sink")
		}
	}

	began := time.Now()
	code := srv.stop() // what SIGTERM does: cancel serve's context
	took := time.Since(began)
	assert.Equal(t, 0, code, srv.stderr.String())
	assert.Equal(t, 3, sink.done(), "the deliveries in flight finished")
	assert.GreaterOrEqual(t, took, time.Second, "shutdown waited for the sink")
	assert.Less(t, took, 10*time.Second)
	assert.NotContains(t, srv.stderr.String(), "will retry")
	assert.NotContains(t, srv.stderr.String(), `"outcome":"retry"`)

	// Recorded as delivered: started again, hookd shows them delivered and sends none again.
	srv = start(t, env)
	for _, c := range changesOf(t, srv.adminAddr) {
		assert.Equal(t, adminapi.StateDelivered, c.Deliveries[0].State, c.Record.EventID)
	}
	assert.Zero(t, metric(t, srv.adminAddr, "hookd_queue_depth"))
	// A new event, accepted after the start, is delivered; a resend of the earlier ones, due
	// before it, would have been sent by the time the queue is empty again.
	sink.setDelay(0)
	require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, "shutdown-secret", oktagen.Watched(1)))
	require.Eventually(t, func() bool { return sink.done() >= 4 }, 10*time.Second, 20*time.Millisecond, "the new event delivered")
	settle(t, srv.adminAddr, 0)
	assert.Equal(t, 4, sink.done(), "completed, not retried later: only the new event was sent")
	assert.Len(t, changesOf(t, srv.adminAddr), 4)
}

// TestShutdownTimeoutExitsZero: a request body that trickles in longer than the shutdown
// timeout is cut off at the timeout, and hookd exits 0: the operator asked for that limit.
func TestShutdownTimeoutExitsZero(t *testing.T) {
	env := map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "shutdown-secret",
		"HOOKD_SHUTDOWN_TIMEOUT": "500ms", "HOOKD_HTTP_READ_TIMEOUT": "30s",
	}
	srv := start(t, env)
	conn, err := net.Dial("tcp", srv.addr)
	require.NoError(t, err)
	defer conn.Close()
	// Expect: 100-continue makes the server say when the handler starts reading the body:
	// from then on the request is in flight, which shutdown must wait for.
	_, err = fmt.Fprint(conn, "POST /okta/events HTTP/1.1\r\nHost: x\r\nAuthorization: shutdown-secret\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n{")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", status, "the handler reads the body")

	began := time.Now()
	code := srv.stop()
	took := time.Since(began)
	assert.Equal(t, 0, code, srv.stderr.String())
	assert.Less(t, took, 3*time.Second)
	assert.Contains(t, srv.stderr.String(), "shutdown timeout reached")
}
