package store

import (
	"cmp"
	"context"
	"database/sql"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd/detect"
	"github.com/hookd/hookd/hook"
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
	category, uuid, actor string
	held                  bool
	published             time.Time
}

func (h holding) key() [3]string { return [3]string{h.kind, h.id, h.role} }

// newer reports whether h comes after o in Okta's order.
func (h holding) newer(o holding) bool {
	if !h.published.Equal(o.published) {
		return h.published.After(o.published)
	}
	return h.uuid > o.uuid
}

// holdingsOf is what a stored change does to the ledger: a grant or revoke of each of its
// roles, for its subject. A change Okta recorded as failed, and records that are not role
// changes (tampering, hookd's own health), change nothing.
func holdingsOf(key string, rc *hook.RoleChange) []holding {
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
			category: string(rc.Category), uuid: key, actor: plainText(actor),
			held: rc.Action == hook.Granted, published: rc.Published.UTC(),
		})
	}
	return out
}

// plainText is a display string as both databases store it: valid UTF-8, no NUL.
func plainText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// applyLedger records the effect of newly stored changes on the ledger: per (subject, role)
// the newest of the batch, written only if it is newer than what the ledger holds. Rows are
// written in key order, so that concurrent commits (Postgres) lock them in the same order.
func (s *Store) applyLedger(ctx context.Context, tx *sql.Tx, keys []string, changes []*hook.RoleChange) error {
	return s.applyLedgerAs(ctx, tx, keys, changes, adminapi.KnownByEvent)
}

// applyLedgerAs is applyLedger, the rows it writes saying how the holding is known.
func (s *Store) applyLedgerAs(ctx context.Context, tx *sql.Tx, keys []string, changes []*hook.RoleChange, knownBy string) error {
	if err := s.writeLedger(ctx, tx, keys, changes, knownBy); err != nil {
		return err
	}
	if err := s.writeGroupRoles(ctx, tx, keys, changes, knownBy); err != nil {
		return err
	}
	if knownBy == adminapi.KnownByDeclared {
		return nil
	}
	// An event about a group's role supersedes what an operator declared of it: Okta names
	// the role by its id, the declaration by its name.
	for _, rc := range changes {
		if !rc.ChangesHolding() || rc.Subject.Kind != hook.SubjectGroup {
			continue
		}
		for _, r := range rc.Roles {
			for _, q := range []string{
				`DELETE FROM hookd_holding WHERE subject_kind = 'group' AND subject_id = $1 AND known_by = $2 AND lower(role_name) = $3 AND role_key <> $4`,
				`DELETE FROM hookd_group_role WHERE group_id = $1 AND known_by = $2 AND lower(role_name) = $3 AND role_key <> $4`,
			} {
				if _, err := tx.ExecContext(ctx, q, dbKey(rc.SubjectKey()), adminapi.KnownByDeclared,
					strings.ToLower(plainText(cmp.Or(r.Name, r.ID))), dbKey(r.Key())); err != nil {
					return dbError("ledger", err)
				}
			}
		}
	}
	return nil
}

// writeGroupRoles keeps every grant and revoke of a group's role (hookd_group_role), for what
// a group held at the moment of a membership change.
func (s *Store) writeGroupRoles(ctx context.Context, tx *sql.Tx, keys []string, changes []*hook.RoleChange, knownBy string) error {
	for i, rc := range changes {
		if rc.Subject.Kind != hook.SubjectGroup {
			continue
		}
		for _, h := range holdingsOf(keys[i], rc) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO hookd_group_role (group_id, role_key, role_name, category, held, published, uuid, known_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
				h.id, h.role, h.roleName, h.category, s.boolArg(h.held), s.timeArg(h.published), h.uuid, knownBy); err != nil {
				return dbError("group roles", err)
			}
		}
	}
	return nil
}

// writeLedger is applyLedgerAs's writing of the newest holdings.
func (s *Store) writeLedger(ctx context.Context, tx *sql.Tx, keys []string, changes []*hook.RoleChange, knownBy string) error {
	newest := map[[3]string]holding{}
	for i, rc := range changes {
		for _, h := range holdingsOf(keys[i], rc) {
			if o, ok := newest[h.key()]; !ok || h.newer(o) {
				newest[h.key()] = h
			}
		}
	}
	if len(newest) == 0 {
		return nil
	}
	order := make([][3]string, 0, len(newest))
	for k := range newest {
		order = append(order, k)
	}
	slices.SortFunc(order, func(a, b [3]string) int { return slices.Compare(a[:], b[:]) })
	const upsert = `
		ON CONFLICT (subject_kind, subject_id, role_key) DO UPDATE SET
			subject_name = excluded.subject_name, role_name = excluded.role_name, category = excluded.category,
			held = excluded.held, published = excluded.published, uuid = excluded.uuid, actor = excluded.actor,
			known_by = excluded.known_by
		WHERE (excluded.published, excluded.uuid) > (hookd_holding.published, hookd_holding.uuid)`
	const columns = `INSERT INTO hookd_holding
		(subject_kind, subject_id, role_key, subject_name, role_name, category, held, published, uuid, actor, known_by) `
	if s.dialect == postgres {
		// One statement of arrays: a round trip per holding would cost each commit dearly.
		cols := make([][]string, 9)
		var held []bool
		var published []time.Time
		for _, k := range order {
			h := newest[k]
			for i, v := range []string{h.kind, h.id, h.role, h.subjectName, h.roleName, h.category, h.uuid, h.actor} {
				cols[i] = append(cols[i], v)
			}
			held, published = append(held, h.held), append(published, h.published)
		}
		_, err := tx.ExecContext(ctx, columns+`SELECT k, i, r, sn, rn, c, h, p, u, a, $11
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::timestamptz[], $9::text[], $10::text[])
			AS t(k, i, r, sn, rn, c, h, p, u, a)`+upsert,
			cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], held, published, cols[6], cols[7], knownBy)
		if err != nil {
			return dbError("ledger", err)
		}
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, columns+`VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`+upsert)
	if err != nil {
		return dbError("prepare ledger", err)
	}
	defer stmt.Close()
	for _, k := range order {
		h := newest[k]
		if _, err := stmt.ExecContext(ctx, h.kind, h.id, h.role, h.subjectName, h.roleName, h.category, s.boolArg(h.held),
			s.timeArg(h.published), h.uuid, h.actor, knownBy); err != nil {
			return dbError("ledger", err)
		}
	}
	return nil
}

// Holders lists the current holders of watched roles whose name matches roleGlob (a
// case-insensitive shell pattern; empty: every role), by role then subject.
func (s *Store) Holders(ctx context.Context, roleGlob string) ([]adminapi.Holder, error) {
	glob := strings.ToLower(roleGlob)
	if glob != "" {
		if _, err := path.Match(glob, ""); err != nil {
			return nil, adminapi.ErrBadRequest
		}
	}
	out := []adminapi.Holder{}
	err := s.scan(ctx, `SELECT subject_kind, subject_id, subject_name, role_name, role_key, category, published, uuid, actor, known_by, seen_in_okta
		FROM hookd_holding WHERE `+s.heldTrue("held")+` ORDER BY role_name, subject_name, subject_id`, nil, func(r *sql.Rows) error {
		var h adminapi.Holder
		var since, seen any
		if err := r.Scan(&h.SubjectKind, &h.SubjectID, &h.SubjectName, &h.Role, &h.RoleKey, &h.Category, &since, &h.EventID, &h.GrantedBy, &h.KnownBy, &seen); err != nil {
			return err
		}
		if seen != nil {
			t, err := s.scanTime(seen)
			if err != nil {
				return err
			}
			h.SeenInOkta = &t
		}
		h.RoleKey = eventIDOf(h.RoleKey)
		if glob != "" {
			if ok, _ := path.Match(glob, strings.ToLower(h.Role)); !ok {
				return nil
			}
		}
		var err error
		h.Since, err = s.scanTime(since)
		h.SubjectID, h.EventID = strings.TrimPrefix(eventIDOf(h.SubjectID), "name:"), eventIDOf(h.EventID)
		out = append(out, h)
		return err
	})
	if err != nil {
		return out, err
	}
	via, err := s.heldThroughGroups(ctx)
	if err != nil {
		return out, err
	}
	for _, h := range via {
		if glob != "" {
			if ok, _ := path.Match(glob, strings.ToLower(h.Role)); !ok {
				continue
			}
		}
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b adminapi.Holder) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.SubjectName, b.SubjectName), cmp.Compare(a.SubjectID, b.SubjectID), cmp.Compare(a.Via, b.Via))
	})
	return out, nil
}

// buildLedger fills the ledger from the events stored before it existed, once: the events are
// replayed through applyLedger in pages, which gives the same ledger in any order.
func (s *Store) buildLedger(ctx context.Context) error {
	if done, err := s.State(ctx, stateLedger); err != nil || done != "" {
		return err
	}
	after := ""
	for {
		rows, err := s.queryRows(ctx, `SELECT uuid, published, accepted_at, record, `+s.noRaw()+`, sinks, ''
			FROM hookd_event WHERE uuid > $1 ORDER BY uuid LIMIT 1000`, after)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		keys := make([]string, len(rows))
		changes := make([]*hook.RoleChange, len(rows))
		for i, r := range rows {
			keys[i], changes[i] = r.key, r.rc
		}
		if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.applyLedger(ctx, tx, keys, changes) }); err != nil {
			return err
		}
		after = rows[len(rows)-1].key
	}
	return s.SetState(ctx, stateLedger, "built from stored events")
}

// The hookd_state names that say a one-time build at start is done.
const (
	stateLedger      = "ledger"
	stateChangeIndex = "console index"
)

// Import folds history read from elsewhere (the System Log's past) into the ledger, the
// memberships of groups, and what the detections remember of actors, in one transaction, and returns how many of the
// changes give or take a role. Nothing is stored as an event and nothing is alerted: the
// changes are past. A holding whose newest event came this way is known by "import"; an
// event already known is no change, so importing the same history twice is harmless.
func (s *Store) Import(ctx context.Context, changes []hook.RoleChange) (int, error) {
	keys := make([]string, 0, len(changes))
	ptrs := make([]*hook.RoleChange, 0, len(changes))
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
		if err := s.applyLedgerAs(ctx, tx, keys, ptrs, adminapi.KnownByImport); err != nil {
			return err
		}
		var memberships []*hook.RoleChange
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
