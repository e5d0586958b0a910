package main

import (
	"context"
	"net/http"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{name: "kill9", backends: []string{"sqlite", "postgres"}, run: killUnderLoad},
		scenario{name: "sigterm", backends: []string{"sqlite"}, run: sigtermWithSlowSink},
	)
}

// deliveryWorkers is hookd's default HOOKD_DELIVERY_WORKERS: the most messages in flight
// when it dies, which is the documented bound on duplicates per crash.
const deliveryWorkers = 32

// killUnderLoad kills hookd with SIGKILL in the middle of a load, restarts it on the same
// store (on Postgres under another replica ID), and counts what was acknowledged, stored,
// alerted, lost and duplicated, and how long after the restart the alerts of events
// acknowledged before the crash went out.
func killUnderLoad(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	h, recv, stop, err := s.startAlerting(backend, "HOOKD_GROUP_WINDOW=0s")
	if err != nil {
		return r.fail(err)
	}
	defer stop()
	recv.set(http.StatusOK, 20*time.Millisecond) // slow enough that deliveries are in flight at the kill
	l := newLoad(h)
	runFor := pick(s, 6*time.Second, 20*time.Second)
	// About 250 events a second, which hookd delivers about as fast as they come to this sink.
	wait := l.background(ctx, runFor, sender{name: "load", clients: 10, events: 5, every: 200 * time.Millisecond})

	time.Sleep(runFor / 2)
	h.kill9()
	killedAt := time.Now()
	before := l.ackedIDs()
	running, err := h.count(`SELECT count(*) FROM hookd_delivery WHERE state = 'pending' AND lease_until IS NOT NULL`)
	if err != nil {
		return r.fail(err)
	}
	if backend == "postgres" {
		// As a replica that comes back under another name (a new pod): its own leases
		// must lapse for whoever looks, not wait for its old name.
		h.env = append(h.env, "HOOKD_REPLICA_ID=fault-restarted-as-another")
	}
	if err := h.start(); err != nil {
		return r.fail(err)
	}
	restartedAt := time.Now()
	wait()
	acked := l.ackedIDs()
	drained := drain(acked, recv, pick(s, 60*time.Second, 120*time.Second))
	t := tallyOf(acked, recv)
	var latest time.Duration
	for id := range before {
		if first, ok := recv.first(id); ok && first.After(killedAt) {
			latest = max(latest, first.Sub(restartedAt))
		}
	}
	r.figure("load %s, killed at %s, restarted in %s", runFor, runFor/2, restartedAt.Sub(killedAt).Round(time.Millisecond))
	stored, err := h.count(`SELECT count(*) FROM hookd_event`)
	if err != nil {
		return r.fail(err)
	}
	r.figure("deliveries leased at the kill: %d", running)
	r.figure("acknowledged %d, stored %d, alerted %d, lost %d, duplicated %d", t.acked, stored, t.alerted, t.lost, t.duplicated)
	r.check(stored >= t.acked, "%d stored of %d acknowledged", stored, t.acked)
	r.figure("statuses %v", l.statusesOf("load"))
	r.figure("last first-alert of an event acknowledged before the kill: %s after the restart", latest.Round(time.Millisecond))
	r.check(drained && t.lost == 0, "%d acknowledged events were never alerted", t.lost)
	r.check(t.duplicated <= deliveryWorkers, "%d duplicates, over the bound of %d (deliveries in flight)", t.duplicated, deliveryWorkers)
	r.check(latest < 30*time.Second, "an acknowledged event's first alert came %s after the restart", latest)
	// Every job finished: none is left running for a rescue minutes later (which would send
	// its alert then, late or twice).
	err = h.waitDelivered(ctx, 30*time.Second)
	r.check(err == nil, "jobs were still unfinished 30 s after the drain: %v", err)
	return r
}

// sigtermWithSlowSink sends SIGTERM while deliveries to a slow sink are in flight: hookd
// waits for them, delivers each once, counts none as failed, and exits 0.
func sigtermWithSlowSink(ctx context.Context, s *suite, backend string) *result {
	r := &result{}
	h, recv, stop, err := s.startAlerting(backend, "HOOKD_GROUP_WINDOW=0s", "HOOKD_SHUTDOWN_TIMEOUT=15s")
	if err != nil {
		return r.fail(err)
	}
	defer stop()
	delay := pick(s, 3*time.Second, 10*time.Second)
	recv.set(http.StatusOK, delay)
	l := newLoad(h)
	const events = 10 // fewer than the workers: every one is in flight at once
	l.send(sender{name: "load", events: events})
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waitFor(wait, func() bool { _, inFlight := recv.stats(); return inFlight >= events })
	_, inFlight := recv.stats()
	began := time.Now()
	code, took, err := h.term(30 * time.Second)
	if err != nil {
		return r.fail(err)
	}
	posts, _ := recv.stats()
	r.figure("sink answering in %s; %d deliveries in flight at SIGTERM", delay, inFlight)
	r.figure("exit %d after %s; the sink finished %d", code, took.Round(time.Millisecond), posts)
	r.check(code == 0, "exit code %d", code)
	r.check(posts == inFlight, "the sink finished %d of %d in flight", posts, inFlight)
	failing := h.logs.count(began, time.Now(), "sink failing")
	r.check(failing == 0, "%d deliveries were logged as failed", failing)

	// Restart: the finished deliveries are not sent again, the rest are.
	recv.set(http.StatusOK, 0)
	if err := h.start(); err != nil {
		return r.fail(err)
	}
	drained := drain(l.ackedIDs(), recv, 30*time.Second)
	t := tallyOf(l.ackedIDs(), recv)
	r.figure("after restart: acknowledged %d, alerted %d, duplicated %d", t.acked, t.alerted, t.duplicated)
	r.check(drained && t.lost == 0, "%d never alerted", t.lost)
	r.check(t.duplicated == 0, "%d alerts sent twice", t.duplicated)
	return r
}
