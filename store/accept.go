package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
	// commitTimeout bounds one group's transaction.
	commitTimeout = 10 * time.Second
	// insertChunk is how many events one INSERT statement carries (9 parameters each, well
	// under SQLite's and Postgres's limits).
	insertChunk = 500
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
	defer func() { s.stopped <- struct{}{} }()
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
		for n < s.maxGroup {
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
	// The first occurrence of a uuid in the group is the one that may be new; a later one, in
	// the same request or another, is a duplicate of it.
	type entry struct {
		rc    *hook.RoleChange
		req   *acceptRequest
		sinks []string
	}
	seen := make(map[string]bool)
	var unique []entry
	for _, req := range group {
		req.result = Result{}
		for i := range req.records {
			rc := &req.records[i]
			if rc.EventID == "" {
				return errors.New("store: record without event uuid")
			}
			if seen[rc.EventID] {
				req.result.Duplicates++
				continue
			}
			seen[rc.EventID] = true
			unique = append(unique, entry{rc, req, s.sinksFor(rc)})
		}
	}

	// Concurrent committers (Postgres) take row locks in uuid order, so two groups that
	// share uuids wait for each other instead of deadlocking.
	sort.Slice(unique, func(i, j int) bool { return unique[i].rc.EventID < unique[j].rc.EventID })

	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: begin: %s", ErrUnavailable, redact(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	now := s.opts.Now().UTC()
	inserted := make(map[string]bool, len(unique))
	for start := 0; start < len(unique); start += insertChunk {
		chunk := unique[start:min(start+insertChunk, len(unique))]
		records := make([]*hook.RoleChange, len(chunk))
		sinks := make([][]string, len(chunk))
		for i, e := range chunk {
			records[i], sinks[i] = e.rc, e.sinks
		}
		if err := s.insertEvents(ctx, tx, records, sinks, now, inserted); err != nil {
			return err
		}
	}
	var jobs []river.InsertManyParams
	for _, e := range unique {
		if !inserted[e.rc.EventID] {
			e.req.result.Duplicates++
			continue
		}
		e.req.result.Accepted++
		for _, sink := range e.sinks {
			jobs = append(jobs, river.InsertManyParams{Args: DeliveryArgs{EventID: e.rc.EventID, Sink: sink}})
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

// insertEvents writes records and adds the uuids that were new (not stored before) to
// inserted. Postgres takes them in one statement, saving round trips; SQLite, in process,
// runs one prepared statement a record, which costs less than parsing a long one.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, records []*hook.RoleChange, sinks [][]string, now time.Time, inserted map[string]bool) error {
	rows := make([][]any, len(records))
	for i, rc := range records {
		view := *rc
		view.Raw = nil // kept byte for byte in its own column
		record, err := json.Marshal(&view)
		if err != nil {
			return fmt.Errorf("store: encode record %s: %w", rc.EventID, err)
		}
		var published, acceptedAt any = rc.Published.UTC(), now
		if s.dialect == sqlite {
			// TEXT in a fixed-width form that sorts as time does.
			published, acceptedAt = rc.Published.UTC().Format(timeLayout), now.Format(timeLayout)
		}
		rows[i] = []any{rc.EventID, rc.EventType, published, string(rc.Source), acceptedAt, string(record), string(rc.Raw),
			groupKey(rc), "," + strings.Join(sinks[i], ",") + ","}
	}
	if s.dialect == sqlite {
		return insertEach(ctx, tx, rows, inserted)
	}
	return insertAll(ctx, tx, rows, inserted)
}

const insertColumns = "INSERT INTO hookd_event (uuid, event_type, published, source, accepted_at, record, raw, group_key, sinks) VALUES "

// groupKey joins the events of one admin action: Okta writes an event per role, all with the
// same transaction id and actor.
func groupKey(rc *hook.RoleChange) string {
	if rc.TransactionID == "" || rc.Actor.ID == "" {
		return ""
	}
	return rc.TransactionID + "|" + rc.Actor.ID
}

func insertEach(ctx context.Context, tx *sql.Tx, rows [][]any, inserted map[string]bool) error {
	stmt, err := tx.PrepareContext(ctx, insertColumns+"(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING")
	if err != nil {
		return fmt.Errorf("%w: prepare: %s", ErrUnavailable, redact(err))
	}
	defer stmt.Close()
	for _, row := range rows {
		res, err := stmt.ExecContext(ctx, row...)
		if err != nil {
			return fmt.Errorf("%w: insert event: %s", ErrUnavailable, redact(err))
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("%w: insert event: %s", ErrUnavailable, redact(err))
		} else if n == 1 {
			inserted[row[0].(string)] = true
		}
	}
	return nil
}

func insertAll(ctx context.Context, tx *sql.Tx, rows [][]any, inserted map[string]bool) error {
	var q strings.Builder
	q.WriteString(insertColumns)
	args := make([]any, 0, len(rows)*len(rows[0]))
	for i, row := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		for j := range row {
			if j > 0 {
				q.WriteByte(',')
			}
			q.WriteString("$" + strconv.Itoa(len(args)+j+1))
		}
		q.WriteByte(')')
		args = append(args, row...)
	}
	q.WriteString(" ON CONFLICT (uuid) DO NOTHING RETURNING uuid")
	result, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return fmt.Errorf("%w: insert events: %s", ErrUnavailable, redact(err))
	}
	defer result.Close()
	for result.Next() {
		var id string
		if err := result.Scan(&id); err != nil {
			return fmt.Errorf("%w: insert events: %s", ErrUnavailable, redact(err))
		}
		inserted[id] = true
	}
	if err := result.Err(); err != nil {
		return fmt.Errorf("%w: insert events: %s", ErrUnavailable, redact(err))
	}
	return nil
}

func (s *Store) sinksFor(rc *hook.RoleChange) []string {
	if s.opts.Route != nil {
		return s.opts.Route(rc)
	}
	return s.opts.Sinks
}
