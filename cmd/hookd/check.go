package main

import (
	"fmt"
	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/systemlog"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	router, err := buildRouter(cfg, io.Discard, nil, nil)
	if err != nil {
		return err
	}
	for _, w := range router.Warnings() {
		fmt.Fprintln(m.Stdout, "WARNING: "+w)
	}
	w := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SETTING\tVALUE")
	for _, s := range cfg.Settings() {
		fmt.Fprintf(w, "%s\t%s\n", s.Env, effective(cfg, s))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "SINKS")
	for _, s := range cfg.SinkSummaries() {
		fmt.Fprintln(w, s)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ROUTES (the first that matches decides; no match: every sink)")
	if len(cfg.Routes) == 0 {
		fmt.Fprintln(w, "(none: every event goes to every sink)")
	}
	for i, r := range cfg.Routes {
		fmt.Fprintln(w, routeLine(i, r))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "SEVERITY OVERRIDES")
	if len(cfg.Severity) == 0 {
		fmt.Fprintln(w, "(none: the built-in severity of each role)")
	}
	roles := make([]string, 0, len(cfg.Severity))
	for role := range cfg.Severity {
		roles = append(roles, role)
	}
	sort.Strings(roles)
	for _, role := range roles {
		fmt.Fprintf(w, "%s\t%s\n", role, cfg.Severity[role])
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "WATCHED EVENT TYPE\tOKTA EVENT HOOK\tSYSTEM LOG POLLER")
	for _, t := range hook.Watched() {
		viaHook := "delivers it"
		if !t.HookEligible {
			viaHook = "not offered by Okta (not hook-eligible)"
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
	if line := oktaAccess(cfg.SystemLog); line != "" {
		fmt.Fprintln(m.Stdout, "\n"+line)
	}
	fmt.Fprintln(m.Stdout, "\nconfiguration OK")
	return nil
}

// oktaAccess says what hookd's features ask of Okta, so that the service app (or the API
// token's admin) is granted exactly that: least privilege. Empty when Okta is not configured.
func oktaAccess(c config.SystemLog) string {
	const needs = "okta.logs.read (System Log poller, holders import), okta.groups.read (members of role-holding groups); " +
		"optional: okta.eventHooks.manage and okta.eventHooks.read for hookd okta register and status, " +
		"okta.roles.read for hookd holders snapshot"
	switch {
	case !c.Enabled():
		return ""
	case c.APIToken != "":
		return "Okta permissions needed (the API token acts with its admin's): " + needs
	}
	return "Okta scopes needed: " + needs + " (grant them to the service app, and the same permissions to its custom admin role)"
}

// effective is a setting's value as hookd applies it: where the configuration leaves a list
// empty, the built-in default that then applies, marked as such.
func effective(cfg config.Config, s config.Setting) string {
	switch {
	case s.Env == "HOOKD_OKTA_WORKFLOWS_APPS" && len(cfg.Okta.WorkflowsApps) == 0:
		return strings.Join(hook.DefaultWorkflowsApps, ",") + " (default)"
	case s.Env == "HOOKD_SYSTEMLOG_EVENT_TYPES" && len(cfg.SystemLog.EventTypes) == 0:
		return strings.Join(systemlog.DefaultEventTypes(), ",") + " (default)"
	case s.Env == "HOOKD_REPLICA_ID" && cfg.ReplicaID == "":
		host, _ := os.Hostname()
		return host + " (default: the host name)"
	case s.Env == "HOOKD_OKTA_DPOP_KEY_FILE" && cfg.SystemLog.DPoPKeyFile == "" && cfg.SystemLog.ClientID != "":
		return dpopKeyPath(cfg.SystemLog, cfg.DataDir) + " (default: made on the first token request)"
	case s.Env == "HOOKD_OKTA_SECRETS" && len(cfg.Okta.Secrets) == 0:
		return "(not set: serve makes one and keeps it in " + filepath.Join(cfg.DataDir, secretFile) + ")"
	}
	return s.Value
}

// routeLine describes one routing rule.
func routeLine(i int, r config.Route) string {
	name := fmt.Sprintf("routes[%d]", i)
	if r.Name != "" {
		name += " (" + r.Name + ")"
	}
	var match []string
	for _, m := range []struct {
		key    string
		values []string
	}{
		{"event_types", r.Match.EventTypes}, {"actions", r.Match.Actions}, {"roles", r.Match.Roles},
		{"subject_kinds", r.Match.SubjectKinds}, {"outcomes", r.Match.Outcomes}, {"actors", r.Match.Actors},
		{"findings", r.Match.Findings},
	} {
		if len(m.values) > 0 {
			match = append(match, m.key+"="+strings.Join(m.values, "|"))
		}
	}
	if len(match) == 0 {
		match = []string{"every event"}
	}
	to := "to " + strings.Join(r.Sinks, ",")
	if r.Drop {
		to = "dropped"
	}
	return name + "\t" + strings.Join(match, " ") + "\t" + to
}
