package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/oktagen"
)

// load sends deliveries of watched events with fresh uuids and remembers which uuids hookd
// acknowledged (200) and how every request was answered.
type load struct {
	addr, secret string
	client       *http.Client

	mu       sync.Mutex
	acked    map[string]time.Time // uuid -> when its delivery was acknowledged
	statuses map[string]map[int]int
	latency  []time.Duration
}

func newLoad(h *hookd) *load {
	return &load{addr: h.addr, secret: h.secret,
		client:   &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		acked:    map[string]time.Time{},
		statuses: map[string]map[int]int{}}
}

// sender is one kind of client: how many of them, how many events a delivery, how long each
// waits between deliveries (0: as soon as the last was answered), and the events' display name.
type sender struct {
	name        string
	clients     int
	events      int
	every       time.Duration
	displayName string
}

// background sends for d, or until ctx ends, without waiting; wait returns once the last
// request was answered.
func (l *load) background(ctx context.Context, d time.Duration, senders ...sender) (wait func()) {
	ctx, cancel := context.WithTimeout(ctx, d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		l.run(ctx, senders...)
	}()
	return func() { <-done }
}

// run sends until ctx ends.
func (l *load) run(ctx context.Context, senders ...sender) {
	var wg sync.WaitGroup
	for _, s := range senders {
		for range s.clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					l.send(s)
					if s.every > 0 {
						select {
						case <-ctx.Done():
						case <-time.After(s.every):
						}
					}
				}
			}()
		}
	}
	wg.Wait()
}

func (l *load) send(s sender) {
	ids := make([]string, s.events)
	events := make([][]byte, s.events)
	now := time.Now()
	for i := range ids {
		ids[i] = oktagen.UUID()
		events[i] = oktagen.Event{UUID: ids[i], DisplayName: s.displayName}.JSON(now)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+l.addr+"/okta/events", bytes.NewReader(oktagen.Delivery(events...)))
	req.Header.Set("Authorization", l.secret)
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	status := 0
	if resp, err := l.client.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	took := time.Since(began)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.statuses[s.name] == nil {
		l.statuses[s.name] = map[int]int{}
	}
	l.statuses[s.name][status]++
	if status == http.StatusOK {
		l.latency = append(l.latency, took)
		for _, id := range ids {
			l.acked[id] = time.Now()
		}
	}
}

// ackedIDs returns the acknowledged uuids.
func (l *load) ackedIDs() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]time.Time, len(l.acked))
	for k, v := range l.acked {
		out[k] = v
	}
	return out
}

// statusesOf returns how a sender's requests were answered (0: no answer).
func (l *load) statusesOf(name string) map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]int{}
	for k, v := range l.statuses[name] {
		out[k] = v
	}
	return out
}

// tally compares what was acknowledged with what the receiver got.
type tally struct {
	acked, alerted, lost, duplicated, flagged int
}

func tallyOf(acked map[string]time.Time, r *receiver) tally {
	alerts := r.alerted()
	t := tally{acked: len(acked)}
	for id, n := range alerts {
		t.alerted++
		t.duplicated += n - 1
		if r.isFlagged(id) {
			t.flagged++
		}
	}
	for id := range acked {
		if alerts[id] == 0 {
			t.lost++
		}
	}
	return t
}

// drain waits until every acknowledged uuid was alerted, or limit passes.
func drain(acked map[string]time.Time, r *receiver, limit time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return waitFor(ctx, func() bool {
		alerts := r.alerted()
		for id := range acked {
			if alerts[id] == 0 {
				return false
			}
		}
		return true
	})
}
