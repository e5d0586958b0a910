package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOktaRegisterOneRefusalPerAnswer: against an Okta that names one refused type per
// answer, as the real one does, and refuses a type hookd's table thinks a hook can deliver,
// hookd okta register ends with the hook created, verified by a real call back to hookd and
// subscribed to the rest; it never asks for a type its table marks ineligible, and reports
// each dropped type with the path that brings it, whether the System Log poller reads it or
// not.
func TestOktaRegisterOneRefusalPerAnswer(t *testing.T) {
	const secret = "register-secret-not-to-print"
	const refusedByOrg = "application.user_membership.remove"
	srv := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret})
	hookURL := "http://" + srv.addr + "/okta/events"
	const reads = "the System Log poller reads them"
	const readsNot = "the System Log poller does not read them either: add them to HOOKD_SYSTEMLOG_EVENT_TYPES (or leave it unset to read every watched type), or no alert comes of them"
	workflows := []string{hook.WorkflowsGroupRoleAdd, hook.WorkflowsGroupRoleRemove, hook.WorkflowsUserRoleAdd, hook.WorkflowsUserRoleRemove}

	for _, tc := range []struct {
		name   string
		polled []string // HOOKD_SYSTEMLOG_EVENT_TYPES; none: every watched type
	}{
		{name: "the poller reads every watched type"},
		{name: "the poller reads the Workflows types only", polled: workflows},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := oktatest.NewEventHooks(t, "manage-token")
			fake.OneRefusalPerAnswer = true
			fake.Refuse = []string{refusedByOrg}
			env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret,
				"HOOKD_OKTA_ORG_URL": fake.URL, "HOOKD_OKTA_API_TOKEN": "manage-token"}
			if tc.polled != nil {
				env["HOOKD_SYSTEMLOG_EVENT_TYPES"] = strings.Join(tc.polled, ",")
			}

			code, out, errOut := run(env, "okta", "register", "--url", hookURL)
			require.Equal(t, 0, code, out+errOut)
			assert.Contains(t, out, `created event hook "hookd"`)
			assert.Contains(t, out, "verification: VERIFIED, status: ACTIVE")
			assert.Contains(t, out, "hookd's table marks "+refusedByOrg+" deliverable by a hook, yet this Okta refused them")
			assert.NotContains(t, out+errOut, secret)

			var want, dropped []string
			for _, w := range hook.Watched() {
				if w.HookEligible && w.EventType != refusedByOrg {
					want = append(want, w.EventType)
				} else {
					dropped = append(dropped, w.EventType)
				}
			}
			hooks := fake.Hooks()
			require.Len(t, hooks, 1)
			assert.Equal(t, "VERIFIED", hooks[0].VerificationStatus)
			assert.Equal(t, "ACTIVE", hooks[0].Status)
			assert.ElementsMatch(t, want, hooks[0].Events.Items)
			assert.Len(t, fake.Attempts(), 2, "the first write, and one more for the type Okta named")
			for _, a := range fake.Attempts() {
				for _, w := range hook.Watched() {
					if !w.HookEligible {
						assert.NotContains(t, a, w.EventType, "never asked for a type hookd's table marks ineligible")
					}
				}
			}
			for _, typ := range dropped {
				path := reads
				if tc.polled != nil && !slices.Contains(tc.polled, typ) {
					path = readsNot
				}
				assert.Equal(t, path, pathReported(out, typ), "%s is reported with the path that brings it", typ)
			}
		})
	}
}

// pathReported is the path register printed under the list of types no hook delivers that
// holds typ, or "" when no such list holds it.
func pathReported(out, typ string) string {
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		list, ok := strings.CutPrefix(line, "not deliverable by a hook (by Okta's event-type catalog, or refused by this Okta): ")
		if ok && slices.Contains(strings.Split(list, ", "), typ) && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	return ""
}

// TestOktaRegisterForbiddenNamesPermission: a 403 says which permission the call needed.
func TestOktaRegisterForbiddenNamesPermission(t *testing.T) {
	fake := oktatest.NewEventHooks(t, "manage-token")
	fake.ReadOnly = "read-only-token"
	fake.NoAccess = "no-access-token"
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s3cret-value",
		"HOOKD_OKTA_ORG_URL": fake.URL}

	for _, tc := range []struct {
		token, permission string
		args              []string
	}{
		{"read-only-token", "managing event hooks needs the okta.eventHooks.manage permission", []string{"register", "--url", "https://hookd.example.com/okta/events"}},
		{"no-access-token", "managing event hooks needs the okta.eventHooks.manage permission", []string{"register", "--url", "https://hookd.example.com/okta/events"}},
		{"no-access-token", "listing event hooks needs the okta.eventHooks.read permission", []string{"status"}},
	} {
		env["HOOKD_OKTA_API_TOKEN"] = tc.token
		code, _, errOut := run(env, append([]string{"okta"}, tc.args...)...)
		assert.Equal(t, 1, code, tc.args)
		assert.Contains(t, errOut, "403", tc.args)
		assert.Contains(t, errOut, tc.permission, tc.args)
		assert.NotContains(t, errOut, tc.token)
	}
}
