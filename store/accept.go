package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/hook"
	"github.com/riverqueue/river"
)

// acceptRequest is one caller's records waiting for the commit that holds them.
type acceptRequest struct {
	records []hook.RoleChange
	result  Result
	err     error
	done    chan struct{}
}

const (
	// maxGroup bounds how many records one transaction takes, so one commit stays short.
	maxGroup = 2000
	// commitTimeout bounds one group's transaction.
	commitTimeout = 10 * time.Second
	// timeLayout is how SQLite's TEXT columns hold times.
	timeLayout = "2006-01-02T15:04:05.000000000Z"
)

// Accept stores the records that are new, each with a delivery job per routed sink, in one
// transaction, and returns after the commit. Records already stored are counted as
// duplicates. Concurrent calls share a transaction (group commit): each waits for the commit
// that holds its records, so SQLite's single writer pays one sync for many requests.
//
// If ctx ends first, Accept returns its error; the records may still be committed, which is
// safe, since a redelivery of them is a duplicate.
func (s *Store) Accept(ctx context.Context, records []hook.RoleChange) (Result, error) {
	if len(records) == 0 {
		return Result{}, nil
	}
	req := &acceptRequest{records: records, done: make(chan struct{})}
	select {
	case <-s.stop:
		return Result{}, ErrClosed
	default:
	}
	select {
	case s.pending <- req:
	case <-s.stop:
		return Result{}, ErrClosed
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	select {
	case <-req.done:
		return req.result, req.err
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

// commitLoop takes waiting requests, as many as are there, and commits them together.
func (s *Store) commitLoop() {
	defer close(s.stopped)
	for {
		var first *acceptRequest
		select {
		case first = <-s.pending:
		case <-s.stop:
			s.drain()
			return
		}
		group := []*acceptRequest{first}
		n := len(first.records)
	gather:
		for n < maxGroup {
			select {
			case req := <-s.pending:
				group = append(group, req)
				n += len(req.records)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// drain fails whatever is still waiting once the store is closing.
func (s *Store) drain() {
	for {
		select {
		case req := <-s.pending:
			req.err = ErrClosed
			close(req.done)
		default:
			return
		}
	}
}

func (s *Store) commitGroup(group []*acceptRequest) {
	// The commit must not depend on any one caller's context: others share it.
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	err := s.commit(ctx, group)
	for _, req := range group {
		if err != nil {
			req.result = Result{}
			req.err = err
		}
		close(req.done)
	}
}

func (s *Store) commit(ctx context.Context, group []*acceptRequest) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: begin: %s", ErrUnavailable, redact(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO hookd_event (uuid, event_type, published, source, accepted_at, record)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (uuid) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("%w: prepare: %s", ErrUnavailable, redact(err))
	}
	defer insert.Close()

	now := s.opts.Now().UTC()
	var jobs []river.InsertManyParams
	for _, req := range group {
		req.result = Result{}
		for i := range req.records {
			rc := &req.records[i]
			isNew, err := s.insertEvent(ctx, insert, rc, now)
			if err != nil {
				return err
			}
			if !isNew {
				req.result.Duplicates++
				continue
			}
			req.result.Accepted++
			for _, sink := range s.sinksFor(rc) {
				jobs = append(jobs, river.InsertManyParams{Args: DeliveryArgs{EventID: rc.EventID, Sink: sink}})
			}
		}
	}
	if len(jobs) > 0 {
		if _, err := s.river.InsertManyTx(ctx, tx, jobs); err != nil {
			return fmt.Errorf("%w: queue deliveries: %s", ErrUnavailable, redact(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%w: commit: %s", ErrUnavailable, redact(err))
	}
	return nil
}

func (s *Store) insertEvent(ctx context.Context, insert *sql.Stmt, rc *hook.RoleChange, now time.Time) (bool, error) {
	if rc.EventID == "" {
		return false, errors.New("store: record without event uuid")
	}
	record, err := json.Marshal(rc)
	if err != nil {
		return false, fmt.Errorf("store: encode record %s: %w", rc.EventID, err)
	}
	var published, acceptedAt any = rc.Published.UTC(), now
	if s.dialect == sqlite {
		// TEXT in a fixed-width form that sorts as time does.
		published, acceptedAt = rc.Published.UTC().Format(timeLayout), now.Format(timeLayout)
	}
	res, err := insert.ExecContext(ctx, rc.EventID, rc.EventType, published, string(rc.Source), acceptedAt, string(record))
	if err != nil {
		return false, fmt.Errorf("%w: insert event: %s", ErrUnavailable, redact(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%w: insert event: %s", ErrUnavailable, redact(err))
	}
	return n == 1, nil
}

func (s *Store) sinksFor(rc *hook.RoleChange) []string {
	if s.opts.Route != nil {
		return s.opts.Route(rc)
	}
	return s.opts.Sinks
}
