// Command hookd-load drives a running hookd with Okta-shaped deliveries of unique watched
// events and reports acknowledge latency percentiles and throughput. It only ever targets
// the URL it is given (meant for 127.0.0.1) and stops after --duration or --requests. With
// --null-receiver it sends nothing and is instead the least receiver there is, so that the
// same load run against it shows what the method and the machine cost on their own. With
// --webhook-addr it is also the signed webhook receiver hookd alerts, and after the load it
// waits until every acknowledged role change has reached it, to time the drain.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/internal/oktagen"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/okta/events", "hookd's event-hook URL")
	header := flag.String("header", "Authorization", "auth header name")
	secretFile := flag.String("secret-file", "data/okta-secret", "file holding the auth header value")
	concurrency := flag.Int("concurrency", 100, "deliveries in flight at once")
	events := flag.Int("events", 10, "events per delivery")
	watched := flag.Int("watched", -1, "how many of each delivery's events are watched role changes; the rest are sign-ins hookd does not store (default: all)")
	people := flag.Int("people", 0, "draw each event's subject from this many users and its actor from a tenth of them (0: every event by one actor for one user)")
	duration := flag.Duration("duration", 20*time.Second, "how long to run")
	maxRequests := flag.Int("requests", 0, "stop after this many deliveries (0: run for --duration)")
	rate := flag.Float64("rate", 0, "deliveries per second across all workers (0: each worker sends as soon as the last answer came)")
	pid := flag.Int("pid", 0, "hookd's process id, to report its peak resident memory")
	sinkAddr := flag.String("sink-addr", "", "also run a fake Slack webhook on this address (e.g. 127.0.0.1:9099) for hookd's sinks to post to")
	sinkDelay := flag.Duration("sink-delay", 0, "how long the fake Slack takes to answer")
	sinkStatus := flag.Int("sink-status", 200, "the fake Slack's status (429 answers with Retry-After: 1)")
	metricsURL := flag.String("metrics", "", "hookd's /metrics URL on its admin listener (e.g. http://127.0.0.1:9090/metrics), to report delivery latency percentiles after the run")
	settle := flag.Duration("settle", 3*time.Second, "with --metrics, how long to wait after the load for deliveries to finish")
	webhookAddr := flag.String("webhook-addr", "", "also run a Standard Webhooks receiver on this address (e.g. 127.0.0.1:9098) for hookd's webhook sink (HOOKD_WEBHOOK_URL=http://ADDR/), and after the load wait until every acknowledged role change has reached it: the drain")
	webhookSecret := flag.String("webhook-secret", "", "with --webhook-addr, the signing secret hookd has as HOOKD_WEBHOOK_SECRET (whsec_ and base64)")
	webhookSecretFile := flag.String("webhook-secret-file", "", "with --webhook-addr, a file holding the signing secret instead of --webhook-secret")
	drainTimeout := flag.Duration("drain-timeout", 2*time.Minute, "with --webhook-addr, how long after the load to wait for the last role change")
	nullAddr := flag.String("null-receiver", "", "send no load: serve, on this address, a receiver that only checks the auth header and reads each delivery, until SIGINT or SIGTERM; the same load against it measures the floor of the method on this machine")
	flag.Parse()
	watchedN := *watched
	if watchedN < 0 || watchedN > *events {
		watchedN = *events
	}
	if *sinkAddr != "" {
		stop := fakeSlack(*sinkAddr, *sinkDelay, *sinkStatus)
		defer stop()
	}

	secretBytes, err := os.ReadFile(*secretFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hookd-load:", err)
		os.Exit(2)
	}
	secret := strings.TrimSpace(string(secretBytes))
	if *nullAddr != "" {
		if err := serveNull(*nullAddr, *header, secret); err != nil {
			fmt.Fprintln(os.Stderr, "hookd-load:", err)
			os.Exit(1)
		}
		return
	}

	var hooks *webhookReceiver
	if *webhookAddr != "" {
		secret := *webhookSecret
		if *webhookSecretFile != "" {
			b, err := os.ReadFile(*webhookSecretFile)
			if err != nil {
				fmt.Fprintln(os.Stderr, "hookd-load:", err)
				os.Exit(2)
			}
			secret = string(b)
		}
		r, err := newWebhookReceiver(secret)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hookd-load:", err)
			os.Exit(2)
		}
		stop, err := serveWebhook(*webhookAddr, r)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hookd-load:", err)
			os.Exit(2)
		}
		defer stop()
		hooks = r
	}

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency, MaxConnsPerHost: *concurrency},
	}

	var ticks <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer t.Stop()
		ticks = t.C
	}
	var sent atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	// watchedIDs are the role changes of acknowledged deliveries: those hookd must alert.
	var watchedIDs []string
	statuses := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ticks != nil {
					select {
					case <-ticks:
					case <-ctx.Done():
						return
					}
				}
				if ctx.Err() != nil || (*maxRequests > 0 && sent.Add(1) > int64(*maxRequests)) {
					return
				}
				body, ids := oktagen.MixedIDs(*events, watchedN, *people)
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, *target, bytes.NewReader(body))
				req.Header.Set(*header, secret)
				req.Header.Set("Content-Type", "application/json")
				began := time.Now()
				resp, err := client.Do(req)
				took := time.Since(began)
				status := "error"
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = strconv.Itoa(resp.StatusCode)
				}
				mu.Lock()
				statuses[status]++
				if status == "200" {
					latencies = append(latencies, took)
					watchedIDs = append(watchedIDs, ids...)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	loadEnd := time.Now()
	elapsed := loadEnd.Sub(start)

	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	ok := len(latencies)
	fmt.Printf("deliveries: %d in %.1fs, %d events each, concurrency %d, rate %s\n",
		total(statuses), elapsed.Seconds(), *events, *concurrency, rateText(*rate))
	fmt.Printf("statuses:   %v\n", statuses)
	fmt.Printf("throughput: %.0f deliveries/s, %.0f events/s acknowledged\n",
		float64(ok)/elapsed.Seconds(), float64(ok**events)/elapsed.Seconds())
	if ok > 0 {
		fmt.Printf("latency:    p50 %s  p90 %s  p99 %s  max %s\n",
			pct(latencies, 50), pct(latencies, 90), pct(latencies, 99), latencies[ok-1].Round(10*time.Microsecond))
	}
	drained := true
	if hooks != nil {
		ctx, cancel := context.WithTimeout(context.Background(), *drainTimeout)
		last, missing := hooks.waitFor(ctx, watchedIDs, 10*time.Millisecond)
		cancel()
		_, duplicates, bad := hooks.counts()
		fmt.Println(drainLine(len(watchedIDs), missing, start, loadEnd, last, *drainTimeout, duplicates, bad))
		drained = missing == 0
	}
	if *pid > 0 {
		fmt.Printf("hookd peak RSS (VmHWM): %s\n", peakRSS(*pid))
	}
	if *metricsURL != "" {
		time.Sleep(*settle)
		fmt.Print(deliveryLatency(*metricsURL))
	}
	if statuses["200"] != total(statuses) || !drained {
		os.Exit(1)
	}
}

func rateText(r float64) string {
	if r == 0 {
		return "unlimited (closed loop)"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i].Round(10 * time.Microsecond)
}

func peakRSS(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}
