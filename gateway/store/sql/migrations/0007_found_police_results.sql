-- The police's found results, each a detention assisted: the leader counts them for the
-- metrics every few seconds (gateway/store/sql/figures.sql), from this small index instead of
-- the whole results table.
CREATE INDEX results_found_police ON results (inquiry_id)
    WHERE agency = 'police' AND status = 'found';
