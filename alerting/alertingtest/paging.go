package alertingtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/alerting"
)

// PagerDuty is a fake Events API v2: it checks each trigger's required fields and limits as
// PagerDuty does (400 otherwise, and for a body that is not UTF-8), answers 202, and keeps one
// incident per dedup_key.
type PagerDuty struct {
	*httptest.Server
	// RoutingKey is the accepted integration key.
	RoutingKey string
	// SlowFirst delays the answer to the first request (after it was taken), as a slow
	// PagerDuty would, so that the caller times out.
	SlowFirst time.Duration

	mu        sync.Mutex
	requests  int
	incidents map[string]alerting.PagerDutyEvent
	problems  []string
}

// NewPagerDuty starts the fake; it stops with the test.
func NewPagerDuty(t interface{ Cleanup(func()) }, routingKey string) *PagerDuty {
	p := &PagerDuty{RoutingKey: routingKey, incidents: map[string]alerting.PagerDutyEvent{}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

func (p *PagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var ev alerting.PagerDutyEvent
	problem := ""
	switch {
	case r.URL.Path != "/v2/enqueue":
		problem = "path must be /v2/enqueue"
	case !utf8.Valid(body) || json.Unmarshal(body, &ev) != nil:
		problem = "invalid JSON"
	case ev.RoutingKey != p.RoutingKey:
		problem = "invalid routing_key"
	case ev.EventAction != "trigger":
		problem = "event_action must be trigger"
	case ev.DedupKey == "" || len(ev.DedupKey) > 255:
		problem = "dedup_key must be 1 to 255 characters"
	case ev.Payload.Summary == "" || utf8.RuneCountInString(ev.Payload.Summary) > 1024:
		problem = "payload.summary must be 1 to 1024 characters"
	case ev.Payload.Source == "":
		problem = "payload.source is required"
	case !strings.Contains(" critical error warning info ", " "+ev.Payload.Severity+" "):
		problem = "payload.severity must be critical, error, warning or info"
	}
	if problem == "" && ev.Payload.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339, ev.Payload.Timestamp); err != nil {
			problem = "payload.timestamp must be ISO 8601"
		}
	}
	p.mu.Lock()
	p.requests++
	first := p.requests == 1
	if problem != "" {
		p.problems = append(p.problems, problem)
	} else if _, open := p.incidents[ev.DedupKey]; !open {
		p.incidents[ev.DedupKey] = ev
	}
	p.mu.Unlock()
	if first && p.SlowFirst > 0 {
		time.Sleep(p.SlowFirst)
	}
	w.Header().Set("Content-Type", "application/json")
	if problem != "" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{problem}})
		return
	}
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

// Incidents returns the open incidents by dedup_key.
func (p *PagerDuty) Incidents() map[string]alerting.PagerDutyEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]alerting.PagerDutyEvent, len(p.incidents))
	for k, v := range p.incidents {
		out[k] = v
	}
	return out
}

// Requests counts the requests, valid or not; Problems lists why invalid ones were refused.
func (p *PagerDuty) Requests() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, append([]string(nil), p.problems...)
}

// Teams is a fake Teams Workflows webhook: it checks the message and its Adaptive Card as
// Teams does (UTF-8 JSON; the attachment's content type, the card's type, schema, version and
// body; the size limit) and keeps the cards it took.
type Teams struct {
	*httptest.Server

	mu       sync.Mutex
	cards    []alerting.AdaptiveCard
	problems []string
}

// TeamsMaxBytes is the message size Teams is reported to refuse above.
const TeamsMaxBytes = 28 << 10

// NewTeams starts the fake; its URL is the secret webhook URL. It stops with the test.
func NewTeams(t interface{ Cleanup(func()) }) *Teams {
	f := &Teams{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *Teams) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var msg alerting.TeamsMessage
	problem := ""
	switch {
	case len(body) > TeamsMaxBytes:
		problem = "message too large"
	case !utf8.Valid(body) || json.Unmarshal(body, &msg) != nil:
		problem = "invalid JSON"
	case msg.Type != "message" || len(msg.Attachments) != 1:
		problem = "want a message with one attachment"
	case msg.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive":
		problem = "attachment must be an Adaptive Card"
	}
	if problem == "" {
		c := msg.Attachments[0].Content
		switch {
		case c.Type != "AdaptiveCard" || c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json":
			problem = "content must be an AdaptiveCard with its $schema"
		case c.Version == "" || c.Version > "1.5":
			problem = "card version must be at most 1.5 (what Teams renders)"
		case len(c.Body) == 0:
			problem = "card body is empty"
		}
		for _, a := range c.Actions {
			if u, err := url.Parse(a.URL); a.Type != "Action.OpenUrl" || a.Title == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") {
				problem = "an action must be an Action.OpenUrl with a title and an http(s) url"
			}
		}
		for _, e := range c.Body {
			if e.Type != "TextBlock" && e.Type != "FactSet" {
				problem = "unexpected element " + e.Type
			}
			if e.Type == "TextBlock" && e.Text == "" {
				problem = "TextBlock without text"
			}
			for _, fact := range e.Facts {
				if fact.Title == "" || fact.Value == "" {
					problem = "fact without title or value"
				}
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if problem != "" {
		f.problems = append(f.problems, problem)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(problem))
		return
	}
	f.cards = append(f.cards, msg.Attachments[0].Content)
	w.WriteHeader(http.StatusAccepted)
}

// Cards returns the cards taken; Problems, why others were refused.
func (f *Teams) Cards() ([]alerting.AdaptiveCard, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]alerting.AdaptiveCard(nil), f.cards...), append([]string(nil), f.problems...)
}

// CardText joins every text of a card, for searching it.
func CardText(c alerting.AdaptiveCard) string {
	var parts []string
	for _, e := range c.Body {
		parts = append(parts, e.Text)
		for _, f := range e.Facts {
			parts = append(parts, f.Title, f.Value)
		}
	}
	return strings.Join(parts, "\n")
}
