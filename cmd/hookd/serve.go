package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/handlers"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/memtrim"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/systemlog"
	"github.com/hookd/hookd/verify"
	"go.uber.org/zap"
)

func (m *Main) loadConfig(args []string, name string) (config.Config, []string, error) {
	fs := m.newFlags(name)
	path := fs.String("config", "", "YAML configuration file (HOOKD_* environment variables override it)")
	if err := m.parse(fs, args); err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Load(*path, m.Getenv)
	// One report of everything wrong: the misspelt variables, the settings, and the sinks and
	// routes (which a run that stopped at the settings would only name the next time).
	var problems []string
	if m.Environ != nil {
		problems = config.UnknownVariables(m.Environ())
	}
	var cerr *config.Error
	switch {
	case errors.As(err, &cerr):
		problems = append(problems, cerr.Problems...)
		if _, rerr := buildRouter(cfg, io.Discard, nil, nil); rerr != nil {
			problems = append(problems, strings.Split(strings.TrimPrefix(rerr.Error(), "sinks and routes:\n"), "\n")...)
		}
	case err != nil:
		return cfg, nil, err
	}
	if len(problems) > 0 {
		return cfg, nil, &config.Error{Problems: problems}
	}
	return cfg, fs.Args(), nil
}

func (m *Main) serve(ctx context.Context, args []string) error {
	started := time.Now()
	tokenPath, madeToken, err := makeAdminTokenFile(m.Getenv)
	if err != nil {
		return err
	}
	cfg, _, err := m.loadConfig(args, "serve")
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, m.Stderr)
	defer log.Sync() //nolint:errcheck // nothing to do about a failed flush at exit

	// One registry: each package registers the metrics of its own work; /metrics serves it.
	registry := prometheus.NewRegistry()
	router, err := buildRouter(cfg, m.Stdout, registry, log)
	if err != nil {
		return err
	}
	for _, w := range router.Warnings() {
		log.Warn(w)
	}

	// The listeners before anything is written to the data dir: a start that cannot serve
	// leaves no secret that no start would show.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("HOOKD_LISTEN_ADDR: %w", err)
	}
	defer ln.Close() // a no-op once served and shut down
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("HOOKD_ADMIN_ADDR: %w", err)
	}
	defer adminLn.Close()

	secrets, err := m.oktaSecrets(cfg, log)
	if err != nil {
		return err
	}
	auth, err := verify.New(cfg.Okta.AuthHeader, secrets)
	if err != nil {
		return fmt.Errorf("HOOKD_OKTA_SECRETS: %w", err)
	}

	classifier := &hook.Classifier{WorkflowsApps: cfg.Okta.WorkflowsApps, OwnHooks: []string{cfg.Okta.HookName}}
	activity, poller := &handlers.SinkActivity{}, &pollerState{}
	memory := memtrim.New(trimQuiet)
	st, ready, err := openPipeline(ctx, cfg, log, router, classifier, registry, pipelineWatch{activity, poller}, memory)
	if err != nil {
		return err
	}
	defer st.Close()

	trusted, err := cidrs(cfg.HTTP.TrustedProxies)
	if err != nil {
		return fmt.Errorf("HOOKD_TRUSTED_PROXIES: %w", err)
	}
	srv, err := handlers.New(handlers.Options{
		AdminToken:        cfg.AdminToken,
		AdminHosts:        cfg.AdminHosts,
		Registry:          registry,
		ReadyChecks:       ready,
		TrustedProxies:    trusted,
		Auth:              auth,
		Store:             st,
		Memory:            memory,
		Console:           consoleOptions(ctx, cfg, st, router, activity, poller, secrets, log),
		Slack:             slackOptions(st, router, log),
		Classifier:        classifier,
		Logger:            log,
		EventsPath:        cfg.Okta.EventsPath,
		BodyLimit:         cfg.HTTP.BodyLimit,
		MaxEvents:         cfg.HTTP.MaxEvents,
		AcceptTimeout:     cfg.HTTP.AcceptTimeout,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
	})
	if err != nil {
		return err
	}
	if err := st.Start(ctx); err != nil {
		return err
	}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	go func() { served <- srv.ServeAdmin(adminLn) }()

	log.Info("hookd ready",
		zap.String("addr", ln.Addr().String()), zap.String("admin_addr", adminLn.Addr().String()), zap.String("events_path", cfg.Okta.EventsPath),
		zap.String("auth_header", auth.Header()), zap.Int("secrets", len(secrets)),
		zap.String("store", st.Dialect()), zap.Strings("sinks", router.Names()),
		zap.Duration("startup", time.Since(started)), zap.String("version", versionString()))
	warnUndeliverable(log, cfg)
	m.showSecret(cfg)
	if madeToken != "" {
		fmt.Fprintf(m.Stderr, "\nThe operator console is on the admin listener (%s; published on the host's loopback by\nthe container image). hookd made its admin token and keeps it in %s:\n\n    %s\n\nSign in with it, or run hookd changes / deadletters / sinks where that file is readable.\n\n",
			adminLn.Addr(), tokenPath, madeToken)
	}
	if m.AdminListening != nil {
		m.AdminListening(adminLn.Addr().String())
	}
	if m.Listening != nil {
		m.Listening(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing requests in flight")
	case err := <-served:
		if err != nil {
			log.Error("server stopped", zap.Error(err))
		}
	}
	return shutdown(log, srv, st, cfg.HTTP.ShutdownTimeout)
}

// trimQuiet is how long no large delivery or large event may be in flight before their
// memory is returned to the OS: long enough that a burst of them is one trim (a full
// collection), short enough that an operator reading RSS after the burst sees it back.
const trimQuiet = 250 * time.Millisecond

// openPipeline opens the store with its delivery workers and, when configured, the System Log
// poller as its periodic task; it returns the readiness checks beside the store's.
func openPipeline(ctx context.Context, cfg config.Config, log *zap.Logger, router *alerting.Router,
	classifier *hook.Classifier, registry prometheus.Registerer, watch pipelineWatch, memory *memtrim.Trimmer) (*store.Store, map[string]func(context.Context) error, error) {
	outcomes := newOutcomeLog(log, time.Minute)
	polls := newPollLog(log)
	st, err := store.Open(ctx, store.Options{
		DataDir:     cfg.DataDir,
		DatabaseURL: cfg.DatabaseURL,
		ReplicaID:   cfg.ReplicaID,
		Route:       router.Route,
		Escalate: func(rc *hookd.RoleChange) []store.Escalation {
			if e := router.Escalation(rc); e != nil {
				return []store.Escalation{{After: e.After, Sinks: e.Sinks}}
			}
			return nil
		},
		Detect: detectSettings(cfg.Detections),
		Severity: func(rc *hookd.RoleChange) (string, int) {
			sev := router.Severity(rc)
			return sev.String(), int(sev)
		},
		Deliverer:   router,
		Unfolded:    int(alerting.Critical),
		Workers:     cfg.Delivery.Workers,
		MaxAttempts: cfg.Delivery.MaxAttempts,
		GroupWindow: cfg.Delivery.GroupWindow,
		Memory:      memory,
		Logger:      storeLogger(ctx, log),
		Registerer:  registry,
		OnOutcome: func(o store.Outcome) {
			outcomes.observe(o)
			watch.outcome(o)
		},
	})
	if err != nil {
		return nil, nil, err
	}
	ready := map[string]func(context.Context) error{}
	if !cfg.SystemLog.Enabled() {
		return st, ready, nil
	}
	creds, err := pollerCredentials(cfg.SystemLog, cfg.DataDir)
	if err == nil {
		var poller *systemlog.Poller
		poller, err = systemlog.New(systemlog.Config{
			OrgURL: cfg.SystemLog.OrgURL, Credentials: creds, EventTypes: cfg.SystemLog.EventTypes,
			LookBack: cfg.SystemLog.LookBack, SilenceAfter: cfg.SystemLog.SilenceAfter, Store: st, Classifier: classifier,
			Registerer: registry, Report: func(r systemlog.Report) {
				polls.observe(r)
				watch.poller.observe(r)
			},
		})
		if err != nil {
			err = fmt.Errorf("HOOKD_OKTA_ORG_URL: %w", err)
		} else {
			st.AddPeriodic(store.Periodic{Name: "systemlog", Interval: cfg.SystemLog.PollInterval, Run: poller.Poll})
			ready["systemlog"] = poller.Ready
			types := cfg.SystemLog.EventTypes
			if len(types) == 0 {
				types = systemlog.DefaultEventTypes()
			}
			log.Info("System Log poller on", zap.String("org", cfg.SystemLog.OrgURL),
				zap.Duration("interval", cfg.SystemLog.PollInterval), zap.Strings("event_types", types))
			err = addGroupSync(cfg, st, log)
		}
	}
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, ready, nil
}

// pipelineWatch is what the console is told of the pipeline's work: each sink's answers and
// the poller's cycles.
type pipelineWatch struct {
	activity *handlers.SinkActivity
	poller   *pollerState
}

func (w pipelineWatch) outcome(o store.Outcome) {
	switch o.Result {
	case store.ResultDelivered:
		w.activity.Succeeded(o.Sink, time.Now())
	case store.ResultRetry, store.ResultRateLimited, store.ResultPermanent, store.ResultDiscarded:
		why := o.Result
		if o.Err != nil {
			why = o.Err.Error()
		}
		w.activity.Failed(o.Sink, time.Now(), why)
	}
}

// shutdown stops taking requests and lets those in flight, and the deliveries in flight,
// finish, side by side, for up to timeout. What is still running then is cut off: a request
// was not acknowledged (Okta retries it), a delivery is retried on the next start. Reaching
// the timeout is what the operator asked for, so it is logged, not an error.
func shutdown(log *zap.Logger, srv *handlers.Server, st *store.Store, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	began := time.Now()
	var httpErr, storeErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		httpErr = srv.Shutdown(ctx)
	}()
	storeErr = st.Stop(ctx)
	<-done
	if errors.Is(httpErr, context.DeadlineExceeded) {
		log.Warn("shutdown timeout reached: requests still in flight were cut off, unacknowledged", zap.Duration("timeout", timeout))
		_ = srv.Close()
		httpErr = nil
	}
	if errors.Is(storeErr, context.DeadlineExceeded) || errors.Is(storeErr, context.Canceled) {
		log.Warn("shutdown timeout reached: deliveries still in flight were cancelled and run again on the next start", zap.Duration("timeout", timeout))
		storeErr = nil
	}
	log.Info("hookd stopped", zap.Duration("shutdown", time.Since(began)))
	return errors.Join(httpErr, storeErr)
}

// cidrs parses CIDRs such as "10.0.0.0/8".
func cidrs(list []string) ([]*net.IPNet, error) {
	out := make([]*net.IPNet, 0, len(list))
	for _, c := range list {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// oktaSecrets returns the configured secrets or, with none, the one kept in the data dir,
// made and shown once on the first start.
func (m *Main) oktaSecrets(cfg config.Config, log *zap.Logger) ([]string, error) {
	if len(cfg.Okta.Secrets) > 0 {
		return cfg.Okta.Secrets, nil
	}
	secret, created, err := loadOrCreateSecret(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if _, unshown := secretToShow(cfg.DataDir); !created && !unshown {
		log.Info("using the Okta secret kept in the data dir", zap.String("file", filepath.Join(cfg.DataDir, secretFile)))
	}
	return []string{secret}, nil
}

// showSecret prints, once hookd listens, how to register the hook with the secret it made:
// on standard error (never into the alert stream on standard output), and only until it has
// been shown once.
func (m *Main) showSecret(cfg config.Config) {
	if len(cfg.Okta.Secrets) > 0 {
		return
	}
	secret, ok := secretToShow(cfg.DataDir)
	if !ok {
		return
	}
	fmt.Fprintf(m.Stderr, `No Okta secret was configured, so hookd made one and keeps it in %s (mode 0600).
Register the event hook in Okta with:
  URL:           https://<this host>%s
  Header name:   %s
  Header value:  %s
This is the only time hookd prints the secret. Set HOOKD_OKTA_SECRETS to use your own.

`, filepath.Join(cfg.DataDir, secretFile), cfg.Okta.EventsPath, cfg.Okta.AuthHeader, secret)
	secretShown(cfg.DataDir)
}

// warnUndeliverable says plainly which watched types reach hookd by no path: no Okta event
// hook delivers them and the System Log poller does not read them.
func warnUndeliverable(log *zap.Logger, cfg config.Config) {
	if types := uncovered(cfg); len(types) > 0 {
		log.Warn("no Okta event hook delivers these watched event types and the System Log poller does not read them: set HOOKD_OKTA_ORG_URL and a credential (see README)",
			zap.Strings("event_types", types))
	}
}

// polled reports whether the System Log poller reads the event type.
func polled(cfg config.Config, eventType string) bool {
	if !cfg.SystemLog.Enabled() {
		return false
	}
	types := cfg.SystemLog.EventTypes
	if len(types) == 0 {
		types = systemlog.DefaultEventTypes()
	}
	for _, t := range types {
		if t == eventType {
			return true
		}
	}
	return false
}

// uncovered lists the watched types neither a hook nor the poller brings.
func uncovered(cfg config.Config) []string {
	var out []string
	for _, w := range hook.Watched() {
		if !w.HookEligible && !polled(cfg, w.EventType) {
			out = append(out, w.EventType)
		}
	}
	return out
}
