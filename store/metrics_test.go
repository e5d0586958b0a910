package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetrics: the store counts its own delivery work in the registry it is given.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := Options{DataDir: t.TempDir(), Sinks: []string{"ok", "permanent"}, Deliverer: &fakeDeliverer{},
		FetchPollInterval: 20 * time.Millisecond, Registerer: reg}
	s := open(t, o)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	_, err := s.Accept(context.Background(), records("m1"))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count(t, s, "SELECT count(*) FROM hookd_delivery WHERE state IN ('delivered', 'dead')") == 2
	}, 10*time.Second, 20*time.Millisecond)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP hookd_delivery_jobs Deliveries not done, by state: pending (waiting or running), retrying, dead (the dead letter, not yet handled).
# TYPE hookd_delivery_jobs gauge
hookd_delivery_jobs{state="dead"} 1
hookd_delivery_jobs{state="pending"} 0
hookd_delivery_jobs{state="retrying"} 0
# HELP hookd_queue_depth Deliveries not finished yet: waiting, running or retrying.
# TYPE hookd_queue_depth gauge
hookd_queue_depth 0
`), "hookd_delivery_jobs", "hookd_queue_depth"))
	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	assert.Equal(t, 1.0, got["hookd_deliveries_total,outcome=delivered,sink=ok"])
	assert.Equal(t, 1.0, got["hookd_deliveries_total,outcome=permanent,sink=permanent"])
	assert.Equal(t, 1.0, got["hookd_delivery_latency_seconds,sink=ok"])
}
