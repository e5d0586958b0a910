package alerting_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A role held through a group says so in every format: the title, the group, and for a
// group's own change its members.
func TestEveryFormatNamesTheGroupARoleComesThrough(t *testing.T) {
	join := &hookd.RoleChange{EventID: "m1", EventType: hookd.GroupMembershipAdd, Published: time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC),
		Category: hookd.WorkflowsRole, Action: hookd.Granted, Roles: []hookd.Role{{Name: "Connection Manager"}},
		Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: "00uM", DisplayName: "Mallory"},
		Via:     &hookd.Ref{ID: "00gFlow", Type: "UserGroup", DisplayName: "Flow Builders"},
		Actor:   hookd.Ref{ID: "00uM", DisplayName: "Mallory"}}
	grant := &hookd.RoleChange{EventID: "g1", EventType: hook.WorkflowsGroupRoleAdd, Published: join.Published,
		Category: hookd.WorkflowsRole, Action: hookd.Granted, Roles: []hookd.Role{{Name: "Connection Manager"}},
		Subject: hookd.Subject{Kind: hookd.SubjectGroup, ID: "00gFlow", DisplayName: "Flow Builders"},
		Members: []hookd.Ref{{ID: "00uA", DisplayName: "Ann"}, {ID: "00uB", DisplayName: "Ben"}}, MemberCount: 7,
		Actor: hookd.Ref{ID: "00uAdmin", DisplayName: "Admin"}}

	for _, tt := range []struct {
		rc   *hookd.RoleChange
		want []string
	}{
		{join, []string{"Workflows role granted through group membership", "Flow Builders"}},
		{grant, []string{"Ann", "Ben", "and 5 more"}},
	} {
		a := &alerting.Alert{Changes: []*hookd.RoleChange{tt.rc}, Severity: alerting.High}
		slack := alerting.RenderSlack(a).AllText()
		teams, err := json.Marshal(alerting.RenderTeams(a))
		require.NoError(t, err)
		pd, err := json.Marshal(alerting.RenderPagerDuty("oncall", a))
		require.NoError(t, err)
		line := alerting.ConsoleLine(tt.rc, a.Severity)
		for _, w := range tt.want {
			for name, text := range map[string]string{"slack": slack, "teams": string(teams), "pagerduty": string(pd)} {
				assert.Contains(t, text, w, "%s of %s", name, tt.rc.EventID)
			}
		}
		if tt.rc.Via != nil {
			assert.True(t, strings.HasPrefix(line, "ALERT high Workflows role granted through group membership:"), line)
			assert.Contains(t, line, `via_group="Flow Builders"`)
		} else {
			assert.Contains(t, line, "members=7")
		}
	}
}
