-- A commander's note on approving or rejecting a held batch is free text that may name people:
-- it is kept on the batch, where retention clears it with the batch's other free text, and
-- the audit log records only that there was one and its length, as it does for a re-query
-- reason (a control's note, 0016, is not in its audit record at all).
ALTER TABLE batches ADD COLUMN decision_note text;

-- Retention clears the notes and override reasons of the holds on a purged batch from now on
-- (retention.sql, retention_control_notes); those of batches purged before are cleared here.
UPDATE controls c SET decision_note = NULL, override_reason = NULL
FROM batches b
WHERE b.id = c.batch_id AND b.purged_at IS NOT NULL
  AND (c.decision_note IS NOT NULL OR c.override_reason IS NOT NULL);
