package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/internal/oktagen"
)

func init() {
	// SQLite only: the store's tests fold floods on both stores, and a run takes a minute.
	scenarios = append(scenarios, scenario{name: "flood", backends: []string{"sqlite"}, run: floodOfHighAlerts})
}

// slackReceiver is a Slack incoming webhook for hookd: it keeps, for each event uuid named in
// a message, when it first came and how often, and adds up what summaries stood for.
type slackReceiver struct {
	srv *http.Server
	url string

	mu        sync.Mutex
	first     map[string]time.Time
	seen      map[string]int
	summaries []int
}

var (
	uuidPattern    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	summaryPattern = regexp.MustCompile(`^(\d+) more role changes$`)
)

func newSlackReceiver() *slackReceiver {
	r := &slackReceiver{first: map[string]time.Time{}, seen: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	r.url = "http://" + l.Addr().String() + "/services/T0/B0/FAULTSUITE"
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r
}

func (r *slackReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var msg alerting.SlackMessage
	if json.Unmarshal(body, &msg) != nil || len(msg.Blocks) == 0 || msg.Blocks[0].Text == nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := summaryPattern.FindStringSubmatch(msg.Blocks[0].Text.Text); m != nil {
		n, _ := strconv.Atoi(m[1])
		r.summaries = append(r.summaries, n)
	} else {
		for _, id := range uniq(uuidPattern.FindAllString(msg.AllText(), -1)) {
			if _, ok := r.first[id]; !ok {
				r.first[id] = time.Now()
			}
			r.seen[id]++
		}
	}
	_, _ = w.Write([]byte("ok"))
}

// accounted is how many events reached Slack one by one, and in summaries.
func (r *slackReceiver) accounted() (alone, summarised, twice int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		if n > 1 {
			twice++
		}
	}
	for _, n := range r.summaries {
		summarised += n
	}
	return len(r.seen), summarised, twice
}

func (r *slackReceiver) arrived(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.first[id]
	return t, ok
}

func uniq(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// floodOfHighAlerts queues 1,000 high alerts for a Slack sink that hookd paces at one a
// second, and a webhook, then sends a critical grant: the critical grant reaches Slack
// within 15 s, the webhook takes the whole flood at once, and within 2 minutes every event
// of it has reached Slack, one by one or counted in a summary.
func floodOfHighAlerts(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	slack := newSlackReceiver()
	defer func() { _ = slack.srv.Close() }()
	h, recv, stop, err := s.startAlerting(backend, "HOOKD_SLACK_WEBHOOK_URL="+slack.url, "HOOKD_GROUP_WINDOW=0s")
	if err != nil {
		return r.fail(err)
	}
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second}
	began := time.Now()
	ids := map[string]time.Time{}
	for range 100 {
		events := make([][]byte, 10)
		for i := range events {
			id := oktagen.UUID()
			events[i] = oktagen.Event{UUID: id}.JSON(time.Now())
			ids[id] = time.Time{}
		}
		if status, _ := h.post(client, oktagen.Delivery(events...)); status != http.StatusOK {
			r.check(false, "a delivery of the flood was answered %d", status)
			return r
		}
	}
	queued := time.Since(began)
	critical := oktagen.UUID()
	ids[critical] = time.Time{}
	sent := time.Now()
	if status, _ := h.post(client, oktagen.Delivery(oktagen.Event{UUID: critical, Role: "Workflows Administrator"}.JSON(time.Now()))); status != http.StatusOK {
		r.check(false, "the critical grant was answered %d", status)
		return r
	}
	wait, cancel := context.WithTimeout(ctx, 2*time.Minute-time.Since(began))
	defer cancel()
	var criticalAt, webhookAt, slackAt time.Duration
	waitFor(wait, func() bool {
		if t, ok := slack.arrived(critical); ok && criticalAt == 0 {
			criticalAt = t.Sub(sent)
		}
		if webhookAt == 0 && len(recv.alerted()) >= len(ids) {
			webhookAt = time.Since(began)
		}
		alone, summarised, _ := slack.accounted()
		if slackAt == 0 && alone+summarised >= len(ids) {
			slackAt = time.Since(began)
		}
		return criticalAt > 0 && webhookAt > 0 && slackAt > 0
	})
	alone, summarised, twice := slack.accounted()
	t := tallyOf(ids, recv)
	r.figure("1,000 high alerts queued in %s; then one critical grant", queued.Round(time.Millisecond))
	r.figure("critical grant reached Slack %s after it was sent", criticalAt.Round(time.Millisecond))
	r.figure("webhook had the whole flood %s after it began (alerted %d, duplicated %d)", webhookAt.Round(time.Millisecond), t.alerted, t.duplicated)
	r.figure("Slack: %d one by one, %d in %d summaries, all %s after the flood began", alone, summarised, len(slack.summaries), slackAt.Round(time.Millisecond))
	r.check(criticalAt > 0 && criticalAt <= 15*time.Second, "the critical grant reached Slack after %s (0: never)", criticalAt)
	r.check(webhookAt > 0 && t.lost == 0 && t.duplicated == 0, "the webhook lost %d and duplicated %d", t.lost, t.duplicated)
	r.check(slackAt > 0, "Slack had %d one by one and %d in summaries of %d after 2 minutes", alone, summarised, len(ids))
	r.check(twice == 0 && alone+summarised == len(ids), "Slack: %d twice, %d accounted for of %d", twice, alone+summarised, len(ids))
	return r
}
