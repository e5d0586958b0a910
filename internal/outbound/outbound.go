// Package outbound is how hookd calls other servers (sinks, Okta's API): an HTTP client with
// a bounded time that follows no redirect, and errors that never carry the URL, which for a
// Slack webhook or a signed receiver is the secret.
package outbound

import (
	"errors"
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
