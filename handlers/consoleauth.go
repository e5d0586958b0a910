package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// The console's sign-in, for an admin listener that needs HOOKD_ADMIN_TOKEN: a browser
// cannot send a bearer token from a link, so the token is typed once and exchanged for a
// session of its own, random, kept in memory until it expires or its owner signs out. The
// cookie is HttpOnly and SameSite=Strict and holds the session's id, never the token.

const sessionCookie = "hookd_console"

// sessionLifetime is how long a console sign-in lasts.
const sessionLifetime = 12 * time.Hour

// maxSessions bounds the sessions kept; past it the one closest to expiry goes first.
const maxSessions = 1000

// sessions are the console's signed-in browsers, by a hash of their cookie's value.
type sessions struct {
	mu      sync.Mutex
	expires map[[sha256.Size]byte]time.Time
}

// start makes a session and returns the value its cookie carries.
func (ss *sessions) start(now time.Time) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	id := hex.EncodeToString(b)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.expires == nil {
		ss.expires = map[[sha256.Size]byte]time.Time{}
	}
	if len(ss.expires) >= maxSessions {
		ss.dropOldest(now)
	}
	ss.expires[sha256.Sum256([]byte(id))] = now.Add(sessionLifetime)
	return id
}

// dropOldest removes the expired sessions, or else the one that expires first.
func (ss *sessions) dropOldest(now time.Time) {
	var first [sha256.Size]byte
	var firstAt time.Time
	for k, at := range ss.expires {
		if !at.After(now) {
			delete(ss.expires, k)
			continue
		}
		if firstAt.IsZero() || at.Before(firstAt) {
			first, firstAt = k, at
		}
	}
	if len(ss.expires) >= maxSessions {
		delete(ss.expires, first)
	}
}

// valid reports whether id is a session that has not expired.
func (ss *sessions) valid(id string, now time.Time) bool {
	if id == "" {
		return false
	}
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	at, ok := ss.expires[k]
	if ok && !at.After(now) {
		delete(ss.expires, k)
		return false
	}
	return ok
}

// end forgets the session id.
func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.expires, sha256.Sum256([]byte(id)))
}

// throttle slows down guessing the admin token: each client address (an IPv6 client by its
// /64, which one host can fill) may present a few wrong tokens, then one a second. An attempt
// is taken before its token is compared, so that many sent at once are held like many in
// turn, and given back when the token is right: the operator's own use is never held up, and
// no stranger at another address can hold it up either.
type throttle struct {
	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

const (
	// wrongTokenBurst wrong tokens a client may present at once, then one each wrongTokenEvery.
	wrongTokenBurst = 5
	wrongTokenEvery = time.Second
	// maxThrottled bounds the client addresses remembered; past it they start afresh.
	maxThrottled = 4096
)

func newThrottle() *throttle { return &throttle{clients: map[string]*rate.Limiter{}} }

// clientKey is the address a client is throttled by.
func clientKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// attempt takes one attempt for ip. It returns how long to wait when none is left, else a
// function that gives the attempt back (call it when the token was right).
func (t *throttle) attempt(ip string, now time.Time) (giveBack func(), wait time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := clientKey(ip)
	l := t.clients[key]
	if l == nil {
		if len(t.clients) >= maxThrottled {
			clear(t.clients)
		}
		l = rate.NewLimiter(rate.Every(wrongTokenEvery), wrongTokenBurst)
		t.clients[key] = l
	}
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, max(d, time.Second)
	}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		r.CancelAt(now)
	}, 0
}

// errThrottled is a token not looked at because its client presented too many wrong ones.
type errThrottled struct{ after time.Duration }

func (e *errThrottled) Error() string { return "too many wrong admin tokens" }

// throttled returns the error for a client that must wait, with its Retry-After set.
func throttled(c echo.Context, d time.Duration) error {
	secs := int((d + time.Second - 1) / time.Second)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return &errThrottled{after: d}
}

// tokenMatches compares a presented token with the admin token in constant time.
func (s *Server) tokenMatches(presented string) bool {
	want := sha256.Sum256([]byte(s.opts.AdminToken))
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (s *Server) validSession(c echo.Context) bool {
	ck, err := c.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	return s.sessions.valid(ck.Value, time.Now())
}

// wantsHTML reports whether the request is a browser's for a console page, not for the API
// or the probes.
func wantsHTML(c echo.Context) bool {
	p := c.Request().URL.Path
	if strings.HasPrefix(p, "/api/") || p == "/metrics" || p == "/readyz" || p == "/healthz" {
		return false
	}
	return strings.Contains(c.Request().Header.Get("Accept"), "text/html")
}

// safeNext is where to go after signing in: a path on this listener, never another site.
// Browsers read a backslash as a slash and drop tabs and new lines from a URL, so "/\evil"
// and "/<TAB>/evil" would leave for another host: anything but a plain path is "/".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c == '\\' || c <= ' ' || c == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(c echo.Context) error {
	if s.opts.AdminToken == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return s.render(c, http.StatusOK, "login", page{Title: "Sign in", Data: safeNext(c.QueryParam("next"))})
}

func (s *Server) login(c echo.Context) error {
	if s.opts.AdminToken == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	now := time.Now()
	giveBack, wait := s.throttle.attempt(c.RealIP(), now)
	if wait > 0 {
		s.throttledLog.Do(func() {
			s.log.Warn("console sign-in throttled: too many wrong admin tokens", zap.String("remote_ip", c.RealIP()))
		})
		return throttled(c, wait)
	}
	if !s.tokenMatches(c.FormValue("token")) {
		s.log.Warn("console sign-in refused: wrong admin token", zap.String("remote_ip", c.RealIP()))
		return s.render(c, http.StatusUnauthorized, "login", page{Title: "Sign in", Notice: "That is not the admin token.", Data: safeNext(c.FormValue("next"))})
	}
	giveBack()
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.sessions.end(ck.Value) // a sign-in replaces the browser's session, never adds one
	}
	s.log.Info("console sign-in", zap.String("remote_ip", c.RealIP()))
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: s.sessions.start(now), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.overTLS(c), MaxAge: int(sessionLifetime / time.Second),
		Expires: now.Add(sessionLifetime)})
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

// logout ends the browser's session, so that its cookie opens nothing even if kept.
func (s *Server) logout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.sessions.end(ck.Value)
		s.log.Info("console sign-out", zap.String("remote_ip", c.RealIP()))
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.overTLS(c), MaxAge: -1})
	if s.opts.AdminToken == "" {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// overTLS reports whether the browser reached the listener over TLS: its own, or a trusted
// proxy's that says so in X-Forwarded-Proto (from anyone else the header is not believed).
func (s *Server) overTLS(c echo.Context) bool {
	if c.IsTLS() {
		return true
	}
	if c.Request().Header.Get("X-Forwarded-Proto") != "https" {
		return false
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil {
		return false
	}
	for _, n := range s.opts.TrustedProxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// isThrottled reports whether err is a throttled token.
func isThrottled(err error) bool {
	var t *errThrottled
	return errors.As(err, &t)
}
