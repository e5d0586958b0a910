package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteGateTakesTurns(t *testing.T) {
	g := &writeGate{}
	require.NoError(t, g.acquire(context.Background(), false))
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	waiting := 0
	queue := func(name string, urgent bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, g.acquire(context.Background(), urgent))
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			g.release()
		}()
		// Wait until it is queued (the gate is held), so that the queues' order is known.
		waiting++
		require.Eventually(t, func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return len(g.urgent)+len(g.other) == waiting
		}, time.Second, time.Millisecond)
	}
	queue("other 1", false)
	queue("urgent 1", true)
	queue("other 2", false)
	queue("urgent 2", true)
	g.release()
	wg.Wait()
	assert.Equal(t, []string{"urgent 1", "other 1", "urgent 2", "other 2"}, order,
		"acceptance first, then the two queues take turns: neither waits behind more than one of the other")
	assert.False(t, g.held, "free once everyone is done")
}

func TestWriteGateWaitEndsWithItsContext(t *testing.T) {
	g := &writeGate{}
	require.NoError(t, g.acquire(context.Background(), false))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, g.acquire(ctx, true), context.DeadlineExceeded)
	g.release()
	require.NoError(t, g.acquire(context.Background(), false), "a waiter that gave up does not keep the gate")
	g.release()
	assert.False(t, g.held)
}

func TestWrites(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                               false,
		"  select uuid FROM hookd_event":         false,
		"-- name: JobGetByID :one\nSELECT id":    false,
		"-- name: JobGetAvailable :many\nUPDATE": true,
		"WITH x AS (SELECT 1) UPDATE river_job":  true,
		"INSERT INTO hookd_state VALUES (1)":     true,
		"PRAGMA wal_checkpoint":                  true,
		shrinkMemory:                             false,
		"BEGIN":                                  true,
		"-- only a comment":                      false,
	} {
		assert.Equal(t, want, writes(q), q)
	}
}

// TestSQLiteReadersRunBesideTheWriter shows what the write gate buys: a transaction in
// progress does not hold up reads (WAL, several connections), while another writer waits
// for it instead of meeting SQLite's lock.
func TestSQLiteReadersRunBesideTheWriter(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir()})
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `INSERT INTO hookd_state (name, value, updated_at) VALUES ('gate-test', 'in tx', $1)`, s.timeArg(time.Now()))
	require.NoError(t, err)

	read, readCancel := context.WithTimeout(ctx, 5*time.Second)
	defer readCancel()
	var n int
	require.NoError(t, s.db.QueryRowContext(read, `SELECT count(*) FROM hookd_state WHERE name = 'gate-test'`).Scan(&n),
		"a read runs while the transaction is open")
	assert.Zero(t, n, "and sees only what is committed")

	wrote := make(chan error, 1)
	go func() {
		_, err := s.commitDB.ExecContext(ctx, `INSERT INTO hookd_state (name, value, updated_at) VALUES ('gate-test-2', 'after', $1)`, s.timeArg(time.Now()))
		wrote <- err
	}()
	select {
	case err := <-wrote:
		t.Fatalf("a second writer ran inside another's transaction: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, tx.Commit())
	select {
	case err := <-wrote:
		require.NoError(t, err, "the waiting writer goes once the transaction is over, without SQLITE_BUSY")
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting writer never went")
	}
	assert.Equal(t, 2, count(t, s, `SELECT count(*) FROM hookd_state WHERE name LIKE 'gate-test%'`))
}

func TestStatementsKeptPerConnection(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir()})
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()

	// River's completion (its text stands in here) run again while its rows are still open:
	// the second cannot use the kept statement and runs on its own.
	query := keptStatements[0] + ":one\nSELECT value FROM (SELECT 1 AS value UNION ALL SELECT 2) WHERE value >= $1 ORDER BY value"
	outer, err := conn.QueryContext(ctx, query, 1)
	require.NoError(t, err)
	require.True(t, outer.Next())
	var first int
	require.NoError(t, outer.Scan(&first))
	var inner int
	require.NoError(t, conn.QueryRowContext(ctx, query, 2).Scan(&inner))
	require.True(t, outer.Next())
	var second int
	require.NoError(t, outer.Scan(&second))
	require.NoError(t, outer.Close())
	assert.Equal(t, []int{1, 2, 2}, []int{first, second, inner})

	// Many texts: one statement stays kept, the last, and every query still answers.
	const texts = 50
	for i := range texts {
		var got int
		require.NoError(t, conn.QueryRowContext(ctx, keptStatements[0]+fmt.Sprintf(":one\nSELECT %d + $1", i), 1).Scan(&got))
		require.Equal(t, i+1, got)
	}
	keptQueries := func(conn *sql.Conn) (q [len(keptStatements)]string) {
		require.NoError(t, conn.Raw(func(dc any) error {
			for i, k := range dc.(*gatedConn).kept {
				if k != nil {
					q[i] = k.query
				}
			}
			return nil
		}))
		return q
	}
	keptQuery := func() string { return keptQueries(conn)[0] }
	assert.Equal(t, keptStatements[0]+fmt.Sprintf(":one\nSELECT %d + $1", texts-1), keptQuery())
	var again int
	require.NoError(t, conn.QueryRowContext(ctx, query, 2).Scan(&again))
	assert.Equal(t, 2, again)
	assert.Equal(t, query, keptQuery(), "kept")

	// Any other statement runs prepared for the occasion, not kept.
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT $1 + 1`, 1).Scan(&again))
	assert.Equal(t, query, keptQuery(), "not replaced by a statement that is not kept")

	// River's fetch (its text stands in here) is kept beside the completion: taking turns,
	// neither takes the other's place.
	fetch := keptStatements[1] + ":many\nSELECT $1 * 10"
	for range 3 {
		require.NoError(t, conn.QueryRowContext(ctx, fetch, 3).Scan(&again))
		assert.Equal(t, 30, again)
		require.NoError(t, conn.QueryRowContext(ctx, query, 2).Scan(&again))
		assert.Equal(t, 2, again)
	}
	var fetchStmt any
	require.NoError(t, conn.Raw(func(dc any) error { fetchStmt = dc.(*gatedConn).kept[1].stmt; return nil }))
	require.NoError(t, conn.QueryRowContext(ctx, fetch, 4).Scan(&again))
	assert.Equal(t, 40, again)
	require.NoError(t, conn.Raw(func(dc any) error {
		assert.Same(t, fetchStmt, dc.(*gatedConn).kept[1].stmt, "the fetch runs on the statement kept, not one compiled anew")
		return nil
	}))
	assert.Equal(t, [len(keptStatements)]string{query, fetch}, keptQueries(conn))

	// Trim, once a burst of large deliveries is over, drops them with the page caches: a
	// statement keeps the buffers of the largest values it handled.
	require.NoError(t, conn.Close())
	s.Trim()
	for range sqliteConns {
		c, err := s.db.Conn(ctx)
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, [len(keptStatements)]string{}, keptQueries(c), "no statement kept after Trim")
	}
}

// recordingExecutor stands in for River's executor and records each completion call.
type recordingExecutor struct {
	riverdriver.Executor
	calls [][]int64
}

func (e *recordingExecutor) JobSetStateIfRunningMany(_ context.Context, p *riverdriver.JobSetStateIfRunningManyParams) ([]*rivertype.JobRow, error) {
	e.calls = append(e.calls, p.ID)
	out := make([]*rivertype.JobRow, len(p.ID))
	for i, id := range p.ID {
		if p.State[i] != rivertype.JobStateCompleted || *p.Attempt[i] != int(id) {
			return nil, fmt.Errorf("job %d got another job's parameters", id)
		}
		out[i] = &rivertype.JobRow{ID: id, State: p.State[i]}
	}
	return out, nil
}

func completionParams(n int) *riverdriver.JobSetStateIfRunningManyParams {
	p := &riverdriver.JobSetStateIfRunningManyParams{Schema: "main"}
	for i := range n {
		attempt := i + 1
		p.ID = append(p.ID, int64(i+1))
		p.Attempt = append(p.Attempt, &attempt)
		p.ErrData = append(p.ErrData, nil)
		p.FinalizedAt = append(p.FinalizedAt, nil)
		p.MetadataDoMerge = append(p.MetadataDoMerge, false)
		p.MetadataUpdates = append(p.MetadataUpdates, nil)
		p.ScheduledAt = append(p.ScheduledAt, nil)
		p.State = append(p.State, rivertype.JobStateCompleted)
	}
	return p
}

func TestCompletionsRecordedInChunks(t *testing.T) {
	rec := &recordingExecutor{}
	rows, err := chunkedCompletions{rec}.JobSetStateIfRunningMany(context.Background(), completionParams(25))
	require.NoError(t, err)
	require.Len(t, rec.calls, 3, "25 finished jobs, three transactions")
	assert.Equal(t, []int{10, 10, 5}, []int{len(rec.calls[0]), len(rec.calls[1]), len(rec.calls[2])})
	require.Len(t, rows, 25)
	for i, r := range rows {
		assert.Equal(t, int64(i+1), r.ID, "every job's row, in order")
	}

	rec = &recordingExecutor{}
	_, err = chunkedCompletions{rec}.JobSetStateIfRunningMany(context.Background(), completionParams(completionChunk))
	require.NoError(t, err)
	assert.Len(t, rec.calls, 1, "a small batch is one transaction, as River makes it")

	rec = &recordingExecutor{}
	odd := completionParams(30)
	odd.ErrData = nil // not the shape River builds: passed on whole rather than cut wrongly
	_, err = chunkedCompletions{rec}.JobSetStateIfRunningMany(context.Background(), odd)
	require.NoError(t, err)
	assert.Len(t, rec.calls, 1)
}

// TestManyDeliveriesCompleteOnSQLite runs more jobs than one completion chunk through the
// real queue and checks each ends completed, once, with River's statements kept prepared.
func TestManyDeliveriesCompleteOnSQLite(t *testing.T) {
	got := &collector{}
	s := open(t, Options{DataDir: t.TempDir(), Sinks: []string{"a"}, Workers: 10, Deliverer: got})
	ctx := context.Background()
	var ids []string
	for i := range 120 {
		ids = append(ids, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	_, err := s.Accept(ctx, records(ids...))
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx))
	defer func() { _ = s.Stop(ctx) }()
	require.Eventually(t, func() bool {
		return count(t, s, `SELECT count(*) FROM river_job WHERE state = 'completed' AND kind = 'hookd_delivery'`) == len(ids)
	}, 30*time.Second, 20*time.Millisecond)
	for _, id := range ids {
		assert.Len(t, got.deliveries(id), 1, id)
	}

	// River's own completion and fetch are what keptStatements names: a connection keeps each.
	var kept [len(keptStatements)]bool
	var held []*sql.Conn
	for range sqliteConns {
		c, err := s.db.Conn(ctx)
		require.NoError(t, err)
		held = append(held, c)
		require.NoError(t, c.Raw(func(dc any) error {
			for i, k := range dc.(*gatedConn).kept {
				kept[i] = kept[i] || k != nil
			}
			return nil
		}))
	}
	for _, c := range held {
		require.NoError(t, c.Close())
	}
	assert.Equal(t, [len(keptStatements)]bool{true, true}, kept, "completion and fetch kept")
}

// TestCheckpointsLeftToTheirOwnLoop: the writers never copy the write-ahead log into the
// database themselves (no commit pays for a checkpoint), and the checkpoint loop does.
func TestCheckpointsLeftToTheirOwnLoop(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{DataDir: dir})
	ctx := context.Background()
	for _, db := range []*sql.DB{s.db, s.commitDB} {
		var pages int
		require.NoError(t, db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages))
		assert.Zero(t, pages, "writers do not checkpoint")
	}
	size := func() int64 {
		st, err := os.Stat(filepath.Join(dir, "hookd.db"))
		require.NoError(t, err)
		return st.Size()
	}
	// Let a checkpoint of what Open wrote pass, then write a few megabytes.
	time.Sleep(2 * checkpointInterval)
	before := size()
	var ids []string
	for i := range 3000 {
		ids = append(ids, fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	_, err := s.Accept(ctx, records(ids...))
	require.NoError(t, err)
	// Only a checkpoint grows the database file: the commits went to the log.
	require.Eventually(t, func() bool { return size() > before+1<<20 }, 5*time.Second, 50*time.Millisecond,
		"the loop copied the log into the database")
}

// TestCommitterKeepsStatementJournalsInMemory: a multi-row insert that may fail half way
// keeps the pages it changed in a statement journal; the committer keeps it in memory
// (temp_store=2), not in a temporary file written page by page while Okta waits. The other
// connections keep the default (0), under which a large sort spills to a file.
func TestCommitterKeepsStatementJournalsInMemory(t *testing.T) {
	s := open(t, Options{DataDir: t.TempDir()})
	for db, want := range map[*sql.DB]int{s.commitDB: 2, s.db: 0} {
		var store int
		require.NoError(t, db.QueryRowContext(context.Background(), `PRAGMA temp_store`).Scan(&store))
		assert.Equal(t, want, store)
	}
}
