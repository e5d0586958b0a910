package alerting

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/clip"
)

// markup is how one message format shows text that came from Okta.
type markup struct {
	// text makes an Okta string inert in the format (no mention, link or markup forms).
	text func(string) string
	// code shows an identifier (an IP address) as code where the format has it.
	code func(string) string
	// failed prefixes a failed outcome; proxy is the line added for a proxy or anonymizer.
	failed, proxy string
}

// fact is one labelled line of an alert, its value already made inert for its format.
type fact struct {
	Label, Value string
}

// alertFacts are the lines every sink shows for an alert: roles, subjects, actor, outcome,
// source IP and network when known, and Okta's time.
func alertFacts(a *Alert, m markup) []fact {
	first := a.First()
	roles := roleNames(a.Changes)
	subs := subjects(a.Changes)
	subjectLines := make([]string, 0, len(subs))
	for _, s := range subs {
		subjectLines = append(subjectLines, who(s.DisplayName, s.Login, s.ID, m))
	}
	subjectLabel := map[hookd.SubjectKind]string{hookd.SubjectGroup: "Group", hookd.SubjectEventHook: "Event hook", hookd.SubjectLogStream: "Log stream"}[first.Subject.Kind]
	if subjectLabel == "" {
		subjectLabel = "User"
	}
	if len(subs) > 1 {
		subjectLabel += "s"
	}
	roleLabel := "Role"
	if len(roles) != 1 {
		roleLabel = "Roles"
	}
	if first.FromHookd() {
		return []fact{
			{"What happened", m.text(first.DisplayMessage)},
			{"Okta org", m.text(firstOf(first.Org, "(unknown)"))},
			{"At", first.Published.UTC().Format("2006-01-02 15:04:05 UTC")},
		}
	}
	if len(roles) == 0 && first.Category == hookd.Tampering {
		roles = []string{"(none: " + strings.ReplaceAll(string(first.Category), "_", " ") + ")"}
	} else if len(roles) == 0 {
		roles = []string{"(not found in the event)"}
	}
	facts := []fact{
		{roleLabel, strings.Join(inert(roles, m), ", ")},
		{subjectLabel, strings.Join(subjectLines, "\n")},
	}
	if first.Via != nil {
		facts = append(facts, fact{"Through group", who(first.Via.DisplayName, first.Via.Login, first.Via.ID, m)})
	}
	if first.MemberCount > 0 {
		label := "Members, who hold it too"
		if first.Action == hookd.Revoked {
			label = "Members, who lose it too"
		}
		facts = append(facts, fact{label, membersText(first, m)})
	}
	facts = append(facts, []fact{
		{"Actor", who(first.Actor.DisplayName, first.Actor.Login, first.Actor.ID, m)},
		{"Outcome", outcomeText(first, m)},
	}...)
	if first.Client.IP != "" {
		ip := m.code(first.Client.IP)
		if p := place(first.Client); p != "" {
			ip += " — " + m.text(p)
		}
		facts = append(facts, fact{"Source IP", ip})
	}
	if n := networkText(first.Network, m); n != "" {
		facts = append(facts, fact{"Network", n})
	}
	return append(facts, fact{"Okta time", first.Published.UTC().Format("2006-01-02 15:04:05 UTC")})
}

// membersText names a group's first members and counts the rest: a group gaining a role gives
// it to each of them.
func membersText(rc *hookd.RoleChange, m markup) string {
	names := make([]string, 0, len(rc.Members))
	for _, r := range rc.Members {
		names = append(names, who(r.DisplayName, r.Login, r.ID, m))
	}
	text := strings.Join(names, ", ")
	if more := rc.MemberCount - len(rc.Members); more > 0 {
		text += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("%d: %s", rc.MemberCount, text)
}

// inert passes each Okta string, shortened, through the format's text.
func inert(ss []string, m markup) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = m.text(clip.Runes(s, 200))
	}
	return out
}

// oneLine shows every line break and control character of an Okta string as a space, so that
// a name cannot start a line of its own in a message: "Bob\n*Actor*\nTrusted Admin" would
// forge an Actor line inside the User field.
func oneLine(s string) string {
	if strings.IndexFunc(s, breaksLine) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if breaksLine(r) {
			return ' '
		}
		return r
	}, s)
}

func breaksLine(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }

// lookalikes stand in for the characters that pair into bold, italics, strike or code in
// Slack's mrkdwn and in Teams' Markdown, full-width forms included (Slack reads those too).
// Slack has no escape for them, and a zero-width character beside one stops it pairing only
// while the parser takes that character for a letter, which neither format promises (Slack
// users put one in to force bold inside a word). A look-alike pairs with nothing.
var lookalikes = map[rune]rune{'*': '∗', '＊': '∗', '_': 'ˍ', '＿': 'ˍ', '~': '∼', '～': '∼', '`': 'ˋ', '｀': 'ˋ'}

// noEmphasis replaces every emphasis, strike or code character of an Okta string with its
// look-alike, but for an underscore inside a word (bob_builder@acme): neither format reads
// one there as emphasis, and logins with one are copied into searches.
func noEmphasis(s string) string {
	if !strings.ContainsAny(s, "*_~`＊＿～｀") {
		return s
	}
	r := []rune(s)
	for i, c := range r {
		alike, ok := lookalikes[c]
		if !ok || (c == '_' && i > 0 && i < len(r)-1 && asciiAlnum(r[i-1]) && asciiAlnum(r[i+1])) {
			continue
		}
		r[i] = alike
	}
	return string(r)
}

func asciiAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// who renders "Display Name (login)".
func who(name, login, id string, m markup) string {
	name = firstOf(name, login, id, "(unknown)")
	s := m.text(clip.Runes(name, 200))
	if login != "" && login != name {
		s += " (" + m.text(clip.Runes(login, 200)) + ")"
	}
	return s
}

func outcomeText(rc *hookd.RoleChange, m markup) string {
	s := m.text(firstOf(rc.Outcome.Result, "(not given)"))
	if rc.Failed() {
		s = m.failed + s
	}
	if rc.Outcome.Reason != "" {
		s += ": " + m.text(clip.Runes(rc.Outcome.Reason, 300))
	}
	return s
}

func networkText(n hookd.Network, m markup) string {
	var parts []string
	if n.ASN != 0 {
		parts = append(parts, fmt.Sprintf("AS%d", n.ASN))
	}
	for _, p := range []string{n.ASOrg, n.ISP} {
		if p != "" {
			parts = append(parts, m.text(clip.Runes(p, 200)))
		}
	}
	s := strings.Join(parts, " · ")
	if n.IsProxy != nil && *n.IsProxy {
		s += "\n" + m.proxy
	}
	return strings.TrimSpace(s)
}

// summaryOf is an alert in one line: who changed which role for whom, or what happened to
// hookd.
func summaryOf(a *Alert, facts []fact) string {
	if a.First().FromHookd() {
		return alertTitle(a) + ": " + facts[0].Value
	}
	return fmt.Sprintf("%s: %s → %s by %s", alertTitle(a), facts[0].Value, strings.ReplaceAll(facts[1].Value, "\n", ", "), facts[2].Value)
}

// findingsOf are the findings of the alert's changes, each once, in the order found.
func findingsOf(a *Alert) []hookd.Finding {
	var out []hookd.Finding
	seen := map[hookd.Finding]bool{}
	for _, rc := range a.Changes {
		for _, f := range rc.Findings {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// whyText is the findings in one line each, "Title: detail", made inert for the format.
func whyText(a *Alert, m markup) string {
	var lines []string
	for _, f := range findingsOf(a) {
		lines = append(lines, m.text(f.Title+" ("+f.ID+"): "+f.Detail))
	}
	return strings.Join(lines, "\n")
}
