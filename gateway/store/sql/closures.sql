-- 终本 closures and their re-query schedule (gateway/store/closures.py).

-- name: closure_case
-- The case, its team and its closure (if any).
SELECT c.case_number, c.team_id, t.name AS team, c.amount_to_enforce,
       k.generation, k.closed_on, k.rounds_done, k.next_due_on, k.reopened_at
FROM cases c JOIN teams t ON t.id = c.team_id
LEFT JOIN case_closures k ON k.case_number = c.case_number
WHERE c.case_number = $1;

-- name: closure_upsert
-- $1 case, $2 closed on, $3 officer, $4 rounds already past, $5 next due, $6 now
INSERT INTO case_closures (case_number, closed_on, closed_by, rounds_done, next_due_on,
                           reopened_at, updated_at)
VALUES ($1, $2, $3, $4, $5, NULL, $6)
ON CONFLICT (case_number) DO UPDATE
SET generation = case_closures.generation + 1, closed_on = $2, closed_by = $3,
    rounds_done = $4, next_due_on = $5, reopened_at = NULL, updated_at = $6
WHERE case_closures.next_due_on IS NULL
RETURNING generation;

-- name: closure_reopen
UPDATE case_closures SET next_due_on = NULL, reopened_at = $2, updated_at = $2
WHERE case_number = $1 AND reopened_at IS NULL
RETURNING case_number;

-- name: closures_due
-- Closures whose next re-query is due on or before $1 (one transaction each: SKIP LOCKED).
SELECT k.case_number, k.generation, k.closed_on, k.rounds_done, k.next_due_on, c.team_id, t.name AS team
FROM case_closures k JOIN cases c ON c.case_number = k.case_number
JOIN teams t ON t.id = c.team_id
WHERE k.next_due_on IS NOT NULL AND k.next_due_on <= $1
ORDER BY k.next_due_on, k.case_number
LIMIT $2;

-- name: closure_claim_round
-- Holds case $1's closure row to commit if round $3 of closure $2 is due on $4 and not taken.
SELECT 1 FROM case_closures
WHERE case_number = $1 AND generation = $2 AND rounds_done = $3 - 1
  AND next_due_on IS NOT NULL AND next_due_on <= $4
FOR UPDATE SKIP LOCKED;

-- name: closure_advance
-- Round $2 of case $1's closure $6 was submitted as batch $3: the next is due on $4 (NULL:
-- the schedule is over). Only if no one advanced it first.
WITH advanced AS (
    UPDATE case_closures SET rounds_done = $2, next_due_on = $4, updated_at = $5
    WHERE case_number = $1 AND generation = $6 AND rounds_done = $2 - 1
      AND next_due_on IS NOT NULL
    RETURNING case_number)
INSERT INTO case_requeries (case_number, generation, round, batch_id, submitted_at)
SELECT $1, $6, $2, $3, $5 FROM advanced
RETURNING batch_id;

-- name: closure_lock_batches
-- Holds the rows of case $1's batches whose data is kept (FOR SHARE), to commit.
SELECT id FROM batches WHERE case_number = $1 AND purged_at IS NULL ORDER BY id
FOR KEY SHARE;

-- name: case_debtors
-- The case's debtors as last submitted (sealed), each once: from batches still holding them.
SELECT DISTINCT ON (s.subject_digest) s.batch_id, s.row, s.kind, s.name, s.id_number,
       s.subject_digest
FROM subjects s JOIN batches b ON b.id = s.batch_id
WHERE b.case_number = $1 AND b.purged_at IS NULL AND s.name IS NOT NULL
ORDER BY s.subject_digest, b.created_at DESC, s.row;

-- name: case_found_records
-- Found asset records of case $1 (of batch $2 only, unless NULL), with their subjects' digests.
SELECT r.inquiry_id, r.batch_id, r.agency, r.data, s.subject_digest
FROM results r
JOIN batches b ON b.id = r.batch_id
JOIN subjects s ON s.batch_id = r.batch_id AND s.row = r.row
WHERE b.case_number = $1 AND ($2::uuid IS NULL OR r.batch_id = $2)
  AND r.status = 'found' AND r.data IS NOT NULL AND r.agency = ANY($3::text[]);

-- name: assets_seen_add
-- Add what was not seen before on case $1; returns the new ones' agencies.
INSERT INTO case_assets_seen (case_number, subject_digest, agency, asset_digest, batch_id,
                              seen_at)
SELECT $1, d, a, x, $5, $6
FROM unnest($2::bytea[], $3::text[], $4::bytea[]) AS u(d, a, x)
ON CONFLICT DO NOTHING
RETURNING agency;

-- name: batches_to_compare
-- Scheduled re-query batches finished and not compared yet (one at a time: SKIP LOCKED).
SELECT q.batch_id AS id, q.case_number, q.round AS closure_round, b.officer_id, b.team_id,
       t.name AS team
FROM case_requeries q JOIN batches b ON b.id = q.batch_id JOIN teams t ON t.id = b.team_id
WHERE q.compared_at IS NULL AND b.status = 'done'
ORDER BY q.submitted_at
LIMIT $1
FOR UPDATE OF q SKIP LOCKED;

-- name: batch_compared
UPDATE case_requeries SET compared_at = $2 WHERE batch_id = $1;

-- name: system_officer
-- The team's system submitter (created once): who re-query batches are submitted as.
WITH made AS (
    INSERT INTO officers (name, role, team_id) VALUES ($1, 'officer', $2)
    ON CONFLICT (name) DO NOTHING
    RETURNING id)
SELECT id FROM made UNION ALL SELECT id FROM officers WHERE name = $1;

-- name: officer_id_by_name
SELECT id FROM officers WHERE name = $1;
