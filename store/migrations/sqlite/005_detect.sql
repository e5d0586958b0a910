-- What the detections (package detect) remember of each actor's role changes: when the actor
-- was first and last seen ('actor', ''), each country and ASN they changed roles from
-- ('country'/'asn', value) and each subject they changed roles for ('subject', 'kind:id').
-- Kept in the transaction that accepts the changes, so that findings hold across restarts and
-- replicas.
CREATE TABLE hookd_actor_fact (
    actor      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (actor, kind, value)
) WITHOUT ROWID;

-- The subjects an actor changed lately, for the burst detection.
CREATE INDEX hookd_actor_fact_recent ON hookd_actor_fact (actor, kind, last_seen);

-- When hookd holders snapshot last found each holding in Okta's role-assignment API.
ALTER TABLE hookd_holding ADD COLUMN seen_in_okta TEXT;
