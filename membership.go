package hookd

import "time"

// The group membership event types.
const (
	GroupMembershipAdd    = "group.user_membership.add"
	GroupMembershipRemove = "group.user_membership.remove"
)

// GroupRole is a role a group holds, as the store's ledger has it.
type GroupRole struct {
	Role     Role
	Category Category
	// Since is when the group got it, in Okta's time.
	Since time.Time
}

// ResolveMembership makes a membership record (Category Membership) the role change it is,
// given the roles its group held when the membership changed: it takes them and their
// category, an admin privilege's when the group holds one (the one severity and routes must
// not miss), else the Workflows role's. It reports false, changing nothing,
// when the group held none: joining such a group gives no watched role.
//
// It may be called again on the same record with what the ledger says then.
func (rc *RoleChange) ResolveMembership(held []GroupRole) bool {
	if !rc.IsMembership() {
		return false
	}
	rc.Category, rc.Roles = Membership, []Role{}
	if rc.Via == nil || len(held) == 0 {
		return false
	}
	rc.Roles = make([]Role, 0, len(held))
	rc.Category = WorkflowsRole
	for _, g := range held {
		rc.Roles = append(rc.Roles, g.Role)
		if g.Category == AdminPrivilege {
			rc.Category = AdminPrivilege
		}
	}
	return true
}

// IsMembership reports whether the record is a change of group membership, resolved
// (ResolveMembership) or not.
func (rc *RoleChange) IsMembership() bool {
	return rc.EventType == GroupMembershipAdd || rc.EventType == GroupMembershipRemove
}
