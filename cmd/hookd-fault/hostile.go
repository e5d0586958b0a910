package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/oktagen"
)

func init() {
	scenarios = append(scenarios, scenario{name: "hostile", backends: []string{"sqlite", "postgres"}, run: hostileCorpus})
}

// hostileCorpus sends bodies at the default limit that stress memory (many events, millions
// of empty objects, deep nesting, huge strings), twice one at a time and then four at once,
// and reads hookd's memory before, at peak and after.
func hostileCorpus(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	h, err := s.start(backend)
	if err != nil {
		return r.fail(err)
	}
	defer h.stop()
	client := &http.Client{Timeout: 30 * time.Second}
	// Warm up, so that "before" is a server that has done work, not a bare process.
	h.post(client, oktagen.Watched(10))
	time.Sleep(500 * time.Millisecond)
	before, _ := h.rss()
	r.figure("RSS before: %s (%s)", mb(before), h.memoryDetail())

	corpus := oktagen.HostileCorpus(9 << 20)
	// The 3 million {} body alone first: its own cost in memory, time and log lines.
	for _, body := range corpus {
		if body.Name != "millions-of-empty-objects" {
			continue
		}
		_, peakBefore := h.rss()
		from := time.Now()
		status, took := h.post(client, body.Body)
		_, peakAfter := h.rss()
		lines := h.logs.count(from, time.Now().Add(100*time.Millisecond))
		extra := peakAfter - max(before, peakBefore)
		r.figure("3 million {} alone: %d in %s, %s of extra RSS, %d log lines", status, took.Round(time.Millisecond), mb(max(extra, 0)), lines)
		r.check(status == http.StatusRequestEntityTooLarge && took < time.Second, "3 million {}: %d in %s", status, took)
		r.check(extra < 64<<20, "3 million {} took %s of extra RSS", mb(extra))
		r.check(lines < 10, "3 million {} wrote %d log lines", lines)
	}
	began := time.Now()
	for round := 1; round <= 2; round++ {
		for _, body := range corpus {
			status, took := h.post(client, body.Body)
			r.figure("round %d %-26s %4.1f MiB -> %d in %s", round, body.Name, float64(len(body.Body))/(1<<20), status, took.Round(time.Millisecond))
			r.check(status != 0 && status < 500, "%s answered %d", body.Name, status)
			r.check(took < time.Second, "%s answered in %s, over 1 s", body.Name, took.Round(time.Millisecond))
			if body.Name == "millions-of-empty-objects" {
				r.check(status == http.StatusRequestEntityTooLarge || status == http.StatusBadRequest, "millions of {} answered %d, want 413 or 400", status)
			}
		}
	}
	// Four at-limit deliveries at once: memory stays bounded; the excess may be answered 503.
	statuses := atOnce(h, client, 4, corpus[0].Body)
	r.figure("four at-limit deliveries at once: statuses %v", statuses)
	r.check(statuses[0] == 0 && statuses[500] == 0, "four at once: statuses %v", statuses)
	// Each alert the corpus's events make leaves its one "alert delivered" line, which the
	// queue may write while the corpus is still being sent: those are counted apart, and
	// held to a line's length like every other.
	now, delivered := time.Now(), `"msg":"alert delivered"`
	logBytes := h.logs.bytes(began, now, delivered)
	alerts, longest := h.logs.count(began, now, delivered), h.logs.longest(began, now)
	r.figure("log written during the corpus: %d bytes, besides %d lines of alerts delivered; longest line %d bytes", logBytes, alerts, longest)
	r.check(logBytes < 64<<10, "the corpus wrote %d bytes of log", logBytes)
	r.check(longest < 1<<10, "the corpus wrote a line of %d bytes", longest)

	// "After" is once hookd has done what the corpus gave it: a delivery worker still reading
	// a 9 MiB event holds it, and on a slow machine the corpus's alerts outlast the settling
	// time. Then hookd has the settling time to give memory back.
	corpusEnd := time.Now()
	if err := h.waitDelivered(ctx, 3*time.Minute); err != nil {
		r.check(false, "the corpus's alerts: %v", err)
	}
	r.figure("the corpus's alerts delivered %s after it", time.Since(corpusEnd).Round(100*time.Millisecond))
	time.Sleep(pick(s, 5*time.Second, 10*time.Second))
	after, peak := h.rss()
	r.figure("RSS peak: %s, after: %s (%s)", mb(peak), mb(after), h.memoryDetail())
	if os.Getenv("HOOKD_FAULT_DEBUG") != "" {
		fmt.Println(h.logs.tail(8))
	}
	r.check(peak < 256<<20, "peak RSS %s, over 256 MB", mb(peak))
	r.check(after <= 2*before, "RSS after %s, over twice before (%s)", mb(after), mb(before))
	return r
}

// atOnce posts body n times at once and tallies the statuses.
func atOnce(h *hookd, client *http.Client, n int, body []byte) map[int]int {
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := h.post(client, body)
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return statuses
}
