package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/outbound"
	"golang.org/x/time/rate"
)

// poster is what every HTTP sink shares: its name for errors and logs, its URL (which for
// Slack and Teams is the secret, so it never goes into an error), a bounded client, and, for
// receivers that throttle, a pace of its own.
type poster struct {
	name    string
	url     string
	client  *http.Client
	now     func() time.Time
	limiter *rate.Limiter // nil: no pacing
	// maxWait is how long a delivery waits for its turn before handing the job back to the
	// queue with a retry-after instead of holding a worker.
	maxWait time.Duration
	// handedBack spreads the deliveries handed back over the slots to come.
	handedBack *slots
}

// slots hands each delivery that cannot wait for its turn a later slot of its own, one pace
// interval after the last one handed out. Handing them all the next free slot instead would
// bring the whole backlog back at once, to be handed back again: a queue write and a fetch
// per waiting alert per slot, on the database that acceptance needs.
type slots struct {
	mu       sync.Mutex
	interval time.Duration
	last     time.Time
}

// after returns how long from now the delivery waits: until the later of the limiter's next
// slot (next from now) and one interval after the last slot handed out.
func (s *slots) after(now time.Time, next time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := now.Add(next)
	if s.last.Add(s.interval).After(at) {
		at = s.last.Add(s.interval)
	}
	s.last = at
	return at.Sub(now)
}

func newPoster(name, url string, perSecond float64, burst int) poster {
	p := poster{name: name, url: url, client: outbound.Client(sinkTimeout), now: time.Now, maxWait: 3 * time.Second}
	if perSecond > 0 {
		p.limiter = rate.NewLimiter(rate.Limit(perSecond), burst)
		p.handedBack = &slots{interval: time.Duration(float64(time.Second) / perSecond)}
	}
	return p
}

// setTimeout bounds each request to d instead of sinkTimeout.
func (p *poster) setTimeout(d time.Duration) { p.client = outbound.Client(d) }

// errPaced is the reason a delivery waits its turn at a receiver's pace.
var errPaced = errors.New("waiting for its turn at the receiver's pace")

// pace waits for the sink's next slot, or hands the job back (PacedError) when that is
// further away than maxWait, to come back at a slot of its own (see slots).
func (p *poster) pace(ctx context.Context) error {
	if p.limiter == nil {
		return nil
	}
	now := p.now()
	r := p.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > p.maxWait {
		r.CancelAt(now)
		return &PacedError{RetryError{Err: fmt.Errorf("%s: %w", p.name, errPaced), After: p.handedBack.after(now, d)}}
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return fmt.Errorf("%s: %w", p.name, ctx.Err())
	}
}

// post sends body as JSON with the headers and classifies the answer.
func (p *poster) post(ctx context.Context, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: bad URL", p.name))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	return checkAnswer(p.name, resp, err, p.now())
}
