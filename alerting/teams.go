package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/outbound"

	"github.com/hookd/hookd/internal/clip"
)

// TeamsSink posts each alert to a Microsoft Teams Workflows webhook ("When a Teams webhook
// request is received") as a message with one Adaptive Card. The old Microsoft 365
// connectors (webhook.office.com) are retired. Teams throttles above about 4 requests a
// second, so the sink paces itself below that.
type TeamsSink struct {
	poster
}

// teamsMaxBytes keeps a card under Teams' reported limit of about 28 KB a message.
const teamsMaxBytes = 26 << 10

// NewTeamsSink returns a sink for the Workflows webhook URL (a secret).
func NewTeamsSink(name, url string) (*TeamsSink, error) {
	if err := outbound.CheckURL(url, true); err != nil {
		return nil, err
	}
	return &TeamsSink{newPoster("teams "+name, url, 3, 4)}, nil
}

// TeamsMessage is the body a Teams Workflows webhook takes.
type TeamsMessage struct {
	Type        string            `json:"type"`
	Attachments []TeamsAttachment `json:"attachments"`
}

// TeamsAttachment holds the Adaptive Card.
type TeamsAttachment struct {
	ContentType string       `json:"contentType"`
	Content     AdaptiveCard `json:"content"`
}

// AdaptiveCard is the card: its schema, version and body elements.
type AdaptiveCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []CardElement  `json:"body"`
	Actions []CardAction   `json:"actions,omitempty"`
	MSTeams map[string]any `json:"msteams,omitempty"`
}

// CardAction is a button of the card: an Action.OpenUrl to one of the alert's links.
type CardAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// CardElement is a TextBlock or a FactSet.
type CardElement struct {
	Type     string     `json:"type"`
	Text     string     `json:"text,omitempty"`
	Weight   string     `json:"weight,omitempty"`
	Size     string     `json:"size,omitempty"`
	Color    string     `json:"color,omitempty"`
	IsSubtle bool       `json:"isSubtle,omitempty"`
	Wrap     bool       `json:"wrap,omitempty"`
	Facts    []CardFact `json:"facts,omitempty"`
}

// CardFact is one line of a FactSet.
type CardFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// teamsColors are the title colours by severity.
var teamsColors = map[Severity]string{Critical: "Attention", High: "Attention", Medium: "Warning", Low: "Default"}

// teamsMarkup neutralises Teams' Markdown in Okta strings.
var teamsMarkup = markup{text: teamsText, code: teamsText, failed: "✖ ", proxy: "⚠ through a proxy or anonymizer"}

// zwsp is a zero-width space: placed after a Markdown character it keeps the character in
// sight but parts it from the next, so that no link, mention, heading or template expression
// forms (each needs its characters side by side).
const zwsp = "\u200b"

var (
	teamsInline    = strings.NewReplacer("[", "["+zwsp, "]", "]"+zwsp, "(", "("+zwsp, ")", ")"+zwsp, "{", "{"+zwsp, "}", "}"+zwsp, "<", "<"+zwsp, ">", ">"+zwsp, "#", "#"+zwsp, "|", "|"+zwsp, "!", "!"+zwsp, "\\", "\\"+zwsp)
	teamsLineStart = regexp.MustCompile(`^(\s*)([-+]|\d+\.)`)
)

// teamsText makes an Okta string plain text in a card: bidi controls neutralised, one line
// (oneLine), emphasis, strike and code characters as look-alikes, which a zero-width space
// does not stop pairing in CommonMark (noEmphasis), other Markdown characters kept from
// joining, a list marker at the start kept from making a list.
func teamsText(s string) string {
	s = teamsInline.Replace(noEmphasis(oneLine(neutralBidi(s))))
	return teamsLineStart.ReplaceAllString(s, "$1"+zwsp+"$2")
}

// RenderTeams is the message an alert sends to Teams, within the card size limit.
func RenderTeams(a *Alert) TeamsMessage {
	for listed := 20; ; listed /= 2 {
		msg := renderTeams(a, listed)
		if b, _ := json.Marshal(msg); len(b) <= teamsMaxBytes || listed == 0 {
			return msg
		}
	}
}

func renderTeams(a *Alert, listed int) TeamsMessage {
	first := a.First()
	color := teamsColors[a.Severity]
	if color == "" {
		color = "Attention"
	}
	facts := []CardFact{}
	for _, f := range alertFacts(a, teamsMarkup) {
		facts = append(facts, CardFact{Title: f.Label, Value: clip.Runes(strings.ReplaceAll(f.Value, "\n", ", "), 1000)})
	}
	title := strings.ToUpper(a.Severity.String()) + " · " + teamsText(clip.Runes(alertTitle(a), 150))
	body := []CardElement{
		{Type: "TextBlock", Text: title, Weight: "Bolder", Size: "Medium", Color: color, Wrap: true},
		{Type: "FactSet", Facts: facts},
	}
	if why := whyText(a, teamsMarkup); why != "" {
		body = append(body, CardElement{Type: "TextBlock", Color: "Attention", Wrap: true,
			Text: "Why this matters: " + clip.Runes(strings.ReplaceAll(why, "\n", "; "), 2000)})
	}
	var notes []string
	for _, rc := range a.Changes {
		notes = append(notes, inert(rc.Incomplete, teamsMarkup)...)
		if rc.StorageProblem != "" {
			notes = append(notes, teamsText(rc.StorageProblem))
		}
	}
	if len(notes) > 0 {
		body = append(body, CardElement{Type: "TextBlock", Color: "Warning", Wrap: true,
			Text: "⚠ Okta sent this in a shape hookd did not expect, or hookd could not store it: " + clip.Runes(strings.Join(notes, "; "), 2000)})
	}
	if len(a.Changes) > 1 {
		var lines []string
		for i, rc := range a.Changes {
			if i == listed {
				lines = append(lines, fmt.Sprintf("… and %d more", len(a.Changes)-listed))
				break
			}
			lines = append(lines, strings.Join(inert(rc.RoleNames(), teamsMarkup), ", ")+" → "+
				who(rc.Subject.DisplayName, rc.Subject.Login, rc.Subject.ID, teamsMarkup)+" ("+teamsText(rc.EventID)+")")
		}
		body = append(body, CardElement{Type: "TextBlock", Wrap: true,
			Text: fmt.Sprintf("%d changes in one admin action: %s", len(a.Changes), strings.Join(lines, "; "))})
	}
	via := "Okta event hook"
	if first.Source == hookd.SourceSystemLog {
		via = "Okta System Log"
	}
	ctx := "event " + teamsText(first.EventID)
	if first.TransactionID != "" {
		ctx += " · transaction " + teamsText(first.TransactionID)
	}
	ctx += " · via " + via
	if first.Org != "" {
		ctx += " · " + teamsText(first.Org)
	}
	body = append(body, CardElement{Type: "TextBlock", Text: ctx, IsSubtle: true, Size: "Small", Wrap: true})
	var actions []CardAction
	for _, l := range a.Links {
		actions = append(actions, CardAction{Type: "Action.OpenUrl", Title: teamsText(clip.Runes(l.Title, 100)), URL: l.Href})
	}
	return TeamsMessage{Type: "message", Attachments: []TeamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: AdaptiveCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard",
			Version: "1.4", Body: body, Actions: actions, MSTeams: map[string]any{"width": "Full"}},
	}}}
}

// Deliver posts the card.
func (s *TeamsSink) Deliver(ctx context.Context, a *Alert) error {
	return s.postPaced(ctx, RenderTeams(a))
}
