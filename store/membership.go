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
func (s *Store) resolveAccess(ctx context.Context, tx *sql.Tx, entries []entry, batch groupChanges) (kept, dropped []entry, memberships []*hook.RoleChange, err error) {
	kept = entries[:0:0]
	// Each group's roles read once a transaction: its memberships are often many (a group rule).
	roles := map[string][]groupRoleEvent{}
	for _, e := range entries {
		rc := e.rc
		switch {
		case rc.IsMembership():
			memberships = append(memberships, rc)
			var held []hook.GroupRole
			if rc.Via != nil {
				all, ok := roles[rc.Via.ID]
				if !ok {
					if all, err = s.groupRoles(ctx, tx, rc.Via.ID); err != nil {
						return nil, nil, nil, err
					}
					roles[rc.Via.ID] = all
				}
				held = batch.asOf(dbKey(rc.Via.ID), rc.Published, heldAt(all, rc.Published))
			}
			if !rc.ResolveMembership(held) {
				dropped = append(dropped, e)
				continue
			}
			e.encoded, e.index = nil, nil
		case rc.ChangesHolding() && rc.Subject.Kind == hook.SubjectGroup:
			if rc.Members, rc.MemberCount, err = s.groupMembers(ctx, tx, rc.SubjectKey()); err != nil {
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

// groupChanges are the batch's own grants and revokes of groups' roles, by group key then
// role key, in Okta's order: the ledger is written after the batch is resolved, and a
// delivery may hold a group's grant and a membership of it together.
type groupChanges map[string]map[string][]groupChange

type groupChange struct {
	role      hook.GroupRole
	held      bool
	published time.Time
	uuid      string
}

func batchGroupRoles(entries []entry) groupChanges {
	out := groupChanges{}
	for _, e := range entries {
		rc := e.rc
		if !rc.ChangesHolding() || rc.Subject.Kind != hook.SubjectGroup {
			continue
		}
		g := dbKey(rc.SubjectKey())
		if out[g] == nil {
			out[g] = map[string][]groupChange{}
		}
		for _, r := range rc.Roles {
			out[g][r.Key()] = append(out[g][r.Key()], groupChange{role: hook.GroupRole{Role: r, Category: rc.Category, Since: rc.Published},
				held: rc.Action == hook.Granted, published: rc.Published, uuid: rc.EventID})
		}
	}
	return out
}

// asOf is what the group held at the time: the ledger's roles, each replaced by the batch's
// newest change of it at or before then.
func (b groupChanges) asOf(group string, at time.Time, ledger []hook.GroupRole) []hook.GroupRole {
	changes := b[group]
	if len(changes) == 0 {
		return ledger
	}
	held := map[string]hook.GroupRole{}
	for _, r := range ledger {
		held[r.Role.Key()] = r
	}
	for key, cs := range changes {
		var newest *groupChange
		for i := range cs {
			c := &cs[i]
			if c.published.After(at) {
				continue
			}
			if newest == nil || c.published.After(newest.published) || (c.published.Equal(newest.published) && c.uuid > newest.uuid) {
				newest = c
			}
		}
		if newest == nil {
			continue
		}
		if r, ok := held[key]; ok && r.Since.After(newest.published) {
			continue // the ledger's row is newer
		}
		if newest.held {
			held[key] = newest.role
		} else {
			delete(held, key)
		}
	}
	out := make([]hook.GroupRole, 0, len(held))
	for _, r := range held {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b hook.GroupRole) int {
		return cmp.Or(cmp.Compare(a.Role.Name, b.Role.Name), cmp.Compare(a.Role.Key(), b.Role.Key()))
	})
	return out
}

// heldAt is what the group held at the time: per role, its newest grant or revoke then or
// before, when that is a grant. all is in Okta's order.
func heldAt(all []groupRoleEvent, at time.Time) []hook.GroupRole {
	newest := map[string]groupRoleEvent{}
	var order []string
	for _, e := range all {
		if e.role.Since.After(at) {
			continue
		}
		k := e.role.Role.Key()
		if _, ok := newest[k]; !ok {
			order = append(order, k)
		}
		newest[k] = e
	}
	var out []hook.GroupRole
	for _, k := range order {
		if e := newest[k]; e.held {
			out = append(out, e.role)
		}
	}
	slices.SortFunc(out, func(a, b hook.GroupRole) int {
		return cmp.Or(cmp.Compare(a.Role.Name, b.Role.Name), cmp.Compare(a.Role.Key(), b.Role.Key()))
	})
	return out
}

// groupRoleEvent is one grant or revoke of a group's role; role.Since is its time.
type groupRoleEvent struct {
	role hook.GroupRole
	held bool
}

// groupRoles reads every grant and revoke of the group's watched roles, in Okta's order.
func (s *Store) groupRoles(ctx context.Context, tx *sql.Tx, groupID string) ([]groupRoleEvent, error) {
	if groupID == "" {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT role_key, role_name, category, published, held FROM hookd_group_role
		WHERE group_id = $1 ORDER BY published, uuid`, dbKey(groupID))
	if err != nil {
		return nil, dbError("group roles", err)
	}
	defer rows.Close()
	var out []groupRoleEvent
	for rows.Next() {
		var key, name, category string
		var since, held any
		if err := rows.Scan(&key, &name, &category, &since, &held); err != nil {
			return nil, dbError("group roles", err)
		}
		t, err := s.scanTime(since)
		if err != nil {
			return nil, err
		}
		role := hook.Role{Name: name}
		if k := eventIDOf(key); !isNameKey(k) {
			role.ID = k
		}
		out = append(out, groupRoleEvent{role: hook.GroupRole{Role: role, Category: hook.Category(category), Since: t},
			held: held == true || held == int64(1)})
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("group roles", err)
	}
	return out, nil
}

// isNameKey reports whether a role key is made of the role's name (Okta gave no id).
func isNameKey(k string) bool { return len(k) >= 5 && k[:5] == "name:" }

// groupMembers reads the group's first members by name, and how many it has.
func (s *Store) groupMembers(ctx context.Context, tx *sql.Tx, groupID string) ([]hook.Ref, int, error) {
	if groupID == "" {
		return nil, 0, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM hookd_membership WHERE group_id = $1 AND `+s.heldTrue("member"),
		dbKey(groupID)).Scan(&n); err != nil {
		return nil, 0, dbError("group members", err)
	}
	if n == 0 {
		return nil, 0, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT user_id, user_name FROM hookd_membership WHERE group_id = $1 AND `+s.heldTrue("member")+`
		ORDER BY user_name, user_id LIMIT `+strconv.Itoa(membersNamed), dbKey(groupID))
	if err != nil {
		return nil, 0, dbError("group members", err)
	}
	defer rows.Close()
	var out []hook.Ref
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, 0, dbError("group members", err)
		}
		out = append(out, hook.Ref{ID: eventIDOf(id), Type: "User", DisplayName: name})
	}
	if err := rows.Err(); err != nil {
		return nil, 0, dbError("group members", err)
	}
	return out, n, nil
}

// membership is one event's effect on one (group, user).
type membership struct {
	group, user, groupName, userName string
	uuid, actor                      string
	member                           bool
	published                        time.Time
}

func (m membership) newer(o membership) bool {
	if !m.published.Equal(o.published) {
		return m.published.After(o.published)
	}
	return m.uuid > o.uuid
}

// applyMemberships records what membership events did, each (group, user) the newest of the
// batch, written only if newer than what is kept: like the ledger, any order of the same
// events gives the same table. Failed attempts change nothing; a change that names no user
// (a member Okta no longer lists) keeps the name kept.
func (s *Store) applyMemberships(ctx context.Context, tx *sql.Tx, changes []*hook.RoleChange, knownBy string) error {
	newest := map[[2]string]membership{}
	for _, rc := range changes {
		if rc.Failed() || rc.Via == nil || rc.Via.ID == "" || rc.SubjectKey() == "" {
			continue
		}
		m := membership{group: dbKey(rc.Via.ID), user: dbKey(rc.SubjectKey()),
			groupName: plainText(cmp.Or(rc.Via.DisplayName, rc.Via.ID)), userName: plainText(cmp.Or(rc.Subject.DisplayName, rc.Subject.Login)),
			uuid: dbKey(rc.EventID), actor: plainText(cmp.Or(rc.Actor.Login, rc.Actor.DisplayName, rc.Actor.ID)),
			member: rc.Action == hook.Granted, published: rc.Published.UTC()}
		k := [2]string{m.group, m.user}
		if o, ok := newest[k]; !ok || m.newer(o) {
			newest[k] = m
		}
	}
	if len(newest) == 0 {
		return nil
	}
	order := make([][2]string, 0, len(newest))
	for k := range newest {
		order = append(order, k)
	}
	slices.SortFunc(order, func(a, b [2]string) int { return slices.Compare(a[:], b[:]) })
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO hookd_membership
		(group_id, user_id, group_name, user_name, member, published, uuid, actor, known_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (group_id, user_id) DO UPDATE SET
			group_name = excluded.group_name, member = excluded.member,
			user_name = CASE WHEN excluded.user_name = '' THEN hookd_membership.user_name ELSE excluded.user_name END,
			published = excluded.published, uuid = excluded.uuid, actor = excluded.actor, known_by = excluded.known_by
		WHERE (excluded.published, excluded.uuid) > (hookd_membership.published, hookd_membership.uuid)`)
	if err != nil {
		return dbError("prepare membership", err)
	}
	defer stmt.Close()
	for _, k := range order {
		m := newest[k]
		if _, err := stmt.ExecContext(ctx, m.group, m.user, m.groupName, m.userName, s.boolArg(m.member), s.timeArg(m.published),
			m.uuid, m.actor, knownBy); err != nil {
			return dbError("membership", err)
		}
	}
	return nil
}

// heldThroughGroups lists what users hold through their groups now, as holders: one per
// (user, group, role), the group named.
func (s *Store) heldThroughGroups(ctx context.Context) ([]adminapi.Holder, error) {
	var out []adminapi.Holder
	err := s.scan(ctx, `SELECT m.user_id, m.user_name, h.role_name, h.role_key, h.category,
			CASE WHEN m.published > h.published THEN m.published ELSE h.published END, m.uuid, m.actor, m.known_by,
			m.group_id, m.group_name
		FROM hookd_membership m JOIN hookd_holding h ON h.subject_kind = 'group' AND h.subject_id = m.group_id
		WHERE `+s.heldTrue("m.member")+` AND `+s.heldTrue("h.held"), nil, func(r *sql.Rows) error {
		h := adminapi.Holder{SubjectKind: string(hook.SubjectUser)}
		var since any
		if err := r.Scan(&h.SubjectID, &h.SubjectName, &h.Role, &h.RoleKey, &h.Category, &since, &h.EventID, &h.GrantedBy, &h.KnownBy,
			&h.ViaID, &h.Via); err != nil {
			return err
		}
		var err error
		h.Since, err = s.scanTime(since)
		h.SubjectID, h.RoleKey, h.EventID, h.ViaID = eventIDOf(h.SubjectID), eventIDOf(h.RoleKey), eventIDOf(h.EventID), eventIDOf(h.ViaID)
		out = append(out, h)
		return err
	})
	return out, err
}

// GroupRef names a group the ledger knows to hold a watched role.
type GroupRef struct{ ID, Name string }

// RoleHoldingGroups lists the groups that hold a watched role now, by name.
func (s *Store) RoleHoldingGroups(ctx context.Context) ([]GroupRef, error) {
	var out []GroupRef
	err := s.scan(ctx, `SELECT subject_id, MIN(subject_name) FROM hookd_holding
		WHERE subject_kind = 'group' AND `+s.heldTrue("held")+` GROUP BY subject_id ORDER BY MIN(subject_name), subject_id`, nil,
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
		rows, err := tx.QueryContext(ctx, `SELECT user_id, member FROM hookd_membership WHERE group_id = $1`, gk)
		if err != nil {
			return dbError("group members", err)
		}
		for rows.Next() {
			var id string
			var member any
			if err := rows.Scan(&id, &member); err != nil {
				rows.Close()
				return dbError("group members", err)
			}
			known[id] = member == true || member == int64(1)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbError("group members", err)
		}
		listed := map[string]bool{}
		var changes []*hook.RoleChange
		uuid := "okta-groups-api:" + at.Format(time.RFC3339Nano)
		change := func(id, name string, member bool) {
			action := hook.Revoked
			if member {
				action = hook.Granted
			}
			changes = append(changes, &hook.RoleChange{EventID: uuid, Published: at, Action: action,
				Subject: hook.Subject{Kind: hook.SubjectUser, ID: id, DisplayName: name},
				Via:     &hook.Ref{ID: group.ID, DisplayName: group.Name}, Actor: hook.Ref{DisplayName: "Okta Groups API"}})
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
	rc := &hook.RoleChange{EventID: "declared:" + group.ID + ":" + strings.ToLower(role), EventType: hook.WorkflowsGroupRoleAdd,
		Published: time.Unix(0, 0).UTC(), Category: hook.WorkflowsRole, Action: hook.Granted,
		Subject: hook.Subject{Kind: hook.SubjectGroup, ID: group.ID, DisplayName: cmp.Or(group.Name, group.ID)},
		Roles:   []hook.Role{{Name: role}}, Actor: hook.Ref{DisplayName: "declared by an operator"}}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM hookd_holding WHERE subject_kind = 'group' AND subject_id = $1
			AND lower(role_name) = $2 AND known_by <> $3`, dbKey(group.ID), strings.ToLower(plainText(role)), adminapi.KnownByDeclared).Scan(&n); err != nil {
			return dbError("declare", err)
		}
		if n > 0 {
			return ErrKnownFromOkta
		}
		return s.applyLedgerAs(ctx, tx, []string{dbKey(rc.EventID)}, []*hook.RoleChange{rc}, adminapi.KnownByDeclared)
	})
}

// ErrKnownFromOkta is a declaration of a group's role that an event of Okta's already speaks
// of: the event, granted or revoked, is what the ledger keeps.
var ErrKnownFromOkta = errors.New("an event from Okta about this role of this group is in the ledger already; it, not a declaration, says whether the group holds it")
