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

// workers runs this process's deliveries: a fetcher claims due rows for the workers that are
// free, the workers send them, a completer writes their outcomes in shared commits, and a
// renewer keeps the leases of what is still in flight.
type workers struct {
	wake     chan struct{} // a commit queued deliveries
	freed    chan struct{} // a worker finished
	messages chan []claimed
	outcomes chan settled
	// ctx is the deliveries' own: cancelled when Stop runs out of time.
	ctx    context.Context
	cancel context.CancelFunc
	// stopFetch ends the fetcher; fetched is closed once it has ended.
	stopFetch, fetched chan struct{}
	busy               sync.WaitGroup // workers
	done               chan struct{}  // completer and renewer ended

	mu       sync.Mutex
	inFlight int
	held     map[int64]bool
	// blocked holds sinks back until a time: the sink asked to wait, or hookd's own pace
	// for it has no slot sooner. Claims skip them, so the rest of the queue goes on.
	blocked map[string]time.Time
}

// startWorkers runs the delivery workers until stopWorkers.
func (s *Store) startWorkers() {
	w := &workers{wake: s.wake, freed: make(chan struct{}, 1), messages: make(chan []claimed),
		outcomes: make(chan settled, 4*s.opts.Workers), stopFetch: make(chan struct{}), fetched: make(chan struct{}),
		done: make(chan struct{}), held: map[int64]bool{}, blocked: map[string]time.Time{}}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	s.workers = w
	for range s.opts.Workers {
		w.busy.Add(1)
		go func() {
			defer w.busy.Done()
			for rows := range w.messages {
				// The worker waits for its outcomes' commit: a crash can then send again only
				// what the workers had in flight.
				outs := s.deliver(w.ctx, rows)
				if len(outs) > 0 {
					recorded := make(chan struct{})
					outs[len(outs)-1].recorded = recorded
					for _, o := range outs {
						w.outcomes <- o
					}
					<-recorded
				}
				w.finish(rows)
			}
		}()
	}
	go s.fetchLoop(w)
	completed := make(chan struct{})
	go func() {
		s.completeLoop(w)
		close(completed)
	}()
	go func() {
		s.renewLoop(w, completed)
		close(w.done)
	}()
}

// stopWorkers lets deliveries in flight finish until ctx ends, then cancels them (their rows
// are due again at once), and writes every outcome before it returns.
func (s *Store) stopWorkers(ctx context.Context) error {
	w := s.workers
	close(w.stopFetch)
	<-w.fetched
	close(w.messages)
	finished := make(chan struct{})
	go func() {
		w.busy.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		w.cancel()
		<-finished
		err = fmt.Errorf("deliveries in flight cancelled: %w", context.DeadlineExceeded)
	}
	w.cancel()
	close(w.outcomes)
	<-w.done
	return err
}

// finish takes a message's rows off this process's books.
func (w *workers) finish(rows []claimed) {
	w.mu.Lock()
	w.inFlight--
	for _, r := range rows {
		delete(w.held, r.id)
	}
	w.mu.Unlock()
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

// block holds sink back until at.
func (w *workers) block(sink string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at.After(w.blocked[sink]) {
		w.blocked[sink] = at
	}
}

// room returns how many messages the fetcher may claim, and the sinks held back now.
func (w *workers) room(workers int, now time.Time) (int, []string) {
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
	sort.Strings(skip)
	return workers - w.inFlight, skip
}

// fetchLoop claims due rows whenever a worker is free and something may be due: a commit of
// this process woke it, a worker finished, or the poll interval passed (rows that came due,
// and other replicas' commits).
func (s *Store) fetchLoop(w *workers) {
	defer close(w.fetched)
	poll := time.NewTicker(s.opts.FetchPollInterval)
	defer poll.Stop()
	failing := false
	for {
		if n, skip := w.room(s.opts.Workers, s.opts.Now()); n > 0 {
			ctx, cancel := context.WithTimeout(w.ctx, commitTimeout)
			rows, err := s.claim(ctx, n, skip)
			cancel()
			switch {
			case err != nil && !failing:
				failing = true
				s.opts.Logger.Warn("claiming deliveries failed; retried at each poll", "error", err.Error())
			case err == nil:
				failing = false
			}
			msgs := s.messages(rows)
			w.mu.Lock()
			w.inFlight += len(msgs)
			for _, r := range rows {
				w.held[r.id] = true
			}
			w.mu.Unlock()
			for _, m := range msgs {
				w.messages <- m
			}
			if len(rows) >= n {
				continue // more may be due
			}
		}
		select {
		case <-w.stopFetch:
			return
		case <-w.wake:
		case <-w.freed:
		case <-poll.C:
		}
	}
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

// completeLoop writes outcomes as they come, those that are waiting together in one commit,
// until the outcomes channel closes. A commit that fails is tried again: until it lands, the
// rows stay leased, and a lease that lapses sends them again.
func (s *Store) completeLoop(w *workers) {
	for o := range w.outcomes {
		batch := []settled{o}
	gather:
		for len(batch) < 500 {
			select {
			case o, ok := <-w.outcomes:
				if !ok {
					break gather
				}
				batch = append(batch, o)
			default:
				break gather
			}
		}
		for try := 0; ; try++ {
			ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
			err := s.settle(ctx, batch)
			cancel()
			if err == nil {
				break
			}
			if try == 5 {
				s.opts.Logger.Warn("delivery outcomes not recorded; their leases lapse and they run again", "rows", len(batch), "error", err.Error())
				break
			}
			time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
		}
		for _, o := range batch {
			if o.recorded != nil {
				close(o.recorded)
			}
		}
	}
}

// renewLoop renews the leases of rows in flight until the completer is done.
func (s *Store) renewLoop(w *workers, completed chan struct{}) {
	t := time.NewTicker(lease / 3)
	defer t.Stop()
	for {
		select {
		case <-completed:
			return
		case <-t.C:
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
