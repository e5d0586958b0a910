package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// deliveryWorker works delivery jobs: it loads the event and hands it to the Deliverer.
type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	store *Store
}

// Work delivers one job's event to its sink.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	rc, err := w.store.Record(ctx, job.Args.EventID)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(fmt.Errorf("event %s: %w", job.Args.EventID, err))
	}
	if err != nil {
		return err
	}
	return riverOutcome(w.store.opts.Deliverer.Deliver(ctx, job.Args.Sink, rc))
}

// riverOutcome maps a Deliverer's answer onto River: a permanent failure cancels the job, a
// retry-after snoozes it, anything else is retried with River's backoff.
func riverOutcome(err error) error {
	if err == nil {
		return nil
	}
	var permanent interface{ Permanent() bool }
	if errors.As(err, &permanent) && permanent.Permanent() {
		return river.JobCancel(err)
	}
	var later interface{ RetryAfter() time.Duration }
	if errors.As(err, &later) && later.RetryAfter() > 0 {
		return river.JobSnooze(later.RetryAfter())
	}
	return err
}
