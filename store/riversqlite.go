package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
)

// completionChunk bounds how many finished jobs one transaction records on SQLite.
//
// River's completer gathers the jobs that finished in the last 50 ms and records them in one
// transaction, a statement per job on SQLite (about 0.1 ms each). At a thousand alerts a
// second that is one transaction holding the write gate for 10 – 30 ms, and the commit of
// accepted events, which Okta waits for, waits behind it. Recorded in chunks, each a
// transaction of its own, acceptance waits for one chunk at most. A chunk failing after
// others committed is harmless: River retries the batch, and a job already recorded is
// recorded again as it is.
const completionChunk = 10

// queueDriver is River's SQLite driver with job completions recorded in chunks, and jobs
// queued in hookd's transactions by plain multi-row inserts (see plainJobInserts).
type queueDriver struct {
	*riversqlite.Driver
}

// GetExecutor is the driver's executor outside transactions, which the completer uses.
func (d queueDriver) GetExecutor() riverdriver.Executor {
	return chunkedCompletions{d.Driver.GetExecutor()}
}

// chunkedCompletions records finished jobs completionChunk at a time.
type chunkedCompletions struct {
	riverdriver.Executor
}

func (e chunkedCompletions) JobSetStateIfRunningMany(ctx context.Context, p *riverdriver.JobSetStateIfRunningManyParams) ([]*rivertype.JobRow, error) {
	n := len(p.ID)
	if n <= completionChunk || len(p.Attempt) != n || len(p.ErrData) != n || len(p.FinalizedAt) != n ||
		len(p.MetadataDoMerge) != n || len(p.MetadataUpdates) != n || len(p.ScheduledAt) != n || len(p.State) != n {
		return e.Executor.JobSetStateIfRunningMany(ctx, p)
	}
	out := make([]*rivertype.JobRow, 0, len(p.ID))
	for start := 0; start < len(p.ID); start += completionChunk {
		end := min(start+completionChunk, len(p.ID))
		part := *p
		part.ID = p.ID[start:end]
		part.Attempt = p.Attempt[start:end]
		part.ErrData = p.ErrData[start:end]
		part.FinalizedAt = p.FinalizedAt[start:end]
		part.MetadataDoMerge = p.MetadataDoMerge[start:end]
		part.MetadataUpdates = p.MetadataUpdates[start:end]
		part.ScheduledAt = p.ScheduledAt[start:end]
		part.State = p.State[start:end]
		rows, err := e.Executor.JobSetStateIfRunningMany(ctx, &part)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

// UnwrapExecutor is the driver's executor in a transaction of hookd's: the commit that
// accepts events queues their delivery jobs through it.
func (d queueDriver) UnwrapExecutor(tx *sql.Tx) riverdriver.ExecutorTx {
	return plainJobInserts{d.Driver.UnwrapExecutor(tx), tx}
}

// UnwrapTx is the transaction an executor of UnwrapExecutor runs in.
func (d queueDriver) UnwrapTx(e riverdriver.ExecutorTx) *sql.Tx {
	if p, ok := e.(plainJobInserts); ok {
		return p.tx
	}
	return d.Driver.UnwrapTx(e)
}

// plainJobInserts queues jobs with a multi-row INSERT of bound values.
//
// River's SQLite driver marshals every job into one JSON array, and SQLite takes it apart
// again with json_each and a dozen json_extract calls a job, each parsing the job anew. In
// the commit that accepts events, which every delivery Okta sends waits for, that was the
// largest cost: 44% of the committer's time in a closed loop of 3-watched deliveries. The
// rows written are the same (TestPlainJobInsertsMatchRivers reads both back through River).
// A job River would insert as unique goes through River's own statement.
type plainJobInserts struct {
	riverdriver.ExecutorTx
	tx *sql.Tx
}

const jobInsertHead = "INSERT INTO river_job (args, created_at, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags) VALUES "

// jobInsertRow is one job's values; created_at and scheduled_at left unset take the
// database's clock, as in River's statement.
const jobInsertRow = "(jsonb(?), coalesce(?, datetime('now', 'subsec')), ?, ?, jsonb(?), ?, ?, coalesce(?, datetime('now', 'subsec')), ?, jsonb(?))"

// JobInsertFastManyNoReturning queues p's jobs and returns how many it queued. Its errors
// are classified as the store's other writes are (dbError), which River passes on.
func (e plainJobInserts) JobInsertFastManyNoReturning(ctx context.Context, p *riverdriver.JobInsertFastManyParams) (int, error) {
	if p.Schema != "" {
		return e.ExecutorTx.JobInsertFastManyNoReturning(ctx, p)
	}
	rows := make([][]any, len(p.Jobs))
	for i, job := range p.Jobs {
		if len(job.UniqueKey) > 0 || job.UniqueStates != 0 {
			return e.ExecutorTx.JobInsertFastManyNoReturning(ctx, p)
		}
		tags := []byte("[]")
		if len(job.Tags) > 0 {
			var err error
			if tags, err = json.Marshal(job.Tags); err != nil {
				return 0, err
			}
		}
		metadata := job.Metadata
		if len(metadata) == 0 {
			metadata = []byte("{}")
		}
		rows[i] = []any{string(job.EncodedArgs), riverTime(job.CreatedAt), job.Kind, int64(job.MaxAttempts), string(metadata),
			int64(job.Priority), job.Queue, riverTime(job.ScheduledAt), string(job.State), string(tags)}
	}
	if err := insertRowsAs(ctx, e.tx, jobInsertHead, jobInsertRow, "", rows, nil, "queue deliveries"); err != nil {
		return 0, err
	}
	return len(rows), nil
}

// riverTime is t as River's SQLite schema keeps times (UTC, to the millisecond), or nil.
func riverTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
}
