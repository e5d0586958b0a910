package handlers

import (
	"errors"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// errMisdirected is a request to the token-less admin listener under a name that is not its own.
var errMisdirected = errors.New("not one of the admin listener's host names")

// ownHost refuses a request whose Host is not one of the admin listener's own names while
// the listener has no token, or listens on loopback: a page in the operator's browser whose
// name is rebound to 127.0.0.1 reaches the listener under that page's name, and could read
// and repair all the console can, or guess at a token and hold up the operator's own
// sign-ins (all its requests come from loopback too). Off loopback with a token, the token
// decides, whatever name the operator's proxy gives.
func (s *Server) ownHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if (s.opts.AdminToken != "" && !onLoopback(c)) || s.ownHostName(c.Request().Host) {
			return next(c)
		}
		return errMisdirected
	}
}

// onLoopback reports whether the request came in on a loopback address of this host.
func onLoopback(c echo.Context) bool {
	a, ok := c.Request().Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	return ok && a.IP.IsLoopback()
}

// ownHostName reports whether host (a Host header, port optional) names the admin listener:
// localhost and its subdomains (which browsers resolve to loopback themselves), a name in
// AdminHosts, or a loopback address. An empty Host is an HTTP/1.0 client, never a browser.
func (s *Server) ownHostName(host string) bool {
	if host == "" {
		return true
	}
	name := host
	if h, port, err := net.SplitHostPort(host); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, h := range s.opts.AdminHosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), name) {
			return true
		}
	}
	if ip := net.ParseIP(name); ip != nil {
		return ip.IsLoopback()
	}
	return false
}

// noStore keeps every admin answer but the stylesheet out of caches: pages and API answers
// name users, roles and actors, and a shared or back-button cache would keep them after
// sign-out.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
			c.Response().Header().Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// filesOnly serves the files of an FS and no listing of its folders.
type filesOnly struct{ fs.FS }

// Open opens name, and refuses a folder as if it did not exist.
func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}
