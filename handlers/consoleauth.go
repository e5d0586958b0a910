package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// The console's sign-in, for an admin listener that needs HOOKD_ADMIN_TOKEN: a browser
// cannot send a bearer token from a link, so the token is typed once and exchanged for a
// cookie that holds a MAC of it (never the token itself), HttpOnly and SameSite=Strict.

const sessionCookie = "hookd_console"

// session is the cookie value that stands for the admin token.
func (s *Server) session() string {
	m := hmac.New(sha256.New, []byte(s.opts.AdminToken))
	m.Write([]byte("hookd console session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) validSession(c echo.Context) bool {
	ck, err := c.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(ck.Value), []byte(s.session()))
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
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\\\") {
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
	want := sha256.Sum256([]byte(s.opts.AdminToken))
	got := sha256.Sum256([]byte(c.FormValue("token")))
	if !hmac.Equal(got[:], want[:]) {
		s.log.Warn("console sign-in refused: wrong admin token", zap.String("remote_ip", c.RealIP()))
		return s.render(c, http.StatusUnauthorized, "login", page{Title: "Sign in", Notice: "That is not the admin token.", Data: safeNext(c.FormValue("next"))})
	}
	s.log.Info("console sign-in", zap.String("remote_ip", c.RealIP()))
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: s.session(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.IsTLS()})
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}
