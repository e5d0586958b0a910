package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var tooLargeErr = &hookd.DeliveryError{Failure: hookd.FailTooLarge, Err: errors.New("HTTP 413")}

// sizedSink refuses (413) messages of more than limit events, and fails the nth message it
// would take once with a retryable error; it keeps every message it took.
type sizedSink struct {
	mu       sync.Mutex
	limit    int
	failNth  int
	taken    int
	messages [][]string
	refused  int
}

func (d *sizedSink) Deliver(_ context.Context, _ string, changes []*hookd.RoleChange) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.limit > 0 && len(changes) > d.limit {
		d.refused++
		return tooLargeErr
	}
	d.taken++
	if d.taken == d.failNth {
		return errors.New("connection reset")
	}
	ids := make([]string, len(changes))
	for i, rc := range changes {
		ids[i] = rc.EventID
	}
	d.messages = append(d.messages, ids)
	return nil
}

func (d *sizedSink) snapshot() (messages [][]string, refused int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]string(nil), d.messages...), d.refused
}

func groupOf(n int, tx string) []hookd.RoleChange {
	out := make([]hookd.RoleChange, n)
	for i := range out {
		out[i] = record(fmt.Sprintf("%s-%04d", tx, i))
		out[i].TransactionID, out[i].Actor.ID = tx, "00uAdmin"
	}
	return out
}

// TestLargeGroupsAreSplit: a 250-event admin action goes out in messages of at most 100
// events; a receiver that answers 413 gets smaller ones; a message that fails halfway
// through a job is the only one sent again; every event arrives exactly once.
func TestLargeGroupsAreSplit(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				sink     *sizedSink
				maxSize  int
				refusals bool
			}{
				{"capped at 100 events a message", &sizedSink{}, maxMessageEvents, false},
				{"413 splits instead of dead-lettering", &sizedSink{limit: 30}, 30, true},
				{"a retry sends only what was not taken", &sizedSink{failNth: 2}, maxMessageEvents, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					o := be.fresh(t)
					o.Sinks = []string{"webhook"}
					o.Deliverer = tc.sink
					o.FetchPollInterval = 20 * time.Millisecond
					o.GroupWindow = 200 * time.Millisecond
					o.RetryBase = 50 * time.Millisecond
					o.RetryCap = 50 * time.Millisecond
					s := open(t, o)
					require.NoError(t, s.Start(context.Background()))
					t.Cleanup(func() { _ = s.Stop(context.Background()) })
					_, err := s.Accept(context.Background(), groupOf(250, "bigtx"))
					require.NoError(t, err)

					require.Eventually(t, func() bool {
						return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'delivered'") == 250
					}, 20*time.Second, 20*time.Millisecond)
					messages, refused := tc.sink.snapshot()
					seen := map[string]int{}
					for _, m := range messages {
						assert.LessOrEqual(t, len(m), tc.maxSize)
						for _, id := range m {
							seen[id]++
						}
					}
					assert.Len(t, seen, 250, "every event arrived")
					for id, n := range seen {
						assert.Equal(t, 1, n, "%s arrived once", id)
					}
					assert.Equal(t, tc.refusals, refused > 0)
					assert.Zero(t, count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'dead'"), "no dead letter")
					assert.Equal(t, 250, count(t, s, "SELECT count(*) FROM hookd_delivery WHERE sink = 'webhook' AND state = 'delivered'"))
				})
			}
		})
	}
}

func TestSplitBySize(t *testing.T) {
	size := func(n int) int { return n }
	assert.Equal(t, [][]int{{1, 1, 1}, {1, 1}}, split([]int{1, 1, 1, 1, 1}, size, 3, 100))
	assert.Equal(t, [][]int{{40, 50}, {30, 60}, {200}, {5}}, split([]int{40, 50, 30, 60, 200, 5}, size, 10, 100))
	assert.Nil(t, split([]int{}, size, 3, 100))
}

// TestSinkNamesMatchExactly: sink a_b must not take events routed to axb ('_' is a wildcard
// in LIKE), on either database.
func TestSinkNamesMatchExactly(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			o := be.fresh(t)
			o.Route = func(rc *hookd.RoleChange) []string {
				if rc.EventID == "only-axb" {
					return []string{"axb"}
				}
				return []string{"a_b", "axb"}
			}
			d := &fakeDeliverer{}
			o.Deliverer = d
			o.FetchPollInterval = 20 * time.Millisecond
			o.GroupWindow = 100 * time.Millisecond
			s := open(t, o)
			require.NoError(t, s.Start(context.Background()))
			t.Cleanup(func() { _ = s.Stop(context.Background()) })
			group := records("both-1", "both-2", "only-axb")
			for i := range group {
				group[i].TransactionID, group[i].Actor.ID = "tx-names", "00uAdmin"
			}
			_, err := s.Accept(context.Background(), group)
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state = 'delivered'") == 5
			}, 10*time.Second, 20*time.Millisecond)
			assert.Equal(t, [][]string{{"both-1", "both-2"}}, d.sent("a_b"), "a_b never gets axb's event")
			assert.Equal(t, [][]string{{"both-1", "both-2", "only-axb"}}, d.sent("axb"))
		})
	}
}

// TestNextIsTheOnePlaceFailuresAreMapped: what each failure a sink reports becomes, as the
// queue's next state and the outcome reported.
func TestNextIsTheOnePlaceFailuresAreMapped(t *testing.T) {
	var got []Outcome
	s := open(t, Options{DataDir: t.TempDir(), MaxAttempts: 5, OnOutcome: func(o Outcome) { got = append(got, o) }})
	base := errors.New("boom")
	for _, tt := range []struct {
		err     error
		attempt int
		result  string
		state   string
		refund  bool
	}{
		{base, 1, ResultRetry, statePending, false},
		{base, 5, ResultDiscarded, stateDead, false},
		{&hookd.DeliveryError{Failure: hookd.FailPermanent, Err: base}, 1, ResultPermanent, stateDead, false},
		{&hookd.DeliveryError{Failure: hookd.FailTooLarge, Err: base}, 1, ResultPermanent, stateDead, false},
		{&hookd.DeliveryError{Failure: hookd.FailWait, After: time.Minute, Err: base}, 5, ResultRateLimited, statePending, true},
		{&hookd.DeliveryError{Failure: hookd.FailPaced, After: time.Second, Err: base}, 5, ResultPaced, statePending, true},
		{&hookd.DeliveryError{Failure: hookd.FailWait, Err: base}, 1, ResultRetry, statePending, false}, // no wait named
	} {
		got = nil
		st := s.next([]int64{7}, fmt.Errorf("sink: %w", tt.err), Outcome{Sink: "chat", Attempt: tt.attempt, MaxAttempts: 5})
		require.Len(t, got, 1)
		assert.Equal(t, tt.result, got[0].Result, "%v at attempt %d", tt.err, tt.attempt)
		assert.Equal(t, tt.state, st.state, "%v", tt.err)
		assert.Equal(t, tt.refund, st.refund, "%v", tt.err)
	}
}
