package hookd

import (
	"cmp"
	"strings"
)

// Finding is something about a role change that makes it worth a closer look than the change
// alone: a self-grant, a role held for minutes, a granter only just made privileged. hookd
// computes findings from what it has stored when it accepts the change.
type Finding struct {
	// ID names the detection: self-grant, short-lived, fresh-granter, new-network, burst or
	// off-hours.
	ID string `json:"id"`
	// Title is the finding in a few words; Detail says what hookd saw, with names and times.
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Severity is the least severity the change's alert gets: high or critical.
	Severity string `json:"severity"`
}

// The detections, by finding ID.
const (
	FindingSelfGrant    = "self-grant"
	FindingShortLived   = "short-lived"
	FindingFreshGranter = "fresh-granter"
	FindingNewNetwork   = "new-network"
	FindingBurst        = "burst"
	FindingOffHours     = "off-hours"
)

// FindingIDs lists the detections' finding IDs, for filters.
var FindingIDs = []string{FindingSelfGrant, FindingShortLived, FindingFreshGranter, FindingNewNetwork, FindingBurst, FindingOffHours}

// criticalRoles are the roles that hand over the keys: the Workflows org admin role (the
// Okta super admin shows in Workflows as "Administrator") and Okta's super admin.
var criticalRoles = map[string]bool{
	"workflows administrator": true,
	"administrator":           true,
	"super administrator":     true,
	"super admin":             true,
	"super_admin":             true,
}

// CriticalRole reports whether a role, by name, hands over the keys to the org or to
// Workflows.
func CriticalRole(name string) bool {
	return criticalRoles[strings.ToLower(strings.TrimSpace(name))]
}

// Privileged reports whether a role of a change of this category is an administrator's: any
// Okta admin privilege, or a critical Workflows role.
func Privileged(c Category, r Role) bool {
	return c == AdminPrivilege || CriticalRole(r.Name)
}

// SubjectKey identifies the change's subject within its kind: Okta's id, or, when Okta gave
// none, "name:" and its login or display name. It is empty when Okta named no subject.
func (rc *RoleChange) SubjectKey() string {
	if rc.Subject.ID != "" {
		return rc.Subject.ID
	}
	if n := cmp.Or(rc.Subject.Login, rc.Subject.DisplayName); n != "" {
		return "name:" + n
	}
	return ""
}

// ActorKey identifies the change's actor: Okta's id, else "name:" and its login. It is empty
// when Okta named no actor.
func (rc *RoleChange) ActorKey() string {
	if rc.Actor.ID != "" {
		return rc.Actor.ID
	}
	if n := cmp.Or(rc.Actor.Login, rc.Actor.DisplayName); n != "" {
		return "name:" + n
	}
	return ""
}

// Key identifies a role: Okta's id, else "name:" and its lower-case name.
func (r Role) Key() string {
	if r.ID != "" {
		return r.ID
	}
	return "name:" + strings.ToLower(r.Name)
}

// ChangesHolding reports whether the change gives or takes a role: a successful grant or
// revoke of a Workflows role, admin privilege or app assignment, to a user or group Okta
// named. Failed attempts, tampering and health records change no holding.
//
// A change of membership gives or takes the group's roles (ChangesAccess) but changes no row
// of the ledger's own: the holdings through a group follow from the membership.
func (rc *RoleChange) ChangesHolding() bool {
	return rc.Via == nil && rc.ChangesAccess()
}

// ChangesAccess reports whether the change gives or takes a role, directly (ChangesHolding)
// or through a group: a membership of a group that held roles at the time.
func (rc *RoleChange) ChangesAccess() bool {
	if rc.Failed() || (rc.Action != Granted && rc.Action != Revoked) {
		return false
	}
	switch rc.Category {
	case WorkflowsRole, AdminPrivilege, AppAssignment:
	default:
		return false
	}
	if rc.Subject.Kind != SubjectUser && rc.Subject.Kind != SubjectGroup {
		return false
	}
	return rc.SubjectKey() != ""
}
