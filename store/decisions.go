package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
)

// ErrReplayed is returned by Decide for a request it has recorded before.
var ErrReplayed = fmt.Errorf("request already recorded: %w", adminapi.ErrConflict)

// Escalation sends an alert on to more sinks when nobody decided on its change in time.
type Escalation struct {
	After time.Duration
	Sinks []string
}

// Decide records a responder's decision on the stored change eventID. requestKey is the
// signed request's own key: a request recorded before, on any replica, is refused with
// ErrReplayed; a change not stored with ErrNotFound.
func (s *Store) Decide(ctx context.Context, eventID string, d hook.Decision, requestKey string) error {
	key := dbKey(eventID)
	return s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM hookd_event WHERE uuid = $1`, key).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return dbError("record decision", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO hookd_decision (event, decision, by_id, by_name, via, decided_at, request_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_key) DO NOTHING`,
			key, d.Decision, d.ByID, d.ByName, d.Via, s.timeArg(d.At), requestKey)
		if err != nil {
			return dbError("record decision", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(ErrReplayed, err)
		}
		return nil
	})
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
func (d *decisionScan) get(s *Store) *hook.Decision {
	if !d.decision.Valid {
		return nil
	}
	at, _ := s.scanTime(d.at)
	return &hook.Decision{Decision: d.decision.String, ByID: d.byID.String, ByName: d.byName.String, Via: d.via.String, At: at}
}
