package detect

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// past is a History held in memory.
type past struct {
	actors   map[string]ActorPast
	holdings map[string][]Holding
	err      error
	reads    int
}

func (p *past) Actors(_ context.Context, asks []ActorAsk) (map[string]ActorPast, error) {
	p.reads++
	out := map[string]ActorPast{}
	for _, ask := range asks {
		a, ok := p.actors[ask.Actor]
		if !ok {
			continue
		}
		got := ActorPast{FirstSeen: a.FirstSeen, Networks: a.Networks, Subjects: map[string]time.Time{}}
		for s, t := range a.Subjects {
			if !t.Before(ask.Since) && len(got.Subjects) < ask.Recent {
				got.Subjects[s] = t
			}
		}
		out[ask.Actor] = got
	}
	return out, p.err
}

func (p *past) Holdings(_ context.Context, subjects []SubjectRef) (map[SubjectRef][]Holding, error) {
	p.reads++
	out := map[SubjectRef][]Holding{}
	for _, ref := range subjects {
		if h, ok := p.holdings[ref.Kind+":"+ref.ID]; ok {
			out[ref] = h
		}
	}
	return out, p.err
}

var t0 = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC) // a Tuesday

func change(id string, at time.Duration, actor, subject string, action hookd.Action, role string) *hookd.RoleChange {
	return &hookd.RoleChange{
		EventID: id, Published: t0.Add(at), Category: hookd.WorkflowsRole, Action: action,
		Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: subject, DisplayName: subject},
		Roles:   []hookd.Role{{Name: role, ID: "r-" + role}},
		Actor:   hookd.Ref{ID: actor, DisplayName: actor}, Outcome: hookd.Outcome{Result: "SUCCESS"},
		Client: hookd.ClientInfo{Country: "United States"}, Network: hookd.Network{ASN: 64496},
	}
}

func ids(rc *hookd.RoleChange) []string {
	var out []string
	for _, f := range rc.Findings {
		out = append(out, f.ID)
	}
	return out
}

func TestSelfGrantIsCriticalOnlyForAPrivilegedRole(t *testing.T) {
	s := Settings{SelfGrant: true}
	admin := change("a", 0, "u1", "u1", hookd.Granted, "Workflows Administrator")
	reader := change("b", time.Minute, "u2", "u2", hookd.Granted, "Folder Reader")
	revoke := change("c", 2*time.Minute, "u3", "u3", hookd.Revoked, "Workflows Administrator")
	other := change("d", 3*time.Minute, "u4", "u5", hookd.Granted, "Workflows Administrator")
	_, err := s.Detect(context.Background(), &past{}, []*hookd.RoleChange{admin, reader, revoke, other})
	require.NoError(t, err)
	require.Equal(t, []string{hookd.FindingSelfGrant}, ids(admin))
	assert.Equal(t, "critical", admin.Findings[0].Severity)
	require.Equal(t, []string{hookd.FindingSelfGrant}, ids(reader))
	assert.Equal(t, "high", reader.Findings[0].Severity)
	assert.Empty(t, ids(revoke), "taking a role from oneself is no escalation")
	assert.Empty(t, ids(other))
}

func TestShortLivedFromTheLedgerAndFromTheBatch(t *testing.T) {
	s := Settings{ShortLived: time.Hour}
	h := &past{holdings: map[string][]Holding{"user:bob": {{Role: "r-Folder Editor", RoleName: "Folder Editor", Held: true, At: t0.Add(-50 * time.Minute), By: "alice"}}}}
	fromLedger := change("a", 0, "alice", "bob", hookd.Revoked, "Folder Editor")
	grant := change("b", time.Minute, "alice", "carol", hookd.Granted, "Folder Editor")
	revoke := change("c", 59*time.Minute, "alice", "carol", hookd.Revoked, "Folder Editor")
	lateGrant := change("d", 2*time.Hour, "alice", "dave", hookd.Granted, "Folder Editor")
	lateRevoke := change("e", 3*time.Hour, "alice", "dave", hookd.Revoked, "Folder Editor")
	// Handed over in any order: the batch is read in Okta's order.
	_, err := s.Detect(context.Background(), h, []*hookd.RoleChange{lateRevoke, revoke, lateGrant, fromLedger, grant})
	require.NoError(t, err)
	assert.Equal(t, []string{hookd.FindingShortLived}, ids(fromLedger))
	assert.Contains(t, fromLedger.Findings[0].Detail, "bob held Folder Editor for only 50 minutes")
	assert.Equal(t, []string{hookd.FindingShortLived}, ids(revoke))
	assert.Contains(t, revoke.Findings[0].Detail, "for only 58 minutes")
	assert.Empty(t, ids(lateRevoke), "held an hour: not short-lived")
	assert.Empty(t, ids(grant))
}

func TestFreshGranterNeedsAPrivilegedRoleWithinTheWindow(t *testing.T) {
	s := Settings{FreshGranter: 24 * time.Hour}
	h := &past{holdings: map[string][]Holding{
		"user:old":    {{Role: "x", RoleName: "Workflows Administrator", Privileged: true, Held: true, At: t0.Add(-25 * time.Hour)}},
		"user:reader": {{Role: "y", RoleName: "Folder Reader", Held: true, At: t0.Add(-time.Hour)}},
		"user:gone":   {{Role: "x", RoleName: "Workflows Administrator", Privileged: true, Held: false, At: t0.Add(-time.Hour)}},
	}}
	made := change("a", 0, "alice", "gina", hookd.Granted, "Workflows Administrator")
	byGina := change("b", 40*time.Minute, "gina", "hank", hookd.Granted, "Folder Reader")
	byOld := change("c", time.Minute, "old", "hank", hookd.Granted, "Folder Reader")
	byReader := change("d", time.Minute, "reader", "hank", hookd.Granted, "Folder Reader")
	byGone := change("e", time.Minute, "gone", "hank", hookd.Granted, "Folder Reader")
	_, err := s.Detect(context.Background(), h, []*hookd.RoleChange{byGina, made, byOld, byReader, byGone})
	require.NoError(t, err)
	assert.Equal(t, []string{hookd.FindingFreshGranter}, ids(byGina))
	assert.Contains(t, byGina.Findings[0].Detail, "gina received Workflows Administrator 40 minutes before this grant")
	assert.Empty(t, ids(byOld))
	assert.Empty(t, ids(byReader), "Folder Reader is no privileged role")
	assert.Empty(t, ids(byGone), "the role was taken back before")
	assert.Empty(t, ids(made))
}

func TestNewNetworkOnlyWithTwoWeeksOfHistory(t *testing.T) {
	s := Settings{NewNetwork: true, NewNetworkHistory: 14 * 24 * time.Hour}
	h := &past{actors: map[string]ActorPast{
		"dana":   {FirstSeen: t0.Add(-20 * 24 * time.Hour), Networks: map[string]time.Time{"country:United States": t0.Add(-20 * 24 * time.Hour), "asn:64496": t0.Add(-20 * 24 * time.Hour)}},
		"newbie": {FirstSeen: t0.Add(-3 * 24 * time.Hour), Networks: map[string]time.Time{"country:United States": t0.Add(-3 * 24 * time.Hour)}},
	}}
	home := change("a", 0, "dana", "x", hookd.Granted, "Folder Reader")
	away := change("b", time.Minute, "dana", "y", hookd.Granted, "Folder Reader")
	away.Client.Country, away.Network.ASN = "Romania", 64511
	again := change("c", 2*time.Minute, "dana", "z", hookd.Granted, "Folder Reader")
	again.Client.Country, again.Network.ASN = "Romania", 64511
	newbie := change("d", 0, "newbie", "x", hookd.Granted, "Folder Reader")
	newbie.Client.Country = "Romania"
	_, err := s.Detect(context.Background(), h, []*hookd.RoleChange{again, newbie, away, home})
	require.NoError(t, err)
	assert.Empty(t, ids(home))
	assert.Equal(t, []string{hookd.FindingNewNetwork}, ids(away))
	assert.Contains(t, away.Findings[0].Detail, "from country Romania and AS64511")
	assert.Empty(t, ids(again), "seen a minute before, in the same batch")
	assert.Empty(t, ids(newbie), "three days of history is too little to judge")
}

func TestBurstFiresOncePerBurst(t *testing.T) {
	s := Settings{BurstSubjects: 5, BurstWindow: 10 * time.Minute}
	// Two subjects already changed in the window, one long before.
	h := &past{actors: map[string]ActorPast{"paul": {FirstSeen: t0.Add(-time.Hour),
		Subjects: map[string]time.Time{"user:s1": t0.Add(-2 * time.Minute), "user:s2": t0.Add(-time.Minute), "user:old": t0.Add(-time.Hour)}}}}
	var batch []*hookd.RoleChange
	for i := 3; i <= 9; i++ {
		batch = append(batch, change(fmt.Sprint(i), time.Duration(i)*time.Second, "paul", fmt.Sprintf("s%d", i), hookd.Granted, "Folder Reader"))
	}
	// The same subject again, within the burst: not a new subject.
	batch = append(batch, change("again", 20*time.Second, "paul", "s3", hookd.Revoked, "Folder Reader"))
	facts, err := s.Detect(context.Background(), h, batch)
	require.NoError(t, err)
	var fired []string
	for _, rc := range batch {
		if len(rc.Findings) > 0 {
			fired = append(fired, rc.EventID)
		}
	}
	assert.Equal(t, []string{"6"}, fired, "the sixth subject in ten minutes crosses the line, once")
	assert.Contains(t, batch[3].Findings[0].Detail, "paul has changed roles for 6 subjects within 10 minutes (more than 5)")
	// The facts say what to remember, in key order.
	var subjects []string
	for _, f := range facts {
		assert.Equal(t, "paul", f.Actor)
		if f.Kind == "subject" {
			subjects = append(subjects, f.Value)
		}
	}
	assert.Equal(t, []string{"user:s3", "user:s4", "user:s5", "user:s6", "user:s7", "user:s8", "user:s9"}, subjects)
}

func TestOffHours(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	hours := &Hours{Location: ny, Start: 9 * time.Hour, End: 18 * time.Hour,
		Days: [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true}}
	assert.Equal(t, "Mon,Tue,Wed,Thu,Fri 09:00-18:00 America/New_York", hours.String())
	for at, outside := range map[string]bool{
		"2026-11-24T14:00:00Z": false, // Tuesday 09:00 EST: the first minute in
		"2026-11-24T13:59:59Z": true,
		"2026-11-24T22:59:59Z": false,
		"2026-11-24T23:00:00Z": true, // 18:00 EST
		"2026-11-22T16:00:00Z": true, // Sunday
	} {
		ts, err := time.Parse(time.RFC3339, at)
		require.NoError(t, err)
		assert.Equal(t, outside, hours.Outside(ts), at)
	}
}

func TestStaleFindingsAreClearedAndErrorsReturned(t *testing.T) {
	rc := change("a", 0, "u1", "u2", hookd.Granted, "Folder Reader")
	rc.Findings = []hookd.Finding{{ID: "burst"}}
	_, err := Settings{}.Detect(context.Background(), &past{}, []*hookd.RoleChange{rc})
	require.NoError(t, err)
	assert.Empty(t, rc.Findings, "findings are computed anew, never carried over")

	failed := change("b", 0, "u1", "u1", hookd.Granted, "Workflows Administrator")
	failed.Outcome.Result = "FAILURE"
	_, err = Defaults().Detect(context.Background(), &past{}, []*hookd.RoleChange{failed})
	require.NoError(t, err)
	assert.Empty(t, failed.Findings, "a failed attempt changed nobody's roles")

	broken := errors.New("database gone")
	_, err = Defaults().Detect(context.Background(), &past{err: broken}, []*hookd.RoleChange{change("c", 0, "u1", "u2", hookd.Granted, "x")})
	assert.ErrorIs(t, err, broken)
}

func TestHistoryIsReadOncePerActorAndSubject(t *testing.T) {
	h := &past{}
	var batch []*hookd.RoleChange
	for i := range 100 {
		batch = append(batch, change(fmt.Sprint(i), time.Duration(i)*time.Millisecond, "load", "same", hookd.Granted, "Folder Reader"))
	}
	_, err := Defaults().Detect(context.Background(), h, batch)
	require.NoError(t, err)
	assert.Equal(t, 2, h.reads, "one read of the actors, one of the holdings, for the whole batch")
}

func TestBurstReadsOnlyTheLatestFewSubjects(t *testing.T) {
	s := Settings{BurstSubjects: 5, BurstWindow: 10 * time.Minute}
	busy := ActorPast{FirstSeen: t0.Add(-time.Hour), Subjects: map[string]time.Time{}}
	for i := range 40 {
		busy.Subjects[fmt.Sprintf("user:old%d", i)] = t0.Add(-time.Duration(i+1) * time.Second)
	}
	busy.Networks = map[string]time.Time{"country:United States": t0.Add(-time.Hour), "asn:64496": t0.Add(-time.Hour)}
	h := &past{actors: map[string]ActorPast{"paul": busy}}
	next := change("next", 0, "paul", "fresh", hookd.Granted, "Folder Reader")
	facts, err := s.Detect(context.Background(), h, []*hookd.RoleChange{next})
	require.NoError(t, err)
	assert.Empty(t, ids(next), "forty subjects in the window already: this is no longer the line being crossed")
	var written []string
	for _, f := range facts {
		written = append(written, f.Kind+"/"+f.Value)
	}
	assert.Equal(t, []string{"subject/user:fresh"}, written,
		"only what changes the store: a new subject; the actor and its network are stored already")
}
