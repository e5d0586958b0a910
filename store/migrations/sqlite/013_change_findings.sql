-- The console's filter by finding: each indexed change's finding ids, as ",id,id," ('' for
-- none), filled for the changes stored before from their records.
ALTER TABLE hookd_change ADD COLUMN findings TEXT NOT NULL DEFAULT '';
UPDATE hookd_change SET findings = coalesce((SELECT ',' || group_concat(json_extract(f.value, '$.id'), ',') || ','
        FROM hookd_event e, json_each(e.record, '$.findings') f WHERE e.uuid = hookd_change.uuid), '')
    WHERE uuid IN (SELECT uuid FROM hookd_event WHERE record LIKE '%"findings":%');
