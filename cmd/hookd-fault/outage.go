package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{name: "sink-outage", backends: []string{"sqlite"}, run: sinkOutage},
		scenario{name: "db-outage", backends: []string{"postgres"}, run: databaseOutage},
		scenario{name: "poison", backends: []string{"sqlite", "postgres"}, run: poison},
	)
}

// sinkOutage has the webhook sink answer 503 for a while under a steady load: nothing is
// lost, everything drains after the sink recovers, and the outage is a few log lines.
func sinkOutage(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	h, recv, stop, err := s.startAlerting(backend, "HOOKD_GROUP_WINDOW=0s")
	if err != nil {
		return r.fail(err)
	}
	defer stop()
	outage := pick(s, 10*time.Second, 60*time.Second)
	l := newLoad(h)
	wait := l.background(ctx, outage+4*time.Second, sender{name: "load", clients: 2, events: 5, every: 200 * time.Millisecond})
	time.Sleep(2 * time.Second)
	began := time.Now()
	recv.set(http.StatusServiceUnavailable, 0)
	time.Sleep(outage)
	recv.set(http.StatusOK, 0)
	recovered := time.Now()
	wait()
	acked := l.ackedIDs()
	drained := drain(acked, recv, 5*time.Minute)
	drainedIn := time.Since(recovered)
	t := tallyOf(acked, recv)
	lines := h.logs.count(began, time.Now(), `"sink":"webhook"`) - h.logs.count(began, time.Now(), `"sink":"webhook"`, `"msg":"alert delivered"`)
	r.figure("sink answering 503 for %s under %v", outage, l.statusesOf("load"))
	r.figure("acknowledged %d, alerted %d, lost %d, duplicated %d; drained %s after the sink recovered", t.acked, t.alerted, t.lost, t.duplicated, drainedIn.Round(time.Second))
	r.figure("log lines about the sink's trouble from the outage to the drain: %d (besides one info line per delivered alert)", lines)
	r.check(drained && t.lost == 0, "%d acknowledged events never alerted", t.lost)
	r.check(lines < 20, "%d log lines about the outage", lines)
	return r
}

// databaseOutage cuts hookd off from Postgres through a TCP proxy the suite controls: no
// delivery is acknowledged that was not stored, every acknowledged one is alerted, and hookd
// takes deliveries again as soon as the database is back.
func databaseOutage(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	recv := newReceiver()
	defer recv.close()
	dataDir, storeEnv, err := s.storeEnv(backend)
	if err != nil {
		return r.fail(err)
	}
	u, err := url.Parse(strings.TrimPrefix(storeEnv[0], "HOOKD_DATABASE_URL="))
	if err != nil {
		return r.fail(err)
	}
	p, err := newProxy(u.Host)
	if err != nil {
		return r.fail(err)
	}
	defer p.close()
	u.Host = p.addr
	h := newHookd(s.bin, dataDir, append(recv.env(), "HOOKD_GROUP_WINDOW=0s", "HOOKD_DATABASE_URL="+u.String())...)
	if err := h.start(); err != nil {
		return r.fail(err)
	}
	defer h.stop()
	outage := pick(s, 5*time.Second, 15*time.Second)
	l := newLoad(h)
	wait := l.background(ctx, outage+6*time.Second, sender{name: "load", clients: 5, events: 5, every: 50 * time.Millisecond})
	time.Sleep(2 * time.Second)
	began := time.Now()
	p.cut()
	time.Sleep(outage)
	p.restore()
	restored := time.Now()
	// The first acknowledgement after the database is back.
	waitCtx, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	var back time.Duration
	waitFor(waitCtx, func() bool {
		for _, at := range l.ackedIDs() {
			if at.After(restored) {
				back = at.Sub(restored)
				return true
			}
		}
		return false
	})
	wait()
	acked := l.ackedIDs()
	drained := drain(acked, recv, 2*time.Minute)
	t := tallyOf(acked, recv)
	during := 0
	for _, at := range acked {
		if at.After(began.Add(time.Second)) && at.Before(restored) {
			during++
		}
	}
	stored, err := h.count(`SELECT count(*) FROM hookd_event`)
	if err != nil {
		return r.fail(err)
	}
	r.figure("database cut off for %s (connections closed, new ones refused); statuses %v", outage, l.statusesOf("load"))
	r.figure("acknowledged %d (%d while cut off), stored %d, alerted %d, lost %d; first acknowledgement %s after the database came back",
		t.acked, during, stored, t.alerted, t.lost, back.Round(time.Millisecond))
	errorLines := h.logs.count(began, time.Now(), `"level":"error"`)
	r.figure("error log lines during the outage and recovery: %d", errorLines)
	if os.Getenv("HOOKD_FAULT_DEBUG") != "" {
		fmt.Println(h.logs.tail(400))
	}
	r.check(errorLines < 20, "%d error lines for one outage", errorLines)
	r.check(during == 0, "%d events acknowledged while the database was cut off", during)
	r.check(stored >= t.acked && drained && t.lost == 0, "acknowledged %d, stored %d, lost %d", t.acked, stored, t.lost)
	r.check(back > 0 && back < 5*time.Second, "no acknowledgement within 5 s of the database's return")
	return r
}

// poison sends a delivery whose events carry NUL in a display name every 20 ms beside ten
// ordinary clients: no ordinary delivery is refused, and every poisoned event is stored and
// alerted once.
func poison(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	h, recv, stop, err := s.startAlerting(backend, "HOOKD_GROUP_WINDOW=0s")
	if err != nil {
		return r.fail(err)
	}
	defer stop()
	l := newLoad(h)
	runFor := pick(s, 5*time.Second, 30*time.Second)
	loadCtx, cancel := context.WithTimeout(ctx, runFor)
	defer cancel()
	l.run(loadCtx,
		sender{name: "ordinary", clients: 10, events: 3, every: pick(s, 100*time.Millisecond, 20*time.Millisecond)},
		sender{name: "poison", clients: 1, events: 1, every: 20 * time.Millisecond, displayName: "Bob\x00Builder"})
	acked := l.ackedIDs()
	// Delivery drains a few hundred alerts a second to this receiver: wait long enough.
	began := time.Now()
	drained := drain(acked, recv, time.Minute+time.Duration(len(acked)/100)*time.Second)
	r.figure("alerts drained %s after the load", time.Since(began).Round(time.Second))
	t := tallyOf(acked, recv)
	ordinary, poisoned := l.statusesOf("ordinary"), l.statusesOf("poison")
	r.figure("ordinary deliveries %v, poisoned deliveries %v", ordinary, poisoned)
	r.figure("acknowledged %d events, alerted %d, lost %d, duplicated %d, flagged as not stored %d", t.acked, t.alerted, t.lost, t.duplicated, t.flagged)
	r.check(ordinary[http.StatusServiceUnavailable] == 0, "%d ordinary deliveries answered 503", ordinary[http.StatusServiceUnavailable])
	r.check(len(poisoned) == 1 && poisoned[http.StatusOK] > 0, "poisoned deliveries answered %v", poisoned)
	r.check(drained && t.lost == 0 && t.duplicated == 0, "lost %d, duplicated %d", t.lost, t.duplicated)
	r.check(t.flagged == 0, "%d events alerted without being stored", t.flagged)
	return r
}

// proxy forwards TCP connections to a target until cut: then it closes every connection and
// refuses new ones until restored.
type proxy struct {
	l      net.Listener
	addr   string
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newProxy(target string) (*proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{l: l, addr: l.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, up)
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

func (p *proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

// cut closes every connection and refuses new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func (p *proxy) close() { p.l.Close(); p.cut() }
