package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/okta"
)

// fakeRoles is Okta's role-assignment API for one org: the users holding admin roles, a page
// of one at a time, and each user's and group's roles.
func fakeRoles(t *testing.T, token string, users, groups map[string][]okta.RoleAssignment) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "SSWS "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/iam/assignees/users":
			var ids []string
			for id := range users {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			after := r.URL.Query().Get("after")
			i := 0
			for i < len(ids) && after != "" && ids[i] <= after {
				i++
			}
			page := map[string]any{"value": []any{}}
			if i < len(ids) {
				page["value"] = []any{map[string]string{"id": ids[i], "orn": "orn:okta:directory:x:users:" + ids[i]}}
				if i+1 < len(ids) {
					page["_links"] = map[string]any{"next": map[string]string{"href": srv.URL + "/api/v1/iam/assignees/users?limit=1&after=" + ids[i]}}
				}
			}
			_ = json.NewEncoder(w).Encode(page)
		case strings.HasPrefix(r.URL.Path, "/api/v1/users/") && strings.HasSuffix(r.URL.Path, "/roles"):
			_ = json.NewEncoder(w).Encode(nonNil(users[strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/users/"), "/roles")]))
		case strings.HasPrefix(r.URL.Path, "/api/v1/groups/") && strings.HasSuffix(r.URL.Path, "/roles"):
			_ = json.NewEncoder(w).Encode(nonNil(groups[strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/groups/"), "/roles")]))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func nonNil(r []okta.RoleAssignment) []okta.RoleAssignment {
	if r == nil {
		return []okta.RoleAssignment{}
	}
	return r
}

// TestHoldersSnapshot: the ledger knows Bob's three admin privileges and Trent's self-granted
// super admin; Okta shows two of Bob's (one under another spelling, one through a group that
// does not count as his own) and a super admin the ledger never saw. The snapshot marks the
// two, lists the three differences, exits 1, and changes nothing else.
func TestHoldersSnapshot(t *testing.T) {
	bob, trent := "00u2b0bUs3r4xYz5a6b", "00u7tr3nt1nsd3r0a1b"
	fake := fakeRoles(t, "roles-token", map[string][]okta.RoleAssignment{
		bob: {
			{ID: "ra1", Label: "Super Administrator", Type: "SUPER_ADMIN", Status: "ACTIVE", AssignmentType: "USER"},
			{ID: "ra2", Label: "Organization Administrator", Type: "ORG_ADMIN", Status: "ACTIVE", AssignmentType: "USER"},
			{ID: "ra3", Label: "Read-only Administrator", Type: "READ_ONLY_ADMIN", Status: "ACTIVE", AssignmentType: "GROUP"},
		},
		"00uZed0nlyInOkta001": {{ID: "ra4", Label: "Super Administrator", Type: "SUPER_ADMIN", AssignmentType: "USER"}},
	}, nil)
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "okta-secret")
	require.NoError(t, os.WriteFile(secretPath, []byte("snapshot-secret\n"), 0o600))
	env := map[string]string{"HOOKD_DATA_DIR": filepath.Join(dir, "data"), "HOOKD_OKTA_SECRETS_FILE": secretPath}
	srv := start(t, env)
	code, out, _ := run(env, "replay", "--url", "http://"+srv.addr+"/okta/events", "--secret-file", secretPath,
		filepath.Join(payloads, "privilege-grant-multiple-roles.json"), filepath.Join(payloads, "finding-self-grant.json"))
	require.Equal(t, 0, code, out)
	admin := "http://" + srv.adminAddr
	var before []adminapi.Holder
	require.Eventually(t, func() bool {
		code, out, _ := run(env, "holders", "--json", "--admin-url", admin)
		return code == 0 && json.Unmarshal([]byte(out), &before) == nil && len(before) == 4
	}, 10*time.Second, 50*time.Millisecond)

	// While hookd serves the same store.
	snapEnv := map[string]string{"HOOKD_DATA_DIR": env["HOOKD_DATA_DIR"], "HOOKD_OKTA_SECRETS_FILE": secretPath,
		"HOOKD_OKTA_ORG_URL": fake.URL, "HOOKD_OKTA_API_TOKEN": "roles-token"}
	code, out, errOut := run(snapEnv, "holders", "snapshot")
	assert.Equal(t, 1, code, "differences are a failure for scripts:\n%s\n%s", out, errOut)
	assert.Contains(t, out, "in Okta and in the ledger: 2, marked seen in Okta")
	assert.Contains(t, out, "in Okta, not in the ledger (granted before hookd's history, or a change hookd never saw): 1\n  user 00uZed0nlyInOkta001: Super Administrator")
	assert.Contains(t, out, "in the ledger, not in Okta (taken away without hookd seeing it, or held through a group): 2")
	assert.Contains(t, out, "user Bob Builder ("+bob+"): Read-only administrator")
	assert.Contains(t, out, "user Trent Insider ("+trent+"): Super administrator")
	assert.Contains(t, errOut, "3 differences between Okta and the ledger (listed above); the ledger was not changed")
	assert.NotContains(t, out+errOut, "roles-token")

	var after []adminapi.Holder
	code, out, _ = run(env, "holders", "--json", "--admin-url", admin)
	require.Equal(t, 0, code)
	require.NoError(t, json.Unmarshal([]byte(out), &after))
	require.Len(t, after, 4, "the snapshot adds and removes no holding")
	seen := map[string]bool{}
	for i, h := range after {
		assert.Equal(t, before[i].EventID, h.EventID)
		assert.Equal(t, before[i].KnownBy, h.KnownBy)
		if h.SeenInOkta != nil {
			seen[h.SubjectID+"|"+h.Role] = true
		}
	}
	assert.Equal(t, map[string]bool{bob + "|Super administrator": true, bob + "|Org administrator": true}, seen)
	code, out, _ = run(env, "holders", "--admin-url", admin)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "event, seen in Okta ")

	// A wrong token is a clear error, and the token is never printed.
	snapEnv["HOOKD_OKTA_API_TOKEN"] = "wrong-token"
	code, out, errOut = run(snapEnv, "holders", "snapshot")
	assert.Equal(t, 1, code)
	assert.NotContains(t, out+errOut, "wrong-token")
	assert.NotEmpty(t, errOut)
	require.Equal(t, 0, srv.stop())
}

func TestRoleNamesCompareAcrossOktasSpellings(t *testing.T) {
	for _, same := range [][2]string{
		{"Org administrator", "Organization Administrator"},
		{"Org administrator", "ORG_ADMIN"},
		{"Super administrator", "SUPER_ADMIN"},
		{"Read-only administrator", "Read Only Admin"},
		{"Help Desk Administrator", "HELP_DESK_ADMIN"},
	} {
		assert.Equal(t, roleName(same[0]), roleName(same[1]), "%q and %q", same[0], same[1])
	}
	assert.NotEqual(t, roleName("Super administrator"), roleName("Org administrator"))
}
