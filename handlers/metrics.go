package handlers

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hookd/hookd/store"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the series /metrics shows; every name starts with hookd_.
type metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	events     *prometheus.CounterVec
	accept     prometheus.Histogram
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	polls      *prometheus.CounterVec
	polled     prometheus.Counter
	lag        prometheus.Gauge
	rateLeft   prometheus.Gauge
	pollMu     sync.Mutex
	newest     time.Time
}

func newMetrics(reg *prometheus.Registry, st Acceptor) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_events_total", Help: "Okta events received, by result: accepted, duplicate, not_watched, rejected, unstored (accepted and alerted, but refused by the database and kept only in the delivery queue).",
		}, []string{"result"}),
		accept: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookd_accept_duration_seconds",
			Help:    "Time from a delivery's arrival to its durable commit.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_deliveries_total",
		Help: "Delivery attempts by sink and outcome: delivered, retry, rate_limited, permanent, discarded (the last two are the dead letter), grouped, split (refused as too large, sent again in halves), already_delivered (run again after a crash, nothing sent twice).",
	}, []string{"sink", "outcome"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookd_delivery_latency_seconds",
		Help:    "Time from an event's acceptance to the sink's acknowledgement of its alert.",
		Buckets: []float64{.01, .025, .05, .075, .1, .15, .2, .3, .5, .75, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
	}, []string{"sink"})
	for _, r := range []string{"accepted", "duplicate", "not_watched", "rejected", "unstored"} {
		m.events.WithLabelValues(r)
	}
	m.polls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookd_systemlog_polls_total", Help: "System Log poll cycles by result: ok, rate_limited, error, unauthorized, waiting, stopped.",
	}, []string{"result"})
	m.polled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hookd_systemlog_events_total", Help: "Events read from the System Log (accepted or already stored).",
	})
	m.lag = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hookd_systemlog_lag_seconds", Help: "Now minus the newest published time seen from the System Log, at the last poll.",
	})
	m.rateLeft = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hookd_systemlog_rate_limit_remaining", Help: "Okta's X-Rate-Limit-Remaining on the last System Log answer.",
	})
	reg.MustRegister(m.requests, m.events, m.accept, m.deliveries, m.latency, jobsCollector{st},
		m.polls, m.polled, m.lag, m.rateLeft)
	prometheus.WrapRegistererWithPrefix("hookd_", reg).MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// countRequests counts requests by route (the pattern, never the raw path, so that scanners
// cannot create series) and final status.
func (s *Server) countRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		status := c.Response().Status
		if err != nil && !c.Response().Committed {
			status, _ = s.statusOf(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		return err
	}
}

// jobsCollector reports delivery jobs by state, and the queue depth they add up to, from
// one store query at each scrape.
type jobsCollector struct{ store Acceptor }

var (
	jobsDesc  = prometheus.NewDesc("hookd_delivery_jobs", "Delivery jobs by state: pending, retrying, dead (the dead letter).", []string{"state"}, nil)
	queueDesc = prometheus.NewDesc("hookd_queue_depth", "Delivery jobs not finished yet (waiting, scheduled, running or retrying).", nil, nil)
)

func (jobsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- queueDesc
}

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

// ObserveDelivery counts one delivery attempt's outcome (store.Options.OnOutcome).
func (s *Server) ObserveDelivery(o store.Outcome) {
	s.metrics.deliveries.WithLabelValues(o.Sink, o.Result).Inc()
	if o.Result == store.ResultDelivered {
		s.metrics.latency.WithLabelValues(o.Sink).Observe(o.Latency.Seconds())
	}
}

// ObservePoll records one System Log poll cycle: its result, the events it read, the newest
// published time it saw (zero: none) and Okta's remaining rate limit (-1: unknown).
func (s *Server) ObservePoll(result string, events int, newest time.Time, remaining int) {
	m := s.metrics
	m.polls.WithLabelValues(result).Inc()
	m.polled.Add(float64(events))
	if remaining >= 0 {
		m.rateLeft.Set(float64(remaining))
	}
	if result == "waiting" || result == "stopped" {
		return
	}
	m.pollMu.Lock()
	defer m.pollMu.Unlock()
	if newest.After(m.newest) {
		m.newest = newest
	}
	if !m.newest.IsZero() {
		m.lag.Set(time.Since(m.newest).Seconds())
	}
}
