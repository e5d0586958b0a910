-- The console's filter by finding: each indexed change's finding ids, as ",id,id," ('' for
-- none), filled for the changes stored before from their records (JSON text; jsonb refuses
-- only the \u0000 escape of what they hold).
ALTER TABLE hookd_change ADD COLUMN findings TEXT NOT NULL DEFAULT '';
UPDATE hookd_change c SET findings = ',' || f.ids || ','
    FROM (SELECT e.uuid, string_agg(x->>'id', ',') AS ids
          FROM hookd_event e, jsonb_array_elements((replace(e.record, '\u0000', '\ufffd')::jsonb)->'findings') x
          WHERE e.record LIKE '%"findings":%' GROUP BY e.uuid) f
    WHERE c.uuid = f.uuid;
