package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/detect"
)

// The store's side of the detections: what detect reads of the past (the ledger and
// hookd_actor_fact) in the accepting transaction, before the batch is written, and the facts
// it writes back after.

// history is detect.History over one transaction: on Postgres one query each for the whole
// batch (arrays), on SQLite, in process, prepared statements run per actor and subject, which
// cost less than parsing a long statement.
type history struct {
	s  *Store
	tx *sql.Tx
}

// Actors reads the asked actors' first sighting, networks, and subjects changed since.
func (h history) Actors(ctx context.Context, asks []detect.ActorAsk) (map[string]detect.ActorPast, error) {
	out := map[string]detect.ActorPast{}
	add := func(r *sql.Rows) error {
		var actor, kind, value string
		var first, last time.Time
		if err := r.Scan(&actor, &kind, &value, h.s.timeCol(&first), h.s.timeCol(&last)); err != nil {
			return err
		}
		actor, value = eventIDOf(actor), eventIDOf(value)
		p, ok := out[actor]
		if !ok {
			p = detect.ActorPast{Networks: map[string]time.Time{}, Subjects: map[string]time.Time{}}
		}
		switch kind {
		case "actor":
			p.FirstSeen = first
		case "subject":
			p.Subjects[value] = last
		default:
			p.Networks[kind+":"+value] = first
		}
		out[actor] = p
		return nil
	}
	if h.s.dialect == postgres {
		actors := make([]string, len(asks))
		since := make([]time.Time, len(asks))
		recent := make([]int64, len(asks))
		for i, a := range asks {
			actors[i], since[i], recent[i] = dbKey(a.Actor), a.Since.UTC(), int64(a.Recent)
		}
		return out, h.query(ctx, add, `SELECT f.actor, f.kind, f.value, f.first_seen, f.last_seen
			FROM unnest($1::text[]) AS a(actor) JOIN hookd_actor_fact f ON f.actor = a.actor AND f.kind IN ('actor', 'country', 'asn')
			UNION ALL
			SELECT s.actor, s.kind, s.value, s.first_seen, s.last_seen
			FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS a(actor, since, recent)
			CROSS JOIN LATERAL (SELECT f.actor, f.kind, f.value, f.first_seen, f.last_seen FROM hookd_actor_fact f
				WHERE f.actor = a.actor AND f.kind = 'subject' AND f.last_seen >= a.since
				ORDER BY f.last_seen DESC LIMIT a.recent) AS s`, actors, since, recent)
	}
	own, err := h.tx.PrepareContext(ctx, `SELECT actor, kind, value, first_seen, last_seen FROM hookd_actor_fact
		WHERE actor = $1 AND kind IN ('actor', 'country', 'asn')`)
	if err != nil {
		return nil, dbError("detect", err)
	}
	defer own.Close()
	recent, err := h.tx.PrepareContext(ctx, `SELECT actor, kind, value, first_seen, last_seen FROM hookd_actor_fact
		WHERE actor = $1 AND kind = 'subject' AND last_seen >= $2 ORDER BY last_seen DESC LIMIT $3`)
	if err != nil {
		return nil, dbError("detect", err)
	}
	defer recent.Close()
	for _, a := range asks {
		if err := h.rows(ctx, add, own, dbKey(a.Actor)); err != nil {
			return nil, err
		}
		if _, seen := out[a.Actor]; !seen || a.Recent == 0 {
			continue // never seen: no subjects either
		}
		if err := h.rows(ctx, add, recent, dbKey(a.Actor), h.s.timeArg(a.Since), a.Recent); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Holdings reads the ledger's rows of the subjects.
func (h history) Holdings(ctx context.Context, subjects []detect.SubjectRef) (map[detect.SubjectRef][]detect.Holding, error) {
	out := map[detect.SubjectRef][]detect.Holding{}
	add := func(r *sql.Rows) error {
		var ref detect.SubjectRef
		var d detect.Holding
		var category string
		if err := r.Scan(&ref.Kind, &ref.ID, &d.Role, &d.RoleName, &category, &d.Held, h.s.timeCol(&d.At), &d.By, &d.Via); err != nil {
			return err
		}
		ref.ID, d.Role, d.Via = eventIDOf(ref.ID), eventIDOf(d.Role), eventIDOf(d.Via)
		d.Privileged = hookd.Privileged(hookd.Category(category), hookd.Role{Name: d.RoleName})
		out[ref] = append(out[ref], d)
		return nil
	}
	// The subjects: on Postgres all of them in arrays, on SQLite one a run of the statement.
	from := `(SELECT $1 AS k, $2 AS i) AS s`
	if h.s.dialect == postgres {
		from = `unnest($1::text[], $2::text[]) AS s(k, i)`
	}
	q := `SELECT h.subject_kind, h.subject_id, h.role_key, h.role_name, h.category, h.held, h.published, h.actor, '' FROM ` + from + `
		JOIN hookd_holding h ON h.subject_kind = s.k AND h.subject_id = s.i
		UNION ALL ` + throughGroups + from + `
		JOIN hookd_membership m ON s.k = 'user' AND m.user_id = s.i
		JOIN hookd_holding g ON g.subject_kind = 'group' AND g.subject_id = m.group_id AND g.held`
	if h.s.dialect == postgres {
		kinds := make([]string, len(subjects))
		ids := make([]string, len(subjects))
		for i, ref := range subjects {
			kinds[i], ids[i] = ref.Kind, dbKey(ref.ID)
		}
		return out, h.query(ctx, add, q, kinds, ids)
	}
	stmt, err := h.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, dbError("detect", err)
	}
	defer stmt.Close()
	for _, ref := range subjects {
		if err := h.rows(ctx, add, stmt, ref.Kind, dbKey(ref.ID)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// throughGroups selects, in Holdings' columns, what users hold through the groups they are or
// were in (held while they are members), as of their newest membership event: a short stay in
// a privileged group reads like a short-lived grant.
const throughGroups = `SELECT 'user', m.user_id, g.role_key, g.role_name, g.category, m.member,
	CASE WHEN m.published > g.published THEN m.published ELSE g.published END, m.actor, m.group_id FROM `

// query runs q in the transaction and hands each row to fn.
func (h history) query(ctx context.Context, fn func(*sql.Rows) error, q string, args ...any) error {
	rows, err := h.tx.QueryContext(ctx, q, args...)
	return eachRow(rows, err, "detect", fn)
}

// rows runs a prepared statement and hands each row to fn.
func (h history) rows(ctx context.Context, fn func(*sql.Rows) error, stmt *sql.Stmt, args ...any) error {
	rows, err := stmt.QueryContext(ctx, args...)
	return eachRow(rows, err, "detect", fn)
}

// detectFindings sets the findings of the entries' changes from the past as the transaction
// sees it, and returns what the batch adds to it, for writeFacts.
func (s *Store) detectFindings(ctx context.Context, tx *sql.Tx, entries []entry) ([]detect.Fact, error) {
	if s.opts.Detect == nil {
		return nil, nil
	}
	changes := make([]*hookd.RoleChange, len(entries))
	for i, e := range entries {
		changes[i] = e.rc
	}
	return s.opts.Detect.Detect(ctx, history{s, tx}, changes)
}

// writeFacts adds facts to what the detections remember of actors: the earliest first and
// the latest last sighting win.
func (s *Store) writeFacts(ctx context.Context, tx *sql.Tx, facts []detect.Fact) error {
	rows := make([][]any, len(facts))
	for i, f := range facts {
		rows[i] = []any{dbKey(f.Actor), f.Kind, dbKey(f.Value), s.timeArg(f.First), s.timeArg(f.Last)}
	}
	return s.insertMany(ctx, tx, `INSERT INTO hookd_actor_fact (actor, kind, value, first_seen, last_seen) `, `
		ON CONFLICT (actor, kind, value) DO UPDATE SET
		first_seen = CASE WHEN excluded.first_seen < hookd_actor_fact.first_seen THEN excluded.first_seen ELSE hookd_actor_fact.first_seen END,
		last_seen = CASE WHEN excluded.last_seen > hookd_actor_fact.last_seen THEN excluded.last_seen ELSE hookd_actor_fact.last_seen END
		WHERE excluded.first_seen < hookd_actor_fact.first_seen OR excluded.last_seen > hookd_actor_fact.last_seen`, rows, nil, "detect facts")
}
