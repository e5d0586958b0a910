package hookd

import "time"

// The event types of hookd's own health records.
const (
	// HealthSystemLogBlinded: the System Log poller has not completed a cycle for too long.
	HealthSystemLogBlinded = "hookd.systemlog.blinded"
	// HealthSystemLogRecovered: it reads again.
	HealthSystemLogRecovered = "hookd.systemlog.recovered"
	// HealthStoreOutage: the store was unavailable and Okta's deliveries were refused.
	HealthStoreOutage = "hookd.store.outage"
)

// HealthRecord is a record of hookd's own health, which travels the pipeline like a role
// change and reaches every sink: id makes it alert once (replicas and repeated checks make
// the same id), about names the part of hookd, message says what happened.
func HealthRecord(id, eventType string, action Action, at time.Time, about, org, message string, src Source) RoleChange {
	return RoleChange{
		EventID: id, EventType: eventType, Published: at.UTC(),
		Category: Health, Action: action, Roles: []Role{},
		Subject:        Subject{Kind: SubjectHookd, DisplayName: about},
		Actor:          Ref{DisplayName: "hookd"},
		Outcome:        Outcome{Result: "SUCCESS"},
		DisplayMessage: message,
		Org:            org,
		Source:         src,
		Raw:            []byte(`{}`),
	}
}
