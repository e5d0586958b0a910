package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/internal/termtext"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta"
)

// oktaCommand runs hookd okta register|status.
func (m *Main) oktaCommand(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "register" && args[0] != "status") {
		help := len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help")
		w := m.Stderr
		if help {
			w = m.Stdout
		}
		fmt.Fprintln(w, "usage: hookd okta register --url https://<this host>/okta/events [--name hookd]\n       hookd okta status [--url URL]")
		if help {
			return nil
		}
		return errUsage
	}
	fs := m.newFlags("okta " + args[0])
	configPath := fs.String("config", "", "YAML configuration file (HOOKD_* environment variables override it)")
	hookURL := fs.String("url", "", "the URL Okta posts to: hookd's /okta/events on its public https address")
	name := fs.String("name", "", "the event hook's name in Okta (default HOOKD_OKTA_HOOK_NAME, else hookd)")
	if err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath, m.Getenv)
	if err != nil {
		return err
	}
	if cfg.SystemLog.OrgURL == "" {
		return errors.New("HOOKD_OKTA_ORG_URL and a credential (HOOKD_OKTA_API_TOKEN, or the service app) are needed to talk to Okta's API")
	}
	creds, err := pollerCredentials(cfg.SystemLog, cfg.DataDir, "okta.eventHooks.manage", "okta.eventHooks.read")
	if err != nil {
		return err
	}
	client := &okta.Client{OrgURL: cfg.SystemLog.OrgURL, Credentials: creds}
	if *name == "" {
		*name = cfg.Okta.HookName
	}
	if args[0] == "status" {
		return m.oktaStatus(ctx, client, *hookURL)
	}
	if err := checkHookURL(*hookURL); err != nil {
		return err
	}
	secret, err := firstSecret(cfg)
	if err != nil {
		return err
	}
	reg, err := okta.Register(ctx, client, okta.Registration{
		Name: *name, URL: *hookURL, AuthHeader: cfg.Okta.AuthHeader, Secret: secret,
		Watched: hook.WatchedTypes(), Eligible: hook.HookEligible,
	})
	if err != nil {
		return explainOkta(err)
	}
	switch {
	case reg.Created:
		fmt.Fprintf(m.Stdout, "created event hook %q (%s)\n", reg.Hook.Name, termtext.Escape(reg.Hook.ID))
	case reg.Updated:
		fmt.Fprintf(m.Stdout, "updated event hook %q (%s)\n", reg.Hook.Name, termtext.Escape(reg.Hook.ID))
	default:
		fmt.Fprintf(m.Stdout, "event hook %q (%s) is already as asked: nothing changed\n", reg.Hook.Name, termtext.Escape(reg.Hook.ID))
	}
	fmt.Fprintf(m.Stdout, "subscribed: %s\n", termtext.Escape(strings.Join(reg.Hook.Events.Items, ", ")))
	printRefused(m.Stdout, cfg, reg)
	verified, err := client.VerifyEventHook(ctx, reg.Hook.ID)
	if err != nil {
		fmt.Fprintf(m.Stdout, "verification: FAILED: %s\n  is hookd serve running at %s with this secret?\n", termtext.Escape(explainOkta(err).Error()), *hookURL)
		return errors.New("verification failed: Okta could not reach hookd with the challenge")
	}
	fmt.Fprintf(m.Stdout, "verification: %s, status: %s\n", termtext.Escape(verified.VerificationStatus), termtext.Escape(verified.Status))
	return nil
}

// oktaStatus lists the event hooks that point at this hookd (its secret fingerprint, or the
// URL given) and compares their types with the watched types.
func (m *Main) oktaStatus(ctx context.Context, client *okta.Client, hookURL string) error {
	hooks, err := client.ListEventHooks(ctx)
	if err != nil {
		return forbidden(err, "listing event hooks", readEventHooks)
	}
	found := 0
	w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	for _, h := range hooks {
		if h.Header(okta.SecretIDHeader) == "" && (hookURL == "" || h.Channel.Config.URI != hookURL) {
			continue
		}
		found++
		fmt.Fprintf(w, "HOOK %s\t%s\tstatus %s\tverification %s\t%s\n", termtext.Escape(h.Name), termtext.Escape(h.ID), termtext.Escape(h.Status),
			termtext.Escape(h.VerificationStatus), termtext.Escape(h.Channel.Config.URI))
		for _, t := range hook.Watched() {
			state := "not subscribed"
			if slices.Contains(h.Events.Items, t.EventType) {
				state = "subscribed"
			} else if !t.HookEligible {
				state = "not deliverable by a hook"
			}
			fmt.Fprintf(w, "  %s\t%s\n", t.EventType, state)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if found == 0 {
		return errors.New("no event hook in Okta points at this hookd: run hookd okta register")
	}
	return nil
}

// printRefused reports each watched type the hook does not bring with the path that does,
// if any: the System Log poller, when it reads the type.
func printRefused(w io.Writer, cfg config.Config, reg okta.Registered) {
	var read, unread []string
	for _, t := range reg.Refused {
		if polled(cfg, t) {
			read = append(read, t)
		} else {
			unread = append(unread, t)
		}
	}
	if len(read) > 0 {
		fmt.Fprintf(w, "not deliverable by a hook (by Okta's event-type catalog, or refused by this Okta): %s\n  the System Log poller reads them\n", strings.Join(read, ", "))
	}
	if len(unread) > 0 {
		cover := "set HOOKD_OKTA_ORG_URL and a credential on hookd serve so that its System Log poller reads them"
		if cfg.SystemLog.Enabled() {
			cover = "the System Log poller does not read them either: add them to HOOKD_SYSTEMLOG_EVENT_TYPES (or leave it unset to read every watched type), or no alert comes of them"
		}
		fmt.Fprintf(w, "not deliverable by a hook (by Okta's event-type catalog, or refused by this Okta): %s\n  %s\n", strings.Join(unread, ", "), cover)
	}
	if len(reg.NamedByOkta) > 0 {
		fmt.Fprintf(w, "  hookd's table marks %s deliverable by a hook, yet this Okta refused them\n", strings.Join(reg.NamedByOkta, ", "))
	}
}

// The permissions (an API token's admin role, or a service app's scopes) the Event Hooks API
// asks for.
const (
	manageEventHooks = "okta.eventHooks.manage"
	readEventHooks   = "okta.eventHooks.read"
)

// explainOkta adds to a 403 the permission managing event hooks needs.
func explainOkta(err error) error {
	return forbidden(err, "managing event hooks", manageEventHooks)
}

// forbidden adds to a 403 the permission the call needed, which Okta's answer does not name.
func forbidden(err error, doing, permission string) error {
	if !errors.Is(err, okta.ErrForbidden) {
		return err
	}
	return fmt.Errorf("%w: %s needs the %s permission (a super administrator's API token, or a service app granted %s)",
		err, doing, permission, permission)
}

// checkHookURL accepts the URL Okta will post to: https, or plain http to a loopback host for
// tests and local relays, as for sinks.
func checkHookURL(raw string) error {
	if raw == "" {
		return errors.New("--url: the URL Okta posts to is required, e.g. https://hookd.example.com/okta/events")
	}
	if outbound.CheckURL(raw, true) != nil {
		return errors.New("--url: Okta takes only https URLs (plain http only to a loopback host)")
	}
	return nil
}

// firstSecret is the secret Okta must send: the first configured one, or the one serve keeps
// in the data dir (made now if there is none yet, so that serve uses the same).
func firstSecret(cfg config.Config) (string, error) {
	if len(cfg.Okta.Secrets) > 0 {
		return cfg.Okta.Secrets[0], nil
	}
	secret, _, err := loadOrCreateSecret(cfg.DataDir)
	return secret, err
}
