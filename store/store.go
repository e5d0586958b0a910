// Package store accepts RoleChanges durably and queues their deliveries. An event's row and
// its delivery rows are written in one transaction, committed before Okta is answered, on
// SQLite (the embedded default) or Postgres (several replicas); the delivery rows are the
// queue (queue.go), worked by this package's own workers (worker.go).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/backoff"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/detect"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/memtrim"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, pure Go
)

// ErrNotFound is returned when an event is not stored.
var ErrNotFound = fmt.Errorf("event %w", adminapi.ErrNotFound)

// Deliverer hands stored RoleChanges to one named sink. Its error says what the failure
// means as a hookd.DeliveryError (see hookd.Failure); any other error is retried with backoff.
type Deliverer interface {
	// Deliver sends one message to sink: one event, or the events of one admin action.
	Deliver(ctx context.Context, sink string, changes []*hookd.RoleChange) error
}

// Options configures a Store.
type Options struct {
	// DataDir holds hookd.db when DatabaseURL is empty.
	DataDir string
	// DatabaseURL, a postgres:// URL, selects Postgres.
	DatabaseURL string
	// Sinks are the sink names each new event gets a delivery job for, unless Route is set.
	Sinks []string
	// Severity, when set, names each new event's severity as its alert will have it, for the
	// console's filter (kept as it was at acceptance), and ranks it (higher is more severe):
	// the queue delivers the most severe first.
	Severity func(*hookd.RoleChange) (name string, rank int)
	// Route, when set, picks the sinks for each event instead of Sinks.
	Route func(*hookd.RoleChange) []string
	// Escalate, when set, names where each new event's alert goes on if nobody decides on
	// the change (Decide) in time: each is a delivery row due that much later, which is sent
	// only if there is still no decision then.
	Escalate func(*hookd.RoleChange) []Escalation
	// Beside opens a SQLite data dir that a serving hookd may hold, without its lock: for
	// commands that write the ledger and never run deliveries (the lock keeps a second server
	// from taking over deliveries the first is running). SQLite's own locking orders the writes.
	Beside bool
	// Detect, when set, finds what makes a change worth a closer look (package detect) before
	// it is stored and routed: the findings are part of the record.
	Detect *detect.Settings
	// Deliverer sends the deliveries; without it Start runs no delivery workers.
	Deliverer Deliverer
	// Workers is how many deliveries run at once (default 32). A worker is busy until its
	// outcome is committed, which bounds what a crash can send twice, so the count bounds
	// the queue's pace as well as the sinks' concurrency.
	Workers int
	// MaxAttempts bounds delivery attempts before a delivery goes to the dead letter (default
	// 56: with the default backoff, about 24 hours of trying).
	MaxAttempts int
	// RetryBase and RetryCap shape the backoff between attempts (default 5 s doubling up to
	// 30 min, ±25% jitter).
	RetryBase, RetryCap time.Duration
	// GroupWindow, when above zero, holds each delivery that long after acceptance so that
	// the events of one admin action (same transaction and actor) go out as one message.
	// Zero sends each event alone, at once.
	GroupWindow time.Duration
	// Registerer, when set, receives the store's metrics (deliveries, their latency, the
	// queue by state).
	Registerer prometheus.Registerer
	// OnOutcome, when set, is told how each delivery attempt ended.
	OnOutcome func(Outcome)
	// Unfolded is the least severity rank (as Severity ranks) that a paced sink's flood
	// never folds into a summary: such alerts go one by one however many wait (see
	// Summarizer). Zero lets every alert be folded.
	Unfolded int
	// Periodic tasks run on one replica at a time (see Periodic).
	Periodic []Periodic
	// FetchPollInterval is how often idle workers look for deliveries that came due or that
	// another replica queued; this process's own commits wake them at once (default
	// defaultFetchPoll).
	FetchPollInterval time.Duration
	// ReplicaID names this replica in the store's log lines (default: the host name).
	ReplicaID string
	// Logger receives the queue's warnings (default: standard error, warnings up).
	Logger *slog.Logger
	// Now stamps accepted_at; tests replace it.
	Now func() time.Time
	// Memory, when set, is told of each large event a worker delivers, so that the memory
	// it took is returned to the OS once none is left in flight; the store's Trim runs then.
	Memory *memtrim.Trimmer
}

// Store is the durable store and delivery queue.
type Store struct {
	db *sql.DB
	// commitDB is the writer's: on SQLite one connection of its own, which the committer of
	// accepted events and the queue's claims and outcomes take in turn, so that they never
	// meet at SQLite's file lock; on Postgres the same pool as db.
	commitDB *sql.DB
	// queueDB, on Postgres, is the queue's pool, whose commits do not wait for the disk (see
	// queueTx).
	queueDB *sql.DB
	dialect dialect
	opts    Options
	retry   backoff.Doubling

	pending    chan *acceptRequest
	stop       chan struct{}
	stopped    chan struct{}
	committers int
	// loops counts the store's goroutines that Close waits for.
	loops int
	// checkpointDB, on SQLite, copies the write-ahead log into the database (see
	// checkpointLoop).
	checkpointDB *sql.DB
	// dirLock holds the SQLite data dir for this process.
	dirLock  *os.File
	maxGroup int
	close    sync.Once
	closeErr error
	metrics  *metrics
	// wake tells this process's queue loop that a commit queued deliveries.
	wake    chan struct{}
	workers *workers
	lanes   laneSet
	// paced are the sinks that send at a fixed pace (see Summarizer).
	paced    map[string]bool
	periodic []Periodic
	// stopLead ends the leader's loop; led is closed once it has.
	stopLead context.CancelFunc
	led      chan struct{}
}

type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// Open connects, migrates, and starts the committer. Workers start with Start.
func Open(ctx context.Context, o Options) (_ *Store, err error) {
	o = withDefaults(o)
	s := &Store{opts: o, pending: make(chan *acceptRequest, 1024), stop: make(chan struct{}), wake: make(chan struct{}, 1),
		retry: backoff.Doubling{Base: o.RetryBase, Cap: o.RetryCap}, periodic: o.Periodic}
	defer func() {
		if err != nil && s.db != nil {
			_ = s.closeDBs()
		}
	}()
	if err := s.openDatabase(ctx); err != nil {
		return nil, err
	}
	if err := s.indexOldChanges(ctx); err != nil {
		return nil, fmt.Errorf("console index of stored changes: %w", err)
	}
	if err := s.buildLedger(ctx); err != nil {
		return nil, fmt.Errorf("ledger of role holders from stored changes: %w", err)
	}
	if err := s.registerMetrics(o.Registerer); err != nil {
		return nil, fmt.Errorf("store metrics: %w", err)
	}
	o.Memory.OnTrim(s.Trim)
	// SQLite has one writer, so one committer; on Postgres a few committers overlap one
	// group's round trips with the next one's work, and smaller groups spread it over them.
	s.committers, s.maxGroup = 1, 2000
	if s.dialect == postgres {
		s.committers, s.maxGroup = 4, 250
	}
	s.loops = s.committers
	if s.checkpointDB != nil {
		s.loops++
		go s.checkpointLoop()
	}
	s.stopped = make(chan struct{}, s.loops)
	for range s.committers {
		go s.commitLoop()
	}
	return s, nil
}

func withDefaults(o Options) Options {
	orDefault(&o.Workers, 32)
	orDefault(&o.FetchPollInterval, defaultFetchPoll)
	orDefault(&o.MaxAttempts, 56)
	orDefault(&o.RetryBase, 5*time.Second)
	orDefault(&o.RetryCap, 30*time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReplicaID == "" {
		o.ReplicaID, _ = os.Hostname()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	o.Logger = o.Logger.With("replica", o.ReplicaID)
	return o
}

// orDefault sets *v to def unless it is above zero.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// defaultFetchPoll is FetchPollInterval's default: a short wait for other replicas' commits
// and for retries come due, a cheap indexed query when nothing is.
const defaultFetchPoll = 100 * time.Millisecond

// openDatabase connects to Postgres or opens (and locks) the SQLite data dir, then migrates.
func (s *Store) openDatabase(ctx context.Context) (err error) {
	o := s.opts
	if o.DatabaseURL != "" {
		s.dialect = postgres
		s.db, err = sql.Open("pgx", o.DatabaseURL)
		if err == nil {
			s.commitDB = s.db
			s.queueDB, err = sql.Open("pgx", withParam(o.DatabaseURL, "synchronous_commit", "off"))
		}
		if err != nil {
			return fmt.Errorf("%w: postgres: %s", hookd.ErrUnavailable, redact(err))
		}
		s.db.SetMaxOpenConns(20)
		s.db.SetMaxIdleConns(postgresIdleConns)
		s.queueDB.SetMaxOpenConns(4)
		s.queueDB.SetMaxIdleConns(4)
	} else if err = s.openSQLite(); err != nil {
		return err
	}
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %s: %s", hookd.ErrUnavailable, s.dialect, redact(err))
	}
	if err := migrate(ctx, s.commitDB, s.dialect); err != nil {
		return fmt.Errorf("%w: %s", hookd.ErrUnavailable, redact(err))
	}
	return nil
}

// openSQLite locks the data dir and opens its database three times: the readers' pool, the
// writer's one connection (acceptance and the queue's commits take it in turn, queueing in
// Go rather than at SQLite's file lock, whose busy handler sleeps in steps) and the
// checkpointer's. WAL lets readers run beside the writer; synchronous=FULL makes a commit
// durable before Okta is answered; _txlock=immediate takes the write lock at BEGIN. The
// writer leaves checkpoints to checkpointLoop, so that no commit Okta waits for does one.
func (s *Store) openSQLite() error {
	dir := s.opts.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if !s.opts.Beside {
		lock, err := lockDataDir(dir)
		if err != nil {
			return err
		}
		s.dirLock = lock
	}
	dsn := "file:" + filepath.Join(dir, "hookd.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"
	s.dialect = sqlite
	db, err := sql.Open("sqlite", dsn)
	if err == nil {
		s.db = db
		if s.commitDB, err = sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint(0)&_pragma=temp_store(MEMORY)"); err == nil {
			s.checkpointDB, err = sql.Open("sqlite", dsn)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: sqlite: %v", hookd.ErrUnavailable, err)
	}
	s.db.SetMaxOpenConns(sqliteConns)
	s.db.SetMaxIdleConns(sqliteConns) // an SQLite connection's prepared statements stay with it
	s.commitDB.SetMaxOpenConns(1)
	s.checkpointDB.SetMaxOpenConns(1)
	return nil
}

// Dialect names the database in use: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.String() }

// Start runs the delivery workers (with a Deliverer) and the periodic tasks (while this
// replica leads) until Stop. On SQLite it first makes what a crash of the previous run left
// leased due at once. ctx bounds the start only: its end does not stop the workers, so that
// a shutdown signal can let deliveries in flight finish (Stop decides how long).
func (s *Store) Start(ctx context.Context) error {
	if s.opts.Deliverer == nil && len(s.periodic) == 0 {
		return errors.New("store: no Deliverer and no periodic task, so no workers to start")
	}
	if s.dialect == sqlite && s.opts.Deliverer != nil {
		switch n, err := s.releaseHeld(ctx); {
		case err != nil:
			s.opts.Logger.Warn("deliveries left leased by an earlier run were not released at start; they run once their lease lapses", "error", err.Error())
		case n > 0:
			s.opts.Logger.Warn("deliveries a crash left in flight run again now", "deliveries", n)
		}
	}
	if s.opts.Deliverer != nil {
		if err := s.learnLanes(ctx); err != nil {
			return err
		}
		if sum, ok := s.opts.Deliverer.(Summarizer); ok && len(sum.Paced()) > 0 {
			s.paced = map[string]bool{}
			for sink := range sum.Paced() {
				s.paced[sink] = true
			}
			s.periodic = append(s.periodic, s.foldTask(sum))
		}
		s.startWorkers()
	}
	if len(s.periodic) > 0 {
		var lead context.Context
		lead, s.stopLead = context.WithCancel(context.Background())
		s.led = make(chan struct{})
		go func() {
			defer close(s.led)
			s.leadLoop(lead)
		}()
	}
	return nil
}

// Stop lets running deliveries finish until ctx ends, then cancels them; their rows are due
// again (on this replica's next start, or on another replica once their lease lapses). The
// periodic tasks are cancelled and waited for.
func (s *Store) Stop(ctx context.Context) error {
	var err error
	if s.stopLead != nil {
		s.stopLead()
	}
	if s.workers != nil {
		err = s.stopWorkers(ctx)
	}
	if s.led != nil {
		<-s.led
	}
	return err
}

// Close stops the committer (after it has committed what was already handed to it) and
// closes the database.
func (s *Store) Close() error {
	s.close.Do(func() {
		close(s.stop)
		for range s.loops {
			<-s.stopped
		}
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %s", hookd.ErrUnavailable, redact(err))
	}
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%w: %s", hookd.ErrUnavailable, redact(err))
	}
	return nil
}

// Record returns a stored RoleChange by its event uuid.
func (s *Store) Record(ctx context.Context, eventID string) (*hookd.RoleChange, error) {
	key := dbKey(eventID)
	var data, raw []byte
	err := s.db.QueryRowContext(ctx, `SELECT record, raw FROM hookd_event WHERE uuid = $1`, key).Scan(&data, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, dbError("read event", err)
	}
	return decodeRecord(key, data, raw)
}

// JobCounts counts deliveries not done by what they wait for: "pending" (to run, or
// running), "retrying" (after a failure) and "dead" (the dead letter, not yet handled).
func (s *Store) JobCounts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{"pending": 0, "retrying": 0, "dead": 0}
	bySink, err := s.SinkJobs(ctx)
	for _, c := range bySink {
		out["pending"] += c.Pending
		out["retrying"] += c.Retrying
		out["dead"] += c.Dead
	}
	return out, err
}

// DB is the database handle, for tests and for packages that keep small state beside the
// events (such as the System Log cursor).
func (s *Store) DB() *sql.DB { return s.db }

// closeDBs closes the database handles and lets go of the data dir.
func (s *Store) closeDBs() error {
	var err error
	for _, db := range []*sql.DB{s.db, s.queueDB, s.checkpointDB} {
		if db != nil {
			err = errors.Join(err, db.Close())
		}
	}
	if s.commitDB != nil && s.commitDB != s.db {
		err = errors.Join(err, s.commitDB.Close())
	}
	if s.dirLock != nil {
		err = errors.Join(err, s.dirLock.Close())
	}
	return err
}

// checkpointInterval is how often checkpointLoop copies the write-ahead log into the
// database. SQLite's own default does it once the log passes 1,000 pages (4 MB), which
// hookd's commits reach about once a second at 1,000 events/s.
const checkpointInterval = 500 * time.Millisecond

// checkpointLoop copies SQLite's write-ahead log into the database until the store closes,
// on a connection of its own outside the write gate: a passive checkpoint waits for no
// writer and no writer waits for it, where SQLite's automatic one runs inside whichever
// commit passes the threshold, often acceptance's.
func (s *Store) checkpointLoop() {
	defer func() { s.stopped <- struct{}{} }()
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var busy, logged, copied int
		err := s.checkpointDB.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logged, &copied)
		cancel()
		if err != nil {
			s.opts.Logger.Warn("write-ahead log checkpoint failed; the next one tries again", "error", redact(err))
		}
	}
}

// sqliteConns bounds SQLite's shared pool: readers (workers loading events, the console)
// run at once.
const sqliteConns = 8

// postgresIdleConns is how many Postgres connections the pool keeps open when idle.
const postgresIdleConns = 20

// Trim lets go of what a burst of large deliveries grew in the database connections; the
// server calls it once such a burst is over. On Postgres it closes the idle connections (the
// driver keeps each one's largest message buffer for reuse), which the pool opens again as
// needed. On SQLite it has each connection it can take at once free its page cache
// (shrinkSQLite).
func (s *Store) Trim() {
	if s.dialect != postgres {
		s.shrinkSQLite()
		return
	}
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(postgresIdleConns)
}

// shrinkMemory has an SQLite connection free its page cache.
const shrinkMemory = "PRAGMA shrink_memory"

// shrinkWait bounds the wait for each SQLite connection shrinkSQLite takes: one busy beyond
// it keeps its cache.
const shrinkWait = 20 * time.Millisecond

// shrinkSQLite has SQLite's connections free their page caches (PRAGMA shrink_memory).
// Reading or writing a 9 MiB event fills a connection's cache, and SQLite keeps it; freed,
// the driver's allocator returns most of it to the OS. The connections are held together so
// that each is visited once, then released.
func (s *Store) shrinkSQLite() {
	var held []*sql.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	shrink := func(db *sql.DB, conns int) {
		for range conns {
			ctx, cancel := context.WithTimeout(context.Background(), shrinkWait)
			c, err := db.Conn(ctx)
			if err == nil {
				held = append(held, c)
				_, err = c.ExecContext(ctx, shrinkMemory)
			}
			cancel()
			if err != nil {
				return
			}
		}
	}
	shrink(s.db, sqliteConns)
	shrink(s.commitDB, 1)
}

// withParam adds a connection parameter to a Postgres URL (or key=value DSN): pgx sends
// parameters it does not know itself to the server as settings of the session.
func withParam(dsn, key, value string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn + " " + key + "=" + value
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
