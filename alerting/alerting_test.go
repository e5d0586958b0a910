package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() *hookd.RoleChange {
	proxy := true
	return &hookd.RoleChange{
		EventID: "c4399b10-47a4-5263-b4ae-fcdfcbac761b", EventType: hook.WorkflowsUserRoleAdd,
		Published: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC),
		Category:  hookd.WorkflowsRole, Action: hookd.Granted, Source: hookd.SourceHook,
		Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: "00u2", DisplayName: "Bob Builder", Login: "bob@acme.example"},
		Roles:   []hookd.Role{{Name: "Workflows Administrator"}},
		Actor:   hookd.Ref{ID: "00u1", DisplayName: "Alice Admin", Login: "alice@acme.example"},
		Outcome: hookd.Outcome{Result: "SUCCESS"},
		Client:  hookd.ClientInfo{IP: "198.51.100.23", City: "Denver", Country: "United States"},
		Network: hookd.Network{IsProxy: &proxy},
		Raw:     []byte(`{"uuid":"c4399b10-47a4-5263-b4ae-fcdfcbac761b"}`),
	}
}

func TestTitle(t *testing.T) {
	rc := sample()
	assert.Equal(t, "Workflows role granted", Title(rc))
	rc.Action = hookd.Revoked
	assert.Equal(t, "Workflows role revoked", Title(rc))
	rc.Category, rc.Action = hookd.AdminPrivilege, hookd.Granted
	rc.Roles = append(rc.Roles, hookd.Role{Name: "Org administrator"})
	rc.Outcome.Result = "FAILURE"
	assert.Equal(t, "Okta admin privileges grant failed", Title(rc))
	rc.Category, rc.Outcome.Result, rc.Roles = hookd.AppAssignment, "SUCCESS", rc.Roles[:1]
	assert.Equal(t, "Okta Workflows app assignment granted", Title(rc))
}

func TestConsoleLine(t *testing.T) {
	line := ConsoleLine(sample(), Critical)
	assert.Equal(t, `ALERT critical Workflows role granted: roles="Workflows Administrator" user="Bob Builder" login="bob@acme.example" `+
		`actor="Alice Admin" actor_login="alice@acme.example" outcome="SUCCESS" ip="198.51.100.23" from="Denver, United States" `+
		`proxy=true at=2026-11-20T14:00:00Z event="c4399b10-47a4-5263-b4ae-fcdfcbac761b" source=hook`, line)
}

func TestConsoleLineCannotBeForged(t *testing.T) {
	rc := sample()
	rc.Subject.DisplayName = "Eve\n2026-11-20 ALERT nothing to see\x1b[2J\x1b[H"
	rc.Actor.DisplayName = "\u202eevil"
	line := ConsoleLine(rc, High)
	assert.NotContains(t, line, "\n")
	assert.NotContains(t, line, "\x1b")
	assert.NotContains(t, line, "\u202e")
	assert.Contains(t, line, `user="Eve\n2026-11-20 ALERT nothing to see\x1b[2J\x1b[H"`)
}

func TestConsoleLineClipsLongStrings(t *testing.T) {
	rc := sample()
	rc.Subject.DisplayName = strings.Repeat("山", 10000)
	line := ConsoleLine(rc, High)
	assert.Less(t, len(line), 2000)
	assert.Contains(t, line, strings.Repeat("山", 255)+"…")
}

func TestConsoleSink(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, NewConsoleSink(&out, false).Deliver(context.Background(), &Alert{Changes: []*hookd.RoleChange{sample()}, Severity: Critical}))
	assert.True(t, strings.HasPrefix(out.String(), "ALERT critical Workflows role granted: "))
	assert.Equal(t, 1, strings.Count(out.String(), "\n"))

	out.Reset()
	require.NoError(t, NewConsoleSink(&out, true).Deliver(context.Background(), &Alert{Changes: []*hookd.RoleChange{sample()}, Severity: Critical}))
	var got map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.Equal(t, "Workflows role granted", got["title"])
	assert.Equal(t, "critical", got["severity"])
	assert.Equal(t, "c4399b10-47a4-5263-b4ae-fcdfcbac761b", got["eventId"])
	assert.NotContains(t, got, "raw", "the raw event stays in the store")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestConsoleSinkWriteFailureIsRetried(t *testing.T) {
	err := NewConsoleSink(failingWriter{}, false).Deliver(context.Background(), &Alert{Changes: []*hookd.RoleChange{sample()}})
	require.Error(t, err)
	var p interface{ Permanent() bool }
	assert.False(t, errors.As(err, &p), "a write failure may pass")
}

func TestRouter(t *testing.T) {
	var out bytes.Buffer
	r := NewRouter(nil)
	require.NoError(t, r.Add("console", NewConsoleSink(&out, false)))
	assert.Error(t, r.Add("console", NewConsoleSink(&out, false)), "names are unique")
	assert.Error(t, r.Add("", NewConsoleSink(&out, false)))
	assert.Equal(t, []string{"console"}, r.Names())

	require.NoError(t, r.Deliver(context.Background(), "console", []*hookd.RoleChange{sample()}))
	assert.NotEmpty(t, out.String())
	assert.Equal(t, []string{"console"}, r.Route(sample()))

	err := r.Deliver(context.Background(), "removed-slack", []*hookd.RoleChange{sample()})
	require.ErrorIs(t, err, ErrUnknownSink)
	failure, _ := hookd.FailureOf(err)
	assert.Equal(t, hookd.FailPermanent, failure)
}

func TestErrorKinds(t *testing.T) {
	base := errors.New("boom")
	err := RetryLater(30*time.Second, base)
	failure, after := hookd.FailureOf(err)
	assert.Equal(t, hookd.FailWait, failure)
	assert.Equal(t, 30*time.Second, after)
	assert.ErrorIs(t, err, base)
	assert.ErrorIs(t, Permanent(base), base)
	failure, _ = hookd.FailureOf(fmt.Errorf("wrapped: %w", Permanent(base)))
	assert.Equal(t, hookd.FailPermanent, failure, "through wrapping")
	failure, _ = hookd.FailureOf(base)
	assert.Equal(t, hookd.FailRetry, failure, "any other error is retried")
}
