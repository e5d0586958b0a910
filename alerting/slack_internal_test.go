package alerting

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFit(t *testing.T) {
	assert.Equal(t, "short", fit("short", 10))
	got := fit(escape(strings.Repeat("<", 100)), 20)
	assert.LessOrEqual(t, len([]rune(got)), 20)
	assert.True(t, strings.HasSuffix(got, "&lt;…"), got)
}

// TestEscapeFormsNoMarkup: each Okta string comes out as one line of text that Slack cannot
// read as formatting, a quote, a link or a mention, and a plain one comes out as it went in.
func TestEscapeFormsNoMarkup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Bob Builder", "Bob Builder"},
		{"bob_builder@acme.example", "bob_builder@acme.example"},
		{"Bob\n*Actor*\nTrusted Admin", "Bob ∗Actor∗ Trusted Admin"},
		{"Bob\r\n\tx\u2028y\u0085z\x00", "Bob   x y z "},
		{"*bold* _it_ ~strike~", "∗bold∗ ˍitˍ ∼strike∼"},
		{"`code` ```block```", "ˋcodeˋ ˋˋˋblockˋˋˋ"},
		{"＊wide＊ ＿wide＿ ～wide～ ｀wide｀", "∗wide∗ ˍwideˍ ∼wide∼ ˋwideˋ"},
		{"__init__ a_ _b a__b é_x", "ˍˍinitˍˍ aˍ ˍb aˍˍb éˍx"},
		{"> quote", "\u00ad&gt; quote"},
		{"  >>> quote", "  \u00ad&gt;&gt;&gt; quote"},
		{"＞ quote", "\u00ad＞ quote"},
		{"a > b", "a &gt; b"},
		{"ok\n> quote", "ok &gt; quote"},
		{"<!channel> <http://x|y> <@U123> @here", "&lt;!channel&gt; &lt;http://x|y&gt; &lt;@U123&gt; @here"},
		{"&lt;!here&gt;", "&amp;lt;!here&amp;gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, escape(tt.in))
		})
	}
}

func TestSlackPacing(t *testing.T) {
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer slack.Close()
	sink, err := NewSlackSink("ops", slack.URL, 0, "")
	require.NoError(t, err)
	sink.maxWait = 0 // hand the job back instead of waiting, to see the retry-after
	a := &Alert{Changes: []*hookd.RoleChange{{EventID: "e1", EventType: hook.WorkflowsUserRoleAdd, Action: hookd.Granted,
		Roles: []hookd.Role{{Name: "Folder Editor"}}, Published: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)}}}
	for range 3 {
		require.NoError(t, sink.Deliver(context.Background(), a), "a burst of three goes at once")
	}
	err = sink.Deliver(context.Background(), a)
	failure, after := hookd.FailureOf(err)
	require.Equal(t, hookd.FailPaced, failure, "%v", err)
	assert.InDelta(t, time.Second.Seconds(), after.Seconds(), 0.5, "the next slot, one second on")

	// Every alert handed back is told the next slot, not a slot of its own further on: the
	// queue holds the sink back until then and gives that slot to the most severe alert
	// waiting, so that a critical one handed back last is not sent last.
	for i := range 5 {
		err = sink.Deliver(context.Background(), a)
		failure, after := hookd.FailureOf(err)
		require.Equal(t, hookd.FailPaced, failure, "%v", err)
		assert.InDelta(t, time.Second.Seconds(), after.Seconds(), 0.2, "handed back %d", i+2)
	}
}
