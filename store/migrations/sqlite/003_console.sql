-- The operator console reads role changes newest first (ties broken by uuid) and the last
-- event of each type; it finds an event's delivery jobs by the job's arguments.
DROP INDEX hookd_event_published;
CREATE INDEX hookd_event_published ON hookd_event (published, uuid);
CREATE INDEX hookd_event_type_published ON hookd_event (event_type, published);
CREATE INDEX hookd_job_event ON river_job (json_extract(args, '$.event_id')) WHERE kind = 'hookd_delivery';

-- Dead letters an operator handled: retried (re-queued as a fresh job) or discarded. River's
-- cancelled and discarded jobs are kept (no retention limit), so the dead letter is River's
-- job row plus this.
CREATE TABLE hookd_deadletter (
    job_id       INTEGER PRIMARY KEY,
    action       TEXT NOT NULL,
    handled_at   TEXT NOT NULL,
    handled_by   TEXT NOT NULL,
    retry_job_id INTEGER
);
