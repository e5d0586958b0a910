package alerting

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Rule sends the events it matches to its sinks, or drops them. Every listed criterion must
// match; within one criterion any pattern may match. Patterns are globs (`*`, `?`, `[...]`)
// compared without regard to case.
type Rule struct {
	Name         string
	EventTypes   []string
	Actions      []string
	Roles        []string // matches when any role of the change matches
	SubjectKinds []string
	Outcomes     []string
	Actors       []string // the actor's login, id or display name
	Findings     []string // matches when any finding's id matches: a change without one never does
	Sinks        []string
	Drop         bool
	// Escalate, when set, sends the rule's alerts on to more sinks if nobody decided on
	// their change in time.
	Escalate *Escalation
}

// Escalation is when, and to which sinks, an alert goes on when nobody decided on its change.
type Escalation struct {
	After time.Duration
	Sinks []string
}

// Routes decides where each event goes: the first rule that matches decides; with none
// matching, the event goes to every sink. A sink then drops what is below its minimum
// severity.
type Routes struct {
	Rules       []Rule
	MinSeverity map[string]Severity
	// Severities overrides the severity of a grant per role name (lower case).
	Severities map[string]Severity
}

// Validate checks patterns and sink names against the sinks that exist.
func (rt *Routes) Validate(sinks []string) error {
	if p := rt.problems(sinks); len(p) > 0 {
		return errors.New(strings.Join(p, "\n"))
	}
	return nil
}

// problems lists what is wrong with the rules, each naming its rule.
func (rt *Routes) problems(sinks []string) []string {
	known := map[string]bool{}
	for _, s := range sinks {
		known[s] = true
	}
	var out []string
	for i, r := range rt.Rules {
		where := fmt.Sprintf("routes[%d]", i)
		if r.Name != "" {
			where += " (" + r.Name + ")"
		}
		if r.Drop == (len(r.Sinks) > 0) {
			out = append(out, where+": give either sinks or drop: true")
		}
		for _, s := range r.Sinks {
			if !known[s] {
				out = append(out, fmt.Sprintf("%s: no sink named %q", where, s))
			}
		}
		if e := r.Escalate; e != nil {
			if e.After < time.Second || len(e.Sinks) == 0 || r.Drop {
				out = append(out, where+".escalate: needs after (1s or more) and sinks, on a rule that does not drop")
			}
			for _, s := range e.Sinks {
				if !known[s] {
					out = append(out, fmt.Sprintf("%s.escalate: no sink named %q", where, s))
				}
			}
		}
		for _, list := range [][]string{r.EventTypes, r.Actions, r.Roles, r.SubjectKinds, r.Outcomes, r.Actors, r.Findings} {
			for _, p := range list {
				if _, err := path.Match(strings.ToLower(p), ""); err != nil {
					out = append(out, fmt.Sprintf("%s: pattern %q: %v", where, p, err))
				}
			}
		}
	}
	for s := range rt.MinSeverity {
		if !known[s] {
			out = append(out, fmt.Sprintf("min_severity: no sink named %q", s))
		}
	}
	return out
}

// SeverityOf is the highest severity among the changes.
func (rt *Routes) SeverityOf(changes ...*hookd.RoleChange) Severity {
	var best Severity
	for _, rc := range changes {
		best = max(best, severityOf(rc, rt.Severities))
	}
	return best
}

// SinksFor returns the sinks, among all, that rc is delivered to.
func (rt *Routes) SinksFor(rc *hookd.RoleChange, all []string) []string {
	sinks, _ := rt.decide(rc, all)
	return sinks
}

// decide returns the sinks for rc and, when a rule dropped it, that rule's name (or its
// index, "routes[i]", when it has none).
func (rt *Routes) decide(rc *hookd.RoleChange, all []string) ([]string, string) {
	if rc.FromHookd() {
		return all, "" // hookd's own health reaches every sink, whatever the rules
	}
	i, r := rt.match(rc)
	switch {
	case r == nil:
		return rt.atLeast(rc, all), ""
	case !r.Drop:
		return rt.atLeast(rc, r.Sinks), ""
	case r.Name != "":
		return nil, r.Name
	}
	return nil, fmt.Sprintf("routes[%d]", i)
}

// match returns the first rule that matches rc, and its index; nil when none does.
func (rt *Routes) match(rc *hookd.RoleChange) (int, *Rule) {
	for i := range rt.Rules {
		if rt.Rules[i].matches(rc) {
			return i, &rt.Rules[i]
		}
	}
	return -1, nil
}

// atLeast is sinks but those whose minimum severity rc's alert is below.
func (rt *Routes) atLeast(rc *hookd.RoleChange, sinks []string) []string {
	sev := rt.SeverityOf(rc)
	out := make([]string, 0, len(sinks))
	for _, s := range sinks {
		if min, ok := rt.MinSeverity[s]; ok && sev < min {
			continue
		}
		out = append(out, s)
	}
	return out
}

// EscalationOf is where rc's alert goes on if nobody decides on the change in time: the
// escalation of the rule that routes it, to its sinks that take the alert's severity; nil
// without one.
func (rt *Routes) EscalationOf(rc *hookd.RoleChange) *Escalation {
	if rc.FromHookd() {
		return nil
	}
	_, r := rt.match(rc)
	if r == nil || r.Drop || r.Escalate == nil {
		return nil
	}
	sinks := rt.atLeast(rc, r.Escalate.Sinks)
	if len(sinks) == 0 {
		return nil
	}
	return &Escalation{After: r.Escalate.After, Sinks: sinks}
}

func (r *Rule) matches(rc *hookd.RoleChange) bool {
	roles := rc.RoleNames()
	return anyMatch(r.EventTypes, rc.EventType) &&
		anyMatch(r.Actions, string(rc.Action)) &&
		anyMatch(r.SubjectKinds, string(rc.Subject.Kind)) &&
		anyMatch(r.Outcomes, rc.Outcome.Result) &&
		anyMatch(r.Actors, rc.Actor.Login, rc.Actor.ID, rc.Actor.DisplayName) &&
		anyMatch(r.Roles, roles...) &&
		(len(r.Findings) == 0 || anyMatch(r.Findings, findingIDs(rc)...))
}

func findingIDs(rc *hookd.RoleChange) []string {
	ids := make([]string, len(rc.Findings))
	for i, f := range rc.Findings {
		ids[i] = f.ID
	}
	return ids
}

// anyMatch reports whether no patterns are given, or one of them matches one of values.
func anyMatch(patterns []string, values ...string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		p = strings.ToLower(p)
		for _, v := range values {
			if v == "" {
				continue
			}
			if ok, _ := path.Match(p, strings.ToLower(v)); ok {
				return true
			}
		}
	}
	return false
}
