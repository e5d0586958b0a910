// Package outbound is how hookd calls other servers (sinks, Okta's API): an HTTP client with
// a bounded time that follows no redirect, and errors that never carry the URL, which for a
// Slack webhook or a signed receiver is the secret.
package outbound

import (
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ErrRedirect stops a request at a redirect: every URL hookd calls is configured exactly,
// and following one could carry a credential elsewhere.
var ErrRedirect = errors.New("redirect")

// Client returns an HTTP client that gives up after timeout and follows no redirect.
func Client(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Every delivery worker may post to the same receiver at once; the default of two idle
	// connections a host made most posts of a busy queue dial (and shake hands) anew.
	t.MaxIdleConnsPerHost = idleConnsPerHost
	return &http.Client{
		Timeout:       timeout,
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return ErrRedirect },
	}
}

// idleConnsPerHost is how many connections to one receiver a client keeps open between posts.
const idleConnsPerHost = 32

// Describe says why a request failed without its URL: net/url's error names the URL, so
// every one in the chain is peeled off. What the cause itself quotes (a malformed answer
// echoing the path) is for the caller to redact with URLParts.
func Describe(err error) string {
	var ue *url.Error
	for errors.As(err, &ue) {
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

// URLParts lists every piece of a URL that may carry its secret, for blanking out of what a
// receiver answers: receivers echo the path they were asked for, the whole URL, or one token
// of it, escaped or not. It names the URL, host with path, path, query, the userinfo and the
// Basic credentials the HTTP client sends for it, and each path segment, query value and
// user name of at least four characters that is not a plain word ("services", "triggers",
// "webhook": public parts of a URL format, which blanking would only garble the text around).
// It lists nothing for what is not an absolute URL.
func URLParts(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil
	}
	parts := []string{raw, u.String(), u.Host + u.EscapedPath(), u.Host + u.Path, u.Host + u.RequestURI(),
		u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery}
	var words []string
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		plain, _ := url.PathUnescape(seg)
		words = append(words, seg, plain)
	}
	for _, pair := range strings.Split(u.RawQuery, "&") {
		_, v, _ := strings.Cut(pair, "=")
		words = append(words, v)
	}
	for _, vs := range u.Query() {
		words = append(words, vs...)
	}
	if u.User != nil {
		name := u.User.Username()
		password, _ := u.User.Password()
		parts = append(parts, password, base64.StdEncoding.EncodeToString([]byte(name+":"+password)))
		if password != "" {
			parts = append(parts, u.User.String(), name+":"+password)
		}
		words = append(words, name)
	}
	for _, w := range words {
		if !plainWord(w) {
			parts = append(parts, w)
		}
	}
	kept := parts[:0]
	for _, p := range parts {
		if len(p) >= 4 {
			kept = append(kept, p)
		}
	}
	return kept
}

// plainWord reports a short lower-case word: what URL formats spell out in the open, unlike
// an identifier or a token, which hold capitals, digits or other signs, or run long.
func plainWord(s string) bool {
	if len(s) > 12 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}

// Redactor returns a function that shows each secret in a text as "[redacted]", longest
// first so that a secret holding another is blanked whole.
func Redactor(secrets []string) func(string) string {
	var pairs []string
	seen := map[string]bool{}
	for _, s := range secrets {
		if s != "" && !seen[s] {
			seen[s] = true
			pairs = append(pairs, s)
		}
	}
	// Longest first: strings.Replacer picks the first match in argument order at a position.
	slices.SortStableFunc(pairs, func(a, b string) int { return len(b) - len(a) })
	var args []string
	for _, p := range pairs {
		args = append(args, p, "[redacted]")
	}
	return strings.NewReplacer(args...).Replace
}
