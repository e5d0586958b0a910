package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// suite holds what every scenario shares: the binary, a scratch folder and the databases.
type suite struct {
	bin   string
	dir   string
	dbURL string
	full  bool
	admin *sql.DB
	// schemas are the Postgres schemas the runs made, dropped at the end so that runs do not
	// pile up in the shared database.
	schemas []string
}

func newSuite(bin, dbURL string, full bool) (*suite, error) {
	dir, err := os.MkdirTemp("", "hookd-fault-")
	if err != nil {
		return nil, err
	}
	s := &suite{bin: bin, dir: dir, dbURL: dbURL, full: full}
	if s.bin == "" {
		if s.bin, err = buildHookd(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if dbURL != "" {
		if s.admin, err = sql.Open("pgx", dbURL); err == nil {
			err = s.admin.Ping()
		}
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres at --database-url: %w", err)
		}
	}
	return s, nil
}

func (s *suite) close() {
	if s.admin != nil {
		for _, schema := range s.schemas {
			_, _ = s.admin.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE")
		}
		s.admin.Close()
	}
	os.RemoveAll(s.dir)
}

// backends returns the stores a scenario runs on: SQLite always, Postgres when a URL is set.
func (s *suite) backends(want []string) []string {
	var out []string
	for _, b := range want {
		if b == "postgres" && s.dbURL == "" {
			continue
		}
		out = append(out, b)
	}
	return out
}

// storeEnv returns a fresh store for one run: a new data dir, and on Postgres a new schema.
func (s *suite) storeEnv(backend string) (dataDir string, env []string, err error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	dataDir = filepath.Join(s.dir, hex.EncodeToString(b))
	if backend != "postgres" {
		return dataDir, nil, nil
	}
	schema := "hookd_fault_" + hex.EncodeToString(b)
	if _, err := s.admin.Exec("CREATE SCHEMA " + schema); err != nil {
		return "", nil, err
	}
	s.schemas = append(s.schemas, schema)
	u, err := url.Parse(s.dbURL)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return dataDir, []string{"HOOKD_DATABASE_URL=" + u.String()}, nil
}

// start runs a fresh hookd on backend with env added and returns it started.
func (s *suite) start(backend string, env ...string) (*hookd, error) {
	dataDir, storeEnv, err := s.storeEnv(backend)
	if err != nil {
		return nil, err
	}
	h := newHookd(s.bin, dataDir, append(storeEnv, env...)...)
	return h, h.start()
}

// startAlerting starts a webhook receiver and a fresh hookd on backend posting its alerts to
// it, with env added; stop ends both.
func (s *suite) startAlerting(backend string, env ...string) (h *hookd, recv *receiver, stop func(), err error) {
	recv = newReceiver()
	h, err = s.start(backend, append(recv.env(), env...)...)
	if err != nil {
		recv.close()
		return nil, nil, nil, err
	}
	return h, recv, func() { h.stop(); recv.close() }, nil
}

// pick returns short or full by the suite's length.
func pick[T any](s *suite, short, full T) T {
	if s.full {
		return full
	}
	return short
}

// scenario is one fault the suite provokes.
type scenario struct {
	name     string
	backends []string
	run      func(ctx context.Context, s *suite, backend string) *result
}

// scenarios are run in this order.
var scenarios []scenario

func scenarioNames() []string {
	var out []string
	for _, sc := range scenarios {
		out = append(out, sc.name)
	}
	sort.Strings(out)
	return out
}

// result is what one scenario run measured, and which of its targets it missed.
type result struct {
	figures []string
	missed  []string
}

// figure records a measurement.
func (r *result) figure(format string, args ...any) {
	r.figures = append(r.figures, fmt.Sprintf(format, args...))
}

// check records a target, missed when ok is false.
func (r *result) check(ok bool, format string, args ...any) {
	if !ok {
		r.missed = append(r.missed, fmt.Sprintf(format, args...))
	}
}

// fail records a scenario that could not run.
func (r *result) fail(err error) *result {
	r.missed = append(r.missed, "could not run: "+err.Error())
	return r
}

func (r *result) print(w io.Writer, name, backend string, took time.Duration) {
	verdict := "ok"
	if len(r.missed) > 0 {
		verdict = "MISSED"
	}
	fmt.Fprintf(w, "== %s (%s): %s in %.1fs\n", name, backend, verdict, took.Seconds())
	for _, f := range r.figures {
		fmt.Fprintf(w, "   %s\n", f)
	}
	for _, m := range r.missed {
		fmt.Fprintf(w, "   MISSED: %s\n", strings.TrimSpace(m))
	}
}

// mb formats bytes as MB.
func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

// count runs a count query on h's store, as it is on disk (SQLite, read only) or on
// Postgres.
func (h *hookd) count(query string) (int, error) {
	dsn, driver := "file:"+filepath.Join(h.dataDir, "hookd.db")+"?mode=ro&_pragma=busy_timeout(5000)", "sqlite"
	for _, kv := range h.env {
		if v, ok := strings.CutPrefix(kv, "HOOKD_DATABASE_URL="); ok {
			dsn, driver = v, "pgx"
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(query).Scan(&n)
	return n, err
}

// jobsLeft counts h's deliveries not finished: waiting, running or to be retried.
func (h *hookd) jobsLeft() (int, error) {
	return h.count(`SELECT count(*) FROM hookd_delivery WHERE state = 'pending'`)
}

// waitDelivered waits until h has no delivery job left (jobsLeft), for at most limit.
func (h *hookd) waitDelivered(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var n int
	var err error
	if waitFor(ctx, func() bool { n, err = h.jobsLeft(); return err == nil && n == 0 }) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%d delivery jobs still to run after %s", n, limit)
}
