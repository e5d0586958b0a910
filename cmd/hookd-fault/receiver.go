package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"
)

// webhookSecret is the fake receiver's signing secret as hookd is configured with it.
const webhookSecret = "whsec_ZmF1bHQtc3VpdGUtd2ViaG9vay1rZXk="

// receiver is a webhook sink for hookd, as strict as a receiver may be (a body that is not
// valid UTF-8 JSON is refused): it counts each alerted event uuid and each webhook-id, and
// can be told to fail or to be slow.
type receiver struct {
	srv *http.Server
	url string

	mu        sync.Mutex
	status    int
	delay     time.Duration
	maxBody   int // above it, 413
	refused   int
	largest   int // most alerts in one accepted post
	byEvent   map[string]int
	byID      map[string]int
	flagged   map[string]string // uuid -> storageProblem
	firstSeen map[string]time.Time
	posts     int
	inFlight  int
	// invalid counts bodies a strict receiver refuses: not valid UTF-8, or not JSON.
	invalid int
}

func newReceiver() *receiver {
	r := &receiver{status: http.StatusOK, byEvent: map[string]int{}, byID: map[string]int{}, flagged: map[string]string{}, firstSeen: map[string]time.Time{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	r.url = "http://" + l.Addr().String() + "/hook"
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r
}

func (r *receiver) close() { _ = r.srv.Close() }

// env configures hookd to post to the receiver.
func (r *receiver) env() []string {
	return []string{"HOOKD_WEBHOOK_URL=" + r.url, "HOOKD_WEBHOOK_SECRET=" + webhookSecret}
}

// set changes how the receiver answers from now on.
func (r *receiver) set(status int, delay time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.delay = status, delay
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	status, delay := r.status, r.delay
	r.inFlight++
	r.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	if r.maxBody > 0 && len(body) > r.maxBody {
		r.refused++
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	r.posts++
	if status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	var doc struct {
		Alerts []struct {
			EventID        string `json:"eventId"`
			StorageProblem string `json:"storageProblem"`
		} `json:"alerts"`
	}
	if !utf8.Valid(body) || json.Unmarshal(body, &doc) != nil {
		r.invalid++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.byID[req.Header.Get("webhook-id")]++
	r.largest = max(r.largest, len(doc.Alerts))
	for _, a := range doc.Alerts {
		r.byEvent[a.EventID]++
		if _, ok := r.firstSeen[a.EventID]; !ok {
			r.firstSeen[a.EventID] = time.Now()
		}
		if a.StorageProblem != "" {
			r.flagged[a.EventID] = a.StorageProblem
		}
	}
	w.WriteHeader(http.StatusOK)
}

// alerted returns how many times each event uuid was alerted.
func (r *receiver) alerted() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byEvent))
	for k, v := range r.byEvent {
		out[k] = v
	}
	return out
}

// first returns when each event uuid was first alerted.
func (r *receiver) first(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.firstSeen[id]
	return t, ok
}

// stats returns posts answered and posts being answered now.
func (r *receiver) stats() (posts, inFlight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts, r.inFlight
}

// isFlagged reports whether an alert for id carried a storage problem.
func (r *receiver) isFlagged(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.flagged[id]
	return ok
}

// invalidBodies returns how many bodies were not valid UTF-8 JSON.
func (r *receiver) invalidBodies() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.invalid
}
