package store

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/store/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tally counts what reached each sink, by event, across replicas: each message is sent to a
// receiver on loopback first, as a sink's webhook would be, and counted once it answered.
type tally struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	seen   map[[2]string]int
}

func newTally(t *testing.T) *tally {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(transport.CloseIdleConnections)
	return &tally{url: receiver.URL, client: &http.Client{Transport: transport}, seen: map[[2]string]int{}}
}

func (c *tally) Deliver(ctx context.Context, sink string, changes []*hookd.RoleChange) error {
	ids := make([]string, len(changes))
	for i, rc := range changes {
		ids[i] = rc.EventID
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/"+sink, strings.NewReader(strings.Join(ids, "\n")))
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rc := range changes {
		c.seen[[2]string{sink, rc.EventID}]++
	}
	return nil
}

func (c *tally) times(sink, id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[[2]string{sink, id}]
}

func (c *tally) count() (distinct, twice int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.seen {
		distinct++
		if n > 1 {
			twice++
		}
	}
	return distinct, twice
}

// TestTwoReplicasAlertEachEventOnce: two replicas on one Postgres database, the same
// deliveries sent to both at once, twenty times each, round after round, while both are busy
// with other deliveries (as Okta's retry can land on the other replica while the first is
// still committing), one event of each admin action stored alone before the rest: every
// event reaches each sink exactly once. (The build before sent that lone event again with
// the rest of its action, in most rounds.)
func TestTwoReplicasAlertEachEventOnce(t *testing.T) {
	base := os.Getenv("HOOKD_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("HOOKD_TEST_DATABASE_URL is not set: the two-replica test needs Postgres")
	}
	url := storetest.FreshSchema(t, base)
	sinks := []string{"webhook", "slack"}
	c := newTally(t)
	var replicas []*Store
	for _, name := range []string{"a", "b"} {
		s := open(t, Options{DatabaseURL: url, ReplicaID: name, Sinks: sinks, Deliverer: c,
			GroupWindow: 100 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond})
		require.NoError(t, s.Start(context.Background()))
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		replicas = append(replicas, s)
	}
	const rounds, copies, events = 12, 20, 22
	var wg sync.WaitGroup
	for round := range rounds {
		// One delivery: an admin action of several events, and events of their own.
		batch := make([]hookd.RoleChange, events)
		for i := range batch {
			batch[i] = record(fmt.Sprintf("r%02d-e%02d", round, i))
			if i%2 == 0 {
				batch[i].TransactionID, batch[i].Actor.ID = fmt.Sprintf("tx-%d", round), "00uAdmin"
			}
		}
		// One event of the action came alone first, longer than the group window before the
		// rest (a System Log poll, say): alerted alone, it must not go out again with them.
		_, err := replicas[round%2].Accept(context.Background(), batch[:1])
		require.NoError(t, err)
		// Its rows are settled once every sink took it: held the group window, then sent.
		lone := batch[0].EventID
		require.Eventually(t, func() bool {
			for _, sink := range sinks {
				if c.times(sink, lone) == 0 {
					return false
				}
			}
			return count(t, replicas[0], `SELECT count(*) FROM hookd_delivery WHERE event = $1 AND state = 'pending'`, lone) == 0
		}, 10*time.Second, 10*time.Millisecond, "the lone event alerted alone")
		// Other work keeping both replicas busy meanwhile.
		for _, s := range replicas {
			other := make([]hookd.RoleChange, 50)
			for i := range other {
				other[i] = record(fmt.Sprintf("r%02d-other-%s-%02d", round, s.opts.ReplicaID, i))
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Accept(context.Background(), other)
				assert.NoError(t, err)
			}()
		}
		for range copies {
			for _, s := range replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.Accept(context.Background(), append([]hookd.RoleChange(nil), batch...))
					assert.NoError(t, err)
				}()
			}
		}
	}
	wg.Wait()
	want := len(sinks) * rounds * (events + 2*50)
	require.Eventually(t, func() bool {
		distinct, _ := c.count()
		return distinct == want
	}, 30*time.Second, 20*time.Millisecond)
	// Nothing left pending, on either replica (a row is settled only after its sink took
	// it): every sending there will be has been, a duplicate too.
	require.Eventually(t, func() bool {
		return count(t, replicas[0], `SELECT count(*) FROM hookd_delivery WHERE state = 'pending'`) == 0
	}, 30*time.Second, 20*time.Millisecond, "the queue is done")
	distinct, twice := c.count()
	assert.Equal(t, want, distinct)
	assert.Zero(t, twice, "no event reached a sink twice")
}
