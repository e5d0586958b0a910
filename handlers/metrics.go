package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the series /metrics shows; every name starts with hookd_.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	events   *prometheus.CounterVec
	accept   prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry, st Acceptor) *metrics {
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_events_total", Help: "Okta events received, by result: accepted, duplicate, not_watched, rejected.",
		}, []string{"result"}),
		accept: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookd_accept_duration_seconds",
			Help:    "Time from a delivery's arrival to its durable commit.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	for _, r := range []string{"accepted", "duplicate", "not_watched", "rejected"} {
		m.events.WithLabelValues(r)
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hookd_queue_depth", Help: "Delivery jobs not finished yet (waiting, scheduled, retrying or running).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := st.QueueDepth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	reg.MustRegister(m.requests, m.events, m.accept, queue)
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
