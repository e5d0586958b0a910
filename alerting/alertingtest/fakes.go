// Package alertingtest has fake Slack and webhook receivers for tests: httptest servers on
// 127.0.0.1 that check what hookd sends the way the real ones would, and record it.
package alertingtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/hookd/hookd/alerting"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// SlackMessage is what the fake Slack received, decoded: the sink's own message type.
type SlackMessage = alerting.SlackMessage

// ResponseURL is a click's response_url on the fake: what is posted there is kept as
// Messages("responses").
func (s *Slack) ResponseURL(token string) string {
	return s.Server.URL + "/actions/T0000/1234/" + token
}

// Slack is a fake Slack incoming webhook. Paths under /services/ok/ accept messages;
// /services/gone/ answers 404 channel_not_found; /services/limited/ answers 429 with
// Retry-After the first RateLimited times. A message that breaks Slack's limits gets 400
// invalid_blocks, as Slack would answer; one that is not UTF-8 gets 400 invalid_payload.
type Slack struct {
	*httptest.Server
	RateLimited int
	RetryAfter  string

	mu       sync.Mutex
	messages map[string][]SlackMessage
	hits     map[string]int
	problems []string
}

// NewSlack starts a fake Slack; it stops with the test.
func NewSlack(t interface{ Cleanup(func()) }) *Slack {
	s := &Slack{RetryAfter: "1", hits: map[string]int{}, messages: map[string][]SlackMessage{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL returns a webhook URL of the given kind: "ok", "gone" or "limited".
func (s *Slack) URL(kind string) string {
	return s.Server.URL + "/services/" + kind + "/T0000/B0000/secretToken" + kind
}

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	kind := strings.Split(strings.TrimPrefix(r.URL.Path, "/services/"), "/")[0]
	if strings.HasPrefix(r.URL.Path, "/actions/") {
		kind = "responses" // a click's response_url
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[kind]++
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || !utf8.Valid(body):
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	case kind == "gone":
		http.Error(w, "channel_not_found", http.StatusNotFound)
		return
	case kind == "limited" && s.hits[kind] <= s.RateLimited:
		w.Header().Set("Retry-After", s.RetryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"ok":false,"error":"rate_limited"}`)
		return
	}
	var m SlackMessage
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if problem := checkLimits(m); problem != "" {
		s.problems = append(s.problems, problem)
		http.Error(w, "invalid_blocks: "+problem, http.StatusBadRequest)
		return
	}
	s.messages[kind] = append(s.messages[kind], m)
	_, _ = io.WriteString(w, "ok")
}

func checkLimits(m SlackMessage) string {
	runes := utf8.RuneCountInString
	switch {
	case strings.TrimSpace(m.Text) == "":
		return "no fallback text"
	case runes(m.Text) > 40000:
		return "text over 40000"
	case len(m.Blocks) > 50:
		return "over 50 blocks"
	}
	for _, b := range m.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || runes(b.Text.Text) > 150 {
				return "bad header"
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				return "empty section"
			}
			if b.Text != nil && runes(b.Text.Text) > 3000 {
				return "section text over 3000"
			}
			if len(b.Fields) > 10 {
				return "over 10 fields"
			}
			for _, f := range b.Fields {
				if runes(f.Text) > 2000 {
					return "field over 2000"
				}
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				return "bad context"
			}
		case "actions":
			if len(b.Buttons) == 0 || len(b.Buttons) > 25 {
				return "bad actions"
			}
			for _, e := range b.Buttons {
				if e.Type != "button" || e.Text.Type != "plain_text" || runes(e.Text.Text) > 75 || e.ActionID == "" ||
					len(e.ActionID) > 255 || len(e.Value) > 2000 || len(e.URL) > 3000 || (e.Value == "") == (e.URL == "") {
					return "bad button"
				}
			}
		default:
			return "unknown block " + b.Type
		}
	}
	return ""
}

// Messages returns the messages accepted so far at a kind of URL ("ok" or "limited").
func (s *Slack) Messages(kind string) []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SlackMessage(nil), s.messages[kind]...)
}

// Hits counts requests to a kind of URL, answered or not.
func (s *Slack) Hits(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[kind]
}

// Problems lists the limit violations seen.
func (s *Slack) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

// Delivery is one request the fake webhook receiver verified.
type Delivery struct {
	ID        string
	Timestamp time.Time
	Header    http.Header
	Body      []byte
}

// Receiver is a fake webhook receiver that verifies the Standard Webhooks signature with its
// own implementation of the scheme, refuses a body that is not valid UTF-8 JSON as a strict
// receiver would, and answers 503 the first Fail times.
type Receiver struct {
	*httptest.Server
	Fail int

	key      []byte
	gone     bool
	mu       sync.Mutex
	got      []Delivery
	rejected []string
	calls    int
}

// NewReceiver starts a receiver that verifies with secret ("whsec_..."); it stops with the test.
func NewReceiver(t interface{ Cleanup(func()) }, secret string) *Receiver {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	r := &Receiver{key: key}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.gone {
		http.Error(w, "this endpoint is gone", http.StatusGone)
		return
	}
	if r.calls <= r.Fail {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	id, ts, sigs := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		r.reject(w, "missing webhook-id or webhook-timestamp")
		return
	}
	sent := time.Unix(secs, 0)
	if d := time.Since(sent); d > 5*time.Minute || d < -5*time.Minute {
		r.reject(w, "timestamp outside tolerance")
		return
	}
	mac := hmac.New(sha256.New, r.key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	valid := false
	for _, s := range strings.Fields(sigs) { // several signatures may be sent, space separated
		version, b64, ok := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && version == "v1" && err == nil && hmac.Equal(got, want) {
			valid = true
		}
	}
	if !valid {
		r.reject(w, "bad signature")
		return
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		r.rejected = append(r.rejected, "not UTF-8 JSON")
		http.Error(w, "not UTF-8 JSON", http.StatusBadRequest)
		return
	}
	r.got = append(r.got, Delivery{ID: id, Timestamp: sent, Header: req.Header.Clone(), Body: body})
	w.WriteHeader(http.StatusNoContent)
}

func (r *Receiver) reject(w http.ResponseWriter, why string) {
	r.rejected = append(r.rejected, why)
	http.Error(w, why, http.StatusUnauthorized)
}

// SetGone makes the receiver answer 410 Gone (a permanent failure) until set back.
func (r *Receiver) SetGone(gone bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gone = gone
}

// Deliveries returns the verified deliveries so far.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Rejected lists why requests failed verification.
func (r *Receiver) Rejected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.rejected...)
}
