package systemlog

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics count the poller's work. The lag is absent until a poll has seen an event: a 0
// there would claim a freshness nobody measured.
type metrics struct {
	polls    *prometheus.CounterVec
	polled   prometheus.Counter
	rateLeft prometheus.Gauge
	missed   *prometheus.CounterVec

	mu     sync.Mutex
	newest time.Time
	now    func() time.Time
}

var lagDesc = prometheus.NewDesc("hookd_systemlog_lag_seconds", "Now minus the newest published time seen from the System Log (absent until one was seen).", nil, nil)

func newMetrics(reg prometheus.Registerer, now func() time.Time) (*metrics, error) {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_systemlog_polls_total", Help: "System Log poll cycles by result: ok, rate_limited, error, unauthorized, waiting, stopped.",
		}, []string{"result"}),
		polled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_systemlog_events_total", Help: "Events read from the System Log (accepted or already stored).",
		}),
		rateLeft: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookd_systemlog_rate_limit_remaining", Help: "Okta's X-Rate-Limit-Remaining on the last System Log answer.",
		}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_hook_missed_total",
			Help: "Hook-eligible events the System Log poller stored first, by type: Okta did not deliver them by hook (or not yet).",
		}, []string{"event_type"}),
		now: now,
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.polls, m.polled, m.rateLeft, m.missed, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe records one poll cycle.
func (m *metrics) observe(r Report) {
	m.polls.WithLabelValues(r.Result).Inc()
	m.polled.Add(float64(r.Events))
	if r.RateLimitRemaining >= 0 {
		m.rateLeft.Set(float64(r.RateLimitRemaining))
	}
	for t, n := range r.MissedByHook {
		m.missed.WithLabelValues(t).Add(float64(n))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.Newest.After(m.newest) {
		m.newest = r.Newest
	}
}

// Describe sends the lag's description.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

// Collect sends the lag, once an event has been seen.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	newest := m.newest
	m.mu.Unlock()
	if !newest.IsZero() {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, m.now().Sub(newest).Seconds())
	}
}
