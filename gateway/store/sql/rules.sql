-- Admission rules and risk alerts (gateway/store/rules.py). Subjects appear only as their
-- keyed digest; nothing here reads or writes personal data.
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: find_case
SELECT c.case_number, c.team_id, t.name AS team
FROM cases c JOIN teams t ON t.id = c.team_id
WHERE c.case_number = $1;

-- name: officer_day_subjects
SELECT coalesce(
    (SELECT subjects FROM officer_daily_volume WHERE officer_id = $1 AND day = $2), 0
)::int;

-- name: requeried_rows
-- 0-based rows of this batch ($1 digests in row order) the team ($2) asked for since $3.
-- Run with the batch's subjects stored and the batch not yet (gateway/accountability/
-- admission.py): joining batches keeps them out, as in case_subject_count.
SELECT (d.position - 1)::int AS row
FROM unnest($1::bytea[]) WITH ORDINALITY AS d (digest, position)
WHERE EXISTS (
    SELECT 1 FROM subjects s JOIN batches b ON b.id = s.batch_id
    WHERE s.subject_digest = d.digest AND b.team_id = $2 AND b.created_at > $3
      AND b.status <> 'rejected'
)
ORDER BY 1;

-- name: case_subject_count
-- Distinct subjects of a case ($1) over its earlier batches and this one ($2 digests).
SELECT count(*)::int FROM (
    SELECT s.subject_digest FROM batches b JOIN subjects s ON s.batch_id = b.id
    WHERE b.case_number = $1 AND b.status <> 'rejected'
    UNION
    SELECT unnest($2::bytea[])
) AS case_subjects;

-- name: add_daily_volume
-- $1 officer, $2 local day, $3 subjects; returns the day's total including these.
INSERT INTO officer_daily_volume (officer_id, day, batches, subjects) VALUES ($1, $2, 1, $3)
ON CONFLICT (officer_id, day) DO UPDATE
SET batches = officer_daily_volume.batches + 1,
    subjects = officer_daily_volume.subjects + excluded.subjects
RETURNING subjects;

-- name: volume_between
-- Subjects an officer ($1) submitted on local days [$2, $3).
SELECT coalesce(sum(subjects), 0)::bigint FROM officer_daily_volume
WHERE officer_id = $1 AND day >= $2 AND day < $3;

-- name: cross_team_turn
-- Cross-team checks take turns, each holding this lock until its transaction commits: a check
-- sees every list checked before it (committed), and any list checked after sees it.
SELECT pg_advisory_xact_lock(7301944212);

-- name: cross_team_subjects
-- Subjects of batch $1 that at least $3 distinct teams asked for since $2 (this batch always
-- counts), and that this team ($4) had not asked for in the window before: each further team
-- to reach such a subject is news to the command centre, a team asking again is not. A
-- list whose own check is still to come (cross_team_pending) is not counted: it counts this
-- one when its turn comes.
WITH mine AS (SELECT DISTINCT subject_digest FROM subjects WHERE batch_id = $1)
SELECT m.subject_digest, count(DISTINCT b.team_id)::int AS teams
FROM mine m
JOIN subjects s ON s.subject_digest = m.subject_digest
JOIN batches b ON b.id = s.batch_id
WHERE (b.id = $1 OR (b.created_at > $2 AND NOT b.cross_team_pending))
  AND b.status <> 'rejected'
GROUP BY m.subject_digest
HAVING count(DISTINCT b.team_id) >= $3
   AND NOT EXISTS (
       SELECT 1 FROM subjects s2 JOIN batches b2 ON b2.id = s2.batch_id
       WHERE s2.subject_digest = m.subject_digest AND b2.team_id = $4 AND b2.id <> $1
         AND b2.created_at > $2 AND NOT b2.cross_team_pending AND b2.status <> 'rejected'
   );

-- name: cross_team_checked
UPDATE batches SET cross_team_pending = false WHERE id = $1;

-- name: insert_alert
-- $1 at, $2 kind, $3 officer, $4 team, $5 batch, $6 subject digest, $7 detail
INSERT INTO alerts (at, kind, officer_id, team_id, batch_id, subject_digest, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: list_alerts
-- Newest first; $7/$8 the cursor (at, id) or NULL.
SELECT a.id, a.at, a.kind, o.name AS officer, t.name AS team, a.batch_id, a.subject_digest,
       a.detail
FROM alerts a JOIN officers o ON o.id = a.officer_id JOIN teams t ON t.id = a.team_id
WHERE ($1::text IS NULL OR a.kind = $1)
  AND ($2::text IS NULL OR t.name = $2)
  AND ($3::text IS NULL OR o.name = $3)
  AND ($4::uuid IS NULL OR a.batch_id = $4)
  AND ($5::timestamptz IS NULL OR a.at >= $5)
  AND ($6::timestamptz IS NULL OR a.at < $6)
  AND ($7::timestamptz IS NULL OR (a.at, a.id) < ($7, $8::bigint))
ORDER BY a.at DESC, a.id DESC
LIMIT $9;
