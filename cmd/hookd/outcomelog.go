package main

import (
	"sync"
	"time"

	"github.com/hookd/hookd/store"
	"go.uber.org/zap"
)

// outcomeLog logs what delivery attempts came to without flooding: while a sink fails, its
// first failure gets a line, then one summary line per interval, then one line when it
// recovers. A dead letter is always its own error line: it is final and names the alert.
type outcomeLog struct {
	log      *zap.Logger
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	sinks map[string]*sinkTrouble
}

// sinkTrouble is a sink's current run of failures.
type sinkTrouble struct {
	since       time.Time
	lastLine    time.Time
	failures    int // failed attempts since the last line
	total       int // failed attempts since the run began
	alerts      map[string]bool
	lastError   string
	lastOutcome string
}

func newOutcomeLog(log *zap.Logger, interval time.Duration) *outcomeLog {
	return &outcomeLog{log: log, interval: interval, now: time.Now, sinks: map[string]*sinkTrouble{}}
}

// observe logs one attempt's outcome, or counts it toward the sink's next summary.
func (l *outcomeLog) observe(o store.Outcome) {
	base := []zap.Field{zap.String("sink", o.Sink), zap.String("event_uuid", o.EventID), zap.Int("events", o.Events)}
	errText := ""
	if o.Err != nil {
		errText = o.Err.Error()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	switch {
	case o.DeadLetter():
		l.log.Error("alert not delivered and given up: dead letter",
			append(base, zap.String("reason", o.Result), zap.Int("attempt", o.Attempt), zap.Int("max_attempts", o.MaxAttempts), zap.String("error", errText))...)
	case o.Result == store.ResultRetry || o.Result == store.ResultRateLimited:
		t := l.sinks[o.Sink]
		if t == nil {
			t = &sinkTrouble{since: now, lastLine: now, alerts: map[string]bool{}}
			l.sinks[o.Sink] = t
			l.log.Warn("sink failing; its alerts wait and are retried (a summary follows while it fails)",
				append(base, zap.String("reason", o.Result), zap.String("error", errText))...)
		} else {
			t.failures++
			t.alerts[o.EventID] = true
		}
		t.total++
		t.lastError, t.lastOutcome = errText, o.Result
		if t.failures > 0 && now.Sub(t.lastLine) >= l.interval {
			l.log.Warn("sink still failing",
				zap.String("sink", o.Sink), zap.Duration("failing_for", now.Sub(t.since).Round(time.Second)),
				zap.Int("failed_attempts", t.failures), zap.Int("alerts", len(t.alerts)),
				zap.Duration("in_the_last", now.Sub(t.lastLine).Round(time.Second)),
				zap.String("last_reason", t.lastOutcome), zap.String("last_error", t.lastError))
			t.lastLine, t.failures, t.alerts = now, 0, map[string]bool{}
		}
	case o.Result == store.ResultDelivered:
		if t := l.sinks[o.Sink]; t != nil {
			l.log.Info("sink recovered; waiting alerts are being delivered",
				zap.String("sink", o.Sink), zap.Duration("failed_for", now.Sub(t.since).Round(time.Second)),
				zap.Int("failed_attempts", t.total), zap.String("last_error", t.lastError))
			delete(l.sinks, o.Sink)
		}
		l.log.Info("alert delivered", append(base, zap.Int("attempt", o.Attempt), zap.Duration("latency", o.Latency))...)
	case o.Result == store.ResultSummary:
		l.log.Info("summary delivered: alerts of a flood the sink could not take one by one", base...)
	default:
		l.log.Debug("alert "+o.Result, append(base, zap.Int("attempt", o.Attempt))...)
	}
}
