package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/systemlog"
)

// systemLogRetention is how long Okta keeps System Log events.
const systemLogRetention = 90 * 24 * time.Hour

// holdersImport runs hookd holders import: the System Log's history of every watched type
// folded into the ledger, with a progress line a page, resumable.
func (m *Main) holdersImport(ctx context.Context, args []string) error {
	fs := m.newFlags("holders import")
	configPath := fs.String("config", "", "YAML configuration file (HOOKD_* environment variables override it)")
	sinceFlag := fs.String("since", "90d", "how far back to read (Okta keeps 90 days): an age such as 90d or 720h, or a date")
	restart := fs.Bool("restart", false, "start over instead of going on from where an unfinished import stopped")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	began := time.Now()
	since, err := adminapi.ParseTime(*sinceFlag, began)
	if err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if oldest := began.Add(-systemLogRetention + 5*time.Minute); since.Before(oldest) {
		since = oldest // Okta refuses a since past its retention; keep a margin for the clocks
	}
	cfg, creds, st, err := m.oktaAndStore(ctx, *configPath, "read the System Log", "okta.logs.read")
	if err != nil {
		return err
	}
	defer st.Close()
	poller, err := systemlog.New(systemlog.Config{
		OrgURL: cfg.SystemLog.OrgURL, Credentials: creds, Store: st,
		Classifier: &hook.Classifier{WorkflowsApps: cfg.Okta.WorkflowsApps, OwnHooks: []string{cfg.Okta.HookName}},
	})
	if err != nil {
		return fmt.Errorf("HOOKD_OKTA_ORG_URL: %w", err)
	}
	first := true
	pr, err := poller.Import(ctx, st, since, *restart, func(p systemlog.ImportProgress) {
		if first {
			first = false
			verb := "reading"
			if p.Resumed {
				verb = "going on with an import stopped after page " + fmt.Sprint(p.Pages) + ", reading"
			}
			fmt.Fprintf(m.Stderr, "import: %s the System Log from %s to %s\n", verb, shortTime(p.Since), shortTime(p.Until))
		}
		switch {
		case !p.Waiting.IsZero():
			fmt.Fprintf(m.Stderr, "import: waiting for Okta's rate limit until %s\n", p.Waiting.UTC().Format("15:04:05 UTC"))
		case p.Done:
		default:
			fmt.Fprintf(m.Stderr, "import: page %d · %d events · %d role changes · through %s · %.1f s\n",
				p.Pages, p.Events, p.Changes, shortTime(p.Newest), time.Since(began).Seconds())
		}
	})
	if err != nil {
		return fmt.Errorf("after %d pages: %w", pr.Pages, err)
	}
	m.readGroupMembers(ctx, cfg, st)
	holders, err := st.Holders(ctx, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "imported %d events (%d role changes) in %d pages in %.1f s; %d current holdings (hookd holders lists them)\n",
		pr.Events, pr.Changes, pr.Pages, time.Since(began).Seconds(), len(holders))
	return nil
}

// oktaAndStore loads the configuration, the Okta credentials asking for scopes (a service
// app), and opens the store beside any running hookd: for the holders commands that read Okta
// and write the ledger. what says what the credentials are needed for.
func (m *Main) oktaAndStore(ctx context.Context, configPath, what string, scopes ...string) (config.Config, okta.Credentials, *store.Store, error) {
	cfg, err := config.Load(configPath, m.Getenv)
	if err != nil {
		return cfg, nil, nil, err
	}
	if !cfg.SystemLog.Enabled() {
		return cfg, nil, nil, fmt.Errorf("HOOKD_OKTA_ORG_URL and a credential (HOOKD_OKTA_API_TOKEN, or the service app with %s) are needed to %s", strings.Join(scopes, ", "), what)
	}
	creds, err := pollerCredentials(cfg.SystemLog, cfg.DataDir, scopes...)
	if err != nil {
		return cfg, nil, nil, err
	}
	st, err := store.Open(ctx, store.Options{DataDir: cfg.DataDir, DatabaseURL: cfg.DatabaseURL, ReplicaID: cfg.ReplicaID, Beside: true})
	return cfg, creds, st, err
}
