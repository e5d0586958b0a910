package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/alerting"
	"github.com/hookd/hookd/handlers"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/storetest"
	"github.com/hookd/hookd/verify"
)

// consoleBenchChanges is how many role changes the console benchmark stores: the issue's
// 100,000 (HOOKD_BENCH_CHANGES overrides, for a quick look).
func consoleBenchChanges() int {
	n := 100000
	if v := os.Getenv("HOOKD_BENCH_CHANGES"); v != "" {
		fmt.Sscan(v, &n)
	}
	return n
}

// benchRecord is the i-th of n changes over 90 days: 1 in 100 grants Workflows
// Administrator (critical), 1 in 50 is by a second admin, a third are for groups.
func benchRecord(i, n int) hookd.RoleChange {
	at := time.Date(2026, 8, 29, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * (90 * 24 * time.Hour / time.Duration(n)))
	rc := hookd.RoleChange{
		EventID: fmt.Sprintf("bench-%07d", i), EventType: hook.WorkflowsUserRoleAdd, Published: at,
		Category: hookd.WorkflowsRole, Action: hookd.Granted, Source: hookd.SourceHook,
		Subject:       hookd.Subject{Kind: hookd.SubjectUser, ID: fmt.Sprintf("00u%06d", i%5000), Login: fmt.Sprintf("user%d@acme.example", i%5000), DisplayName: fmt.Sprintf("User %d", i%5000)},
		Roles:         []hookd.Role{{Name: []string{"Folder Reader", "Folder Editor", "Connection Manager", "Integration Builder"}[i%4], Type: "WorkflowsRole"}},
		Actor:         hookd.Ref{ID: "00uALICE", Login: "alice.admin@acme.example", DisplayName: "Alice Admin", Type: "User"},
		Client:        hookd.ClientInfo{IP: "198.51.100.23", Country: "United States", City: "Denver", UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)"},
		TransactionID: fmt.Sprintf("tx%07d", i), DisplayMessage: "Add Workflows role to user", Org: "https://acme.okta.com",
	}
	if i%3 == 0 {
		rc.EventType = hook.WorkflowsGroupRoleAdd
		rc.Subject = hookd.Subject{Kind: hookd.SubjectGroup, ID: fmt.Sprintf("00g%04d", i%300), DisplayName: fmt.Sprintf("Team %d", i%300)}
	}
	if i%50 == 7 {
		rc.Actor = hookd.Ref{ID: "00uMALLORY", Login: "mallory@acme.example", DisplayName: "Mallory", Type: "User"}
	}
	if i%100 == 11 {
		rc.Roles = []hookd.Role{{Name: "Workflows Administrator", Type: "WorkflowsRole"}}
	}
	raw := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":%q,"version":"0","severity":"INFO","displayMessage":"Add Workflows role to user","actor":{"id":"00uALICE","type":"User","alternateId":"alice.admin@acme.example","displayName":"Alice Admin"},"client":{"ipAddress":"198.51.100.23","geographicalContext":{"city":"Denver","country":"United States"}},"outcome":{"result":"SUCCESS"},"target":[{"id":%q,"type":"User"},{"id":"wfr1","type":"WorkflowsRole","displayName":%q}],"transaction":{"id":%q}}`,
		rc.EventID, at.Format(time.RFC3339Nano), rc.EventType, rc.Subject.ID, rc.Roles[0].Name, rc.TransactionID)
	rc.Raw = []byte(raw)
	return rc
}

// fillConsoleStore stores n changes routed to two sinks and settles their jobs as a
// long-running hookd would have: delivered, except 1 in 200 dead on one sink.
func fillConsoleStore(b *testing.B, st *store.Store, n int) {
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i += 1000 {
		batch := make([]hookd.RoleChange, 0, 1000)
		for j := i; j < min(i+1000, n); j++ {
			batch = append(batch, benchRecord(j, n))
		}
		if _, err := st.Accept(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	db := st.DB()
	now := any(time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z"))
	if st.Dialect() == "postgres" {
		now = time.Now().UTC()
	}
	// Delivered, except siem's deliveries of events ending in 05: dead (1 in 200).
	for _, q := range []string{
		`UPDATE hookd_delivery SET state = 'delivered', finished_at = $1, attempt = 1 WHERE event NOT LIKE '%05' OR sink <> 'siem'`,
		`UPDATE hookd_delivery SET state = 'dead', finished_at = $1, attempt = 1, last_error = 'HTTP 404' WHERE event LIKE '%05' AND sink = 'siem'`,
	} {
		if _, err := db.Exec(q, now); err != nil {
			b.Fatal(fmt.Errorf("%s: %w", q, err))
		}
	}
	analyze := "ANALYZE"
	if st.Dialect() == "postgres" {
		analyze = "VACUUM ANALYZE" // as autovacuum would have
	}
	if _, err := db.Exec(analyze); err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d role changes on %s in %s", n, st.Dialect(), time.Since(start).Round(time.Millisecond))
}

// BenchmarkConsolePages renders each console page and API answer over 100,000 stored role
// changes, on SQLite and (with HOOKD_TEST_DATABASE_URL) Postgres. The target: every
// page under 100 ms.
func BenchmarkConsolePages(b *testing.B) {
	backends := map[string]func() store.Options{"sqlite": func() store.Options { return store.Options{DataDir: b.TempDir()} }}
	if base := os.Getenv("HOOKD_TEST_DATABASE_URL"); base != "" {
		backends["postgres"] = func() store.Options { return store.Options{DatabaseURL: storetest.FreshSchema(b, base)} }
	}
	n := consoleBenchChanges()
	for _, name := range []string{"sqlite", "postgres"} {
		fresh, ok := backends[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			router := alerting.NewRouter(nil)
			severity := func(rc *hookd.RoleChange) string { return router.Severity(rc).String() }
			o := fresh()
			o.Sinks = []string{"slack", "siem"}
			o.Severity = func(rc *hookd.RoleChange) (string, int) { return severity(rc), int(router.Severity(rc)) }
			st, err := store.Open(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			fillConsoleStore(b, st, n)
			auth, _ := verify.New("Authorization", []string{"bench-secret"})
			srv, err := handlers.New(handlers.Options{Auth: auth, Store: st, Console: &handlers.ConsoleOptions{
				Store: st, Sinks: []handlers.SinkInfo{{Name: "slack", Type: "slack"}, {Name: "siem", Type: "webhook"}},
				Severity: severity, Title: alerting.Title,
				Coverage: func(ctx context.Context) (adminapi.Coverage, error) {
					var types []string
					for _, t := range hook.Watched() {
						types = append(types, t.EventType)
					}
					seen, err := st.LastSeen(ctx, types)
					var cov adminapi.Coverage
					for _, t := range types {
						cov.Types = append(cov.Types, adminapi.TypeCoverage{EventType: t, LastSeen: seen[t].Published, LastSource: seen[t].Source})
					}
					return cov, err
				},
			}})
			if err != nil {
				b.Fatal(err)
			}
			h := srv.AdminHandler()
			for _, page := range []struct{ name, path string }{
				{"changes", "/"},
				{"changes-older-page", "/?before=" + olderCursor(b, h)},
				{"filter-role-1pct", "/?role=Workflows+Administrator"},
				{"filter-actor-2pct", "/?actor=mallory"},
				{"filter-severity-critical", "/?severity=critical"},
				{"filter-group-and-since-7d", "/?group=Team+12&since=2026-11-20"},
				{"filter-no-match", "/?user=nobody-at-all"},
				{"change-detail", fmt.Sprintf("/changes/bench-%07d", n/2)},
				{"deadletters", "/deadletters"},
				{"sinks", "/sinks"},
				{"coverage", "/coverage"},
				{"api-changes", "/api/v1/changes"},
			} {
				b.Run(page.name, func(b *testing.B) {
					for b.Loop() {
						rec := httptest.NewRecorder()
						req := httptest.NewRequest(http.MethodGet, page.path, nil)
						req.Header.Set("Accept", "text/html")
						h.ServeHTTP(rec, req)
						if rec.Code != http.StatusOK {
							b.Fatalf("%s: %d %s", page.path, rec.Code, rec.Body.String())
						}
					}
				})
			}
		})
	}
}

// olderCursor is the cursor of the second page, from the first.
func olderCursor(b *testing.B, h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/changes", nil))
	var page struct{ Next string }
	if err := jsonUnmarshal(rec.Body.Bytes(), &page); err != nil || page.Next == "" {
		b.Fatalf("no next page: %v %s", err, rec.Body.String()[:200])
	}
	return page.Next
}
