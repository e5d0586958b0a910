package alerting

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/outbound"
)

// MaxRetryAfter caps how long a Retry-After can hold a delivery back; a longer value is
// treated as this long, so a confused receiver cannot park alerts for days.
const MaxRetryAfter = 15 * time.Minute

// defaultRetryAfter is used for a 429 that does not say how long to wait.
const defaultRetryAfter = 30 * time.Second

// checkAnswer is the one classifier of HTTP answers every HTTP sink uses: 2xx is success;
// 429 is retried after Retry-After; 408, 5xx and transport failures are retried with
// backoff; 413 asks for smaller messages (hookd.FailTooLarge); any other status is permanent. name
// goes into errors; the URL never does, nor any secret redact blanks out of what the receiver
// said: receivers echo the path or the URL they were asked for, or the body.
func checkAnswer(name string, redact func(string) string, resp *http.Response, err error, now time.Time) error {
	if err != nil {
		return fmt.Errorf("%s: %s", name, redact(outbound.Describe(err)))
	}
	defer resp.Body.Close()
	body := readSnippet(resp.Body, redact)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	failure := fmt.Errorf("%s: HTTP %d %s", name, resp.StatusCode, body)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return RetryLater(retryAfter(resp.Header.Get("Retry-After"), now, defaultRetryAfter), failure)
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		if d := retryAfter(resp.Header.Get("Retry-After"), now, 0); d > 0 {
			return RetryLater(d, failure)
		}
		return failure
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return tooLarge(failure)
	default:
		return Permanent(failure)
	}
}

// sinkTimeout bounds one request to a sink. Generous: a SIEM's webhook receiver may take
// seconds, and a request cut off by hookd is an alert that may have arrived yet is sent
// again. The delivery job's own timeout (2 minutes) is above it.
const sinkTimeout = 30 * time.Second

// retryAfter reads a Retry-After header, in seconds or as an HTTP date, capped at
// MaxRetryAfter; def when it is absent or unreadable.
func retryAfter(v string, now time.Time, def time.Duration) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return def
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return def
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	} else {
		return def
	}
	if d < time.Second {
		d = time.Second
	}
	return min(d, MaxRetryAfter)
}

// snippetBytes is how much of an error answer is read for its snippet.
const snippetBytes = 512

// readSnippet reads at most 200 printable characters of an error answer, for the log, with
// redact's secrets blanked. An answer longer than it reads may end inside a secret, which no
// redaction recognises in part: the last word read is dropped then.
func readSnippet(r io.Reader, redact func(string) string) string {
	b, _ := io.ReadAll(io.LimitReader(r, snippetBytes+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) // let the connection be reused
	if len(b) > snippetBytes {
		b = b[:bytes.LastIndexAny(b[:snippetBytes], " \t\r\n\"'<>")+1]
	}
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, redact(string(b)))
	return clip.Runes(strings.TrimSpace(s), 200)
}
