package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hookd/hookd"
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
	// ResultDecided is an escalation not sent: a responder decided on its change in time.
	ResultDecided = "decided"
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
	busy       sync.WaitGroup

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
		w.busy.Go(func() {
			for rows := range w.messages {
				w.finished <- finished{rows: rows, outcomes: s.deliver(w.ctx, rows)}
			}
		})
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
		done = w.gather(done)
		free, skip := w.room(s.opts.Workers+len(done), s.opts.Now())
		if stopping || !look {
			free = 0
		}
		if stopping && len(done) == 0 && w.inFlightNow() == 0 {
			return
		}
		if len(done) == 0 && (free == 0 || len(s.lanes.except(skip)) == 0) {
			look = false // nothing to write, nothing to take
			continue
		}
		var outcomes []settled
		for _, f := range done {
			outcomes = append(outcomes, f.outcomes...)
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

// gather waits a moment for more of the messages in flight to finish, so that messages
// that finish together share a commit: the wait costs each far less than a commit of its own.
func (w *workers) gather(done []finished) []finished {
	linger := time.NewTimer(time.Millisecond)
	defer linger.Stop()
	for len(done) < w.inFlightNow() {
		select {
		case f := <-w.finished:
			done = append(done, f)
		case <-linger.C:
			return done
		}
	}
	return done
}

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

// room returns how many rows the queue may claim now, of slots less those in flight, and
// the sinks held back.
func (w *workers) room(slots int, now time.Time) (int, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var skip []string
	for sink, until := range w.blocked {
		if until.After(now) {
			skip = append(skip, sink)
		} else {
			delete(w.blocked, sink)
		}
	}
	slices.Sort(skip)
	return slots - w.inFlight, skip
}

// messages cuts claimed rows into messages: the rows of one admin action and sink together
// when grouping is on, every other row alone.
func (s *Store) messages(rows []claimed) [][]claimed {
	var out [][]claimed
	at := map[[2]string]int{}
	for _, r := range rows {
		k := [2]string{r.sink, r.group}
		if i, ok := at[k]; ok && r.group != "" && s.opts.GroupWindow > 0 {
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
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		if s.dialect == postgres && tick%12 == 0 {
			_ = s.learnLanes(ctx) // sinks only another replica has queued for (a config rollout)
		}
		w.mu.Lock()
		ids := make([]int64, 0, len(w.held))
		for id := range w.held {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		if err := s.renew(ctx, ids); err != nil {
			s.opts.Logger.Warn("deliveries' leases not renewed; another replica may take them", "error", err.Error())
		}
		cancel()
	}
}

// message is one event of a message, with its row and the size of its stored record.
type message struct {
	rc         *hookd.RoleChange
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
	o := Outcome{Sink: sink, EventID: eventIDOf(rows[0].event), Events: len(rows), Attempt: attempt, MaxAttempts: s.opts.MaxAttempts}
	changes, missing, err := s.load(rows)
	if err != nil {
		return []settled{s.next(rowIDs(rows), err, o)}
	}
	var out []settled
	for _, id := range missing {
		out = append(out, settled{ids: []int64{id}, state: stateDead, err: "event not stored", carrier: id})
	}
	if rows[0].escalation > 0 {
		// An escalation goes only for the changes nobody has decided on since.
		undecided := changes[:0]
		for _, m := range changes {
			if m.rc.Decision != nil {
				s.report(Outcome{Sink: sink, EventID: m.rc.EventID, Events: 1, Result: ResultDecided, Attempt: attempt, MaxAttempts: s.opts.MaxAttempts})
				out = append(out, settled{ids: []int64{m.row.id}, state: stateDelivered})
				continue
			}
			m.rc.EscalatedAfter = m.row.escalation
			undecided = append(undecided, m)
		}
		changes = undecided
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
		part, ids := queue[0], make([]int64, len(queue[0]))
		rcs := make([]*hookd.RoleChange, len(part))
		for i, m := range part {
			rcs[i], ids[i] = m.rc, m.row.id
		}
		err := s.opts.Deliverer.Deliver(ctx, sink, rcs)
		o.EventID, o.Events, o.Err, o.Latency = rcs[0].EventID, len(rcs), err, 0
		switch failure, _ := hookd.FailureOf(err); {
		case err != nil && failure == hookd.FailTooLarge && len(part) > 1:
			o.Result = ResultSplit
			s.report(o)
			queue = append([][]message{part[:len(part)/2], part[len(part)/2:]}, queue[1:]...)
		case err != nil:
			for _, p := range queue[1:] {
				for _, m := range p {
					ids = append(ids, m.row.id)
				}
			}
			return append(out, s.next(ids, err, o))
		default:
			o.Result, o.Latency = ResultDelivered, time.Since(part[0].acceptedAt)
			s.report(o)
			out = append(out, settled{ids: ids, state: stateDelivered})
			queue = queue[1:]
		}
	}
	return out
}

// deliveryTimeout bounds one message's delivery, its 413 splits included.
const deliveryTimeout = 2 * time.Minute

// next is the one place a failed delivery's outcome becomes the rows' next state: a permanent
// failure or the last attempt ends in the dead letter; the sink's Retry-After or hookd's own
// pace waits (holding the sink back, and spending no attempt); anything else is retried with
// backoff. A delivery cut off by shutdown runs again at once, on the next start.
func (s *Store) next(rows []int64, err error, o Outcome) settled {
	now := s.opts.Now()
	if s.workers != nil && s.workers.ctx.Err() != nil {
		return settled{ids: rows, state: statePending, runAt: now, err: err.Error(), refund: true}
	}
	o.Err = err
	st := settled{ids: rows, state: statePending, runAt: now, err: err.Error(), carrier: rows[0]}
	failure, after := hookd.FailureOf(err)
	switch {
	case failure == hookd.FailPermanent || failure == hookd.FailTooLarge: // too large even alone
		o.Result, st.state = ResultPermanent, stateDead
	case (failure == hookd.FailWait || failure == hookd.FailPaced) && after > 0:
		o.Result, st.runAt, st.refund = ResultRateLimited, now.Add(after), true
		if failure == hookd.FailPaced {
			o.Result = ResultPaced
		}
		if s.workers != nil {
			s.workers.block(o.Sink, st.runAt)
		}
	case o.Attempt >= s.opts.MaxAttempts:
		o.Result, st.state = ResultDiscarded, stateDead
	default:
		o.Result, st.runAt = ResultRetry, now.Add(s.retry.Jittered(o.Attempt))
	}
	s.report(o)
	return st
}

func rowIDs(rows []claimed) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return out
}

// load decodes the events of rows, oldest first: as fetchEvents read them, or from the row
// when the events table refused the event. It returns the rows whose event is not stored apart.
func (s *Store) load(rows []claimed) (out []message, missing []int64, _ error) {
	for _, r := range rows {
		if r.fetchErr != nil {
			return nil, nil, r.fetchErr
		}
		var in InlineEvent
		switch {
		case r.inline.Valid:
			rc, err := decodeInline(r.event, []byte(r.inline.String), &in)
			if err != nil {
				missing = append(missing, r.id)
				continue
			}
			out = append(out, message{rc: rc, row: r, size: len(in.Record), acceptedAt: in.AcceptedAt})
		case !r.stored:
			missing = append(missing, r.id)
		default:
			rc, err := decodeRecord(r.event, r.record, r.raw)
			if err != nil {
				return nil, nil, err
			}
			rc.Decision = r.decision.get(s)
			at, err := s.scanTime(r.acceptedAt)
			if err != nil {
				return nil, nil, fmt.Errorf("event %s: accepted_at: %w", r.event, err)
			}
			out = append(out, message{rc: rc, row: r, size: len(r.record), acceptedAt: at})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].rc, out[j].rc; !a.Published.Equal(b.Published) {
			return a.Published.Before(b.Published)
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
func decodeInline(key string, data []byte, in *InlineEvent) (*hookd.RoleChange, error) {
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

func decodeRecord(id string, data, raw []byte) (*hookd.RoleChange, error) {
	var rc hookd.RoleChange
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

// split cuts items into parts of at most maxEvents items and about maxBytes each (a single
// larger item is a part of its own).
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
