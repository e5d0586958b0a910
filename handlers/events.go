package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/clip"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/verify"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// verifyChallenge answers Okta's one-time verification GET. Okta sends its auth header on
// it too, so it is checked like any delivery.
func (s *Server) verifyChallenge(c echo.Context) error {
	if err := s.opts.Auth.Check(c.Request().Header); err != nil {
		return err
	}
	body, err := verify.Challenge(c.Request().Header)
	if err != nil {
		return err
	}
	s.log.Info("answered Okta's verification challenge")
	return c.JSONBlob(http.StatusOK, body)
}

// receiveEvents takes one delivery: authenticate, decode, classify, commit, and only then
// answer 200. Okta never retries a 4xx, so a 4xx is only for what can never succeed.
func (s *Server) receiveEvents(c echo.Context) error {
	start := time.Now()
	req := c.Request()
	if err := s.opts.Auth.Check(req.Header); err != nil {
		return err
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEApplicationJSON {
		return errUnsupportedType
	}
	// Bodies in flight share a memory budget, so that many large deliveries at once cannot
	// exhaust memory: the excess waits briefly, then is answered 503, which Okta retries.
	weight := s.bodyWeight(req.ContentLength)
	wait, cancelWait := context.WithTimeout(req.Context(), s.opts.BodyWait)
	err := s.bodies.Acquire(wait, weight)
	cancelWait()
	if err != nil {
		return errBusy
	}
	defer s.bodies.Release(weight)
	defer s.memory.Size(weight)()
	body, err := readBody(req.Body, req.ContentLength, s.opts.BodyLimit)
	if err != nil {
		return err
	}
	batch, records, notWatched, err := s.decode(req.Context(), body)
	if err != nil {
		return err
	}
	requestID := c.Response().Header().Get(echo.HeaderXRequestID)
	if len(batch.Rejected) > 0 {
		s.logRejected(batch.Rejected, requestID)
	}
	s.logIncomplete(records, requestID)

	ctx, cancel := context.WithTimeout(req.Context(), s.opts.AcceptTimeout)
	defer cancel()
	// What was stored is counted when it is committed: a commit that lands after the accept
	// timeout (the delivery answered 503, Okta's retry then a duplicate) still counts.
	res, err := s.opts.Store.AcceptAndReport(ctx, records, s.countCommitted)
	if err != nil {
		s.logUnavailable(err, len(records))
		s.outage.refused(time.Now())
		return err
	}
	if o, ok := s.outage.over(time.Now(), s.opts.OutageAlertAfter); ok {
		// Off the request: Okta's answer must not wait for a second commit.
		go s.tellOutage(o)
	}
	// Counted once acknowledged, as Okta's retry of a refused delivery sends them again.
	// With the memberships the store found of groups holding nothing watched: stored nowhere,
	// so counted only once acknowledged, like the rest.
	s.metrics.events.WithLabelValues("not_watched").Add(float64(notWatched + res.NotWatched))
	s.metrics.events.WithLabelValues("rejected").Add(float64(len(batch.Rejected)))
	s.metrics.accept.Observe(time.Since(start).Seconds())
	if res.Unstored > 0 {
		s.log.Error("events the database refused to store; alerted from the delivery queue, flagged, without de-duplication",
			zap.Int("events", res.Unstored), zap.String("problem", res.Problem))
	}

	// Okta ignores the body; the counts in headers are for people and hookd replay.
	h := c.Response().Header()
	h.Set("X-Hookd-Accepted", strconv.Itoa(res.Accepted))
	h.Set("X-Hookd-Duplicates", strconv.Itoa(res.Duplicates))
	h.Set("X-Hookd-Not-Watched", strconv.Itoa(notWatched+res.NotWatched))
	h.Set("X-Hookd-Rejected", strconv.Itoa(len(batch.Rejected)))
	return c.NoContent(http.StatusOK)
}

// countCommitted counts a delivery's stored events when their commit is done.
func (s *Server) countCommitted(res hookd.AcceptResult) {
	s.metrics.events.WithLabelValues("accepted").Add(float64(res.Accepted))
	s.metrics.events.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	s.metrics.events.WithLabelValues("unstored").Add(float64(res.Unstored))
}

// decode reads and classifies a delivery's body, when its turn to decode comes (see
// Server.decoding).
func (s *Server) decode(ctx context.Context, body []byte) (*hook.Batch, []hookd.RoleChange, int, error) {
	select {
	case s.decoding <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, 0, errBusy
	}
	defer func() { <-s.decoding }()
	batch, err := hook.DecodeLimited(body, s.opts.MaxEvents)
	if err != nil {
		return nil, nil, 0, err
	}
	records, notWatched := s.opts.Classifier.RoleChanges(batch, hookd.SourceHook)
	return batch, records, notWatched, nil
}

// bodyWeight is what a body counts against the in-flight budget: its declared length, or
// the whole limit when it has none (chunked), never less than a small floor.
func (s *Server) bodyWeight(contentLength int64) int64 {
	w := s.opts.BodyLimit
	if contentLength >= 0 && contentLength < w {
		w = contentLength
	}
	return min(max(w, 16<<10), s.opts.BodyBudget)
}

// readBody reads a body of at most limit bytes (the BodyLimit middleware enforces it) into
// one buffer, sized from Content-Length when there is one so that a large body is not
// copied as the buffer grows.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	var buf []byte
	if contentLength >= 0 && contentLength <= limit {
		buf = make([]byte, 0, contentLength+1) // +1: the read that sees EOF
	}
	b := bytes.NewBuffer(buf)
	if _, err := b.ReadFrom(r); err != nil {
		return nil, &bodyError{err}
	}
	return b.Bytes(), nil
}

// logUnavailable logs a delivery refused because the store did not commit: the first of an
// outage at once, then one line a minute with how many more there were, so that an outage
// of the database is a few lines, not two per request.
func (s *Server) logUnavailable(err error, records int) {
	s.refused.Add(1)
	s.unavailableLog.Do(func() {
		s.log.Error("deliveries not acknowledged: store unavailable (Okta retries them once)",
			zap.Error(err), zap.Int64("deliveries_since_last_line", s.refused.Swap(0)), zap.Int("records", records))
	})
}

// maxExamples is how many rejected or odd-shaped events a summary line names.
const maxExamples = 3

// logRejected writes one line for a delivery's rejected events, with a few examples: a
// delivery of millions of bad events must not write millions of lines.
func (s *Server) logRejected(rejected []hook.Rejection, requestID string) {
	examples := make([]string, 0, maxExamples)
	for _, r := range rejected[:min(len(rejected), maxExamples)] {
		examples = append(examples, fmt.Sprintf("events[%d] uuid=%q: %s", r.Index, clip.Bytes(r.UUID, 64), clip.Bytes(r.Error(), 200)))
	}
	s.log.Warn("events rejected; the rest of the delivery is kept",
		zap.Int("rejected", len(rejected)), zap.Strings("examples", examples), zap.String("request_id", requestID))
}

// logIncomplete writes one line for a delivery's watched events of an unexpected shape.
func (s *Server) logIncomplete(records []hookd.RoleChange, requestID string) {
	n := 0
	var examples []string
	for i := range records {
		if len(records[i].Incomplete) == 0 {
			continue
		}
		n++
		if len(examples) < maxExamples {
			examples = append(examples, fmt.Sprintf("%s %s: %s", clip.Bytes(records[i].EventType, 64), clip.Bytes(records[i].EventID, 64), clip.Bytes(strings.Join(records[i].Incomplete, "; "), 200)))
		}
	}
	if n > 0 {
		s.log.Warn("watched events of an unexpected shape; alerting with what was found",
			zap.Int("events", n), zap.Strings("examples", examples), zap.String("request_id", requestID))
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz fails while the store, or any other readiness check, does not answer.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	problems := map[string]string{}
	if err := s.opts.Store.Ping(ctx); err != nil {
		problems["store"] = err.Error()
	}
	for name, check := range s.opts.ReadyChecks {
		if err := check(ctx); err != nil {
			problems[name] = err.Error()
		}
	}
	if len(problems) > 0 {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": problems})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
