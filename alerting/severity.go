package alerting

import (
	"fmt"
	"strings"

	"github.com/hookd/hookd"
)

// Severity ranks how urgently a change needs a person's eyes.
type Severity int

// The severities, lowest first.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

func (s Severity) String() string {
	switch s {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	case Critical:
		return "critical"
	}
	return "unknown"
}

// MarshalText writes the severity's name, as in JSON alerts.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity reads "low", "medium", "high" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for _, sev := range []Severity{Low, Medium, High, Critical} {
		if strings.EqualFold(s, sev.String()) {
			return sev, nil
		}
	}
	return 0, fmt.Errorf("severity %q: must be low, medium, high or critical", s)
}

// DefaultSeverity is the severity without configured overrides: a grant of a critical role
// is critical, any other grant high; revokes and failed attempts are medium.
func DefaultSeverity(rc *hookd.RoleChange) Severity {
	return severityOf(rc, nil)
}

// severityOf is the severity of one change: that of its kind and roles (roleSeverity),
// raised a step by a finding, and at least the finding's own.
func severityOf(rc *hookd.RoleChange, overrides map[string]Severity) Severity {
	sev := roleSeverity(rc, overrides)
	for _, f := range rc.Findings {
		least, err := ParseSeverity(f.Severity)
		if err != nil {
			least = High
		}
		sev = max(sev, min(roleSeverity(rc, overrides)+1, Critical), least)
	}
	return sev
}

// roleSeverity is the highest severity of the roles a grant gives: a configured one where
// there is one, else Critical for critical roles and High for the rest.
func roleSeverity(rc *hookd.RoleChange, overrides map[string]Severity) Severity {
	if rc.FromHookd() {
		if rc.EventType == hookd.HealthStoreOutage {
			return High // events may be missing
		}
		if rc.Action == hookd.Recovered {
			return Low
		}
		return Critical
	}
	if rc.Category == hookd.Tampering {
		// Blinding hookd itself is critical; the rest (another hook, a log stream, support
		// access, failing deliveries) is high.
		if rc.HookdOwn && rc.Action != hookd.DeliveryFailed {
			return Critical
		}
		return High
	}
	if rc.Failed() || rc.Action == hookd.Revoked {
		return Medium
	}
	if len(rc.Roles) == 0 {
		return High
	}
	var best Severity
	for _, role := range rc.Roles {
		name := strings.ToLower(strings.TrimSpace(role.Name))
		sev, ok := overrides[name]
		switch {
		case ok:
		case hookd.CriticalRole(name):
			sev = Critical
		default:
			sev = High
		}
		best = max(best, sev)
	}
	return best
}
