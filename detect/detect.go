// Package detect names the role changes that look like an attack: a self-grant, a role held
// for minutes, a granter only just made privileged, an actor on a network never seen for them,
// a burst of changes, a change outside business hours. It reads what the store knows of the
// past through History and says what the store must remember of the batch (Facts); it keeps
// no state of its own, so findings hold across restarts and replicas.
package detect

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// Settings switch the detections on and tune them. The zero value detects nothing; Defaults
// is what hookd runs with unless configured.
type Settings struct {
	// SelfGrant finds an actor granting a role to themselves.
	SelfGrant bool
	// ShortLived finds the revoke of a role granted less than this before (0: off).
	ShortLived time.Duration
	// FreshGranter finds a grant by an actor who received a privileged role less than this
	// before (0: off).
	FreshGranter time.Duration
	// NewNetwork finds a change from a country or ASN not seen in the actor's earlier changes,
	// once the actor's history is at least NewNetworkHistory long.
	NewNetwork        bool
	NewNetworkHistory time.Duration
	// BurstSubjects and BurstWindow find one actor changing roles for more than BurstSubjects
	// subjects within BurstWindow (0 subjects: off); the finding is on the change that crosses
	// the line, once per burst.
	BurstSubjects int
	BurstWindow   time.Duration
	// OffHours, when set, finds changes outside business hours.
	OffHours *Hours
}

// Defaults are the detections on out of the box: all but off-hours, which needs to know the
// team's hours.
func Defaults() Settings {
	return Settings{
		SelfGrant: true, ShortLived: time.Hour, FreshGranter: 24 * time.Hour,
		NewNetwork: true, NewNetworkHistory: 14 * 24 * time.Hour,
		BurstSubjects: 5, BurstWindow: 10 * time.Minute,
	}
}

// Any reports whether any detection is on.
func (s Settings) Any() bool {
	return s.SelfGrant || s.ShortLived > 0 || s.FreshGranter > 0 || s.NewNetwork || s.BurstSubjects > 0 || s.OffHours != nil
}

// Hours are a team's business hours: from Start to End (times of day) on Days, in Location.
type Hours struct {
	Location   *time.Location
	Start, End time.Duration
	Days       [7]bool // by time.Weekday
}

// Outside reports whether t is outside the hours.
func (h *Hours) Outside(t time.Time) bool {
	local := t.In(h.Location)
	if !h.Days[local.Weekday()] {
		return true
	}
	of := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second
	return of < h.Start || of >= h.End
}

// String is the hours as configured: "Mon-Fri 09:00-18:00 America/New_York".
func (h *Hours) String() string {
	var days []string
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		if h.Days[d] {
			days = append(days, d.String()[:3])
		}
	}
	clock := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return fmt.Sprintf("%s %s-%s %s", strings.Join(days, ","), clock(h.Start), clock(h.End), h.Location)
}

// History is what the store knew before the batch, read for the whole batch at once (a
// round trip per actor would cost a Postgres commit dearly). Keys are as hook gives them
// (ActorKey, SubjectKey, Role.Key).
type History interface {
	// Actors reads each asked actor's past: when first seen changing roles, when each
	// country and ASN was first seen for them, and the Recent subjects they changed last, at
	// or after Since, each with the latest time. Actors never seen are left out.
	Actors(ctx context.Context, asks []ActorAsk) (map[string]ActorPast, error)
	// Holdings reads the ledger's rows of the subjects, every role.
	Holdings(ctx context.Context, subjects []SubjectRef) (map[SubjectRef][]Holding, error)
}

// ActorAsk names an actor whose past a batch needs, from when their subjects count, and how
// many of the latest are needed (0: none).
type ActorAsk struct {
	Actor  string
	Since  time.Time
	Recent int
}

// SubjectRef names a user or group.
type SubjectRef struct{ Kind, ID string }

// ActorPast is an actor's history of role changes.
type ActorPast struct {
	// FirstSeen is their earliest change (zero: none).
	FirstSeen time.Time
	// Networks maps each network ("country:…", "asn:…") to when it was first seen.
	Networks map[string]time.Time
	// Subjects maps "kind:id" to the latest change for that subject.
	Subjects map[string]time.Time
}

// Holding is the ledger's newest event about one role of one subject, by one path: in its
// own name (Via empty) or through a group (Via the group's id). A role held directly and
// through a group is two holdings, each revoked on its own.
type Holding struct {
	Role       string // Role.Key
	Via        string
	RoleName   string
	Privileged bool
	Held       bool
	At         time.Time
	By         string
}

// Fact is what the store keeps of an actor for later batches: the first and latest time of
// an actor ("actor", ""), a network ("country", "asn") or a subject ("subject", "kind:id").
type Fact struct {
	Actor, Kind, Value string
	First, Last        time.Time
}

// Detect sets the findings of each change (and clears stale ones) and returns the facts the
// store must keep. Changes are read in Okta's published order, each seeing those before it,
// in the batch and in History; a change that is not a successful grant or revoke gets none.
func (s Settings) Detect(ctx context.Context, h History, changes []*hookd.RoleChange) ([]Fact, error) {
	for _, rc := range changes {
		rc.Findings = nil
	}
	if !s.Any() {
		return nil, nil
	}
	order := inOrder(changes)
	if len(order) == 0 {
		return nil, nil
	}
	r := newRun(s)
	if err := r.load(ctx, h, order); err != nil {
		return nil, err
	}
	for _, rc := range order {
		r.one(rc)
	}
	return r.facts(), nil
}

// inOrder is the changes detection reads (successful grants and revokes with an actor) in
// Okta's published order, uuid breaking ties.
func inOrder(changes []*hookd.RoleChange) []*hookd.RoleChange {
	order := make([]*hookd.RoleChange, 0, len(changes))
	for _, rc := range changes {
		if rc.ChangesAccess() && rc.ActorKey() != "" {
			order = append(order, rc)
		}
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if !a.Published.Equal(b.Published) {
			return a.Published.Before(b.Published)
		}
		return a.EventID < b.EventID
	})
	return order
}

// run is one batch's detection: the past read from History once, and the batch's own
// changes added to it as they are read.
type run struct {
	s      Settings
	actors map[string]*actorState
	// past holds the ledger's rows as read, and batch the batch's own effect on the ledger;
	// both per "kind:id", by role key.
	past, batch map[string]map[string]Holding
}

func newRun(s Settings) *run {
	return &run{s: s, actors: map[string]*actorState{}, past: map[string]map[string]Holding{}, batch: map[string]map[string]Holding{}}
}

type actorState struct {
	firstSeen time.Time
	nets      map[string]time.Time
	subjects  map[string]time.Time
	// facts are the batch's first and latest time per (kind, value); stored, what the store
	// held of them before the batch, as read.
	facts  map[[2]string][2]time.Time
	stored map[[2]string]time.Time
}

func newActorState() *actorState {
	return &actorState{nets: map[string]time.Time{}, subjects: map[string]time.Time{}, facts: map[[2]string][2]time.Time{},
		stored: map[[2]string]time.Time{}}
}

// load reads, in two calls, the past of every actor in the batch and the ledger rows of the
// subjects whose revokes it reads and of the actors whose grants it reads.
func (r *run) load(ctx context.Context, h History, order []*hookd.RoleChange) error {
	var asks []ActorAsk
	asked := map[string]bool{}
	var subjects []SubjectRef
	wanted := map[SubjectRef]bool{}
	want := func(ref SubjectRef) {
		if !wanted[ref] {
			wanted[ref] = true
			subjects = append(subjects, ref)
		}
	}
	for _, rc := range order {
		if key := rc.ActorKey(); !asked[key] {
			asked[key] = true
			// A burst needs to know whether more than BurstSubjects others were changed in
			// the window: the latest BurstSubjects+2 tell, whoever the subject is.
			recent := 0
			if r.s.BurstSubjects > 0 {
				recent = r.s.BurstSubjects + 2
			}
			asks = append(asks, ActorAsk{Actor: key, Since: rc.Published.Add(-r.s.BurstWindow), Recent: recent})
		}
		if rc.Action == hookd.Revoked && r.s.ShortLived > 0 {
			want(SubjectRef{string(rc.Subject.Kind), rc.SubjectKey()})
		}
		if rc.Action == hookd.Granted && r.s.FreshGranter > 0 && rc.Actor.ID != "" {
			want(SubjectRef{string(hookd.SubjectUser), rc.Actor.ID})
		}
	}
	pasts, err := h.Actors(ctx, asks)
	if err != nil {
		return err
	}
	for _, ask := range asks {
		a := newActorState()
		if p, ok := pasts[ask.Actor]; ok {
			a.firstSeen = p.FirstSeen
			a.stored[[2]string{"actor", ""}] = p.FirstSeen
			for k, v := range p.Networks {
				a.nets[k] = v
				kind, value, _ := strings.Cut(k, ":")
				a.stored[[2]string{kind, value}] = v
			}
			for k, v := range p.Subjects {
				a.subjects[k] = v
				a.stored[[2]string{"subject", k}] = v
			}
		}
		r.actors[ask.Actor] = a
	}
	if len(subjects) == 0 {
		return nil
	}
	rows, err := h.Holdings(ctx, subjects)
	if err != nil {
		return err
	}
	for ref, hs := range rows {
		m := map[string]Holding{}
		for _, x := range hs {
			m[pathKey(x.Role, x.Via)] = x
		}
		r.past[ref.Kind+":"+ref.ID] = m
	}
	return nil
}

func netsOf(rc *hookd.RoleChange) []string {
	var out []string
	if c := strings.TrimSpace(rc.Client.Country); c != "" {
		out = append(out, "country:"+c)
	}
	if rc.Network.ASN != 0 {
		out = append(out, "asn:"+strconv.FormatInt(rc.Network.ASN, 10))
	}
	return out
}

func subjectOf(rc *hookd.RoleChange) string { return string(rc.Subject.Kind) + ":" + rc.SubjectKey() }

// holdings is what the ledger says of a subject before the change being read: per role, the
// newer of the stored row and the batch's own.
func (r *run) holdings(subject string) map[string]Holding {
	out := map[string]Holding{}
	for k, v := range r.past[subject] {
		out[k] = v
	}
	for k, v := range r.batch[subject] {
		if o, ok := out[k]; !ok || v.At.After(o.At) {
			out[k] = v
		}
	}
	return out
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// one reads one change against what came before it, then adds it to the past.
func (r *run) one(rc *hookd.RoleChange) {
	a := r.actors[rc.ActorKey()]
	t := rc.Published
	actor := cmp.Or(rc.Actor.DisplayName, rc.Actor.Login, rc.Actor.ID)
	subject := cmp.Or(rc.Subject.DisplayName, rc.Subject.Login, rc.Subject.ID)
	roles := strings.Join(rc.RoleNames(), ", ")
	if roles == "" {
		roles = "a role"
	}
	privileged := false
	for _, role := range rc.Roles {
		privileged = privileged || hookd.Privileged(rc.Category, role)
	}
	granted := rc.Action == hookd.Granted

	if r.s.SelfGrant && granted && rc.Subject.Kind == hookd.SubjectUser && r.self(rc) {
		sev := "high"
		if privileged {
			sev = "critical"
		}
		rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingSelfGrant, Title: "Self-grant", Severity: sev,
			Detail: fmt.Sprintf("%s granted %s to themselves: no second person was involved.", actor, roles)})
	}

	if r.s.ShortLived > 0 && !granted {
		subjectHoldings := r.holdings(subjectOf(rc))
		for _, role := range rc.Roles {
			h, ok := subjectHoldings[pathKey(role.Key(), viaOf(rc))]
			if !ok || !h.Held || !h.At.Before(t) || t.Sub(h.At) >= r.s.ShortLived {
				continue
			}
			rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingShortLived, Title: "Short-lived grant", Severity: "high",
				Detail: fmt.Sprintf("%s held %s for only %s: granted %s by %s, revoked by %s. A role given and taken back quickly is the trace a temporary escalation leaves.",
					subject, cmp.Or(role.Name, h.RoleName), span(t.Sub(h.At)), stamp(h.At), cmp.Or(h.By, "(unknown)"), actor)})
			break
		}
	}

	if r.s.FreshGranter > 0 && granted && rc.Actor.ID != "" {
		mine := r.holdings(string(hookd.SubjectUser) + ":" + rc.Actor.ID)
		var fresh *Holding
		for _, h := range mine {
			if h.Held && h.Privileged && h.At.Before(t) && t.Sub(h.At) < r.s.FreshGranter && (fresh == nil || h.At.After(fresh.At)) {
				fresh = &h
			}
		}
		if fresh != nil {
			rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingFreshGranter, Title: "Granter only just made privileged", Severity: "high",
				Detail: fmt.Sprintf("%s received %s %s before this grant (%s, by %s) and is already handing out roles.",
					actor, fresh.RoleName, span(t.Sub(fresh.At)), stamp(fresh.At), cmp.Or(fresh.By, "(unknown)"))})
		}
	}

	if r.s.NewNetwork && !a.firstSeen.IsZero() && t.Sub(a.firstSeen) >= r.s.NewNetworkHistory {
		var fresh []string
		for _, n := range netsOf(rc) {
			if first, ok := a.nets[n]; !ok || first.IsZero() || !first.Before(t) {
				fresh = append(fresh, strings.Replace(strings.Replace(n, "country:", "country ", 1), "asn:", "AS", 1))
			}
		}
		if len(fresh) > 0 {
			rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingNewNetwork, Title: "New network for this actor", Severity: "high",
				Detail: fmt.Sprintf("%s changed roles from %s, not seen in their role changes since %s.",
					actor, strings.Join(fresh, " and "), stamp(a.firstSeen))})
		}
	}

	if r.s.BurstSubjects > 0 {
		me := subjectOf(rc)
		others := 0
		inWindow := false
		for s, last := range a.subjects {
			if last.Before(t) && t.Sub(last) <= r.s.BurstWindow {
				if s == me {
					inWindow = true
				} else {
					others++
				}
			}
		}
		if !inWindow && others == r.s.BurstSubjects {
			rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingBurst, Title: "Burst of role changes", Severity: "high",
				Detail: fmt.Sprintf("%s has changed roles for %d subjects within %s (more than %d); this alert stands for the burst, later changes in it are not flagged again.",
					actor, others+1, span(r.s.BurstWindow), r.s.BurstSubjects)})
		}
	}

	if h := r.s.OffHours; h != nil && h.Outside(t) {
		rc.Findings = append(rc.Findings, hookd.Finding{ID: hookd.FindingOffHours, Title: "Outside business hours", Severity: "high",
			Detail: fmt.Sprintf("%s made this change at %s, outside business hours (%s).",
				actor, t.In(h.Location).Format("Monday 15:04 MST"), h)})
	}

	r.remember(a, rc)
}

// self reports whether the actor is the subject, by id or, failing that, by login.
func (r *run) self(rc *hookd.RoleChange) bool {
	if rc.Actor.ID != "" && rc.Subject.ID != "" {
		return rc.Actor.ID == rc.Subject.ID
	}
	return rc.Actor.Login != "" && strings.EqualFold(rc.Actor.Login, rc.Subject.Login)
}

// remember adds the change to the actor's past and the ledger's, for the changes after it.
func (r *run) remember(a *actorState, rc *hookd.RoleChange) {
	t := rc.Published
	a.firstSeen = earliest(a.firstSeen, t)
	note := func(kind, value string) {
		f, ok := a.facts[[2]string{kind, value}]
		if !ok {
			f = [2]time.Time{t, t}
		}
		a.facts[[2]string{kind, value}] = [2]time.Time{earliest(f[0], t), later(f[1], t)}
	}
	note("actor", "")
	for _, n := range netsOf(rc) {
		a.nets[n] = earliest(a.nets[n], t)
		kind, value, _ := strings.Cut(n, ":")
		note(kind, value)
	}
	me := subjectOf(rc)
	a.subjects[me] = later(a.subjects[me], t)
	note("subject", me)

	m := r.batch[me]
	if m == nil {
		m = map[string]Holding{}
		r.batch[me] = m
	}
	for _, role := range rc.Roles {
		k := pathKey(role.Key(), viaOf(rc))
		if h, ok := m[k]; ok && !t.After(h.At) {
			continue
		}
		m[k] = Holding{Role: role.Key(), Via: viaOf(rc), RoleName: cmp.Or(role.Name, role.ID), Privileged: hookd.Privileged(rc.Category, role),
			Held: rc.Action == hookd.Granted, At: t, By: cmp.Or(rc.Actor.DisplayName, rc.Actor.Login, rc.Actor.ID)}
	}
}

// pathKey keys a holding by its role and the group it comes through.
func pathKey(role, via string) string { return role + "\x00" + via }

// viaOf is the id of the group a change's roles come through, or "" for a direct change.
func viaOf(rc *hookd.RoleChange) string {
	if rc.Via == nil {
		return ""
	}
	return rc.Via.ID
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// facts lists what the batch adds to the actors' past, sorted, so that concurrent commits
// (Postgres) write rows in the same order.
//
// Only facts that change what is stored are written: an earlier first sighting of an actor or
// network (their latest is never read), and a subject's latest change when it is a minute or
// more past the stored one. A busy actor thus writes a row a minute, not one per commit.
func (r *run) facts() []Fact {
	var out []Fact
	for actor, a := range r.actors {
		for k, f := range a.facts {
			stored, known := a.stored[k]
			switch {
			case !known:
			case k[0] == "subject" && f[1].Sub(stored) >= subjectGrain:
			case k[0] != "subject" && f[0].Before(stored):
			default:
				continue
			}
			out = append(out, Fact{Actor: actor, Kind: k[0], Value: k[1], First: f[0], Last: f[1]})
		}
	}
	slices.SortFunc(out, func(a, b Fact) int {
		return cmp.Or(cmp.Compare(a.Actor, b.Actor), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Value, b.Value))
	})
	return out
}

// subjectGrain is how precisely the store keeps when an actor last changed a subject's roles:
// the burst window is minutes long.
const subjectGrain = time.Minute

// span is a duration as a person says it: "12 minutes", "3 hours 5 minutes", "40 seconds".
func span(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return plural(int(d.Seconds()), "second")
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute")
	}
	s := plural(int(d.Hours()), "hour")
	if m := int(d.Minutes()) % 60; m > 0 {
		s += " " + plural(m, "minute")
	}
	return s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// Remember is the facts the changes add to what detection remembers of actors, without
// reading the past or finding anything: for history that is imported, not alerted.
func Remember(changes []*hookd.RoleChange) []Fact {
	r := newRun(Settings{})
	for _, rc := range inOrder(changes) {
		a, ok := r.actors[rc.ActorKey()]
		if !ok {
			a = newActorState()
			r.actors[rc.ActorKey()] = a
		}
		r.remember(a, rc)
	}
	return r.facts()
}
