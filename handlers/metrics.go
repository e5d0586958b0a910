package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the receiver's own series; the store and the poller register theirs in the
// same registry, which /metrics serves.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	events   *prometheus.CounterVec
	accept   prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry) *metrics {
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
	for _, r := range []string{"accepted", "duplicate", "not_watched", "rejected", "unstored"} {
		m.events.WithLabelValues(r)
	}
	// The Go and process collectors keep their standard names, which dashboards expect.
	reg.MustRegister(m.requests, m.events, m.accept,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// countRequests counts requests by route (the pattern, never the raw path), method (one of
// HTTP's, or "other") and final status, so that no client can create series.
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
		s.metrics.requests.WithLabelValues(route, methodLabel(c.Request().Method), strconv.Itoa(status)).Inc()
		return err
	}
}
