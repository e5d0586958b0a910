package hook

import (
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tamperEvent(eventType, targetType, targetID, targetName, result string) *LogEvent {
	return &LogEvent{UUID: "u-" + eventType, EventType: eventType, Published: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC),
		Actor:   &Actor{ID: "00uEve", Type: "User", AlternateID: "eve@acme.example", DisplayName: "Eve Admin"},
		Outcome: &hookd.Outcome{Result: result},
		Target:  []Target{{ID: targetID, Type: targetType, DisplayName: targetName}}}
}

func TestTamperingRecords(t *testing.T) {
	c := &Classifier{OwnHooks: []string{"hookd"}}
	tests := []struct {
		name     string
		ev       *LogEvent
		want     bool
		own      bool
		action   hookd.Action
		kind     hookd.SubjectKind
		subjectD string
	}{
		{"own hook deactivated", tamperEvent("event_hook.deactivated", "EventHook", "who1", "hookd", "SUCCESS"), true, true, hookd.Deactivated, hookd.SubjectEventHook, "hookd"},
		{"another hook deleted", tamperEvent("event_hook.deleted", "EventHook", "who2", "siem-hook", "SUCCESS"), true, false, hookd.Deleted, hookd.SubjectEventHook, "siem-hook"},
		{"own hook by id", tamperEvent("event_hook.updated", "EventHook", "hookd", "renamed", "SUCCESS"), true, true, hookd.Updated, hookd.SubjectEventHook, "renamed"},
		{"own hook delivery failed", tamperEvent("event_hook.delivery", "EventHook", "who1", "hookd", "FAILURE"), true, true, hookd.DeliveryFailed, hookd.SubjectEventHook, "hookd"},
		{"own hook delivery succeeded", tamperEvent("event_hook.delivery", "EventHook", "who1", "hookd", "SUCCESS"), false, false, "", "", ""},
		{"another hook's delivery failed", tamperEvent("event_hook.delivery", "EventHook", "who2", "siem-hook", "FAILURE"), false, false, "", "", ""},
		{"log stream deactivated", tamperEvent("system.log_stream.lifecycle.deactivate", "LogStream", "ls1", "splunk", "SUCCESS"), true, false, hookd.Deactivated, hookd.SubjectLogStream, "splunk"},
		{"support impersonation", tamperEvent("user.session.impersonation.grant", "User", "00uAdm", "Admin", "SUCCESS"), true, false, hookd.Granted, hookd.SubjectUser, "Admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, ok := c.RoleChangeOf(tt.ev, "https://acme.okta.com", hookd.SourceSystemLog)
			require.Equal(t, tt.want, ok)
			if !ok {
				return
			}
			assert.Equal(t, hookd.Tampering, rc.Category)
			assert.Equal(t, tt.own, rc.HookdOwn)
			assert.Equal(t, tt.action, rc.Action)
			assert.Equal(t, tt.kind, rc.Subject.Kind)
			assert.Equal(t, tt.subjectD, rc.Subject.DisplayName)
			assert.Equal(t, "Eve Admin", rc.Actor.DisplayName)
			assert.Empty(t, rc.Incomplete, "no roles are expected of a tampering record")
		})
	}
	// A burst of failed deliveries of one hook is one group per quarter of an hour.
	a, _ := c.RoleChangeOf(tamperEvent("event_hook.delivery", "EventHook", "who1", "hookd", "FAILURE"), "", hookd.SourceSystemLog)
	b := a
	b.Published = a.Published.Add(10 * time.Minute)
	assert.Equal(t, a.GroupKey(), b.GroupKey())
}
