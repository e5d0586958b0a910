-- The operator console's index of role changes: a narrow copy of what its filters read
-- (lowercased search text, the alert severity at acceptance), written in the transaction
-- that accepts the event, so that a filtered page over 100,000 changes reads this table
-- and not the records and raw events.
CREATE TABLE hookd_change (
    uuid       TEXT PRIMARY KEY,
    published  TIMESTAMPTZ NOT NULL,
    event_type TEXT NOT NULL,
    source     TEXT NOT NULL,
    severity   TEXT NOT NULL,
    roles      TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject    TEXT NOT NULL,
    actor      TEXT NOT NULL
);
CREATE INDEX hookd_change_published ON hookd_change (published, uuid);
CREATE INDEX hookd_change_type_published ON hookd_change (event_type, published);

-- The console finds an event's delivery jobs by the job's arguments.
CREATE INDEX hookd_job_event ON river_job ((args->>'event_id')) WHERE kind = 'hookd_delivery';

-- Dead letters an operator handled: retried (re-queued as a fresh job) or discarded. River's
-- cancelled and discarded jobs are kept (no retention limit), so the dead letter is River's
-- job row plus this.
CREATE TABLE hookd_deadletter (
    job_id       BIGINT PRIMARY KEY,
    action       TEXT NOT NULL,
    handled_at   TIMESTAMPTZ NOT NULL,
    handled_by   TEXT NOT NULL,
    retry_job_id BIGINT
);
