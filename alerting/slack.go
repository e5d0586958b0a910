package alerting

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/outbound"
)

// Slack's documented limits for an incoming-webhook message.
const (
	slackMaxBlocks      = 50
	slackMaxHeader      = 150
	slackMaxSectionText = 3000
	slackMaxFields      = 10
	slackMaxFieldText   = 2000
	slackMaxFallback    = 3000 // well under the 40,000 at which Slack cuts text
)

// SlackSink posts Block Kit messages to one Slack incoming webhook, paced to Slack's one
// message a second with short bursts. The webhook URL is a secret: it appears in no error.
type SlackSink struct {
	poster
	// signingSecret is the Slack app's: with it, messages carry the decision buttons.
	signingSecret string
}

// NewSlackSink returns a sink for the webhook URL, named name in errors and logs, sending
// at most perSecond messages a second (0: one, Slack's documented rate) with bursts of 3.
// With the signing secret of the webhook's Slack app, its messages carry decision buttons.
func NewSlackSink(name, webhookURL string, perSecond float64, signingSecret string) (*SlackSink, error) {
	if perSecond < 0 || perSecond > 1000 {
		return nil, errors.New("per_second must be between 0 (the default, 1) and 1000")
	}
	if perSecond == 0 {
		perSecond = 1
	}
	if err := outbound.CheckURL(webhookURL, true); err != nil {
		return nil, err
	}
	return &SlackSink{newPoster("slack "+name, webhookURL, perSecond, 3, signingSecret), signingSecret}, nil
}

// Deliver posts the alert.
func (s *SlackSink) Deliver(ctx context.Context, a *Alert) error {
	m := RenderSlack(a)
	if s.signingSecret != "" && a.First().Decision == nil && a.First().Category != hookd.Test {
		m = withDecisionButtons(m, a)
	}
	return s.postPaced(ctx, m)
}

// SlackMessage is the JSON a Slack incoming webhook takes: the fallback text and Block Kit
// blocks.
type SlackMessage struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
	// ReplaceOriginal, in an answer through a click's response_url, replaces the message.
	ReplaceOriginal bool `json:"replace_original,omitempty"`
}

// SlackBlock is one Block Kit block: a header, a section (text or fields), a context (text
// Elements) or actions (Buttons).
type SlackBlock struct {
	Type     string
	BlockID  string
	Text     *SlackText
	Fields   []SlackText
	Elements []SlackText
	Buttons  []SlackButton
}

// SlackText is a Block Kit text object. Every mrkdwn one is verbatim: Slack then makes no
// link of a URL, no channel of #name and no mention of @here found in the text, which Okta's
// strings could otherwise form; hookd's own <url|text> links still work.
type SlackText struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Emoji    bool   `json:"emoji,omitempty"`
	Verbatim bool   `json:"verbatim,omitempty"`
}

// mrkdwn is a verbatim mrkdwn text object.
func mrkdwn(text string) SlackText { return SlackText{Type: "mrkdwn", Text: text, Verbatim: true} }

// AllText joins every text of the message, for searching it.
func (m SlackMessage) AllText() string {
	parts := []string{m.Text}
	for _, b := range m.Blocks {
		if b.Text != nil {
			parts = append(parts, b.Text.Text)
		}
		for _, f := range append(b.Fields, b.Elements...) {
			parts = append(parts, f.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// slackMarkup shows Okta strings in Slack's mrkdwn.
var slackMarkup = markup{
	text:   escape,
	code:   func(s string) string { return "`" + escape(s) + "`" },
	failed: ":x: ",
	proxy:  ":warning: *through a proxy or anonymizer*",
}

var severityMarks = map[Severity]string{
	Critical: ":red_circle: CRITICAL",
	High:     ":large_orange_circle: HIGH",
	Medium:   ":large_yellow_circle: MEDIUM",
	Low:      ":white_circle: LOW",
}

// RenderSlack renders an alert as a Block Kit message within Slack's limits. Every string
// that came from Okta is escaped, so `<!channel>` or `<http://x|y>` in a display name shows
// as text instead of pinging a channel or hiding a link.
func RenderSlack(a *Alert) SlackMessage {
	first := a.First()
	title := alertTitle(a)
	mark := severityMarks[a.Severity]
	if mark == "" {
		mark = severityMarks[High]
	}

	facts := alertFacts(a, slackMarkup)
	fields := make([]SlackText, 0, len(facts))
	for _, f := range facts {
		fields = append(fields, field(f.Label, f.Value))
	}
	// The severity leads the header, where the eye lands first.
	blocks := []SlackBlock{
		{Type: "header", Text: &SlackText{Type: "plain_text", Text: fit(mark+" · "+title, slackMaxHeader), Emoji: true}},
	}
	if found := findingsOf(a); len(found) > 0 {
		lines := make([]string, len(found))
		for i, f := range found {
			lines[i] = "• *" + escape(f.Title) + "* (`" + escape(f.ID) + "`): " + escape(f.Detail)
		}
		blocks = append(blocks, section(":rotating_light: *Why this matters*\n"+strings.Join(lines, "\n")))
	}
	blocks = append(blocks, SlackBlock{Type: "section", Fields: fields[:min(len(fields), slackMaxFields)]})
	var notes []string
	for _, rc := range a.Changes {
		for _, why := range rc.Incomplete {
			notes = append(notes, escape(why))
		}
	}
	if len(notes) > 0 {
		blocks = append(blocks, section(":warning: *Okta sent this event in a shape hookd did not expect*; it shows what it found:\n• "+strings.Join(notes, "\n• ")))
	}
	for _, rc := range a.Changes {
		if rc.StorageProblem != "" {
			blocks = append(blocks, section(":warning: *"+escape(rc.StorageProblem)+"*"))
			break
		}
	}
	if len(a.Changes) > 1 {
		var lines []string
		for _, rc := range a.Changes {
			lines = append(lines, "• "+strings.Join(inert(rc.RoleNames(), slackMarkup), ", ")+" → "+who(rc.Subject.DisplayName, rc.Subject.Login, rc.Subject.ID, slackMarkup)+" (`"+escape(rc.EventID)+"`)")
		}
		blocks = append(blocks, section(fmt.Sprintf("*%d changes in one admin action:*\n%s", len(a.Changes), strings.Join(lines, "\n"))))
	}
	via := "Okta event hook"
	if first.Source == hookd.SourceSystemLog {
		via = "Okta System Log"
	}
	ctx := "event `" + escape(first.EventID) + "`"
	if first.TransactionID != "" {
		ctx += " · transaction `" + escape(first.TransactionID) + "`"
	}
	ctx += " · via " + via
	if first.Org != "" {
		ctx += " · " + escape(first.Org)
	}
	if note := decidedNote(first); note != "" {
		blocks = append(blocks, section(note))
	}
	if links := slackLinks(a.Links); links != "" {
		blocks = append(blocks, section(links))
	}
	blocks = append(blocks, SlackBlock{Type: "context", Elements: []SlackText{mrkdwn(fit(ctx, slackMaxSectionText))}})
	if len(blocks) > slackMaxBlocks {
		blocks = blocks[:slackMaxBlocks]
	}

	fallback := summaryOf(a, facts)
	return SlackMessage{Text: fit(fallback, slackMaxFallback), Blocks: blocks}
}

// slackLinks is the alert's links as one line of mrkdwn links, or "" without any. Each link's
// text is escaped as an Okta string, and its URL so that no character of it closes or splits
// the link.
func slackLinks(links []Link) string {
	parts := make([]string, 0, len(links))
	for _, l := range links {
		parts = append(parts, "<"+slackURL.Replace(l.Href)+"|"+escape(clip.Runes(l.Title, 200))+">")
	}
	if len(parts) == 0 {
		return ""
	}
	return ":link: " + strings.Join(parts, " · ")
}

var slackURL = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C", " ", "%20")

func field(label, value string) SlackText {
	if value == "" {
		value = "—"
	}
	return mrkdwn(fit("*"+label+"*\n"+value, slackMaxFieldText))
}

func section(text string) SlackBlock {
	t := mrkdwn(fit(text, slackMaxSectionText))
	return SlackBlock{Type: "section", Text: &t}
}

// escape makes an Okta string inert in Slack's mrkdwn. &, < and > are the only characters
// Slack asks to escape, and with them escaped no mention, link or channel reference can be
// formed. Slack has no escape for the rest of its markup, so the string is made one line
// (oneLine), emphasis, strike and code characters become look-alikes (noEmphasis), and a
// leading &gt;, which quotes a line, is preceded by an invisible soft hyphen: every field
// value starts a line. Bidirectional-text controls are shown as U+FFFD, so that a display
// name cannot reverse the text around it to pass for another.
func escape(s string) string {
	s = noEmphasis(oneLine(neutralBidi(s)))
	if strings.ContainsAny(s, "&<>") {
		s = slackEscaper.Replace(s)
	}
	rest := strings.TrimLeft(s, " ")
	if strings.HasPrefix(rest, "&gt;") || strings.HasPrefix(rest, "＞") {
		return s[:len(s)-len(rest)] + "\u00ad" + rest
	}
	return s
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// fit shortens text to at most n characters, never cutting an escape like &amp; in two.
func fit(text string, n int) string {
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	r := []rune(text)[:n-1]
	// Back off a cut inside "&amp;", "&lt;" or "&gt;".
	for i := len(r) - 1; i >= 0 && i >= len(r)-5; i-- {
		if r[i] == ';' {
			break
		}
		if r[i] == '&' {
			r = r[:i]
			break
		}
	}
	return string(r) + "…"
}
