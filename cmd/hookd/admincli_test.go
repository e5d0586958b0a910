package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostileNames are what an Okta admin, or a receiver's error page, can put in a string hookd
// prints: a window title, a cleared screen, rubbed-out text, a CSI, reversed text, a broken
// column and a forged row, and a backslash that pretends to be an escape.
var hostileNames = []string{
	"\x1b]0;pwned\x07",
	"\x1b[2J",
	"\b\b\b",
	"\u009b31m",
	"\u202e",
	"a\tb",
	"x\ny",
	"del\x7f",
	"next\u0085line",
	"\u2066isolate\u2069",
	`forged\x1b`,
	"José Müller 😀",
}

// fakeAdminAPI answers the admin API as a hookd whose store is full of hostileNames would.
func fakeAdminAPI(t *testing.T) *httptest.Server {
	published := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var page adminapi.ChangePage
	var holders []adminapi.Holder
	var letters []adminapi.DeadLetter
	var sinks []adminapi.Sink
	for i, h := range hostileNames {
		event := fmt.Sprintf("evt-%d", i)
		page.Changes = append(page.Changes, adminapi.Change{
			Record: &hookd.RoleChange{EventID: event, Published: published, Category: hookd.AdminPrivilege, Action: hookd.Granted,
				Subject: hookd.Subject{Kind: hookd.SubjectUser, ID: "00u" + h, DisplayName: "Bob " + h},
				Roles:   []hookd.Role{{Name: "Super " + h}},
				Actor:   hookd.Ref{DisplayName: "Mallory " + h}},
			Severity: "critical", Title: "Granted " + h,
			Deliveries: []adminapi.Delivery{{Sink: "webhook", State: h}},
		})
		holders = append(holders, adminapi.Holder{SubjectKind: "user", SubjectID: "00u" + h, SubjectName: "Bob " + h,
			Role: "Super " + h, Since: published, GrantedBy: "Mallory " + h, EventID: event, KnownBy: "event " + h})
		letters = append(letters, adminapi.DeadLetter{JobID: int64(i + 1), Sink: "webhook", EventID: event + " " + h, State: "discarded",
			Reason: "receiver said " + h, Attempts: 3, FailedAt: published, Handling: "retried", HandledAt: published, HandledBy: "api from " + h})
		sinks = append(sinks, adminapi.Sink{Name: fmt.Sprintf("sink%d ", i) + h, Type: "webhook " + h, LastFailure: published, LastError: h})
	}
	page.Next = "cursor" + strings.Join(hostileNames, "")

	mux := http.NewServeMux()
	answer := func(status int, v any) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	mux.Handle("GET /api/v1/changes", answer(http.StatusOK, page))
	mux.Handle("GET /api/v1/holders", answer(http.StatusOK, holders))
	mux.Handle("GET /api/v1/deadletters", answer(http.StatusOK, letters))
	mux.Handle("POST /api/v1/deadletters/retry", answer(http.StatusOK, adminapi.Handled{Action: "retry", Letters: letters}))
	mux.Handle("POST /api/v1/deadletters/{id}/discard", answer(http.StatusConflict,
		adminapi.Error{Error: "conflict " + strings.Join(hostileNames, ""), Detail: "handled by " + strings.Join(hostileNames, "")}))
	mux.Handle("GET /api/v1/sinks", answer(http.StatusOK, sinks))
	mux.HandleFunc("POST /api/v1/sinks/{name}/test", func(w http.ResponseWriter, r *http.Request) {
		answer(http.StatusOK, adminapi.TestResult{Sink: r.PathValue("name"), Error: "receiver answered 500: " + r.PathValue("name")})(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// The admin commands print what Okta and receivers said, and none of it reaches the terminal
// as a control: each row stays one line with its columns in place, and the text is readable.
func TestCLIEscapesOktaStrings(t *testing.T) {
	admin := fakeAdminAPI(t).URL
	rows := len(hostileNames)
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		columns []string // a table's header: every row keeps its columns under it
		stdout  int      // lines on stdout
		stderr  int      // lines on stderr
	}{
		{"changes", []string{"changes"}, 0, []string{"PUBLISHED", "SEVERITY", "WHAT", "ROLES", "SUBJECT", "ACTOR", "DELIVERY", "EVENT"}, rows + 1, 1},
		{"changes --json", []string{"changes", "--json"}, 0, nil, -1, 0},
		{"holders", []string{"holders"}, 0, []string{"ROLE", "HOLDER", "SINCE", "GRANTED BY", "KNOWN BY", "EVENT"}, rows + 1, 0},
		{"holders --json", []string{"holders", "--json"}, 0, nil, -1, 0},
		{"deadletters", []string{"deadletters"}, 0, []string{"JOB", "FAILED", "SINK", "EVENT", "ATTEMPTS", "WHY", "HANDLED"}, rows + 1, 0},
		{"deadletters retry", []string{"deadletters", "retry", "--sink", "webhook", "--all"}, 0, nil, rows + 1, 0},
		{"deadletters discard", []string{"deadletters", "discard", "3"}, 1, nil, 0, 1},
		{"sinks", []string{"sinks"}, 0, []string{"SINK", "TYPE", "LAST SUCCESS", "LAST FAILURE", "PENDING", "RETRYING", "DEAD"}, rows + 1, 0},
		{"sinks test", []string{"sinks", "test"}, 1, nil, rows, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(map[string]string{}, append(tc.args, "--admin-url", admin)...)
			require.Equal(t, tc.code, code, stderr)
			assertTerminalSafe(t, "stdout", stdout)
			assertTerminalSafe(t, "stderr", stderr)
			if tc.stdout >= 0 {
				assert.Equal(t, tc.stdout, strings.Count(stdout, "\n"), "one line a row:\n%s", stdout)
			}
			assert.Equal(t, tc.stderr, strings.Count(stderr, "\n"), "one line a message:\n%s", stderr)
			if tc.columns != nil {
				assertColumns(t, stdout, tc.columns)
			}
			if tc.stdout < 0 {
				return // JSON: checked below
			}
			assert.Contains(t, stdout+stderr, `\x1b]0;pwned\x07`, "a control is shown, not obeyed")
			assert.Contains(t, stdout+stderr, `\u202e`)
			assert.Contains(t, stdout+stderr, `forged\\x1b`, "a backslash is doubled, so an escape cannot be forged")
			assert.Contains(t, stdout+stderr, "José Müller 😀", "printable text is left as it is")
		})
	}
}

// The --json answers are the API's values exactly, whatever they hold.
func TestCLIJSONKeepsOktaStrings(t *testing.T) {
	admin := fakeAdminAPI(t).URL
	code, stdout, stderr := run(map[string]string{}, "holders", "--json", "--admin-url", admin)
	require.Equal(t, 0, code, stderr)
	var holders []adminapi.Holder
	require.NoError(t, json.Unmarshal([]byte(stdout), &holders))
	require.Len(t, holders, len(hostileNames))
	for i, h := range hostileNames {
		assert.Equal(t, "Bob "+h, holders[i].SubjectName)
	}
}

// assertTerminalSafe checks that out holds nothing a terminal would obey: the one control is
// the newline that ends a line, and no C1 control, bidirectional control or invalid UTF-8
// is left. It judges by its own list, not the escaper's.
func assertTerminalSafe(t *testing.T, what, out string) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "%s is not UTF-8: %q", what, out)
	for i, r := range out {
		if r == '\n' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Bidi_Control, r) {
			assert.Failf(t, "a control reaches the terminal", "%s has %U at byte %d: %q", what, r, i, out)
			return
		}
	}
}

// assertColumns checks that each row's cells start under their column's name: a tab or a
// line break in a cell would push the rest of its row out of place.
func assertColumns(t *testing.T, out string, columns []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	header := lines[0]
	var starts []int
	for _, c := range columns {
		i := strings.Index(header, c)
		require.GreaterOrEqual(t, i, 0, "%q has no column %s", header, c)
		starts = append(starts, utf8.RuneCountInString(header[:i]))
	}
	for _, line := range lines[1:] {
		r := []rune(line)
		for k, at := range starts[1:] {
			if at >= len(r) || r[at] == ' ' || r[at-1] != ' ' || r[at-2] != ' ' {
				assert.Failf(t, "a column out of place", "column %s in %q", columns[k+1], line)
				return
			}
		}
	}
}
