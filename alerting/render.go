package alerting

import (
	"strings"

	"github.com/hookd/hookd"
)

// Title says in a few words what happened: "Workflows role granted", "Okta admin privilege
// revoked", "Okta admin privileges grant failed".
func Title(rc *hookd.RoleChange) string {
	return escalatedPrefix(rc) + title(rc)
}

func title(rc *hookd.RoleChange) string {
	if rc.Category == hookd.Test {
		return TestAlertTitle
	}
	switch rc.Category {
	case hookd.Tampering:
		return tamperTitle(rc)
	case hookd.Health:
		if rc.EventType == hookd.HealthStoreOutage {
			return "hookd refused Okta's deliveries while its store was unavailable"
		}
		if rc.Action == hookd.Recovered {
			return "hookd reads Okta's System Log again"
		}
		return "hookd cannot read Okta's System Log"
	}
	var what string
	switch rc.Category {
	case hookd.WorkflowsRole:
		what = "Workflows role"
	case hookd.AdminPrivilege:
		what = "Okta admin privilege"
	case hookd.AppAssignment:
		what = "Okta Workflows app assignment"
	default:
		what = "Role change"
	}
	if len(rc.Roles) > 1 {
		what += "s"
	}
	if rc.Via != nil && !rc.Failed() {
		return what + " " + string(rc.Action) + " through group membership"
	}
	if rc.Failed() {
		noun := "grant"
		if rc.Action == hookd.Revoked {
			noun = "revoke"
		}
		return what + " " + noun + " failed"
	}
	return what + " " + string(rc.Action)
}

// firstOf returns the first non-empty string.
func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// place is "Denver, Colorado, United States", from what Okta knows.
func place(c hookd.ClientInfo) string {
	var parts []string
	for _, p := range []string{c.City, c.State, c.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// roleNames lists the distinct role names across changes, in order.
func roleNames(changes []*hookd.RoleChange) []string {
	var out []string
	seen := map[string]bool{}
	for _, rc := range changes {
		for _, n := range rc.RoleNames() {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// subjects lists the distinct subjects across changes, in order.
func subjects(changes []*hookd.RoleChange) []hookd.Subject {
	var out []hookd.Subject
	seen := map[hookd.Subject]bool{}
	for _, rc := range changes {
		if !seen[rc.Subject] {
			seen[rc.Subject] = true
			out = append(out, rc.Subject)
		}
	}
	return out
}

// TestAlertTitle is the title of a test alert, so that nobody takes it for a real change.
const TestAlertTitle = "TEST alert from hookd: no role changed"

// alertTitle is Title for a whole alert: plural when it lists several roles.
func alertTitle(a *Alert) string {
	first := *a.First()
	if len(a.Changes) > 1 {
		names := roleNames(a.Changes)
		first.Roles = make([]hookd.Role, len(names))
		for i, n := range names {
			first.Roles[i] = hookd.Role{Name: n}
		}
	}
	return Title(&first)
}

// tamperTitle says what blinded hookd or hid evidence, "hookd's" when it is its own hook.
func tamperTitle(rc *hookd.RoleChange) string {
	what := map[hookd.SubjectKind]string{hookd.SubjectEventHook: "Okta event hook", hookd.SubjectLogStream: "Okta log stream"}[rc.Subject.Kind]
	if rc.HookdOwn {
		what = "hookd's Okta event hook"
	}
	switch {
	case rc.EventType == "user.session.impersonation.grant":
		return "Okta support impersonation granted"
	case rc.Action == hookd.DeliveryFailed:
		return what + ": deliveries failing"
	case what == "":
		return "Okta change that may blind hookd: " + string(rc.Action)
	}
	return what + " " + string(rc.Action)
}
