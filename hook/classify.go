package hook

import (
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/parts"
)

// DefaultWorkflowsApps identifies the Okta Workflows app instance in application membership
// events: its OIN app name and its default label.
var DefaultWorkflowsApps = []string{"okta_flow_sso", "Okta Workflows"}

// Classifier turns watched LogEvents into RoleChanges. The zero value uses DefaultWorkflowsApps.
type Classifier struct {
	// WorkflowsApps are the ids, app names or labels (matched without regard to case) of the app
	// instances whose assignment counts as access to Okta Workflows.
	WorkflowsApps []string
	// OwnHooks are the names or ids of hookd's own event hooks: tampering with them is
	// critical, and only their delivery failures are alerted (default: "hookd").
	OwnHooks []string
}

// Classify decodes a checked event of a batch and returns its RoleChange, or false when the
// event's type is not watched (or is an app assignment to another app than Workflows).
func (c *Classifier) Classify(ev Event, org string, src hookd.Source) (hookd.RoleChange, bool) {
	if !IsWatched(ev.EventType) {
		return hookd.RoleChange{}, false
	}
	le, problem := ev.LogEvent()
	rc, ok := c.RoleChangeOf(&le, org, src)
	if !ok {
		return hookd.RoleChange{}, false
	}
	rc.Raw = ev.Raw
	if !utf8.Valid(ev.Raw) {
		// The typed fields read such bytes as U+FFFD already; the raw event goes on to the
		// store, the console and the sinks' bodies, which must be able to read it too.
		rc.Raw = replaceInvalidUTF8(ev.Raw)
		rc.Incomplete = append(rc.Incomplete, "raw: invalid UTF-8 replaced with U+FFFD")
	}
	if problem != nil {
		rc.Incomplete = append(rc.Incomplete, "decode: "+problem.Error())
	}
	return rc, true
}

// replaceInvalidUTF8 returns raw with each byte that is not part of valid UTF-8 replaced by
// U+FFFD, one for one, as JSON decoders (encoding/json) read such a byte: so the
// new raw event decodes to the same strings as the old, and so to the same record. The result
// is JSON still: outside strings JSON is ASCII, so the bytes replaced are inside strings, and
// U+FFFD's bytes are neither a quote nor a backslash.
func replaceInvalidUTF8(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/8)
	for len(raw) > 0 {
		ru, size := utf8.DecodeRune(raw)
		if ru == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, raw[:size]...)
		}
		raw = raw[size:]
	}
	return out
}

// RoleChangeOf returns the RoleChange a watched event describes. It never drops an event of a
// watched type for its shape: what it cannot find is listed in RoleChange.Incomplete.
func (c *Classifier) RoleChangeOf(le *LogEvent, org string, src hookd.Source) (hookd.RoleChange, bool) {
	w, ok := watched[le.EventType]
	if !ok {
		return hookd.RoleChange{}, false
	}
	rc := baseOf(le, w, org, src)
	if w.Category == hookd.Tampering {
		return c.tampering(le, rc, w)
	}
	targets := le.Target
	used := make([]bool, len(targets))

	if w.Category == hookd.AppAssignment {
		app := findTarget(targets, used, "AppInstance")
		if app < 0 {
			rc.Incomplete = append(rc.Incomplete, "app: no AppInstance target, so it may or may not be Okta Workflows")
			rc.Roles = []hookd.Role{}
		} else if !c.isWorkflowsApp(targets[app]) {
			return hookd.RoleChange{}, false
		} else {
			used[app] = true
			rc.Roles = append(rc.Roles, roleOf(targets[app]))
		}
	}

	subjectTypes := []string{"User", "AppUser"}
	if w.Kind == hookd.SubjectGroup {
		subjectTypes = []string{"UserGroup", "Group"}
	}
	if i := findTarget(targets, used, subjectTypes...); i >= 0 {
		used[i] = true
		t := targets[i]
		rc.Subject = hookd.Subject{Kind: w.Kind, ID: t.ID, DisplayName: t.DisplayName, Login: knownLogin(t.AlternateID)}
		// An AppUser target sits beside the User target; it is the same person, not a role.
		if w.Category == hookd.AppAssignment {
			if j := findTarget(targets, used, "AppUser"); j >= 0 {
				used[j] = true
			}
		}
	} else {
		rc.Incomplete = append(rc.Incomplete, "subject: no target of type "+strings.Join(subjectTypes, " or "))
	}

	if w.Category == hookd.Membership {
		rc.Roles = []hookd.Role{} // the group's, which the store knows (ResolveMembership)
		if g := findTarget(targets, used, "UserGroup", "Group"); g >= 0 {
			used[g] = true
			t := targets[g]
			rc.Via = &hookd.Ref{ID: t.ID, Type: t.Type, DisplayName: t.DisplayName, Login: knownLogin(t.AlternateID)}
		} else {
			rc.Incomplete = append(rc.Incomplete, "group: no target of type UserGroup")
		}
	} else if w.Category != hookd.AppAssignment {
		rc.Roles = rolesOf(le, w, targets, used)
		if len(rc.Roles) == 0 {
			rc.Roles = []hookd.Role{}
			rc.Incomplete = append(rc.Incomplete, "roles: none found in targets or debugContext.debugData")
		}
	}
	for i, t := range targets {
		if !used[i] {
			rc.Others = append(rc.Others, hookd.Ref{ID: t.ID, Type: t.Type, Login: knownLogin(t.AlternateID), DisplayName: t.DisplayName})
		}
	}
	return rc, true
}

func (c *Classifier) isWorkflowsApp(t Target) bool {
	apps := c.WorkflowsApps
	if len(apps) == 0 {
		apps = DefaultWorkflowsApps
	}
	for _, a := range apps {
		if a == "" {
			continue
		}
		if strings.EqualFold(a, t.ID) || strings.EqualFold(a, t.AlternateID) || strings.EqualFold(a, t.DisplayName) {
			return true
		}
	}
	return false
}

// baseOf fills in everything that does not depend on the event type's shape.
func baseOf(le *LogEvent, w Watch, org string, src hookd.Source) hookd.RoleChange {
	rc := hookd.RoleChange{
		EventID:        le.UUID,
		EventType:      le.EventType,
		Published:      le.Published,
		Category:       w.Category,
		Action:         w.Action,
		Subject:        hookd.Subject{Kind: w.Kind},
		Severity:       le.Severity,
		DisplayMessage: le.DisplayMessage,
		Org:            org,
		Source:         src,
	}
	if a := le.Actor; a != nil {
		rc.Actor = hookd.Ref{ID: a.ID, Type: a.Type, Login: knownLogin(a.AlternateID), DisplayName: a.DisplayName}
	} else {
		rc.Incomplete = append(rc.Incomplete, "actor: missing")
	}
	if o := le.Outcome; o != nil {
		rc.Outcome = *o
	}
	if c := le.Client; c != nil {
		rc.Client = hookd.ClientInfo{IP: c.IPAddress, Zone: c.Zone}
		if c.Zone == "null" { // Okta writes the word for "no network zone"
			rc.Client.Zone = ""
		}
		if ua := c.UserAgent; ua != nil {
			rc.Client.UserAgent = ua.RawUserAgent
		}
		if g := c.GeographicalContext; g != nil {
			rc.Client.City, rc.Client.State, rc.Client.Country = g.City, g.State, g.Country
		}
	}
	if s := le.SecurityContext; s != nil {
		rc.Network = hookd.Network{ASOrg: s.ASOrg, ISP: s.ISP, Domain: s.Domain, IsProxy: s.IsProxy}
		if s.ASNumber != nil {
			rc.Network.ASN = *s.ASNumber
		}
	}
	if r := le.Request; r != nil && len(r.IPChain) > 0 {
		rc.Network.IPChain = make([]string, 0, len(r.IPChain))
		for _, hop := range r.IPChain {
			if hop.IP != "" {
				rc.Network.IPChain = append(rc.Network.IPChain, hop.IP)
			}
		}
	}
	if t := le.Transaction; t != nil {
		rc.TransactionID = t.ID
	}
	if d := le.DebugContext; d != nil {
		rc.RequestID, _ = d.DebugData.String("requestId")
	}
	return rc
}

// rolesOf finds the roles of a role or privilege event, from every place Okta may put them:
// the privilege lists of debugData, targets whose type names a role, and debugData keys that
// name a role. Only when none of those has a role are the remaining targets taken as roles.
func rolesOf(le *LogEvent, w Watch, targets []Target, used []bool) []hookd.Role {
	var roles []hookd.Role
	add := func(r hookd.Role) {
		r.Name = strings.TrimSpace(r.Name)
		if r.Name == "" {
			return
		}
		for _, have := range roles {
			if strings.EqualFold(have.Name, r.Name) {
				return
			}
		}
		roles = append(roles, r)
	}
	var debug DebugData
	if le.DebugContext != nil {
		debug = le.DebugContext.DebugData
	}
	if w.Category == hookd.AdminPrivilege {
		key := "privilegeGranted"
		if w.Action == hookd.Revoked {
			key = "privilegeRevoked"
		}
		for _, name := range debug.List(key) {
			add(hookd.Role{Name: name})
		}
	}
	for i, t := range targets {
		if !used[i] && strings.Contains(strings.ToLower(t.Type), "role") {
			used[i] = true
			add(roleOf(t))
		}
	}
	for _, key := range debug.roleKeys() {
		for _, name := range debug.List(key) {
			add(hookd.Role{Name: name})
		}
	}
	if len(roles) == 0 && w.Category == hookd.WorkflowsRole {
		for i, t := range targets {
			if !used[i] && !isSubjectType(t.Type) && !strings.EqualFold(t.Type, "AppInstance") {
				used[i] = true
				add(roleOf(t))
			}
		}
	}
	return roles
}

func roleOf(t Target) hookd.Role {
	name := t.DisplayName
	if name == "" {
		name = t.AlternateID
	}
	if name == "" {
		name = t.ID
	}
	return hookd.Role{Name: name, ID: t.ID, Type: t.Type}
}

func isSubjectType(typ string) bool {
	for _, s := range []string{"User", "AppUser", "UserGroup", "Group"} {
		if strings.EqualFold(typ, s) {
			return true
		}
	}
	return false
}

// findTarget returns the index of the first unused target of one of the types, in the order
// the types are given, or -1.
func findTarget(targets []Target, used []bool, types ...string) int {
	for _, typ := range types {
		for i, t := range targets {
			if !used[i] && strings.EqualFold(t.Type, typ) {
				return i
			}
		}
	}
	return -1
}

// String returns the value of a debugData key when it is a JSON string.
func (d DebugData) String(key string) (string, bool) {
	raw, ok := d[key]
	if !ok || len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// List returns the names in a debugData value that is a comma-separated string or an array of
// strings, trimmed, empty ones left out.
func (d DebugData) List(key string) []string {
	raw, ok := d[key]
	if !ok || len(raw) == 0 {
		return nil
	}
	var parts []string
	switch raw[0] {
	case '"':
		s, _ := d.String(key)
		parts = strings.Split(s, ",")
	case '[':
		var items []any
		if json.Unmarshal(raw, &items) != nil {
			return nil
		}
		for _, it := range items {
			if s, ok := it.(string); ok {
				parts = append(parts, s)
			}
		}
	}
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// roleKeys returns, sorted, the debugData keys that name roles (not role ids), other than the
// privilege lists, which are read on their own.
func (d DebugData) roleKeys() []string {
	var keys []string
	for k := range d {
		lk := strings.ToLower(k)
		if !strings.Contains(lk, "role") || strings.HasSuffix(lk, "id") || strings.HasSuffix(lk, "ids") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parallelFrom is the fewest events a part of a batch shared among the processors holds.
const parallelFrom = 1024

// RoleChanges classifies every event of a batch, in order, and counts the events whose type
// (or app) hookd does not watch. A large batch is classified in parts at once.
func (c *Classifier) RoleChanges(b *Batch, src hookd.Source) (changes []hookd.RoleChange, notWatched int) {
	n := parts.Of(len(b.Events), parallelFrom)
	if n == 1 {
		return c.roleChanges(b.Events, b.Org, src)
	}
	found := make([][]hookd.RoleChange, n)
	skipped := make([]int, n)
	parts.Do(len(b.Events), n, func(i, lo, hi int) {
		found[i], skipped[i] = c.roleChanges(b.Events[lo:hi], b.Org, src)
	})
	for i := range found {
		changes, notWatched = append(changes, found[i]...), notWatched+skipped[i]
	}
	return changes, notWatched
}

func (c *Classifier) roleChanges(events []Event, org string, src hookd.Source) (changes []hookd.RoleChange, notWatched int) {
	for _, ev := range events {
		rc, ok := c.Classify(ev, org, src)
		if !ok {
			notWatched++
			continue
		}
		changes = append(changes, rc)
	}
	return changes, notWatched
}

// knownLogin is an alternateId as a login: Okta writes "unknown" where an entity has none
// (groups always), which is no login and must not read as one.
func knownLogin(alternateID string) string {
	if strings.EqualFold(alternateID, "unknown") {
		return ""
	}
	return alternateID
}

// tampering fills a tampering record: its subject is the first target (the event hook, the
// log stream, the user), it has no roles, and it says whether the hook is hookd's own. A
// delivery that succeeded, or one of another hook, is not worth an alert.
func (c *Classifier) tampering(le *LogEvent, rc hookd.RoleChange, w Watch) (hookd.RoleChange, bool) {
	rc.Roles = []hookd.Role{}
	if len(le.Target) == 0 {
		rc.Incomplete = append(rc.Incomplete, "subject: no target")
	} else {
		t := le.Target[0]
		rc.Subject = hookd.Subject{Kind: w.Kind, ID: t.ID, DisplayName: t.DisplayName, Login: knownLogin(t.AlternateID)}
		for _, o := range le.Target[1:] {
			rc.Others = append(rc.Others, hookd.Ref{ID: o.ID, Type: o.Type, Login: knownLogin(o.AlternateID), DisplayName: o.DisplayName})
		}
	}
	if w.Kind == hookd.SubjectEventHook {
		own := c.OwnHooks
		if len(own) == 0 {
			own = []string{"hookd"}
		}
		for _, o := range own {
			if o != "" && (strings.EqualFold(o, rc.Subject.DisplayName) || o == rc.Subject.ID) {
				rc.HookdOwn = true
			}
		}
	}
	if w.Action == hookd.DeliveryFailed && (!rc.HookdOwn || !rc.Failed()) {
		return hookd.RoleChange{}, false
	}
	return rc, true
}
