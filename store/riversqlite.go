package store

import (
	"context"

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

// queueDriver is River's SQLite driver with job completions recorded in chunks.
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
