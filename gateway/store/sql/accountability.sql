-- Named queries of the accountability rules, alerts, cases and administration (issue 5).
-- Subjects appear only as their keyed digest; nothing here reads or writes personal data.

-- ---------------------------------------------------------------- admission rules

-- name: lock_team_submissions
-- One team's submissions take turns (until commit), so the quota and re-query checks cannot be
-- raced by two concurrent batches. The two-int form keeps clear of the migrations' lock.
SELECT pg_advisory_xact_lock(5301, $1::int);

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

-- name: set_requery_reason
UPDATE batches SET requery_reason = $2 WHERE id = $1;

-- name: cross_team_subjects
-- Subjects of batch $1 that at least $3 distinct teams asked for since $2 (this batch always
-- counts), and that this team ($4) had not asked for in the window before: each further team
-- to reach such a subject is news to the command centre, a team asking again is not.
WITH mine AS (SELECT DISTINCT subject_digest FROM subjects WHERE batch_id = $1)
SELECT m.subject_digest, count(DISTINCT b.team_id)::int AS teams
FROM mine m
JOIN subjects s ON s.subject_digest = m.subject_digest
JOIN batches b ON b.id = s.batch_id
WHERE (b.id = $1 OR b.created_at > $2) AND b.status <> 'rejected'
GROUP BY m.subject_digest
HAVING count(DISTINCT b.team_id) >= $3
   AND NOT EXISTS (
       SELECT 1 FROM subjects s2 JOIN batches b2 ON b2.id = s2.batch_id
       WHERE s2.subject_digest = m.subject_digest AND b2.team_id = $4 AND b2.id <> $1
         AND b2.created_at > $2 AND b2.status <> 'rejected'
   );

-- name: insert_alert
-- $1 at, $2 kind, $3 officer, $4 team, $5 batch, $6 subject digest, $7 detail
INSERT INTO alerts (at, kind, officer_id, team_id, batch_id, subject_digest, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id;

-- name: audit_action
-- Administration, interceptions and approvals. $1 action, $2 actor id, $3 actor, $4 team,
-- $5 case number, $6 batch, $7 outcome, $8 detail
INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, outcome, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- ---------------------------------------------------------------- approvals

-- name: approve_batch
UPDATE batches SET status = 'queued' WHERE id = $1 AND status = 'pending_approval'
RETURNING id;

-- name: reject_batch
UPDATE batches SET status = 'rejected', finished_at = now()
WHERE id = $1 AND status = 'pending_approval'
RETURNING id;

-- ---------------------------------------------------------------- alerts and statistics

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

-- name: stats_agency_batches
-- Batches and people (distinct subjects) per agency for batches created in [$1, $2).
SELECT a.agency, count(DISTINCT b.id)::int AS batches,
       count(DISTINCT s.subject_digest)::int AS people
FROM batches b
CROSS JOIN LATERAL unnest(b.agencies) AS a (agency)
JOIN subjects s ON s.batch_id = b.id
WHERE b.status <> 'rejected'
  AND ($1::timestamptz IS NULL OR b.created_at >= $1)
  AND ($2::timestamptz IS NULL OR b.created_at < $2)
GROUP BY a.agency;

-- name: stats_agency_inquiries
SELECT i.agency, count(*)::int AS inquiries,
       count(*) FILTER (WHERE r.status = 'found')::int AS found,
       count(*) FILTER (WHERE r.status = 'not_found')::int AS not_found,
       count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
       count(*) FILTER (WHERE i.state IN ('queued', 'leased'))::int AS waiting,
       count(*) FILTER (WHERE i.state = 'cancelled')::int AS cancelled
FROM inquiries i
JOIN batches b ON b.id = i.batch_id
LEFT JOIN results r ON r.inquiry_id = i.id
WHERE b.status <> 'rejected'
  AND ($1::timestamptz IS NULL OR b.created_at >= $1)
  AND ($2::timestamptz IS NULL OR b.created_at < $2)
GROUP BY i.agency;

-- name: stats_throughput
SELECT agency,
       count(*) FILTER (WHERE completed_at > now() - interval '1 minute')::int AS last_minute,
       count(*)::int AS last_hour
FROM results WHERE completed_at > now() - interval '1 hour'
GROUP BY agency;

-- name: stats_teams
SELECT t.name AS team, count(*)::int AS batches,
       coalesce(sum(b.subject_count), 0)::bigint AS subjects,
       count(DISTINCT b.officer_id)::int AS officers
FROM batches b JOIN teams t ON t.id = b.team_id
WHERE ($1::timestamptz IS NULL OR b.created_at >= $1)
  AND ($2::timestamptz IS NULL OR b.created_at < $2)
GROUP BY t.name
ORDER BY t.name;

-- name: stats_statuses
SELECT status, count(*)::int AS batches FROM batches
WHERE ($1::timestamptz IS NULL OR created_at >= $1)
  AND ($2::timestamptz IS NULL OR created_at < $2)
GROUP BY status;

-- name: stats_alerts
SELECT kind, count(*)::int AS alerts FROM alerts
WHERE ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
GROUP BY kind;

-- ---------------------------------------------------------------- cases

-- name: lock_cases
-- The cases about to be registered, locked, with the team each has now (new ones: absent).
SELECT c.case_number, c.team_id, t.name AS team
FROM cases c JOIN teams t ON t.id = c.team_id
WHERE c.case_number = ANY ($1::text[])
FOR UPDATE OF c;

-- name: upsert_cases
-- $1 case numbers, $2 team ids, $3 registered by.
INSERT INTO cases AS c (case_number, team_id, registered_by)
SELECT t.case_number, t.team_id, $3
FROM unnest($1::text[], $2::bigint[]) AS t (case_number, team_id)
ON CONFLICT (case_number) DO UPDATE
SET team_id = excluded.team_id, updated_at = now()
WHERE c.team_id <> excluded.team_id;

-- name: list_cases
SELECT c.case_number, t.name AS team, c.registered_by, c.registered_at, c.updated_at
FROM cases c JOIN teams t ON t.id = c.team_id
WHERE ($1::text IS NULL OR t.name = $1)
  AND ($2::text IS NULL OR c.case_number > $2)
ORDER BY c.case_number
LIMIT $3;

-- ---------------------------------------------------------------- teams, officers, tokens

-- name: teams_by_name
SELECT id, name FROM teams WHERE name = ANY ($1::text[]);

-- name: insert_team
INSERT INTO teams (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
RETURNING id, name, created_at;

-- name: list_teams
SELECT t.name, t.created_at,
       (SELECT count(*) FROM officers o WHERE o.team_id = t.id)::int AS officers,
       (SELECT count(*) FROM cases c WHERE c.team_id = t.id)::int AS cases
FROM teams t ORDER BY t.name;

-- name: insert_officer
INSERT INTO officers (name, role, team_id) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING
RETURNING id;

-- name: get_officer
SELECT o.id, o.name, o.role, o.team_id, t.name AS team, o.created_at,
       (SELECT count(*) FROM tokens k WHERE k.officer_id = o.id AND k.revoked_at IS NULL
          AND (k.expires_at IS NULL OR k.expires_at > now()))::int AS active_tokens
FROM officers o LEFT JOIN teams t ON t.id = o.team_id
WHERE o.name = $1;

-- name: list_officers
SELECT o.id, o.name, o.role, o.team_id, t.name AS team, o.created_at,
       (SELECT count(*) FROM tokens k WHERE k.officer_id = o.id AND k.revoked_at IS NULL
          AND (k.expires_at IS NULL OR k.expires_at > now()))::int AS active_tokens
FROM officers o LEFT JOIN teams t ON t.id = o.team_id
WHERE ($1::text IS NULL OR o.name > $1)
ORDER BY o.name
LIMIT $2;

-- name: list_tokens
-- Metadata only: the token itself is never stored, and its hash is never shown.
SELECT k.id, o.name AS officer, o.role, k.created_at, k.expires_at, k.revoked_at
FROM tokens k JOIN officers o ON o.id = k.officer_id
WHERE ($1::text IS NULL OR o.name = $1)
ORDER BY k.id;

-- name: token_by_id
SELECT k.id, k.officer_id, o.name AS officer, k.revoked_at
FROM tokens k JOIN officers o ON o.id = k.officer_id
WHERE k.id = $1;

-- name: token_by_hash
SELECT k.id, k.officer_id, o.name AS officer, k.revoked_at
FROM tokens k JOIN officers o ON o.id = k.officer_id
WHERE k.token_hash = $1;

-- name: revoke_tokens
-- $1 token ids: revokes those still live, returns the ids revoked now.
UPDATE tokens SET revoked_at = now()
WHERE id = ANY ($1::bigint[]) AND revoked_at IS NULL
RETURNING id;

-- name: revoke_officer_tokens
UPDATE tokens SET revoked_at = now()
WHERE officer_id = $1 AND revoked_at IS NULL
RETURNING id;
