package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	escalation         int
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
	// escalation, on an escalation's row, is how long the change went undecided (seconds).
	escalation int
	// The event as fetchEvents read it with the claim: its stored record and raw bytes, when
	// it was accepted, the newest decision on it; stored is false for an event the events
	// table does not have.
	stored      bool
	record, raw []byte
	acceptedAt  any
	decision    decisionScan
	// fetchErr is why the event could not be read with the claim: the message's failure.
	fetchErr error
}

// lane is a sink and a severity rank: a claim reads each lane's due rows apart, by an index
// seek to the lane and a range of run_at, so that neither a sink held back (paced, or asking
// to wait) nor rows not yet due (the group window, retries) cost a scan past them.
type lane struct {
	sink     string
	severity int
}

// laneSet is the lanes deliveries may wait in. It learns them from what this process queues
// and, for rows other replicas or earlier runs queued, from the table (see learnLanes).
type laneSet struct {
	mu    sync.Mutex
	lanes map[lane]bool
}

func (k *laneSet) add(l lane) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lanes == nil {
		k.lanes = map[lane]bool{}
	}
	k.lanes[l] = true
}

// except lists the lanes of sinks other than skip.
func (k *laneSet) except(skip []string) []lane {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]lane, 0, len(k.lanes))
	for l := range k.lanes {
		if !slices.Contains(skip, l.sink) {
			out = append(out, l)
		}
	}
	return out
}

// learnLanes adds the lanes of pending deliveries.
func (s *Store) learnLanes(ctx context.Context) error {
	return s.scan(ctx, `SELECT DISTINCT sink, severity FROM hookd_delivery WHERE state = 'pending'`, nil, func(r *sql.Rows) error {
		var l lane
		err := r.Scan(&l.sink, &l.severity)
		s.lanes.add(l)
		return err
	})
}

// queueRows writes delivery rows in tx.
func (s *Store) queueRows(ctx context.Context, tx *sql.Tx, rows []queued) error {
	if len(rows) == 0 {
		return nil
	}
	for _, r := range rows {
		s.lanes.add(lane{r.sink, r.severity})
	}
	args := make([][]any, len(rows))
	for i, r := range rows {
		var inline *string
		if r.inline != nil {
			v := string(r.inline)
			inline = &v
		}
		args[i] = []any{r.sink, r.event, r.group, r.severity, s.timeArg(r.runAt), inline, s.boolArg(r.requeued), r.escalation}
	}
	return s.insertMany(ctx, tx, `INSERT INTO hookd_delivery (sink, event, group_key, severity, run_at, inline, requeued, escalation) `,
		"", args, nil, "queue deliveries")
}

// maxGroupClaim bounds the rows of one admin action that one claim takes; the rest go in
// later messages.
const maxGroupClaim = 1000

const claimReturning = ` RETURNING id, sink, event, group_key, severity, attempt, requeued, inline, escalation`

// step records outcomes and then leases up to n due rows (see claim), in one transaction:
// the queue's one commit for what its workers finished and what they take next.
func (s *Store) step(ctx context.Context, outcomes []settled, n int, skip []string) (rows []claimed, err error) {
	err = s.queueTx(ctx, func(tx *sql.Tx) error {
		if err := s.settle(ctx, tx, outcomes); err != nil || n <= 0 {
			return err
		}
		rows, err = s.claim(ctx, tx, n, skip)
		return err
	})
	if err == nil && len(rows) > 0 {
		// After the commit: a read that fails is then the claimed messages' failure (retried,
		// like a sink's), not the step's, which would undo the outcomes it recorded.
		if ferr := s.fetchEvents(ctx, rows); ferr != nil {
			for i := range rows {
				rows[i].fetchErr = ferr
			}
		}
	}
	return rows, err
}

// fetchEvents reads the stored events of claimed rows into them: one query a step, where a
// query a message kept each worker waiting for a round trip of its own.
func (s *Store) fetchEvents(ctx context.Context, rows []claimed) error {
	at := map[string][]int{}
	var keys []any
	for i, r := range rows {
		if r.inline.Valid || r.event == "" {
			continue
		}
		if at[r.event] == nil {
			keys = append(keys, r.event)
		}
		at[r.event] = append(at[r.event], i)
	}
	if len(keys) == 0 {
		return nil
	}
	res, err := s.db.QueryContext(ctx, `SELECT e.uuid, e.record, e.raw, e.accepted_at, `+decisionCols+` FROM hookd_event e`+
		newestDecision+` WHERE e.uuid IN (`+placeholders(1, len(keys))+`)`, keys...)
	return eachRow(res, err, "read events", func(r *sql.Rows) error {
		var key string
		var c claimed
		if err := r.Scan(append([]any{&key, &c.record, &c.raw, &c.acceptedAt}, c.decision.dest()...)...); err != nil {
			return err
		}
		for _, i := range at[key] {
			rows[i].stored, rows[i].record, rows[i].raw, rows[i].acceptedAt, rows[i].decision = true, c.record, c.raw, c.acceptedAt, c.decision
		}
		return nil
	})
}

// queueTx runs fn in a transaction whose commit does not wait for the disk: the queue's own
// bookkeeping, which a crash of the machine (not of hookd) may undo, sending an alert twice
// or a little late, never losing one. Acceptance's commits, which Okta waits for, keep
// waiting for the disk; they also carry the queue's earlier commits to it.
func (s *Store) queueTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.dialect == postgres {
		return s.inTxOn(ctx, s.queueDB, fn)
	}
	conn, err := s.commitDB.Conn(ctx)
	if err != nil {
		return dbError("begin", err)
	}
	defer func() {
		// The connection is the committer's too: it goes back to FULL, or not back at all.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return dbError("begin", err)
	}
	return s.inTxOn(ctx, conn, fn)
}

// claim leases up to n due rows, most severe first and then oldest, of sinks other than
// skip, together with the pending rows of the same admin action and sink when grouping is on
// (one message carries them). It returns the rows claimed.
func (s *Store) claim(ctx context.Context, tx *sql.Tx, n int, skip []string) ([]claimed, error) {
	lanes := s.lanes.except(skip)
	if len(lanes) == 0 {
		return nil, nil
	}
	now := s.opts.Now()
	until := s.timeArg(now.Add(lease))
	args := []any{until, s.timeArg(now), n}
	// The oldest due rows of each lane, then the most severe and oldest of them all; of a
	// paced sink, only its most severe and oldest: it sends one at a time anyway, and the
	// next is chosen when that one is done, so that a critical alert claimed with others
	// cannot lose the sink's next slot to them.
	arm := `SELECT id, severity, run_at FROM hookd_delivery WHERE state = 'pending' AND sink = $%d AND severity = $%d
		AND run_at <= $2 ORDER BY run_at, id LIMIT $3` + s.skipLocked()
	bySink := map[string][]string{}
	for i, l := range lanes {
		args = append(args, l.sink, l.severity)
		bySink[l.sink] = append(bySink[l.sink], `SELECT * FROM (`+fmt.Sprintf(arm, len(args)-1, len(args))+`) a`+strconv.Itoa(i))
	}
	var arms []string
	for sink, sinkArms := range bySink {
		if s.paced[sink] {
			sinkArms = []string{`SELECT * FROM (SELECT * FROM (` + strings.Join(sinkArms, " UNION ALL ") + `) p ORDER BY severity DESC, run_at, id LIMIT 1) p` + strconv.Itoa(len(arms))}
		}
		arms = append(arms, sinkArms...)
	}
	out, err := s.lease(ctx, tx, `SELECT id FROM (`+strings.Join(arms, " UNION ALL ")+`) due ORDER BY severity DESC, run_at, id LIMIT $3`, args)
	if err != nil || s.opts.GroupWindow <= 0 {
		return out, err
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
		return out, nil
	}
	more, err := s.lease(ctx, tx, `SELECT id FROM hookd_delivery WHERE state = 'pending' AND group_key <> '' AND (group_key, sink) IN (VALUES `+
		strings.Join(pairs, ", ")+`) AND (lease_until IS NULL OR lease_until < $2)
		AND (escalation = 0 OR run_at <= $2) ORDER BY id LIMIT `+strconv.Itoa(maxGroupClaim)+s.skipLocked(), args)
	return append(out, more...), err
}

// skipLocked is the clause that makes a Postgres claim pass over rows another claim holds.
func (s *Store) skipLocked() string {
	if s.dialect == postgres {
		return ` FOR UPDATE SKIP LOCKED`
	}
	return ""
}

// lease leases the rows that the query (selecting ids, with the lease's end as $1) names;
// on Postgres the query locks them (FOR UPDATE SKIP LOCKED), so that no two claims take one.
func (s *Store) lease(ctx context.Context, tx *sql.Tx, ids string, args []any) ([]claimed, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE hookd_delivery SET run_at = $1, lease_until = $1, attempt = attempt + 1
		WHERE state = 'pending' AND id IN (`+ids+`)`+claimReturning, args...)
	if err != nil {
		return nil, dbError("claim deliveries", err)
	}
	return scanClaimed(rows)
}

// scanClaimed reads the rows a claim returned (claimReturning), and closes them.
func scanClaimed(rows *sql.Rows) ([]claimed, error) {
	defer rows.Close()
	var out []claimed
	for rows.Next() {
		var c claimed
		var requeued any
		if err := rows.Scan(&c.id, &c.sink, &c.event, &c.group, &c.severity, &c.attempt, &requeued, &c.inline, &c.escalation); err != nil {
			return nil, dbError("claim deliveries", err)
		}
		c.requeued = requeued == true || requeued == int64(1)
		out = append(out, c)
	}
	return out, dbError("claim deliveries", rows.Err())
}

// settled is what became of the rows of one message, for the queue loop to write.
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
}

// settle writes the outcomes of deliveries that ended together: the delivered rows of them
// all in one statement, the others message by message.
func (s *Store) settle(ctx context.Context, tx *sql.Tx, batch []settled) error {
	now := s.timeArg(s.opts.Now())
	var delivered []int64
	for _, o := range batch {
		if o.state == stateDelivered {
			delivered = append(delivered, o.ids...)
			continue
		}
		// A refund is no failure of the alert: its attempt and last error stay as they were.
		refund, lastErr, finished, carrier := 0, any(clip.Bytes(o.err, maxErrorText)), any(nil), any(nil)
		if o.refund {
			refund, lastErr = 1, nil
		}
		if o.state == stateDead {
			finished, carrier = now, o.carrier
		}
		if err := s.eachChunk(ctx, tx, o.ids, `UPDATE hookd_delivery SET state = $1, run_at = $2, lease_until = NULL,
			attempt = attempt - $3, last_error = coalesce($4, last_error), finished_at = $5,
			carrier = CASE WHEN id = $6 THEN NULL ELSE $6 END WHERE state = 'pending' AND id IN `,
			o.state, s.timeArg(o.runAt), refund, lastErr, finished, carrier); err != nil {
			return err
		}
	}
	if err := s.eachChunk(ctx, tx, delivered, `UPDATE hookd_delivery SET state = 'delivered', lease_until = NULL,
		finished_at = $1 WHERE state = 'pending' AND id IN `, now); err != nil {
		return err
	}
	for _, o := range batch { // the alerts a summary stood for end with it
		if o.summary && o.state != statePending {
			if err := s.eachChunk(ctx, tx, o.ids, `UPDATE hookd_delivery SET state = $1, finished_at = $2
				WHERE state = 'summarised' AND carrier IN `, o.state, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// renew extends the lease of rows this process still works on.
func (s *Store) renew(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	until := s.timeArg(s.opts.Now().Add(lease))
	return s.queueTx(ctx, func(tx *sql.Tx) error {
		// Only rows still leased: an outcome written meanwhile (a retry's run_at) stands.
		return s.eachChunk(ctx, tx, ids, `UPDATE hookd_delivery SET run_at = $1, lease_until = $1
			WHERE state = 'pending' AND lease_until IS NOT NULL AND id IN `, until)
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
