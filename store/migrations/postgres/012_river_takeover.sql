-- Takes over the delivery queue of the release before, which kept it in River's tables (run
-- only when they are there; see store/riverupgrade.go). Every job still to run becomes a
-- pending row unless hookd_delivered says its event reached the sink; every dead job a dead
-- row; each keeps its job id, which the dead letter's audit rows name.
INSERT INTO hookd_delivery (id, sink, event, group_key, severity, state, attempt, run_at, last_error, finished_at, requeued, inline)
SELECT j.id, j.args->>'sink', j.args->>'event_id', coalesce(e.group_key, ''),
       CASE c.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END,
       CASE WHEN j.state::text IN ('cancelled', 'discarded') THEN 'dead' ELSE 'pending' END,
       j.attempt,
       CASE WHEN j.state::text = 'running' THEN now() ELSE j.scheduled_at END,
       coalesce(replace(j.errors[array_length(j.errors, 1)]->>'error', 'JobCancelError: ', ''), ''),
       CASE WHEN j.state::text IN ('cancelled', 'discarded') THEN coalesce(j.finalized_at, j.scheduled_at) END,
       coalesce((j.args->>'requeued')::boolean, false),
       (j.args->'inline')::text
FROM river_job j
LEFT JOIN hookd_event e ON e.uuid = j.args->>'event_id'
LEFT JOIN hookd_change c ON c.uuid = j.args->>'event_id'
WHERE j.kind = 'hookd_delivery'
  AND j.state::text IN ('available', 'scheduled', 'pending', 'retryable', 'running', 'cancelled', 'discarded')
  AND NOT EXISTS (SELECT 1 FROM hookd_delivered d WHERE d.sink = j.args->>'sink' AND d.uuid = j.args->>'event_id');

-- New rows are numbered past every id River gave, so that no new delivery takes the id of a
-- job the dead letter's audit rows (retry_job_id) still name.
SELECT setval(pg_get_serial_sequence('hookd_delivery', 'id'),
    greatest(coalesce((SELECT max(id) FROM hookd_delivery), 0), (SELECT last_value FROM river_job_id_seq)) + 1, false);

-- River's rescue of a replica's own jobs kept the replica's River client here.
DELETE FROM hookd_state WHERE name LIKE 'replica:%';

DROP TABLE IF EXISTS river_job, river_leader, river_migration, river_notification, river_queue, river_client, river_client_queue CASCADE;
DROP FUNCTION IF EXISTS river_job_state_in_bitmask(bit, river_job_state);
DROP FUNCTION IF EXISTS river_job_notify() CASCADE;
DROP TYPE IF EXISTS river_job_state CASCADE;
