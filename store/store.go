// Package store accepts RoleChanges durably and queues their deliveries. An event's row and
// its delivery jobs are written in one transaction, committed before Okta is answered, on
// SQLite (the embedded default) or Postgres (several replicas), with River as the queue; a
// commit of many jobs writes them as one row, queued right after (see queueLaterFrom).
// On SQLite one writer writes at a time, in turns kept by a write gate where the committer of
// accepted events goes before the queue's bookkeeping (see writeGate).
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hookd/hookd/internal/backoff"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hookd/hookd/detect"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/memtrim"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// ErrNotFound is returned when an event is not stored.
var ErrNotFound = fmt.Errorf("event %w", adminapi.ErrNotFound)

// Deliverer hands one stored RoleChange to one named sink. Its error says what to do next:
// an error with a `Permanent() bool` method that returns true ends the job (no retry); one
// with a `RetryAfter() time.Duration` method above zero retries after that delay; any other
// error retries with backoff.
type Deliverer interface {
	// Deliver sends one message to sink: one event, or the events of one admin action.
	Deliver(ctx context.Context, sink string, changes []*hook.RoleChange) error
}

// Options configures a Store.
type Options struct {
	// DataDir holds hookd.db when DatabaseURL is empty.
	DataDir string
	// DatabaseURL, a postgres:// URL, selects Postgres.
	DatabaseURL string
	// Sinks are the sink names each new event gets a delivery job for, unless Route is set.
	Sinks []string
	// Severity, when set, ranks each new event as its alert will be, for the console's
	// filter (kept as it was at acceptance).
	Severity func(*hook.RoleChange) string
	// Route, when set, picks the sinks for each event instead of Sinks.
	Route func(*hook.RoleChange) []string
	// Beside opens a SQLite data dir that a serving hookd may hold, without its lock: for
	// commands that write the ledger and never run delivery jobs (the lock keeps two servers
	// from taking each other's running jobs). SQLite's own locking orders the writes.
	Beside bool
	// Detect, when set, finds what makes a change worth a closer look (package detect) before
	// it is stored and routed: the findings are part of the record.
	Detect *detect.Settings
	// Deliverer works the delivery jobs; without it Start refuses to run workers.
	Deliverer Deliverer
	// Workers is how many deliveries run at once (default 10).
	Workers int
	// MaxAttempts bounds delivery attempts before a job is discarded (default 56: with the
	// default backoff, about 24 hours of trying).
	MaxAttempts int
	// RetryBase and RetryCap shape the backoff between attempts (default 5 s doubling up to
	// 30 min, ±25% jitter).
	RetryBase, RetryCap time.Duration
	// GroupWindow, when above zero, holds each delivery that long after acceptance so that
	// the events of one admin action (same transaction and actor) go out as one message.
	GroupWindow time.Duration
	// Registerer, when set, receives the store's metrics (deliveries, their latency, jobs by
	// state).
	Registerer prometheus.Registerer
	// OnOutcome, when set, is told how each delivery attempt ended.
	OnOutcome func(Outcome)
	// Periodic tasks run on one replica at a time (see Periodic).
	Periodic []Periodic
	// FetchPollInterval is how often workers look for new jobs (default 50 ms).
	FetchPollInterval time.Duration
	// ReplicaID names this replica on Postgres so that, after a crash, it rescues its own
	// running jobs at start (default: the host name).
	ReplicaID string
	// Logger receives River's own logs (default: discarded below warnings).
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
	// commitDB is the committer's: on SQLite one connection of its own whose writes go
	// first through the write gate (see writeGate); on Postgres the same pool as db.
	commitDB *sql.DB
	dialect  dialect
	river    *river.Client[*sql.Tx]
	opts     Options

	pending chan *acceptRequest
	marks   chan *markRequest
	// kept hands queueLoop the rows of delivery jobs that commits kept to queue later.
	kept       chan int64
	stop       chan struct{}
	stopped    chan struct{}
	committers int
	// loops counts the store's goroutines that Close waits for.
	loops int
	// checkpointDB, on SQLite, copies the write-ahead log into the database (see
	// checkpointLoop).
	checkpointDB *sql.DB
	eventStmt    *sql.Stmt
	// dirLock holds the SQLite data dir for this process; replicaLock, this replica's ID on
	// Postgres.
	dirLock     *os.File
	replicaLock *sql.Conn
	// groupSizeStmt counts a group's events routed to a sink.
	groupSizeStmt *sql.Stmt
	maxGroup      int
	close         sync.Once
	closeErr      error
	metrics       *metrics
	// periodic holds the periodic tasks by name, for the worker that runs them.
	periodic *periodicTasks
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

// DeliveryArgs is the River job that delivers one event to one sink. It names the event
// rather than carrying it: the event row is the single copy.
type DeliveryArgs struct {
	// EventID is the event's key in the events table (its uuid, encoded by dbKey when the
	// uuid holds what a text column refuses).
	EventID string `json:"event_id"`
	Sink    string `json:"sink"`
	// Inline carries the event itself when the events table refused it.
	Inline *InlineEvent `json:"inline,omitempty"`
	// Requeued marks a job an operator re-queued from the dead letter: its first attempt
	// may find some of its events already delivered by the dead job's.
	Requeued bool `json:"requeued,omitempty"`
}

// InlineEvent is an event that travels in its delivery job because the events table refused
// it: its record (flagged with the problem), its raw bytes and when it was accepted.
type InlineEvent struct {
	Record     json.RawMessage `json:"record"`
	Raw        []byte          `json:"raw"`
	AcceptedAt time.Time       `json:"accepted_at"`
}

// Kind is River's name for the job.
func (DeliveryArgs) Kind() string { return "hookd_delivery" }

// Open connects, migrates, and starts the committer. Workers start with Start.
func Open(ctx context.Context, o Options) (*Store, error) {
	o = withDefaults(o)
	s := &Store{opts: o, pending: make(chan *acceptRequest, 1024), marks: make(chan *markRequest, 1024), kept: make(chan int64, 64), stop: make(chan struct{})}
	driver, err := s.openDatabase(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.closeHandles()
		return nil, fmt.Errorf("%w: %s", hook.ErrUnavailable, redact(err))
	}
	if err := s.indexOldChanges(ctx); err != nil {
		s.closeHandles()
		return nil, fmt.Errorf("console index of stored changes: %w", err)
	}
	if err := s.buildLedger(ctx); err != nil {
		s.closeHandles()
		return nil, fmt.Errorf("ledger of role holders from stored changes: %w", err)
	}
	if err := s.registerMetrics(o.Registerer); err != nil {
		s.closeHandles()
		return nil, fmt.Errorf("store metrics: %w", err)
	}
	if s.river, err = river.NewClient(driver, s.riverConfig()); err != nil {
		s.closeHandles()
		return nil, fmt.Errorf("river: %w", err)
	}
	o.Memory.OnTrim(s.Trim)
	// SQLite has one writer, so one committer; Postgres takes concurrent transactions, and a
	// few committers overlap one group's round trips and sync with the next one's work.
	// A group is bounded so that one commit stays short; on Postgres smaller groups also
	// spread the work over the committers.
	s.committers, s.maxGroup = 1, 2000
	if s.dialect == postgres {
		s.committers, s.maxGroup = 4, 250
	}
	s.loops = s.committers + 2 // and markLoop, queueLoop
	if s.checkpointDB != nil {
		s.loops++
		go s.checkpointLoop()
	}
	s.stopped = make(chan struct{}, s.loops)
	for range s.committers {
		go s.commitLoop()
	}
	go s.markLoop()
	go s.queueLoop()
	return s, nil
}

func withDefaults(o Options) Options {
	if o.Workers <= 0 {
		o.Workers = 10
	}
	if o.FetchPollInterval <= 0 {
		o.FetchPollInterval = 50 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 56
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 5 * time.Second
	}
	if o.RetryCap <= 0 {
		o.RetryCap = 30 * time.Minute
	}
	if o.ReplicaID == "" {
		o.ReplicaID, _ = os.Hostname()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return o
}

// openDatabase connects to Postgres or opens (and locks) the SQLite data dir, then migrates.
func (s *Store) openDatabase(ctx context.Context) (riverdriver.Driver[*sql.Tx], error) {
	o := s.opts
	var driver riverdriver.Driver[*sql.Tx]
	if o.DatabaseURL != "" {
		db, err := sql.Open("pgx", o.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("%w: postgres: %s", hook.ErrUnavailable, redact(err))
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(postgresIdleConns)
		s.db, s.commitDB, s.dialect = db, db, postgres
		driver = riverdatabasesql.New(db)
	} else {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		if !o.Beside {
			lock, err := lockDataDir(o.DataDir)
			if err != nil {
				return nil, err
			}
			s.dirLock = lock
		}
		// WAL lets readers run beside the writer; synchronous=FULL makes a commit durable
		// before Okta is answered; _txlock=immediate takes the write lock at BEGIN. Writers
		// never meet at SQLite's lock: they take turns in hookd's write gate, where the
		// committer of accepted events has its own connection and goes first.
		// The writers leave checkpoints (copying the log into the database, and its sync) to
		// checkpointLoop, so that no commit Okta waits for does one. The committer keeps
		// statement journals in memory (temp_store): a multi-row insert's journal spilled to
		// a temporary file was 7% of its time, in write calls. The other connections keep
		// SQLite's default, so that a large sort of the console's spills to a file.
		dsn := "file:" + filepath.Join(o.DataDir, "hookd.db") +
			"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
		gate := &writeGate{}
		writer := dsn + "&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
		pool, err := newGatedConnector(writer, gate, false)
		if err == nil {
			var commit *gatedConnector
			if commit, err = newGatedConnector(writer+"&_pragma=temp_store(MEMORY)", gate, true); err == nil {
				s.db, s.commitDB = sql.OpenDB(pool), sql.OpenDB(commit)
				if s.checkpointDB, err = sql.Open("sqlite", dsn); err == nil {
					s.checkpointDB.SetMaxOpenConns(1)
				}
			}
		}
		if err != nil {
			if s.dirLock != nil {
				s.dirLock.Close()
			}
			return nil, fmt.Errorf("%w: sqlite: %v", hook.ErrUnavailable, err)
		}
		s.db.SetMaxOpenConns(sqliteConns)
		s.db.SetMaxIdleConns(sqliteConns) // an SQLite connection's prepared statements stay with it
		s.commitDB.SetMaxOpenConns(1)
		s.dialect = sqlite
		driver = queueDriver{riversqlite.New(s.db)}
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.closeHandles()
		return nil, fmt.Errorf("%w: %s: %s", hook.ErrUnavailable, s.dialect, redact(err))
	}
	if err := migrate(ctx, s.db, s.dialect, driver); err != nil {
		s.closeHandles()
		return nil, fmt.Errorf("%w: %s", hook.ErrUnavailable, redact(err))
	}
	return driver, nil
}

// prepare makes the statements every delivery runs, once.
func (s *Store) prepare(ctx context.Context) error {
	var err error
	if s.eventStmt, err = s.db.PrepareContext(ctx, `SELECT record, raw, accepted_at, group_key FROM hookd_event WHERE uuid = $1`); err != nil {
		return err
	}
	s.groupSizeStmt, err = s.db.PrepareContext(ctx, `SELECT count(*) FROM hookd_event WHERE group_key = $1 AND `+s.routedTo("sinks", "$2"))
	return err
}

// riverConfig is the queue's configuration: the delivery and periodic workers, polling,
// retries and rescue.
func (s *Store) riverConfig() *river.Config {
	o := s.opts
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{store: s})
	s.periodic = &periodicTasks{byName: map[string]Periodic{}}
	for _, t := range o.Periodic {
		s.periodic.byName[t.Name] = t
	}
	river.AddWorker(workers, &periodicWorker{tasks: s.periodic})
	return &river.Config{
		Logger:            o.Logger,
		Workers:           workers,
		FetchPollInterval: o.FetchPollInterval,
		FetchCooldown:     min(o.FetchPollInterval, s.fetchCooldown()),
		MaxAttempts:       o.MaxAttempts,
		RetryPolicy:       retryPolicy{backoff.Doubling{Base: o.RetryBase, Cap: o.RetryCap}},
		JobTimeout:        2 * time.Minute,
		// A replica that dies mid-job leaves it running; another picks it up after this,
		// rather than River's default hour (which would also pause System Log polling).
		RescueStuckJobsAfter: rescueAfter,
		// Dead letters stay until an operator retries or discards them (and after, for audit).
		CancelledJobRetentionPeriod: -1,
		DiscardedJobRetentionPeriod: -1,
		PollOnly:                    true,
		PeriodicJobs:                periodicJobs(o.Periodic),
		// Always: periodic tasks may be added after Open (AddPeriodic). Start refuses to
		// run workers when there is nothing for them to do.
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}},
	}
}

// fetchCooldown is the least time between two fetches of jobs, which bounds delivery: at most
// Workers jobs per cooldown. SQLite's fetch is cheap, and its writes queue in the write gate
// behind acceptance, so it fetches often; Postgres keeps River's pace, which its acceptance
// figures were measured with.
func (s *Store) fetchCooldown() time.Duration {
	if s.dialect == sqlite {
		return 2 * time.Millisecond
	}
	return 50 * time.Millisecond
}

// Dialect names the database in use: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.String() }

// Start rescues the jobs a crash of this hookd left running (see rescueOwn), then runs the
// delivery workers until Stop. ctx bounds the start only: its end does not stop the workers,
// so that a shutdown signal can let deliveries in flight finish (Stop decides how long).
func (s *Store) Start(ctx context.Context) error {
	if s.opts.Deliverer == nil && s.periodic.empty() {
		return errors.New("store: no Deliverer and no periodic task, so no workers to start")
	}
	n, err := s.rescueOwn(ctx)
	switch {
	case err != nil:
		s.opts.Logger.Warn("jobs left running by an earlier run were not rescued at start", "error", err.Error())
	case n > 0:
		s.opts.Logger.Warn("rescued deliveries a crash left running; they run again now", "jobs", n)
	}
	return s.river.Start(context.WithoutCancel(ctx))
}

// Stop lets running deliveries finish until ctx ends, then cancels them; their jobs are
// retried later (by this replica after a restart, or another one).
func (s *Store) Stop(ctx context.Context) error {
	if s.opts.Deliverer == nil && s.periodic.empty() {
		return nil
	}
	err := s.river.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.river.StopAndCancel(cancelCtx); err != nil {
			return err
		}
		return fmt.Errorf("deliveries in flight cancelled: %w", context.DeadlineExceeded)
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
		if s.replicaLock != nil {
			_ = s.replicaLock.Close()
		}
		s.closeErr = s.closeDBs()
		if s.dirLock != nil {
			_ = s.dirLock.Close()
		}
	})
	return s.closeErr
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%w: %s", hook.ErrUnavailable, redact(err))
	}
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("%w: %s", hook.ErrUnavailable, redact(err))
	}
	return nil
}

// Record returns a stored RoleChange by its event uuid.
func (s *Store) Record(ctx context.Context, eventID string) (*hook.RoleChange, error) {
	ev, err := s.event(ctx, dbKey(eventID))
	if err != nil {
		return nil, err
	}
	return ev.rc, nil
}

// JobCounts counts delivery jobs by what they wait for: "pending" (to run, or snoozed, or
// still kept by a large commit to queue later), "retrying" (after a failure) and "dead"
// (cancelled or discarded: the dead letter).
func (s *Store) JobCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT CASE
			WHEN state IN ('available', 'scheduled', 'pending', 'running') THEN 'pending'
			WHEN state = 'retryable' THEN 'retrying'
			WHEN state IN ('cancelled', 'discarded') THEN 'dead'
			ELSE 'done' END AS bucket, count(*)
		FROM river_job GROUP BY bucket`)
	if err != nil {
		return nil, dbError("count jobs", err)
	}
	defer rows.Close()
	out := map[string]int64{"pending": 0, "retrying": 0, "dead": 0}
	for rows.Next() {
		var bucket string
		var n int64
		if err := rows.Scan(&bucket, &n); err != nil {
			return nil, dbError("count jobs", err)
		}
		if bucket != "done" {
			out[bucket] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("count jobs", err)
	}
	// Jobs a large commit kept to queue later (hookd_queue_later) wait too.
	jobs := "jobs"
	if s.dialect == postgres {
		jobs = "jobs::json"
	}
	var kept int64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(json_array_length(`+jobs+`)), 0) FROM hookd_queue_later`).Scan(&kept); err != nil {
		return nil, dbError("count jobs", err)
	}
	out["pending"] += kept
	return out, nil
}

// DB is the database handle, for tests and for packages that keep small state beside the
// events (such as the System Log cursor).
func (s *Store) DB() *sql.DB { return s.db }

// closeHandles closes the database and the data dir lock when Open fails half way.
func (s *Store) closeHandles() {
	_ = s.closeDBs()
	if s.dirLock != nil {
		_ = s.dirLock.Close()
	}
}

// closeDBs closes the database handles.
func (s *Store) closeDBs() error {
	err := s.db.Close()
	if s.commitDB != nil && s.commitDB != s.db {
		err = errors.Join(err, s.commitDB.Close())
	}
	if s.checkpointDB != nil {
		err = errors.Join(err, s.checkpointDB.Close())
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
// run at once, and its writers queue in the write gate holding one each.
const sqliteConns = 8

// routedTo is the SQL condition "the event's sinks column holds the sink named by param",
// matched exactly: LIKE would take the '_' a sink name may hold for a wildcard.
func (s *Store) routedTo(column, param string) string {
	if s.dialect == postgres {
		return "strpos(" + column + ", ',' || " + param + " || ',') > 0"
	}
	return "instr(" + column + ", ',' || " + param + " || ',') > 0"
}

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

// shrinkMemory has an SQLite connection free its page cache; it writes nothing, so it does
// not wait for the write gate.
const shrinkMemory = "PRAGMA shrink_memory"

// shrinkWait bounds the wait for each SQLite connection shrinkSQLite takes: one busy beyond
// it keeps its cache.
const shrinkWait = 20 * time.Millisecond

// shrinkSQLite has SQLite's connections drop their kept statements (see keptStatements) and
// free their page caches (PRAGMA shrink_memory). Reading or writing a 9 MiB event fills a
// connection's cache (2 MB each, nine connections), and SQLite keeps it; freed, the driver's
// allocator returns most of it to the OS. RSS after the fault suite's hostile corpus: 57 - 64
// MB without, 55 MB with (target: twice the 31 MB before). The connections are held together
// so that each is visited once, then released.
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
				// Kept statements go first, so that what they held is freed with the cache.
				_ = c.Raw(func(dc any) error {
					if g, ok := dc.(*gatedConn); ok {
						g.dropAllKept()
					}
					return nil
				})
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
