package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"time"
)

// rescueOwn makes the delivery jobs that an earlier, dead run of this hookd left "running"
// available again, before the workers start, so that their alerts go out at once rather than
// after River's rescue interval (5 minutes, and a backoff on top).
//
// SQLite: the data dir is locked by this process (see lockDataDir), so every running job in
// it belongs to a dead process. Postgres: several replicas share the queue; a job is this
// replica's when the River client that last ran it is the one this replica ID recorded on
// its previous start. A live process holding the same replica ID (its advisory lock) is
// left alone, and its namesake rescues nothing. Jobs of a replica that never returns under
// its ID are rescued by River after RescueStuckJobsAfter.
func (s *Store) rescueOwn(ctx context.Context) (int64, error) {
	if s.dialect == sqlite {
		res, err := s.db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		if err != nil {
			return 0, dbError("rescue jobs", err)
		}
		return res.RowsAffected()
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, dbError("rescue jobs", err)
	}
	var mine bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, advisoryKey("hookd replica "+s.opts.ReplicaID)).Scan(&mine); err != nil {
		conn.Close()
		return 0, dbError("rescue jobs", err)
	}
	if !mine {
		conn.Close()
		return 0, fmt.Errorf("another running hookd uses replica ID %q: set HOOKD_REPLICA_ID to tell replicas apart; jobs of dead replicas are rescued after %s", s.opts.ReplicaID, rescueAfter)
	}
	s.replicaLock = conn // held for the life of the store: the lock is the session's
	name := "replica:" + s.opts.ReplicaID
	var previous string
	switch err := s.db.QueryRowContext(ctx, `SELECT value FROM hookd_state WHERE name = $1`, name).Scan(&previous); {
	case err == sql.ErrNoRows:
	case err != nil:
		return 0, dbError("rescue jobs", err)
	}
	var n int64
	if previous != "" {
		res, err := s.db.ExecContext(ctx, `UPDATE river_job SET state = 'available'
			WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, previous)
		if err != nil {
			return 0, dbError("rescue jobs", err)
		}
		n, _ = res.RowsAffected()
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO hookd_state (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, s.river.ID(), time.Now().UTC()); err != nil {
		return n, dbError("rescue jobs", err)
	}
	return n, nil
}

// rescueAfter is how long a job may stay running before River takes it for a dead replica's;
// it must exceed the job timeout.
const rescueAfter = 5 * time.Minute

// advisoryKey is the Postgres advisory-lock key of a name.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}
