package handlers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"go.uber.org/zap"
)

// storeOutage follows a run of deliveries refused because the store was unavailable.
type storeOutage struct {
	mu      sync.Mutex
	started time.Time
	last    time.Time
	count   int
}

// outageSeen is an outage that has ended.
type outageSeen struct {
	started, ended time.Time
	refused        int
}

func (o *storeOutage) refused(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started.IsZero() {
		o.started = now
	}
	o.last, o.count = now, o.count+1
}

// over ends the outage under way, if any, and returns it when it lasted at least min.
func (o *storeOutage) over(now time.Time, min time.Duration) (outageSeen, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started.IsZero() {
		return outageSeen{}, false
	}
	seen := outageSeen{started: o.started, ended: now, refused: o.count}
	o.started, o.count = time.Time{}, 0
	return seen, now.Sub(seen.started) >= min
}

// tellOutage sends every sink one hookd_health record about an outage of the store that made
// hookd refuse Okta's deliveries: Okta retries a refused delivery only once, so events may be
// missing, which the System Log poller reads back where it is configured.
func (s *Server) tellOutage(o outageSeen) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.AcceptTimeout)
	defer cancel()
	start := o.started.UTC().Truncate(time.Minute)
	msg := fmt.Sprintf("the store was unavailable from %s to %s: hookd answered %d Okta deliveries 503; Okta retries a refused delivery once, so events may be missing (the System Log poller reads them back where it is configured)",
		o.started.UTC().Format(time.RFC3339), o.ended.UTC().Format(time.RFC3339), o.refused)
	rc := hookd.HealthRecord("hookd-store-outage-"+start.Format(time.RFC3339), hookd.HealthStoreOutage, hookd.Recovered,
		o.ended, "hookd's store", "", msg, hookd.SourceHook)
	if _, err := s.opts.Store.AcceptAndReport(ctx, []hookd.RoleChange{rc}, nil); err != nil {
		s.log.Error("could not queue the store-outage alert", zap.Error(err))
		return
	}
	s.log.Warn("store back after refusing Okta's deliveries; every sink is told", zap.Int("refused", o.refused),
		zap.Duration("for", o.ended.Sub(o.started).Round(time.Second)))
}
