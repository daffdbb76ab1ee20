-- A list too large to store its inquiries with it has its cross-team check after the 202,
-- with its first chunk of inquiries. Until then it is not counted by other lists' checks:
-- each pair of lists is counted once, by whichever is checked second (checks take turns
-- under one lock, held to commit, so each sees every list checked before it).
ALTER TABLE batches ADD COLUMN cross_team_pending boolean NOT NULL DEFAULT false;
