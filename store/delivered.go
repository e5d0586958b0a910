package store

import (
	"context"
	"database/sql"
	"github.com/hookd/hookd/hook"

	"sort"
	"strconv"
	"strings"
)

// markRequest asks for events to be recorded as delivered to a sink; done receives the
// outcome once the commit that holds them is over.
type markRequest struct {
	sink string
	keys []string
	done chan error
}

// markDelivered records that keys reached sink, and returns after the commit. Workers that
// finish together share one commit, so marking costs SQLite's single writer one sync per
// batch, not per alert.
func (s *Store) markDelivered(ctx context.Context, sink string, keys []string) error {
	req := &markRequest{sink: sink, keys: keys, done: make(chan error, 1)}
	select {
	case s.marks <- req:
	case <-s.stop:
		return hook.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// markLoop commits waiting mark requests together until the store closes.
func (s *Store) markLoop() {
	defer func() { s.stopped <- struct{}{} }()
	for {
		var batch []*markRequest
		select {
		case req := <-s.marks:
			batch = append(batch, req)
		case <-s.stop:
			for {
				select {
				case req := <-s.marks:
					req.done <- hook.ErrClosed
				default:
					return
				}
			}
		}
	gather:
		for len(batch) < 500 {
			select {
			case req := <-s.marks:
				batch = append(batch, req)
			default:
				break gather
			}
		}
		err := s.commitMarks(batch)
		for _, req := range batch {
			req.done <- err
		}
	}
}

func (s *Store) commitMarks(batch []*markRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	type mark struct{ sink, key string }
	var marks []mark
	for _, req := range batch {
		for _, k := range req.keys {
			marks = append(marks, mark{req.sink, k})
		}
	}
	// Postgres committers take row locks in one order, as Accept does.
	sort.Slice(marks, func(i, j int) bool {
		if marks[i].sink != marks[j].sink {
			return marks[i].sink < marks[j].sink
		}
		return marks[i].key < marks[j].key
	})
	now := s.timeArg(s.opts.Now())
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO hookd_delivered (sink, uuid, delivered_at) VALUES ($1, $2, $3) ON CONFLICT (sink, uuid) DO NOTHING`)
		if err != nil {
			return dbError("prepare", err)
		}
		defer stmt.Close()
		for _, m := range marks {
			if _, err := stmt.ExecContext(ctx, m.sink, m.key, now); err != nil {
				return dbError("mark delivered", err)
			}
		}
		return nil
	})
}

// deliveredOf returns which of keys are recorded as delivered to sink.
func (s *Store) deliveredOf(ctx context.Context, sink string, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	for start := 0; start < len(keys); start += insertChunk {
		chunk := keys[start:min(start+insertChunk, len(keys))]
		var q strings.Builder
		q.WriteString(`SELECT uuid FROM hookd_delivered WHERE sink = $1 AND uuid IN (`)
		args := []any{sink}
		for i, k := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("$" + strconv.Itoa(i+2))
			args = append(args, k)
		}
		q.WriteByte(')')
		rows, err := s.db.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, dbError("read delivered", err)
		}
		if err := scanKeys(rows, out, "read delivered"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanKeys adds the single text column of rows to into, and closes rows; op names the
// query in errors.
func scanKeys(rows *sql.Rows, into map[string]bool, op string) error {
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return dbError(op, err)
		}
		into[k] = true
	}
	if err := rows.Err(); err != nil {
		return dbError(op, err)
	}
	return nil
}

// maxMessageEvents and maxMessageBytes bound one message of grouped events: a large admin
// action goes out as several messages rather than one a receiver may refuse.
const (
	maxMessageEvents = 100
	maxMessageBytes  = 512 << 10
)

// split cuts changes into messages of at most maxEvents events and about maxBytes of
// records each (a single larger event is a message of its own).
func split[T any](items []T, size func(T) int, maxEvents, maxBytes int) [][]T {
	var out [][]T
	start, bytes := 0, 0
	for i, it := range items {
		n := size(it)
		if i > start && (i-start >= maxEvents || bytes+n > maxBytes) {
			out = append(out, items[start:i])
			start, bytes = i, 0
		}
		bytes += n
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}
