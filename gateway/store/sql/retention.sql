-- Retention: purging the personal data of batches finished long ago (gateway/store/retention.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: retention_due
-- Finished before $1, not purged, and with nothing left to ask (a finished batch has nothing
-- queued or leased: checked all the same, as the purge would take what an answer needs):
-- oldest first, at most $2. With the number of subjects and of sealed agency records each
-- holds. A batch still awaiting a commander's approval is not finished and not purged.
SELECT b.id, b.finished_at,
       (SELECT count(*) FROM subjects s WHERE s.batch_id = b.id)::bigint AS subjects,
       (SELECT count(*) FROM results r
        WHERE r.batch_id = b.id AND r.data IS NOT NULL)::bigint AS records
FROM batches b
WHERE b.purged_at IS NULL AND b.finished_at IS NOT NULL AND b.finished_at < $1
  AND b.status IN ('done', 'cancelled', 'rejected')
  AND NOT EXISTS (SELECT 1 FROM inquiries i
                  WHERE i.batch_id = b.id AND i.state IN ('queued', 'leased'))
  -- the purpose continues: a hold on what it found is live, or its case is on its 终本
  -- re-query schedule (migration 0016)
  AND NOT EXISTS (SELECT 1 FROM controls c WHERE c.batch_id = b.id
                  AND c.status IN ('pending_approval', 'sending', 'in_effect', 'queued_behind'))
  AND NOT EXISTS (SELECT 1 FROM case_closures k
                  WHERE k.case_number = b.case_number AND k.next_due_on IS NOT NULL)
ORDER BY b.finished_at, b.id
LIMIT $2;

-- name: retention_unfinished
-- Purges begun and cut short, to finish first.
SELECT id FROM batches WHERE purge_pending ORDER BY purged_at, id;

-- name: retention_lock_batch
SELECT 1 FROM batches WHERE id = $1 FOR UPDATE;

-- name: retention_begin
-- Marks batch $1 purged at $2, if it is still due (finished before $3, nothing left to ask):
-- under the row's lock, so a concurrent re-run (which locks it too) either went first, and
-- the batch is running again, or finds it purged. The officer's reason for asking people
-- again goes with it, and a commander's note on it (free text that may name them, kept out of
-- the audit log for that).
UPDATE batches b SET purged_at = $2, purge_pending = true, requery_reason = NULL,
    decision_note = NULL
WHERE b.id = $1 AND b.purged_at IS NULL AND b.finished_at < $3
  AND b.status IN ('done', 'cancelled', 'rejected')
  AND NOT EXISTS (SELECT 1 FROM inquiries i
                  WHERE i.batch_id = b.id AND i.state IN ('queued', 'leased'))
  -- the purpose continues: a hold on what it found is live, or its case is on its 终本
  -- re-query schedule (migration 0016)
  AND NOT EXISTS (SELECT 1 FROM controls c WHERE c.batch_id = b.id
                  AND c.status IN ('pending_approval', 'sending', 'in_effect', 'queued_behind'))
  AND NOT EXISTS (SELECT 1 FROM case_closures k
                  WHERE k.case_number = b.case_number AND k.next_due_on IS NOT NULL)
RETURNING b.case_number, (SELECT t.name FROM teams t WHERE t.id = b.team_id) AS team;

-- name: retention_control_notes
-- The commanders' notes and override reasons on the holds asked on batch $1 (free text that
-- may name people), with the batch's own: none is live any more, or the batch would not be
-- due. Each hold's action, asset digest, reason, terms and receipt stay, as the case's record.
UPDATE controls SET decision_note = NULL, override_reason = NULL
WHERE batch_id = $1 AND (decision_note IS NOT NULL OR override_reason IS NOT NULL);

-- name: retention_subjects_chunk
-- The next $3 subjects of batch $1 after row $2: names and identifiers set to NULL. Returns
-- the last row of the chunk (NULL when none was left) and how many still held data.
WITH chunk AS (
    SELECT row FROM subjects WHERE batch_id = $1 AND row > $2 ORDER BY row LIMIT $3
),
purged AS (
    UPDATE subjects s SET name = NULL, id_number = NULL
    FROM chunk c
    WHERE s.batch_id = $1 AND s.row = c.row AND s.name IS NOT NULL
    RETURNING 1
)
SELECT (SELECT max(row) FROM chunk) AS last, (SELECT count(*) FROM purged)::bigint AS purged;

-- name: retention_results_chunk
-- As retention_subjects_chunk for the agency records of batch $1's results after inquiry $2.
WITH chunk AS (
    SELECT inquiry_id FROM results
    WHERE batch_id = $1 AND inquiry_id > $2 ORDER BY inquiry_id LIMIT $3
),
purged AS (
    UPDATE results r SET data = NULL
    FROM chunk c
    WHERE r.inquiry_id = c.inquiry_id AND r.data IS NOT NULL
    RETURNING 1
)
SELECT (SELECT max(inquiry_id) FROM chunk) AS last, (SELECT count(*) FROM purged)::bigint AS purged;

-- name: retention_end
UPDATE batches SET purge_pending = false WHERE id = $1;
