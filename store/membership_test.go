package store

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)

// groupGrant is a Workflows role (or, with privilege, an admin privilege) given to a group.
func groupGrant(id, group, role string, at time.Time, privilege bool) hookd.RoleChange {
	rc := hookd.RoleChange{EventID: id, EventType: hook.WorkflowsGroupRoleAdd, Published: at, Category: hookd.WorkflowsRole,
		Action: hookd.Granted, Source: hookd.SourceSystemLog, TransactionID: "tx-" + id,
		Subject: hookd.Subject{Kind: hookd.SubjectGroup, ID: group, DisplayName: "Group " + group},
		Roles:   []hookd.Role{{Name: role}}, Actor: hookd.Ref{ID: "00uAdmin", Login: "admin@acme.example", DisplayName: "Admin"},
		Raw: []byte(`{"uuid":"` + id + `"}`)}
	if privilege {
		rc.EventType, rc.Category = "group.privilege.grant", hookd.AdminPrivilege
	}
	return rc
}

// joins is a user joining (or, with leave, leaving) a group, by actor.
func joins(id, user, group, actor string, at time.Time, leave bool) hookd.RoleChange {
	rc := hookd.RoleChange{EventID: id, EventType: hookd.GroupMembershipAdd, Published: at, Category: hookd.Membership,
		Action: hookd.Granted, Source: hookd.SourceHook, TransactionID: "tx-" + id, Roles: []hookd.Role{},
		Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: user, DisplayName: "User " + user, Login: user + "@acme.example"},
		Via:     &hookd.Ref{ID: group, Type: "UserGroup", DisplayName: "Group " + group},
		Actor:   hookd.Ref{ID: actor, Login: actor + "@acme.example", DisplayName: "User " + actor},
		Raw:     []byte(`{"uuid":"` + id + `"}`)}
	if leave {
		rc.EventType, rc.Action = hookd.GroupMembershipRemove, hookd.Revoked
	}
	return rc
}

// counts is an accept result without its counts by type, for comparing with a literal.
func counts(r hookd.AcceptResult) hookd.AcceptResult {
	r.AcceptedByType = nil
	return r
}

func findingIDs(rc *hookd.RoleChange) []string {
	var out []string
	for _, f := range rc.Findings {
		out = append(out, f.ID)
	}
	return out
}

// A user joining a group that holds a watched role gets the role: the membership is stored
// and alerted as a grant of the group's roles through the group, with every detection; a
// group that holds nothing gives nothing; leaving takes the roles back.
func TestMembershipOfARoleHoldingGroupIsARoleChange(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			o := b.fresh(t)
			o.Sinks, o.Detect = []string{"webhook"}, detectSettings(t)
			st := open(t, o)
			ctx := context.Background()
			accept := func(rcs ...hookd.RoleChange) hookd.AcceptResult {
				res, err := st.Accept(ctx, rcs)
				require.NoError(t, err)
				return res
			}
			change := func(id string) adminapi.Change {
				c, err := st.Change(ctx, id)
				require.NoError(t, err, id)
				return c
			}

			assert.Equal(t, 1, accept(groupGrant("g1", "00gFlow", "Connection Manager", t0, false)).Accepted)
			assert.Equal(t, 1, accept(groupGrant("g2", "00gAdmins", "Super Administrator", t0, true)).Accepted)

			// Mallory adds herself to Flow Builders: a self-granted Workflows role.
			res := accept(joins("m1", "00uMallory", "00gFlow", "00uMallory", t0.Add(time.Hour), false))
			assert.Equal(t, hookd.AcceptResult{Accepted: 1}, counts(res))
			c := change("m1")
			assert.Equal(t, hookd.WorkflowsRole, c.Record.Category)
			assert.Equal(t, []string{"Connection Manager"}, c.Record.RoleNames())
			require.NotNil(t, c.Record.Via)
			assert.Equal(t, "00gFlow", c.Record.Via.ID)
			assert.Contains(t, findingIDs(c.Record), hookd.FindingSelfGrant)
			require.Len(t, c.Deliveries, 1, "alerted like any grant")
			assert.Equal(t, "webhook", c.Deliveries[0].Sink)

			// Joining a group that holds nothing is not a role change.
			res = accept(joins("m2", "00uBob", "00gNothing", "00uAdmin", t0.Add(time.Hour), false))
			assert.Equal(t, hookd.AcceptResult{NotWatched: 1}, counts(res))
			_, err := st.Change(ctx, "m2")
			assert.ErrorIs(t, err, adminapi.ErrNotFound)
			assert.Equal(t, hookd.AcceptResult{NotWatched: 1}, counts(accept(joins("m2", "00uBob", "00gNothing", "00uAdmin", t0.Add(time.Hour), false))),
				"and its redelivery neither")

			// Joining the admins' group: the admin privilege.
			accept(joins("m3", "00uBob", "00gAdmins", "00uAdmin", t0.Add(2*time.Hour), false))
			c = change("m3")
			assert.Equal(t, hookd.AdminPrivilege, c.Record.Category)
			assert.Equal(t, []string{"Super Administrator"}, c.Record.RoleNames())
			assert.NotContains(t, findingIDs(c.Record), hookd.FindingSelfGrant, "an admin added Bob")

			// Holders per member, with the group they hold the role through.
			holders, err := st.Holders(ctx, "")
			require.NoError(t, err)
			via := map[string]string{}
			for _, h := range holders {
				if h.Via != "" {
					via[h.SubjectID+" "+h.Role] = h.Via
				}
			}
			assert.Equal(t, map[string]string{"00uMallory Connection Manager": "Group 00gFlow", "00uBob Super Administrator": "Group 00gAdmins"}, via)

			// Mallory leaves ten minutes later: revoked through the group, and short-lived.
			accept(joins("m4", "00uMallory", "00gFlow", "00uMallory", t0.Add(time.Hour+10*time.Minute), true))
			c = change("m4")
			assert.Equal(t, hookd.Revoked, c.Record.Action)
			assert.Equal(t, []string{"Connection Manager"}, c.Record.RoleNames())
			assert.Contains(t, findingIDs(c.Record), hookd.FindingShortLived)
			holders, err = st.Holders(ctx, "Connection*")
			require.NoError(t, err)
			for _, h := range holders {
				assert.NotEqual(t, "00uMallory", h.SubjectID, "the leaver holds nothing any more")
			}

			// A redelivery, or the System Log's copy, is a duplicate.
			copyOf := joins("m3", "00uBob", "00gAdmins", "00uAdmin", t0.Add(2*time.Hour), false)
			copyOf.Source = hookd.SourceSystemLog
			assert.Equal(t, hookd.AcceptResult{Duplicates: 1}, counts(accept(copyOf)))

			// A group gaining a role names its members, who then hold it through the group.
			accept(groupGrant("g3", "00gAdmins", "Folder Editor", t0.Add(3*time.Hour), false))
			c = change("g3")
			assert.Equal(t, 1, c.Record.MemberCount)
			require.Len(t, c.Record.Members, 1)
			assert.Equal(t, "00uBob", c.Record.Members[0].ID)
			holders, err = st.Holders(ctx, "Folder Editor")
			require.NoError(t, err)
			require.Len(t, holders, 2, "the group and its member")
		})
	}
}

// The holdings through a group follow the group: a role it loses, its members lose; a user
// who holds a role directly and through a group keeps the direct one on leaving.
func TestRolesThroughAGroupFollowTheGroup(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			ctx := context.Background()
			direct := record("d1")
			direct.Subject.ID, direct.Roles = "00uBob", []hookd.Role{{Name: "Connection Manager"}}
			revoke := groupGrant("g9", "00gFlow", "Connection Manager", t0.Add(3*time.Hour), false)
			revoke.EventType, revoke.Action = hook.WorkflowsGroupRoleRemove, hookd.Revoked
			for _, rc := range []hookd.RoleChange{
				groupGrant("g1", "00gFlow", "Connection Manager", t0, false), direct,
				joins("m1", "00uBob", "00gFlow", "00uAdmin", t0.Add(time.Hour), false),
			} {
				_, err := st.Accept(ctx, []hookd.RoleChange{rc})
				require.NoError(t, err)
			}
			count := func() (direct, through int) {
				holders, err := st.Holders(ctx, "Connection Manager")
				require.NoError(t, err)
				for _, h := range holders {
					if h.SubjectID != "00uBob" {
						continue
					}
					if h.Via == "" {
						direct++
					} else {
						through++
					}
				}
				return direct, through
			}
			d, th := count()
			assert.Equal(t, [2]int{1, 1}, [2]int{d, th}, "held directly and through the group: two holdings")
			_, err := st.Accept(ctx, []hookd.RoleChange{revoke})
			require.NoError(t, err)
			d, th = count()
			assert.Equal(t, [2]int{1, 0}, [2]int{d, th}, "the group lost it; the direct holding stays")
		})
	}
}

// A delivery may hold a group's grant and a membership of it together: the membership reads
// the grant, whichever comes first in the delivery, as long as Okta wrote the grant first.
func TestMembershipReadsTheGroupsGrantInTheSameBatch(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			ctx := context.Background()
			res, err := st.Accept(ctx, []hookd.RoleChange{
				joins("m1", "00uBob", "00gFlow", "00uAdmin", t0.Add(time.Minute), false),
				groupGrant("g1", "00gFlow", "Connection Manager", t0, false),
				joins("m0", "00uEve", "00gFlow", "00uAdmin", t0.Add(-time.Minute), false),
			})
			require.NoError(t, err)
			assert.Equal(t, hookd.AcceptResult{Accepted: 2, NotWatched: 1}, counts(res), "Eve joined before the group had the role")
			c, err := st.Change(ctx, "m1")
			require.NoError(t, err)
			assert.Equal(t, []string{"Connection Manager"}, c.Record.RoleNames())
		})
	}
}

// Okta's Groups API says who is in a group now: its members hold what the group holds (known
// by "okta"), a member it no longer lists holds it no more, and an event newer than the
// listing still wins.
func TestGroupMembersFromOkta(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			o := b.fresh(t)
			o.Sinks = []string{"webhook"}
			st := open(t, o)
			ctx := context.Background()
			_, err := st.Accept(ctx, []hookd.RoleChange{groupGrant("g1", "00gFlow", "Connection Manager", t0, false),
				joins("m1", "00uOld", "00gFlow", "00uAdmin", t0.Add(time.Minute), false)})
			require.NoError(t, err)
			groups, err := st.RoleHoldingGroups(ctx)
			require.NoError(t, err)
			assert.Equal(t, []GroupRef{{ID: "00gFlow", Name: "Group 00gFlow"}}, groups)

			added, removed, err := st.SyncGroupMembers(ctx, groups[0], []GroupMember{{ID: "00uAnn", Name: "Ann"}, {ID: "00uBen", Name: "Ben"}}, t0.Add(time.Hour))
			require.NoError(t, err)
			assert.Equal(t, [2]int{2, 1}, [2]int{added, removed})
			holders := func() map[string]string {
				hs, err := st.Holders(ctx, "Connection Manager")
				require.NoError(t, err)
				out := map[string]string{}
				for _, h := range hs {
					if h.Via != "" {
						out[h.SubjectID] = h.KnownBy
					}
				}
				return out
			}
			assert.Equal(t, map[string]string{"00uAnn": adminapi.KnownByOkta, "00uBen": adminapi.KnownByOkta}, holders())

			// Ben leaves after the listing: the event wins over it; a listing again changes nothing.
			_, err = st.Accept(ctx, []hookd.RoleChange{joins("m2", "00uBen", "00gFlow", "00uAdmin", t0.Add(2*time.Hour), true)})
			require.NoError(t, err)
			added, removed, err = st.SyncGroupMembers(ctx, groups[0], []GroupMember{{ID: "00uAnn", Name: "Ann"}}, t0.Add(90*time.Minute))
			require.NoError(t, err)
			assert.Equal(t, [2]int{0, 0}, [2]int{added, removed}, "an older listing of what an event changed since")
			assert.Equal(t, map[string]string{"00uAnn": adminapi.KnownByOkta}, holders())
		})
	}
}

// A Workflows role a group got before the System Log's memory is in no Okta API: declared, it
// makes the group's memberships role changes from the first day.
func TestDeclaredGroupRole(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			ctx := context.Background()
			require.NoError(t, st.DeclareGroupRole(ctx, GroupRef{ID: "00gOld", Name: "Old Builders"}, "Flow Builder"))
			res, err := st.Accept(ctx, []hookd.RoleChange{joins("m1", "00uBob", "00gOld", "00uAdmin", t0, false)})
			require.NoError(t, err)
			assert.Equal(t, 1, res.Accepted)
			c, err := st.Change(ctx, "m1")
			require.NoError(t, err)
			assert.Equal(t, []string{"Flow Builder"}, c.Record.RoleNames())
			hs, err := st.Holders(ctx, "Flow Builder")
			require.NoError(t, err)
			kinds := map[string]string{}
			for _, h := range hs {
				kinds[h.SubjectKind+" "+h.SubjectID] = h.KnownBy
			}
			assert.Equal(t, map[string]string{"group 00gOld": adminapi.KnownByDeclared, "user 00uBob": adminapi.KnownByEvent}, kinds)
		})
	}
}

// A listing from Okta leaves a known member's row as their join wrote it: leaving a year
// after joining is not short-lived because Okta listed the group ten minutes before.
func TestAListingDoesNotRestampKnownMembers(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			o := b.fresh(t)
			o.Sinks, o.Detect = []string{"webhook"}, detectSettings(t)
			st := open(t, o)
			ctx := context.Background()
			year := t0.Add(-365 * 24 * time.Hour)
			_, err := st.Accept(ctx, []hookd.RoleChange{groupGrant("g1", "00gFlow", "Connection Manager", year, false),
				joins("m1", "00uBob", "00gFlow", "00uAdmin", year.Add(time.Hour), false)})
			require.NoError(t, err)
			_, _, err = st.SyncGroupMembers(ctx, GroupRef{ID: "00gFlow", Name: "Group 00gFlow"}, []GroupMember{{ID: "00uBob", Name: "User 00uBob"}}, t0)
			require.NoError(t, err)
			hs, err := st.Holders(ctx, "Connection Manager")
			require.NoError(t, err)
			for _, h := range hs {
				if h.SubjectID == "00uBob" {
					assert.Equal(t, adminapi.KnownByEvent, h.KnownBy, "the join still says how Bob got it")
					assert.Equal(t, "00uAdmin@acme.example", h.GrantedBy)
				}
			}
			_, err = st.Accept(ctx, []hookd.RoleChange{joins("m2", "00uBob", "00gFlow", "00uAdmin", t0.Add(10*time.Minute), true)})
			require.NoError(t, err)
			c, err := st.Change(ctx, "m2")
			require.NoError(t, err)
			assert.NotContains(t, findingIDs(c.Record), hookd.FindingShortLived)
		})
	}
}

// A failed attempt to join a privileged group is shown, like a failed grant, and changes
// nobody's membership.
func TestAFailedJoinIsShownAndChangesNothing(t *testing.T) {
	st := open(t, backends(t)[0].fresh(t))
	ctx := context.Background()
	failed := joins("m1", "00uEve", "00gAdmins", "00uEve", t0.Add(time.Hour), false)
	failed.Outcome = hookd.Outcome{Result: "FAILURE", Reason: "insufficient permissions"}
	res, err := st.Accept(ctx, []hookd.RoleChange{groupGrant("g1", "00gAdmins", "Super Administrator", t0, true), failed})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Accepted)
	c, err := st.Change(ctx, "m1")
	require.NoError(t, err)
	assert.True(t, c.Record.Failed())
	assert.Equal(t, []string{"Super Administrator"}, c.Record.RoleNames())
	hs, err := st.Holders(ctx, "")
	require.NoError(t, err)
	for _, h := range hs {
		assert.NotEqual(t, "00uEve", h.SubjectID)
	}
}

// A refused event splits the commit in halves: a membership in one half still reads its
// group's grant in the other.
func TestAMembershipSurvivesASplitCommit(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			refuse(t, st)
			ctx := context.Background()
			poison := record("poison1")
			res, err := st.Accept(ctx, []hookd.RoleChange{groupGrant("z-grant", "00gFlow", "Connection Manager", t0, false),
				joins("a-join", "00uBob", "00gFlow", "00uAdmin", t0.Add(time.Minute), false), poison})
			require.NoError(t, err)
			assert.Equal(t, hookd.AcceptResult{Accepted: 3, Unstored: 1, Problem: res.Problem}, counts(res))
			c, err := st.Change(ctx, "a-join")
			require.NoError(t, err)
			assert.Equal(t, []string{"Connection Manager"}, c.Record.RoleNames())
		})
	}
}

// A page of the System Log may hold a join and, after it in Okta's time, the group's revoke:
// accepted together, the join reads the group as it was then.
func TestAJoinBeforeTheGroupsRevokeInOneRequest(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			ctx := context.Background()
			_, err := st.Accept(ctx, []hookd.RoleChange{groupGrant("g1", "00gFlow", "Connection Manager", t0, false)})
			require.NoError(t, err)
			revoke := groupGrant("g2", "00gFlow", "Connection Manager", t0.Add(2*time.Hour), false)
			revoke.EventType, revoke.Action = hook.WorkflowsGroupRoleRemove, hookd.Revoked
			res, err := st.Accept(ctx, []hookd.RoleChange{revoke, joins("m1", "00uBob", "00gFlow", "00uAdmin", t0.Add(time.Hour), false)})
			require.NoError(t, err)
			assert.Equal(t, hookd.AcceptResult{Accepted: 2}, counts(res))
			assert.Equal(t, map[string]int{hook.WorkflowsGroupRoleRemove: 1, hookd.GroupMembershipAdd: 1}, res.AcceptedByType)
		})
	}
}

// Okta's event about a declared role, which names it by id, is what counts from then on: the
// declaration goes, and declaring it again is refused.
func TestAnEventSupersedesADeclaration(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			ctx := context.Background()
			group := GroupRef{ID: "00gOld", Name: "Old Builders"}
			require.NoError(t, st.DeclareGroupRole(ctx, group, "Connection Manager"))
			revoke := groupGrant("g1", "00gOld", "Connection Manager", t0, false)
			revoke.EventType, revoke.Action, revoke.Roles = hook.WorkflowsGroupRoleRemove, hookd.Revoked, []hookd.Role{{Name: "Connection Manager", ID: "wfr-cm"}}
			_, err := st.Accept(ctx, []hookd.RoleChange{revoke})
			require.NoError(t, err)
			res, err := st.Accept(ctx, []hookd.RoleChange{joins("m1", "00uBob", "00gOld", "00uAdmin", t0.Add(time.Hour), false)})
			require.NoError(t, err)
			assert.Equal(t, 1, res.NotWatched, "the group lost the role")
			assert.ErrorIs(t, st.DeclareGroupRole(ctx, group, "connection manager"), ErrKnownFromOkta)
			hs, err := st.Holders(ctx, "")
			require.NoError(t, err)
			assert.Empty(t, hs)
		})
	}
}

// What a group held at the moment of a membership does not depend on what came since: a join
// that arrives after the group's later revoke, or after a later re-grant, still reads the
// grant it happened under; a join after the revoke reads nothing.
func TestAMembershipReadsTheGroupAtItsMoment(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			ctx := context.Background()
			revoke := groupGrant("g2", "00gFlow", "Connection Manager", t0.Add(2*time.Hour), false)
			revoke.EventType, revoke.Action = hook.WorkflowsGroupRoleRemove, hookd.Revoked
			for _, rc := range []hookd.RoleChange{
				groupGrant("g1", "00gFlow", "Connection Manager", t0, false), revoke,
				groupGrant("h1", "00gOps", "Flow Builder", t0, false), groupGrant("h2", "00gOps", "Flow Builder", t0.Add(5*time.Hour), false),
			} {
				_, err := st.Accept(ctx, []hookd.RoleChange{rc})
				require.NoError(t, err)
			}
			for _, tt := range []struct {
				join    hookd.RoleChange
				watched bool
			}{
				{joins("m1", "00uBob", "00gFlow", "00uAdmin", t0.Add(time.Hour), false), true},
				{joins("m2", "00uEve", "00gFlow", "00uAdmin", t0.Add(3*time.Hour), false), false},
				{joins("m3", "00uAnn", "00gOps", "00uAdmin", t0.Add(time.Hour), false), true},
			} {
				res, err := st.Accept(ctx, []hookd.RoleChange{tt.join})
				require.NoError(t, err)
				assert.Equal(t, tt.watched, res.Accepted == 1, tt.join.EventID)
			}
		})
	}
}

// A late grant that arrives with a join does not give the group back a role it lost after
// the grant: the batch's own grants and revokes are read in Okta's order with the stored ones.
func TestALateGrantInTheJoinsBatchDoesNotUndoALaterRevoke(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			st := open(t, b.fresh(t))
			ctx := context.Background()
			revoke := groupGrant("g2", "00gFlow", "Connection Manager", t0.Add(2*time.Hour), false)
			revoke.EventType, revoke.Action = hook.WorkflowsGroupRoleRemove, hookd.Revoked
			_, err := st.Accept(ctx, []hookd.RoleChange{groupGrant("g1", "00gFlow", "Connection Manager", t0, false), revoke})
			require.NoError(t, err)
			res, err := st.Accept(ctx, []hookd.RoleChange{
				groupGrant("g3", "00gFlow", "Connection Manager", t0.Add(time.Hour), false),
				joins("m1", "00uBob", "00gFlow", "00uAdmin", t0.Add(3*time.Hour), false),
			})
			require.NoError(t, err)
			assert.Equal(t, hookd.AcceptResult{Accepted: 1, NotWatched: 1}, counts(res), "the group held nothing at the join")
		})
	}
}
