-- A large list's inquiries are queued after its 202, a chunk of subjects per transaction
-- (gateway/worker/upkeep.py): storing 600,000 inquiry rows took most of a 100,000-subject
-- submission. unqueued_from is the first subject row whose inquiries are not stored yet;
-- NULL once every subject's are (every batch before this migration). A batch is not done
-- while it is set.
ALTER TABLE batches ADD COLUMN unqueued_from integer CHECK (unqueued_from >= 0);
CREATE INDEX batches_unqueued ON batches (created_at) WHERE unqueued_from IS NOT NULL;
