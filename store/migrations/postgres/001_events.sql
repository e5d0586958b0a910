-- Every accepted RoleChange, keyed by Okta's event uuid: the key is what de-duplicates
-- Okta's redeliveries and the same event arriving by hook and by System Log poll. raw is the
-- event exactly as Okta sent it, for audit.
CREATE TABLE hookd_event (
    uuid        TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    published   TIMESTAMPTZ NOT NULL,
    source      TEXT NOT NULL,
    accepted_at TIMESTAMPTZ NOT NULL,
    record      JSONB NOT NULL,
    raw         TEXT NOT NULL,
    -- Events of one admin action (same transaction and actor) share a group key, so their
    -- alerts can go out as one message.
    group_key   TEXT NOT NULL,
    -- The sinks the event was routed to, as ",a,b,".
    sinks       TEXT NOT NULL
);
CREATE INDEX hookd_event_published ON hookd_event (published);
CREATE INDEX hookd_event_group ON hookd_event (group_key);

-- Which job's message carried an event to a sink, when events were sent together.
CREATE TABLE hookd_delivery_cover (
    sink       TEXT NOT NULL,
    uuid       TEXT NOT NULL,
    covered_by TEXT NOT NULL,
    PRIMARY KEY (sink, uuid)
);

-- Small named values that must survive restarts, such as the System Log cursor.
CREATE TABLE hookd_state (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
