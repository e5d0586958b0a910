-- Records and raw events are JSON of 1 – 3 KB, which Postgres compresses as it stores them.
-- lz4 does that several times faster than the default pglz, which a large delivery (thousands
-- of events in one commit) feels in its acknowledgement. A server built without lz4 keeps
-- pglz.
DO $$
BEGIN
    ALTER TABLE hookd_event ALTER COLUMN record SET COMPRESSION lz4, ALTER COLUMN raw SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR undefined_object THEN
    RAISE NOTICE 'lz4 is not available: hookd_event keeps pglz compression';
END
$$;
