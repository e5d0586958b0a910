-- The delivery table replaces hookd's three tables beside River's jobs: what was delivered
-- (hookd_delivered) becomes delivered rows; the events of a grouped message (hookd_delivery_cover)
-- that were not delivered yet follow their message's row; jobs a large commit kept to queue
-- later (hookd_queue_later) become pending rows.
INSERT INTO hookd_delivery (sink, event, state, run_at, finished_at)
SELECT sink, uuid, 'delivered', delivered_at, delivered_at FROM hookd_delivered;

-- A message's events that are not delivered follow its row: pending with it, or dead under it
-- (the dead letter is the message, listed and retried under its row).
INSERT INTO hookd_delivery (sink, event, group_key, severity, state, run_at, carrier, finished_at, last_error, attempt)
SELECT v.sink, v.uuid, coalesce(e.group_key, ''), coalesce(c.severity, 0), coalesce(c.state, 'pending'), strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000000Z',
       CASE WHEN c.state = 'dead' THEN c.id END, CASE WHEN c.state = 'dead' THEN c.finished_at END,
       CASE WHEN c.state = 'dead' THEN c.last_error ELSE '' END, CASE WHEN c.state = 'dead' THEN c.attempt ELSE 0 END
FROM hookd_delivery_cover v
LEFT JOIN hookd_event e ON e.uuid = v.uuid
LEFT JOIN hookd_delivery c ON c.id = (SELECT max(id) FROM hookd_delivery x WHERE x.event = v.covered_by AND x.sink = v.sink AND x.state IN ('pending', 'dead'))
WHERE v.covered_by <> v.uuid
  AND NOT EXISTS (SELECT 1 FROM hookd_delivery d WHERE d.event = v.uuid AND d.sink = v.sink);

INSERT INTO hookd_delivery (sink, event, group_key, run_at, inline, requeued)
SELECT json_extract(j.value, '$.sink'), json_extract(j.value, '$.event_id'), coalesce(e.group_key, ''),
       strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000000Z', json_extract(j.value, '$.inline'),
       coalesce(json_extract(j.value, '$.requeued'), 0)
FROM hookd_queue_later q, json_each(q.jobs) j
LEFT JOIN hookd_event e ON e.uuid = json_extract(j.value, '$.event_id')
WHERE NOT EXISTS (SELECT 1 FROM hookd_delivery d
                  WHERE d.event = json_extract(j.value, '$.event_id') AND d.sink = json_extract(j.value, '$.sink'));

UPDATE hookd_delivery SET severity = coalesce((SELECT CASE c.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3
        WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END FROM hookd_change c WHERE c.uuid = hookd_delivery.event LIMIT 1), 0)
WHERE state = 'pending' AND severity = 0;

DROP TABLE hookd_delivered;
DROP TABLE hookd_delivery_cover;
DROP TABLE hookd_queue_later;
