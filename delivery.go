package hookd

import (
	"errors"
	"time"
)

// Failure is what a sink's failure means for the delivery queue: the sink says it once (see
// DeliveryError), and the queue alone decides from it what happens next.
type Failure int

// The failures a sink can report.
const (
	// FailRetry may pass: the queue retries with backoff. Any error that is not a
	// DeliveryError means this.
	FailRetry Failure = iota
	// FailPermanent never will (a deleted channel, a bad URL): the dead letter.
	FailPermanent
	// FailWait: the receiver asked to wait (Retry-After); tried again after it, no attempt
	// spent.
	FailWait
	// FailPaced: hookd's own pace for the sink has no slot sooner; as FailWait.
	FailPaced
	// FailTooLarge: refused for its size (413): a message of several alerts is split and sent
	// again, one alert is the dead letter.
	FailTooLarge
)

// DeliveryError is a sink's failure with what it means for the queue.
type DeliveryError struct {
	Failure Failure
	// After is how long to wait, for FailWait and FailPaced.
	After time.Duration
	Err   error
}

// Error returns the wrapped error's text.
func (e *DeliveryError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// FailureOf is what err means for the queue: a DeliveryError's failure and wait, FailRetry
// for any other error.
func FailureOf(err error) (Failure, time.Duration) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Failure, de.After
	}
	return FailRetry, 0
}
