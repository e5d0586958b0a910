package store

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics count the store's delivery work: attempts by outcome, latency, and the queue by
// state at each scrape.
type metrics struct {
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
}

func (s *Store) registerMetrics(reg prometheus.Registerer) error {
	s.metrics = &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_deliveries_total",
			Help: "Delivery attempts by sink and outcome: delivered, retry, rate_limited, permanent, discarded (the last two are the dead letter), split (refused as too large, sent again in halves), summary (one message for alerts of a flood a paced sink could not take one by one), paced (waiting its turn at hookd's own pace for the sink), decided (an escalation not sent: its change was decided on in time).",
		}, []string{"sink", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookd_delivery_latency_seconds",
			Help:    "Time from an event's acceptance to the sink's acknowledgement of its alert.",
			Buckets: []float64{.01, .025, .05, .075, .1, .15, .2, .3, .5, .75, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
		}, []string{"sink"}),
	}
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{s.metrics.deliveries, s.metrics.latency, jobsCollector{s}} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) observe(o Outcome) {
	m.deliveries.WithLabelValues(o.Sink, o.Result).Inc()
	if o.Result == ResultDelivered {
		m.latency.WithLabelValues(o.Sink).Observe(o.Latency.Seconds())
	}
}

// jobsCollector reports deliveries by state, and the queue depth they add up to, from
// one query at each scrape.
type jobsCollector struct{ store *Store }

var (
	jobsDesc  = prometheus.NewDesc("hookd_delivery_jobs", "Deliveries not done, by state: pending (waiting or running), retrying, dead (the dead letter, not yet handled).", []string{"state"}, nil)
	queueDesc = prometheus.NewDesc("hookd_queue_depth", "Deliveries not finished yet: waiting, running or retrying.", nil, nil)
)

// Describe sends the two descriptions.
func (jobsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- queueDesc
}

// Collect counts the deliveries now.
func (c jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	counts, err := c.store.JobCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		ch <- prometheus.NewInvalidMetric(queueDesc, err)
		return
	}
	for _, state := range []string{"pending", "retrying", "dead"} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(counts[state]), state)
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(counts["pending"]+counts["retrying"]))
}
