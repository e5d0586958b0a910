package main

import (
	"context"
	"net/http"
	"time"

	"github.com/hookd/hookd/internal/oktagen"
)

func init() {
	scenarios = append(scenarios, scenario{name: "large-group", backends: []string{"sqlite", "postgres"}, run: largeGroup})
}

// largeGroup sends one admin action of 5,000 role changes to a receiver that refuses bodies
// over 200 KiB with 413: it gets them as several POSTs of at most 100 alerts, split further
// where it refused, every change once, nothing dead-lettered.
func largeGroup(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	h, recv, stop, err := s.startAlerting(backend, "HOOKD_GROUP_WINDOW=1s")
	if err != nil {
		return r.fail(err)
	}
	defer stop()
	recv.mu.Lock()
	recv.maxBody = 200 << 10
	recv.mu.Unlock()
	const events = 5000
	now := time.Now()
	batch := make([][]byte, events)
	ids := map[string]time.Time{}
	for i := range batch {
		id := oktagen.UUID()
		ids[id] = now
		batch[i] = oktagen.Event{UUID: id, TransactionID: "one-admin-action"}.JSON(now)
	}
	body := oktagen.Delivery(batch...)
	status, took := h.post(&http.Client{Timeout: 30 * time.Second}, body)
	if status != http.StatusOK {
		r.check(false, "the delivery was answered %d", status)
		return r
	}
	drained := drain(ids, recv, 3*time.Minute)
	t := tallyOf(ids, recv)
	dead, err := h.count(`SELECT count(*) FROM hookd_delivery WHERE state = 'dead'`)
	if err != nil {
		return r.fail(err)
	}
	recv.mu.Lock()
	posts, refused, largest := recv.posts, recv.refused, recv.largest
	recv.mu.Unlock()
	r.figure("one admin action of %d events (%.1f MiB) accepted in %s", events, float64(len(body))/(1<<20), took.Round(time.Millisecond))
	r.figure("%d POSTs taken (at most %d alerts each), %d refused with 413 and split; alerted %d, lost %d, duplicated %d, dead letters %d",
		posts, largest, refused, t.alerted, t.lost, t.duplicated, dead)
	r.check(drained && t.lost == 0 && t.duplicated == 0, "lost %d, duplicated %d", t.lost, t.duplicated)
	r.check(largest <= 100, "a POST carried %d alerts", largest)
	r.check(posts > 1 && refused > 0 && dead == 0, "posts %d, refused %d, dead letters %d", posts, refused, dead)
	return r
}
