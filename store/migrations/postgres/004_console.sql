-- The operator console's index of role changes: a narrow copy of what its filters read
-- (lowercased search text, the alert severity at acceptance), written in the transaction
-- that accepts the event, so that a filtered page over 100,000 changes reads this table
-- and not the records and raw events. Its key is the order pages are read in, so that a
-- filter that matches little reads the table once, in order. An event's row is found by its
-- published time and uuid, so it needs no index on uuid.
CREATE TABLE hookd_change (
    uuid         TEXT NOT NULL,
    published    TIMESTAMPTZ NOT NULL,
    event_type   TEXT NOT NULL,
    source       TEXT NOT NULL,
    severity     TEXT NOT NULL,
    roles        TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject      TEXT NOT NULL,
    actor        TEXT NOT NULL,
    PRIMARY KEY (published, uuid)
);

-- The newest event of each type, for the console's coverage view.
CREATE INDEX hookd_change_type ON hookd_change (event_type, published);

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

-- Nothing reads hookd_event by time any more (the console reads hookd_change): one index
-- fewer for every accepted event to update.
DROP INDEX hookd_event_published;
