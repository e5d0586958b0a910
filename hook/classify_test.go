package hook

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookd/hookd"
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
		kind       hookd.SubjectKind
		action     hookd.Action
		roles      []string
		others     int
		incomplete []string
	}{
		{name: "workflows role as target", event: logEvent(WorkflowsUserRoleAdd, []Target{userBob, adminRole}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Granted, roles: []string{"Workflows Administrator"}},
		{name: "role target before subject", event: logEvent(WorkflowsUserRoleRemove, []Target{adminRole, userBob}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Revoked, roles: []string{"Workflows Administrator"}},
		{name: "role in debugData, folder kept as other", event: logEvent(WorkflowsUserRoleAdd, []Target{userBob, folder}, map[string]string{"roleName": "Folder Editor", "roleId": "x"}),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Granted, roles: []string{"Folder Editor"}, others: 1},
		{name: "comma list in debugData, duplicates folded", event: logEvent(WorkflowsGroupRoleAdd, []Target{group, adminRole}, map[string]string{"roles": "Workflows Administrator, Folder Reader,,"}),
			watched: true, subject: "Builders", kind: hookd.SubjectGroup, action: hookd.Granted, roles: []string{"Workflows Administrator", "Folder Reader"}},
		{name: "unknown non-subject target taken as role", event: logEvent(WorkflowsGroupRoleRemove, []Target{group, folder}, nil),
			watched: true, subject: "Builders", kind: hookd.SubjectGroup, action: hookd.Revoked, roles: []string{"Payroll"}},
		{name: "no role anywhere", event: logEvent(WorkflowsUserRoleAdd, []Target{userBob}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Granted, roles: []string{},
			incomplete: []string{"roles: none found in targets or debugContext.debugData"}},
		{name: "group event with only a user target", event: logEvent(WorkflowsGroupRoleAdd, []Target{userBob, adminRole}, nil),
			watched: true, kind: hookd.SubjectGroup, action: hookd.Granted, roles: []string{"Workflows Administrator"}, others: 1,
			incomplete: []string{"subject: no target of type UserGroup or Group"}},
		{name: "privilege list", event: logEvent("user.account.privilege.grant", []Target{userBob}, map[string]string{"privilegeGranted": "Super administrator, Org administrator"}),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Granted, roles: []string{"Super administrator", "Org administrator"}},
		{name: "revoke reads privilegeRevoked only", event: logEvent("group.privilege.revoke", []Target{group}, map[string]string{"privilegeGranted": "Wrong", "privilegeRevoked": "Help Desk administrator"}),
			watched: true, subject: "Builders", kind: hookd.SubjectGroup, action: hookd.Revoked, roles: []string{"Help Desk administrator"}},
		{name: "privilege without list", event: logEvent("user.account.privilege.revoke", []Target{userBob}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Revoked, roles: []string{},
			incomplete: []string{"roles: none found in targets or debugContext.debugData"}},
		{name: "workflows app assignment", event: logEvent("application.user_membership.add", []Target{appUser, wfApp, userBob}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Granted, roles: []string{"Okta Workflows"}},
		{name: "app assignment by AppUser only", event: logEvent("application.user_membership.remove", []Target{appUser, wfApp}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Revoked, roles: []string{"Okta Workflows"}},
		{name: "other app is not watched", event: logEvent("application.user_membership.add", []Target{appUser, otherApp, userBob}, nil)},
		{name: "configured app id", classifier: Classifier{WorkflowsApps: []string{"0oaS"}}, event: logEvent("application.user_membership.add", []Target{otherApp, userBob}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Granted, roles: []string{"Slack"}},
		{name: "configured apps replace the defaults", classifier: Classifier{WorkflowsApps: []string{"0oaS"}}, event: logEvent("application.user_membership.add", []Target{wfApp, userBob}, nil)},
		{name: "app assignment without app is kept", event: logEvent("application.user_membership.add", []Target{userBob}, nil),
			watched: true, subject: "Bob", kind: hookd.SubjectUser, action: hookd.Granted, roles: []string{},
			incomplete: []string{"app: no AppInstance target, so it may or may not be Okta Workflows"}},
		{name: "unwatched type", event: logEvent("user.session.start", []Target{userBob}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, ok := tt.classifier.RoleChangeOf(tt.event, "https://acme.okta.com", hookd.SourceSystemLog)
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
			assert.Equal(t, hookd.SourceSystemLog, rc.Source)
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
		rc := hookd.RoleChange{Outcome: hookd.Outcome{Result: result}}
		assert.Equal(t, failed, rc.Failed(), result)
	}
}

func TestWatchedSaysWhichTypesAHookCanDeliver(t *testing.T) {
	all := Watched()
	require.Len(t, all, 19) // with group.user_membership.add and .remove
	for _, w := range all {
		assert.True(t, IsWatched(w.EventType))
		got, ok := WatchOf(w.EventType)
		require.True(t, ok)
		assert.Equal(t, w, got)
		systemLogOnly := w.Category == hookd.WorkflowsRole || w.Category == hookd.Tampering
		assert.Equal(t, !systemLogOnly, w.HookEligible, "%s: the catalog marks the Workflows role and event-hook events as not hook-eligible", w.EventType)
	}
	assert.False(t, IsWatched("user.session.start"))
}

// badStringsEvent is a watched event with bad put in every string hookd copies into a record,
// and in a key it does not read.
func badStringsEvent(bad string) string {
	return strings.NewReplacer("BAD", bad).Replace(`{"uuid":"u-BAD","eventType":"workflows.user.role.user.add",` +
		`"published":"2026-11-20T14:00:00Z","severity":"INFOBAD","displayMessage":"Add BAD role",` +
		`"actor":{"id":"00uBAD","type":"User","alternateId":"eve@BAD","displayName":"Eve BAD"},` +
		`"client":{"ipAddress":"192.0.2.1BAD","zone":"BAD","userAgent":{"rawUserAgent":"curl BAD"},` +
		`"geographicalContext":{"city":"BAD","state":"BAD","country":"BAD"}},` +
		`"securityContext":{"asOrg":"BAD","isp":"BAD","domain":"BAD"},"request":{"ipChain":[{"ip":"BAD"}]},` +
		`"outcome":{"result":"SUCCESS","reason":"BAD"},"transaction":{"id":"tBAD"},` +
		`"debugContext":{"debugData":{"requestId":"rBAD","roleName":"Folder BAD","roles":["BAD Reader"],"nBAD":1}},` +
		`"target":[{"id":"00uBob","type":"User","alternateId":"bob@BAD","displayName":"Bob BAD"},` +
		`{"id":"r1","type":"WorkflowsRole","displayName":"Admin BAD"},{"id":"f1","type":"Folder","displayName":"Payroll BAD"}]}`)
}

// TestClassifyKeepsRecordsValidUTF8: Okta's strings are UTF-8, but a body may hold bytes that
// are not, or escapes of lone surrogates. Every reader of a record (the store, the console's
// JSON, the sinks' bodies) must get valid UTF-8, the raw event included; the record says when
// the raw event had to be changed for that.
func TestClassifyKeepsRecordsValidUTF8(t *testing.T) {
	tests := []struct {
		name string
		bad  string // as it stands in the JSON text
		// changed says whether the raw event's bytes have to change.
		changed bool
	}{
		{"invalid byte", "\xff", true},
		{"truncated sequence", "\xe2\x82", true},
		{"UTF-8 of a surrogate", "\xed\xa0\x80", true},
		{"lone surrogate escape", `\ud800`, false},
		{"reversed surrogate pair escape", `\udc00\ud800`, false},
	}
	paths := []struct {
		name   string
		decode func(t *testing.T, raw string) Event
	}{
		{"hook", func(t *testing.T, raw string) Event {
			b, err := DecodeBytes([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[` + raw + `]}}`))
			require.NoError(t, err)
			require.Len(t, b.Events, 1)
			return b.Events[0]
		}},
		{"systemlog", func(t *testing.T, raw string) Event {
			b, err := DecodeEvents(strings.NewReader(`[` + raw + `]`))
			require.NoError(t, err)
			require.Len(t, b.Events, 1)
			return b.Events[0]
		}},
	}
	for _, tt := range tests {
		for _, path := range paths {
			t.Run(tt.name+"/"+path.name, func(t *testing.T) {
				raw := badStringsEvent(tt.bad)
				require.Equal(t, tt.changed, !utf8.ValidString(raw))
				// What the typed fields hold is what encoding/json makes of the same string.
				var want string
				require.NoError(t, json.Unmarshal([]byte(`"`+tt.bad+`"`), &want))
				require.True(t, utf8.ValidString(want))

				var c Classifier
				rc, ok := c.Classify(path.decode(t, raw), "", hookd.SourceHook)
				require.True(t, ok)
				assert.True(t, utf8.Valid(rc.Raw), "raw: %q", rc.Raw)
				assert.True(t, json.Valid(rc.Raw), "raw: %q", rc.Raw)
				if tt.changed {
					assert.Equal(t, []string{"raw: invalid UTF-8 replaced with U+FFFD"}, rc.Incomplete)
					assert.Equal(t, badStringsEvent(want), string(rc.Raw), "each invalid byte becomes U+FFFD, as a decoder reads it")
					again, ok := c.Classify(Event{UUID: rc.EventID, EventType: rc.EventType, Published: rc.Published, Raw: rc.Raw}, "", hookd.SourceHook)
					require.True(t, ok)
					assert.Empty(t, again.Incomplete)
					again.Raw, again.Incomplete = rc.Raw, rc.Incomplete
					assert.Equal(t, rc, again, "the new raw event reads as the same record")
				} else {
					assert.Empty(t, rc.Incomplete)
					assert.Equal(t, raw, string(rc.Raw), "valid raw is kept as Okta sent it")
				}
				assert.Equal(t, "Eve "+want, rc.Actor.DisplayName)
				assert.Equal(t, "Bob "+want, rc.Subject.DisplayName)
				assert.Equal(t, "bob@"+want, rc.Subject.Login)
				assert.Equal(t, "Add "+want+" role", rc.DisplayMessage)
				assert.Equal(t, []string{"Admin " + want, "Folder " + want, want + " Reader"}, rc.RoleNames())
				require.Len(t, rc.Others, 1)
				assert.Equal(t, "Payroll "+want, rc.Others[0].DisplayName)
				for _, s := range stringsOf(reflect.ValueOf(rc), "RoleChange") {
					assert.True(t, utf8.ValidString(s.value), "%s: %q", s.path, s.value)
				}
			})
		}
	}
}

// field is one string found in a value, and where.
type field struct{ path, value string }

// stringsOf returns every string under v, with its path; byte slices are not strings.
func stringsOf(v reflect.Value, path string) []field {
	var out []field
	switch v.Kind() {
	case reflect.String:
		out = append(out, field{path, v.String()})
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			out = stringsOf(v.Elem(), path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = append(out, stringsOf(v.Field(i), path+"."+v.Type().Field(i).Name)...)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i := range v.Len() {
			out = append(out, stringsOf(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			out = append(out, stringsOf(k, path+"{key}")...)
			out = append(out, stringsOf(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k))...)
		}
	}
	return out
}
