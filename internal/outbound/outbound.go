// Package outbound is how hookd calls other servers (sinks, Okta's API): an HTTP client with
// a bounded time that follows no redirect, and errors that never carry the URL, which for a
// Slack webhook or a signed receiver is the secret.
package outbound

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"
)

// ErrRedirect stops a request at a redirect: every URL hookd calls is configured exactly,
// and following one could carry a credential elsewhere.
var ErrRedirect = errors.New("redirect")

// Client returns an HTTP client that gives up after timeout and follows no redirect.
func Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return ErrRedirect },
	}
}

// Describe says why a request failed without its URL.
func Describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, ErrRedirect) {
		return "answered with a redirect, which hookd does not follow"
	}
	return err.Error()
}

// CheckURL checks the form of a URL hookd posts to, or tells Okta to post to, without ever
// putting the URL (often a secret) in the error: https; plain http only to a loopback host
// (a local relay, a test) when httpsOnly, anywhere otherwise.
func CheckURL(raw string, httpsOnly bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("url must be an http(s):// URL")
	}
	if httpsOnly && u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return errors.New("url must be https:// (plain http only to a loopback host)")
	}
	return nil
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
