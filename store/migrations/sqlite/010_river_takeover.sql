-- Takes over the delivery queue of the release before, which kept it in River's tables (run
-- only when they are there; see store/riverupgrade.go). Every job still to run becomes a
-- pending row unless hookd_delivered says its event reached the sink; every dead job a dead
-- row; each keeps its job id, which the dead letter's audit rows name. River keeps args and
-- errors as JSONB and its times as 'YYYY-MM-DD HH:MM:SS.SSS' in UTC.
INSERT INTO hookd_delivery (id, sink, event, group_key, severity, state, attempt, run_at, last_error, finished_at, requeued, inline)
SELECT j.id, json_extract(j.args, '$.sink'), json_extract(j.args, '$.event_id'), coalesce(e.group_key, ''),
       CASE c.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END,
       CASE WHEN j.state IN ('cancelled', 'discarded') THEN 'dead' ELSE 'pending' END,
       j.attempt,
       CASE WHEN j.state = 'running' THEN strftime('%Y-%m-%dT%H:%M:%f', 'now') ELSE strftime('%Y-%m-%dT%H:%M:%f', j.scheduled_at) END || '000000Z',
       coalesce(replace(json_extract(j.errors, '$[#-1].error'), 'JobCancelError: ', ''), ''),
       CASE WHEN j.state IN ('cancelled', 'discarded') THEN strftime('%Y-%m-%dT%H:%M:%f', coalesce(j.finalized_at, j.scheduled_at)) || '000000Z' END,
       coalesce(json_extract(j.args, '$.requeued'), 0),
       json_extract(j.args, '$.inline')
FROM river_job j
LEFT JOIN hookd_event e ON e.uuid = json_extract(j.args, '$.event_id')
LEFT JOIN hookd_change c ON c.uuid = json_extract(j.args, '$.event_id')
WHERE j.kind = 'hookd_delivery'
  AND j.state IN ('available', 'scheduled', 'pending', 'retryable', 'running', 'cancelled', 'discarded')
  AND NOT EXISTS (SELECT 1 FROM hookd_delivered d
                  WHERE d.sink = json_extract(j.args, '$.sink') AND d.uuid = json_extract(j.args, '$.event_id'));

-- New rows are numbered past every id River gave, so that no new delivery takes the id of a
-- job the dead letter's audit rows (retry_job_id) still name.
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'river_job'), 0))
WHERE name = 'hookd_delivery';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'hookd_delivery', seq FROM sqlite_sequence
WHERE name = 'river_job' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'hookd_delivery');

DROP TABLE IF EXISTS river_job;
DROP TABLE IF EXISTS river_leader;
DROP TABLE IF EXISTS river_migration;
DROP TABLE IF EXISTS river_notification;
DROP TABLE IF EXISTS river_queue;
DROP TABLE IF EXISTS river_client;
DROP TABLE IF EXISTS river_client_queue;
DELETE FROM sqlite_sequence WHERE name LIKE 'river\_%' ESCAPE '\';
