package handlers

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/verify"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// errorBody is every error answer: what is wrong, and the detail to fix it (the admin API's
// error type, which the command-line tools read).
type errorBody = adminapi.Error

// errUnsupportedType is returned for a delivery whose Content-Type is not JSON.
var errUnsupportedType = errors.New("unsupported content type")

// errBusy is returned when the bodies in flight use the whole memory budget.
var errBusy = errors.New("too many large deliveries in flight")

// bodyError is a failure to read a request's body: the client's doing (too slow, gone), not
// the server's.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "read body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// timeout reports whether the body stopped arriving before the server's read deadline.
func (e *bodyError) timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}

// answerTime is how long an error answer may take to write once its request's own time is up.
const answerTime = 5 * time.Second

// statusOf maps an error to the status and body of the answer. It is the only place that
// knows how errors become statuses.
func (s *Server) statusOf(err error) (int, errorBody) {
	var he *echo.HTTPError
	var de *hook.DecodeError
	var be *bodyError
	switch {
	case errors.Is(err, verify.ErrMissing):
		return http.StatusUnauthorized, errorBody{Error: "unauthorized", Detail: "missing " + s.opts.Auth.Header() + " header"}
	case errors.Is(err, verify.ErrWrong):
		return http.StatusUnauthorized, errorBody{Error: "unauthorized", Detail: "wrong " + s.opts.Auth.Header() + " header value"}
	case errors.Is(err, verify.ErrNoChallenge):
		return http.StatusBadRequest, errorBody{Error: "bad request", Detail: err.Error()}
	case errors.Is(err, errUnsupportedType):
		return http.StatusUnsupportedMediaType, errorBody{Error: "unsupported media type", Detail: "Content-Type must be application/json"}
	case errors.As(err, &be) && be.timeout():
		return http.StatusRequestTimeout, errorBody{Error: "request timeout", Detail: "the body did not arrive within the server's read timeout"}
	case errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge:
		return http.StatusRequestEntityTooLarge, errorBody{Error: "payload too large", Detail: "the body limit is " + strconv.FormatInt(s.opts.BodyLimit, 10) + " bytes"}
	case errors.As(err, &be):
		return http.StatusBadRequest, errorBody{Error: "bad request", Detail: "the body could not be read: " + be.err.Error()}
	case errors.As(err, &de) && errors.Is(de.Kind, hook.ErrTooManyEvents):
		return http.StatusRequestEntityTooLarge, errorBody{Error: "payload too large", Detail: "a delivery may hold at most " + strconv.Itoa(s.opts.MaxEvents) + " events"}
	case isThrottled(err):
		return http.StatusTooManyRequests, errorBody{Error: "too many requests", Detail: "too many wrong admin tokens from this address: wait for Retry-After, then try again"}
	case errors.Is(err, errMisdirected):
		return http.StatusMisdirectedRequest, errorBody{Error: "misdirected request",
			Detail: "without HOOKD_ADMIN_TOKEN the admin listener answers only to localhost, loopback addresses and the names in HOOKD_ADMIN_HOSTS"}
	case errors.Is(err, errAdminToken):
		return http.StatusUnauthorized, errorBody{Error: "unauthorized", Detail: "the admin listener needs Authorization: Bearer <HOOKD_ADMIN_TOKEN>"}
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, errorBody{Error: "busy", Detail: "too many large deliveries in flight; nothing was acknowledged, Okta's retry will be taken"}
	case errors.As(err, &de):
		detail := make([]string, len(de.Fields))
		for i, f := range de.Fields {
			detail[i] = f.Error()
		}
		return http.StatusBadRequest, errorBody{Error: de.Kind.Error(), Detail: strings.Join(detail, "; ")}
	case errors.Is(err, adminapi.ErrNotFound):
		return http.StatusNotFound, errorBody{Error: "not found", Detail: err.Error()}
	case errors.Is(err, adminapi.ErrConflict):
		return http.StatusConflict, errorBody{Error: "conflict", Detail: err.Error()}
	case errors.Is(err, adminapi.ErrBadRequest):
		// The detail is what is wrong, without the kind the status already says.
		detail := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "bad request\n"), "bad request: ")
		return http.StatusBadRequest, errorBody{Error: "bad request", Detail: detail}
	case errors.Is(err, hookd.ErrUnavailable), errors.Is(err, hookd.ErrClosed), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, errorBody{Error: "store unavailable", Detail: "nothing was acknowledged; Okta's retry will be taken"}
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		if msg == "" {
			msg = http.StatusText(he.Code)
		}
		return he.Code, errorBody{Error: strings.ToLower(msg), Detail: detailOf(he.Code, s.opts.EventsPath)}
	}
	return http.StatusInternalServerError, errorBody{Error: "internal error"}
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := s.statusOf(err)
	if status == http.StatusRequestTimeout {
		// The read deadline passed; the write deadline, set as the headers arrived, is about
		// to. Give the answer time of its own, or the client sees only a closed connection.
		_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(answerTime))
	}
	if status == http.StatusNotFound && c.Echo() == s.admin && body.Detail == detailOf(http.StatusNotFound, s.opts.EventsPath) {
		body.Detail = "the admin listener serves /readyz, /metrics and /healthz"
		if s.opts.Console != nil {
			body.Detail = "the admin listener serves the console at /, its API under /api/v1/, /readyz, /metrics and /healthz"
		}
	}
	if status == http.StatusInternalServerError {
		s.log.Error("unexpected error", zap.Error(err), zap.String("path", c.Path()))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if c.Echo() == s.admin && s.opts.Console != nil && wantsHTML(c) {
		s.renderError(c, status, body)
		return
	}
	_ = c.JSON(status, body)
}

// detailOf says what to do about an answer Echo itself gave.
func detailOf(status int, eventsPath string) string {
	switch status {
	case http.StatusNotFound:
		return "hookd serves " + eventsPath + " and /healthz here"
	case http.StatusMethodNotAllowed:
		return "Okta sends GET (the verification challenge) and POST (deliveries) to " + eventsPath
	}
	return http.StatusText(status)
}
