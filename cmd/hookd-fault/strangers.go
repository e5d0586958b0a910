package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd/internal/oktagen"
)

func init() {
	scenarios = append(scenarios, scenario{name: "strangers", backends: []string{"sqlite", "postgres"}, run: strangers})
}

// strangers sends what an attack on the running binary found: made-up methods and request
// ids that grew memory and the log with no secret, and deliveries whose strings steer a
// terminal, forge Slack formatting, break a strict JSON receiver, or give a key twice. hookd's
// memory, its log and its readers (the webhook receiver, `hookd changes`) must not follow.
func strangers(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	h, recv, stop, err := s.startAlerting(backend)
	if err != nil {
		return r.fail(err)
	}
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second}
	h.post(client, oktagen.Watched(10))
	time.Sleep(500 * time.Millisecond)
	before, _ := h.rss()

	// 120 requests with 800 kB made-up methods to both listeners' /healthz, then 2,000 short
	// distinct ones to routes logged at info; none is authenticated.
	began := time.Now()
	statuses := map[int]int{}
	for i := range 120 {
		addr := h.addr
		if i%2 == 1 {
			addr = h.admin
		}
		statuses[rawStatus(addr, strings.Repeat(string(rune('A'+i%26)), 800<<10)+fmt.Sprint(i), "/healthz", "")]++
	}
	for i := range 2000 {
		addr, path := h.addr, "/okta/events"
		if i%2 == 1 {
			addr, path = h.admin, "/"+strings.Repeat("p", 4<<10)
		}
		statuses[rawStatus(addr, fmt.Sprintf("M%05d", i)+strings.Repeat("m", 1<<10), path, "")]++
	}
	after, _ := h.rss()
	r.figure("120 requests with 800 kB methods and 2,000 made-up methods: statuses %v; RSS %s before, %s after (+%s)", statuses, mb(before), mb(after), mb(max(after-before, 0)))
	r.check(statuses[0] == 0, "made-up methods: %d requests got no answer", statuses[0])
	r.check(after-before < 10<<20, "made-up methods grew RSS by %s", mb(after-before))
	scrape := httpBody(client, "http://"+h.admin+"/metrics", nil)
	series := strings.Count(scrape, "\nhookd_http_requests_total{")
	r.figure("/metrics after them: %d bytes, %d request series", len(scrape), series)
	r.check(series > 0 && series <= 20, "/metrics has %d request series", series)
	r.check(len(scrape) < 1<<20, "/metrics is %d bytes", len(scrape))

	// A request id the size of a header, and one of 4 kB that reaches the handlers: neither
	// is echoed or logged whole.
	long := strings.Repeat("R", 600<<10)
	st := rawStatus(h.addr, http.MethodGet, "/healthz", "X-Request-Id: "+long+"\r\n")
	r.figure("a 600 kB X-Request-Id: %d", st)
	r.check(st == http.StatusRequestHeaderFieldsTooLarge, "a 600 kB X-Request-Id answered %d", st)
	mid := strings.Repeat("R", 4<<10)
	echoed := ""
	for _, u := range []string{"http://" + h.addr + "/okta/events", "http://" + h.admin + "/api/v1/changes"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("X-Request-Id", mid)
		req.Header.Set("X-Okta-Request-Id", mid)
		if resp, err := client.Do(req); err == nil {
			echoed += resp.Header.Get("X-Request-Id")
			resp.Body.Close()
		}
	}
	r.check(!strings.Contains(echoed, "RRRR"), "a 4 kB X-Request-Id was echoed")
	time.Sleep(200 * time.Millisecond)
	logged, longest := h.logs.bytes(began, time.Now()), h.logs.longest(began, time.Now())
	r.figure("log written for all of the above: %d bytes, the longest line %d bytes", logged, longest)
	r.check(longest < 2<<10, "a request a stranger made up wrote a log line of %d bytes", longest)
	r.check(logged < 2200*(2<<10), "made-up methods and request ids wrote %d bytes of log", logged)
	r.check(h.logs.count(began, time.Now(), "RRRRRRRR") == 0, "a client's long request id reached the log")

	// Deliveries whose strings attack their readers, and keys given twice.
	want := 0
	for _, b := range oktagen.StrangerCorpus() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+"/okta/events", bytes.NewReader(b.Body))
		req.Header.Set("Authorization", h.secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			r.check(false, "%s: %v", b.Name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.figure("%-24s -> %d %s", b.Name, resp.StatusCode, clipTo(strings.TrimSpace(string(body)), 120))
		r.check(resp.StatusCode == b.Status, "%s answered %d, want %d", b.Name, resp.StatusCode, b.Status)
		want += b.Watched
	}
	if err := h.waitDelivered(ctx, time.Minute); err != nil {
		r.check(false, "the strangers' alerts: %v", err)
	}
	alerted := len(recv.alerted())
	r.figure("the webhook receiver (strict: valid UTF-8 and JSON) took %d alerts, refused %d bodies", alerted, recv.invalidBodies())
	r.check(recv.invalidBodies() == 0, "the receiver was sent %d bodies that are not valid UTF-8 JSON", recv.invalidBodies())
	r.check(alerted >= want+10, "the receiver took %d alerts, want %d", alerted, want+10)

	// What `hookd changes` prints of them holds no control character.
	cmd := exec.Command(h.bin, "changes", "--limit", "50")
	cmd.Env = append(os.Environ(), "HOOKD_ADMIN_ADDR="+h.admin)
	out, err := cmd.Output()
	r.check(err == nil, "hookd changes: %v", err)
	bad := controlBytes(out)
	r.figure("hookd changes: %d lines, %d control characters", bytes.Count(out, []byte("\n")), bad)
	r.check(bad == 0, "hookd changes printed %d control characters", bad)

	// Twenty at once, of the costliest shapes just under the body limit: the budget of bodies
	// in flight holds memory where README says it does.
	for _, body := range oktagen.HostileCorpus(99 * (1 << 20) / 10) {
		if body.Name != "many-watched-events" && body.Name != "huge-display-name" {
			continue
		}
		statuses := atOnce(h, client, 20, body.Body)
		_, peak := h.rss()
		r.figure("20 %s of %.1f MiB at once: statuses %v, RSS peak so far %s", body.Name, float64(len(body.Body))/(1<<20), statuses, mb(peak))
		r.check(statuses[0] == 0 && statuses[500] == 0, "20 %s at once: statuses %v", body.Name, statuses)
		r.check(peak < 256<<20, "20 %s at once: RSS peak %s, over 256 MB", body.Name, mb(peak))
	}
	return r
}

// rawStatus sends one request as written (method, path and extra header lines, which no
// client library would send) and returns the answer's status, 0 for none.
func rawStatus(addr, method, path, headers string) int {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "%s %s HTTP/1.1\r\nHost: %s\r\n%sConnection: close\r\n\r\n", method, path, addr, headers)
	if w.Flush() != nil {
		// The server may answer and close before the whole request is written.
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// httpBody returns the body of a GET, or "" on failure.
func httpBody(client *http.Client, url string, header http.Header) string {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// controlBytes counts what a terminal would act on: C0 controls but new lines, DEL, C1
// controls, and bytes that are not UTF-8.
func controlBytes(b []byte) int {
	n := 0
	for len(b) > 0 {
		c, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case c == utf8.RuneError && size == 1:
			n++
		case c == '\n':
		case c < 0x20, c == 0x7f, c >= 0x80 && c <= 0x9f:
			n++
		}
	}
	return n
}

func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
