package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// fakeSlack answers like a Slack incoming webhook, after delay, with status.
func fakeSlack(addr string, delay time.Duration, status int) func() {
	var n atomic.Int64
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		time.Sleep(delay)
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = srv.ListenAndServe() }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		fmt.Printf("fake Slack answered %d requests\n", n.Load())
	}
}

// deliveryLatency reads hookd_delivery_latency_seconds from /metrics and estimates its
// percentiles per sink by linear interpolation within buckets.
func deliveryLatency(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return "metrics: " + err.Error() + "\n"
	}
	defer resp.Body.Close()
	type bucket struct {
		le    float64
		count float64
	}
	buckets := map[string][]bucket{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "hookd_delivery_latency_seconds_bucket{") {
			continue
		}
		labels, value, _ := strings.Cut(strings.TrimPrefix(line, "hookd_delivery_latency_seconds_bucket{"), "} ")
		var le float64
		var sink string
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "le":
				le, _ = strconv.ParseFloat(v, 64)
				if v == "+Inf" {
					le = math.Inf(1)
				}
			case "sink":
				sink = v
			}
		}
		c, _ := strconv.ParseFloat(value, 64)
		buckets[sink] = append(buckets[sink], bucket{le, c})
	}
	var b strings.Builder
	for sink, bs := range buckets {
		sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
		total := bs[len(bs)-1].count
		q := func(p float64) string {
			rank := p * total
			prevLe, prevCount := 0.0, 0.0
			for _, x := range bs {
				if x.count >= rank {
					if math.IsInf(x.le, 1) {
						return fmt.Sprintf("> %.3fs", prevLe)
					}
					frac := 0.0
					if x.count > prevCount {
						frac = (rank - prevCount) / (x.count - prevCount)
					}
					return fmt.Sprintf("%.0f ms", 1000*(prevLe+frac*(x.le-prevLe)))
				}
				prevLe, prevCount = x.le, x.count
			}
			return "?"
		}
		fmt.Fprintf(&b, "delivery latency %s (acceptance to sink ack, from hookd's histogram, %d alerts): p50 %s  p99 %s\n", sink, int(total), q(0.5), q(0.99))
	}
	return b.String()
}
