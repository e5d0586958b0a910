package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"hash/fnv"
	"sync"
	"time"
)

// Periodic is a task that runs every Interval on exactly one replica at a time: the leader
// (see leadLoop). It runs once when leadership is taken, then at each interval after its
// last start; a run that outlasts the interval is followed by the next at once.
type Periodic struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
}

// AddPeriodic adds a periodic task after Open and before Start, so that a task may use the
// store it runs in (the System Log poller accepts into it).
func (s *Store) AddPeriodic(t Periodic) {
	s.periodic = append(s.periodic, t)
}

// periodicTimeout bounds one run of a periodic task.
const periodicTimeout = 2 * time.Minute

// leaderRetry is how often a replica that does not lead asks to, and how often the leader
// checks that it still does.
const leaderRetry = 5 * time.Second

// leadLoop runs the periodic tasks while this process leads, until ctx ends. On SQLite the
// process that holds the data dir leads. On Postgres the leader holds an advisory lock on a
// connection of its own: the lock goes with the connection, so a replica that dies or loses
// its database hands leadership on, and the others ask for it every leaderRetry.
func (s *Store) leadLoop(ctx context.Context) {
	for {
		lost, release := s.lead(ctx)
		if lost != nil {
			s.runPeriodic(lost)
			release()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(leaderRetry):
		}
	}
}

// lead takes leadership, returning a context that ends when it is lost (or ctx ends) and its
// release; nil when another replica leads.
func (s *Store) lead(ctx context.Context) (context.Context, func()) {
	if s.dialect == sqlite {
		return ctx, func() {}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil
	}
	key := fnv.New64a()
	key.Write([]byte("hookd leader"))
	var mine bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(key.Sum64())).Scan(&mine); err != nil || !mine {
		conn.Close()
		return nil, nil
	}
	leading, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(leaderRetry)
		defer t.Stop()
		for {
			select {
			case <-leading.Done():
				return
			case <-t.C:
			}
			check, done := context.WithTimeout(leading, leaderRetry)
			err := conn.PingContext(check)
			done()
			if err != nil && leading.Err() == nil {
				s.opts.Logger.Warn("leadership lost with the database connection; periodic tasks stop here", "error", redact(err))
				cancel()
			}
		}
	}()
	return leading, func() {
		cancel()
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // the lock ends with the session
		conn.Close()
	}
}

// runPeriodic runs each task on its schedule until ctx ends, and returns when all have.
func (s *Store) runPeriodic(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range s.periodic {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				began := time.Now()
				run, cancel := context.WithTimeout(ctx, periodicTimeout)
				if err := t.Run(run); err != nil && ctx.Err() == nil {
					s.opts.Logger.Warn("periodic task failed; it runs again at its next interval", "task", t.Name, "error", err.Error())
				}
				cancel()
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(began.Add(t.Interval))):
				}
			}
		}()
	}
	wg.Wait()
}

// State returns a named value kept beside the events (such as the System Log cursor), or ""
// when there is none.
func (s *Store) State(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM hookd_state WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, dbError("read state", err)
}

// SetState keeps a named value; "" removes it.
func (s *Store) SetState(ctx context.Context, name, value string) error {
	var err error
	if value == "" {
		_, err = s.db.ExecContext(ctx, `DELETE FROM hookd_state WHERE name = $1`, name)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO hookd_state (name, value, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, s.timeArg(s.opts.Now()))
	}
	return dbError("keep state", err)
}
