package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
)

// The operator console's reads and repairs. Reads never take the writer's turn on SQLite
// (WAL readers run beside it); repairs are small transactions.

// ErrAlreadyHandled is a retry or discard of a dead letter an operator already handled.
var ErrAlreadyHandled = fmt.Errorf("dead letter already handled (%w)", adminapi.ErrConflict)

// ErrNotDead is a retry or discard of a delivery that is not in the dead letter.
var ErrNotDead = fmt.Errorf("not a dead letter: the delivery is not dead (%w)", adminapi.ErrConflict)

const (
	defaultPage = 50
	maxPage     = 500
)

// timeArg is a time as a query parameter: TEXT on SQLite, TIMESTAMPTZ on Postgres.
func (s *Store) timeArg(t time.Time) any {
	if s.dialect == sqlite {
		return t.UTC().Format(timeLayout)
	}
	return t.UTC()
}

// Changes returns a page of stored role changes, newest first, that match f, each with its
// delivery state per routed sink. The filters run on hookd_change, the console's narrow
// index of the records; only the page's records are read.
func (s *Store) Changes(ctx context.Context, f adminapi.ChangeFilter) (adminapi.ChangePage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	where, args, err := s.changeWhere(f)
	if err != nil {
		return adminapi.ChangePage{}, err
	}
	// One more than the page, to tell whether there is a next one.
	rows, err := s.queryRows(ctx, `SELECT e.uuid, e.published, e.accepted_at, e.record, NULL, e.sinks, c.severity, `+decisionCols+`
		FROM (SELECT uuid, published, severity FROM hookd_change`+where+` ORDER BY published DESC, uuid DESC LIMIT `+strconv.Itoa(limit+1)+`) c
		JOIN hookd_event e ON e.uuid = c.uuid AND e.published = c.published`+newestDecision+` ORDER BY c.published DESC, c.uuid DESC`, args...)
	if err != nil {
		return adminapi.ChangePage{}, err
	}
	var page adminapi.ChangePage
	if len(rows) > limit {
		rows = rows[:limit]
		page.Next = rows[limit-1].cursor
	}
	page.Changes, err = s.changesOf(ctx, rows)
	if err != nil {
		return adminapi.ChangePage{}, err
	}
	return page, nil
}

// Change returns one stored role change with its delivery states, or ErrNotFound.
func (s *Store) Change(ctx context.Context, eventID string) (adminapi.Change, error) {
	rows, err := s.queryRows(ctx, `SELECT e.uuid, e.published, e.accepted_at, e.record, e.raw, e.sinks, coalesce(c.severity, ''), `+decisionCols+`
		FROM hookd_event e LEFT JOIN hookd_change c ON c.published = e.published AND c.uuid = e.uuid`+newestDecision+` WHERE e.uuid = $1`, dbKey(eventID))
	if err != nil {
		return adminapi.Change{}, err
	}
	if len(rows) == 0 {
		return adminapi.Change{}, ErrNotFound
	}
	out, err := s.changesOf(ctx, rows)
	if err != nil {
		return adminapi.Change{}, err
	}
	return out[0], nil
}

// storedRow is one events-table row as the console reads it.
type storedRow struct {
	key        string
	rc         *hookd.RoleChange
	acceptedAt time.Time
	sinks      []string
	severity   string
	cursor     string
}

// changeWhere is a filter as a WHERE clause over hookd_change. Text filters match, case-insensitively,
// a substring of the fields the console's index keeps lowercased.
func (s *Store) changeWhere(f adminapi.ChangeFilter) (string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, vals ...any) {
		for _, v := range vals {
			args = append(args, v)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		conds = append(conds, cond)
	}
	if f.Before != "" {
		published, key, err := s.parseCursor(f.Before)
		if err != nil {
			return "", nil, err
		}
		add("(published < ? OR (published = ? AND uuid < ?))", published, published, key)
	}
	if !f.Since.IsZero() {
		add("published >= ?", s.timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		add("published < ?", s.timeArg(f.Until))
	}
	if f.EventType != "" {
		add("event_type = ?", dbKey(f.EventType))
	}
	if f.Source != "" {
		add("source = ?", f.Source)
	}
	if f.Severity != "" {
		add("severity = ?", strings.ToLower(f.Severity))
	}
	switch f.Finding {
	case "":
	case "*":
		add("findings <> ''")
	default:
		add("findings LIKE ?", "%,"+f.Finding+",%")
	}
	if f.User != "" {
		add("subject_kind = ?", string(hookd.SubjectUser))
	}
	if f.Group != "" {
		add("subject_kind = ?", string(hookd.SubjectGroup))
	}
	for _, text := range []struct{ column, value string }{{"roles", f.Role}, {"subject", f.User}, {"subject", f.Group}, {"actor", f.Actor}} {
		if text.value == "" {
			continue
		}
		escaped := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(searchText(text.value))
		add(text.column+` LIKE ? ESCAPE '\'`, "%"+escaped+"%")
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// searchText is text as the console's index keeps it: lowercased, and storable by both
// databases (no NUL, valid UTF-8).
func searchText(parts ...string) string {
	return plainText(strings.ToLower(strings.Join(parts, "\n")))
}

// changeIndexRow is an event's row in hookd_change.
func (s *Store) changeIndexRow(key string, rc *hookd.RoleChange) []any {
	var roles, subject, actor []string
	for _, r := range rc.Roles {
		roles = append(roles, r.Name, r.ID, r.Type)
	}
	subject = append(subject, rc.Subject.ID, rc.Subject.Login, rc.Subject.DisplayName)
	actor = append(actor, rc.Actor.ID, rc.Actor.Login, rc.Actor.DisplayName)
	severity, _ := s.severity(rc)
	findings := ""
	for _, f := range rc.Findings {
		findings += "," + f.ID
	}
	if findings != "" {
		findings += ","
	}
	return []any{key, s.timeArg(rc.Published), dbKey(rc.EventType), searchText(string(rc.Source)), severity,
		searchText(roles...), searchText(string(rc.Subject.Kind)), searchText(subject...), searchText(actor...), findings}
}

// insertChangeIndex writes the console's index rows of newly stored events.
func (s *Store) insertChangeIndex(ctx context.Context, tx *sql.Tx, rows [][]any) error {
	return s.insertMany(ctx, tx, `INSERT INTO hookd_change (uuid, published, event_type, source, severity, roles, subject_kind, subject, actor, findings) `,
		` ON CONFLICT DO NOTHING`, rows, nil, "index changes")
}

// indexOldChanges fills hookd_change for events stored before it existed, once.
func (s *Store) indexOldChanges(ctx context.Context) error {
	return s.replay(ctx, "console index", func(tx *sql.Tx, keys []string, changes []*hookd.RoleChange) error {
		index := make([][]any, len(keys))
		for i, key := range keys {
			index[i] = s.changeIndexRow(key, changes[i])
		}
		return s.insertChangeIndex(ctx, tx, index)
	})
}

// queryRows reads events as the console shows them (storedRow's columns, in order, then
// decisionCols). An
// unreadable record is an error of its own, not the database's.
func (s *Store) queryRows(ctx context.Context, q string, args ...any) ([]storedRow, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, dbError("read changes", err)
	}
	defer rows.Close()
	var out []storedRow
	for rows.Next() {
		var r storedRow
		var published, accepted any
		var data, raw []byte
		var sinks string
		var d decisionScan
		if err := rows.Scan(append([]any{&r.key, &published, &accepted, &data, &raw, &sinks, &r.severity}, d.dest()...)...); err != nil {
			return nil, dbError("read changes", err)
		}
		if len(raw) == 0 {
			raw = nil
		}
		if r.rc, err = decodeRecord(r.key, data, raw); err != nil {
			return nil, err
		}
		r.rc.Decision = d.get(s)
		if r.acceptedAt, err = s.scanTime(accepted); err != nil {
			return nil, fmt.Errorf("event %s: accepted_at: %w", r.key, err)
		}
		p, err := s.scanTime(published)
		if err != nil {
			return nil, fmt.Errorf("event %s: published: %w", r.key, err)
		}
		r.cursor = formatCursor(p, r.key)
		r.sinks = strings.FieldsFunc(sinks, func(c rune) bool { return c == ',' })
		out = append(out, r)
	}
	return out, dbError("read changes", rows.Err())
}

// A cursor is the published time and key of the last change shown.
func formatCursor(published time.Time, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(published.UTC().Format(time.RFC3339Nano) + "|" + key))
}

func (s *Store) parseCursor(c string) (any, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, "", fmt.Errorf("%w: bad page cursor", adminapi.ErrBadRequest)
	}
	at, key, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil {
		return nil, "", fmt.Errorf("%w: bad page cursor", adminapi.ErrBadRequest)
	}
	return s.timeArg(t), key, nil
}

// changesOf is rows as the console shows them, with their delivery state for each sink
// they were routed to: the state of the newest delivery row for that sink (a dead letter
// re-queued has a newer one).
func (s *Store) changesOf(ctx context.Context, rows []storedRow) ([]adminapi.Change, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	var keys []any
	for _, r := range rows {
		keys = append(keys, r.key)
	}
	newest := map[[2]string]adminapi.Delivery{}
	now := s.opts.Now()
	err := s.scan(ctx, `SELECT coalesce(d.carrier, d.id), d.event, d.sink, d.state, d.attempt, d.run_at, d.lease_until, d.last_error, d.finished_at, coalesce(h.action, '')
		FROM hookd_delivery d LEFT JOIN hookd_deadletter h ON h.job_id = coalesce(d.carrier, d.id)
		WHERE d.event IN (`+placeholders(1, len(keys))+`) ORDER BY d.id`, keys, func(r *sql.Rows) error {
		var d adminapi.Delivery
		var event, state, handled string
		var runAt, leased, finished any
		if err := r.Scan(&d.JobID, &event, &d.Sink, &state, &d.Attempts, &runAt, &leased, &d.LastError, &finished, &handled); err != nil {
			return err
		}
		switch state {
		case stateDelivered:
			d.State, d.LastError = adminapi.StateDelivered, ""
			d.DeliveredAt, _ = s.scanTime(finished)
		case stateDead:
			d.State = map[string]string{"": adminapi.StateDead, "retried": adminapi.StateRetried, "discarded": adminapi.StateHandled}[handled]
		default: // pending, or summarised and waiting for its summary
			d.State = adminapi.StatePending
			if leased == nil && d.LastError != "" {
				d.State = adminapi.StateRetrying
			}
			if at, err := s.scanTime(runAt); err == nil && leased == nil && at.After(now) {
				d.NextAttempt = at
			}
		}
		newest[[2]string{d.Sink, event}] = d
		return nil
	})
	out := make([]adminapi.Change, len(rows))
	for i, r := range rows {
		out[i] = adminapi.Change{Record: r.rc, AcceptedAt: r.acceptedAt, Severity: r.severity}
		for _, sink := range r.sinks {
			d, ok := newest[[2]string{sink, r.key}]
			if !ok {
				d = adminapi.Delivery{Sink: sink, State: adminapi.StateUnknown}
			}
			out[i].Deliveries = append(out[i].Deliveries, d)
		}
	}
	return out, err
}

// scan runs q and hands each row to fn.
func (s *Store) scan(ctx context.Context, q string, args []any, fn func(*sql.Rows) error) error {
	return s.scanTx(ctx, s.db, q, args, fn)
}

// scanTx is scan on db or a transaction.
func (s *Store) scanTx(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	return eachRow(rows, err, "console read", fn)
}

// eachRow hands each row of rows to fn and closes them; err is the query's. op names the
// query in errors.
func eachRow(rows *sql.Rows, err error, op string, fn func(*sql.Rows) error) error {
	if err != nil {
		return dbError(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return dbError(op, err)
		}
	}
	return dbError(op, rows.Err())
}

// timeCol is a Scan destination for a time column (see scanTime); NULL leaves t as it is.
func (s *Store) timeCol(t *time.Time) sql.Scanner {
	return scanner(func(v any) (err error) {
		if v != nil {
			*t, err = s.scanTime(v)
		}
		return err
	})
}

// scanner is a function as a Scan destination.
type scanner func(any) error

// Scan calls f.
func (f scanner) Scan(v any) error { return f(v) }

// placeholders is "$from, …" for n parameters.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// DeadLetters lists deliveries in the dead letter, newest first: those not yet handled, or
// with f.Handled all of them.
func (s *Store) DeadLetters(ctx context.Context, f adminapi.DeadLetterFilter) ([]adminapi.DeadLetter, error) {
	limit := f.Limit
	if limit <= 0 || limit > 10*maxPage {
		limit = 10 * maxPage
	}
	q := `SELECT d.id, d.sink, d.event, d.attempt, d.finished_at, d.last_error,
			coalesce(h.action, ''), h.handled_at, coalesce(h.handled_by, ''), coalesce(h.retry_job_id, 0)
		FROM hookd_delivery d LEFT JOIN hookd_deadletter h ON h.job_id = d.id
		WHERE d.state = 'dead' AND d.carrier IS NULL`
	var args []any
	if !f.Handled {
		q += ` AND h.job_id IS NULL`
	}
	if f.Sink != "" {
		args = append(args, f.Sink)
		q += ` AND d.sink = $1`
	}
	q += ` ORDER BY d.id DESC LIMIT ` + strconv.Itoa(limit)
	var out []adminapi.DeadLetter
	err := s.scan(ctx, q, args, func(r *sql.Rows) error {
		var d adminapi.DeadLetter
		var failed, handled any
		if err := r.Scan(&d.JobID, &d.Sink, &d.EventID, &d.Attempts, &failed, &d.Reason, &d.Handling, &handled, &d.HandledBy, &d.RetryJobID); err != nil {
			return err
		}
		d.FailedAt, _ = s.scanTime(failed)
		if handled != nil {
			d.HandledAt, _ = s.scanTime(handled)
		}
		d.EventID, d.State = eventIDOf(d.EventID), s.deadState(d.Attempts)
		out = append(out, d)
		return nil
	})
	return out, err
}

// deadState says how a delivery ended in the dead letter: "discarded" after its last attempt,
// "cancelled" when the sink refused it for good before.
func (s *Store) deadState(attempts int) string {
	if attempts >= s.opts.MaxAttempts {
		return "discarded"
	}
	return "cancelled"
}

// eventIDOf undoes dbKey for display.
func eventIDOf(key string) string {
	if rest, ok := strings.CutPrefix(key, keyPrefix); ok {
		if b, err := base64.RawURLEncoding.DecodeString(rest); err == nil {
			return string(b)
		}
	}
	return key
}

// RetryDeadLetter re-queues a dead letter as a fresh delivery (attempts from zero) and marks
// it handled by by, in one transaction.
func (s *Store) RetryDeadLetter(ctx context.Context, jobID int64, by string) (adminapi.DeadLetter, error) {
	return s.handleDeadLetter(ctx, jobID, "retried", by)
}

// DiscardDeadLetter marks a dead letter handled without sending it; it is kept for audit.
func (s *Store) DiscardDeadLetter(ctx context.Context, jobID int64, by string) (adminapi.DeadLetter, error) {
	return s.handleDeadLetter(ctx, jobID, "discarded", by)
}

func (s *Store) handleDeadLetter(ctx context.Context, id int64, action, by string) (adminapi.DeadLetter, error) {
	var d adminapi.DeadLetter
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var state, key string
		var carried sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT state, carrier, sink, event, attempt FROM hookd_delivery WHERE id = $1`, id).
			Scan(&state, &carried, &d.Sink, &key, &d.Attempts)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("job %d: %w", id, adminapi.ErrNotFound)
		}
		if err != nil {
			return dbError("read delivery", err)
		}
		if state != stateDead || carried.Valid {
			return fmt.Errorf("job %d is %s: %w", id, state, ErrNotDead)
		}
		now := s.opts.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO hookd_deadletter (job_id, action, handled_at, handled_by) VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING`,
			id, action, s.timeArg(now), by)
		if err != nil {
			return dbError("mark dead letter", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("job %d: %w", id, ErrAlreadyHandled)
		}
		d.JobID, d.EventID, d.State, d.Handling, d.HandledBy, d.HandledAt = id, eventIDOf(key), s.deadState(d.Attempts), action, by, now
		if action != "retried" {
			return nil
		}
		// Fresh rows (attempts from zero) for the message's events, with their admin action,
		// so that they go out together again.
		var again []queued
		err = s.scanTx(ctx, tx, `SELECT sink, event, group_key, severity, inline FROM hookd_delivery
			WHERE state = 'dead' AND (id = $1 OR carrier = $1) AND event <> '' ORDER BY id`, []any{id}, func(r *sql.Rows) error {
			q := queued{runAt: now, requeued: true}
			err := r.Scan(&q.sink, &q.event, &q.group, &q.severity, &q.inline) // NULL: nil
			again = append(again, q)
			return err
		})
		if err != nil {
			return err
		}
		if err := s.queueRows(ctx, tx, again); err != nil {
			return err
		}
		// The new row of the dead letter's own event, or of a summary's first event.
		if key == "" && len(again) > 0 {
			key = again[0].event
		}
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM hookd_delivery WHERE event = $1 AND sink = $2`, key, d.Sink).Scan(&d.RetryJobID); err != nil {
			return dbError("queue retry", err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE hookd_deadletter SET retry_job_id = $1 WHERE job_id = $2`, d.RetryJobID, id)
		return dbError("mark dead letter", err)
	})
	if err == nil && action == "retried" {
		s.wakeWorkers()
	}
	return d, err
}

// SinkJobs counts each sink's deliveries that are not done: pending, retrying, and dead (not
// yet handled).
func (s *Store) SinkJobs(ctx context.Context) (map[string]adminapi.JobCounts, error) {
	out := map[string]adminapi.JobCounts{}
	q := `SELECT d.sink, CASE WHEN d.state = 'dead' THEN 'dead' WHEN d.last_error <> '' AND d.lease_until IS NULL THEN 'retrying' ELSE 'pending' END, count(*)
		FROM hookd_delivery d LEFT JOIN hookd_deadletter h ON h.job_id = d.id
		WHERE (d.state IN ('pending', 'summarised') AND d.event <> '' OR d.state = 'dead' AND d.carrier IS NULL) AND h.job_id IS NULL
		GROUP BY 1, 2`
	err := s.scan(ctx, q, nil, func(r *sql.Rows) error {
		var sink, bucket string
		var n int64
		if err := r.Scan(&sink, &bucket, &n); err != nil {
			return err
		}
		c := out[sink]
		switch bucket {
		case "retrying":
			c.Retrying += n
		case "dead":
			c.Dead += n
		default:
			c.Pending += n
		}
		out[sink] = c
		return nil
	})
	return out, err
}

// LastDelivered is when each sink last took an alert, as recorded by the store.
func (s *Store) LastDelivered(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.scan(ctx, `SELECT sink, max(finished_at) FROM hookd_delivery WHERE state = 'delivered' GROUP BY sink`, nil, func(r *sql.Rows) error {
		var sink string
		var at time.Time
		err := r.Scan(&sink, s.timeCol(&at))
		out[sink] = at
		return err
	})
	return out, err
}

// LastSeen returns the newest stored event of each of the types, and how it came. It asks
// for max(published) first: with ORDER BY … LIMIT 1, Postgres's generic plan walks the
// table's key backwards through the rows of other types.
func (s *Store) LastSeen(ctx context.Context, eventTypes []string) (map[string]adminapi.LastSeen, error) {
	out := map[string]adminapi.LastSeen{}
	for _, t := range eventTypes {
		var published any
		var source string
		err := s.db.QueryRowContext(ctx, `SELECT published, source FROM hookd_change
			WHERE event_type = $1 AND published = (SELECT max(published) FROM hookd_change WHERE event_type = $2) LIMIT 1`, dbKey(t), dbKey(t)).Scan(&published, &source)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, dbError("console read", err)
		}
		at, err := s.scanTime(published)
		if err != nil {
			return nil, err
		}
		out[t] = adminapi.LastSeen{Published: at, Source: source}
	}
	return out, nil
}
