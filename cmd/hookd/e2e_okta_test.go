package main

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/okta/oktatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOktaRegisterAndStatus: register twice against the fake Okta gives one hook, verified
// by a real call back to hookd, subscribed to the watched types a hook can deliver, with the
// Workflows types reported as the System Log's; status shows it; the secret is never printed.
func TestOktaRegisterAndStatus(t *testing.T) {
	const secret = "register-secret-not-to-print"
	fake := oktatest.NewEventHooks(t, "manage-token")
	fake.ReadOnly = "read-only-token"
	srv := start(t, map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret})
	hookURL := "http://" + srv.addr + "/okta/events"
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret,
		"HOOKD_OKTA_ORG_URL": fake.URL, "HOOKD_OKTA_API_TOKEN": "manage-token"}

	code, out, errOut := run(env, "okta", "register", "--url", hookURL)
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, `created event hook "hookd"`)
	assert.Contains(t, out, "verification: VERIFIED, status: ACTIVE")
	assert.Contains(t, out, "not deliverable by a hook (by Okta's event-type catalog, or refused by this Okta): event_hook.deactivated, event_hook.deleted, event_hook.delivery, event_hook.updated, system.log_stream.lifecycle.deactivate, system.log_stream.lifecycle.delete, user.session.impersonation.grant, workflows.user.role.group.add, workflows.user.role.group.remove, workflows.user.role.user.add, workflows.user.role.user.remove")
	assert.Contains(t, out, "the System Log poller reads them", "this configuration polls the System Log with the same credential")
	assert.NotContains(t, out+errOut, secret)

	code, out, errOut = run(env, "okta", "register", "--url", hookURL)
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, "nothing changed")
	assert.Equal(t, 1, fake.Writes(), "the second run wrote nothing")
	hooks := fake.Hooks()
	require.Len(t, hooks, 1)
	assert.Equal(t, "VERIFIED", hooks[0].VerificationStatus)
	assert.ElementsMatch(t, []string{"application.user_membership.add", "application.user_membership.remove",
		"group.privilege.grant", "group.privilege.revoke", "group.user_membership.add", "group.user_membership.remove",
		"user.account.privilege.grant", "user.account.privilege.revoke"}, hooks[0].Events.Items)
	assert.Contains(t, srv.stderr.String(), "answered Okta's verification challenge", "Okta called back")

	// An admin deactivates it; registering again activates it, without rewriting it.
	fake.SetStatus(hooks[0].ID, "INACTIVE")
	code, _, _ = run(env, "okta", "register", "--url", hookURL)
	require.Equal(t, 0, code)
	assert.Equal(t, "ACTIVE", fake.Hooks()[0].Status)
	assert.Equal(t, 1, fake.Writes())

	code, out, _ = run(env, "okta", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "status ACTIVE")
	assert.Contains(t, out, "verification VERIFIED")
	assert.Regexp(t, `user\.account\.privilege\.grant\s+subscribed`, out)
	assert.Regexp(t, `workflows\.user\.role\.user\.add\s+not deliverable by a hook`, out)
	assert.NotContains(t, out, secret)
}

func TestOktaRegisterRefusals(t *testing.T) {
	fake := oktatest.NewEventHooks(t, "manage-token")
	fake.ReadOnly = "read-only-token"
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "s3cret-value",
		"HOOKD_OKTA_ORG_URL": fake.URL, "HOOKD_OKTA_API_TOKEN": "read-only-token"}

	code, _, errOut := run(env, "okta", "register", "--url", "https://hookd.example.com/okta/events")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "okta.eventHooks.manage", "a 403 says which permission is missing")
	assert.NotContains(t, errOut, "read-only-token")

	code, _, errOut = run(env, "okta", "register", "--url", "http://hookd.example.com/okta/events")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "Okta takes only https URLs")

	delete(env, "HOOKD_OKTA_ORG_URL")
	delete(env, "HOOKD_OKTA_API_TOKEN")
	code, _, errOut = run(env, "okta", "status")
	assert.Equal(t, 1, code)
	assert.True(t, strings.Contains(errOut, "HOOKD_OKTA_ORG_URL"), errOut)
}
