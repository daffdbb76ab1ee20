-- Rows of a submitted list that repeated an earlier row (the same identifier and name) and were
-- asked once: the officer's report says how many were merged.
ALTER TABLE batches ADD COLUMN merged_rows integer NOT NULL DEFAULT 0 CHECK (merged_rows >= 0);
