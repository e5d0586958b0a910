// Package backoff is the one retry schedule hookd uses: a delay that doubles from a base up
// to a cap, with jitter so that many retries spread out, and the wait for it that a
// cancelled context cuts short.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Doubling is a schedule: Base before the second attempt, doubling each time, never above Cap.
type Doubling struct {
	Base, Cap time.Duration
}

// Nominal is the delay after attempt failures (1 for the first), before jitter. Doubling
// stops at Cap, so no attempt count can overflow it.
func (d Doubling) Nominal(attempt int) time.Duration {
	delay := d.Base
	for i := 1; i < attempt && delay < d.Cap; i++ {
		delay *= 2
	}
	return min(delay, d.Cap)
}

// Jittered is Nominal spread by ±25%.
func (d Doubling) Jittered(attempt int) time.Duration {
	return time.Duration(float64(d.Nominal(attempt)) * (0.75 + 0.5*rand.Float64()))
}

// Sleep waits d, or until ctx ends (its error then); a d of zero or less returns at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
