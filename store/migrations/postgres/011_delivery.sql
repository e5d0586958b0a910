-- hookd's delivery queue: one row per delivery of an event to a sink, written in the
-- transaction that accepts the event. A row is the job and its record at once: workers claim
-- due pending rows, most severe first, by moving run_at to the end of a lease (so a lease that
-- lapses makes the row due again, whoever held it), and the outcome sets the row's state.
--   state: pending (waiting, retrying or leased), delivered, dead (the dead letter), summarised
--   (folded into a summary row under a flood: see store/flood.go)
--   severity: the alert's rank at acceptance (higher is more severe)
--   group_key: the admin action; due rows of one action and sink go out as one message
--   inline: the event itself, as JSON, when the events table refused it
--   requeued: re-queued from the dead letter by an operator
--   carrier: for a dead row that went in another row's message, that row (the dead letter is
--   the message, listed and handled under its first row); for a summarised row, its summary
--   event: '' for a summary row
CREATE TABLE hookd_delivery (
    id          BIGSERIAL PRIMARY KEY,
    sink        TEXT NOT NULL,
    event       TEXT NOT NULL,
    group_key   TEXT NOT NULL DEFAULT '',
    severity    SMALLINT NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempt     INTEGER NOT NULL DEFAULT 0,
    run_at      TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ,
    last_error  TEXT NOT NULL DEFAULT '',
    finished_at TIMESTAMPTZ,
    requeued    BOOLEAN NOT NULL DEFAULT false,
    inline      TEXT,
    carrier     BIGINT
);
-- Claims read each sink and severity's due rows apart, so that a sink held back (paced, or
-- asking to wait) or rows not due yet cost no scan past them.
CREATE INDEX hookd_delivery_due ON hookd_delivery (sink, severity, run_at, id) WHERE state = 'pending';
CREATE INDEX hookd_delivery_event ON hookd_delivery (event, sink);
CREATE INDEX hookd_delivery_group ON hookd_delivery (group_key, sink) WHERE state = 'pending' AND group_key <> '';
CREATE INDEX hookd_delivery_dead ON hookd_delivery (sink) WHERE state = 'dead' AND carrier IS NULL;
CREATE INDEX hookd_delivery_carrier ON hookd_delivery (carrier) WHERE carrier IS NOT NULL;
