// Command hookd-load drives a running hookd with Okta-shaped deliveries of unique watched
// events and reports acknowledge latency percentiles and throughput. It only ever targets
// the URL it is given (meant for 127.0.0.1) and stops after --duration or --requests.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/okta/events", "hookd's event-hook URL")
	header := flag.String("header", "Authorization", "auth header name")
	secretFile := flag.String("secret-file", "data/okta-secret", "file holding the auth header value")
	concurrency := flag.Int("concurrency", 100, "deliveries in flight at once")
	events := flag.Int("events", 10, "events per delivery")
	duration := flag.Duration("duration", 20*time.Second, "how long to run")
	maxRequests := flag.Int("requests", 0, "stop after this many deliveries (0: run for --duration)")
	rate := flag.Float64("rate", 0, "deliveries per second across all workers (0: each worker sends as soon as the last answer came)")
	pid := flag.Int("pid", 0, "hookd's process id, to report its peak resident memory")
	sinkAddr := flag.String("sink-addr", "", "also run a fake Slack webhook on this address (e.g. 127.0.0.1:9099) for hookd's sinks to post to")
	sinkDelay := flag.Duration("sink-delay", 0, "how long the fake Slack takes to answer")
	sinkStatus := flag.Int("sink-status", 200, "the fake Slack's status (429 answers with Retry-After: 1)")
	metricsURL := flag.String("metrics", "", "hookd's /metrics URL, to report delivery latency percentiles after the run")
	settle := flag.Duration("settle", 3*time.Second, "with --metrics, how long to wait after the load for deliveries to finish")
	flag.Parse()
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
				body := delivery(*events)
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
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

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
	if *pid > 0 {
		fmt.Printf("hookd peak RSS (VmHWM): %s\n", peakRSS(*pid))
	}
	if *metricsURL != "" {
		time.Sleep(*settle)
		fmt.Print(deliveryLatency(*metricsURL))
	}
	if statuses["200"] != total(statuses) {
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

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// delivery builds an event-hook body of n Workflows role events with fresh uuids, shaped
// like the samples in testdata/payloads (about 1.5 KB an event).
func delivery(n int) []byte {
	events := make([]json.RawMessage, n)
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	for i := range events {
		events[i] = json.RawMessage(fmt.Sprintf(eventTemplate, uuid(), now, uuid()[:20]))
	}
	body, _ := json.Marshal(map[string]any{
		"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
		"contentType": "application/json", "eventId": uuid(), "eventTime": now,
		"source": "https://acme.okta.com/api/v1/eventHooks/who8vt36qfNpCGz9H1e6",
		"data":   map[string]any{"events": events},
	})
	return body
}

const eventTemplate = `{"uuid":%q,"published":%q,"eventType":"workflows.user.role.user.add","version":"0","severity":"INFO",
"legacyEventType":null,"displayMessage":"Add Workflows role to user",
"actor":{"id":"00u1adm1n2xYzAbC3d4","type":"User","alternateId":"alice.admin@acme.example","displayName":"Alice Admin","detailEntry":null},
"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15","os":"Mac OS X","browser":"SAFARI"},
"zone":"null","device":"Computer","id":null,"ipAddress":"198.51.100.23","geographicalContext":{"city":"Denver","state":"Colorado","country":"United States","postalCode":"80202","geolocation":{"lat":39.7392,"lon":-104.9847}}},
"device":null,"authenticationContext":{"authenticationProvider":null,"credentialProvider":null,"credentialType":null,"issuer":null,"interface":null,"authenticationStep":0,"externalSessionId":"102abc"},
"outcome":{"result":"SUCCESS","reason":null},
"target":[{"id":"00u2b0bUs3r4xYz5a6b","type":"User","alternateId":"bob.builder@acme.example","displayName":"Bob Builder","detailEntry":null},
{"id":"wfr1","type":"WorkflowsRole","alternateId":"Folder Editor","displayName":"Folder Editor","detailEntry":null}],
"transaction":{"type":"WEB","id":%q,"detail":{}},
"debugContext":{"debugData":{"requestId":"reqload","requestUri":"/api/v1/internal","url":"/api/v1/internal?"}},
"securityContext":{"asNumber":64496,"asOrg":"example transit","isp":"example isp inc.","domain":"example.net","isProxy":false},
"request":{"ipChain":[{"ip":"198.51.100.23","geographicalContext":{"city":"Denver","state":"Colorado","country":"United States","postalCode":"80202","geolocation":{"lat":39.7392,"lon":-104.9847}},"version":"V4","source":null}]}}`
