package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/clip"
)

// ConsoleSink writes one line per alert: readable text, or a JSON object per line. Okta's
// strings are quoted with Go's escaping, so a display name cannot move the cursor, clear the
// screen or forge a second line on the terminal or in a log collector.
type ConsoleSink struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

// NewConsoleSink writes to w; asJSON selects JSON lines.
func NewConsoleSink(w io.Writer, asJSON bool) *ConsoleSink { return &ConsoleSink{w: w, json: asJSON} }

// Deliver writes the alert: a line per change, so that each keeps its own event uuid.
func (s *ConsoleSink) Deliver(_ context.Context, a *Alert) error {
	var line []byte
	for _, rc := range a.Changes {
		if s.json {
			view := *rc
			view.Raw = nil // the line is an alert; the raw event stays in the store
			b, err := json.Marshal(struct {
				Title    string   `json:"title"`
				Severity Severity `json:"severity"`
				Links    []Link   `json:"links,omitempty"`
				*hookd.RoleChange
			}{Title(rc), a.Severity, a.Links, &view})
			if err != nil {
				return Permanent(fmt.Errorf("console: encode: %w", err))
			}
			line = append(append(line, b...), '\n')
		} else {
			line = append(line, ConsoleLine(rc, a.Severity)+"\n"...)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// maxConsoleField bounds each Okta string on a console line; the stored record keeps it whole.
const maxConsoleField = 256

// ConsoleLine renders an alert as one line of text, its severity first.
func ConsoleLine(rc *hookd.RoleChange, sev Severity) string {
	var b strings.Builder
	b.WriteString("ALERT " + sev.String() + " ")
	b.WriteString(Title(rc))
	b.WriteString(": ")
	q := func(s string) string { return strconv.Quote(clip.Runes(s, maxConsoleField)) }
	names := rc.RoleNames()
	switch {
	case rc.FromHookd():
		b.WriteString("what=" + q(rc.DisplayMessage))
		fmt.Fprintf(&b, " at=%s event=%s", rc.Published.UTC().Format(time.RFC3339), q(rc.EventID))
		return b.String()
	case rc.Category == hookd.Tampering:
		b.WriteString("tampering")
	case len(names) == 0:
		b.WriteString("role=(unknown)")
	default:
		b.WriteString("roles=")
		for i, n := range names {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(q(n))
		}
	}
	fmt.Fprintf(&b, " %s=%s", rc.Subject.Kind, q(firstOf(rc.Subject.DisplayName, rc.Subject.ID, "(unknown)")))
	if rc.Subject.Login != "" {
		fmt.Fprintf(&b, " login=%s", q(rc.Subject.Login))
	}
	if rc.Via != nil {
		fmt.Fprintf(&b, " via_group=%s", q(firstOf(rc.Via.DisplayName, rc.Via.ID, "(unknown)")))
	}
	if rc.MemberCount > 0 {
		fmt.Fprintf(&b, " members=%d", rc.MemberCount)
	}
	fmt.Fprintf(&b, " actor=%s", q(firstOf(rc.Actor.DisplayName, rc.Actor.ID, "(unknown)")))
	if rc.Actor.Login != "" {
		fmt.Fprintf(&b, " actor_login=%s", q(rc.Actor.Login))
	}
	if rc.Outcome.Result != "" {
		fmt.Fprintf(&b, " outcome=%s", q(rc.Outcome.Result))
	}
	if rc.Outcome.Reason != "" {
		fmt.Fprintf(&b, " reason=%s", q(rc.Outcome.Reason))
	}
	if rc.Client.IP != "" {
		fmt.Fprintf(&b, " ip=%s", q(rc.Client.IP))
	}
	if p := place(rc.Client); p != "" {
		fmt.Fprintf(&b, " from=%s", q(p))
	}
	if rc.Network.IsProxy != nil && *rc.Network.IsProxy {
		b.WriteString(" proxy=true")
	}
	fmt.Fprintf(&b, " at=%s event=%s source=%s", rc.Published.UTC().Format(time.RFC3339), q(rc.EventID), rc.Source)
	if len(rc.Findings) > 0 {
		ids := make([]string, len(rc.Findings))
		for i, f := range rc.Findings {
			ids[i] = f.ID
		}
		fmt.Fprintf(&b, " findings=%s why=%s", strings.Join(ids, ","), q(whyText(&Alert{Changes: []*hookd.RoleChange{rc}}, plainMarkup)))
	}
	if len(rc.Incomplete) > 0 {
		fmt.Fprintf(&b, " incomplete=%s", q(strings.Join(rc.Incomplete, "; ")))
	}
	if rc.StorageProblem != "" {
		fmt.Fprintf(&b, " storage_problem=%s", q(rc.StorageProblem))
	}
	return b.String()
}
