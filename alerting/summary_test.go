package alerting_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// floodSummary is a summary whose top actor's name is Slack and Teams markup.
func floodSummary() hookd.Summary {
	at := time.Date(2026, 12, 7, 14, 2, 0, 0, time.UTC)
	return hookd.Summary{Changes: 412, BySeverity: map[int]int{int(alerting.High): 3, int(alerting.Low): 409},
		Actors:   []hookd.ActorCount{{Name: "<!channel> [click](http://evil.example) *Admin*", Count: 300}, {Name: "Bob", Count: 112}},
		ActorsOf: 412, Oldest: at, Newest: at.Add(7 * time.Minute)}
}

// TestSummariesSayHowManyHowSevereAndByWhom: a flood's summary reaches Slack and Teams as one
// message each, within their limits, with its counts and its actors escaped.
func TestSummariesSayHowManyHowSevereAndByWhom(t *testing.T) {
	slack := alertingtest.NewSlack(t)
	teams := alertingtest.NewTeams(t)
	slackSink, err := alerting.NewSlackSink("ops", slack.URL("ok"), 1, "")
	require.NoError(t, err)
	teamsSink, err := alerting.NewTeamsSink("secops", teams.URL+"/workflows/SECRETSIG")
	require.NoError(t, err)
	webhook, err := alerting.NewWebhookSink("siem", "http://127.0.0.1:1/hook", "whsec_c2VjcmV0LXNpZ25pbmcta2V5", nil)
	require.NoError(t, err)
	r := alerting.NewRouter(nil)
	require.NoError(t, r.Add("slack", slackSink))
	require.NoError(t, r.Add("teams", teamsSink))
	require.NoError(t, r.Add("siem", webhook))
	assert.Equal(t, map[string]int{"slack": 60, "teams": 180}, r.Paced(), "Slack's one a second, Teams' three; the webhook is not paced")

	require.NoError(t, r.Summarize(context.Background(), "slack", floodSummary()))
	require.NoError(t, r.Summarize(context.Background(), "teams", floodSummary()))
	assert.Error(t, r.Summarize(context.Background(), "siem", floodSummary()), "a receiver that counts its messages gets none")

	assert.Empty(t, slack.Problems())
	msgs := slack.Messages("ok")
	require.Len(t, msgs, 1)
	text := msgs[0].AllText()
	assert.Equal(t, "412 more role changes", msgs[0].Blocks[0].Text.Text)
	assert.Contains(t, text, ":large_orange_circle: HIGH")
	assert.Contains(t, text, "3 high, 409 low")
	assert.Contains(t, text, "By actor: “&lt;!channel&gt; [click](http://evil.example) ∗Admin∗” (300), “Bob” (112).")
	assert.Contains(t, text, "from 2026-12-07 14:02:00 to 2026-12-07 14:09:00 UTC")
	assert.False(t, strings.ContainsAny(text, "<>"), "an Okta string was not escaped:\n%s", text)

	cards, problems := teams.Cards()
	assert.Empty(t, problems)
	require.Len(t, cards, 1)
	card := alertingtest.CardText(cards[0])
	assert.Contains(t, card, "412 more role changes")
	assert.Contains(t, card, "HIGH · More than this channel can take one by one: 3 high, 409 low.")
	assert.NotContains(t, card, "[click](", "no Markdown link forms in Teams")
}

// TestSummaryOfAVeryLargeFloodSaysWhoseActorsItCounted: the actors of a flood larger than the
// store reads are said to be of its first part.
func TestSummaryOfAVeryLargeFloodSaysWhoseActorsItCounted(t *testing.T) {
	s := floodSummary()
	s.Changes, s.ActorsOf = 310000, 10000
	msg := alerting.RenderSlackSummary(s)
	assert.Contains(t, msg.AllText(), "310000 more role changes")
	assert.Contains(t, msg.AllText(), "By actor (of the first 10000): ")
}
