package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/clip"
)

// SlackButton is a Block Kit button: a decision (ActionID and Value) or a link (URL).
type SlackButton struct {
	Type     string    `json:"type"`
	Text     SlackText `json:"text"`
	ActionID string    `json:"action_id"`
	Value    string    `json:"value,omitempty"`
	URL      string    `json:"url,omitempty"`
	Style    string    `json:"style,omitempty"`
}

// slackBlockJSON is SlackBlock on the wire: an actions block's elements are buttons, a
// context block's are text objects.
type slackBlockJSON struct {
	Type     string          `json:"type"`
	BlockID  string          `json:"block_id,omitempty"`
	Text     *SlackText      `json:"text,omitempty"`
	Fields   []SlackText     `json:"fields,omitempty"`
	Elements json.RawMessage `json:"elements,omitempty"`
}

// MarshalJSON writes the block as Block Kit has it.
func (b SlackBlock) MarshalJSON() ([]byte, error) {
	w := slackBlockJSON{Type: b.Type, BlockID: b.BlockID, Text: b.Text, Fields: b.Fields}
	var err error
	switch {
	case len(b.Buttons) > 0:
		w.Elements, err = json.Marshal(b.Buttons)
	case len(b.Elements) > 0:
		w.Elements, err = json.Marshal(b.Elements)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads a block as MarshalJSON writes it.
func (b *SlackBlock) UnmarshalJSON(data []byte) error {
	var w slackBlockJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = SlackBlock{Type: w.Type, BlockID: w.BlockID, Text: w.Text, Fields: w.Fields}
	if len(w.Elements) == 0 {
		return nil
	}
	if w.Type == "actions" {
		return json.Unmarshal(w.Elements, &b.Buttons)
	}
	return json.Unmarshal(w.Elements, &b.Elements)
}

// The action ids of the decision buttons, and the decision each records.
var slackDecisionActions = []struct{ id, label, style, decision string }{
	{"hookd_acknowledge", "Acknowledge", "primary", hookd.Acknowledged},
	{"hookd_expected", "Expected change", "", hookd.ExpectedChange},
	{"hookd_suspicious", "Suspicious", "danger", hookd.Suspicious},
}

// SlackDecisionOf is the decision a button's action id records, or "" for none of hookd's.
func SlackDecisionOf(actionID string) string {
	for _, a := range slackDecisionActions {
		if a.id == actionID {
			return a.decision
		}
	}
	return ""
}

// decisionBlockID names the buttons' block, so that a replacement can leave it out.
const decisionBlockID = "hookd_decision"

// withDecisionButtons adds the decision buttons (each carrying the alert's event uuid), and a
// link button to the change in hookd's console, before the message's last block.
func withDecisionButtons(m SlackMessage, a *Alert) SlackMessage {
	var buttons []SlackButton
	for _, d := range slackDecisionActions {
		buttons = append(buttons, SlackButton{Type: "button", Text: SlackText{Type: "plain_text", Text: d.label},
			ActionID: d.id, Value: a.ID(), Style: d.style})
	}
	for _, l := range a.Links {
		if l.Rel == "console" {
			buttons = append(buttons, SlackButton{Type: "button", Text: SlackText{Type: "plain_text", Text: "Open in hookd"},
				ActionID: "hookd_open", URL: l.Href})
		}
	}
	actions := SlackBlock{Type: "actions", BlockID: decisionBlockID, Buttons: buttons}
	last := len(m.Blocks) - 1
	m.Blocks = append(m.Blocks[:last:last], actions, m.Blocks[last])
	return m
}

// decisionText says who decided what, and when, in mrkdwn.
func decisionText(d *hookd.Decision) string {
	what := map[string]string{hookd.Acknowledged: ":eyes: Acknowledged", hookd.ExpectedChange: ":white_check_mark: Marked as an expected change",
		hookd.Suspicious: ":rotating_light: Marked as suspicious"}[d.Decision]
	if what == "" {
		what = "Decided: " + escape(d.Decision)
	}
	who := escape(clip.Runes(firstOf(d.ByName, d.ByID, "(unknown)"), 100))
	if d.ByID != "" && d.ByName != "" {
		who += " (`" + escape(clip.Runes(d.ByID, 40)) + "`)"
	}
	return what + " by " + who + " at " + d.At.UTC().Format("2006-01-02 15:04:05 UTC")
}

// RenderSlackDecided is the message that replaces an alert once a responder decided on its
// change: the alert as it was, without the buttons, and who decided what.
func RenderSlackDecided(a *Alert, d *hookd.Decision) SlackMessage {
	m := RenderSlack(a)
	last := len(m.Blocks) - 1
	m.Blocks = append(m.Blocks[:last:last], section(decisionText(d)), m.Blocks[last])
	m.ReplaceOriginal = true
	return m
}

// ErrForeignResponseURL is returned for a response_url that is not Slack's (nor the sink's
// own host): hookd posts nowhere a request names unless it is where the sink posts.
var ErrForeignResponseURL = errors.New("response_url is not Slack's")

// Respond replaces the message a click came from, through the response_url of the click,
// with the alert of changes as decided. The URL must be Slack's (https://hooks.slack.com),
// or on the host the sink posts its alerts to.
func (r *Router) Respond(ctx context.Context, sink, responseURL string, changes []*hookd.RoleChange, d *hookd.Decision) error {
	s, ok := r.sinks[sink].(*SlackSink)
	if !ok {
		return Permanent(fmt.Errorf("%w: %q is not a Slack sink", ErrUnknownSink, sink))
	}
	u, err := url.Parse(responseURL)
	if err != nil {
		return ErrForeignResponseURL
	}
	own, _ := url.Parse(s.url)
	slack := u.Scheme == "https" && u.Host == "hooks.slack.com"
	if !slack && (own == nil || u.Scheme != own.Scheme || u.Host != own.Host) {
		return ErrForeignResponseURL
	}
	a := &Alert{Changes: changes, Severity: r.routes.SeverityOf(changes...)}
	a.Links = r.links.For(a)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.postTo(ctx, responseURL, RenderSlackDecided(a, d))
}

// SlackSigningSecrets are the signing secrets of the Slack sinks that have one, by sink.
func (r *Router) SlackSigningSecrets() map[string]string {
	out := map[string]string{}
	for name, s := range r.sinks {
		if s, ok := s.(*SlackSink); ok && s.signingSecret != "" {
			out[name] = s.signingSecret
		}
	}
	return out
}

// forText says a number of seconds the way a person would: "45 seconds", "10 minutes",
// "2 hours".
func forText(secs int) string {
	d := time.Duration(secs) * time.Second
	unit, n := "second", secs
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		unit, n = "hour", int(d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		unit, n = "minute", int(d/time.Minute)
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}

// escalatedPrefix heads an escalation's title.
func escalatedPrefix(rc *hookd.RoleChange) string {
	if rc.EscalatedAfter <= 0 {
		return ""
	}
	return "Not acknowledged for " + forText(rc.EscalatedAfter) + ": "
}

// decidedNote is a line for a later alert of a change already decided on, or "".
func decidedNote(rc *hookd.RoleChange) string {
	if rc.Decision == nil {
		return ""
	}
	return strings.TrimSpace(decisionText(rc.Decision))
}
