package alerting

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func linkAlert(org string) *Alert {
	rc := sample()
	rc.Org = org
	rc.Subject = hookd.Subject{Kind: hookd.SubjectUser, ID: "00u1", DisplayName: "Bob Builder"}
	rc.Actor = hookd.Ref{ID: "00uA", Type: "User", DisplayName: "Alice Admin"}
	rc.TransactionID = "txn-1"
	rc.Published = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)
	return &Alert{Changes: []*hookd.RoleChange{rc}, Severity: Critical}
}

func hrefs(links []Link) map[string]string {
	out := map[string]string{}
	for _, l := range links {
		out[l.Rel] = l.Href
	}
	return out
}

func TestAdminConsoleFromTheOrg(t *testing.T) {
	for org, admin := range map[string]string{
		"https://acme.okta.com":          "https://acme-admin.okta.com",
		"https://ACME.okta.com/":         "https://acme-admin.okta.com",
		"https://acme-admin.okta.com":    "https://acme-admin.okta.com",
		"https://acme.oktapreview.com":   "https://acme-admin.oktapreview.com",
		"https://acme-eu.okta-emea.com":  "https://acme-eu-admin.okta-emea.com",
		"https://sso.acme.example":       "", // a custom domain does not say its Admin Console
		"http://acme.okta.com":           "",
		"https://acme.okta.com.evil.com": "",
		"https://acme.okta.com:8443":     "",
		"":                               "",
	} {
		got := hrefs(Links{}.For(linkAlert(org)))
		if admin == "" {
			assert.Empty(t, got, org)
			continue
		}
		assert.Equal(t, admin+"/admin/user/profile/view/00u1", got["subject"], org)
		assert.Equal(t, admin+"/admin/user/profile/view/00uA", got["actor"], org)
		assert.True(t, strings.HasPrefix(got["system_log"], admin+"/report/system_log_2?"), org)
	}
}

func TestAdminURLAndOrgURLStandIn(t *testing.T) {
	got := hrefs(Links{AdminURL: "https://sso-admin.acme.example/"}.For(linkAlert("https://sso.acme.example")))
	assert.Equal(t, "https://sso-admin.acme.example/admin/user/profile/view/00u1", got["subject"])

	// A change that does not name its org takes the poller's.
	got = hrefs(Links{OrgURL: "https://acme.okta.com"}.For(linkAlert("")))
	assert.Equal(t, "https://acme-admin.okta.com/admin/user/profile/view/00u1", got["subject"])

	// Without an org anywhere there is no Admin Console link, but the console link stays.
	links := Links{ConsoleURL: "https://hookd.acme.example/ops/"}.For(linkAlert(""))
	require.Len(t, links, 1)
	assert.Equal(t, Link{Rel: "console", Title: "This change in hookd", Href: "https://hookd.acme.example/ops/changes/c4399b10-47a4-5263-b4ae-fcdfcbac761b"}, links[0])
}

func TestLinksEscapeOddIDs(t *testing.T) {
	a := linkAlert("https://acme.okta.com")
	rc := a.First()
	rc.Subject = hookd.Subject{Kind: hookd.SubjectGroup, ID: `../../admin?x=1#frag <b>|"%`, DisplayName: "G"}
	rc.Actor = hookd.Ref{ID: "", Type: "User"} // no id: no actor link
	rc.TransactionID = `tx" or "1" eq "1\`
	rc.EventID = "ev/1?2"
	got := hrefs(Links{ConsoleURL: "https://hookd.acme.example"}.For(a))

	u, err := url.Parse(got["subject"])
	require.NoError(t, err)
	assert.Equal(t, "acme-admin.okta.com", u.Host)
	assert.Equal(t, "/admin/group/"+rc.Subject.ID, u.Path, "the id is one path segment")
	assert.Empty(t, u.RawQuery)
	assert.Empty(t, u.Fragment)
	assert.NotContains(t, got, "actor")

	u, err = url.Parse(got["system_log"])
	require.NoError(t, err)
	assert.Equal(t, `transaction.id eq "tx\" or \"1\" eq \"1\\"`, u.Query().Get("search"), "the id stays inside its quotes")
	assert.Equal(t, "2026-11-20T13:00:00Z", u.Query().Get("fromTime"))
	assert.Equal(t, "2026-11-20T15:00:00Z", u.Query().Get("toTime"))

	u, err = url.Parse(got["console"])
	require.NoError(t, err)
	assert.Equal(t, "/changes/ev/1?2", u.Path)
	assert.Empty(t, u.RawQuery)
}

func TestSystemLogFallsBackToTheEvent(t *testing.T) {
	a := linkAlert("https://acme.okta.com")
	a.First().TransactionID = ""
	u, err := url.Parse(hrefs(Links{}.For(a))["system_log"])
	require.NoError(t, err)
	assert.Equal(t, `uuid eq "c4399b10-47a4-5263-b4ae-fcdfcbac761b"`, u.Query().Get("search"))
}

func TestTestAlertsHaveNoLinks(t *testing.T) {
	a := linkAlert("https://acme.okta.com")
	a.First().Category = hookd.Test
	assert.Empty(t, Links{ConsoleURL: "https://hookd.acme.example"}.For(a))
}

// TestEveryFormatCarriesTheLinks: Slack as mrkdwn links whose text and URL cannot break out,
// Teams as buttons, PagerDuty and the webhook as links.
func TestEveryFormatCarriesTheLinks(t *testing.T) {
	a := linkAlert("https://acme.okta.com")
	a.First().Subject.DisplayName = "<!channel> Bob|>"
	a.First().Subject.ID = "00u|1>"
	a.Links = Links{ConsoleURL: "https://hookd.acme.example"}.For(a)
	require.Len(t, a.Links, 4)

	slack := RenderSlack(a)
	var line string
	for _, b := range slack.Blocks {
		if b.Text != nil && strings.HasPrefix(b.Text.Text, ":link: ") {
			line = b.Text.Text
		}
	}
	require.NotEmpty(t, line)
	assert.Contains(t, line, "<https://acme-admin.okta.com/admin/user/profile/view/00u%7C1%3E|User &lt;!channel&gt; Bob|&gt; in Okta>")
	assert.Contains(t, line, "&amp;search=transaction.id+eq+%22txn-1%22&amp;toTime=")
	assert.Equal(t, 4, strings.Count(line, "<"), "one < a link: no Okta string opens one")
	assert.Equal(t, 4, strings.Count(line, ">"))

	card := RenderTeams(a).Attachments[0].Content
	require.Len(t, card.Actions, 4)
	assert.Equal(t, "Action.OpenUrl", card.Actions[0].Type)
	assert.Equal(t, a.Links[0].Href, card.Actions[0].URL)
	assert.NotContains(t, card.Actions[0].Title, "<!")

	pd := RenderPagerDuty("oncall", a)
	require.Len(t, pd.Links, 4)
	assert.Equal(t, a.Links[3].Href, pd.Links[3].Href)

	b, err := json.Marshal(WebhookDocument{Links: a.Links})
	require.NoError(t, err)
	assert.Contains(t, string(b), `"links":[{"rel":"subject"`)
}
