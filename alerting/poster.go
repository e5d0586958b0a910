package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/outbound"
	"golang.org/x/time/rate"
)

// poster is what every HTTP sink shares: its name for errors and logs, its URL (which for
// Slack and Teams is the secret, so it never goes into an error), a bounded client, and, for
// receivers that throttle, a pace of its own.
type poster struct {
	name string
	url  string
	// redact blanks every part of the URL and every secret the sink holds out of what a
	// receiver answers, before it goes into an error.
	redact  func(string) string
	client  *http.Client
	now     func() time.Time
	limiter *rate.Limiter // nil: no pacing
	// maxWait is how long a delivery waits for its turn before handing the job back to the
	// queue with a retry-after instead of holding a worker.
	maxWait time.Duration
}

// newPoster returns the poster of a sink posting to url, pacing itself to perSecond with
// bursts of burst (0: no pacing), and keeping secrets (a signing key, a routing key, header
// values) out of its errors as well as its URL.
func newPoster(name, url string, perSecond float64, burst int, secrets ...string) poster {
	hidden := outbound.URLParts(url)
	for _, s := range secrets {
		// A value this short is no secret worth blanking; blanking it would garble the answer.
		if len(s) >= 4 {
			hidden = append(hidden, s)
		}
	}
	p := poster{name: name, url: url, client: outbound.Client(sinkTimeout), now: time.Now, maxWait: 3 * time.Second,
		redact: outbound.Redactor(hidden)}
	if perSecond > 0 {
		p.limiter = rate.NewLimiter(rate.Limit(perSecond), burst)
	}
	return p
}

// setTimeout bounds each request to d instead of sinkTimeout.
func (p *poster) setTimeout(d time.Duration) { p.client = outbound.Client(d) }

// errPaced is the reason a delivery waits its turn at a receiver's pace.
var errPaced = errors.New("waiting for its turn at the receiver's pace")

// pace waits for the sink's next slot, or hands the delivery back (hookd.FailPaced) when that is
// further away than maxWait, with the time to that slot: the queue holds the sink back until
// then and gives the slot to the most severe alert waiting, not to the one handed back first.
func (p *poster) pace(ctx context.Context) error {
	if p.limiter == nil {
		return nil
	}
	now := p.now()
	r := p.limiter.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > p.maxWait {
		r.CancelAt(now)
		return paced(d, fmt.Errorf("%s: %w", p.name, errPaced))
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

// encodeJSON is json.Marshal for a sink's body, with every byte that is not UTF-8 shown as
// U+FFFD: Marshal checks the strings it encodes but copies a json.RawMessage (an event as
// Okta sent it) as it is, and a strict receiver refuses the whole body for one such byte. In
// valid JSON such a byte can only sit inside a string, where U+FFFD is as valid. A sink
// encodes with it before it signs, so the signature is over the bytes sent.
func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || utf8.Valid(b) {
		return b, err
	}
	return bytes.ToValidUTF8(b, []byte("\uFFFD")), nil
}

// post sends body as JSON with the headers and classifies the answer.
func (p *poster) post(ctx context.Context, body []byte, headers map[string]string) error {
	return p.postURL(ctx, p.url, p.redact, body, headers)
}

// postTo sends msg as JSON to another URL of the receiver's (a Slack response_url), which
// is kept out of errors as the sink's own is.
func (p *poster) postTo(ctx context.Context, url string, msg any) error {
	body, err := encodeJSON(msg)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode: %w", p.name, err))
	}
	hidden := outbound.Redactor(outbound.URLParts(url))
	return p.postURL(ctx, url, func(s string) string { return hidden(p.redact(s)) }, body, nil)
}

func (p *poster) postURL(ctx context.Context, url string, redact func(string) string, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: bad URL", p.name))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	return checkAnswer(p.name, redact, resp, err, p.now())
}
