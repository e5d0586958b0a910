package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"

	modernc "modernc.org/sqlite"
)

// SQLite has one writer at a time. hookd opens several connections (readers run beside the
// writer in WAL mode) and orders the writers itself, in a writeGate, rather than letting
// them meet at SQLite's file lock, whose busy handler sleeps in steps. The gate also decides
// who writes next: acceptance, which Okta waits for, is never queued behind more than one
// write of the delivery queue's bookkeeping, and that bookkeeping is never starved.

// writeGate is a lock with two queues: urgent (the committer of accepted events) and other
// (the delivery queue, marks, the console's writes). When both wait, they take turns.
type writeGate struct {
	mu     sync.Mutex
	held   bool
	urgent []chan struct{}
	other  []chan struct{}
	// lastUrgent is whether the last holder came from the urgent queue.
	lastUrgent bool
}

// acquire waits for the gate, or for ctx to end.
func (g *writeGate) acquire(ctx context.Context, urgent bool) error {
	g.mu.Lock()
	if !g.held {
		g.held, g.lastUrgent = true, urgent
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{}, 1)
	if urgent {
		g.urgent = append(g.urgent, ch)
	} else {
		g.other = append(g.other, ch)
	}
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		queued := g.remove(ch, urgent)
		g.mu.Unlock()
		if !queued {
			// Handed the gate as ctx ended: pass it on.
			<-ch
			g.release()
		}
		return ctx.Err()
	}
}

// remove takes ch out of its queue, and reports whether it was still there.
func (g *writeGate) remove(ch chan struct{}, urgent bool) bool {
	q := &g.other
	if urgent {
		q = &g.urgent
	}
	for i, c := range *q {
		if c == ch {
			*q = append((*q)[:i], (*q)[i+1:]...)
			return true
		}
	}
	return false
}

// release hands the gate to the next waiter: urgent first, except that after an urgent
// holder a waiting other goes, so that neither queue starves.
func (g *writeGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	takeUrgent := len(g.urgent) > 0 && (len(g.other) == 0 || !g.lastUrgent)
	switch {
	case takeUrgent:
		ch := g.urgent[0]
		g.urgent = g.urgent[1:]
		g.lastUrgent = true
		ch <- struct{}{}
	case len(g.other) > 0:
		ch := g.other[0]
		g.other = g.other[1:]
		g.lastUrgent = false
		ch <- struct{}{}
	default:
		g.held = false
	}
}

// writes reports whether a statement outside a transaction may write, so must hold the gate:
// everything but a plain SELECT and shrinkMemory (leading comments, as sqlc writes them, are
// skipped).
func writes(query string) bool {
	if query == shrinkMemory {
		return false
	}
	q := strings.TrimSpace(query)
	for strings.HasPrefix(q, "--") {
		end := strings.IndexByte(q, '\n')
		if end < 0 {
			return false
		}
		q = strings.TrimSpace(q[end+1:])
	}
	return len(q) < 6 || !strings.EqualFold(q[:6], "select")
}

// gatedConnector opens SQLite connections whose writes go through gate; urgent ones queue
// in its urgent line.
type gatedConnector struct {
	inner  driver.Connector
	gate   *writeGate
	urgent bool
}

// newGatedConnector is a connector for dsn whose connections share gate.
func newGatedConnector(dsn string, gate *writeGate, urgent bool) (*gatedConnector, error) {
	inner, err := modernc.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &gatedConnector{inner: inner, gate: gate, urgent: urgent}, nil
}

func (c *gatedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sqliteConn)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("sqlite driver connection lacks the context methods")
	}
	return &gatedConn{inner: inner, gate: c.gate, urgent: c.urgent}, nil
}

func (c *gatedConnector) Driver() driver.Driver { return c.inner.Driver() }

// sqliteConn is what hookd uses of the SQLite driver's connection.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// gatedConn is one SQLite connection whose transactions, and writing statements outside
// them, hold the gate. database/sql uses a connection from one goroutine at a time.
//
// It also keeps two of River's statements prepared (keptStatements): River's SQLite driver
// runs its queries unprepared, and these two run for every few jobs delivered, where
// compiling them cost more than running them.
type gatedConn struct {
	inner  sqliteConn
	gate   *writeGate
	urgent bool
	inTx   bool
	// kept holds the statements of keptStatements, each prepared on its first use.
	kept [len(keptStatements)]*keptStmt
}

// preparedStmt is what hookd uses of the SQLite driver's prepared statement.
type preparedStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// keptStmt is a statement kept prepared on a connection; busy while its rows are open.
type keptStmt struct {
	query string
	stmt  preparedStmt
	busy  bool
}

// keptStatements are how the statements kept prepared start (sqlc names its queries in a
// leading comment): River's job completion, and its fetch of available jobs, the two River
// runs for every few jobs delivered. Compiling the fetch, a long UPDATE, was a fifth of
// hookd's CPU while a backlog drained. Both bind only small values. Keeping all of River's
// statements held about 20 MB after a burst of large deliveries (a compiled statement keeps
// the buffers of the largest values bound to it), over the memory target; Trim drops the
// kept ones too (dropAllKept).
var keptStatements = [...]string{"-- name: JobSetStateIfRunning ", "-- name: JobGetAvailable "}

// keptSlot is the place in gatedConn.kept of query's kind, or -1 when it is not kept.
// Only queries (they return the jobs' rows) with arguments are.
func keptSlot(query string, args []driver.NamedValue) int {
	if len(args) == 0 {
		return -1
	}
	for i, prefix := range keptStatements {
		if strings.HasPrefix(query, prefix) {
			return i
		}
	}
	return -1
}

// keptFor returns query's kept statement in slot, prepared on first use, or nil when it
// cannot be used (its rows are open, or it does not prepare as one statement). A statement
// of another text takes the place of the one kept in its slot before.
func (c *gatedConn) keptFor(ctx context.Context, slot int, query string) *keptStmt {
	if k := c.kept[slot]; k != nil && k.query == query {
		if k.busy {
			return nil
		}
		return k
	}
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	full, ok := st.(preparedStmt)
	if !ok {
		_ = st.Close()
		return nil
	}
	c.dropKept(slot)
	c.kept[slot] = &keptStmt{query: query, stmt: full}
	return c.kept[slot]
}

// dropKept closes the statement kept in slot unless rows use it (those close it, see
// QueryContext).
func (c *gatedConn) dropKept(slot int) {
	if k := c.kept[slot]; k != nil && !k.busy {
		_ = k.stmt.Close()
	}
	c.kept[slot] = nil
}

// dropAllKept closes every kept statement (see dropKept).
func (c *gatedConn) dropAllKept() {
	for slot := range c.kept {
		c.dropKept(slot)
	}
}

func (c *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &gatedStmt{Stmt: st, conn: c, writes: writes(query)}, nil
}

func (c *gatedConn) Close() error {
	c.dropAllKept()
	return c.inner.Close()
}

func (c *gatedConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.gate.acquire(ctx, c.urgent); err != nil {
		return nil, err
	}
	tx, err := c.inner.BeginTx(ctx, opts)
	if err != nil {
		c.gate.release()
		return nil, err
	}
	c.inTx = true
	return &gatedTx{inner: tx, conn: c}, nil
}

// enter takes the gate for a statement outside a transaction that writes; done gives it
// back (a no-op when nothing was taken).
func (c *gatedConn) enter(ctx context.Context, writes bool) (done func(), err error) {
	if c.inTx || !writes {
		return func() {}, nil
	}
	if err := c.gate.acquire(ctx, c.urgent); err != nil {
		return nil, err
	}
	return c.gate.release, nil
}

func (c *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	done, err := c.enter(ctx, writes(query))
	if err != nil {
		return nil, err
	}
	defer done()
	return c.inner.ExecContext(ctx, query, args)
}

func (c *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	done, err := c.enter(ctx, writes(query))
	if err != nil {
		return nil, err
	}
	if slot := keptSlot(query, args); slot >= 0 {
		if ks := c.keptFor(ctx, slot, query); ks != nil {
			ks.busy = true
			rows, err := ks.stmt.QueryContext(ctx, args)
			if err != nil {
				ks.busy = false
				done()
				return nil, err
			}
			return &gatedRows{Rows: rows, done: func() {
				ks.busy = false
				if c.kept[slot] != ks { // replaced or dropped while its rows were open
					_ = ks.stmt.Close()
				}
				done()
			}}, nil
		}
	}
	rows, err := c.inner.QueryContext(ctx, query, args)
	if err != nil {
		done()
		return nil, err
	}
	return &gatedRows{Rows: rows, done: done}, nil
}

func (c *gatedConn) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

func (c *gatedConn) ResetSession(ctx context.Context) error { return c.inner.ResetSession(ctx) }

func (c *gatedConn) IsValid() bool { return c.inner.IsValid() }

// gatedTx gives the gate back when the transaction ends.
type gatedTx struct {
	inner driver.Tx
	conn  *gatedConn
}

func (t *gatedTx) Commit() error {
	defer t.end()
	return t.inner.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.end()
	return t.inner.Rollback()
}

func (t *gatedTx) end() {
	t.conn.inTx = false
	t.conn.gate.release()
}

// gatedStmt is a prepared statement that holds the gate when it writes outside a
// transaction.
type gatedStmt struct {
	driver.Stmt
	conn   *gatedConn
	writes bool
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	done, err := s.conn.enter(ctx, s.writes)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	done, err := s.conn.enter(ctx, s.writes)
	if err != nil {
		return nil, err
	}
	rows, err := s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		done()
		return nil, err
	}
	return &gatedRows{Rows: rows, done: done}, nil
}

// gatedRows gives the gate back when the rows of a writing statement are closed: SQLite
// ends an autocommit statement's transaction when it is reset.
type gatedRows struct {
	driver.Rows
	done func()
	once sync.Once
}

func (r *gatedRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.done)
	return err
}
