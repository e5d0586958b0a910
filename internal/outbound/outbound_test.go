package outbound

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoRedirectAndNoURLInErrors(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()

	_, err := Client(time.Second).Get(redirect.URL + "/services/T000/B000/SECRET")
	require.Error(t, err)
	assert.Equal(t, "answered with a redirect, which hookd does not follow", Describe(err))

	_, err = Client(time.Second).Get("http://127.0.0.1:1/services/T000/B000/SECRET")
	require.Error(t, err)
	assert.NotContains(t, Describe(err), "SECRET")
	assert.Contains(t, Describe(err), "connection refused")
}

// TestDescribeNeverShowsTheURL: however deep net/url's error sits (it puts the URL in its
// text), the description is of the failure only.
func TestDescribeNeverShowsTheURL(t *testing.T) {
	const secretURL = "https://hooks.slack.com/services/T000/B000/SECRET"
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	tests := []struct {
		name string
		err  error
	}{
		{"url.Error", &url.Error{Op: "Post", URL: secretURL, Err: refused}},
		{"wrapped", fmt.Errorf("deliver: %w", &url.Error{Op: "Post", URL: secretURL, Err: refused})},
		{"nested", &url.Error{Op: "Post", URL: secretURL, Err: &url.Error{Op: "Get", URL: secretURL, Err: refused}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(tt.err)
			assert.NotContains(t, got, "SECRET")
			assert.NotContains(t, got, "hooks.slack.com")
			assert.Contains(t, got, "connection refused")
		})
	}
}

// TestURLParts: every piece of a URL that may be its secret is listed, escaped and not; the
// public words of URL formats and the host alone are not, so that text around them keeps
// its sense.
func TestURLParts(t *testing.T) {
	tests := []struct {
		url         string
		listed, not []string
	}{
		{"https://hooks.slack.com/services/T0SECRET1/B0SECRET2/slacksecrettoken123",
			[]string{"https://hooks.slack.com/services/T0SECRET1/B0SECRET2/slacksecrettoken123", "hooks.slack.com/services/T0SECRET1/B0SECRET2/slacksecrettoken123",
				"/services/T0SECRET1/B0SECRET2/slacksecrettoken123", "T0SECRET1", "B0SECRET2", "slacksecrettoken123"},
			[]string{"services", "hooks.slack.com", "https", "/"}},
		{"https://prod-00.westus.logic.azure.com:443/workflows/0123abcd4567ef89/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TeamsSig_abcdEFGH123",
			[]string{"0123abcd4567ef89", "TeamsSig_abcdEFGH123", "api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=TeamsSig_abcdEFGH123",
				"/triggers/manual/run", "%2Ftriggers%2Fmanual%2Frun"},
			[]string{"workflows", "triggers", "manual", "paths", "invoke", "api-version", "1.0"}},
		{"https://hookuser:hook%20pass@siem.example/ingest/path%2Fsecret%20X?token=querytoken42",
			[]string{"hook pass", "hookuser:hook pass", "hookuser:hook%20pass", base64.StdEncoding.EncodeToString([]byte("hookuser:hook pass")),
				"path%2Fsecret%20X", "path/secret X", "querytoken42", "token=querytoken42"},
			[]string{"hookuser", "ingest", "token"}},
		{"not a url", nil, []string{"not a url"}},
		{"/relative/Path123", nil, []string{"Path123"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got := URLParts(tt.url)
			for _, p := range tt.listed {
				assert.Contains(t, got, p)
			}
			for _, p := range tt.not {
				assert.NotContains(t, got, p)
			}
		})
	}
}

func TestRedactorBlanksLongestFirst(t *testing.T) {
	r := Redactor([]string{"T0SECRET1", "", "/services/T0SECRET1/B0SECRET2/token123", "T0SECRET1"})
	assert.Equal(t, "POST [redacted]: team [redacted] unknown", r("POST /services/T0SECRET1/B0SECRET2/token123: team T0SECRET1 unknown"))
	assert.Equal(t, "nothing to hide", Redactor(nil)("nothing to hide"))
}
