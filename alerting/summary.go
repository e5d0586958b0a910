package alerting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/clip"
)

// A paced sink (Slack, Teams) under a flood gets the alerts it can send one by one, most
// severe first, and a summary a minute of the rest (the store decides which; see
// store.Summarizer). The summary says how many, how severe and by whom; every one of them is
// in the console.

// summarizer is a paced sink that can say a flood's alerts in one message.
type summarizer interface {
	perMinute() int
	summarize(ctx context.Context, s hookd.Summary) error
}

// Paced names the sinks that send at a fixed pace, with how many messages each sends a minute.
func (r *Router) Paced() map[string]int {
	out := map[string]int{}
	for name, s := range r.sinks {
		if p, ok := s.(summarizer); ok {
			out[name] = p.perMinute()
		}
	}
	return out
}

// Summarize sends one message to the named sink that stands for the summary's alerts.
func (r *Router) Summarize(ctx context.Context, sink string, s hookd.Summary) error {
	p, ok := r.sinks[sink].(summarizer)
	if !ok {
		return Permanent(fmt.Errorf("%w: %q takes no summaries", ErrUnknownSink, sink))
	}
	return p.summarize(ctx, s)
}

// perMinute is how many messages the poster sends a minute at its pace (0: unpaced).
func (p *poster) perMinute() int {
	if p.limiter == nil {
		return 0
	}
	return int(float64(p.limiter.Limit()) * 60)
}

// summaryText is a summary's title and its one line of detail, Okta's strings (the actors)
// made inert by esc.
func summaryText(s hookd.Summary, esc func(string) string) (title, detail string) {
	title = fmt.Sprintf("%d more role changes", s.Changes)
	var counts []string
	for sev := Critical; sev >= Low; sev-- {
		if n := s.BySeverity[int(sev)]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	detail = "More than this channel can take one by one: " + strings.Join(counts, ", ") + "."
	if len(s.Actors) > 0 {
		actors := make([]string, len(s.Actors))
		for i, a := range s.Actors {
			// Quoted, so that a name cannot pass for part of the list ("Alice (400), Bob").
			actors[i] = fmt.Sprintf("“%s” (%d)", esc(clip.Runes(a.Name, 100)), a.Count)
		}
		of := ""
		if s.ActorsOf < s.Changes {
			of = fmt.Sprintf(" (of the first %d)", s.ActorsOf)
		}
		detail += " By actor" + of + ": " + strings.Join(actors, ", ") + "."
	}
	if !s.Oldest.IsZero() {
		detail += " Made from " + s.Oldest.UTC().Format(time.DateTime) + " to " + s.Newest.UTC().Format(time.DateTime) + " UTC."
	}
	return title, detail + " Each one is in hookd's console (Changes), and every critical alert still comes on its own."
}

// summarySeverity is the most severe of a summary's alerts.
func summarySeverity(s hookd.Summary) Severity {
	for sev := Critical; sev > Low; sev-- {
		if s.BySeverity[int(sev)] > 0 {
			return sev
		}
	}
	return Low
}

// RenderSlackSummary renders a flood's summary as a Block Kit message.
func RenderSlackSummary(s hookd.Summary) SlackMessage {
	title, detail := summaryText(s, escape)
	mark := severityMarks[summarySeverity(s)]
	return SlackMessage{Text: fit(title+": "+detail, slackMaxFallback), Blocks: []SlackBlock{
		{Type: "header", Text: &SlackText{Type: "plain_text", Text: fit(title, slackMaxHeader), Emoji: true}},
		section(mark + " · " + detail),
	}}
}

func (s *SlackSink) summarize(ctx context.Context, sum hookd.Summary) error {
	return s.postPaced(ctx, RenderSlackSummary(sum))
}

// RenderTeamsSummary renders a flood's summary as a Teams card.
func RenderTeamsSummary(s hookd.Summary) TeamsMessage {
	title, detail := summaryText(s, teamsText)
	sev := summarySeverity(s)
	return TeamsMessage{Type: "message", Attachments: []TeamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: AdaptiveCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
			Body: []CardElement{
				{Type: "TextBlock", Text: title, Weight: "Bolder", Size: "Medium", Color: teamsColors[sev], Wrap: true},
				{Type: "TextBlock", Text: strings.ToUpper(sev.String()) + " · " + detail, Wrap: true},
			}, MSTeams: map[string]any{"width": "Full"}},
	}}}
}

func (s *TeamsSink) summarize(ctx context.Context, sum hookd.Summary) error {
	return s.postPaced(ctx, RenderTeamsSummary(sum))
}

// postPaced waits for the sink's turn and posts msg as JSON.
func (p *poster) postPaced(ctx context.Context, msg any) error {
	if err := p.pace(ctx); err != nil {
		return err
	}
	body, err := encodeJSON(msg)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode: %w", p.name, err))
	}
	return p.post(ctx, body, nil)
}
