package alerting_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/alerting/alertingtest"
	"github.com/hookd/hookd/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileNames are Okta strings that try to format, quote, link, mention or start a line of
// their own in a message.
var hostileNames = []string{
	"Bob\n*Actor*\nTrusted Admin",
	"Bob\r\n*Actor*\u2028Trusted\u0085Admin\vx\fy\x00z",
	"*bold*", "_it_", "~strike~", "`code`", "```block```", "＊wide＊ ＿wide＿ ～wide～ ｀wide｀",
	"ok\n> quote", "> quote", "＞ quote", " &gt; quote",
	"<!channel>", "<http://x|y>", "@here", "<@U123>",
}

// slackPairable reports a character of Slack's mrkdwn that could still open or close
// formatting: any *, ~ or backtick, an _ that is not inside a word, and their full-width forms.
func slackPairable(s string) bool {
	r := []rune(s)
	for i, c := range r {
		switch c {
		case '*', '~', '`', '＊', '～', '｀', '＿', '<', '>', '\n', '\r':
			return true
		case '_':
			if i == 0 || i == len(r)-1 || !isASCIIAlnum(r[i-1]) || !isASCIIAlnum(r[i+1]) {
				return true
			}
		}
	}
	return false
}

func lineBreakOrControl(c rune) bool { return unicode.IsControl(c) || c == '\u2028' || c == '\u2029' }

func isASCIIAlnum(c rune) bool { return c < 0x80 && (unicode.IsLetter(c) || unicode.IsDigit(c)) }

// TestSlackOktaStringsFormNothing: in every field built from an Okta string, the value is one
// line that cannot bold, italicise, strike, quote, code, link or mention, and no forged label
// appears.
func TestSlackOktaStringsFormNothing(t *testing.T) {
	for _, name := range hostileNames {
		t.Run(name, func(t *testing.T) {
			rc := *payloadAlerts(t, "workflows-user-role-add.json")[0].First()
			rc.Subject.DisplayName = name
			rc.Subject.Login = ""
			rc.Actor = hookd.Ref{DisplayName: name}
			rc.Roles = []hookd.Role{{Name: name}}
			rc.Outcome = hookd.Outcome{Result: "SUCCESS", Reason: name}
			rc.Client = hookd.ClientInfo{IP: name}
			m := alerting.RenderSlack(&alerting.Alert{Changes: []*hookd.RoleChange{&rc}, Severity: alerting.High})
			var fields []alerting.SlackText
			for _, b := range m.Blocks {
				fields = append(fields, b.Fields...)
			}
			require.NotEmpty(t, fields)
			labels := 0
			for _, f := range fields {
				label, value, ok := strings.Cut(f.Text, "\n")
				require.True(t, ok, f.Text)
				if label == "*Actor*" {
					labels++
				}
				if label == "*Source IP*" {
					assert.Equal(t, 2, strings.Count(value, "`"), "%q: the code span holds", value)
					assert.NotContains(t, value, "\n")
				}
				if label != "*Role*" && label != "*User*" && label != "*Actor*" && label != "*Outcome*" {
					continue
				}
				assert.NotContains(t, value, "\n", "%s is one line", label)
				assert.False(t, slackPairable(value), "%s %q forms markup", label, value)
				assert.False(t, strings.HasPrefix(strings.TrimLeft(value, " "), "&gt;"), "%s %q quotes", label, value)
				assert.False(t, strings.HasPrefix(strings.TrimLeft(value, " "), "＞"), "%s %q quotes", label, value)
				assert.Equal(t, -1, strings.IndexFunc(value, lineBreakOrControl), "%s %q holds a control", label, value)
			}
			assert.Equal(t, 1, labels, "one Actor field, no forged one")
			assert.Equal(t, 1, strings.Count(m.AllText(), "*Actor*"))
		})
	}
}

// TestSlackKeepsPlainNamesAsTheyAre: escaping leaves readable names, logins and addresses
// alone, underscores inside them included.
func TestSlackKeepsPlainNamesAsTheyAre(t *testing.T) {
	rc := *payloadAlerts(t, "workflows-user-role-add.json")[0].First()
	rc.Subject.DisplayName = "Bob Builder"
	rc.Subject.Login = "bob_builder@acme.example"
	m := alerting.RenderSlack(&alerting.Alert{Changes: []*hookd.RoleChange{&rc}, Severity: alerting.High})
	assert.Contains(t, m.AllText(), "*User*\nBob Builder (bob_builder@acme.example)")
}

// TestTeamsOktaStringsFormNothing: the card's text built from Okta strings holds no line
// break of any kind and no character that could pair into emphasis, strike or code.
func TestTeamsOktaStringsFormNothing(t *testing.T) {
	for _, name := range hostileNames {
		t.Run(name, func(t *testing.T) {
			rc := *payloadAlerts(t, "workflows-user-role-add.json")[0].First()
			rc.Subject.DisplayName = name
			rc.Actor = hookd.Ref{DisplayName: name}
			rc.Roles = []hookd.Role{{Name: name}}
			msg := alerting.RenderTeams(&alerting.Alert{Changes: []*hookd.RoleChange{&rc}, Severity: alerting.High})
			text := alertingtest.CardText(msg.Attachments[0].Content)
			for _, line := range strings.Split(text, "\n") { // CardText joins the card's texts with \n
				assert.Equal(t, -1, strings.IndexFunc(line, lineBreakOrControl), "%q holds a line break or control", line)
				assert.False(t, strings.ContainsAny(line, "*~`＊～｀"), "%q could form emphasis, strike or code", line)
			}
		})
	}
}

// Slack would make a link of a URL, a channel of #name and a mention of @here in plain mrkdwn
// text: every mrkdwn object hookd sends is verbatim.
func TestSlackTextIsVerbatim(t *testing.T) {
	rc := hookd.RoleChange{EventID: "e1", EventType: hook.WorkflowsUserRoleAdd, Category: hookd.WorkflowsRole, Action: hookd.Granted,
		Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: "00u1", DisplayName: "https://evil.example/login #general @here"},
		Roles:   []hookd.Role{{Name: "Folder Editor"}}, TransactionID: "tx"}
	m := alerting.RenderSlack(&alerting.Alert{Changes: []*hookd.RoleChange{&rc}, Severity: alerting.High})
	n := 0
	for _, b := range m.Blocks {
		texts := append(append([]alerting.SlackText{}, b.Fields...), b.Elements...)
		if b.Text != nil {
			texts = append(texts, *b.Text)
		}
		for _, x := range texts {
			if x.Type == "mrkdwn" {
				n++
				assert.True(t, x.Verbatim, "%q", x.Text)
			}
		}
	}
	assert.Positive(t, n)
}
