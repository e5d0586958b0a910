package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// signatureTolerance is how far a post's webhook-timestamp may be from the receiver's clock,
// as Standard Webhooks advises, so that a replayed post is refused.
const signatureTolerance = 5 * time.Minute

// maxWebhookBody bounds a post's body: hookd's messages carry at most about 512 KiB of
// records.
const maxWebhookBody = 4 << 20

// webhookReceiver is a Standard Webhooks receiver for hookd's webhook sink, for measuring
// the drain: how long a load's role changes take to reach a receiver, where acknowledge
// latency only says how long they took to be stored. It verifies each post as a real
// receiver must, so that an alert only counts as arrived when hookd signed it as a receiver
// would check, and keeps when each alerted event uuid first came and how often one came again.
type webhookReceiver struct {
	key []byte
	now func() time.Time

	mu      sync.Mutex
	arrived map[string]time.Time
	// duplicates counts alerts of an event uuid that had arrived already.
	duplicates int
	// badSignatures counts posts refused because their signature did not verify.
	badSignatures int
}

// newWebhookReceiver returns a receiver verifying with secret, "whsec_" and a base64 key, as
// hookd's HOOKD_WEBHOOK_SECRET is given.
func newWebhookReceiver(secret string) (*webhookReceiver, error) {
	encoded, ok := strings.CutPrefix(strings.TrimSpace(secret), "whsec_")
	if !ok {
		return nil, errors.New("webhook secret must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil || len(key) < 16 {
		return nil, errors.New("webhook secret must be whsec_ and at least 16 bytes in base64, as hookd takes it")
	}
	return &webhookReceiver{key: key, now: time.Now, arrived: map[string]time.Time{}}, nil
}

// verify checks a post the way a Standard Webhooks library does: webhook-timestamp within
// the tolerance, and one of webhook-signature's space-separated "v1,<base64>" values the
// HMAC-SHA256 of "id.timestamp.body" (several are sent while a key is rotated).
func (r *webhookReceiver) verify(h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not Unix seconds")
	}
	if d := r.now().Sub(time.Unix(secs, 0)); d > signatureTolerance || d < -signatureTolerance {
		return errors.New("webhook-timestamp outside the tolerance")
	}
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid v1 signature")
}

// ServeHTTP takes one post of hookd's webhook sink: 401 for one that does not verify, 400 for
// a body that is not its document, otherwise 204 after counting its alerts.
func (r *webhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxWebhookBody))
	if err != nil {
		http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := r.verify(req.Header, body); err != nil {
		r.mu.Lock()
		r.badSignatures++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var doc struct {
		Alerts []struct {
			EventID string `json:"eventId"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		http.Error(w, "not a webhook document: "+err.Error(), http.StatusBadRequest)
		return
	}
	at := r.now()
	r.mu.Lock()
	for _, a := range doc.Alerts {
		if _, ok := r.arrived[a.EventID]; ok {
			r.duplicates++
			continue
		}
		r.arrived[a.EventID] = at
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// counts returns how many distinct event uuids arrived, how many alerts came again, and how
// many posts were refused for their signature.
func (r *webhookReceiver) counts() (arrived, duplicates, badSignatures int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.arrived), r.duplicates, r.badSignatures
}

// waitFor waits until every one of ids has arrived, or ctx ends, looking every poll; it
// returns when the last of them arrived and how many have not. It looks at each id once
// (alerts arrive about in the order they were sent), so a long wait costs the load's
// machine nothing.
func (r *webhookReceiver) waitFor(ctx context.Context, ids []string, poll time.Duration) (last time.Time, missing int) {
	next := 0
	for {
		r.mu.Lock()
		for next < len(ids) {
			at, ok := r.arrived[ids[next]]
			if !ok {
				break
			}
			if at.After(last) {
				last = at
			}
			next++
		}
		r.mu.Unlock()
		if next == len(ids) {
			return last, 0
		}
		select {
		case <-ctx.Done():
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, id := range ids[next:] {
				if at, ok := r.arrived[id]; !ok {
					missing++
				} else if at.After(last) {
					last = at
				}
			}
			return last, missing
		case <-time.After(poll):
		}
	}
}

// serveWebhook runs the receiver on addr until the returned stop is called. It listens
// before it returns, so that a bad address fails the run before any load is sent.
func serveWebhook(addr string, r *webhookReceiver) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: r}
	go func() { _ = srv.Serve(l) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// drainLine says how the drain went: how many of the acknowledged deliveries' role changes
// reached the webhook, in how long from the first delivery and after the load, and what
// came wrong (alerts sent twice, posts that did not verify).
func drainLine(want, missing int, start, loadEnd, last time.Time, timeout time.Duration, duplicates, bad int) string {
	tail := fmt.Sprintf("; %d duplicates; %d bad signatures", duplicates, bad)
	if missing > 0 {
		return fmt.Sprintf("drain: only %d of %d role changes reached the webhook within %s of the load's end", want-missing, want, timeout) + tail
	}
	if want == 0 {
		return "drain: no role change was acknowledged, so none to wait for" + tail
	}
	took := last.Sub(start)
	return fmt.Sprintf("drain: %d role changes reached the webhook in %.2f s from the first delivery (%.0f/s), %.2f s after the load's end",
		want, took.Seconds(), float64(want)/took.Seconds(), last.Sub(loadEnd).Seconds()) + tail
}
