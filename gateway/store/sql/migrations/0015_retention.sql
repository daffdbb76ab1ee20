-- Retention (gateway/accountability/retention.py, PIPL art. 19 and 47): once a batch has been
-- finished for GATEWAY_RETENTION_DAYS, its subjects' sealed names and identifiers and its
-- results' sealed agency records are set to NULL, and the batch's re-query reason (free text
-- that may name people). What stays: the batch, its case number and stated reason (the lawful
-- basis), its counts, each result's status and asset count (the statistics), and
-- each subject's keyed digest, as the audit log holds it (the report counts distinct people
-- by it, the cross-team rule matches by it).
--
-- purged_at is set when the purge of a batch begins (from then its results are gone to every
-- reader); purge_pending stays true until every chunk is done, so a purge cut short by a
-- crash is finished by whichever replica leads next.
ALTER TABLE subjects ALTER COLUMN name DROP NOT NULL, ALTER COLUMN id_number DROP NOT NULL;
ALTER TABLE batches ADD COLUMN purged_at timestamptz,
    ADD COLUMN purge_pending boolean NOT NULL DEFAULT false;
-- The purge's search for what is due; finished batches not purged yet.
CREATE INDEX batches_unpurged ON batches (finished_at)
    WHERE purged_at IS NULL AND finished_at IS NOT NULL;
CREATE INDEX batches_purging ON batches (purged_at) WHERE purge_pending;
