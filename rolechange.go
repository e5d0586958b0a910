package hookd

import (
	"encoding/json"
	"time"
)

// Action says whether a role was given or taken away.
type Action string

// The two actions of a role change.
const (
	Granted Action = "granted"
	Revoked Action = "revoked"
	// The actions of tampering records.
	Deactivated    Action = "deactivated"
	Deleted        Action = "deleted"
	Updated        Action = "updated"
	DeliveryFailed Action = "delivery_failed"
	// The actions of health records.
	Blinded   Action = "blinded"
	Recovered Action = "recovered"
)

// Category says which family of role a change is about; alert titles depend on it.
type Category string

// The families of role change hookd watches.
const (
	WorkflowsRole  Category = "workflows_role"
	AdminPrivilege Category = "admin_privilege"
	AppAssignment  Category = "app_assignment"
	// Tampering is a change that blinds hookd or hides evidence: its event hook deactivated,
	// deleted or changed, its deliveries failing, a log stream turned off, Okta support
	// allowed to impersonate.
	Tampering Category = "tampering"
	// Health is hookd telling of itself: it cannot read what it watches, or reads it again.
	Health Category = "hookd_health"
	// Test is an alert an operator sent from the console to try a sink: no role changed.
	Test Category = "hookd_test"
	// Membership is a user joining or leaving a group, as Okta wrote it. It is a role change
	// only when the group holds a watched role at the time, which the store decides against
	// its ledger (ResolveMembership): the record then takes the group's roles and their
	// category, and names the group in Via.
	Membership Category = "group_membership"
)

// SubjectKind says whether a role was changed for a user or a group.
type SubjectKind string

// The kinds of subject.
const (
	SubjectUser  SubjectKind = "user"
	SubjectGroup SubjectKind = "group"
	// The subjects of tampering records.
	SubjectEventHook SubjectKind = "event_hook"
	SubjectLogStream SubjectKind = "log_stream"
	// SubjectHookd is hookd itself, in health records.
	SubjectHookd SubjectKind = "hookd"
)

// Source says how an event reached hookd.
type Source string

// The two ways in.
const (
	SourceHook      Source = "hook"
	SourceSystemLog Source = "systemlog"
)

// RoleChange is one change of who holds a watched role, the record hookd stores and alerts on.
type RoleChange struct {
	EventID   string    `json:"eventId"`
	EventType string    `json:"eventType"`
	Published time.Time `json:"published"`
	Category  Category  `json:"category"`
	Action    Action    `json:"action"`
	Subject   Subject   `json:"subject"`
	Roles     []Role    `json:"roles"`
	// Via is the group a user's roles come through, for a change of membership of a group
	// that holds them.
	Via *Ref `json:"via,omitempty"`
	// Members are the first members of a group that gained or lost roles, as the store knew
	// them when it accepted the change, and MemberCount is how many it knew in all: they
	// hold what the group holds.
	Members     []Ref `json:"members,omitempty"`
	MemberCount int   `json:"memberCount,omitempty"`
	// Others are targets that are neither the subject nor a role (an app, a folder), kept so
	// that nothing Okta said is lost from the alert.
	Others         []Ref      `json:"others,omitempty"`
	Actor          Ref        `json:"actor"`
	Outcome        Outcome    `json:"outcome"`
	Client         ClientInfo `json:"client"`
	Network        Network    `json:"network"`
	TransactionID  string     `json:"transactionId,omitempty"`
	RequestID      string     `json:"requestId,omitempty"`
	Severity       string     `json:"oktaSeverity,omitempty"`
	DisplayMessage string     `json:"displayMessage,omitempty"`
	Org            string     `json:"org,omitempty"`
	Source         Source     `json:"source"`
	// Incomplete lists what hookd expected and did not find; the record is kept regardless.
	Incomplete []string `json:"incomplete,omitempty"`
	// HookdOwn says that a tampering record's event hook is hookd's own.
	HookdOwn bool `json:"hookdOwn,omitempty"`
	// StorageProblem, when set, says that the database refused to keep the event and it was
	// alerted from the delivery queue instead (it is then not de-duplicated).
	StorageProblem string `json:"storageProblem,omitempty"`
	// Findings are what made hookd look twice at the change (see Finding), computed when it
	// was accepted.
	Findings []Finding `json:"findings,omitempty"`
	// Decision is the newest decision a responder recorded on the change, as it stood when
	// the alert was sent.
	Decision *Decision `json:"decision,omitempty"`
	// EscalatedAfter, on an escalation's alert, is how long the change went unacknowledged
	// (seconds).
	EscalatedAfter int `json:"escalatedAfterSeconds,omitempty"`
	// Raw is the event exactly as Okta sent it, for audit, but for bytes that are not UTF-8:
	// those are replaced with U+FFFD (and Incomplete says so), because every reader of the
	// record (the store, the console's JSON, the sinks' bodies) must be able to read it.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Outcome is the result of the action and, for failures, why.
type Outcome struct {
	Result string `json:"result,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Subject is the user or group whose roles changed.
type Subject struct {
	Kind        SubjectKind `json:"kind"`
	ID          string      `json:"id,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Login       string      `json:"login,omitempty"`
}

// Role is a role, admin privilege or app assignment that was granted or revoked.
type Role struct {
	Name string `json:"name"`
	ID   string `json:"id,omitempty"`
	Type string `json:"type,omitempty"`
}

// Ref names an Okta entity: an actor, or a target that is neither subject nor role.
type Ref struct {
	ID          string `json:"id,omitempty"`
	Type        string `json:"type,omitempty"`
	Login       string `json:"login,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// ClientInfo is where the change was made from.
type ClientInfo struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	Zone      string `json:"zone,omitempty"`
	City      string `json:"city,omitempty"`
	State     string `json:"state,omitempty"`
	Country   string `json:"country,omitempty"`
}

// Network is Okta's view of the network the change came from.
type Network struct {
	ASN     int64    `json:"asn,omitempty"`
	ASOrg   string   `json:"asOrg,omitempty"`
	ISP     string   `json:"isp,omitempty"`
	Domain  string   `json:"domain,omitempty"`
	IsProxy *bool    `json:"isProxy,omitempty"`
	IPChain []string `json:"ipChain,omitempty"`
}

// FromHookd reports whether hookd wrote the record about itself (its health, a test alert)
// rather than Okta about a change: such a record reaches every sink it is sent to, says what
// happened instead of who changed what, and is never escalated.
func (rc *RoleChange) FromHookd() bool {
	return rc.Category == Health || rc.Category == Test
}

// Failed reports whether Okta recorded the attempt as not carried out.
func (rc *RoleChange) Failed() bool {
	switch rc.Outcome.Result {
	case "", "SUCCESS", "ALLOW":
		return false
	}
	return true
}

// RoleNames returns the names of the roles, in order.
func (rc *RoleChange) RoleNames() []string {
	names := make([]string, len(rc.Roles))
	for i, r := range rc.Roles {
		names[i] = r.Name
	}
	return names
}
