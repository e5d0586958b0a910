package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/clip"
)

// The delivery queue is the hookd_delivery table: a row per delivery of an event to a sink,
// written in the accepting transaction. A worker claims due rows by moving their run_at to
// the end of a lease: the claim needs no other state, a lease that lapses (the process died)
// makes the row due again for whichever process looks next, and the process that holds a
// lease renews it while the delivery runs (see renewLoop).

// lease is how long a claimed row stays with its claimer without a renewal. A replica that
// dies leaves its rows to another one this long after its last renewal.
const lease = 15 * time.Second

// queued is a delivery row to write at acceptance.
type queued struct {
	sink, event, group string
	severity           int
	runAt              time.Time
	inline             []byte
	requeued           bool
}

// claimed is a row a claim returned.
type claimed struct {
	id       int64
	sink     string
	event    string
	group    string
	severity int
	attempt  int
	requeued bool
	inline   sql.NullString
}

// queueRows writes delivery rows in tx.
func (s *Store) queueRows(ctx context.Context, tx *sql.Tx, rows []queued) error {
	if len(rows) == 0 {
		return nil
	}
	if s.dialect == sqlite {
		args := make([][]any, len(rows))
		for i, r := range rows {
			args[i] = []any{r.sink, r.event, r.group, r.severity, s.timeArg(r.runAt), nullText(r.inline), s.boolArg(r.requeued)}
		}
		return insertRows(ctx, tx, `INSERT INTO hookd_delivery (sink, event, group_key, severity, run_at, inline, requeued) VALUES `, "", args, nil, "queue deliveries")
	}
	var sinks, events, groups []string
	var severities []int
	var runAt []time.Time
	var inline []*string
	var requeued []bool
	for _, r := range rows {
		sinks, events, groups = append(sinks, r.sink), append(events, r.event), append(groups, r.group)
		severities, runAt, requeued = append(severities, r.severity), append(runAt, r.runAt.UTC()), append(requeued, r.requeued)
		var in *string
		if r.inline != nil {
			v := string(r.inline)
			in = &v
		}
		inline = append(inline, in)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO hookd_delivery (sink, event, group_key, severity, run_at, inline, requeued)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::timestamptz[], $6::text[], $7::boolean[])`,
		sinks, events, groups, severities, runAt, inline, requeued)
	return dbError("queue deliveries", err)
}

// maxGroupClaim bounds the rows of one admin action that one claim takes; the rest go in
// later messages.
const maxGroupClaim = 1000

// nullText is b as a nullable text column.
func nullText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

const claimReturning = ` RETURNING id, sink, event, group_key, severity, attempt, requeued, inline`

// claim leases up to n due rows, most severe first and then oldest, of sinks other than
// skip, together with the pending rows of the same admin action and sink when grouping is on
// (one message carries them). It returns the rows claimed.
func (s *Store) claim(ctx context.Context, n int, skip []string) ([]claimed, error) {
	now := s.opts.Now()
	until := s.timeArg(now.Add(lease))
	var out []claimed
	err := s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
		args := []any{until, s.timeArg(now), n}
		cond := ""
		if len(skip) > 0 {
			cond = ` AND sink NOT IN (` + placeholders(4, len(skip)) + `)`
			for _, k := range skip {
				args = append(args, k)
			}
		}
		due := `SELECT id FROM hookd_delivery WHERE state = 'pending' AND run_at <= $2` + cond + ` ORDER BY severity DESC, run_at, id LIMIT $3`
		var err error
		if out, err = s.lease(ctx, tx, due, args); err != nil || s.opts.GroupWindow <= 0 {
			return err
		}
		// The rest of each claimed row's admin action, not leased by another claim.
		var pairs []string
		args = []any{until, s.timeArg(now)}
		seen := map[[2]string]bool{}
		for _, c := range out {
			if c.group == "" || seen[[2]string{c.sink, c.group}] {
				continue
			}
			seen[[2]string{c.sink, c.group}] = true
			pairs = append(pairs, "($"+strconv.Itoa(len(args)+1)+", $"+strconv.Itoa(len(args)+2)+")")
			args = append(args, c.group, c.sink)
		}
		if len(pairs) == 0 {
			return nil
		}
		rest, err := s.lease(ctx, tx, `SELECT id FROM hookd_delivery WHERE state = 'pending' AND (group_key, sink) IN (VALUES `+
			strings.Join(pairs, ", ")+`) AND (lease_until IS NULL OR lease_until < $2) ORDER BY id LIMIT `+strconv.Itoa(maxGroupClaim), args)
		out = append(out, rest...)
		return err
	})
	return out, err
}

// lease leases the rows that the query (selecting ids, with the lease's end as $1) names.
func (s *Store) lease(ctx context.Context, tx *sql.Tx, ids string, args []any) ([]claimed, error) {
	if s.dialect == postgres {
		ids += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := tx.QueryContext(ctx, `UPDATE hookd_delivery SET run_at = $1, lease_until = $1, attempt = attempt + 1
		WHERE id IN (`+ids+`)`+claimReturning, args...)
	if err != nil {
		return nil, dbError("claim deliveries", err)
	}
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		var requeued any
		if err := rows.Scan(&c.id, &c.sink, &c.event, &c.group, &c.severity, &c.attempt, &requeued, &c.inline); err != nil {
			return nil, dbError("claim deliveries", err)
		}
		c.requeued = requeued == true || requeued == int64(1)
		out = append(out, c)
	}
	return out, dbError("claim deliveries", rows.Err())
}

// settled is what became of the rows of one message, for the completer to write.
type settled struct {
	ids []int64
	// state is the rows' next state: pending (again, at runAt), delivered or dead.
	state string
	runAt time.Time
	err   string
	// refund gives back the attempt the claim took: the sink was not asked (hookd's own
	// pace) or asked to wait (Retry-After), which is no failure of the alert.
	refund bool
	// summary says the rows are summary rows, whose folded alerts follow them.
	summary bool
	// carrier is the message's first row: the dead letter the others are listed under.
	carrier int64
	// recorded, when set, is closed once the outcome is written (or given up on).
	recorded chan struct{}
}

// settle writes outcomes in one transaction: the completer's commit, shared by the
// deliveries that ended together.
func (s *Store) settle(ctx context.Context, batch []settled) error {
	now := s.timeArg(s.opts.Now())
	return s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
		var delivered []int64
		for _, o := range batch {
			if o.state == stateDelivered {
				delivered = append(delivered, o.ids...)
				continue
			}
			if o.refund {
				// Not a failure of the alert: its attempt and last error stay as they were.
				if err := s.eachChunk(ctx, tx, o.ids, `UPDATE hookd_delivery SET run_at = $1, lease_until = NULL, attempt = attempt - 1
					WHERE state = 'pending' AND id IN `, s.timeArg(o.runAt)); err != nil {
					return err
				}
				continue
			}
			finished, carrier := any(nil), any(nil)
			if o.state == stateDead {
				finished, carrier = now, o.carrier
			}
			if err := s.eachChunk(ctx, tx, o.ids, `UPDATE hookd_delivery SET state = $1, run_at = $2, lease_until = NULL,
				last_error = $3, finished_at = $4, carrier = CASE WHEN id = $5 THEN NULL ELSE $5 END WHERE state = 'pending' AND id IN `,
				o.state, s.timeArg(o.runAt), clip.Bytes(o.err, maxErrorText), finished, carrier); err != nil {
				return err
			}
		}
		if err := s.eachChunk(ctx, tx, delivered, `UPDATE hookd_delivery SET state = 'delivered', lease_until = NULL,
			finished_at = $1 WHERE state = 'pending' AND id IN `, now); err != nil {
			return err
		}
		// The alerts a summary stood for end with it.
		for _, o := range batch {
			if o.summary && (o.state == stateDelivered || o.state == stateDead) {
				if err := s.eachChunk(ctx, tx, o.ids, `UPDATE hookd_delivery SET state = $1, finished_at = $2
					WHERE state = 'summarised' AND carrier IN `, o.state, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// renew extends the lease of rows this process still works on.
func (s *Store) renew(ctx context.Context, ids []int64) error {
	until := s.timeArg(s.opts.Now().Add(lease))
	return s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
		return s.eachChunk(ctx, tx, ids, `UPDATE hookd_delivery SET run_at = $1, lease_until = $1 WHERE state = 'pending' AND id IN `, until)
	})
}

// eachChunk runs stmt (ending in "id IN ") with args and then each chunk of ids as the list.
func (s *Store) eachChunk(ctx context.Context, tx *sql.Tx, ids []int64, stmt string, args ...any) error {
	for start := 0; start < len(ids); start += insertChunk {
		chunk := ids[start:min(start+insertChunk, len(ids))]
		all := append([]any(nil), args...)
		for _, id := range chunk {
			all = append(all, id)
		}
		if _, err := tx.ExecContext(ctx, stmt+"("+placeholders(len(args)+1, len(chunk))+")", all...); err != nil {
			return dbError("record delivery", err)
		}
	}
	return nil
}

// maxErrorText bounds the last error a row keeps.
const maxErrorText = 2000

// The states of a delivery row.
const (
	statePending   = "pending"
	stateDelivered = "delivered"
	stateDead      = "dead"
)

// releaseHeld makes rows that a crash of this process left leased due at once. Only for
// SQLite, whose data dir is this process's alone: on Postgres a lease of another replica's
// may be alive, and a dead one's lapses on its own.
func (s *Store) releaseHeld(ctx context.Context) (int64, error) {
	res, err := s.commitDB.ExecContext(ctx, `UPDATE hookd_delivery SET run_at = $1, lease_until = NULL
		WHERE state = 'pending' AND lease_until IS NOT NULL`, s.timeArg(s.opts.Now()))
	if err != nil {
		return 0, dbError("release deliveries", err)
	}
	return res.RowsAffected()
}
