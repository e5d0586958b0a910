package alerting

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Link is a place a responder goes from an alert: the subject or the actor in Okta's Admin
// Console, the System Log entries of the change, the change in hookd's console.
type Link struct {
	// Rel says what the link is: subject, actor, group, system_log or console.
	Rel   string `json:"rel"`
	Title string `json:"title"`
	Href  string `json:"href"`
}

// Links says where an alert's links point. Okta's Admin Console is found from the org that
// sent the change (Okta's own domains only: a custom domain does not say where its Admin
// Console is); AdminURL names it outright.
type Links struct {
	// AdminURL is the Admin Console's base URL (https://acme-admin.okta.com) for orgs on a
	// custom domain; empty derives it from the org.
	AdminURL string
	// OrgURL is the org the System Log poller reads, for changes that do not name theirs.
	OrgURL string
	// ConsoleURL is hookd's console as an operator reaches it; empty leaves out its link.
	ConsoleURL string
}

// oktaHost is an org on one of Okta's own domains, whose Admin Console is {org}-admin on the
// same domain.
var oktaHost = regexp.MustCompile(`^([a-z0-9][a-z0-9-]*?)(-admin)?\.(okta|oktapreview|okta-emea|okta-gov)\.com$`)

// adminBase is the Admin Console's base URL for an org URL, or "" when it cannot be known.
func (l Links) adminBase(org string) string {
	if l.AdminURL != "" {
		return strings.TrimRight(l.AdminURL, "/")
	}
	if org == "" {
		org = l.OrgURL
	}
	u, err := url.Parse(org)
	if err != nil || u.Scheme != "https" {
		return ""
	}
	m := oktaHost.FindStringSubmatch(strings.ToLower(u.Hostname()))
	if m == nil || u.Port() != "" {
		return ""
	}
	return "https://" + m[1] + "-admin." + m[3] + ".com"
}

// systemLogWindow is how far either side of the change the System Log link searches.
const systemLogWindow = time.Hour

// For lists an alert's links: each subject (user or group) and the actor in the Admin
// Console, the group a role came through, the System Log filtered to the change's
// transaction (or its event), and the change in hookd's console. Every id is escaped for its
// place in the URL; the formats escape the URL again for themselves.
func (l Links) For(a *Alert) []Link {
	first := a.First()
	var out []Link
	if base := l.adminBase(first.Org); base != "" && first.Category != hookd.Test {
		seen := map[string]bool{}
		add := func(rel, title, kind, id string) {
			path := map[string]string{"user": "/admin/user/profile/view/", "group": "/admin/group/"}[kind]
			if id == "" || path == "" || seen[kind+id] {
				return
			}
			seen[kind+id] = true
			out = append(out, Link{Rel: rel, Title: title, Href: base + path + url.PathEscape(id)})
		}
		for _, s := range subjects(a.Changes) {
			add("subject", subjectTitle(s), string(s.Kind), s.ID)
		}
		if first.Via != nil {
			add("group", "Group "+firstOf(first.Via.DisplayName, first.Via.ID)+" in Okta", "group", first.Via.ID)
		}
		if strings.EqualFold(first.Actor.Type, "User") {
			add("actor", "Actor "+firstOf(first.Actor.DisplayName, first.Actor.Login, first.Actor.ID)+" in Okta", "user", first.Actor.ID)
		}
		search := `uuid eq "` + scimString(first.EventID) + `"`
		if first.TransactionID != "" {
			search = `transaction.id eq "` + scimString(first.TransactionID) + `"`
		}
		at := first.Published.UTC()
		q := url.Values{"search": {search}, "fromTime": {at.Add(-systemLogWindow).Format(time.RFC3339)},
			"toTime": {at.Add(systemLogWindow).Format(time.RFC3339)}}
		out = append(out, Link{Rel: "system_log", Title: "System Log of this change", Href: base + "/report/system_log_2?" + q.Encode()})
	}
	if l.ConsoleURL != "" && first.Category != hookd.Test {
		out = append(out, Link{Rel: "console", Title: "This change in hookd",
			Href: strings.TrimRight(l.ConsoleURL, "/") + "/changes/" + url.PathEscape(first.EventID)})
	}
	return out
}

// subjectTitle names a subject's link: "User Alice Example in Okta".
func subjectTitle(s hookd.Subject) string {
	kind := "User"
	if s.Kind == hookd.SubjectGroup {
		kind = "Group"
	}
	return kind + " " + firstOf(s.DisplayName, s.Login, s.ID) + " in Okta"
}

// scimString escapes a value for a double-quoted string of an Okta filter expression.
func scimString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// Links are where a responder goes from the changes, as their alert would link (see
// Links.For).
func (r *Router) Links(changes ...*hookd.RoleChange) []Link {
	return r.links.For(&Alert{Changes: changes})
}
