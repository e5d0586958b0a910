package main

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/termtext"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/store"
)

// holdersSnapshot runs hookd holders snapshot: Okta's admin role assignments, now, against
// the ledger's admin privileges. Holdings found in both are marked "seen in Okta"; every
// difference is listed, and the ledger is not changed by it.
func (m *Main) holdersSnapshot(ctx context.Context, args []string) error {
	fs := m.newFlags("holders snapshot")
	configPath := fs.String("config", "", "YAML configuration file (HOOKD_* environment variables override it)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	cfg, creds, st, err := m.oktaAndStore(ctx, *configPath, "read Okta's role assignments", "okta.roles.read")
	if err != nil {
		return err
	}
	defer st.Close()
	client := &okta.Client{OrgURL: cfg.SystemLog.OrgURL, Credentials: creds}
	m.readGroupMembers(ctx, cfg, st)
	at := time.Now().UTC()

	all, err := st.Holders(ctx, "")
	if err != nil {
		return err
	}
	ledger := map[roleHeld]adminapi.Holder{}
	groups := map[string]bool{}
	for _, h := range all {
		if h.Category != string(hookd.AdminPrivilege) || h.Via != "" {
			continue // Okta's role API lists roles held in a user's or group's own name only
		}
		ledger[roleHeld{h.SubjectKind, h.SubjectID, roleName(h.Role)}] = h
		if h.SubjectKind == string(hookd.SubjectGroup) {
			groups[h.SubjectID] = true
		}
	}

	// Okta's side: every user holding an admin role in their own name, and the groups the
	// ledger knows to hold one (Okta lists no groups by role).
	inOkta := map[roleHeld]string{}
	users, err := client.ListRoleAssignees(ctx)
	if err != nil {
		return forbidden(err, "reading admin roles", "okta.roles.read")
	}
	for _, id := range users {
		roles, err := client.UserRoles(ctx, id)
		if err != nil {
			return forbidden(err, "reading admin roles", "okta.roles.read")
		}
		for _, r := range roles {
			if r.AssignmentType == "" || strings.EqualFold(r.AssignmentType, "USER") {
				inOkta[roleHeld{string(hookd.SubjectUser), id, roleName(cmp.Or(r.Label, r.Type))}] = cmp.Or(r.Label, r.Type)
			}
		}
	}
	for id := range groups {
		roles, err := client.GroupRoles(ctx, id)
		if err != nil {
			return forbidden(err, "reading admin roles", "okta.roles.read")
		}
		for _, r := range roles {
			inOkta[roleHeld{string(hookd.SubjectGroup), id, roleName(cmp.Or(r.Label, r.Type))}] = cmp.Or(r.Label, r.Type)
		}
	}

	var seen []store.HoldingRef
	var oktaOnly, ledgerOnly []string
	for k, label := range inOkta {
		h, ok := ledger[k]
		if !ok {
			oktaOnly = append(oktaOnly, fmt.Sprintf("  %s %s: %s", k.kind, termtext.Escape(k.id), termtext.Escape(label)))
			continue
		}
		seen = append(seen, store.HoldingRef{SubjectKind: h.SubjectKind, SubjectID: h.SubjectID, RoleKey: h.RoleKey})
	}
	for k, h := range ledger {
		if _, ok := inOkta[k]; !ok {
			ledgerOnly = append(ledgerOnly, fmt.Sprintf("  %s %s (%s): %s, since %s, granted by %s, known by %s",
				k.kind, termtext.Escape(cmp.Or(h.SubjectName, h.SubjectID)), termtext.Escape(h.SubjectID), termtext.Escape(h.Role),
				shortTime(h.Since), termtext.Escape(cmp.Or(h.GrantedBy, "-")), h.KnownBy))
		}
	}
	if err := st.MarkSeenInOkta(ctx, seen, at); err != nil {
		return err
	}
	sort.Strings(oktaOnly)
	sort.Strings(ledgerOnly)
	fmt.Fprintf(m.Stdout, "Okta's admin role assignments at %s: %d (%d users holding roles, %d groups the ledger knows asked)\n",
		shortTime(at), len(inOkta), len(users), len(groups))
	fmt.Fprintf(m.Stdout, "in Okta and in the ledger: %d, marked seen in Okta\n", len(seen))
	if len(oktaOnly) > 0 {
		fmt.Fprintf(m.Stdout, "in Okta, not in the ledger (granted before hookd's history, or a change hookd never saw): %d\n%s\n",
			len(oktaOnly), strings.Join(oktaOnly, "\n"))
	}
	if len(ledgerOnly) > 0 {
		fmt.Fprintf(m.Stdout, "in the ledger, not in Okta (taken away without hookd seeing it, or held through a group): %d\n%s\n",
			len(ledgerOnly), strings.Join(ledgerOnly, "\n"))
	}
	if n := len(oktaOnly) + len(ledgerOnly); n > 0 {
		return fmt.Errorf("%d differences between Okta and the ledger (listed above); the ledger was not changed", n)
	}
	fmt.Fprintln(m.Stdout, "no differences")
	return nil
}

// roleHeld is one admin role of one user or group, the role by its compared name.
type roleHeld struct{ kind, id, role string }

// roleName is an admin role's name as compared between the System Log's events and Okta's
// role API, which spell the same role differently ("Org administrator", "Organization
// Administrator", ORG_ADMIN): lower case, letters and digits only, one word for each.
func roleName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	n := b.String()
	for _, w := range [][2]string{{"organizational", "org"}, {"organization", "org"}, {"administrator", "admin"}} {
		n = strings.ReplaceAll(n, w[0], w[1])
	}
	return n
}
