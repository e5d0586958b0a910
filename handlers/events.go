package handlers

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"time"

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
	batch, err := hook.Decode(req.Body)
	if err != nil {
		return err
	}
	records, notWatched := s.opts.Classifier.RoleChanges(batch, hook.SourceHook)
	for _, r := range batch.Rejected {
		s.log.Warn("event rejected; the rest of the delivery is kept",
			zap.Int("index", r.Index), zap.String("uuid", r.UUID), zap.String("event_type", r.EventType),
			zap.String("problem", r.Error()), zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
	}
	for i := range records {
		if len(records[i].Incomplete) > 0 {
			s.log.Warn("watched event has an unexpected shape; alerting with what was found",
				zap.String("uuid", records[i].EventID), zap.String("event_type", records[i].EventType),
				zap.Strings("incomplete", records[i].Incomplete))
		}
	}

	ctx, cancel := context.WithTimeout(req.Context(), s.opts.AcceptTimeout)
	defer cancel()
	res, err := s.opts.Store.Accept(ctx, records)
	if err != nil {
		s.log.Error("delivery not acknowledged: store unavailable", zap.Error(err), zap.Int("records", len(records)))
		return err
	}
	s.metrics.accept.Observe(time.Since(start).Seconds())
	s.metrics.events.WithLabelValues("accepted").Add(float64(res.Accepted))
	s.metrics.events.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	s.metrics.events.WithLabelValues("not_watched").Add(float64(notWatched))
	s.metrics.events.WithLabelValues("rejected").Add(float64(len(batch.Rejected)))
	if res.Unstored > 0 {
		s.metrics.events.WithLabelValues("unstored").Add(float64(res.Unstored))
		s.log.Error("events the database refused to store; alerted from the delivery queue, flagged, without de-duplication",
			zap.Int("events", res.Unstored), zap.String("problem", res.Problem))
	}

	// Okta ignores the body; the counts in headers are for people and hookd replay.
	h := c.Response().Header()
	h.Set("X-Hookd-Accepted", strconv.Itoa(res.Accepted))
	h.Set("X-Hookd-Duplicates", strconv.Itoa(res.Duplicates))
	h.Set("X-Hookd-Not-Watched", strconv.Itoa(notWatched))
	h.Set("X-Hookd-Rejected", strconv.Itoa(len(batch.Rejected)))
	return c.NoContent(http.StatusOK)
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
