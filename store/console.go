package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
)

// The operator console's reads and repairs. Reads never take the writer's turn on SQLite
// (WAL readers run beside it); repairs are small transactions.

// ErrAlreadyHandled is a retry or discard of a dead letter an operator already handled.
var ErrAlreadyHandled = fmt.Errorf("dead letter already handled (%w)", adminapi.ErrConflict)

// ErrNotDead is a retry or discard of a job that is not in the dead letter.
var ErrNotDead = fmt.Errorf("not a dead letter: the job is not cancelled or discarded (%w)", adminapi.ErrConflict)

const (
	defaultPage = 50
	maxPage     = 500
	// scanBatch is how many rows a filtered page reads at a time while it fills.
	scanBatch = 500
)

// argEvent, argSink and lastError are the SQL of a delivery job's event key, sink and last
// error, as each database stores River's JSON.
func (s *Store) argEvent(job string) string {
	if s.dialect == postgres {
		return "(" + job + ".args->>'event_id')"
	}
	return "json_extract(" + job + ".args, '$.event_id')"
}

func (s *Store) argSink(job string) string {
	if s.dialect == postgres {
		return "(" + job + ".args->>'sink')"
	}
	return "json_extract(" + job + ".args, '$.sink')"
}

func (s *Store) lastError(job string) string {
	if s.dialect == postgres {
		return "coalesce(" + job + ".errors[array_length(" + job + ".errors, 1)]->>'error', '')"
	}
	return "coalesce(json_extract(" + job + ".errors, '$[#-1].error'), '')"
}

// timeArg is a time as a query parameter: TEXT on SQLite, TIMESTAMPTZ on Postgres.
func (s *Store) timeArg(t time.Time) any {
	if s.dialect == sqlite {
		return t.UTC().Format(timeLayout)
	}
	return t.UTC()
}

// Changes returns a page of stored role changes, newest first, that match f and keep (when
// set: a test the database cannot run, such as the alert severity), each with its delivery
// state per routed sink.
func (s *Store) Changes(ctx context.Context, f adminapi.ChangeFilter, keep func(*hook.RoleChange) bool) (adminapi.ChangePage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultPage
	}
	limit = min(limit, maxPage)
	where, args, err := s.changeWhere(f)
	if err != nil {
		return adminapi.ChangePage{}, err
	}
	var page adminapi.ChangePage
	var rows []storedRow
	cursor := f.Before
	for len(rows) < limit {
		batch, err := s.changeRows(ctx, where, args, cursor, scanBatch)
		if err != nil {
			return adminapi.ChangePage{}, err
		}
		for _, r := range batch {
			if matches(r.rc, f) && (keep == nil || keep(r.rc)) {
				rows = append(rows, r)
				if len(rows) == limit {
					break
				}
			}
		}
		if len(batch) < scanBatch {
			break
		}
		cursor = batch[len(batch)-1].cursor
		if len(rows) == limit {
			break
		}
	}
	if len(rows) == limit {
		// One more row, at most a batch further, says whether there is a next page.
		last := rows[len(rows)-1].cursor
		more, err := s.changeRows(ctx, where, args, last, 1)
		if err != nil {
			return adminapi.ChangePage{}, err
		}
		if len(more) > 0 {
			page.Next = last
		}
	}
	page.Changes = make([]adminapi.Change, len(rows))
	for i, r := range rows {
		page.Changes[i] = adminapi.Change{Record: r.rc, AcceptedAt: r.acceptedAt}
	}
	if err := s.fillDeliveries(ctx, rows, page.Changes); err != nil {
		return adminapi.ChangePage{}, err
	}
	return page, nil
}

// Change returns one stored role change with its delivery states, or ErrNotFound.
func (s *Store) Change(ctx context.Context, eventID string) (adminapi.Change, error) {
	rows, err := s.queryRows(ctx, `SELECT uuid, published, accepted_at, record, raw, sinks FROM hookd_event WHERE uuid = $1`, dbKey(eventID))
	if err != nil {
		return adminapi.Change{}, err
	}
	if len(rows) == 0 {
		return adminapi.Change{}, ErrNotFound
	}
	out := []adminapi.Change{{Record: rows[0].rc, AcceptedAt: rows[0].acceptedAt}}
	if err := s.fillDeliveries(ctx, rows, out); err != nil {
		return adminapi.Change{}, err
	}
	return out[0], nil
}

// storedRow is one events-table row as the console reads it.
type storedRow struct {
	key        string
	rc         *hook.RoleChange
	acceptedAt time.Time
	sinks      []string
	cursor     string
}

// changeWhere is the SQL part of a filter. Text filters are narrowed in SQL by a
// case-insensitive match on the record's JSON text, then decided exactly by matches.
func (s *Store) changeWhere(f adminapi.ChangeFilter) (string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
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
	like := "LIKE"
	if s.dialect == postgres {
		like = "ILIKE"
	}
	for _, text := range []string{f.Role, f.User, f.Group, f.Actor} {
		if text == "" {
			continue
		}
		js, err := json.Marshal(text)
		if err != nil {
			return "", nil, err
		}
		inner := string(js[1 : len(js)-1])
		escaped := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(inner)
		add("record "+like+" ? ESCAPE '\\'", "%"+escaped+"%")
	}
	return strings.Join(conds, " AND "), args, nil
}

// changeRows reads up to n rows older than cursor that match where.
func (s *Store) changeRows(ctx context.Context, where string, args []any, cursor string, n int) ([]storedRow, error) {
	conds := where
	if cursor != "" {
		published, key, err := s.parseCursor(cursor)
		if err != nil {
			return nil, err
		}
		args = append(append([]any(nil), args...), published, key)
		c := fmt.Sprintf("(published, uuid) < ($%d, $%d)", len(args)-1, len(args))
		if conds == "" {
			conds = c
		} else {
			conds += " AND " + c
		}
	}
	q := `SELECT uuid, published, accepted_at, record, raw, sinks FROM hookd_event`
	if conds != "" {
		q += " WHERE " + conds
	}
	q += " ORDER BY published DESC, uuid DESC LIMIT " + strconv.Itoa(n)
	return s.queryRows(ctx, q, args...)
}

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
		if err := rows.Scan(&r.key, &published, &accepted, &data, &raw, &sinks); err != nil {
			return nil, dbError("read changes", err)
		}
		if r.rc, err = decodeRecord(r.key, data, raw); err != nil {
			return nil, err
		}
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
	return out, rows.Err()
}

// A cursor is the published time and key of the last change shown.
func formatCursor(published time.Time, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(published.UTC().Format(time.RFC3339Nano) + "|" + key))
}

func (s *Store) parseCursor(c string) (any, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, "", fmt.Errorf("%w: bad page cursor", ErrBadRequest)
	}
	at, key, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil {
		return nil, "", fmt.Errorf("%w: bad page cursor", ErrBadRequest)
	}
	return s.timeArg(t), key, nil
}

// ErrBadRequest is a console query the store cannot run as asked.
var ErrBadRequest = adminapi.ErrBadRequest

// matches decides the text filters exactly: case-insensitive substrings of the fields named.
func matches(rc *hook.RoleChange, f adminapi.ChangeFilter) bool {
	has := func(want string, fields ...string) bool {
		if want == "" {
			return true
		}
		want = strings.ToLower(want)
		for _, v := range fields {
			if strings.Contains(strings.ToLower(v), want) {
				return true
			}
		}
		return false
	}
	var roles []string
	for _, r := range rc.Roles {
		roles = append(roles, r.Name, r.ID, r.Type)
	}
	subject := []string{rc.Subject.ID, rc.Subject.Login, rc.Subject.DisplayName}
	if f.User != "" && rc.Subject.Kind != hook.SubjectUser {
		return false
	}
	if f.Group != "" && rc.Subject.Kind != hook.SubjectGroup {
		return false
	}
	return has(f.Role, roles...) && has(f.User, subject...) && has(f.Group, subject...) &&
		has(f.Actor, rc.Actor.ID, rc.Actor.Login, rc.Actor.DisplayName)
}

// jobState is what the console needs of one delivery job.
type jobState struct {
	id         int64
	event      string
	sink       string
	state      string
	attempt    int
	scheduled  time.Time
	lastError  string
	handled    string
	finishedAt time.Time
}

// fillDeliveries sets each change's delivery state for each sink it was routed to: delivered
// (hookd_delivered), else the state of the newest job that carries it (its own, or for a
// grouped change the job whose message claimed it).
func (s *Store) fillDeliveries(ctx context.Context, rows []storedRow, out []adminapi.Change) error {
	if len(rows) == 0 {
		return nil
	}
	keys := make([]any, len(rows))
	for i, r := range rows {
		keys[i] = r.key
	}
	in := placeholders(1, len(keys))
	delivered := map[[2]string]time.Time{}
	if err := s.scan(ctx, `SELECT sink, uuid, delivered_at FROM hookd_delivered WHERE uuid IN (`+in+`)`, keys, func(r *sql.Rows) error {
		var sink, key string
		var at any
		if err := r.Scan(&sink, &key, &at); err != nil {
			return err
		}
		t, err := s.scanTime(at)
		delivered[[2]string{sink, key}] = t
		return err
	}); err != nil {
		return err
	}
	cover := map[[2]string]string{}
	if err := s.scan(ctx, `SELECT sink, uuid, covered_by FROM hookd_delivery_cover WHERE uuid IN (`+in+`)`, keys, func(r *sql.Rows) error {
		var sink, key, by string
		if err := r.Scan(&sink, &key, &by); err != nil {
			return err
		}
		cover[[2]string{sink, key}] = by
		return nil
	}); err != nil {
		return err
	}
	jobKeys := append([]any(nil), keys...)
	for _, by := range cover {
		jobKeys = append(jobKeys, by)
	}
	jobs, err := s.jobsOf(ctx, jobKeys)
	if err != nil {
		return err
	}
	now := time.Now()
	for i, r := range rows {
		for _, sink := range r.sinks {
			d := adminapi.Delivery{Sink: sink, State: adminapi.StateUnknown}
			carrier := r.key
			if by, ok := cover[[2]string{sink, r.key}]; ok {
				carrier = by
			}
			if j, ok := jobs[[2]string{sink, carrier}]; ok {
				d.JobID, d.Attempts, d.LastError = j.id, j.attempt, j.lastError
				d.State = deliveryState(j)
				if (d.State == adminapi.StatePending || d.State == adminapi.StateRetrying) && j.scheduled.After(now) {
					d.NextAttempt = j.scheduled
				}
			}
			if at, ok := delivered[[2]string{sink, r.key}]; ok {
				d.State, d.DeliveredAt, d.NextAttempt = adminapi.StateDelivered, at, time.Time{}
			}
			out[i].Deliveries = append(out[i].Deliveries, d)
		}
	}
	return nil
}

// deliveryState is a job's state as the console says it.
func deliveryState(j jobState) string {
	switch j.state {
	case "completed":
		return adminapi.StateDelivered
	case "retryable":
		return adminapi.StateRetrying
	case "cancelled", "discarded":
		switch j.handled {
		case "retried":
			return adminapi.StateRetried
		case "discarded":
			return adminapi.StateHandled
		}
		return adminapi.StateDead
	}
	return adminapi.StatePending
}

// jobsOf returns the newest delivery job of each (sink, event key) among keys.
func (s *Store) jobsOf(ctx context.Context, keys []any) (map[[2]string]jobState, error) {
	out := map[[2]string]jobState{}
	q := `SELECT j.id, ` + s.argEvent("j") + `, ` + s.argSink("j") + `, j.state, j.attempt, j.scheduled_at, ` + s.lastError("j") + `, coalesce(h.action, '')
		FROM river_job j LEFT JOIN hookd_deadletter h ON h.job_id = j.id
		WHERE j.kind = 'hookd_delivery' AND ` + s.argEvent("j") + ` IN (` + placeholders(1, len(keys)) + `)
		ORDER BY j.id`
	err := s.scan(ctx, q, keys, func(r *sql.Rows) error {
		var j jobState
		var scheduled any
		if err := r.Scan(&j.id, &j.event, &j.sink, &j.state, &j.attempt, &scheduled, &j.lastError, &j.handled); err != nil {
			return err
		}
		j.scheduled, _ = s.scanTime(scheduled)
		j.lastError = plainError(j.lastError)
		out[[2]string{j.sink, j.event}] = j
		return nil
	})
	return out, err
}

// scan runs q and hands each row to fn.
func (s *Store) scan(ctx context.Context, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return dbError("console read", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return dbError("console read", err)
		}
	}
	if err := rows.Err(); err != nil {
		return dbError("console read", err)
	}
	return nil
}

// placeholders is "$from, …" for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// DeadLetters lists delivery jobs that were cancelled or discarded, newest first: those not
// yet handled, or with f.Handled all of them.
func (s *Store) DeadLetters(ctx context.Context, f adminapi.DeadLetterFilter) ([]adminapi.DeadLetter, error) {
	limit := f.Limit
	if limit <= 0 || limit > 10*maxPage {
		limit = 10 * maxPage
	}
	q := `SELECT j.id, ` + s.argSink("j") + `, ` + s.argEvent("j") + `, j.state, j.attempt, coalesce(j.finalized_at, j.scheduled_at), ` + s.lastError("j") + `,
			coalesce(h.action, ''), h.handled_at, coalesce(h.handled_by, ''), coalesce(h.retry_job_id, 0)
		FROM river_job j LEFT JOIN hookd_deadletter h ON h.job_id = j.id
		WHERE j.kind = 'hookd_delivery' AND j.state IN ('cancelled', 'discarded')`
	var args []any
	if !f.Handled {
		q += ` AND h.job_id IS NULL`
	}
	if f.Sink != "" {
		args = append(args, f.Sink)
		q += ` AND ` + s.argSink("j") + ` = $1`
	}
	q += ` ORDER BY j.id DESC LIMIT ` + strconv.Itoa(limit)
	var out []adminapi.DeadLetter
	err := s.scan(ctx, q, args, func(r *sql.Rows) error {
		var d adminapi.DeadLetter
		var failed, handled any
		if err := r.Scan(&d.JobID, &d.Sink, &d.EventID, &d.State, &d.Attempts, &failed, &d.Reason, &d.Handling, &handled, &d.HandledBy, &d.RetryJobID); err != nil {
			return err
		}
		d.FailedAt, _ = s.scanTime(failed)
		if handled != nil {
			d.HandledAt, _ = s.scanTime(handled)
		}
		d.EventID = eventIDOf(d.EventID)
		d.Reason = plainError(d.Reason)
		out = append(out, d)
		return nil
	})
	return out, err
}

// plainError drops River's name for how a job ended ("JobCancelError: "), which the state
// already says.
func plainError(s string) string {
	return strings.TrimPrefix(s, "JobCancelError: ")
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

// RetryDeadLetter re-queues a dead letter as a fresh delivery job (attempts from zero) and
// marks it handled by by, in one transaction. The new job sends only what the dead one had
// not delivered.
func (s *Store) RetryDeadLetter(ctx context.Context, jobID int64, by string) (adminapi.DeadLetter, error) {
	return s.handleDeadLetter(ctx, jobID, "retried", by)
}

// DiscardDeadLetter marks a dead letter handled without sending it; it is kept for audit.
func (s *Store) DiscardDeadLetter(ctx context.Context, jobID int64, by string) (adminapi.DeadLetter, error) {
	return s.handleDeadLetter(ctx, jobID, "discarded", by)
}

func (s *Store) handleDeadLetter(ctx context.Context, jobID int64, action, by string) (adminapi.DeadLetter, error) {
	argsText := "json(args)"
	if s.dialect == postgres {
		argsText = "args::text"
	}
	var d adminapi.DeadLetter
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var state, args string
		err := tx.QueryRowContext(ctx, `SELECT state, `+argsText+` FROM river_job WHERE id = $1 AND kind = 'hookd_delivery'`, jobID).Scan(&state, &args)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("job %d: %w", jobID, adminapi.ErrNotFound)
		}
		if err != nil {
			return dbError("read job", err)
		}
		if state != "cancelled" && state != "discarded" {
			return fmt.Errorf("job %d is %s: %w", jobID, state, ErrNotDead)
		}
		var da DeliveryArgs
		if err := json.Unmarshal([]byte(args), &da); err != nil {
			return fmt.Errorf("job %d: arguments unreadable: %w", jobID, err)
		}
		now := s.opts.Now()
		res, err := tx.ExecContext(ctx, `INSERT INTO hookd_deadletter (job_id, action, handled_at, handled_by) VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING`,
			jobID, action, s.timeArg(now), by)
		if err != nil {
			return dbError("mark dead letter", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("job %d: %w", jobID, ErrAlreadyHandled)
		}
		d = adminapi.DeadLetter{JobID: jobID, Sink: da.Sink, EventID: eventIDOf(da.EventID), State: state, Handling: action, HandledBy: by, HandledAt: now}
		if action != "retried" {
			return nil
		}
		da.Requeued = true
		res2, err := s.river.InsertTx(ctx, tx, da, nil)
		if err != nil {
			return dbError("queue retry", err)
		}
		d.RetryJobID = res2.Job.ID
		_, err = tx.ExecContext(ctx, `UPDATE hookd_deadletter SET retry_job_id = $1 WHERE job_id = $2`, d.RetryJobID, jobID)
		if err != nil {
			return dbError("mark dead letter", err)
		}
		return nil
	})
	return d, err
}

// SinkJobs counts each sink's delivery jobs that are not done: pending, retrying, and dead
// (not yet handled).
func (s *Store) SinkJobs(ctx context.Context) (map[string]adminapi.JobCounts, error) {
	out := map[string]adminapi.JobCounts{}
	q := `SELECT ` + s.argSink("j") + `, j.state, count(*) FROM river_job j LEFT JOIN hookd_deadletter h ON h.job_id = j.id
		WHERE j.kind = 'hookd_delivery' AND j.state IN ('available', 'scheduled', 'pending', 'running', 'retryable', 'cancelled', 'discarded')
		  AND h.job_id IS NULL
		GROUP BY 1, 2`
	err := s.scan(ctx, q, nil, func(r *sql.Rows) error {
		var sink, state string
		var n int64
		if err := r.Scan(&sink, &state, &n); err != nil {
			return err
		}
		c := out[sink]
		switch state {
		case "retryable":
			c.Retrying += n
		case "cancelled", "discarded":
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
	err := s.scan(ctx, `SELECT sink, max(delivered_at) FROM hookd_delivered GROUP BY sink`, nil, func(r *sql.Rows) error {
		var sink string
		var at any
		if err := r.Scan(&sink, &at); err != nil {
			return err
		}
		t, err := s.scanTime(at)
		out[sink] = t
		return err
	})
	return out, err
}

// LastSeen returns the newest stored event of each of the types, and how it came.
func (s *Store) LastSeen(ctx context.Context, eventTypes []string) (map[string]adminapi.LastSeen, error) {
	out := map[string]adminapi.LastSeen{}
	for _, t := range eventTypes {
		var published any
		var source string
		err := s.db.QueryRowContext(ctx, `SELECT published, source FROM hookd_event WHERE event_type = $1 ORDER BY published DESC LIMIT 1`, dbKey(t)).Scan(&published, &source)
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
