package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hookd/hookd/hook"
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
	// MaxAttempts is the delivery's limit; a failure at it sends it to the dead letter.
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
	// ResultSplit is a message the sink refused as too large (413): it is sent again as two.
	ResultSplit = "split"
	// ResultSummary is a summary the sink took, standing for alerts of a flood (Events of
	// them) that it could not take one by one in time.
	ResultSummary = "summary"
)

// DeadLetter reports whether the outcome ends the delivery without success.
func (o Outcome) DeadLetter() bool {
	return o.Result == ResultPermanent || o.Result == ResultDiscarded
}

// workers runs this process's deliveries: the queue loop records what the workers finished
// and leases what they take next, in one commit, and a renewer keeps the leases of what is
// still in flight.
type workers struct {
	wake     chan struct{}  // a commit queued deliveries
	messages chan []claimed // to the workers
	finished chan finished  // from the workers
	// ctx is the deliveries' own: cancelled when Stop runs out of time.
	ctx    context.Context
	cancel context.CancelFunc
	// stop asks the queue loop to take nothing more; done is closed once it and the
	// renewer have ended.
	stop, done chan struct{}
	busy       sync.WaitGroup // workers

	mu sync.Mutex
	// inFlight counts the messages handed to workers whose outcomes are not written yet:
	// the most a crash can send twice.
	inFlight int
	held     map[int64]bool
	// blocked holds sinks back until a time: the sink asked to wait, or hookd's own pace
	// for it has no slot sooner. Claims skip them, so the rest of the queue goes on.
	blocked map[string]time.Time
}

// finished is a message a worker is done with, and what became of its rows.
type finished struct {
	rows     []claimed
	outcomes []settled
}

// startWorkers runs the delivery workers until stopWorkers.
func (s *Store) startWorkers() {
	n := s.opts.Workers
	w := &workers{wake: s.wake, messages: make(chan []claimed, n), finished: make(chan finished, n),
		stop: make(chan struct{}), done: make(chan struct{}), held: map[int64]bool{}, blocked: map[string]time.Time{}}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	s.workers = w
	for range n {
		w.busy.Add(1)
		go func() {
			defer w.busy.Done()
			for rows := range w.messages {
				w.finished <- finished{rows: rows, outcomes: s.deliver(w.ctx, rows)}
			}
		}()
	}
	looped := make(chan struct{})
	go func() {
		s.queueLoop(w)
		close(looped)
	}()
	go func() {
		s.renewLoop(w, looped)
		close(w.done)
	}()
}

// stopWorkers lets deliveries in flight finish until ctx ends, then cancels them (their rows
// are due again at once), and writes every outcome before it returns.
func (s *Store) stopWorkers(ctx context.Context) error {
	w := s.workers
	close(w.stop)
	var err error
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel()
		<-w.done
		err = fmt.Errorf("deliveries in flight cancelled: %w", context.DeadlineExceeded)
	}
	w.cancel()
	close(w.messages)
	w.busy.Wait()
	return err
}

// queueLoop records the outcomes of finished messages and claims due rows for the workers
// that are free, both in one commit, whenever a message finished, a commit of this process
// queued deliveries, or the poll interval passed (rows that came due, other replicas'
// commits). A worker is free again once its outcome is written, so that a crash can send
// again only what was in flight. After stop it claims nothing and returns once every
// message in flight is written.
func (s *Store) queueLoop(w *workers) {
	poll := time.NewTicker(s.opts.FetchPollInterval)
	defer poll.Stop()
	var done []finished
	stopping, look, failing := false, true, false
	for {
		if len(done) == 0 && !look {
			select {
			case f := <-w.finished:
				done = append(done, f)
			case <-w.wake:
			case <-poll.C:
			case <-w.stop:
				stopping, w.stop = true, nil
			}
			look = true
		}
		// Messages that finish together share a commit: a moment's wait for the others in
		// flight costs each far less than a commit of its own.
		linger := time.NewTimer(stepLinger)
	gather:
		for len(done) < w.inFlightNow() {
			select {
			case f := <-w.finished:
				done = append(done, f)
			case <-linger.C:
				break gather
			}
		}
		linger.Stop()
		w.mu.Lock()
		free, skip := w.room(s.opts.Workers-w.inFlight+len(done), s.opts.Now())
		w.mu.Unlock()
		if stopping || !look {
			free = 0
		}
		if stopping && len(done) == 0 && w.inFlightNow() == 0 {
			return
		}
		var outcomes []settled
		for _, f := range done {
			outcomes = append(outcomes, f.outcomes...)
		}
		if len(done) == 0 && (free == 0 || len(s.lanes.except(skip)) == 0) {
			look = false // nothing to write, nothing to take
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		rows, err := s.step(ctx, outcomes, free, skip)
		cancel()
		if err != nil {
			if !failing {
				s.opts.Logger.Warn("the delivery queue's commit failed; tried again at each poll, and until it lands the deliveries' leases hold them", "error", err.Error())
			}
			if stopping && w.ctx.Err() != nil {
				// Out of time, and the database away: what was not written is left to the
				// leases, which lapse (and SQLite's are released at the next start).
				return
			}
			failing, look = true, false
			select { // until the next poll, without dropping what is to be written
			case <-poll.C:
			case <-w.ctx.Done():
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		failing = false
		msgs := s.messages(rows)
		w.mu.Lock()
		w.inFlight += len(msgs) - len(done)
		for _, f := range done {
			for _, r := range f.rows {
				delete(w.held, r.id)
			}
		}
		for _, r := range rows {
			w.held[r.id] = true
		}
		w.mu.Unlock()
		for _, m := range msgs {
			w.messages <- m
		}
		done, look = nil, free > 0 && len(rows) >= free // more may be due
	}
}

// stepLinger is how long the queue loop waits for more of the messages in flight to finish
// before it writes those that have.
const stepLinger = time.Millisecond

// inFlightNow reads inFlight.
func (w *workers) inFlightNow() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inFlight
}

// block holds sink back until at.
func (w *workers) block(sink string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at.After(w.blocked[sink]) {
		w.blocked[sink] = at
	}
}

// room returns how many of free slots the queue may fill now, and the sinks held back.
// w.mu is held.
func (w *workers) room(free int, now time.Time) (int, []string) {
	var skip []string
	for sink, until := range w.blocked {
		if until.After(now) {
			skip = append(skip, sink)
		} else {
			delete(w.blocked, sink)
		}
	}
	sort.Strings(skip)
	return free, skip
}

// messages cuts claimed rows into messages: the rows of one admin action and sink together
// when grouping is on, every other row alone.
func (s *Store) messages(rows []claimed) [][]claimed {
	var out [][]claimed
	at := map[[2]string]int{}
	for _, r := range rows {
		if r.group == "" || s.opts.GroupWindow <= 0 {
			out = append(out, []claimed{r})
			continue
		}
		k := [2]string{r.sink, r.group}
		if i, ok := at[k]; ok {
			out[i] = append(out[i], r)
			continue
		}
		at[k] = len(out)
		out = append(out, []claimed{r})
	}
	return out
}

// renewLoop renews the leases of rows in flight until the queue loop is done.
func (s *Store) renewLoop(w *workers, completed chan struct{}) {
	t := time.NewTicker(lease / 3)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-completed:
			return
		case <-t.C:
		}
		if s.dialect == postgres && tick%12 == 0 {
			// Sinks only another replica has queued for (a configuration being rolled out).
			ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
			_ = s.learnLanes(ctx)
			cancel()
		}
		w.mu.Lock()
		ids := make([]int64, 0, len(w.held))
		for id := range w.held {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		if err := s.renew(ctx, ids); err != nil {
			s.opts.Logger.Warn("deliveries' leases not renewed; another replica may take them", "error", err.Error())
		}
		cancel()
	}
}

// message is one event of a message, with its key and the size of its stored record.
type message struct {
	rc         *hook.RoleChange
	row        claimed
	size       int
	acceptedAt time.Time
}

// deliver sends one message's rows to their sink, as one message or, for a large action,
// several, and says what became of each row. A message the sink refuses as too large (413)
// is split in halves and sent again.
func (s *Store) deliver(ctx context.Context, rows []claimed) []settled {
	sink := rows[0].sink
	if sum, ok := s.opts.Deliverer.(Summarizer); ok && rows[0].event == "" {
		return s.summarize(ctx, sum, rows[0])
	}
	attempt := 0
	for _, r := range rows {
		attempt = max(attempt, r.attempt)
	}
	var out []settled
	changes, missing, err := s.load(ctx, rows)
	if err != nil {
		return []settled{s.next(ctx, rowIDs(rows), sink, attempt, err, Outcome{Sink: sink, EventID: eventIDOf(rows[0].event), Events: len(rows)})}
	}
	if len(missing) > 0 {
		for _, id := range missing {
			out = append(out, settled{ids: []int64{id}, state: stateDead, err: "event not stored", carrier: id})
		}
	}
	if len(changes) == 0 {
		return out
	}
	size := 0
	for _, m := range changes {
		size += m.size + len(m.rc.Raw)
	}
	defer s.opts.Memory.Size(int64(size))()
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	queue := split(changes, func(m message) int { return m.size }, maxMessageEvents, maxMessageBytes)
	for len(queue) > 0 {
		part := queue[0]
		rcs := make([]*hook.RoleChange, len(part))
		for i, m := range part {
			rcs[i] = m.rc
		}
		err := s.opts.Deliverer.Deliver(ctx, sink, rcs)
		o := Outcome{Sink: sink, EventID: rcs[0].EventID, Events: len(rcs), Err: err, Attempt: attempt, MaxAttempts: s.opts.MaxAttempts}
		var tooLarge interface{ TooLarge() bool }
		if err != nil && errors.As(err, &tooLarge) && tooLarge.TooLarge() && len(part) > 1 {
			o.Result = ResultSplit
			s.report(o)
			mid := len(part) / 2
			queue = append([][]message{part[:mid], part[mid:]}, queue[1:]...)
			continue
		}
		if err != nil {
			var rest []int64
			for _, p := range queue {
				for _, m := range p {
					rest = append(rest, m.row.id)
				}
			}
			return append(out, s.next(ctx, rest, sink, attempt, err, o))
		}
		o.Result, o.Latency = ResultDelivered, time.Since(part[0].acceptedAt)
		s.report(o)
		delivered := make([]int64, len(part))
		for i, m := range part {
			delivered[i] = m.row.id
		}
		out = append(out, settled{ids: delivered, state: stateDelivered})
		queue = queue[1:]
	}
	return out
}

// deliveryTimeout bounds one message's delivery, its 413 splits included.
const deliveryTimeout = 2 * time.Minute

// next is the one place a failed delivery's outcome becomes the rows' next state: a permanent
// failure or the last attempt ends in the dead letter; the sink's Retry-After or hookd's own
// pace waits (holding the sink back, and spending no attempt); anything else is retried with
// backoff. A delivery cut off by shutdown runs again at once, on the next start.
func (s *Store) next(ctx context.Context, rows []int64, sink string, attempt int, err error, o Outcome) settled {
	now := s.opts.Now()
	if s.workers != nil && s.workers.ctx.Err() != nil {
		return settled{ids: rows, state: statePending, runAt: now, err: err.Error(), refund: true}
	}
	o.Err, o.Attempt, o.MaxAttempts = err, attempt, s.opts.MaxAttempts
	st := settled{ids: rows, state: statePending, err: err.Error(), carrier: rows[0]}
	var permanent interface{ Permanent() bool }
	var paced interface{ Paced() bool }
	var later interface{ RetryAfter() time.Duration }
	switch {
	case errors.As(err, &permanent) && permanent.Permanent():
		o.Result, st.state = ResultPermanent, stateDead
	case errors.As(err, &later) && later.RetryAfter() > 0:
		o.Result, st.runAt, st.refund = ResultRateLimited, now.Add(later.RetryAfter()), true
		if errors.As(err, &paced) && paced.Paced() {
			o.Result = ResultPaced
		}
		if s.workers != nil {
			s.workers.block(sink, st.runAt)
		}
	case attempt >= s.opts.MaxAttempts:
		o.Result, st.state = ResultDiscarded, stateDead
	default:
		o.Result, st.runAt = ResultRetry, now.Add(s.retry.Jittered(attempt))
	}
	if st.state == stateDead {
		st.runAt = now
	}
	s.report(o)
	return st
}

// rowIDs returns the rows' ids.
func rowIDs(rows []claimed) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return out
}

// load reads the events of rows, oldest first: from the events table, or from the row when
// the events table refused the event. It returns the rows whose event is not stored apart.
func (s *Store) load(ctx context.Context, rows []claimed) (_ []message, missing []int64, _ error) {
	var out []message
	byKey := map[string]claimed{}
	var keys []any
	for _, r := range rows {
		if !r.inline.Valid {
			byKey[r.event] = r
			keys = append(keys, r.event)
			continue
		}
		var in InlineEvent
		rc, err := decodeInline(r.event, []byte(r.inline.String), &in)
		if err != nil {
			missing = append(missing, r.id)
			continue
		}
		out = append(out, message{rc: rc, row: r, size: len(in.Record), acceptedAt: in.AcceptedAt})
	}
	if len(keys) > 0 {
		err := s.scan(ctx, `SELECT uuid, record, raw, accepted_at FROM hookd_event WHERE uuid IN (`+placeholders(1, len(keys))+`)`, keys, func(r *sql.Rows) error {
			var key string
			var data, raw []byte
			var accepted any
			if err := r.Scan(&key, &data, &raw, &accepted); err != nil {
				return err
			}
			rc, err := decodeRecord(key, data, raw)
			if err != nil {
				return err
			}
			at, err := s.scanTime(accepted)
			if err != nil {
				return err
			}
			out = append(out, message{rc: rc, row: byKey[key], size: len(data), acceptedAt: at})
			delete(byKey, key)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	for _, r := range byKey {
		missing = append(missing, r.id)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].rc.Published.Equal(out[j].rc.Published) {
			return out[i].rc.Published.Before(out[j].rc.Published)
		}
		return out[i].rc.EventID < out[j].rc.EventID
	})
	return out, missing, nil
}

// InlineEvent is an event that travels in its delivery row because the events table refused
// it: its record (flagged with the problem), its raw bytes and when it was accepted.
type InlineEvent struct {
	Record     json.RawMessage `json:"record"`
	Raw        []byte          `json:"raw"`
	AcceptedAt time.Time       `json:"accepted_at"`
}

// decodeInline reads an inline event into in and returns its record.
func decodeInline(key string, data []byte, in *InlineEvent) (*hook.RoleChange, error) {
	if err := json.Unmarshal(data, in); err != nil {
		return nil, fmt.Errorf("event %s: inline event unreadable: %w", key, err)
	}
	return decodeRecord(key, in.Record, in.Raw)
}

func (s *Store) report(o Outcome) {
	s.metrics.observe(o)
	if s.opts.OnOutcome != nil {
		s.opts.OnOutcome(o)
	}
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
		return time.Parse(timeLayout, t)
	case []byte:
		return time.Parse(timeLayout, string(t))
	}
	return time.Time{}, fmt.Errorf("unexpected %T", v)
}

// maxMessageEvents and maxMessageBytes bound one message of grouped events: a large admin
// action goes out as several messages rather than one a receiver may refuse.
const (
	maxMessageEvents = 100
	maxMessageBytes  = 512 << 10
)

// split cuts changes into messages of at most maxEvents events and about maxBytes of
// records each (a single larger event is a message of its own).
func split[T any](items []T, size func(T) int, maxEvents, maxBytes int) [][]T {
	var out [][]T
	start, bytes := 0, 0
	for i, it := range items {
		n := size(it)
		if i > start && (i-start >= maxEvents || bytes+n > maxBytes) {
			out = append(out, items[start:i])
			start, bytes = i, 0
		}
		bytes += n
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}
