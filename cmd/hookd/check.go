package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/hookd/hookd/hook"
)

// check prints the effective configuration with secrets hidden, and for each watched event
// type whether an Okta hook can deliver it; it fails when the configuration is invalid.
func (m *Main) check(args []string) error {
	cfg, _, err := m.loadConfig(args, "check")
	if err != nil {
		return err
	}
	// The same rules as serve: sinks, severities and routes are checked by building them.
	if _, err := buildRouter(cfg, io.Discard, nil, nil); err != nil {
		return err
	}
	w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SETTING\tVALUE")
	for _, s := range cfg.Settings() {
		fmt.Fprintf(w, "%s\t%s\n", s.Env, s.Value)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "SINKS")
	for _, s := range cfg.SinkSummaries() {
		fmt.Fprintln(w, s)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "WATCHED EVENT TYPE\tOKTA EVENT HOOK\tSYSTEM LOG POLLER")
	for _, t := range hook.Watched() {
		viaHook := "delivers it"
		if !t.HookEligible {
			viaHook = "cannot (not hook-eligible)"
		}
		viaPoll := "not polled"
		if polled(cfg, t.EventType) {
			viaPoll = "polls it"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", t.EventType, viaHook, viaPoll)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if missing := uncovered(cfg); len(missing) > 0 {
		fmt.Fprintf(m.Stdout, "\nWARNING: %d watched event types reach hookd by no path: %v\nSet HOOKD_OKTA_ORG_URL and HOOKD_OKTA_API_TOKEN (or a service app) to poll the System Log for them.\n", len(missing), missing)
	}
	fmt.Fprintln(m.Stdout, "\nconfiguration OK")
	return nil
}
