package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/hookd/hookd/internal/clip"
	"github.com/labstack/echo/v4"
)

// What a request says about itself (method, path, request ids) reaches metric labels and log
// lines before anyone is authenticated. Each is taken from a fixed set or capped here, so that
// no stranger can make a series per request or a log line the size of a header.

// methodLabel is the request's method as metrics and logs name it: one of HTTP's methods, or
// "other" for anything a client made up.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// maxLoggedPath is how much of a request's path a log line keeps.
const maxLoggedPath = 256

// maxLoggedError is how much of an error's text a request log line keeps.
const maxLoggedError = 512

// maxRequestID is the longest request id hookd keeps from a client (or from Okta).
const maxRequestID = 64

// clientRequestID returns id when it is short and made only of the characters request ids are
// made of (letters, digits and -._:@+/=), else "".
func clientRequestID(id string) string {
	if id == "" || len(id) > maxRequestID {
		return ""
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == ':' || c == '@' || c == '+' || c == '/' || c == '=':
		default:
			return ""
		}
	}
	return id
}

// newRequestID is a request id of hookd's own.
func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}

// requestID gives every request an id, echoed in X-Request-Id and logged: the client's when
// it is a plausible id, else one of hookd's.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := clientRequestID(c.Request().Header.Get(echo.HeaderXRequestID))
		if id == "" {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// loggedPath is a request path as a log line keeps it.
func loggedPath(p string) string { return clip.Bytes(p, maxLoggedPath) }
