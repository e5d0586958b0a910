// Package handlers is hookd's HTTP face: Okta's verification challenge and event deliveries,
// health, readiness and metrics, with one place that turns errors into statuses.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/memtrim"
	"github.com/hookd/hookd/verify"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// Acceptor stores role changes durably; store.Store satisfies it.
type Acceptor interface {
	// AcceptAndReport stores records and tells committed the result when they are
	// committed, even if that is after ctx ended (the delivery was answered 503 by then).
	AcceptAndReport(ctx context.Context, records []hookd.RoleChange, committed func(hookd.AcceptResult)) (hookd.AcceptResult, error)
	Ping(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Auth       *verify.Authenticator
	Store      Acceptor
	Classifier *hook.Classifier
	Logger     *zap.Logger
	// Registry receives hookd's metrics; a new one is made when nil.
	Registry *prometheus.Registry
	// EventsPath is the route Okta is registered with (default /okta/events).
	EventsPath string
	// BodyLimit caps a delivery's size in bytes (default 10 MiB).
	BodyLimit int64
	// AdminHosts are host names, beside loopback's, that the admin listener answers for
	// while it has no token (a name the operator reaches it by, such as a tunnel's): any other
	// Host is refused, so that a page whose name is rebound to loopback reads nothing.
	AdminHosts []string
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for the client
	// address; without them the direct peer address is used, so no caller can forge it.
	TrustedProxies []*net.IPNet
	// AdminToken, when set, is required as "Authorization: Bearer <token>" on the admin
	// listener's routes (all but /healthz).
	AdminToken string
	// MaxEvents caps the events of one delivery; a delivery past it is answered 413
	// (default 10,000: Okta batches far fewer).
	MaxEvents int
	// BodyBudget caps the bytes of delivery bodies being worked on at once (default twice
	// BodyLimit: working on a body takes several times its size); BodyWait is how long a body waits for room before it is answered 503
	// (default 1 s).
	BodyBudget int64
	BodyWait   time.Duration
	// Memory returns the memory of large bodies to the OS once none is left in flight; one
	// is made (a second's quiet, trimming Store when it can) when nil.
	Memory *memtrim.Trimmer
	// OutageAlertAfter is how long the store must have refused deliveries (answered 503)
	// for every sink to be told when it is back (default 1 minute).
	OutageAlertAfter time.Duration
	// AcceptTimeout bounds the wait for the store, below Okta's 3 s (default 2.5 s).
	AcceptTimeout time.Duration
	// Console, when set, serves the operator console and its JSON API on the admin listener.
	Console *ConsoleOptions
	// ReadyChecks are extra readiness checks by name, beside the store's.
	ReadyChecks map[string]func(context.Context) error
	// Slack, when set, takes clicks on the decision buttons of Slack alerts at
	// POST /slack/interactions on the Okta listener (Slack must reach it, as Okta does).
	Slack *SlackOptions

	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Server is hookd's HTTP server.
type Server struct {
	echo *echo.Echo
	http *http.Server
	// admin and adminHTTP serve the admin listener.
	admin        *echo.Echo
	adminHandler http.Handler
	adminHTTP    *http.Server
	opts         Options
	log          *zap.Logger
	metrics      *metrics
	// bodies is the budget of body bytes in flight.
	bodies *semaphore.Weighted
	// decoding admits as many deliveries to decoding at once as there are processors. Many
	// deliveries decoding at once finish no sooner, and keep the store's committer, which
	// every one of them waits for, waiting for a processor after each of its system calls.
	decoding chan struct{}
	// memory returns large bodies' memory to the OS once none is left in flight.
	memory *memtrim.Trimmer
	// unavailableLog paces the store-unavailable line; refused counts what it left out.
	unavailableLog rate.Sometimes
	refused        atomic.Int64
	// outage is the store outage under way, as deliveries refused with 503 see it.
	outage storeOutage
	// sessions are the console's sign-ins; throttle slows down guessing the admin token.
	sessions sessions
	throttle *throttle
	// throttledLog paces the line for a throttled sign-in: a guesser would write one a try.
	throttledLog rate.Sometimes
	// slackRefusedLog paces the lines for refused Slack requests, which anyone can send.
	slackRefusedLog rate.Sometimes
}

// DefaultMaxEvents is the default cap on the events of one delivery.
const DefaultMaxEvents = 10000

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.Auth == nil || o.Store == nil {
		return nil, errors.New("handlers: Auth and Store are required")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Classifier == nil {
		o.Classifier = &hook.Classifier{}
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.EventsPath == "" {
		o.EventsPath = "/okta/events"
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = 10 << 20
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.BodyBudget <= 0 {
		o.BodyBudget = 2 * o.BodyLimit
	}
	if o.BodyWait <= 0 {
		o.BodyWait = time.Second
	}
	if o.AcceptTimeout <= 0 {
		o.AcceptTimeout = 2500 * time.Millisecond
	}
	if o.OutageAlertAfter <= 0 {
		o.OutageAlertAfter = time.Minute
	}
	if o.Memory == nil {
		o.Memory = memtrim.New(time.Second)
		if t, ok := o.Store.(interface{ Trim() }); ok {
			o.Memory.OnTrim(t.Trim)
		}
	}
	s := &Server{opts: o, log: o.Logger, bodies: semaphore.NewWeighted(o.BodyBudget), decoding: make(chan struct{}, runtime.GOMAXPROCS(0)),
		memory: o.Memory, unavailableLog: rate.Sometimes{Interval: time.Minute}, throttle: newThrottle(), throttledLog: rate.Sometimes{Interval: time.Minute},
		slackRefusedLog: rate.Sometimes{First: 10, Interval: time.Second}}
	s.metrics = newMetrics(o.Registry)

	e := s.newEcho()
	events := e.Group(o.EventsPath)
	events.GET("", s.verifyChallenge)
	events.POST("", s.receiveEvents, middleware.BodyLimit(fmt.Sprintf("%dB", o.BodyLimit)))
	e.GET("/healthz", s.healthz)
	e.POST("/slack/interactions", s.slackInteraction, middleware.BodyLimit(fmt.Sprintf("%dB", maxSlackBody)))
	s.echo = e

	// The admin side: what must not face the internet (metrics, readiness that may name a
	// credential problem), on its own listener, behind a token unless it is on loopback.
	admin := s.newEcho()
	admin.Use(noStore, s.ownHost)
	admin.GET("/healthz", s.healthz)
	guarded := admin.Group("", s.adminAuth)
	guarded.GET("/readyz", s.readyz)
	guarded.GET("/metrics", echo.WrapHandler(s.metrics.handler()))
	if o.Console != nil {
		admin.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(filesOnly{staticFS}))))
		admin.GET("/login", s.loginPage)
		admin.POST("/login", s.login)
		admin.POST("/logout", s.logout)
		s.mountConsole(guarded)
	}
	s.admin = admin

	s.http = s.newHTTPServer(e, o)
	// Every state-changing admin request (retry, discard, test, sign-in) must come from the
	// console's own origin or from a client that is not a browser (curl, hookd's CLI).
	s.adminHandler = http.NewCrossOriginProtection().Handler(admin)
	s.adminHTTP = s.newHTTPServer(s.adminHandler, o)
	return s, nil
}

// newEcho is an Echo with the middleware both listeners share: request id, recovery,
// request counts and the request log.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(s.opts.TrustedProxies)
	e.Use(requestID)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic in handler", zap.String("path", c.Path()), zap.Error(err), zap.ByteString("stack", stack))
			return err
		},
	}))
	e.Use(s.countRequests)
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod: true, LogURIPath: true, LogStatus: true, LogLatency: true,
		LogRemoteIP: true, LogError: true, HandleError: true,
		LogValuesFunc: s.logRequest,
	}))
	return e
}

func (s *Server) newHTTPServer(h http.Handler, o Options) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(o.ReadHeaderTimeout, 5*time.Second),
		ReadTimeout:       orDefault(o.ReadTimeout, 30*time.Second),
		WriteTimeout:      orDefault(o.WriteTimeout, 30*time.Second),
		IdleTimeout:       orDefault(o.IdleTimeout, 120*time.Second),
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          zap.NewStdLog(o.Logger.Named("http")),
	}
}

// maxHeaderBytes caps a request's line and headers on both listeners. Okta's and the
// console's requests need a small part of it; Go's default would let every connection hold a
// megabyte before any check.
const maxHeaderBytes = 64 << 10

// errAdminToken is a request to the admin listener without its token.
var errAdminToken = errors.New("admin token missing or wrong")

// adminAuth checks "Authorization: Bearer <AdminToken>" in constant time, or the console's
// session cookie, when a token is set. A browser without either is sent to sign in; a client
// that keeps presenting wrong tokens is made to wait (see throttle).
func (s *Server) adminAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.opts.AdminToken == "" || s.validSession(c) {
			return next(c)
		}
		if h := c.Request().Header.Get("Authorization"); h != "" {
			giveBack, wait := s.throttle.attempt(c.RealIP(), time.Now())
			if wait > 0 {
				return throttled(c, wait)
			}
			if token, ok := strings.CutPrefix(h, "Bearer "); ok && s.tokenMatches(token) {
				giveBack()
				return next(c)
			}
			return errAdminToken
		}
		if s.opts.Console != nil && c.Request().Method == http.MethodGet && wantsHTML(c) {
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		return errAdminToken
	}
}

// ipExtractor returns how the client address is found: the direct peer, or, when the peer
// is a trusted proxy, the nearest untrusted address in its X-Forwarded-For. Echo's default
// believes X-Forwarded-For from anyone (GO-2026-6872).
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Handler is the Okta-facing routes, for tests that use httptest.
func (s *Server) Handler() http.Handler { return s.echo }

// AdminHandler is the admin listener's routes, behind its cross-origin protection, for tests
// that use httptest.
func (s *Server) AdminHandler() http.Handler { return s.adminHandler }

// ServeAdmin answers the admin listener's requests on l until Shutdown.
func (s *Server) ServeAdmin(l net.Listener) error {
	err := s.adminHTTP.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Serve answers requests on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops taking requests and waits for those in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.http.Shutdown(ctx), s.adminHTTP.Shutdown(ctx))
}

// logRequest writes the request's line. Every field a client chose is bounded: the method
// is a label, the path is capped, and request ids are kept only when they look like one.
func (s *Server) logRequest(c echo.Context, v middleware.RequestLoggerValues) error {
	fields := []zap.Field{
		zap.String("method", methodLabel(v.Method)), zap.String("path", loggedPath(v.URIPath)), zap.Int("status", v.Status),
		zap.Duration("latency", v.Latency), zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
		zap.String("remote_ip", v.RemoteIP),
	}
	if raw := c.Request().Header.Get("X-Okta-Request-Id"); raw != "" {
		id := clientRequestID(raw)
		if id == "" {
			id = "(not a request id: " + strconv.Itoa(len(raw)) + " bytes)"
		}
		fields = append(fields, zap.String("okta_request_id", id))
	}
	if v.Error != nil {
		fields = append(fields, zap.String("error", clip.Bytes(v.Error.Error(), maxLoggedError)))
	}
	switch {
	case v.Status == http.StatusServiceUnavailable:
		// Store trouble, said once a minute by logUnavailable; each request is a warning.
		s.log.Warn("request", fields...)
	case v.Status >= 500:
		s.log.Error("request", fields...)
	case v.URIPath == "/healthz" || v.URIPath == "/readyz" || v.URIPath == "/metrics":
		s.log.Debug("request", fields...)
	default:
		s.log.Info("request", fields...)
	}
	return nil
}

// Close cuts off every connection at once, for a shutdown that reached its timeout.
func (s *Server) Close() error { return errors.Join(s.http.Close(), s.adminHTTP.Close()) }
