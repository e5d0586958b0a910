package store

import (
	"cmp"
	"context"
	"database/sql"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/detect"
	"github.com/hookd/hookd/internal/adminapi"
)

// The ledger of who holds which watched role, kept in the transaction that accepts the
// events that change it (hookd_holding). Each (subject, role) row is the effect of the newest
// event about it in Okta's published order, uuid breaking ties: whatever order events arrive
// in, the ledger ends the same, and a late grant never resurrects a role revoked after it.

// holding is one event's effect on one (subject, role).
type holding struct {
	kind, id, role        string
	subjectName, roleName string
	category, actor       string
	held                  bool
	stamp
}

// stamp is an event's place in Okta's order: published, then uuid (its key).
type stamp struct {
	published time.Time
	uuid      string
}

func (a stamp) at() stamp { return a }

// after reports whether a comes after b in Okta's order.
func (a stamp) after(b stamp) bool {
	return a.published.After(b.published) || a.published.Equal(b.published) && a.uuid > b.uuid
}

// latest keeps of items, per key, the one that comes last in Okta's order, in key order: so
// that concurrent commits (Postgres) write, and lock, rows in the same order.
func latest[T interface{ at() stamp }](items []T, key func(T) string) []T {
	byKey := map[string]T{}
	for _, it := range items {
		if o, ok := byKey[key(it)]; !ok || it.at().after(o.at()) {
			byKey[key(it)] = it
		}
	}
	out := make([]T, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}

// holdingsOf is what a stored change does to the ledger: a grant or revoke of each of its
// roles, for its subject. A change Okta recorded as failed, and records that are not role
// changes (tampering, hookd's own health), change nothing.
func holdingsOf(key string, rc *hookd.RoleChange) []holding {
	if !rc.ChangesHolding() {
		return nil
	}
	subjectName := cmp.Or(rc.Subject.DisplayName, rc.Subject.Login)
	actor := cmp.Or(rc.Actor.Login, rc.Actor.DisplayName, rc.Actor.ID)
	var out []holding
	for _, r := range rc.Roles {
		out = append(out, holding{
			kind: string(rc.Subject.Kind), id: dbKey(rc.SubjectKey()), role: dbKey(r.Key()),
			subjectName: plainText(subjectName), roleName: plainText(cmp.Or(r.Name, r.ID)),
			category: string(rc.Category), actor: plainText(actor),
			held: rc.Action == hookd.Granted, stamp: stamp{rc.Published.UTC(), key},
		})
	}
	return out
}

// plainText is a display string as both databases store it: valid UTF-8, no NUL.
func plainText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// applyLedger records the effect of newly stored changes on the ledger, the rows it writes
// saying how the holding is known: per (subject, role) the newest of the batch, written only
// if it is newer than what the ledger holds. Every grant and revoke of a group's role is also
// kept (hookd_group_role), for what a group held at the moment of a membership change.
func (s *Store) applyLedger(ctx context.Context, tx *sql.Tx, keys []string, changes []*hookd.RoleChange, knownBy string) error {
	var all []holding
	var groups [][]any
	for i, rc := range changes {
		for _, h := range holdingsOf(keys[i], rc) {
			all = append(all, h)
			if rc.Subject.Kind == hookd.SubjectGroup {
				groups = append(groups, []any{h.id, h.role, h.roleName, h.category, h.held, s.timeArg(h.published), h.uuid, knownBy})
			}
		}
	}
	var rows [][]any
	for _, h := range latest(all, func(h holding) string { return h.kind + "\x00" + h.id + "\x00" + h.role }) {
		rows = append(rows, []any{h.kind, h.id, h.role, h.subjectName, h.roleName, h.category, h.held, s.timeArg(h.published),
			h.uuid, h.actor, knownBy})
	}
	if err := s.insertMany(ctx, tx, `INSERT INTO hookd_holding
		(subject_kind, subject_id, role_key, subject_name, role_name, category, held, published, uuid, actor, known_by) `, `
		ON CONFLICT (subject_kind, subject_id, role_key) DO UPDATE SET
			subject_name = excluded.subject_name, role_name = excluded.role_name, category = excluded.category,
			held = excluded.held, published = excluded.published, uuid = excluded.uuid, actor = excluded.actor,
			known_by = excluded.known_by
		WHERE (excluded.published, excluded.uuid) > (hookd_holding.published, hookd_holding.uuid)`, rows, nil, "ledger"); err != nil {
		return err
	}
	if err := s.insertMany(ctx, tx, `INSERT INTO hookd_group_role (group_id, role_key, role_name, category, held, published, uuid, known_by) `,
		` ON CONFLICT DO NOTHING`, groups, nil, "group roles"); err != nil {
		return err
	}
	if knownBy == adminapi.KnownByDeclared {
		return nil
	}
	// An event about a group's role supersedes what an operator declared of it: Okta names
	// the role by its id, the declaration by its name.
	for _, h := range all {
		if h.kind != string(hookd.SubjectGroup) {
			continue
		}
		for _, q := range []string{
			`DELETE FROM hookd_holding WHERE subject_kind = 'group' AND subject_id = $1 AND known_by = $2 AND lower(role_name) = $3 AND role_key <> $4`,
			`DELETE FROM hookd_group_role WHERE group_id = $1 AND known_by = $2 AND lower(role_name) = $3 AND role_key <> $4`,
		} {
			if _, err := tx.ExecContext(ctx, q, h.id, adminapi.KnownByDeclared, strings.ToLower(h.roleName), h.role); err != nil {
				return dbError("ledger", err)
			}
		}
	}
	return nil
}

// Holders lists the current holders of watched roles whose name matches roleGlob (a
// case-insensitive shell pattern; empty: every role), by role then subject. A user holds
// what their groups hold: one holder per (user, group, role), the group named.
func (s *Store) Holders(ctx context.Context, roleGlob string) ([]adminapi.Holder, error) {
	glob := strings.ToLower(roleGlob)
	if _, err := path.Match(glob, ""); err != nil {
		return nil, adminapi.ErrBadRequest
	}
	out := []adminapi.Holder{}
	err := s.scan(ctx, `SELECT subject_kind, subject_id, subject_name, role_name, role_key, category, published, uuid, actor,
			known_by, seen_in_okta, '', ''
		FROM hookd_holding WHERE held
		UNION ALL
		SELECT 'user', m.user_id, m.user_name, h.role_name, h.role_key, h.category,
			CASE WHEN m.published > h.published THEN m.published ELSE h.published END, m.uuid, m.actor, m.known_by, NULL,
			m.group_id, m.group_name
		FROM hookd_membership m JOIN hookd_holding h ON h.subject_kind = 'group' AND h.subject_id = m.group_id
		WHERE m.member AND h.held
		ORDER BY 4, 3, 2, 5`, nil, func(r *sql.Rows) error {
		var h adminapi.Holder
		var seen time.Time
		if err := r.Scan(&h.SubjectKind, &h.SubjectID, &h.SubjectName, &h.Role, &h.RoleKey, &h.Category, s.timeCol(&h.Since),
			&h.EventID, &h.GrantedBy, &h.KnownBy, s.timeCol(&seen), &h.ViaID, &h.Via); err != nil {
			return err
		}
		if ok, _ := path.Match(glob, strings.ToLower(h.Role)); glob != "" && !ok {
			return nil
		}
		if !seen.IsZero() {
			h.SeenInOkta = &seen
		}
		h.SubjectID, h.RoleKey, h.EventID, h.ViaID = eventIDOf(h.SubjectID), eventIDOf(h.RoleKey), eventIDOf(h.EventID), eventIDOf(h.ViaID)
		if h.ViaID == "" {
			h.SubjectID = strings.TrimPrefix(h.SubjectID, "name:")
		}
		out = append(out, h)
		return nil
	})
	slices.SortStableFunc(out, func(a, b adminapi.Holder) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.SubjectName, b.SubjectName), cmp.Compare(a.SubjectID, b.SubjectID),
			cmp.Compare(a.Via, b.Via))
	})
	return out, err
}

// buildLedger fills the ledger from the events stored before it existed, once.
func (s *Store) buildLedger(ctx context.Context) error {
	return s.replay(ctx, "ledger", func(tx *sql.Tx, keys []string, changes []*hookd.RoleChange) error {
		return s.applyLedger(ctx, tx, keys, changes, adminapi.KnownByEvent)
	})
}

// replay hands every stored event to apply, a page a transaction, unless the hookd_state
// named state says it was done: for what the events stored before a table existed must fill
// at start. apply must give the same result in any order and when run again.
func (s *Store) replay(ctx context.Context, state string, apply func(*sql.Tx, []string, []*hookd.RoleChange) error) error {
	if done, err := s.State(ctx, state); err != nil || done != "" {
		return err
	}
	for after := ""; ; {
		rows, err := s.queryRows(ctx, `SELECT uuid, published, accepted_at, record, NULL, sinks, '', NULL, NULL, NULL, NULL, NULL
			FROM hookd_event WHERE uuid > $1 ORDER BY uuid LIMIT 1000`, after)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return s.SetState(ctx, state, "built from stored events")
		}
		keys := make([]string, len(rows))
		changes := make([]*hookd.RoleChange, len(rows))
		for i, r := range rows {
			keys[i], changes[i] = r.key, r.rc
		}
		if err := s.inTx(ctx, func(tx *sql.Tx) error { return apply(tx, keys, changes) }); err != nil {
			return err
		}
		after = rows[len(rows)-1].key
	}
}

// Import folds history read from elsewhere (the System Log's past) into the ledger, the
// memberships of groups, and what the detections remember of actors, in one transaction, and returns how many of the
// changes give or take a role. Nothing is stored as an event and nothing is alerted: the
// changes are past. A holding whose newest event came this way is known by "import"; an
// event already known is no change, so importing the same history twice is harmless.
func (s *Store) Import(ctx context.Context, changes []hookd.RoleChange) (int, error) {
	keys := make([]string, 0, len(changes))
	ptrs := make([]*hookd.RoleChange, 0, len(changes))
	n := 0
	for i := range changes {
		rc := &changes[i]
		if rc.EventID == "" {
			continue
		}
		if rc.ChangesHolding() {
			n++
		}
		keys, ptrs = append(keys, dbKey(rc.EventID)), append(ptrs, rc)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.applyLedger(ctx, tx, keys, ptrs, adminapi.KnownByImport); err != nil {
			return err
		}
		var memberships []*hookd.RoleChange
		for _, rc := range ptrs {
			if rc.IsMembership() {
				memberships = append(memberships, rc)
			}
		}
		if err := s.applyMemberships(ctx, tx, memberships, adminapi.KnownByImport); err != nil {
			return err
		}
		return s.writeFacts(ctx, tx, detect.Remember(ptrs))
	})
	return n, err
}

// HoldingRef names one row of the ledger.
type HoldingRef struct{ SubjectKind, SubjectID, RoleKey string }

// MarkSeenInOkta records that Okta's role-assignment API showed the holdings at the time. It
// changes nothing else: a difference between Okta and the ledger is reported, never written.
func (s *Store) MarkSeenInOkta(ctx context.Context, refs []HoldingRef, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE hookd_holding SET seen_in_okta = $1
			WHERE subject_kind = $2 AND subject_id = $3 AND role_key = $4`)
		if err != nil {
			return dbError("prepare mark seen", err)
		}
		defer stmt.Close()
		for _, r := range refs {
			if _, err := stmt.ExecContext(ctx, s.timeArg(at), r.SubjectKind, dbKey(r.SubjectID), dbKey(r.RoleKey)); err != nil {
				return dbError("mark seen", err)
			}
		}
		return nil
	})
}
