package alerting

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

func TestSlackPacing(t *testing.T) {
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer slack.Close()
	sink, err := NewSlackSink("ops", slack.URL, 0)
	require.NoError(t, err)
	sink.maxWait = 0 // hand the job back instead of waiting, to see the retry-after
	a := &Alert{Changes: []*hook.RoleChange{{EventID: "e1", EventType: hook.WorkflowsUserRoleAdd, Action: hook.Granted,
		Roles: []hook.Role{{Name: "Folder Editor"}}, Published: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)}}}
	for range 3 {
		require.NoError(t, sink.Deliver(context.Background(), a), "a burst of three goes at once")
	}
	err = sink.Deliver(context.Background(), a)
	var later interface{ RetryAfter() time.Duration }
	require.True(t, errors.As(err, &later), "%v", err)
	assert.InDelta(t, time.Second.Seconds(), later.RetryAfter().Seconds(), 0.5, "the next slot, one second on")

	// A backlog handed back comes back one slot apart, not all at the next slot: each
	// waiting alert is fetched again once, when its turn is near.
	prev := later.RetryAfter()
	for i := range 5 {
		err = sink.Deliver(context.Background(), a)
		require.True(t, errors.As(err, &later), "%v", err)
		assert.InDelta(t, (prev + time.Second).Seconds(), later.RetryAfter().Seconds(), 0.2, "handed back %d", i+2)
		prev = later.RetryAfter()
	}
}

func TestSlotsStartAgainOnceTheBacklogIsPast(t *testing.T) {
	s := &slots{interval: time.Second}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	assert.Equal(t, 500*time.Millisecond, s.after(t0, 500*time.Millisecond), "the limiter's next slot")
	assert.Equal(t, 1500*time.Millisecond, s.after(t0, 500*time.Millisecond), "one interval after the last")
	assert.Equal(t, 2500*time.Millisecond, s.after(t0, 200*time.Millisecond), "after the last even when the limiter is sooner")
	later := t0.Add(time.Minute)
	assert.Equal(t, 300*time.Millisecond, s.after(later, 300*time.Millisecond), "the backlog handed out is past: the limiter's slot again")
	assert.Equal(t, 4*time.Second, s.after(later, 4*time.Second), "a limiter slot beyond the last one is taken as it is")
}
