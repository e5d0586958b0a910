package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
)

// Roles held through groups. Okta writes only group.user_membership.add when a user joins a
// group that holds a role, so the store, which knows what each group holds (hookd_holding),
// decides in the accepting transaction what a membership change is: a grant or revoke of the
// group's roles as of the event, or nothing watched. What a user holds through a group is
// hookd_membership joined to the group's holdings, never a copy: a group losing a role, or a
// user leaving it, is one row.

// membersNamed is how many members a group's role change names; the rest are counted.
const membersNamed = 5

// resolveAccess, before the detections, makes each membership record the role change it is
// (or drops it: its group held nothing watched then, and it is counted as not watched), and
// tells each grant or revoke of a group's role the group's members. Records it changes lose
// their stored form made before the commit. The dropped entries are returned to be counted
// once committed, and the membership records, resolved or not, for applyMemberships.
//
// It may run again on the same records (a transaction split after a refusal): each record is
// resolved afresh.
func (s *Store) resolveAccess(ctx context.Context, tx *sql.Tx, entries []entry, batch groupChanges) (kept, dropped []entry, memberships []*hookd.RoleChange, err error) {
	kept = entries[:0:0]
	// Each group's roles read once a transaction: its memberships are often many (a group rule).
	roles := map[string][]groupRoleEvent{}
	for _, e := range entries {
		rc := e.rc
		switch {
		case rc.IsMembership():
			memberships = append(memberships, rc)
			var held []hookd.GroupRole
			if rc.Via != nil && rc.Via.ID != "" {
				g := dbKey(rc.Via.ID)
				all, ok := roles[g]
				if !ok {
					if all, err = s.groupRoles(ctx, tx, g); err != nil {
						return nil, nil, nil, err
					}
					all = append(all, batch[g]...)
					roles[g] = all
				}
				held = heldAt(all, rc.Published)
			}
			if !rc.ResolveMembership(held) {
				dropped = append(dropped, e)
				continue
			}
			e.encoded, e.index = nil, nil
		case rc.ChangesHolding() && rc.Subject.Kind == hookd.SubjectGroup:
			if rc.Members, rc.MemberCount, err = s.groupMembers(ctx, tx, dbKey(rc.SubjectKey())); err != nil {
				return nil, nil, nil, err
			}
			if rc.MemberCount > 0 {
				e.encoded, e.index = nil, nil
			}
		}
		kept = append(kept, e)
	}
	return kept, dropped, memberships, nil
}

// groupRoleEvent is one grant or revoke of a group's role; role.Since is its time.
type groupRoleEvent struct {
	role hookd.GroupRole
	held bool
	stamp
}

// groupChanges are the batch's own grants and revokes of groups' roles, by group key: the
// ledger is written after the batch is resolved, and a delivery may hold a group's grant and
// a membership of it together.
type groupChanges map[string][]groupRoleEvent

func batchGroupRoles(entries []entry) groupChanges {
	out := groupChanges{}
	for _, e := range entries {
		rc := e.rc
		if !rc.ChangesHolding() || rc.Subject.Kind != hookd.SubjectGroup {
			continue
		}
		g := dbKey(rc.SubjectKey())
		for _, r := range rc.Roles {
			out[g] = append(out[g], groupRoleEvent{role: hookd.GroupRole{Role: r, Category: rc.Category, Since: rc.Published},
				held: rc.Action == hookd.Granted, stamp: stamp{rc.Published, e.key}})
		}
	}
	return out
}

// heldAt is what a group held at the time, given the grants and revokes of its roles (in
// any order): per role, the newest then or before, when it is a grant.
func heldAt(events []groupRoleEvent, at time.Time) []hookd.GroupRole {
	newest := map[string]groupRoleEvent{}
	for _, e := range events {
		k := e.role.Role.Key()
		if o, ok := newest[k]; !e.published.After(at) && (!ok || e.after(o.stamp)) {
			newest[k] = e
		}
	}
	var out []hookd.GroupRole
	for _, e := range newest {
		if e.held {
			out = append(out, e.role)
		}
	}
	slices.SortFunc(out, func(a, b hookd.GroupRole) int {
		return cmp.Or(cmp.Compare(a.Role.Name, b.Role.Name), cmp.Compare(a.Role.Key(), b.Role.Key()))
	})
	return out
}

// groupRoles reads every grant and revoke of the group's watched roles.
func (s *Store) groupRoles(ctx context.Context, tx *sql.Tx, group string) ([]groupRoleEvent, error) {
	var out []groupRoleEvent
	err := s.scanTx(ctx, tx, `SELECT role_key, role_name, category, published, uuid, held FROM hookd_group_role WHERE group_id = $1`,
		[]any{group}, func(r *sql.Rows) error {
			var e groupRoleEvent
			var key, category string
			if err := r.Scan(&key, &e.role.Role.Name, &category, s.timeCol(&e.published), &e.uuid, &e.held); err != nil {
				return err
			}
			if k := eventIDOf(key); !strings.HasPrefix(k, "name:") {
				e.role.Role.ID = k
			}
			e.role.Category, e.role.Since = hookd.Category(category), e.published
			out = append(out, e)
			return nil
		})
	return out, err
}

// groupMembers reads the group's first members by name, and how many it has.
func (s *Store) groupMembers(ctx context.Context, tx *sql.Tx, group string) (members []hookd.Ref, n int, err error) {
	err = s.scanTx(ctx, tx, `SELECT user_id, user_name, count(*) OVER () FROM hookd_membership WHERE group_id = $1 AND member
		ORDER BY user_name, user_id LIMIT `+strconv.Itoa(membersNamed), []any{group}, func(r *sql.Rows) error {
		m := hookd.Ref{Type: "User"}
		err := r.Scan(&m.ID, &m.DisplayName, &n)
		m.ID = eventIDOf(m.ID)
		members = append(members, m)
		return err
	})
	return members, n, err
}

// membership is one event's effect on one (group, user).
type membership struct {
	group, user, groupName, userName string
	actor                            string
	member                           bool
	stamp
}

// applyMemberships records what membership events did, each (group, user) the newest of the
// batch, written only if newer than what is kept: like the ledger, any order of the same
// events gives the same table. Failed attempts change nothing; a change that names no user
// (a member Okta no longer lists) keeps the name kept.
func (s *Store) applyMemberships(ctx context.Context, tx *sql.Tx, changes []*hookd.RoleChange, knownBy string) error {
	var all []membership
	for _, rc := range changes {
		if rc.Failed() || rc.Via == nil || rc.Via.ID == "" || rc.SubjectKey() == "" {
			continue
		}
		all = append(all, membership{group: dbKey(rc.Via.ID), user: dbKey(rc.SubjectKey()),
			groupName: plainText(cmp.Or(rc.Via.DisplayName, rc.Via.ID)), userName: plainText(cmp.Or(rc.Subject.DisplayName, rc.Subject.Login)),
			actor: plainText(cmp.Or(rc.Actor.Login, rc.Actor.DisplayName, rc.Actor.ID)), member: rc.Action == hookd.Granted,
			stamp: stamp{rc.Published.UTC(), dbKey(rc.EventID)}})
	}
	var rows [][]any
	for _, m := range latest(all, func(m membership) string { return m.group + "\x00" + m.user }) {
		rows = append(rows, []any{m.group, m.user, m.groupName, m.userName, m.member, s.timeArg(m.published), m.uuid, m.actor, knownBy})
	}
	return s.insertMany(ctx, tx, `INSERT INTO hookd_membership
		(group_id, user_id, group_name, user_name, member, published, uuid, actor, known_by) `, `
		ON CONFLICT (group_id, user_id) DO UPDATE SET
			group_name = excluded.group_name, member = excluded.member,
			user_name = CASE WHEN excluded.user_name = '' THEN hookd_membership.user_name ELSE excluded.user_name END,
			published = excluded.published, uuid = excluded.uuid, actor = excluded.actor, known_by = excluded.known_by
		WHERE (excluded.published, excluded.uuid) > (hookd_membership.published, hookd_membership.uuid)`, rows, nil, "membership")
}

// GroupRef names a group the ledger knows to hold a watched role.
type GroupRef struct{ ID, Name string }

// RoleHoldingGroups lists the groups that hold a watched role now, by name.
func (s *Store) RoleHoldingGroups(ctx context.Context) ([]GroupRef, error) {
	var out []GroupRef
	err := s.scan(ctx, `SELECT subject_id, MIN(subject_name) FROM hookd_holding
		WHERE subject_kind = 'group' AND held GROUP BY subject_id ORDER BY MIN(subject_name), subject_id`, nil,
		func(r *sql.Rows) error {
			var g GroupRef
			if err := r.Scan(&g.ID, &g.Name); err != nil {
				return err
			}
			g.ID = eventIDOf(g.ID)
			out = append(out, g)
			return nil
		})
	return out, err
}

// GroupMember is a member of a group as Okta's Groups API lists it.
type GroupMember struct{ ID, Name string }

// SyncGroupMembers records that Okta listed exactly these members of the group at the time:
// one hookd did not know as a member becomes one, and a member Okta no longer lists is one no
// more, unless an event about them is newer than the listing (the ledger's order holds: a
// later event wins). A member hookd knew is left as the event that made them one wrote it,
// with its time and actor, which the detections read. It returns how many members it added
// and removed.
func (s *Store) SyncGroupMembers(ctx context.Context, group GroupRef, members []GroupMember, at time.Time) (added, removed int, err error) {
	at = at.UTC()
	gk := dbKey(group.ID)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		added, removed = 0, 0
		known := map[string]bool{}
		err := s.scanTx(ctx, tx, `SELECT user_id, member FROM hookd_membership WHERE group_id = $1`, []any{gk}, func(r *sql.Rows) error {
			var id string
			var member bool
			err := r.Scan(&id, &member)
			known[id] = member
			return err
		})
		if err != nil {
			return err
		}
		listed := map[string]bool{}
		var changes []*hookd.RoleChange
		uuid := "okta-groups-api:" + at.Format(time.RFC3339Nano)
		change := func(id, name string, member bool) {
			action := hookd.Revoked
			if member {
				action = hookd.Granted
			}
			changes = append(changes, &hookd.RoleChange{EventID: uuid, Published: at, Action: action,
				Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: id, DisplayName: name},
				Via:     &hookd.Ref{ID: group.ID, DisplayName: group.Name}, Actor: hookd.Ref{DisplayName: "Okta Groups API"}})
		}
		for _, m := range members {
			if m.ID == "" || listed[m.ID] {
				continue
			}
			listed[m.ID] = true
			if known[dbKey(m.ID)] {
				continue // a member already: the event that made them one says when and by whom
			}
			added++
			change(m.ID, m.Name, true)
		}
		for id, member := range known {
			if member && !listed[eventIDOf(id)] {
				removed++
				change(eventIDOf(id), "", false)
			}
		}
		return s.applyMemberships(ctx, tx, changes, adminapi.KnownByOkta)
	})
	return added, removed, err
}

// DeclareGroupRole records, as the operator says, that the group holds a Workflows role: one it
// got before the System Log's memory and that no Okta API lists. It stands as held from the
// beginning, so that every membership of the group counts, until an event about the role says
// otherwise.
func (s *Store) DeclareGroupRole(ctx context.Context, group GroupRef, role string) error {
	rc := &hookd.RoleChange{EventID: "declared:" + group.ID + ":" + strings.ToLower(role), EventType: hook.WorkflowsGroupRoleAdd,
		Published: time.Unix(0, 0).UTC(), Category: hookd.WorkflowsRole, Action: hookd.Granted,
		Subject: hookd.Subject{Kind: hookd.SubjectGroup, ID: group.ID, DisplayName: cmp.Or(group.Name, group.ID)},
		Roles:   []hookd.Role{{Name: role}}, Actor: hookd.Ref{DisplayName: "declared by an operator"}}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM hookd_holding WHERE subject_kind = 'group' AND subject_id = $1
			AND lower(role_name) = $2 AND known_by <> $3`, dbKey(group.ID), strings.ToLower(plainText(role)), adminapi.KnownByDeclared).Scan(&n); err != nil {
			return dbError("declare", err)
		}
		if n > 0 {
			return ErrKnownFromOkta
		}
		return s.applyLedger(ctx, tx, []string{dbKey(rc.EventID)}, []*hookd.RoleChange{rc}, adminapi.KnownByDeclared)
	})
}

// ErrKnownFromOkta is a declaration of a group's role that an event of Okta's already speaks
// of: the event, granted or revoked, is what the ledger keeps.
var ErrKnownFromOkta = errors.New("an event from Okta about this role of this group is in the ledger already; it, not a declaration, says whether the group holds it")
