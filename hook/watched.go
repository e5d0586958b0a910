package hook

import (
	"sort"

	"github.com/hookd/hookd"
)

// Watch describes one event type hookd turns into RoleChanges.
type Watch struct {
	EventType string            `json:"eventType"`
	Category  hookd.Category    `json:"category"`
	Action    hookd.Action      `json:"action"`
	Kind      hookd.SubjectKind `json:"subjectKind"`
	// HookEligible is whether Okta's event-type catalog lets an event hook deliver this type.
	// Those that are not can only be read from the System Log API.
	HookEligible bool `json:"hookEligible"`
}

// The Workflows role event types, which Okta's catalog does not mark as hook-eligible.
const (
	WorkflowsUserRoleAdd     = "workflows.user.role.user.add"
	WorkflowsUserRoleRemove  = "workflows.user.role.user.remove"
	WorkflowsGroupRoleAdd    = "workflows.user.role.group.add"
	WorkflowsGroupRoleRemove = "workflows.user.role.group.remove"
)

var watched = map[string]Watch{
	WorkflowsUserRoleAdd:                 {Category: hookd.WorkflowsRole, Action: hookd.Granted, Kind: hookd.SubjectUser},
	WorkflowsUserRoleRemove:              {Category: hookd.WorkflowsRole, Action: hookd.Revoked, Kind: hookd.SubjectUser},
	WorkflowsGroupRoleAdd:                {Category: hookd.WorkflowsRole, Action: hookd.Granted, Kind: hookd.SubjectGroup},
	WorkflowsGroupRoleRemove:             {Category: hookd.WorkflowsRole, Action: hookd.Revoked, Kind: hookd.SubjectGroup},
	"user.account.privilege.grant":       {Category: hookd.AdminPrivilege, Action: hookd.Granted, Kind: hookd.SubjectUser, HookEligible: true},
	"user.account.privilege.revoke":      {Category: hookd.AdminPrivilege, Action: hookd.Revoked, Kind: hookd.SubjectUser, HookEligible: true},
	"group.privilege.grant":              {Category: hookd.AdminPrivilege, Action: hookd.Granted, Kind: hookd.SubjectGroup, HookEligible: true},
	"group.privilege.revoke":             {Category: hookd.AdminPrivilege, Action: hookd.Revoked, Kind: hookd.SubjectGroup, HookEligible: true},
	"application.user_membership.add":    {Category: hookd.AppAssignment, Action: hookd.Granted, Kind: hookd.SubjectUser, HookEligible: true},
	"application.user_membership.remove": {Category: hookd.AppAssignment, Action: hookd.Revoked, Kind: hookd.SubjectUser, HookEligible: true},
	// Joining a group that holds a role is getting the role (Okta recommends granting roles to
	// groups), and Okta writes only the membership event for it.
	hookd.GroupMembershipAdd:    {Category: hookd.Membership, Action: hookd.Granted, Kind: hookd.SubjectUser, HookEligible: true},
	hookd.GroupMembershipRemove: {Category: hookd.Membership, Action: hookd.Revoked, Kind: hookd.SubjectUser, HookEligible: true},
	// What blinds hookd or hides evidence. Okta's catalog tags event_hook.* "event-hook" only,
	// not eligible: they come by the System Log.
	"event_hook.deactivated":                 {Category: hookd.Tampering, Action: hookd.Deactivated, Kind: hookd.SubjectEventHook},
	"event_hook.deleted":                     {Category: hookd.Tampering, Action: hookd.Deleted, Kind: hookd.SubjectEventHook},
	"event_hook.updated":                     {Category: hookd.Tampering, Action: hookd.Updated, Kind: hookd.SubjectEventHook},
	"event_hook.delivery":                    {Category: hookd.Tampering, Action: hookd.DeliveryFailed, Kind: hookd.SubjectEventHook},
	"system.log_stream.lifecycle.deactivate": {Category: hookd.Tampering, Action: hookd.Deactivated, Kind: hookd.SubjectLogStream},
	"system.log_stream.lifecycle.delete":     {Category: hookd.Tampering, Action: hookd.Deleted, Kind: hookd.SubjectLogStream},
	"user.session.impersonation.grant":       {Category: hookd.Tampering, Action: hookd.Granted, Kind: hookd.SubjectUser},
}

func init() {
	for t, w := range watched {
		w.EventType = t
		watched[t] = w
	}
}

// IsWatched reports whether hookd turns events of this type into RoleChanges. Callers count
// the others as not watched; they are never an error.
func IsWatched(eventType string) bool {
	_, ok := watched[eventType]
	return ok
}

// WatchOf returns the description of a watched event type.
func WatchOf(eventType string) (Watch, bool) {
	w, ok := watched[eventType]
	return w, ok
}

// HookEligible reports whether an event hook can deliver the watched type (false for a type
// hookd does not watch).
func HookEligible(eventType string) bool { return watched[eventType].HookEligible }

// WatchedTypes lists the names of the watched event types, sorted.
func WatchedTypes() []string {
	out := make([]string, 0, len(watched))
	for _, w := range Watched() {
		out = append(out, w.EventType)
	}
	return out
}

// Watched lists every watched event type, sorted by name.
func Watched() []Watch {
	out := make([]Watch, 0, len(watched))
	for _, w := range watched {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EventType < out[j].EventType })
	return out
}
