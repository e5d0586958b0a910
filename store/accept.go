package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/parts"
)

// acceptRequest is one caller's records waiting for the commit that holds them.
type acceptRequest struct {
	records []hookd.RoleChange
	// encoded holds each record's stored form and index holds its console index row, made
	// before the commit (see encodeRecords); nil for a record the commit must encode itself.
	encoded [][]byte
	index   [][]any
	// committed, when set, is told the result once the request's records are committed,
	// whether or not the caller still waits for it.
	committed func(hookd.AcceptResult)
	result    hookd.AcceptResult
	err       error
	done      chan struct{}
}

const (
	// commitTimeout bounds one group's transaction.
	commitTimeout = 10 * time.Second
	// insertChunk bounds the events one insertEvents call writes, and the ids one of the
	// queue's statements lists (well under SQLite's and Postgres's parameter limits).
	insertChunk = 500
	// timeLayout is how SQLite's TEXT columns hold times.
	timeLayout = "2006-01-02T15:04:05.000000000Z"
)

// Accept stores the records that are new, each with a delivery row per routed sink, in one
// transaction, and returns after the commit. Records already stored are counted as
// duplicates. Concurrent calls share a transaction (group commit): each waits for the commit
// that holds its records, so SQLite's single writer pays one sync for many requests.
//
// If ctx ends first, Accept returns its error; the records may still be committed, which is
// safe, since a redelivery of them is a duplicate.
func (s *Store) Accept(ctx context.Context, records []hookd.RoleChange) (hookd.AcceptResult, error) {
	return s.AcceptAndReport(ctx, records, nil)
}

// AcceptAndReport is Accept that also tells committed the result when the records are
// committed, even after ctx ended and Accept returned an error: a caller that gave up (and
// answered Okta 503) can still count what was stored, when it was stored.
func (s *Store) AcceptAndReport(ctx context.Context, records []hookd.RoleChange, committed func(hookd.AcceptResult)) (hookd.AcceptResult, error) {
	if len(records) == 0 {
		return hookd.AcceptResult{}, nil
	}
	if part := s.partSize(len(records)); part < len(records) {
		return s.acceptParts(ctx, records, committed, part)
	}
	return s.acceptOne(ctx, records, committed)
}

// partSize is how many records of a request one commit takes. On Postgres a large request
// (a large admin action) is shared among the committers, which commit its parts at once on
// their own connections; SQLite has one writer, so one commit.
func (s *Store) partSize(n int) int {
	if s.dialect != postgres || n <= s.maxGroup {
		return n
	}
	return max(s.maxGroup, (n+s.committers-1)/s.committers)
}

// acceptParts commits records in parts of at most part records, concurrently, and returns
// once every part is committed. Should a part fail, the request fails (Okta's retry finds the
// committed parts' events as duplicates); committed is told of each part that was committed.
func (s *Store) acceptParts(ctx context.Context, records []hookd.RoleChange, committed func(hookd.AcceptResult), part int) (hookd.AcceptResult, error) {
	n := (len(records) + part - 1) / part
	results, errs := make([]hookd.AcceptResult, n), make([]error, n)
	parts.Do(len(records), n, func(i, lo, hi int) {
		results[i], errs[i] = s.acceptOne(ctx, records[lo:hi], committed)
	})
	var total hookd.AcceptResult
	for i, res := range results {
		if errs[i] != nil {
			return hookd.AcceptResult{}, errs[i]
		}
		total.Add(res)
	}
	return total, nil
}

// acceptOne hands records to the committers as one request and waits for its commit.
func (s *Store) acceptOne(ctx context.Context, records []hookd.RoleChange, committed func(hookd.AcceptResult)) (hookd.AcceptResult, error) {
	req := &acceptRequest{records: records, committed: committed, done: make(chan struct{})}
	req.encoded, req.index = s.encodeRecords(records)
	select {
	case <-s.stop:
		return hookd.AcceptResult{}, hookd.ErrClosed
	default:
	}
	select {
	case s.pending <- req:
	case <-s.stop:
		return hookd.AcceptResult{}, hookd.ErrClosed
	case <-ctx.Done():
		return hookd.AcceptResult{}, fmt.Errorf("%w: %w", hookd.ErrUnavailable, ctx.Err())
	}
	select {
	case <-req.done:
		return req.result, req.err
	case <-ctx.Done():
		return hookd.AcceptResult{}, fmt.Errorf("%w: %w", hookd.ErrUnavailable, ctx.Err())
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
			req.err = hookd.ErrClosed
			close(req.done)
		default:
			return
		}
	}
}

// entry is one record of a group that may be new, with the request it came in and its sinks.
type entry struct {
	rc    *hookd.RoleChange
	key   string
	req   *acceptRequest
	sinks []string
	// encoded and index are the record's stored form and index row as made before the
	// commit, if they were.
	encoded []byte
	index   []any
}

func (s *Store) commitGroup(group []*acceptRequest) {
	// The commit must not depend on any one caller's context: others share it.
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	for _, req := range group {
		req.result = hookd.AcceptResult{}
	}
	// The first occurrence of a uuid in the group is the one that may be new; a later one, in
	// the same request or another, is a duplicate of it.
	seen := make(map[string]bool)
	var unique []entry
	for _, req := range group {
		for i := range req.records {
			rc := &req.records[i]
			if rc.EventID == "" {
				req.err = errors.New("store: record without event uuid")
				continue
			}
			key := dbKey(rc.EventID)
			if seen[key] {
				req.result.Duplicates++
				continue
			}
			seen[key] = true
			unique = append(unique, entry{rc: rc, key: key, req: req, encoded: req.encoded[i], index: req.index[i]})
		}
	}
	// Concurrent committers (Postgres) take row locks in key order, so two groups that
	// share uuids wait for each other instead of deadlocking.
	sort.Slice(unique, func(i, j int) bool { return unique[i].key < unique[j].key })
	if s.commitAll(ctx, unique, batchGroupRoles(unique)) {
		s.wakeWorkers()
	}
	for _, req := range group {
		// result counts only what was committed, even when a split left part of the
		// request uncommitted: report it, then answer the caller by its error.
		if req.committed != nil && !req.result.Empty() {
			req.committed(req.result)
		}
		if req.err != nil {
			req.result = hookd.AcceptResult{}
		}
		close(req.done)
	}
}

// commitAll commits entries and reports whether it queued deliveries. Requests share a
// transaction, so when the database refuses the data of one event, commitAll splits the
// entries and commits the halves on their own: the requests that did nothing wrong are
// answered by their own outcome, not by the refusal. An event refused alone is queued for
// alerting with the refusal flagged (see commitInline). When the database is unreachable
// instead, splitting cannot help: every entry fails.
//
// batch is the whole group's own grants and revokes of groups' roles: a membership resolved
// in one half still sees its group's grant in the other.
func (s *Store) commitAll(ctx context.Context, entries []entry, batch groupChanges) (queued bool) {
	if len(entries) == 0 {
		return false
	}
	queued, err := s.commit(ctx, entries, batch)
	if err == nil {
		return queued
	}
	var refused *rejectedError
	if errors.As(err, &refused) {
		if len(entries) > 1 {
			mid := len(entries) / 2
			first := s.commitAll(ctx, entries[:mid], batch)
			return s.commitAll(ctx, entries[mid:], batch) || first
		}
		if err = s.commitInline(ctx, entries[0], refused); err == nil {
			return true
		}
	}
	for _, e := range entries {
		e.req.err = err
	}
	return false
}

// commit writes entries and their delivery rows in one transaction, and on success counts
// each entry in its request's result.
func (s *Store) commit(ctx context.Context, unique []entry, batch groupChanges) (queuedAny bool, err error) {
	inserted := make(map[string]bool, len(unique))
	all := unique
	var dropped []entry
	err = s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error {
		now := s.opts.Now().UTC()
		// What a membership is depends on what its group holds; it comes before the findings.
		var memberships []*hookd.RoleChange
		var err error
		if unique, dropped, memberships, err = s.resolveAccess(ctx, tx, all, batch); err != nil {
			return err
		}
		// Findings raise severity and may decide the route, so they come first.
		facts, err := s.detectFindings(ctx, tx, unique)
		if err != nil {
			return err
		}
		for i := range unique {
			unique[i].sinks = s.sinksFor(unique[i].rc)
			if len(unique[i].rc.Findings) > 0 {
				// Made before the detections: the record and its index row's severity change.
				unique[i].encoded, unique[i].index = nil, nil
			}
		}
		for start := 0; start < len(unique); start += insertChunk {
			if err := s.insertEvents(ctx, tx, unique[start:min(start+insertChunk, len(unique))], now, inserted); err != nil {
				return err
			}
		}
		var deliveries []queued
		var index [][]any
		var ledgerKeys []string
		var ledgerChanges []*hookd.RoleChange
		for _, e := range unique {
			if !inserted[e.key] {
				continue
			}
			row := e.index
			if row == nil {
				row = s.changeIndexRow(e.key, e.rc)
			}
			index = append(index, row)
			ledgerKeys, ledgerChanges = append(ledgerKeys, e.key), append(ledgerChanges, e.rc)
			deliveries = append(deliveries, s.deliveriesOf(e, now, nil)...)
		}
		if err := s.insertChangeIndex(ctx, tx, index); err != nil {
			return err
		}
		queuedAny = len(deliveries) > 0
		if err := s.queueRows(ctx, tx, deliveries); err != nil {
			return err
		}
		// Last, as they lock rows other commits write too (one holder, one actor's facts): on
		// Postgres a lock is held until the commit, so these are the ones to hold least.
		if err := s.applyLedger(ctx, tx, ledgerKeys, ledgerChanges, adminapi.KnownByEvent); err != nil {
			return err
		}
		if err := s.applyMemberships(ctx, tx, memberships, adminapi.KnownByEvent); err != nil {
			return err
		}
		return s.writeFacts(ctx, tx, facts)
	})
	if err != nil {
		return false, err
	}
	for _, e := range unique {
		if inserted[e.key] {
			e.req.result.CountAccepted(e.rc.EventType)
		} else {
			e.req.result.Duplicates++
		}
	}
	for _, e := range dropped {
		e.req.result.NotWatched++
	}
	return queuedAny, nil
}

// inTx runs fn in a transaction and commits it, or rolls it back when fn fails.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.inTxOn(ctx, s.db, fn)
}

// inTxOn is inTx on db: the committer's own handle, the shared pool, or one connection.
func (s *Store) inTxOn(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return dbError("begin", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return dbError("commit", tx.Commit())
}

// deliveriesOf is an entry's delivery rows, one per routed sink: due at once, or when
// grouping is on and the event belongs to an admin action, once the group window has passed,
// so that the action's other events are there.
func (s *Store) deliveriesOf(e entry, now time.Time, inline []byte) []queued {
	runAt, group := now, groupKey(e.rc)
	if group != "" && s.opts.GroupWindow > 0 && inline == nil {
		runAt = now.Add(s.opts.GroupWindow)
	}
	_, rank := s.severity(e.rc)
	out := make([]queued, len(e.sinks))
	for i, sink := range e.sinks {
		out[i] = queued{sink: sink, event: e.key, group: group, severity: rank, runAt: runAt, inline: inline}
	}
	if s.opts.Escalate == nil || inline != nil || e.rc.FromHookd() {
		return out
	}
	// An escalation's rows are an action's own group, apart from its ordinary alerts; a
	// change of no action escalates alone.
	escGroup := ""
	if group != "" {
		escGroup = "escalation " + group
	}
	for _, esc := range s.opts.Escalate(e.rc) {
		for _, sink := range esc.Sinks {
			out = append(out, queued{sink: sink, event: e.key, group: escGroup, severity: rank,
				runAt: now.Add(esc.After), escalation: max(1, int(esc.After/time.Second))})
		}
	}
	return out
}

// severity names and ranks a change's alert (Options.Severity).
func (s *Store) severity(rc *hookd.RoleChange) (string, int) {
	if s.opts.Severity == nil {
		return "", 0
	}
	name, rank := s.opts.Severity(rc)
	return strings.ToLower(name), rank
}

// commitInline is the last resort for an event the database refuses to keep in the events
// table: its delivery rows carry the record themselves, flagged with the problem, so the
// change is still alerted and nothing else waits for it. Such an event is not de-duplicated
// (a redelivery alerts again) and the refusal is counted in the request's result.
func (s *Store) commitInline(ctx context.Context, e entry, refused *rejectedError) error {
	if e.sinks == nil {
		e.sinks = s.sinksFor(e.rc)
	}
	view := *e.rc
	view.StorageProblem = "hookd could not store this event (" + clip.Bytes(refused.Error(), 300) + "); it was alerted from the delivery queue"
	record, err := encodeRecord(&view)
	if err != nil {
		return fmt.Errorf("store: encode record: %w", err)
	}
	now := s.opts.Now().UTC()
	inline, err := json.Marshal(&InlineEvent{Record: jsonbSafe(record), Raw: []byte(e.rc.Raw), AcceptedAt: now})
	if err != nil {
		return fmt.Errorf("store: encode record: %w", err)
	}
	if err := s.inTxOn(ctx, s.commitDB, func(tx *sql.Tx) error { return s.queueRows(ctx, tx, s.deliveriesOf(e, now, inline)) }); err != nil {
		return err
	}
	e.req.result.CountAccepted(e.rc.EventType)
	e.req.result.Unstored++
	if e.req.result.Problem == "" {
		e.req.result.Problem = refused.Error()
	}
	return nil
}

// insertEvents writes entries and adds the keys that were new (not stored before) to
// inserted. Every column takes whatever Okta's strings hold: the raw event is bytes, the
// record is JSON text (escaped, valid UTF-8), and key columns go through dbKey.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, entries []entry, now time.Time, inserted map[string]bool) error {
	rows := make([][]any, len(entries))
	for i, e := range entries {
		rc, record := e.rc, e.encoded
		if record == nil {
			var err error
			if record, err = encodeRecord(rc); err != nil {
				return &rejectedError{op: "encode record", msg: err.Error()}
			}
		}
		raw := []byte(rc.Raw)
		if raw == nil {
			raw = []byte{} // NOT NULL
		}
		rows[i] = []any{e.key, dbKey(rc.EventType), s.timeArg(rc.Published), string(rc.Source), s.timeArg(now), string(record), raw,
			groupKey(rc), "," + strings.Join(e.sinks, ",") + ","}
	}
	return s.insertMany(ctx, tx, `INSERT INTO hookd_event (uuid, event_type, published, source, accepted_at, record, raw, group_key, sinks) `,
		` ON CONFLICT (uuid) DO NOTHING RETURNING uuid`, rows, inserted, "insert events")
}

// encodeRecord is a change as the event row keeps it: without its raw event, which has a
// column of its own, and with its strings clipped.
func encodeRecord(rc *hookd.RoleChange) ([]byte, error) {
	view := *rc
	view.Raw = nil
	clipRecord(&view)
	return json.Marshal(&view)
}

// encodeParallelFrom is the fewest records a part of a request encoded at once holds.
const encodeParallelFrom = 1024

// encodeRecords encodes records, and makes their console index rows, before they reach the
// committer, which is the one writer every delivery waits for: the commit then only writes.
// A record with findings is left to the commit (nil), as is one that fails to encode (the
// commit reports it): the detections run in the commit and set the findings, and with them
// the severity the index row holds, anew.
func (s *Store) encodeRecords(records []hookd.RoleChange) (encoded [][]byte, index [][]any) {
	encoded, index = make([][]byte, len(records)), make([][]any, len(records))
	parts.Do(len(records), parts.Of(len(records), encodeParallelFrom), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			if rc := &records[i]; len(rc.Findings) == 0 && rc.EventID != "" {
				encoded[i], _ = encodeRecord(rc)
				index[i] = s.changeIndexRow(dbKey(rc.EventID), rc)
			}
		}
	})
	return encoded, index
}

// groupKey is the change's admin action (hookd.RoleChange.GroupKey) as a key column holds it.
func groupKey(rc *hookd.RoleChange) string {
	if k := rc.GroupKey(); k != "" {
		return dbKey(k)
	}
	return ""
}

// rowsPerInsert is how many rows one SQLite INSERT carries: SQLite steps one statement for
// all of them, where a statement per row costs its own step and reset.
const rowsPerInsert = 32

// insertRows writes rows on SQLite with head ("INSERT INTO t (cols) VALUES ") and tail (the
// conflict clause), rowsPerInsert rows a statement. When tail returns a key column, inserted
// gets each key returned (each row inserted, not skipped). op names the insert in errors.
func insertRows(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any, inserted map[string]bool, op string) error {
	if len(rows) == 0 {
		return nil
	}
	row := "(?" + strings.Repeat(", ?", len(rows[0])-1) + ")"
	var stmt *sql.Stmt
	for start := 0; start < len(rows); start += rowsPerInsert {
		chunk := rows[start:min(start+rowsPerInsert, len(rows))]
		// Full chunks share a statement; a short one can only be the last.
		if stmt == nil || len(chunk) < rowsPerInsert {
			var err error
			if stmt, err = tx.PrepareContext(ctx, head+row+strings.Repeat(", "+row, len(chunk)-1)+tail); err != nil {
				return dbError("prepare", err)
			}
			defer stmt.Close()
		}
		var args []any
		for _, r := range chunk {
			args = append(args, r...)
		}
		keys, err := stmt.QueryContext(ctx, args...)
		if err := collectKeys(keys, err, inserted, op); err != nil {
			return err
		}
	}
	return nil
}

// insertMany writes rows with head ("INSERT INTO t (cols) ") and tail (as insertRows). On
// Postgres it is one statement of an array a column, whatever the number of rows: parameters
// per row would make a long statement for the server to parse and plan each time. A column's
// array type follows its values' Go type (string, time.Time, []byte, bool).
func (s *Store) insertMany(ctx context.Context, tx *sql.Tx, head, tail string, rows [][]any, inserted map[string]bool, op string) error {
	if len(rows) == 0 {
		return nil
	}
	if s.dialect == sqlite {
		return insertRows(ctx, tx, head+"VALUES ", tail, rows, inserted, op)
	}
	arrays := make([]string, len(rows[0]))
	args := make([]any, len(rows[0]))
	for c, v := range rows[0] {
		column := reflect.MakeSlice(reflect.SliceOf(reflect.TypeOf(v)), len(rows), len(rows))
		for r, row := range rows {
			column.Index(r).Set(reflect.ValueOf(row[c]))
		}
		args[c] = column.Interface()
		arrays[c] = "$" + strconv.Itoa(c+1) + "::" + pgType(v) + "[]"
	}
	keys, err := tx.QueryContext(ctx, head+"SELECT * FROM unnest("+strings.Join(arrays, ", ")+")"+tail, args...)
	return collectKeys(keys, err, inserted, op)
}

func (s *Store) sinksFor(rc *hookd.RoleChange) []string {
	if s.opts.Route != nil {
		return s.opts.Route(rc)
	}
	return s.opts.Sinks
}

// pgType is the Postgres type of a column whose values are like v.
func pgType(v any) string {
	switch v.(type) {
	case time.Time:
		return "timestamptz"
	case []byte:
		return "bytea"
	case bool:
		return "boolean"
	case int:
		return "int8"
	}
	return "text"
}

// collectKeys adds the single text column of rows (or the query's err) to into, and closes
// rows; op names the query in errors.
func collectKeys(rows *sql.Rows, err error, into map[string]bool, op string) error {
	return eachRow(rows, err, op, func(r *sql.Rows) error {
		var k string
		err := r.Scan(&k)
		into[k] = true
		return err
	})
}
