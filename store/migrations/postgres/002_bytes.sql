-- Okta's strings may hold NUL and its raw events invalid UTF-8: Postgres's jsonb refuses the
-- \u0000 escape and text refuses both. The record is kept as JSON text (escaped, valid UTF-8)
-- and the raw event as bytes, exactly as Okta sent it.
ALTER TABLE hookd_event ALTER COLUMN record TYPE TEXT USING record::text;
ALTER TABLE hookd_event ALTER COLUMN raw TYPE BYTEA USING convert_to(raw, 'UTF8');
