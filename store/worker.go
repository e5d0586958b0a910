package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hookd/hookd/internal/backoff"
	"strconv"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Outcome is what one delivery attempt came to, for logs and metrics.
type Outcome struct {
	Sink    string
	EventID string
	// Events is how many role changes the message carried (several when grouped).
	Events int
	// Result is one of the Result* constants.
	Result  string
	Err     error
	Attempt int
	// MaxAttempts is the job's limit; a failure at it discards the job.
	MaxAttempts int
	// Latency is from the event's acceptance to the sink's answer, for delivered messages.
	Latency time.Duration
}

// The results an Outcome reports.
const (
	ResultDelivered   = "delivered"    // the sink took it
	ResultRetry       = "retry"        // failed; retried with backoff
	ResultRateLimited = "rate_limited" // the sink asked to wait; retried after that
	ResultPaced       = "paced"        // waiting its turn at hookd's own pace for the sink
	ResultPermanent   = "permanent"    // the sink can never take it: dead letter
	ResultDiscarded   = "discarded"    // failed at the last attempt: dead letter
	ResultGrouped     = "grouped"      // went out in another event's message
	// ResultAlreadyDelivered is a job run again (after a crash) whose events had reached
	// the sink before: nothing was sent twice.
	ResultAlreadyDelivered = "already_delivered"
	// ResultSplit is a message the sink refused as too large (413): it is sent again as two.
	ResultSplit = "split"
)

// DeadLetter reports whether the outcome ends the delivery without success.
func (o Outcome) DeadLetter() bool {
	return o.Result == ResultPermanent || o.Result == ResultDiscarded
}

// deliveryWorker works delivery jobs: it loads the event (and, when grouping, the other
// events of the same admin action) and hands them to the Deliverer.
type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	store *Store
}

// Work delivers one job's event to its sink.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	s := w.store
	sink, id := job.Args.Sink, job.Args.EventID
	if s.opts.Deliverer == nil {
		return errors.New("this replica has no Deliverer")
	}
	if job.Args.Inline != nil {
		return w.deliverInline(ctx, job)
	}
	ev, err := s.event(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(fmt.Errorf("event %s: %w", id, err))
	}
	if err != nil {
		return err
	}
	defer s.opts.Memory.Size(int64(ev.size + len(ev.rc.Raw)))()
	changes := []message{{rc: ev.rc, key: id, size: ev.size}}
	if s.opts.GroupWindow > 0 && ev.groupKey != "" {
		// Wait out the window after acceptance so that the other events of the action are
		// here; a lone event is held no longer than the window. The worker waits itself:
		// handing the job back to River (a snooze) costs two more writes and a fetch per
		// event, which SQLite's single writer feels under load, while a backlog makes the
		// wait vanish on its own (its jobs are older than the window).
		if wait := time.Until(ev.acceptedAt.Add(s.opts.GroupWindow)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return river.JobSnooze(0) // cancelled: run again on the next start
			}
		}
		// Most actions change one role: only a group of several needs the claim, a write.
		alone, err := s.alone(ctx, sink, ev.groupKey)
		if err != nil {
			return err
		}
		if !alone {
			changes, err = s.claimGroup(ctx, sink, id, ev.groupKey)
			if err != nil {
				return err
			}
			if len(changes) == 0 {
				s.report(Outcome{Sink: sink, EventID: ev.rc.EventID, Result: ResultGrouped, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts})
				return nil
			}
		}
	}
	return s.deliver(ctx, job, changes, ev.acceptedAt)
}

// message is one event of a message, with its key and the size of its stored record.
type message struct {
	rc   *hook.RoleChange
	key  string
	size int
}

// deliver sends changes to the job's sink, as one message or, for a large group, several,
// and records each message's events as delivered as soon as the sink takes it. A job that
// runs again (a retry, or a rescue after a crash) first drops the events already recorded,
// so an alert is sent twice only when hookd died between the sink's answer and the record.
// A message the sink refuses as too large (413) is split in halves and sent again.
func (s *Store) deliver(ctx context.Context, job *river.Job[DeliveryArgs], changes []message, acceptedAt time.Time) error {
	sink := job.Args.Sink
	if job.Attempt > 1 || job.Args.Requeued {
		// A first attempt cannot have sent anything: its events are claimed by this job only
		// (a re-queued dead letter's were claimed by the dead job, which may have sent some).
		keys := make([]string, len(changes))
		for i, m := range changes {
			keys[i] = m.key
		}
		done, err := s.deliveredOf(ctx, sink, keys)
		if err != nil {
			return err
		}
		pending := changes[:0:0]
		for _, m := range changes {
			if !done[m.key] {
				pending = append(pending, m)
			}
		}
		if len(pending) == 0 {
			s.report(Outcome{Sink: sink, EventID: changes[0].rc.EventID, Result: ResultAlreadyDelivered, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts})
			return nil
		}
		changes = pending
	}
	queue := split(changes, func(m message) int { return m.size }, maxMessageEvents, maxMessageBytes)
	for len(queue) > 0 {
		part := queue[0]
		rcs := make([]*hook.RoleChange, len(part))
		keys := make([]string, len(part))
		for i, m := range part {
			rcs[i], keys[i] = m.rc, m.key
		}
		err := s.opts.Deliverer.Deliver(ctx, sink, rcs)
		o := Outcome{Sink: sink, EventID: rcs[0].EventID, Events: len(rcs), Err: err, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts}
		var tooLarge interface{ TooLarge() bool }
		if err != nil && errors.As(err, &tooLarge) && tooLarge.TooLarge() && len(part) > 1 {
			o.Result = ResultSplit
			s.report(o)
			mid := len(part) / 2
			queue = append([][]message{part[:mid], part[mid:]}, queue[1:]...)
			continue
		}
		o.Result = resultOf(err, job.Attempt, job.MaxAttempts)
		if err != nil {
			s.report(o)
			return riverOutcome(err)
		}
		o.Latency = time.Since(acceptedAt)
		s.report(o)
		if err := s.markDelivered(ctx, sink, keys); err != nil {
			// The sink has the alert; River's own completion below is the remaining record.
			// Failing the job here would only send it again.
			s.opts.Logger.Warn("delivered, but not recorded as delivered; a crash now would send it again",
				"sink", sink, "events", len(keys), "error", err.Error())
		}
		queue = queue[1:]
	}
	return nil
}

// deliverInline delivers an event that its job carries (see commitInline); it is sent alone.
func (w *deliveryWorker) deliverInline(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	in := job.Args.Inline
	rc, err := decodeRecord(job.Args.EventID, in.Record, in.Raw)
	if err != nil {
		return river.JobCancel(err)
	}
	return w.store.deliver(ctx, job, []message{{rc: rc, key: job.Args.EventID, size: len(in.Record)}}, in.AcceptedAt)
}

func (s *Store) report(o Outcome) {
	s.metrics.observe(o)
	if s.opts.OnOutcome != nil {
		s.opts.OnOutcome(o)
	}
}

// resultOf names what River will do with the job after err.
func resultOf(err error, attempt, maxAttempts int) string {
	if err == nil {
		return ResultDelivered
	}
	var permanent interface{ Permanent() bool }
	if errors.As(err, &permanent) && permanent.Permanent() {
		return ResultPermanent
	}
	var paced interface{ Paced() bool }
	if errors.As(err, &paced) && paced.Paced() {
		return ResultPaced
	}
	var later interface{ RetryAfter() time.Duration }
	if errors.As(err, &later) && later.RetryAfter() > 0 {
		return ResultRateLimited
	}
	if attempt >= maxAttempts {
		return ResultDiscarded
	}
	return ResultRetry
}

// riverOutcome maps a Deliverer's answer onto River: a permanent failure cancels the job, a
// retry-after snoozes it (which spends no attempt), anything else is retried with backoff.
func riverOutcome(err error) error {
	if err == nil {
		return nil
	}
	var permanent interface{ Permanent() bool }
	if errors.As(err, &permanent) && permanent.Permanent() {
		return river.JobCancel(err)
	}
	var later interface{ RetryAfter() time.Duration }
	if errors.As(err, &later) && later.RetryAfter() > 0 {
		return river.JobSnooze(later.RetryAfter())
	}
	return err
}

// storedEvent is an event row as the worker needs it.
type storedEvent struct {
	rc         *hook.RoleChange
	acceptedAt time.Time
	groupKey   string
	size       int
}

func (s *Store) event(ctx context.Context, id string) (*storedEvent, error) {
	var data, raw []byte
	var accepted any
	var ev storedEvent
	err := s.eventStmt.QueryRowContext(ctx, id).Scan(&data, &raw, &accepted, &ev.groupKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, dbError("read event", err)
	}
	if ev.rc, err = decodeRecord(id, data, raw); err != nil {
		return nil, err
	}
	ev.size = len(data)
	if ev.acceptedAt, err = s.scanTime(accepted); err != nil {
		return nil, fmt.Errorf("event %s: accepted_at: %w", id, err)
	}
	return &ev, nil
}

func decodeRecord(id string, data, raw []byte) (*hook.RoleChange, error) {
	var rc hook.RoleChange
	if err := json.Unmarshal(data, &rc); err != nil {
		return nil, fmt.Errorf("event %s: stored record unreadable: %w", id, err)
	}
	rc.Raw = raw
	return &rc, nil
}

// scanTime reads a time column: TEXT on SQLite, TIMESTAMPTZ on Postgres.
func (s *Store) scanTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case string:
		return parseDBTime(t)
	case []byte:
		return parseDBTime(string(t))
	}
	return time.Time{}, fmt.Errorf("unexpected %T", v)
}

// parseDBTime reads SQLite's TEXT times: hookd's own layout, or River's (which the driver
// hands over as text when an expression hides the column's declared type).
func parseDBTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err == nil {
		return t, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err2 := time.Parse(layout, s); err2 == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// alone reports whether the event is the only one of its group routed to sink.
func (s *Store) alone(ctx context.Context, sink, key string) (bool, error) {
	var n int
	if err := s.groupSizeStmt.QueryRowContext(ctx, key, sink).Scan(&n); err != nil {
		return false, fmt.Errorf("%w: %s", hook.ErrUnavailable, redact(err))
	}
	return n <= 1, nil
}

// claimGroup returns the events of the group that this job sends to sink: at most
// maxGroupClaim of those routed to the sink that no other job's message has carried, this
// job's own event first, claimed for this job so that no other sends them too. It returns
// none when another job's message carried this event already. A retry of this job finds the
// same claim and sends the same events. Events of a larger group left unclaimed are claimed
// by their own jobs, in turn.
func (s *Store) claimGroup(ctx context.Context, sink, id, key string) (_ []message, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, dbError("begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.dialect == postgres {
		// Jobs of one group claim overlapping rows, each its own first: concurrently they
		// would deadlock. One claim of a group at a time (SQLite has one writer anyway).
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryKey("hookd claim "+sink+"\x00"+key)); err != nil {
			return nil, dbError("lock group", err)
		}
	}
	var coveredBy string
	switch err := tx.QueryRowContext(ctx, `SELECT covered_by FROM hookd_delivery_cover WHERE sink = $1 AND uuid = $2`, sink, id).Scan(&coveredBy); {
	case err == nil && coveredBy != id:
		return nil, tx.Commit()
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return nil, dbError("read claim", err)
	case err != nil: // not claimed yet: claim
		if _, err := tx.ExecContext(ctx, `INSERT INTO hookd_delivery_cover (sink, uuid, covered_by)
			SELECT $1, e.uuid, $2 FROM hookd_event e
			WHERE e.group_key = $3 AND `+s.routedTo("e.sinks", "$4")+`
			  AND NOT EXISTS (SELECT 1 FROM hookd_delivery_cover c WHERE c.sink = $5 AND c.uuid = e.uuid)
			ORDER BY CASE WHEN e.uuid = $6 THEN 0 ELSE 1 END, e.published, e.uuid
			LIMIT `+strconv.Itoa(maxGroupClaim)+`
			ON CONFLICT (sink, uuid) DO NOTHING`, sink, id, key, sink, sink, id); err != nil {
			return nil, dbError("claim group", err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT e.uuid, e.record, e.raw FROM hookd_event e
		JOIN hookd_delivery_cover c ON c.uuid = e.uuid AND c.sink = $1
		WHERE c.covered_by = $2 ORDER BY e.published, e.uuid`, sink, id)
	if err != nil {
		return nil, dbError("read group", err)
	}
	var out []message
	for rows.Next() {
		var uuid string
		var data, raw []byte
		if err := rows.Scan(&uuid, &data, &raw); err != nil {
			rows.Close()
			return nil, dbError("read group", err)
		}
		rc, err := decodeRecord(uuid, data, raw)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, message{rc: rc, key: uuid, size: len(data)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, dbError("read group", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, dbError("commit", err)
	}
	return out, nil
}

// maxGroupClaim bounds the events one job claims of a group; its message is split further
// by size (see split).
const maxGroupClaim = 1000

// retryPolicy is River's retry policy for deliveries: the shared doubling schedule with
// jitter, so that retries of many jobs spread out.
type retryPolicy struct{ backoff.Doubling }

// NextRetry is when a job that has failed job.Attempt times runs again.
func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.Jittered(job.Attempt))
}
