-- Delivery jobs of a large accepted request, kept in its accepting transaction as one row and
-- queued right after the answer (see store/queuelater.go): River's insert of thousands of jobs no
-- longer keeps Okta waiting, and a crash between the two leaves the row to queue at start.
CREATE TABLE hookd_queue_later (
    id   BIGSERIAL PRIMARY KEY,
    jobs TEXT NOT NULL
);
