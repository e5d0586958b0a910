package alerting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/hookd/hookd/internal/outbound"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/clip"
)

// PagerDutyURL is the Events API v2 endpoint (EU service regions use
// https://events.eu.pagerduty.com/v2/enqueue).
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutySink triggers a PagerDuty incident per alert through the Events API v2. Its
// dedup_key is derived from the alert, so a retry or a redelivery never opens a second
// incident.
type PagerDutySink struct {
	poster
	routingKey string
}

// PagerDutyEvent is the body of an Events API v2 trigger.
type PagerDutyEvent struct {
	RoutingKey  string           `json:"routing_key"`
	EventAction string           `json:"event_action"`
	DedupKey    string           `json:"dedup_key"`
	Payload     PagerDutyPayload `json:"payload"`
	Links       []PagerDutyLink  `json:"links,omitempty"`
}

// PagerDutyLink is a link the incident shows.
type PagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// PagerDutyPayload is what the incident shows.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// pagerDutySeverity maps hookd's severities onto PagerDuty's.
var pagerDutySeverity = map[Severity]string{Critical: "critical", High: "error", Medium: "warning", Low: "info"}

// NewPagerDutySink returns a sink triggering incidents with routingKey (a secret), posting to
// url (default PagerDutyURL).
func NewPagerDutySink(name, routingKey, url string) (*PagerDutySink, error) {
	var problems []error
	if url == "" {
		url = PagerDutyURL
	} else if err := outbound.CheckURL(url, true); err != nil {
		problems = append(problems, err)
	}
	if strings.TrimSpace(routingKey) == "" {
		problems = append(problems, errors.New("routing_key is required (the integration key of a PagerDuty service's Events API v2 integration)"))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return &PagerDutySink{poster: newPoster("pagerduty "+name, url, 0, 0, routingKey), routingKey: routingKey}, nil
}

// PagerDutyDedupKey is the incident key of an alert to a sink: the same on every retry.
func PagerDutyDedupKey(sink string, a *Alert) string {
	sum := sha256.Sum256([]byte("pagerduty\x00" + sink + "\x00" + a.ID()))
	return "hookd-" + hex.EncodeToString(sum[:16])
}

// RenderPagerDuty is the trigger an alert sends (without the routing key).
func RenderPagerDuty(sink string, a *Alert) PagerDutyEvent {
	first := a.First()
	facts := alertFacts(a, plainMarkup)
	// "who changed which role for whom": the summary PagerDuty shows and pages with.
	summary := summaryOf(a, facts)
	details := map[string]any{"event_uuid": first.EventID, "changes": a.Changes}
	for _, f := range facts {
		details[f.Label] = f.Value
	}
	if why := whyText(a, plainMarkup); why != "" {
		details["Why this matters"] = why
	}
	sev := pagerDutySeverity[a.Severity]
	if sev == "" {
		sev = "error"
	}
	var links []PagerDutyLink
	for _, l := range a.Links {
		links = append(links, PagerDutyLink{Href: l.Href, Text: neutralBidi(clip.Runes(l.Title, 200))})
	}
	return PagerDutyEvent{
		Links:       links,
		EventAction: "trigger",
		DedupKey:    PagerDutyDedupKey(sink, a),
		Payload: PagerDutyPayload{
			Summary:       clip.Runes(summary, 1024),
			Source:        clip.Runes(firstOf(first.Org, "okta"), 255),
			Severity:      sev,
			Timestamp:     first.Published.UTC().Format(time.RFC3339),
			Component:     "okta",
			Group:         string(first.Category),
			Class:         first.EventType,
			CustomDetails: details,
		},
	}
}

// Deliver triggers the incident.
func (s *PagerDutySink) Deliver(ctx context.Context, a *Alert) error {
	ev := RenderPagerDuty(s.name, a)
	ev.RoutingKey = s.routingKey
	body, err := encodeJSON(ev)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode: %w", s.name, err))
	}
	return s.post(ctx, body, nil)
}

// plainMarkup shows Okta strings as plain text, for formats with no markup of their own.
var plainMarkup = markup{
	text:   neutralBidi,
	code:   neutralBidi,
	failed: "FAILED: ",
	proxy:  "(through a proxy or anonymizer)",
}

// neutralBidi shows bidirectional-text controls as U+FFFD, so that a display name cannot
// reverse the text around it to pass for another.
func neutralBidi(s string) string {
	if !strings.ContainsAny(s, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") {
		return s
	}
	return bidiReplacer.Replace(s)
}

var bidiReplacer = strings.NewReplacer("\u200e", "\ufffd", "\u200f", "\ufffd", "\u202a", "\ufffd", "\u202b", "\ufffd",
	"\u202c", "\ufffd", "\u202d", "\ufffd", "\u202e", "\ufffd", "\u2066", "\ufffd", "\u2067", "\ufffd", "\u2068", "\ufffd", "\u2069", "\ufffd")
