-- Which events have reached which sink, written as soon as the sink said yes: a job retried
-- after a crash, or a message split after a 413, sends only what is not here yet.
CREATE TABLE hookd_delivered (
    sink         TEXT NOT NULL,
    uuid         TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (sink, uuid)
);
