-- Who holds which watched role: one row per (subject, role), the effect of the newest event
-- about it in Okta's published order (uuid breaks ties), so that events arriving late or out
-- of order neither resurrect a revoked role nor drop a current one. A revoked role keeps its
-- row, marked, so that an older grant arriving later still loses to it.
CREATE TABLE hookd_holding (
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    role_key      TEXT NOT NULL,
    subject_name  TEXT NOT NULL,
    role_name     TEXT NOT NULL,
    category      TEXT NOT NULL,
    held          INTEGER NOT NULL,
    published     TEXT NOT NULL,
    uuid          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    known_by      TEXT NOT NULL,
    PRIMARY KEY (subject_kind, subject_id, role_key)
);
