package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestOutcomeLogShowsNoSinkURL: a receiver that echoes the path it was asked for does not
// put a Slack webhook's secret path on stderr through the delivery outcome lines.
func TestOutcomeLogShowsNoSinkURL(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Cannot POST "+r.URL.RequestURI(), http.StatusNotFound)
	}))
	defer echo.Close()
	sink, err := alerting.NewSlackSink("chat", echo.URL+"/services/T0SECRET1/B0SECRET2/slacksecrettoken123", 1000, "")
	require.NoError(t, err)
	a := &alerting.Alert{Changes: []*hookd.RoleChange{{EventID: "e1", EventType: hook.WorkflowsUserRoleAdd, Action: hookd.Granted,
		Roles: []hookd.Role{{Name: "Folder Editor"}}, Published: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)}}}
	failure := sink.Deliver(context.Background(), a)
	require.Error(t, failure)

	core, logs := observer.New(zapcore.DebugLevel)
	l := newOutcomeLog(zap.New(core), time.Minute)
	for _, result := range []string{store.ResultRetry, store.ResultPermanent} {
		l.observe(store.Outcome{Sink: "chat", EventID: "e1", Result: result, Err: failure, Attempt: 1, MaxAttempts: 56})
	}
	require.Equal(t, 2, logs.Len())
	for _, e := range logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		for _, secret := range []string{"T0SECRET1", "B0SECRET2", "slacksecrettoken123"} {
			assert.NotContains(t, line, secret)
		}
	}
}
