package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestSinkOutageIsAFewLines: a sink failing for 90 s while ten workers retry 300 alerts
// writes its first failure, one summary a minute and its recovery: not a line per retry.
func TestSinkOutageIsAFewLines(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := newOutcomeLog(zap.New(core), time.Minute)
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return clock }
	fail := errors.New("webhook: HTTP 503")
	for i := range 9000 { // 100 failed attempts a second for 90 s
		clock = clock.Add(10 * time.Millisecond)
		l.observe(store.Outcome{Sink: "webhook", EventID: fmt.Sprintf("e%d", i%300), Result: store.ResultRetry, Err: fail, Attempt: 2, MaxAttempts: 56})
		l.observe(store.Outcome{Sink: "slack", EventID: "other", Result: store.ResultDelivered})
	}
	clock = clock.Add(time.Second)
	l.observe(store.Outcome{Sink: "webhook", EventID: "e1", Result: store.ResultDelivered})

	// Lines about the outage: each successful delivery also gets its own info line, as it
	// should, but those are not about the outage.
	notDelivered := func(e observer.LoggedEntry) bool { return e.Message != "alert delivered" }
	lines := logs.FilterLevelExact(zapcore.WarnLevel).All()
	lines = append(lines, logs.FilterLevelExact(zapcore.InfoLevel).Filter(notDelivered).All()...)
	assert.Less(t, len(lines), 20)
	require.Len(t, lines, 3, "first failure, one summary, recovery")
	assert.Equal(t, "sink failing; its alerts wait and are retried (a summary follows while it fails)", lines[0].Message)
	assert.Equal(t, "sink still failing", lines[1].Message)
	assert.EqualValues(t, 300, lines[1].ContextMap()["alerts"])
	assert.Equal(t, "sink recovered; waiting alerts are being delivered", lines[2].Message)
	assert.EqualValues(t, 9000, lines[2].ContextMap()["failed_attempts"])

	// A dead letter is always its own line.
	l.observe(store.Outcome{Sink: "webhook", EventID: "gone", Result: store.ResultPermanent, Err: errors.New("HTTP 404")})
	assert.Equal(t, 1, logs.FilterMessage("alert not delivered and given up: dead letter").Len())
}

// TestStoreRepeatsAreSampled: the queue's same warning, at every poll during a database
// outage, is written once a minute.
func TestStoreRepeatsAreSampled(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	rl := storeLogger(t.Context(), zap.New(core))
	for range 200 {
		rl.Warn("claiming deliveries failed; retried at each poll", "error", "connection refused")
	}
	rl.Warn("something else")
	assert.Equal(t, 1, logs.FilterMessage("claiming deliveries failed; retried at each poll").Len())
	assert.Equal(t, 1, logs.FilterMessage("something else").Len())
}

// TestPacingIsNotTrouble: waiting for hookd's own Slack pace is normal operation: debug,
// its own outcome, and no "sink failing" line.
func TestPacingIsNotTrouble(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	l := newOutcomeLog(zap.New(core), time.Minute)
	for range 200 {
		l.observe(store.Outcome{Sink: "slack", EventID: "e", Result: store.ResultPaced, Err: errors.New("waiting for Slack's one message a second")})
	}
	assert.Zero(t, logs.FilterLevelExact(zapcore.WarnLevel).Len())
	assert.Zero(t, logs.FilterLevelExact(zapcore.InfoLevel).Len())
	assert.Equal(t, 200, logs.FilterLevelExact(zapcore.DebugLevel).Len())
}

// TestDeliveredIsAnInfoLine: each delivered alert leaves one info line, without secrets.
func TestDeliveredIsAnInfoLine(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := newOutcomeLog(zap.New(core), time.Minute)
	l.observe(store.Outcome{Sink: "slack", EventID: "e1", Events: 1, Result: store.ResultDelivered, Attempt: 1, Latency: 40 * time.Millisecond})
	lines := logs.FilterMessage("alert delivered").All()
	require.Len(t, lines, 1)
	assert.Equal(t, "slack", lines[0].ContextMap()["sink"])
	assert.Equal(t, "e1", lines[0].ContextMap()["event_uuid"])
}
