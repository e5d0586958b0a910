package alerting

import (
	"testing"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func change(mutate func(*hookd.RoleChange)) *hookd.RoleChange {
	rc := sample()
	mutate(rc)
	return rc
}

func TestDefaultSeverity(t *testing.T) {
	tests := []struct {
		name string
		rc   *hookd.RoleChange
		want Severity
	}{
		{"Workflows Administrator granted", sample(), Critical},
		{"super admin granted", change(func(rc *hookd.RoleChange) {
			rc.Category, rc.Roles = hookd.AdminPrivilege, []hookd.Role{{Name: "Org administrator"}, {Name: "Super administrator"}}
		}), Critical},
		{"Okta super admin as shown in Workflows", change(func(rc *hookd.RoleChange) { rc.Roles = []hookd.Role{{Name: "Administrator"}} }), Critical},
		{"other grant", change(func(rc *hookd.RoleChange) { rc.Roles = []hookd.Role{{Name: "Folder Reader"}} }), High},
		{"grant with the role not found", change(func(rc *hookd.RoleChange) { rc.Roles = nil }), High},
		{"revoke of a critical role", change(func(rc *hookd.RoleChange) { rc.Action = hookd.Revoked }), Medium},
		{"failed grant of a critical role", change(func(rc *hookd.RoleChange) { rc.Outcome.Result = "FAILURE" }), Medium},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DefaultSeverity(tt.rc), tt.name)
	}
}

func TestSeverityOverrides(t *testing.T) {
	rt := &Routes{Severities: map[string]Severity{"folder reader": Low, "connection manager": Critical}}
	reader := change(func(rc *hookd.RoleChange) { rc.Roles = []hookd.Role{{Name: "Folder Reader"}} })
	assert.Equal(t, Low, rt.SeverityOf(reader))
	both := change(func(rc *hookd.RoleChange) { rc.Roles = []hookd.Role{{Name: "Folder Reader"}, {Name: "Folder Editor"}} })
	assert.Equal(t, High, rt.SeverityOf(both), "the unconfigured role keeps its default")
	assert.Equal(t, Critical, rt.SeverityOf(reader, change(func(rc *hookd.RoleChange) { rc.Roles = []hookd.Role{{Name: "Connection Manager"}} })))
	for _, s := range []string{"low", "MEDIUM", "High", "critical"} {
		_, err := ParseSeverity(s)
		assert.NoError(t, err)
	}
	_, err := ParseSeverity("urgent")
	assert.Error(t, err)
}

func TestRoutes(t *testing.T) {
	all := []string{"console", "slack", "siem"}
	rt := &Routes{
		Rules: []Rule{
			{Name: "ignore the provisioning bot", Actors: []string{"svc-*@acme.example"}, Drop: true},
			{Name: "workflows admins to slack", EventTypes: []string{"workflows.*"}, Roles: []string{"workflows admin*"}, Sinks: []string{"slack", "siem"}},
			{Name: "group changes to the SIEM", SubjectKinds: []string{"group"}, Sinks: []string{"siem"}},
			{Name: "failures", Outcomes: []string{"FAILURE", "DENY"}, Actions: []string{"granted"}, Sinks: []string{"slack"}},
		},
		MinSeverity: map[string]Severity{"slack": High},
	}
	require.NoError(t, rt.Validate(all))
	tests := []struct {
		name string
		rc   *hookd.RoleChange
		want []string
	}{
		{"dropped by actor glob", change(func(rc *hookd.RoleChange) { rc.Actor.Login = "svc-okta@acme.example" }), nil},
		{"first matching rule decides", sample(), []string{"slack", "siem"}},
		{"group rule", change(func(rc *hookd.RoleChange) {
			rc.Subject.Kind, rc.Roles = hookd.SubjectGroup, []hookd.Role{{Name: "Folder Reader"}}
		}), []string{"siem"}},
		{"below slack's minimum severity", change(func(rc *hookd.RoleChange) {
			rc.Outcome.Result = "FAILURE"
			rc.Roles = []hookd.Role{{Name: "Folder Reader"}}
		}), []string{}},
		{"no rule matches: every sink", change(func(rc *hookd.RoleChange) { rc.Roles = []hookd.Role{{Name: "Folder Reader"}} }), all},
		{"no rule matches, slack minimum applies", change(func(rc *hookd.RoleChange) {
			rc.Action, rc.Roles = hookd.Revoked, []hookd.Role{{Name: "Folder Reader"}}
		}), []string{"console", "siem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rt.SinksFor(tt.rc, all)
			if tt.want == nil {
				assert.Nil(t, got)
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRoutesValidate(t *testing.T) {
	sinks := []string{"slack"}
	for _, tt := range []struct {
		rt   Routes
		want string
	}{
		{Routes{Rules: []Rule{{Sinks: []string{"nope"}}}}, `routes[0]: no sink named "nope"`},
		{Routes{Rules: []Rule{{Name: "x"}}}, "routes[0] (x): give either sinks or drop: true"},
		{Routes{Rules: []Rule{{Drop: true, Sinks: []string{"slack"}}}}, "give either sinks or drop: true"},
		{Routes{Rules: []Rule{{Drop: true, Roles: []string{"[bad"}}}}, `pattern "[bad"`},
		{Routes{MinSeverity: map[string]Severity{"teams": High}}, `min_severity: no sink named "teams"`},
	} {
		err := tt.rt.Validate(sinks)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
}

func TestFindingsRaiseSeverity(t *testing.T) {
	with := func(base func(*hookd.RoleChange), findings ...hookd.Finding) *hookd.RoleChange {
		return change(func(rc *hookd.RoleChange) { base(rc); rc.Findings = findings })
	}
	reader := func(rc *hookd.RoleChange) { rc.Roles = []hookd.Role{{Name: "Folder Reader"}} }
	revoke := func(rc *hookd.RoleChange) { rc.Action, rc.Roles = hookd.Revoked, []hookd.Role{{Name: "Folder Reader"}} }
	high := hookd.Finding{ID: "burst", Severity: "high"}
	critical := hookd.Finding{ID: "self-grant", Severity: "critical"}
	assert.Equal(t, High, DefaultSeverity(with(revoke, high)), "a short-lived revoke: medium raised a step")
	assert.Equal(t, Critical, DefaultSeverity(with(reader, high)), "a burst of grants: high raised a step")
	assert.Equal(t, Critical, DefaultSeverity(with(revoke, critical)), "at least the finding's own")
	assert.Equal(t, Critical, DefaultSeverity(with(func(*hookd.RoleChange) {}, high)), "critical stays critical")
	rt := &Routes{Severities: map[string]Severity{"folder reader": Low}}
	assert.Equal(t, High, rt.SeverityOf(with(reader, high)), "at least the finding's own, whatever the role's configured severity")
	assert.Equal(t, Low, rt.SeverityOf(with(reader)), "no finding: the configured severity")
}

func TestRouteOnFindings(t *testing.T) {
	rt := &Routes{Rules: []Rule{
		{Name: "page", Findings: []string{"self-grant", "short-*"}, Sinks: []string{"pager"}},
		{Name: "any-finding", Findings: []string{"*"}, Sinks: []string{"slack", "siem"}},
	}}
	require.NoError(t, rt.Validate([]string{"pager", "slack", "siem"}))
	all := []string{"pager", "slack", "siem"}
	self := change(func(rc *hookd.RoleChange) { rc.Findings = []hookd.Finding{{ID: "burst"}, {ID: "self-grant"}} })
	burst := change(func(rc *hookd.RoleChange) { rc.Findings = []hookd.Finding{{ID: "burst"}} })
	plain := sample()
	assert.Equal(t, []string{"pager"}, rt.SinksFor(self, all))
	assert.Equal(t, []string{"slack", "siem"}, rt.SinksFor(burst, all))
	assert.Equal(t, all, rt.SinksFor(plain, all), "no finding: no rule matches, every sink")
	bad := &Routes{Rules: []Rule{{Findings: []string{"[self"}, Sinks: []string{"pager"}}}}
	assert.Error(t, bad.Validate(all))
}
