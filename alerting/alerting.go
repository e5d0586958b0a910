// Package alerting delivers RoleChanges to the places a security team watches: the console,
// Slack and signed webhooks. Each sink says whether a failure is worth retrying; the
// delivery queue decides when.
package alerting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd"
	"github.com/prometheus/client_golang/prometheus"
)

// Sink delivers one alert to one destination.
type Sink interface {
	// Deliver sends the alert. A nil error is success; a failure says what it means for the
	// queue as a hookd.DeliveryError (Permanent, RetryLater), any other error is retried with
	// backoff.
	Deliver(ctx context.Context, a *Alert) error
}

// Alert is what one message says: one role change, or several that one admin made in one
// action (Okta writes an event per role), with the severity routing gave it.
type Alert struct {
	Changes  []*hookd.RoleChange
	Severity Severity
	// Links are where a responder goes from the alert (see Links.For).
	Links []Link
}

// ID is the alert's stable identity: the uuid of the event whose delivery job sends it.
func (a *Alert) ID() string { return a.Changes[0].EventID }

// First is the change that names the alert's kind, actor and source.
func (a *Alert) First() *hookd.RoleChange { return a.Changes[0] }

// Permanent wraps err as a failure retrying cannot fix (a deleted channel, a bad URL).
func Permanent(err error) error { return &hookd.DeliveryError{Failure: hookd.FailPermanent, Err: err} }

// RetryLater wraps err as a failure to retry after d (a receiver's Retry-After).
func RetryLater(d time.Duration, err error) error {
	return &hookd.DeliveryError{Failure: hookd.FailWait, After: d, Err: err}
}

// tooLarge wraps err as a message the receiver refused for its size (HTTP 413).
func tooLarge(err error) error { return &hookd.DeliveryError{Failure: hookd.FailTooLarge, Err: err} }

// paced hands a delivery back to wait d for its turn at the sink's own pace (hookd's, not
// the receiver's): normal operation.
func paced(d time.Duration, err error) error {
	return &hookd.DeliveryError{Failure: hookd.FailPaced, After: d, Err: err}
}

// ErrUnknownSink is returned for a delivery to a sink name the Router does not have, as
// happens when a sink is removed from the configuration while jobs for it are queued.
var ErrUnknownSink = errors.New("sink not configured")

// Router hands each delivery to the sink it names, and decides which sinks an event goes to.
type Router struct {
	sinks  map[string]Sink
	names  []string
	routes *Routes
	// dropped counts events a rule dropped, by rule; onDrop is told of each.
	dropped *prometheus.CounterVec
	onDrop  func(rc *hookd.RoleChange, rule string)
	links   Links
	// warnings are what Build found legal but unwise.
	warnings []string
}

// NewRouter returns a Router over the named sinks, routing by routes (nil: every event to
// every sink, severities by DefaultSeverity).
func NewRouter(routes *Routes) *Router {
	if routes == nil {
		routes = &Routes{}
	}
	return &Router{sinks: map[string]Sink{}, routes: routes}
}

// Add names a sink. Names must be unique.
func (r *Router) Add(name string, s Sink) error {
	if name == "" {
		return errors.New("sink name is empty")
	}
	if _, dup := r.sinks[name]; dup {
		return errors.New("the name is used twice (HOOKD_SLACK_WEBHOOK_URL is named slack, HOOKD_WEBHOOK_URL webhook)")
	}
	r.sinks[name] = s
	r.names = append(r.names, name)
	return nil
}

// Names lists the sinks in the order they were added.
func (r *Router) Names() []string { return append([]string(nil), r.names...) }

// Route returns the sinks an accepted event is delivered to.
func (r *Router) Route(rc *hookd.RoleChange) []string {
	sinks, rule := r.routes.decide(rc, r.names)
	if rule != "" {
		if r.dropped != nil {
			r.dropped.WithLabelValues(rule).Inc()
		}
		if r.onDrop != nil {
			r.onDrop(rc, rule)
		}
	}
	return sinks
}

// Deliver sends the changes, one alert, to the named sink.
func (r *Router) Deliver(ctx context.Context, sink string, changes []*hookd.RoleChange) error {
	s, ok := r.sinks[sink]
	if !ok {
		return Permanent(fmt.Errorf("%w: %q", ErrUnknownSink, sink))
	}
	if len(changes) == 0 {
		return nil
	}
	a := &Alert{Changes: changes, Severity: r.routes.SeverityOf(changes...)}
	a.Links = r.links.For(a)
	return s.Deliver(ctx, a)
}

// Escalation is where rc's alert goes on if nobody decides on its change in time (see
// Routes.EscalationOf); nil for none.
func (r *Router) Escalation(rc *hookd.RoleChange) *Escalation { return r.routes.EscalationOf(rc) }

// Severity is how urgent the changes are, with the configured overrides.
func (r *Router) Severity(changes ...*hookd.RoleChange) Severity {
	return r.routes.SeverityOf(changes...)
}
