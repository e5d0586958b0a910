package main

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/handlers"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/systemlog"
	"go.uber.org/zap"
)

// consoleOptions wires the operator console: the store's reads and repairs, the sinks, test
// alerts through the router, and coverage from the configuration, the store and the poller.
func consoleOptions(ctx context.Context, cfg config.Config, st *store.Store, router *alerting.Router,
	activity *handlers.SinkActivity, poller *pollerState, okSecrets []string, log *zap.Logger) *handlers.ConsoleOptions {
	var sinks []handlers.SinkInfo
	for _, s := range cfg.AllSinks() {
		sinks = append(sinks, handlers.SinkInfo{Name: s.Name, Type: s.Type})
	}
	// Each sink's last success before this start, read off the start path: it reads every
	// delivery record, and readiness must not wait for it.
	go func() {
		last, err := st.LastDelivered(context.WithoutCancel(ctx))
		if err != nil {
			log.Warn("console: last deliveries not read; sinks show none until the next", zap.Error(err))
			return
		}
		for sink, at := range last {
			activity.Succeeded(sink, at)
		}
	}()
	secrets := append(cfg.SecretValues(), okSecrets...)
	return &handlers.ConsoleOptions{
		Store:    st,
		Sinks:    sinks,
		Activity: activity,
		Severity: func(rc *hookd.RoleChange) string { return router.Severity(rc).String() },
		Title:    alerting.Title,
		Redact:   redactor(secrets),
		Links: func(rc *hookd.RoleChange) []adminapi.Link {
			var out []adminapi.Link
			for _, l := range router.Links(rc) {
				if l.Rel != "console" { // the console's own page
					out = append(out, adminapi.Link{Rel: l.Rel, Title: l.Title, Href: l.Href})
				}
			}
			return out
		},
		TestAlert: func(ctx context.Context, sink string) error {
			return router.Deliver(ctx, sink, []*hookd.RoleChange{testChange(time.Now())})
		},
		Coverage: func(ctx context.Context) (adminapi.Coverage, error) {
			var cov adminapi.Coverage
			var types []string
			for _, t := range hook.Watched() {
				types = append(types, t.EventType)
			}
			seen, err := st.LastSeen(ctx, types)
			if err != nil {
				return cov, err
			}
			for _, t := range hook.Watched() {
				cov.Types = append(cov.Types, adminapi.TypeCoverage{EventType: t.EventType, HookEligible: t.HookEligible,
					Polled: polled(cfg, t.EventType), LastSeen: seen[t.EventType].Published, LastSource: seen[t.EventType].Source})
			}
			cov.Poller = poller.state(cfg.SystemLog.Enabled())
			return cov, nil
		},
	}
}

// testChange is the record a test alert carries: marked as a test in every sink's title,
// naming no real user, role or actor.
func testChange(now time.Time) *hookd.RoleChange {
	return &hookd.RoleChange{
		EventID: "hookd-test-" + randomHex(), EventType: "hookd.console.test", Published: now.UTC(),
		Category: hookd.Test, Action: hookd.Updated, Source: hookd.SourceHook,
		Subject:        hookd.Subject{Kind: hookd.SubjectHookd, DisplayName: "hookd"},
		Roles:          []hookd.Role{{Name: "none (test alert)"}},
		Actor:          hookd.Ref{DisplayName: "an operator, from hookd's console"},
		DisplayMessage: "This sink is wired correctly: the alert went through its real code (signing, pacing, escaping).",
	}
}

// redactor blanks every secret value out of text, longest first so that a secret holding
// another is blanked whole. A secret that is a URL (a sink's) is blanked in its parts as
// well: a receiver echoes the path or one token of it, and a dead letter written before sink
// errors were redacted at their source may still hold that echo.
func redactor(secrets []string) func(string) string {
	all := append([]string(nil), secrets...)
	for _, s := range secrets {
		all = append(all, outbound.URLParts(s)...)
	}
	return outbound.Redactor(all)
}

// pollerState keeps the System Log poller's last report on this replica, for the console.
type pollerState struct {
	mu        sync.Mutex
	last      systemlog.Report
	lastAt    time.Time
	lastOK    time.Time
	newest    time.Time
	refused   bool
	lastError string
}

func (p *pollerState) observe(r systemlog.Report) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.last, p.lastAt = r, now
	switch r.Result {
	case systemlog.ResultOK:
		p.lastOK, p.refused, p.lastError = now, false, ""
	case systemlog.ResultUnauthorized:
		p.refused = true
	}
	if r.Err != nil {
		p.lastError = r.Err.Error()
	}
	if r.Newest.After(p.newest) {
		p.newest = r.Newest
	}
}

func (p *pollerState) state(configured bool) *adminapi.PollerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := &adminapi.PollerState{Configured: configured, LastPoll: p.lastAt, LastError: p.lastError,
		RateLimitRemaining: p.last.RateLimitRemaining, Credentials: "not tried yet on this replica"}
	if !configured {
		out.Credentials = "not configured"
		return out
	}
	if !p.lastAt.IsZero() {
		out.Credentials = "accepted"
		if p.refused {
			out.Credentials = "refused by Okta: polling stopped"
		}
	}
	if !p.lastOK.IsZero() {
		out.CursorAge = time.Since(p.lastOK).Round(time.Second).String()
	}
	if !p.newest.IsZero() {
		out.Lag = time.Since(p.newest).Round(time.Second).String()
	}
	return out
}
