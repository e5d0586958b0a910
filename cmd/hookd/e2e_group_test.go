package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/oktagen"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLargeAdminActionIsSplit: 1,000 role changes of one admin action reach a webhook as
// several POSTs of at most 100 alerts, and a receiver that refuses bodies over 200 KiB with
// 413 gets smaller ones instead of a dead letter; every change arrives once.
func TestLargeAdminActionIsSplit(t *testing.T) {
	// 1,000 keeps the race detector quick; hookd-fault's large-group scenario sends 5,000.
	const events = 1000
	var mu sync.Mutex
	posts, refused, largest := 0, 0, 0
	seen := map[string]int{}
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if len(body) > 200<<10 {
			refused++
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		var doc struct {
			Alerts []struct {
				EventID string `json:"eventId"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		posts++
		largest = max(largest, len(doc.Alerts))
		for _, a := range doc.Alerts {
			seen[a.EventID]++
		}
	}))
	t.Cleanup(sink.Close)

	dataDir := t.TempDir()
	srv := start(t, map[string]string{
		"HOOKD_DATA_DIR": dataDir, "HOOKD_OKTA_SECRETS": "group-secret",
		"HOOKD_WEBHOOK_URL": sink.URL, "HOOKD_WEBHOOK_SECRET": webhookSecret, "HOOKD_GROUP_WINDOW": "500ms",
		// 5,000 events in one delivery are slow to accept under the race detector; this test
		// is about how they go out, not how fast they are taken.
		"HOOKD_HTTP_ACCEPT_TIMEOUT": "60s",
	})
	now := time.Now()
	batch := make([][]byte, events)
	for i := range batch {
		batch[i] = oktagen.Event{TransactionID: "one-big-admin-action"}.JSON(now)
	}
	require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, "group-secret", oktagen.Delivery(batch...)))

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == events
	}, 60*time.Second, 50*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		require.Equal(t, 1, n, "%s arrived once", id)
	}
	assert.LessOrEqual(t, largest, 100, "at most 100 alerts a message")
	assert.Greater(t, posts, events/100, "several POSTs")
	assert.Positive(t, refused, "the receiver's size limit was met and worked around")
	assert.Zero(t, metric(t, srv.adminAddr, `hookd_delivery_jobs{state="dead"}`), "no dead letter")
	t.Logf("%d events: %d POSTs taken, %d refused with 413, at most %d alerts a POST", events, posts, refused, largest)
}
