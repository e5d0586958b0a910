package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
)

// ErrReplayed is returned by Decide for a request it has recorded before.
var ErrReplayed = fmt.Errorf("request already recorded: %w", adminapi.ErrConflict)

// Escalation sends an alert on to more sinks when nobody decided on its change in time.
type Escalation struct {
	After time.Duration
	Sinks []string
}

// Decide records a responder's decision on the stored change eventID and on the other
// changes of its admin action, which its alert showed with it, and returns their event ids,
// the clicked one first. requestKey is the signed request's own key: a request recorded
// before, on any replica, is refused with ErrReplayed; a change not stored with ErrNotFound.
func (s *Store) Decide(ctx context.Context, eventID string, d hookd.Decision, requestKey string) ([]string, error) {
	key := dbKey(eventID)
	var decided []string
	err := s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
		var group string
		err := tx.QueryRowContext(ctx, `SELECT group_key FROM hookd_event WHERE uuid = $1`, key).Scan(&group)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return dbError("record decision", err)
		}
		keys := []string{key}
		if group != "" {
			res, err := tx.QueryContext(ctx, `SELECT uuid FROM hookd_event WHERE group_key = $1 AND uuid <> $2 ORDER BY uuid`, group, key)
			if err := eachRow(res, err, "record decision", func(r *sql.Rows) error {
				var k string
				err := r.Scan(&k)
				keys = append(keys, k)
				return err
			}); err != nil {
				return err
			}
		}
		insert := `INSERT INTO hookd_decision (event, decision, by_id, by_name, via, decided_at, request_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_key) DO NOTHING`
		decided = decided[:0]
		for i, k := range keys {
			rk := requestKey // the clicked change's row is the request's; the others' follow it
			if i > 0 {
				rk += " " + k
			}
			res, err := tx.ExecContext(ctx, insert, k, d.Decision, d.ByID, d.ByName, d.Via, s.timeArg(d.At), rk)
			if err != nil {
				return dbError("record decision", err)
			}
			if n, err := res.RowsAffected(); i == 0 && (err != nil || n == 0) {
				return errors.Join(ErrReplayed, err)
			}
			decided = append(decided, eventIDOf(k))
		}
		return nil
	})
	return decided, err
}

// newestDecision is the join that adds a change's newest decision to a read of hookd_event e.
const newestDecision = ` LEFT JOIN hookd_decision d ON d.id = (SELECT max(id) FROM hookd_decision WHERE event = e.uuid)`

// decisionCols are the columns of newestDecision, read by scanDecision.
const decisionCols = `d.decision, d.by_id, d.by_name, d.via, d.decided_at`

// decisionScan holds decisionCols as read.
type decisionScan struct {
	decision, byID, byName, via sql.NullString
	at                          any
}

func (d *decisionScan) dest() []any { return []any{&d.decision, &d.byID, &d.byName, &d.via, &d.at} }

// get returns the decision read, or nil when the change has none.
func (d *decisionScan) get(s *Store) *hookd.Decision {
	if !d.decision.Valid {
		return nil
	}
	at, _ := s.scanTime(d.at)
	return &hookd.Decision{Decision: d.decision.String, ByID: d.byID.String, ByName: d.byName.String, Via: d.via.String, At: at}
}
