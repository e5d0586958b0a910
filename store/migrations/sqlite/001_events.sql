-- Every accepted RoleChange, keyed by Okta's event uuid: the key is what de-duplicates
-- Okta's redeliveries and the same event arriving by hook and by System Log poll. raw is the
-- event exactly as Okta sent it, for audit.
CREATE TABLE hookd_event (
    uuid        TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    published   TEXT NOT NULL,
    source      TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    record      TEXT NOT NULL,
    raw         TEXT NOT NULL
);
CREATE INDEX hookd_event_published ON hookd_event (published);

-- Small named values that must survive restarts, such as the System Log cursor.
CREATE TABLE hookd_state (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
