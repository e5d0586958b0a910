package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/hookd/hookd"
)

// A paced sink (Slack, Teams) sends a fixed number of messages a minute. Under a flood its
// backlog would take hours one by one, and a grant made an hour into it would be read an hour
// late. So when a paced sink's backlog is more than it can send in the next minute, the
// leader folds the rest into one summary message: the most severe and oldest alerts that fit
// in the minute stay, and so does every alert of the top rank (Options.Unfolded), however
// many; the others become 'summarised' rows carried by a summary row, which is delivered like
// any other and records each of them as delivered. At most one summary a minute goes to a
// sink. Sinks that count their messages (webhook, PagerDuty) are never folded.

// Summarizer is a Deliverer whose paced sinks can say many alerts in one message.
type Summarizer interface {
	// Paced names the sinks that send at a fixed pace, with how many messages each sends
	// a minute.
	Paced() map[string]int
	// Summarize sends one message to sink that stands for the summary's alerts.
	Summarize(ctx context.Context, sink string, s hookd.Summary) error
}

// foldEvery is how often the leader looks at the paced sinks' backlogs, and foldGap the
// least time between two summaries to one sink.
const (
	foldEvery = 5 * time.Second
	foldGap   = time.Minute
)

// foldTask is the periodic task that folds the paced sinks' floods.
func (s *Store) foldTask(sum Summarizer) Periodic {
	last := map[string]time.Time{}
	return Periodic{Name: "fold", Interval: foldEvery, Run: func(ctx context.Context) error {
		for sink, perMinute := range sum.Paced() {
			if s.opts.Now().Sub(last[sink]) < foldGap {
				continue
			}
			folded, err := s.fold(ctx, sink, perMinute)
			if err != nil {
				return err
			}
			if folded > 0 {
				last[sink] = s.opts.Now()
				s.opts.Logger.Info("a paced sink's backlog is more than a minute's worth: folded into one summary",
					"sink", sink, "alerts", folded)
				s.wakeWorkers()
			}
		}
		return nil
	}}
}

// fold folds sink's backlog beyond what it sends in a minute into a summary row, and returns
// how many alerts it folded.
func (s *Store) fold(ctx context.Context, sink string, perMinute int) (int, error) {
	if perMinute <= 0 {
		return 0, nil // not paced: its receiver counts every message
	}
	now := s.opts.Now()
	// The backlog: what is due within the minute and not in flight, by severity. Counted on
	// a reader: the writer is acceptance's too.
	backlog := `FROM hookd_delivery WHERE state = 'pending' AND sink = $1 AND run_at <= $2
		AND (lease_until IS NULL OR lease_until < $3) AND event <> '' AND escalation = 0`
	args := []any{sink, s.timeArg(now.Add(foldGap)), s.timeArg(now)}
	bySeverity := map[int]int{}
	var severities []int
	n, top, unfolded := 0, 0, 0
	err := s.scan(ctx, `SELECT severity, count(*) `+backlog+` GROUP BY severity`, args, func(r *sql.Rows) error {
		var sev, count int
		if err := r.Scan(&sev, &count); err != nil {
			return err
		}
		bySeverity[sev], n, top = count, n+count, max(top, sev)
		if sev >= s.unfolded() {
			unfolded += count
		} else {
			severities = append(severities, sev)
		}
		return nil
	})
	if err != nil || n <= perMinute {
		return 0, err
	}
	slices.Sort(severities)
	slices.Reverse(severities)
	// The summary row waits until the folding is done; should this process die first, it
	// goes a minute later with what was folded by then.
	var id int64
	summary := lane{sink, min(top, s.unfolded()-1)}
	if err := s.queueTx(ctx, func(tx *sql.Tx) error {
		return dbError("fold", tx.QueryRowContext(ctx, `INSERT INTO hookd_delivery (sink, event, severity, run_at) VALUES ($1, '', $2, $3) RETURNING id`,
			summary.sink, summary.severity, s.timeArg(now.Add(foldGap))).Scan(&id))
	}); err != nil {
		return 0, err
	}
	s.lanes.add(summary)
	// Severity by severity, the oldest that fit in the minute stay and the rest are folded, a
	// chunk a commit, so that acceptance waits for none of them long.
	keep := max(0, perMinute-1-unfolded) // the summary takes a message of the minute
	folded := 0
	for _, sev := range severities {
		stay := min(keep, bySeverity[sev])
		keep -= stay
		rest := `SELECT id ` + backlog + ` AND severity = $4 ORDER BY run_at, id LIMIT ` + fmt.Sprint(foldChunk) + ` OFFSET $5` + s.skipLocked()
		for {
			var m int64
			err := s.queueTx(ctx, func(tx *sql.Tx) error {
				// Only into a summary not taken yet: one that outwaited its minute went with
				// what it had.
				res, err := tx.ExecContext(ctx, `UPDATE hookd_delivery SET state = 'summarised', carrier = $6 WHERE id IN (`+rest+`)
					AND EXISTS (SELECT 1 FROM hookd_delivery c WHERE c.id = $6 AND c.state = 'pending' AND c.lease_until IS NULL)`,
					append(args, sev, stay, id)...)
				if err == nil {
					m, err = res.RowsAffected()
				}
				return dbError("fold", err)
			})
			if err != nil {
				return folded, err
			}
			folded += int(m)
			if m < foldChunk {
				break
			}
		}
	}
	return folded, s.queueTx(ctx, func(tx *sql.Tx) error {
		var err error
		if folded == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM hookd_delivery WHERE id = $1`, id)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE hookd_delivery SET run_at = $2 WHERE id = $1`, id, s.timeArg(s.opts.Now()))
		}
		return dbError("fold", err)
	})
}

// foldChunk is how many alerts one commit folds.
const foldChunk = 1000

// unfolded is the least severity rank that is never folded.
func (s *Store) unfolded() int {
	if s.opts.Unfolded <= 0 {
		return 1 << 15
	}
	return s.opts.Unfolded
}

// summarize sends the summary row's message: what its folded rows hold, counted.
func (s *Store) summarize(ctx context.Context, sum Summarizer, row claimed) []settled {
	o := Outcome{Sink: row.sink, EventID: fmt.Sprintf("summary-%d", row.id), Attempt: row.attempt, MaxAttempts: s.opts.MaxAttempts}
	summary, err := s.summaryOf(ctx, row.id)
	if err == nil {
		o.Events = summary.Changes
		err = sum.Summarize(ctx, row.sink, summary)
	}
	if err != nil {
		st := s.next([]int64{row.id}, err, o)
		st.summary = true
		return []settled{st}
	}
	o.Result = ResultSummary
	s.report(o)
	return []settled{{ids: []int64{row.id}, state: stateDelivered, summary: true}}
}

// summaryOf counts what a summary row's folded rows hold.
func (s *Store) summaryOf(ctx context.Context, id int64) (hookd.Summary, error) {
	out := hookd.Summary{BySeverity: map[int]int{}}
	var oldest, newest any
	err := s.scan(ctx, `SELECT d.severity, count(*), min(e.published), max(e.published)
		FROM hookd_delivery d LEFT JOIN hookd_event e ON e.uuid = d.event
		WHERE d.carrier = $1 AND d.state = 'summarised' GROUP BY d.severity`, []any{id}, func(r *sql.Rows) error {
		var rank, n int
		if err := r.Scan(&rank, &n, &oldest, &newest); err != nil {
			return err
		}
		out.Changes += n
		out.BySeverity[rank] += n
		if t, err := s.scanTime(oldest); err == nil && (out.Oldest.IsZero() || t.Before(out.Oldest)) {
			out.Oldest = t
		}
		if t, err := s.scanTime(newest); err == nil && t.After(out.Newest) {
			out.Newest = t
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	// The actors are read from the records, of at most actorSample of them: a summary of a
	// very large flood names who made most of its start.
	out.ActorsOf = min(out.Changes, actorSample)
	actor := `coalesce(nullif(json_extract(e.record, '$.actor.displayName'), ''), json_extract(e.record, '$.actor.login'), json_extract(e.record, '$.actor.id'), '')`
	if s.dialect == postgres {
		// The record is JSON text; jsonb refuses only the \u0000 escape of what it holds.
		actor = `(replace(e.record, '\u0000', '\ufffd')::jsonb)->'actor'`
		actor = `coalesce(nullif(` + actor + `->>'displayName', ''), ` + actor + `->>'login', ` + actor + `->>'id', '')`
	}
	err = s.scan(ctx, `SELECT `+actor+`, count(*) FROM (SELECT event FROM hookd_delivery
			WHERE carrier = $1 AND state = 'summarised' ORDER BY id LIMIT `+fmt.Sprint(actorSample)+`) f
		JOIN hookd_event e ON e.uuid = f.event GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5`, []any{id}, func(r *sql.Rows) error {
		var a hookd.ActorCount
		if err := r.Scan(&a.Name, &a.Count); err != nil {
			return err
		}
		out.Actors = append(out.Actors, a)
		return nil
	})
	return out, err
}

// actorSample bounds the records a summary reads to name its actors.
const actorSample = 10000

// wakeWorkers tells this process's queue loop that deliveries may be due.
func (s *Store) wakeWorkers() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
