package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/riverqueue/river"
)

// queueLaterFrom is the number of delivery jobs from which an accepting transaction keeps
// them as one row of hookd_queue_later instead of queueing them itself. River writes each job
// with its own JSON: 5,900 jobs took about 110 ms of a 9 MiB delivery's 320 ms commit on
// SQLite, all of it time Okta waits for. The row is the same promise, made durable in the
// same commit; queueLoop turns it into jobs right after the answer. On Postgres a large
// request is shared among the committers, each of which inserts its part's jobs at once
// with the others: there it takes a request of about 4,000 events.
const queueLaterFrom = 1000

// queueSweep is how often queueLoop looks for rows left to queue: a row whose queueing failed
// (the database away), or one another replica wrote and did not queue before it stopped.
const queueSweep = 5 * time.Second

// keepJobs writes jobs as one row to queue later and returns its id.
func (s *Store) keepJobs(ctx context.Context, tx *sql.Tx, jobs []river.InsertManyParams) (int64, error) {
	args := make([]DeliveryArgs, len(jobs))
	for i, j := range jobs {
		args[i] = j.Args.(DeliveryArgs)
	}
	data, err := json.Marshal(args)
	if err != nil {
		return 0, &rejectedError{op: "encode jobs", msg: err.Error()}
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO hookd_queue_later (jobs) VALUES ($1) RETURNING id`,
		string(data)).Scan(&id); err != nil {
		return 0, dbError("keep jobs", err)
	}
	return id, nil
}

// queueLoop queues the jobs kept by accepting transactions: each as soon as its commit hands
// it over, and all that are left at start and every queueSweep.
func (s *Store) queueLoop() {
	defer func() { s.stopped <- struct{}{} }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	sweep := time.NewTicker(queueSweep)
	defer sweep.Stop()
	// failing is set from a failure to the next success, so that an outage logs one line.
	failing := false
	report := func(err error) {
		switch {
		case err == nil:
			failing = false
		case ctx.Err() == nil && !failing:
			failing = true
			s.opts.Logger.Warn("delivery jobs kept to queue later are not queued yet; retried every "+queueSweep.String(),
				"error", err.Error())
		}
	}
	report(s.sweepKept(ctx))
	for {
		select {
		case id := <-s.kept:
			report(s.queueKept(ctx, id))
		case <-sweep.C:
			report(s.sweepKept(ctx))
		case <-s.stop:
			return
		}
	}
}

// sweepKept queues every row left in hookd_queue_later, oldest first, and returns the first
// error.
func (s *Store) sweepKept(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM hookd_queue_later ORDER BY id`)
	if err != nil {
		return dbError("kept jobs", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return dbError("kept jobs", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	var first error
	for _, id := range ids {
		if err := s.queueKept(ctx, id); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// queueKept turns the row id into delivery jobs, in one transaction that also deletes it.
// The delete comes first and must find the row: two replicas (or a sweep and a hand-over)
// racing for it queue its jobs once.
func (s *Store) queueKept(ctx context.Context, id int64) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var data string
		err := tx.QueryRowContext(ctx, `DELETE FROM hookd_queue_later WHERE id = $1 RETURNING jobs`, id).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // queued already
		}
		if err != nil {
			return dbError("queue kept jobs", err)
		}
		var args []DeliveryArgs
		if err := json.Unmarshal([]byte(data), &args); err != nil {
			return dbError("queue kept jobs", err)
		}
		jobs := make([]river.InsertManyParams, len(args))
		for i, a := range args {
			jobs[i] = river.InsertManyParams{Args: a}
		}
		return s.insertJobs(ctx, tx, jobs)
	})
}
