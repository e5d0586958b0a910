package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/hookd/hookd/hook"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Periodic is a task that runs every Interval on exactly one replica at a time: River's
// leader enqueues it, any replica's worker runs it, and a run still queued or running keeps
// the next one from being enqueued.
type Periodic struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
}

// periodicArgs is the River job of a Periodic task.
type periodicArgs struct {
	Name string `json:"name"`
}

// Kind is River's name for the job.
func (periodicArgs) Kind() string { return "hookd_periodic" }

// periodicTasks are the tasks this replica runs, by name; tasks may be added after Open.
type periodicTasks struct {
	mu     sync.Mutex
	byName map[string]Periodic
}

func (p *periodicTasks) get(name string) (Periodic, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.byName[name]
	return t, ok
}

func (p *periodicTasks) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byName) == 0
}

// AddPeriodic adds a periodic task after Open and before Start, so that a task may use the
// store it runs in (the System Log poller accepts into it).
func (s *Store) AddPeriodic(t Periodic) {
	s.periodic.mu.Lock()
	s.periodic.byName[t.Name] = t
	s.periodic.mu.Unlock()
	for _, j := range periodicJobs([]Periodic{t}) {
		s.river.PeriodicJobs().Add(j)
	}
}

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	tasks *periodicTasks
}

// Work runs the named task once.
func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	t, ok := w.tasks.get(job.Args.Name)
	if !ok {
		return river.JobCancel(fmt.Errorf("no periodic task %q on this replica", job.Args.Name))
	}
	if err := t.Run(ctx); err != nil {
		// The next tick runs it again; a retry on top would only run it twice.
		return river.JobCancel(err)
	}
	return nil
}

func periodicJobs(tasks []Periodic) []*river.PeriodicJob {
	var out []*river.PeriodicJob
	for _, t := range tasks {
		name := t.Name
		out = append(out, river.NewPeriodicJob(river.PeriodicInterval(t.Interval),
			func() (river.JobArgs, *river.InsertOpts) {
				return periodicArgs{Name: name}, &river.InsertOpts{
					MaxAttempts: 1,
					UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
						rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
						rivertype.JobStateScheduled, rivertype.JobStateRetryable,
					}},
				}
			}, &river.PeriodicJobOpts{ID: "hookd_" + name, RunOnStart: true}))
	}
	return out
}

// State returns a named value kept beside the events (such as the System Log cursor), or ""
// when there is none.
func (s *Store) State(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM hookd_state WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s", hook.ErrUnavailable, redact(err))
	}
	return v, nil
}

// SetState keeps a named value; "" removes it.
func (s *Store) SetState(ctx context.Context, name, value string) error {
	var err error
	if value == "" {
		_, err = s.db.ExecContext(ctx, `DELETE FROM hookd_state WHERE name = $1`, name)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO hookd_state (name, value, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, s.timeArg(s.opts.Now()))
	}
	if err != nil {
		return fmt.Errorf("%w: %s", hook.ErrUnavailable, redact(err))
	}
	return nil
}
