package handlers

import (
	"errors"
	"io/fs"
	"net"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxHeaderBytes caps a request's line and headers on both listeners. Okta's and the
// console's requests need a small part of it; Go's default would let every connection hold a
// megabyte before any check.
const maxHeaderBytes = 64 << 10

// errMisdirected is a request to the token-less admin listener under a name that is not its own.
var errMisdirected = errors.New("not one of the admin listener's host names")

// ownHost refuses, while the admin listener has no token, a request whose Host is not one of
// its own names: a page in the operator's browser whose name is rebound to 127.0.0.1 reaches
// the listener under that page's name, and without this check could read and repair all the
// console can. With a token the token decides, and a rebound page has neither it nor the
// session cookie, which its browser keeps for hookd's own name.
func (s *Server) ownHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.opts.AdminToken != "" || s.ownHostName(c.Request().Host) {
			return next(c)
		}
		return errMisdirected
	}
}

// ownHostName reports whether host (a Host header, port optional) names the admin listener:
// localhost and its subdomains (which browsers resolve to loopback themselves), a loopback
// address, or a name in AdminHosts. An empty Host is an HTTP/1.0 client, never a browser.
func (s *Server) ownHostName(host string) bool {
	if host == "" {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	if ip := net.ParseIP(name); ip != nil {
		return ip.IsLoopback()
	}
	for _, h := range s.opts.AdminHosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), name) {
			return true
		}
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
