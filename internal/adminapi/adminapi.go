// Package adminapi holds the admin API's wire types: what the console's JSON API answers and
// the command-line tools read. store fills them, handlers serves them, cmd/hookd prints them;
// their JSON names are a promise to scripts, so fields are added, never renamed.
package adminapi

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// ChangeFilter selects role changes. Text fields match case-insensitively as substrings; an
// empty field matches everything.
type ChangeFilter struct {
	Role      string `json:"role,omitempty"`
	User      string `json:"user,omitempty"`
	Group     string `json:"group,omitempty"`
	Actor     string `json:"actor,omitempty"`
	EventType string `json:"eventType,omitempty"`
	Source    string `json:"source,omitempty"`
	Severity  string `json:"severity,omitempty"`
	// Finding is a finding's id (self-grant), or "*" for a change with any finding.
	Finding string    `json:"finding,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	Until   time.Time `json:"until,omitzero"`
	// Before is the paging cursor: only changes older than it (see Cursor).
	Before string `json:"before,omitempty"`
	// Limit is the page size (default 50, at most 500).
	Limit int `json:"limit,omitempty"`
}

// Change is one stored role change with what became of its delivery to each sink.
type Change struct {
	Record     *hookd.RoleChange `json:"record"`
	Severity   string            `json:"severity"`
	Title      string            `json:"title"`
	AcceptedAt time.Time         `json:"acceptedAt"`
	Deliveries []Delivery        `json:"deliveries"`
	// Links are where a responder goes from the change: the subject and actor in Okta's
	// Admin Console, the System Log of its transaction.
	Links []Link `json:"links,omitempty"`
}

// Link is a place to go from a change; Rel says what it is (subject, group, actor,
// system_log).
type Link struct {
	Rel   string `json:"rel"`
	Title string `json:"title"`
	Href  string `json:"href"`
}

// The states of a delivery.
const (
	StateDelivered = "delivered" // the sink took it
	StatePending   = "pending"   // waiting to run, or running
	StateRetrying  = "retrying"  // failed; will run again
	StateDead      = "dead"      // cancelled or discarded: in the dead letter
	StateRetried   = "retried"   // was dead; re-queued from the dead letter
	StateHandled   = "discarded" // was dead; marked handled by an operator
	StateUnknown   = "unknown"   // no job left to say (River removed it) and no delivery record
)

// Delivery is what became of one change's alert to one sink.
type Delivery struct {
	Sink        string    `json:"sink"`
	State       string    `json:"state"`
	DeliveredAt time.Time `json:"deliveredAt,omitzero"`
	// JobID is the delivery job that carries the change (for a grouped change, the job of
	// the message it went out in); 0 when River no longer has it.
	JobID       int64     `json:"jobId,omitempty"`
	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
}

// ChangePage is one page of changes, newest first.
type ChangePage struct {
	Changes []Change `json:"changes"`
	// Next is the cursor of the following (older) page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// DeadLetter is an alert whose delivery job was cancelled (the sink can never take it) or
// discarded (out of attempts).
type DeadLetter struct {
	JobID      int64     `json:"jobId"`
	Sink       string    `json:"sink"`
	EventID    string    `json:"eventId"`
	State      string    `json:"state"` // cancelled or discarded, as River says
	Reason     string    `json:"reason"`
	Attempts   int       `json:"attempts"`
	FailedAt   time.Time `json:"failedAt"`
	HandledAt  time.Time `json:"handledAt,omitzero"`
	Handling   string    `json:"handling,omitempty"` // retried or discarded
	HandledBy  string    `json:"handledBy,omitempty"`
	RetryJobID int64     `json:"retryJobId,omitempty"`
}

// DeadLetterFilter selects dead letters.
type DeadLetterFilter struct {
	Sink string `json:"sink,omitempty"`
	// Handled includes those already retried or discarded (kept for audit).
	Handled bool `json:"handled,omitempty"`
	Limit   int  `json:"limit,omitempty"`
}

// Handled is the answer to a retry or discard: the dead letters it handled.
type Handled struct {
	Action  string       `json:"action"`
	Letters []DeadLetter `json:"letters"`
}

// JobCounts counts one sink's delivery jobs by what they wait for.
type JobCounts struct {
	Pending  int64 `json:"pending"`
	Retrying int64 `json:"retrying"`
	Dead     int64 `json:"dead"`
}

// Sink is one sink's state.
type Sink struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	LastSuccess time.Time `json:"lastSuccess,omitzero"`
	LastFailure time.Time `json:"lastFailure,omitzero"`
	LastError   string    `json:"lastError,omitempty"`
	Jobs        JobCounts `json:"jobs"`
}

// TestResult is the answer to a test alert.
type TestResult struct {
	Sink  string `json:"sink"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Millis is how long the sink took to answer.
	Millis int64 `json:"millis"`
}

// Coverage says how each watched event type reaches hookd and when it last did.
type Coverage struct {
	Types  []TypeCoverage `json:"types"`
	Poller *PollerState   `json:"poller,omitempty"`
}

// TypeCoverage is one watched event type's paths and last event.
type TypeCoverage struct {
	EventType    string    `json:"eventType"`
	HookEligible bool      `json:"hookEligible"`
	Polled       bool      `json:"polled"`
	LastSeen     time.Time `json:"lastSeen,omitzero"`
	LastSource   string    `json:"lastSource,omitempty"`
}

// Covered reports whether the type reaches hookd by any path.
func (t TypeCoverage) Covered() bool { return t.HookEligible || t.Polled }

// LastSeen is the newest stored event of one type.
type LastSeen struct {
	Published time.Time
	Source    string
}

// PollerState is the System Log poller's last report.
type PollerState struct {
	Configured         bool      `json:"configured"`
	LastPoll           time.Time `json:"lastPoll,omitzero"`
	LastError          string    `json:"lastError,omitempty"`
	Lag                string    `json:"lag,omitempty"`
	CursorAge          string    `json:"cursorAge,omitempty"`
	RateLimitRemaining int       `json:"rateLimitRemaining"`
	Credentials        string    `json:"credentials"`
}

// Error is the admin API's error answer.
type Error struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// The errors the admin API answers with 404, 409 and 400; the store wraps them.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("conflict")
	ErrBadRequest = errors.New("bad request")
)

// ChangeFilterHelp says what each change filter of a query (or the CLI's flag of that name)
// takes.
var ChangeFilterHelp = map[string]string{
	"role":     "part of a role's name, any case (\"Workflows Admin\")",
	"user":     "part of the subject user's name, login or id",
	"group":    "part of the subject group's name or id",
	"actor":    "part of the actor's name, login or id",
	"type":     "an event type, exactly (workflows.user.role.user.add)",
	"source":   "how it came: hook or systemlog",
	"severity": "low, medium, high or critical",
	"finding":  "a finding's id (self-grant, short-lived, fresh-granter, new-network, burst, off-hours), or * for any",
	"since":    "published at or after: 2026-11-01, RFC 3339, or an age such as 24h or 7d",
	"until":    "published before: as since",
	"before":   "the page cursor a previous page gave as next",
	"limit":    "how many changes (at most 500)",
}

// ParseChangeFilter reads and checks a change filter from a query, as the API and the CLI
// both take it (the keys of ChangeFilterHelp); a bad value is an ErrBadRequest saying what
// it takes.
func ParseChangeFilter(q url.Values, now time.Time) (ChangeFilter, error) {
	f := ChangeFilter{
		Role: q.Get("role"), User: q.Get("user"), Group: q.Get("group"), Actor: q.Get("actor"),
		EventType: q.Get("type"), Source: q.Get("source"), Severity: strings.ToLower(q.Get("severity")), Before: q.Get("before"),
	}
	var err error
	if f.Since, err = ParseTime(q.Get("since"), now); err != nil {
		return f, err
	}
	if f.Until, err = ParseTime(q.Get("until"), now); err != nil {
		return f, err
	}
	if l := q.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit < 1 {
			return f, fmt.Errorf("%w: limit must be a positive number", ErrBadRequest)
		}
	}
	if f.Source != "" && f.Source != string(hookd.SourceHook) && f.Source != string(hookd.SourceSystemLog) {
		return f, fmt.Errorf("%w: source %q: must be hook or systemlog", ErrBadRequest, f.Source)
	}
	switch f.Severity {
	case "", "low", "medium", "high", "critical":
	default:
		return f, fmt.Errorf("%w: severity %q: must be low, medium, high or critical", ErrBadRequest, q.Get("severity"))
	}
	f.Finding = strings.ToLower(strings.TrimSpace(q.Get("finding")))
	if f.Finding != "" && f.Finding != "*" && strings.Trim(f.Finding, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return f, fmt.Errorf("%w: finding %q: a finding's id (letters, digits and -), or * for any", ErrBadRequest, q.Get("finding"))
	}
	return f, nil
}

// ParseTime reads a filter's time: RFC 3339, a date (2006-01-02, UTC), or an age before now
// such as 90m, 24h or 7d.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a time (use 2026-11-27, 2026-11-27T10:00:00Z, or an age such as 24h or 7d)", ErrBadRequest, s)
}

// How a holding is known (Holder.KnownBy).
const (
	KnownByEvent    = "event"    // a role change hookd stored
	KnownByImport   = "import"   // a role change read from the System Log's history by hookd holders import
	KnownByOkta     = "okta"     // a group's members as Okta's Groups API listed them
	KnownByDeclared = "declared" // a group's role the operator declared (hookd holders declare)
)

// Holder is one current holding of a watched role: who holds it, since when, granted by whom,
// and how hookd knows (KnownByEvent, KnownByImport).
type Holder struct {
	SubjectKind string    `json:"subjectKind"`
	SubjectID   string    `json:"subjectId"`
	SubjectName string    `json:"subjectName,omitempty"`
	Role        string    `json:"role"`
	Category    string    `json:"category"`
	Since       time.Time `json:"since"`
	GrantedBy   string    `json:"grantedBy,omitempty"`
	EventID     string    `json:"eventId"`
	KnownBy     string    `json:"knownBy"`
	// RoleKey identifies the role within the ledger: Okta's id, or "name:" and its name.
	RoleKey string `json:"roleKey"`
	// SeenInOkta is when hookd holders snapshot last found the holding in Okta's
	// role-assignment API (admin roles only).
	SeenInOkta *time.Time `json:"seenInOkta,omitempty"`
	// Via and ViaID name the group a user holds the role through; empty for a role held
	// directly. A user holding a role directly and through two groups is three holders.
	Via   string `json:"via,omitempty"`
	ViaID string `json:"viaId,omitempty"`
}
