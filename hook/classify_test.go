package hook

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func logEvent(eventType string, targets []Target, debug map[string]string) *LogEvent {
	le := &LogEvent{
		UUID: "u1", EventType: eventType, Published: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC),
		Actor:  &Actor{ID: "00uA", Type: "User", AlternateID: "admin@x", DisplayName: "Admin"},
		Target: targets,
	}
	if debug != nil {
		dd := DebugData{}
		for k, v := range debug {
			raw, _ := json.Marshal(v)
			dd[k] = raw
		}
		le.DebugContext = &DebugContext{DebugData: dd}
	}
	return le
}

var (
	userBob   = Target{ID: "00uB", Type: "User", AlternateID: "bob@x", DisplayName: "Bob"}
	appUser   = Target{ID: "0uaB", Type: "AppUser", AlternateID: "bob@x", DisplayName: "Bob"}
	group     = Target{ID: "00gG", Type: "UserGroup", DisplayName: "Builders"}
	wfApp     = Target{ID: "0oaW", Type: "AppInstance", AlternateID: "Okta Workflows", DisplayName: "Okta Workflows"}
	otherApp  = Target{ID: "0oaS", Type: "AppInstance", AlternateID: "Slack", DisplayName: "Slack"}
	folder    = Target{ID: "fld1", Type: "Folder", DisplayName: "Payroll"}
	adminRole = Target{ID: "r1", Type: "WorkflowsRole", DisplayName: "Workflows Administrator"}
)

func TestRoleChangeOf(t *testing.T) {
	tests := []struct {
		name       string
		classifier Classifier
		event      *LogEvent
		watched    bool
		subject    string
		kind       SubjectKind
		action     Action
		roles      []string
		others     int
		incomplete []string
	}{
		{name: "workflows role as target", event: logEvent(WorkflowsUserRoleAdd, []Target{userBob, adminRole}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Granted, roles: []string{"Workflows Administrator"}},
		{name: "role target before subject", event: logEvent(WorkflowsUserRoleRemove, []Target{adminRole, userBob}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Revoked, roles: []string{"Workflows Administrator"}},
		{name: "role in debugData, folder kept as other", event: logEvent(WorkflowsUserRoleAdd, []Target{userBob, folder}, map[string]string{"roleName": "Folder Editor", "roleId": "x"}),
			watched: true, subject: "Bob", kind: SubjectUser, action: Granted, roles: []string{"Folder Editor"}, others: 1},
		{name: "comma list in debugData, duplicates folded", event: logEvent(WorkflowsGroupRoleAdd, []Target{group, adminRole}, map[string]string{"roles": "Workflows Administrator, Folder Reader,,"}),
			watched: true, subject: "Builders", kind: SubjectGroup, action: Granted, roles: []string{"Workflows Administrator", "Folder Reader"}},
		{name: "unknown non-subject target taken as role", event: logEvent(WorkflowsGroupRoleRemove, []Target{group, folder}, nil),
			watched: true, subject: "Builders", kind: SubjectGroup, action: Revoked, roles: []string{"Payroll"}},
		{name: "no role anywhere", event: logEvent(WorkflowsUserRoleAdd, []Target{userBob}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Granted, roles: []string{},
			incomplete: []string{"roles: none found in targets or debugContext.debugData"}},
		{name: "group event with only a user target", event: logEvent(WorkflowsGroupRoleAdd, []Target{userBob, adminRole}, nil),
			watched: true, kind: SubjectGroup, action: Granted, roles: []string{"Workflows Administrator"}, others: 1,
			incomplete: []string{"subject: no target of type UserGroup or Group"}},
		{name: "privilege list", event: logEvent("user.account.privilege.grant", []Target{userBob}, map[string]string{"privilegeGranted": "Super administrator, Org administrator"}),
			watched: true, subject: "Bob", kind: SubjectUser, action: Granted, roles: []string{"Super administrator", "Org administrator"}},
		{name: "revoke reads privilegeRevoked only", event: logEvent("group.privilege.revoke", []Target{group}, map[string]string{"privilegeGranted": "Wrong", "privilegeRevoked": "Help Desk administrator"}),
			watched: true, subject: "Builders", kind: SubjectGroup, action: Revoked, roles: []string{"Help Desk administrator"}},
		{name: "privilege without list", event: logEvent("user.account.privilege.revoke", []Target{userBob}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Revoked, roles: []string{},
			incomplete: []string{"roles: none found in targets or debugContext.debugData"}},
		{name: "workflows app assignment", event: logEvent("application.user_membership.add", []Target{appUser, wfApp, userBob}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Granted, roles: []string{"Okta Workflows"}},
		{name: "app assignment by AppUser only", event: logEvent("application.user_membership.remove", []Target{appUser, wfApp}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Revoked, roles: []string{"Okta Workflows"}},
		{name: "other app is not watched", event: logEvent("application.user_membership.add", []Target{appUser, otherApp, userBob}, nil)},
		{name: "configured app id", classifier: Classifier{WorkflowsApps: []string{"0oaS"}}, event: logEvent("application.user_membership.add", []Target{otherApp, userBob}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Granted, roles: []string{"Slack"}},
		{name: "configured apps replace the defaults", classifier: Classifier{WorkflowsApps: []string{"0oaS"}}, event: logEvent("application.user_membership.add", []Target{wfApp, userBob}, nil)},
		{name: "app assignment without app is kept", event: logEvent("application.user_membership.add", []Target{userBob}, nil),
			watched: true, subject: "Bob", kind: SubjectUser, action: Granted, roles: []string{},
			incomplete: []string{"app: no AppInstance target, so it may or may not be Okta Workflows"}},
		{name: "unwatched type", event: logEvent("user.session.start", []Target{userBob}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, ok := tt.classifier.RoleChangeOf(tt.event, "https://acme.okta.com", SourceSystemLog)
			require.Equal(t, tt.watched, ok)
			if !ok {
				return
			}
			assert.Equal(t, tt.subject, rc.Subject.DisplayName)
			assert.Equal(t, tt.kind, rc.Subject.Kind)
			assert.Equal(t, tt.action, rc.Action)
			assert.Equal(t, tt.roles, rc.RoleNames())
			assert.Len(t, rc.Others, tt.others)
			assert.Equal(t, tt.incomplete, rc.Incomplete)
			assert.Equal(t, "u1", rc.EventID)
			assert.Equal(t, "Admin", rc.Actor.DisplayName)
			assert.Equal(t, SourceSystemLog, rc.Source)
			assert.Equal(t, "https://acme.okta.com", rc.Org)
		})
	}
}

func TestDebugDataList(t *testing.T) {
	dd := DebugData{
		"s":     json.RawMessage(`" a , b,,c "`),
		"arr":   json.RawMessage(`["x", 1, "y", null]`),
		"num":   json.RawMessage(`5`),
		"bad":   json.RawMessage(`"unterminated`),
		"empty": json.RawMessage(`""`),
	}
	assert.Equal(t, []string{"a", "b", "c"}, dd.List("s"))
	assert.Equal(t, []string{"x", "y"}, dd.List("arr"))
	assert.Empty(t, dd.List("num"))
	assert.Empty(t, dd.List("bad"))
	assert.Empty(t, dd.List("empty"))
	assert.Empty(t, dd.List("missing"))
	var none DebugData
	assert.Empty(t, none.List("s"))
}

func TestFailed(t *testing.T) {
	for result, failed := range map[string]bool{"": false, "SUCCESS": false, "ALLOW": false, "FAILURE": true, "DENY": true, "SKIPPED": true, "UNKNOWN": true, "CHALLENGE": true} {
		rc := RoleChange{Outcome: Outcome{Result: result}}
		assert.Equal(t, failed, rc.Failed(), result)
	}
}

func TestWatchedSaysWhichTypesAHookCanDeliver(t *testing.T) {
	all := Watched()
	require.Len(t, all, 17)
	for _, w := range all {
		assert.True(t, IsWatched(w.EventType))
		got, ok := WatchOf(w.EventType)
		require.True(t, ok)
		assert.Equal(t, w, got)
		systemLogOnly := w.Category == WorkflowsRole || w.Category == Tampering
		assert.Equal(t, !systemLogOnly, w.HookEligible, "%s: the catalog marks the Workflows role and event-hook events as not hook-eligible", w.EventType)
	}
	assert.False(t, IsWatched("user.session.start"))
}
