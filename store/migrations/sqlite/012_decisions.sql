-- What responders decided about changes, from the buttons of an alert (Slack): the newest
-- decision on a change shows with it and stops its escalation. request_key is the signed
-- request's own key, so that a request replayed, to this replica or another, records nothing.
CREATE TABLE hookd_decision (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event       TEXT NOT NULL,
    decision    TEXT NOT NULL,
    by_id       TEXT NOT NULL,
    by_name     TEXT NOT NULL,
    via         TEXT NOT NULL,
    decided_at  TEXT NOT NULL,
    request_key TEXT NOT NULL UNIQUE
);
CREATE INDEX hookd_decision_event ON hookd_decision (event, id);
-- An escalation's delivery row: sent after this many seconds unless the change was decided
-- on by then (0: an ordinary delivery).
ALTER TABLE hookd_delivery ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0;
