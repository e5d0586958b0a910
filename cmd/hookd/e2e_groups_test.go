package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func holdersVia(t *testing.T, adminAddr, query string) map[string]string {
	t.Helper()
	var holders []adminapi.Holder
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, "http://"+adminAddr+"/api/v1/holders"+query)), &holders))
	out := map[string]string{}
	for _, h := range holders {
		if h.Via != "" {
			out[h.SubjectID] = h.Via + " (" + h.KnownBy + ")"
		}
	}
	return out
}

// TestGroupMembersFromOktasGroupsAPI: a group gains a Workflows role (by the System Log);
// serve reads its members from Okta's Groups API, and they are holders through the group.
// The console's group filter finds them; hookd holders shows the path.
func TestGroupMembersFromOktasGroupsAPI(t *testing.T) {
	okta := systemlogtest.NewOkta(t, "okta-api-token")
	groups := &oktatest.Groups{PageSize: 1} // one member a page: paging is followed
	groups.SetMembers("00gFlow", oktatest.Member{ID: "00uAnn", Login: "ann@acme.example", FirstName: "Ann", LastName: "Lee"},
		oktatest.Member{ID: "00uBen", Login: "ben@acme.example", FirstName: "Ben", LastName: "Ode"})
	okta.Mount("/api/v1/groups/", groups)
	okta.AddRaw(hook.WorkflowsGroupRoleAdd, time.Now().Add(-time.Minute),
		oktaEvent("g-flow", hook.WorkflowsGroupRoleAdd, time.Now().Add(-time.Minute), "00uAdmin", "", groupTarget("00gFlow", "Flow Builders"), wfRole))
	env := map[string]string{
		"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": "hook-secret",
		"HOOKD_OKTA_ORG_URL": okta.URL, "HOOKD_OKTA_API_TOKEN": "okta-api-token",
		"HOOKD_SYSTEMLOG_POLL_INTERVAL": "1s", "HOOKD_GROUP_WINDOW": "0s",
	}
	srv := start(t, env)
	require.Eventually(t, func() bool { return len(holdersVia(t, srv.adminAddr, "")) == 2 }, 20*time.Second, 100*time.Millisecond, srv.stderr.String())
	assert.Equal(t, map[string]string{"00uAnn": "Flow Builders (okta)", "00uBen": "Flow Builders (okta)"}, holdersVia(t, srv.adminAddr, "?group=flow"))
	assert.Empty(t, holdersVia(t, srv.adminAddr, "?group=lunch"))
	assert.GreaterOrEqual(t, groups.Requests(), 2, "two pages")

	code, out, errOut := run(map[string]string{"HOOKD_ADMIN_ADDR": srv.adminAddr}, "holders", "--group", "Flow Builders")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "via Flow Builders")
	assert.Contains(t, out, "Ann Lee")
	assert.NotContains(t, srv.stderr.String(), "okta-api-token")
}

// TestDeclaredGroupRoleAlertsJoins: a Workflows role older than the System Log's memory is
// declared; a user joining that group is then alerted with it.
func TestDeclaredGroupRoleAlertsJoins(t *testing.T) {
	const secret = "declare-secret"
	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir(), "HOOKD_OKTA_SECRETS": secret, "HOOKD_GROUP_WINDOW": "0s"}
	code, _, errOut := run(env, "holders", "declare")
	assert.Equal(t, 2, code, "a usage mistake")
	assert.Contains(t, errOut, "name the group's Okta id and the Workflows role")
	code, out, errOut := run(env, "holders", "declare", "--name", "Old Builders", "00gOld", "Flow Builder")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `declared: group 00gOld holds the Workflows role "Flow Builder"`)

	srv := start(t, env)
	ev := oktaEvent("m-join", hookd.GroupMembershipAdd, time.Now(), "00uAdmin", "", userTarget("00uBob"), groupTarget("00gOld", "Old Builders"))
	require.Equal(t, http.StatusOK, postDelivery(t, srv.addr, secret, oktagen.Delivery(ev)))
	require.Eventually(t, func() bool { return strings.Contains(srv.stdout.String(), `event="m-join"`) }, 10*time.Second, 50*time.Millisecond)
	assert.Contains(t, srv.stdout.String(), `ALERT high Workflows role granted through group membership: roles="Flow Builder"`)
	var holders []adminapi.Holder
	require.NoError(t, json.Unmarshal([]byte(httpGet(t, "http://"+srv.adminAddr+"/api/v1/holders?group=00gOld")), &holders))
	kinds := map[string]string{}
	for _, h := range holders {
		kinds[h.SubjectKind+" "+h.SubjectID] = h.KnownBy
	}
	assert.Equal(t, map[string]string{"group 00gOld": adminapi.KnownByDeclared, "user 00uBob": adminapi.KnownByEvent}, kinds)
}
