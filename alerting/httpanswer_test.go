package alerting

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func answer(status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}
}

func TestCheckAnswer(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	type want struct {
		ok        bool
		permanent bool
		tooLarge  bool
		after     time.Duration
	}
	tests := []struct {
		name string
		resp *http.Response
		err  error
		want want
	}{
		{"200 ok", answer(200, nil, "ok"), nil, want{ok: true}},
		{"204", answer(204, nil, ""), nil, want{ok: true}},
		{"429 seconds", answer(429, http.Header{"Retry-After": {"7"}}, `{"ok":false}`), nil, want{after: 7 * time.Second}},
		{"429 HTTP date", answer(429, http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, ""), nil, want{after: 90 * time.Second}},
		{"429 without Retry-After", answer(429, nil, ""), nil, want{after: 30 * time.Second}},
		{"429 asking for a day is capped", answer(429, http.Header{"Retry-After": {"86400"}}, ""), nil, want{after: MaxRetryAfter}},
		{"429 with garbage", answer(429, http.Header{"Retry-After": {"soon"}}, ""), nil, want{after: 30 * time.Second}},
		{"408 retried", answer(408, nil, ""), nil, want{}},
		{"500 retried", answer(500, nil, "boom"), nil, want{}},
		{"503 with Retry-After", answer(503, http.Header{"Retry-After": {"120"}}, ""), nil, want{after: 2 * time.Minute}},
		{"400 invalid_payload", answer(400, nil, "invalid_payload"), nil, want{permanent: true}},
		{"403 invalid_token", answer(403, nil, "invalid_token"), nil, want{permanent: true}},
		{"404 channel_not_found", answer(404, nil, "channel_not_found"), nil, want{permanent: true}},
		{"410 channel_is_archived", answer(410, nil, "channel_is_archived"), nil, want{permanent: true}},
		{"413 asks for smaller messages", answer(413, nil, "too large"), nil, want{permanent: true, tooLarge: true}},
		{"302 not followed", answer(302, nil, ""), nil, want{permanent: true}},
		{"connection refused", nil, &url.Error{Op: "Post", URL: "https://hooks.slack.com/services/T/B/SECRET", Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkAnswer("slack ops", outbound.Redactor(outbound.URLParts("https://hooks.slack.com/services/T/B/SECRET")), tt.resp, tt.err, now)
			if tt.want.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "slack ops: "), err.Error())
			assert.NotContains(t, err.Error(), "SECRET")
			failure, after := hookd.FailureOf(err)
			assert.Equal(t, tt.want.permanent, failure == hookd.FailPermanent || failure == hookd.FailTooLarge, "permanent")
			assert.Equal(t, tt.want.tooLarge, failure == hookd.FailTooLarge, "too large")
			if tt.want.after > 0 {
				require.Equal(t, hookd.FailWait, failure, "retry after")
				assert.Equal(t, tt.want.after, after)
			} else {
				assert.NotEqual(t, hookd.FailWait, failure)
			}
		})
	}
}

func TestReadSnippetIsShortAndPrintable(t *testing.T) {
	s := readSnippet(strings.NewReader("bad\x1b[31m\nthing"+strings.Repeat("x", 1000)), func(s string) string { return s })
	assert.NotContains(t, s, "\x1b")
	assert.NotContains(t, s, "\n")
	assert.LessOrEqual(t, len([]rune(s)), 200)
}

// TestSnippetShowsNoPartOfASecret: an answer echoing the URL again and again, cut where the
// snippet stops reading, shows neither the URL nor the start of its token: once the echoes
// before are blanked, the cut one would be in sight.
func TestSnippetShowsNoPartOfASecret(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T0SECRET1/B0SECRET2/slacksecrettoken123"
	redact := outbound.Redactor(outbound.URLParts(hook))
	for _, cut := range []int{6, 10, 18} { // how far into the token the answer is cut
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			echo := "no such hook " + hook + " "
			at := strings.Index(echo, "slacksecrettoken123") + cut
			n := (snippetBytes - at) / len(echo)
			body := strings.Repeat(echo, n) + strings.Repeat("-", snippetBytes-at-n*len(echo)) + echo
			require.Equal(t, "slacksecrettoken123"[:cut], body[snippetBytes-cut:snippetBytes], "the snippet is cut inside the token")
			err := checkAnswer("slack ops", redact, answer(404, nil, body), nil, time.Now())
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "slacksecrettoken123"[:cut])
			assert.NotContains(t, err.Error(), "SECRET")
			assert.Contains(t, err.Error(), "no such hook [redacted]")
		})
	}
}

// FuzzRetryAfter feeds arbitrary Retry-After headers: the wait is always between one second
// and MaxRetryAfter, whatever a receiver says.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "0", "-3", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := retryAfter(v, now, 30*time.Second)
		if d < time.Second || d > MaxRetryAfter {
			t.Fatalf("Retry-After %q gave %v", v, d)
		}
	})
}
