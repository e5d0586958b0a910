package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/hookd/hookd/detect"
	"github.com/hookd/hookd/hook"
)

// The store's side of the detections: what detect reads of the past (the ledger and
// hookd_actor_fact) in the accepting transaction, before the batch is written, and the facts
// it writes back after.

// history is detect.History over one transaction.
type history struct {
	s  *Store
	tx *sql.Tx
}

// Actor reads an actor's first sighting, the networks asked for and the subjects changed at
// or after since.
func (h history) Actor(ctx context.Context, actor string, networks []string, since time.Time) (detect.ActorPast, error) {
	past := detect.ActorPast{Networks: map[string]time.Time{}, Subjects: map[string]time.Time{}}
	key := dbKey(actor)
	var first any
	err := h.tx.QueryRowContext(ctx, `SELECT first_seen FROM hookd_actor_fact WHERE actor = $1 AND kind = 'actor' AND value = ''`, key).Scan(&first)
	switch {
	case err == sql.ErrNoRows:
		return past, nil // never seen: nothing else to read
	case err != nil:
		return past, dbError("detect", err)
	}
	if past.FirstSeen, err = h.s.scanTime(first); err != nil {
		return past, dbError("detect", err)
	}
	for _, n := range networks {
		kind, value, _ := strings.Cut(n, ":")
		err := h.tx.QueryRowContext(ctx, `SELECT first_seen FROM hookd_actor_fact WHERE actor = $1 AND kind = $2 AND value = $3`,
			key, kind, dbKey(value)).Scan(&first)
		switch {
		case err == sql.ErrNoRows:
			past.Networks[n] = time.Time{}
		case err != nil:
			return past, dbError("detect", err)
		default:
			if past.Networks[n], err = h.s.scanTime(first); err != nil {
				return past, dbError("detect", err)
			}
		}
	}
	rows, err := h.tx.QueryContext(ctx, `SELECT value, last_seen FROM hookd_actor_fact
		WHERE actor = $1 AND kind = 'subject' AND last_seen >= $2 ORDER BY last_seen DESC LIMIT 1000`, key, h.s.timeArg(since))
	if err != nil {
		return past, dbError("detect", err)
	}
	defer rows.Close()
	for rows.Next() {
		var subject string
		var last any
		if err := rows.Scan(&subject, &last); err != nil {
			return past, dbError("detect", err)
		}
		t, err := h.s.scanTime(last)
		if err != nil {
			return past, dbError("detect", err)
		}
		past.Subjects[eventIDOf(subject)] = t
	}
	if err := rows.Err(); err != nil {
		return past, dbError("detect", err)
	}
	return past, nil
}

// Holdings reads the ledger's rows of one subject.
func (h history) Holdings(ctx context.Context, kind, id string) ([]detect.Holding, error) {
	rows, err := h.tx.QueryContext(ctx, `SELECT role_key, role_name, category, held, published, actor FROM hookd_holding
		WHERE subject_kind = $1 AND subject_id = $2`, kind, dbKey(id))
	if err != nil {
		return nil, dbError("detect", err)
	}
	defer rows.Close()
	var out []detect.Holding
	for rows.Next() {
		var d detect.Holding
		var category string
		var held, at any
		if err := rows.Scan(&d.Role, &d.RoleName, &category, &held, &at, &d.By); err != nil {
			return nil, dbError("detect", err)
		}
		if d.At, err = h.s.scanTime(at); err != nil {
			return nil, dbError("detect", err)
		}
		d.Role = eventIDOf(d.Role)
		d.Held = held == true || held == int64(1)
		d.Privileged = hook.Privileged(hook.Category(category), hook.Role{Name: d.RoleName})
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("detect", err)
	}
	return out, nil
}

// detectFindings sets the findings of the entries' changes from the past as the transaction
// sees it, and writes what the batch adds to it.
func (s *Store) detectFindings(ctx context.Context, tx *sql.Tx, entries []entry) error {
	if s.opts.Detect == nil {
		return nil
	}
	changes := make([]*hook.RoleChange, len(entries))
	for i, e := range entries {
		changes[i] = e.rc
	}
	facts, err := s.opts.Detect.Detect(ctx, history{s, tx}, changes)
	if err != nil || len(facts) == 0 {
		return err
	}
	const upsert = ` ON CONFLICT (actor, kind, value) DO UPDATE SET
		first_seen = CASE WHEN excluded.first_seen < hookd_actor_fact.first_seen THEN excluded.first_seen ELSE hookd_actor_fact.first_seen END,
		last_seen = CASE WHEN excluded.last_seen > hookd_actor_fact.last_seen THEN excluded.last_seen ELSE hookd_actor_fact.last_seen END
		WHERE excluded.first_seen < hookd_actor_fact.first_seen OR excluded.last_seen > hookd_actor_fact.last_seen`
	if s.dialect == postgres {
		var actors, kinds, values []string
		var firsts, lasts []time.Time
		for _, f := range facts {
			actors, kinds, values = append(actors, dbKey(f.Actor)), append(kinds, f.Kind), append(values, dbKey(f.Value))
			firsts, lasts = append(firsts, f.First.UTC()), append(lasts, f.Last.UTC())
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO hookd_actor_fact (actor, kind, value, first_seen, last_seen)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])`+upsert,
			actors, kinds, values, firsts, lasts)
		if err != nil {
			return dbError("detect facts", err)
		}
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO hookd_actor_fact (actor, kind, value, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5)`+upsert)
	if err != nil {
		return dbError("prepare detect facts", err)
	}
	defer stmt.Close()
	for _, f := range facts {
		if _, err := stmt.ExecContext(ctx, dbKey(f.Actor), f.Kind, dbKey(f.Value), s.timeArg(f.First), s.timeArg(f.Last)); err != nil {
			return dbError("detect facts", err)
		}
	}
	return nil
}
