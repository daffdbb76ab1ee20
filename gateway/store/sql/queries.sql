-- Named queries. Each starts with "-- name: <name>" and runs until the next one.

-- name: find_token
SELECT o.id AS officer_id, o.name AS officer, o.role, t.id AS team_id, t.name AS team
FROM tokens k
JOIN officers o ON o.id = k.officer_id
LEFT JOIN teams t ON t.id = o.team_id
WHERE k.token_hash = $1
  AND k.revoked_at IS NULL
  AND (k.expires_at IS NULL OR k.expires_at > now());

-- name: upsert_team
INSERT INTO teams (name) VALUES ($1)
ON CONFLICT (name) DO UPDATE SET name = excluded.name
RETURNING id;

-- name: ensure_officer
-- An existing officer keeps their role and team: issuing a token never changes them
-- (the caller compares and refuses). $1 name, $2 role, $3 team id
WITH created AS (
    INSERT INTO officers (name, role, team_id) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO NOTHING
    RETURNING id, role, team_id
)
SELECT id, role, team_id FROM created
UNION ALL
SELECT id, role, team_id FROM officers WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM created);

-- name: insert_token
INSERT INTO tokens (token_hash, officer_id, expires_at) VALUES ($1, $2, $3)
RETURNING id;

-- name: insert_batch
INSERT INTO batches (id, status, officer_id, team_id, case_number, reason, agencies,
                     subject_count, idempotency_key, request_digest)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (officer_id, idempotency_key) DO NOTHING
RETURNING id;

-- name: find_idempotent_batch
SELECT id, request_digest FROM batches WHERE officer_id = $1 AND idempotency_key = $2;

-- name: insert_inquiries
-- Subject-major order, so inquiry ids (and result pages) follow the officer's list.
INSERT INTO inquiries (batch_id, row, agency)
SELECT $1, s.row, a.agency
FROM generate_series(0, $2 - 1) AS s (row)
CROSS JOIN unnest($3::text[]) WITH ORDINALITY AS a (agency, position)
ORDER BY s.row, a.position;

-- name: audit_batch_event
INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, outcome, detail)
SELECT $2, b.officer_id, o.name, t.name, b.case_number, b.id, $3, $4
FROM batches b JOIN officers o ON o.id = b.officer_id JOIN teams t ON t.id = b.team_id
WHERE b.id = $1;

-- name: notify
SELECT pg_notify($1, $2);

-- name: batch_status
SELECT status FROM batches WHERE id = $1::uuid;

-- name: get_batch
SELECT b.id, b.case_number, b.reason, b.agencies, b.status, b.subject_count,
       b.created_at, b.started_at, b.finished_at, o.name AS officer, t.name AS team,
       b.team_id
FROM batches b JOIN officers o ON o.id = b.officer_id JOIN teams t ON t.id = b.team_id
WHERE b.id = $1;

-- name: batch_progress
SELECT i.agency,
       count(*) AS total,
       count(r.inquiry_id) AS done,
       count(*) FILTER (WHERE r.status = 'found') AS found,
       count(*) FILTER (WHERE r.status = 'not_found') AS not_found,
       count(*) FILTER (WHERE r.status = 'failed') AS failed,
       count(*) FILTER (WHERE i.state = 'cancelled') AS cancelled
FROM inquiries i LEFT JOIN results r ON r.inquiry_id = i.id
WHERE i.batch_id = $1
GROUP BY i.agency;

-- name: list_batches
-- Keyset pagination, newest first; $2/$3 are the cursor (created_at, id) or NULL.
SELECT b.id, b.case_number, b.reason, b.agencies, b.status, b.subject_count,
       b.created_at, b.started_at, b.finished_at, o.name AS officer, t.name AS team,
       b.team_id
FROM batches b JOIN officers o ON o.id = b.officer_id JOIN teams t ON t.id = b.team_id
WHERE ($1::bigint IS NULL OR b.team_id = $1)
  AND ($2::timestamptz IS NULL OR (b.created_at, b.id) < ($2, $3::uuid))
ORDER BY b.created_at DESC, b.id DESC
LIMIT $4;

-- name: results_page
SELECT r.inquiry_id, r.row, r.agency, r.status, r.data, r.error, r.attempts, r.completed_at,
       s.name, s.id_number, s.kind
FROM results r JOIN subjects s ON s.batch_id = r.batch_id AND s.row = r.row
WHERE r.batch_id = $1 AND r.inquiry_id > $2
ORDER BY r.inquiry_id
LIMIT $3;

-- name: cancel_batch
UPDATE batches SET status = 'cancelled', finished_at = now()
WHERE id = $1 AND status IN ('queued', 'running', 'pending_approval')
RETURNING id;

-- name: cancel_inquiries
UPDATE inquiries SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL
WHERE batch_id = $1 AND state IN ('queued', 'leased');

-- name: claim_inquiries
-- Fair share: every open batch that asked this agency gets an equal slice of the claim, so a
-- huge batch cannot starve a small one submitted after it. SKIP LOCKED lets replicas claim
-- side by side; the lease makes a dead claimant's work claimable again.
-- $1 agency, $2 how many, $3 lease owner, $4 lease seconds
WITH active AS (
    SELECT id, created_at FROM batches
    WHERE status IN ('queued', 'running') AND $1 = ANY (agencies)
),
share AS (
    SELECT greatest(1, ceil($2::numeric / greatest(count(*), 1)))::int AS per_batch FROM active
),
picked AS (
    SELECT q.id
    FROM active a
    CROSS JOIN LATERAL (
        SELECT i.id FROM inquiries i
        WHERE i.batch_id = a.id AND i.agency = $1 AND i.state = 'queued'
          AND i.not_before <= now()
        ORDER BY i.id
        LIMIT (SELECT per_batch FROM share)
        FOR UPDATE SKIP LOCKED
    ) q
    ORDER BY a.created_at, q.id
    LIMIT $2
),
claimed AS (
    UPDATE inquiries i
    SET state = 'leased', lease_owner = $3,
        lease_expires_at = now() + make_interval(secs => $4)
    FROM picked WHERE i.id = picked.id
    RETURNING i.id, i.batch_id, i.row, i.attempts
),
started AS (
    UPDATE batches SET status = 'running', started_at = now()
    WHERE id IN (SELECT batch_id FROM claimed) AND status = 'queued'
),
audited AS (
    INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, row,
                           subject_digest, agency, outcome)
    SELECT 'inquiry.dispatched', b.officer_id, o.name, t.name, b.case_number, c.batch_id,
           c.row, s.subject_digest, $1, 'dispatched'
    FROM claimed c
    JOIN subjects s ON s.batch_id = c.batch_id AND s.row = c.row
    JOIN batches b ON b.id = c.batch_id
    JOIN officers o ON o.id = b.officer_id
    JOIN teams t ON t.id = b.team_id
)
SELECT c.id, c.batch_id, c.row, c.attempts, s.name, s.id_number, s.kind,
       b.case_number, o.name AS officer, t.name AS team
FROM claimed c
JOIN subjects s ON s.batch_id = c.batch_id AND s.row = c.row
JOIN batches b ON b.id = c.batch_id
JOIN officers o ON o.id = b.officer_id
JOIN teams t ON t.id = b.team_id
ORDER BY c.id;

-- name: record_results
-- Only rows still leased by this worker are recorded: a worker whose lease expired and was
-- taken over records nothing, so each inquiry gets exactly one result and one audit record.
-- $1 ids, $2 statuses, $3 data, $4 errors, $5 attempts, $6 lease owner
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::int[])
        AS t (inquiry_id, status, data, error, attempts)
),
owned AS (
    UPDATE inquiries i
    SET state = 'done', lease_owner = NULL, lease_expires_at = NULL,
        attempts = input.attempts
    FROM input
    WHERE i.id = input.inquiry_id AND i.state = 'leased' AND i.lease_owner = $6
    RETURNING i.id, i.batch_id, i.row, i.agency
),
stored AS (
    INSERT INTO results (inquiry_id, batch_id, row, agency, status, data, error, attempts)
    SELECT o.id, o.batch_id, o.row, o.agency, input.status, input.data, input.error,
           input.attempts
    FROM owned o JOIN input ON input.inquiry_id = o.id
    RETURNING inquiry_id, batch_id, row, agency, status, error
),
audited AS (
    INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, row,
                           subject_digest, agency, outcome, detail)
    SELECT 'inquiry.result', b.officer_id, o.name, t.name, b.case_number, s.batch_id, s.row,
           sub.subject_digest, s.agency, s.status,
           CASE WHEN s.error IS NULL THEN NULL ELSE jsonb_build_object('error', s.error) END
    FROM stored s
    JOIN subjects sub ON sub.batch_id = s.batch_id AND sub.row = s.row
    JOIN batches b ON b.id = s.batch_id
    JOIN officers o ON o.id = b.officer_id
    JOIN teams t ON t.id = b.team_id
)
SELECT inquiry_id, batch_id, agency, status FROM stored;

-- name: finish_batches
UPDATE batches b SET status = 'done', finished_at = now()
WHERE b.id = ANY ($1::uuid[]) AND b.status IN ('queued', 'running')
  AND NOT EXISTS (
      SELECT 1 FROM inquiries i
      WHERE i.batch_id = b.id AND i.state IN ('queued', 'leased')
  )
RETURNING b.id;

-- name: renew_leases
UPDATE inquiries SET lease_expires_at = now() + make_interval(secs => $2)
WHERE state = 'leased' AND lease_owner = $1;

-- name: reclaim_expired_leases
UPDATE inquiries SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL
WHERE state = 'leased' AND lease_expires_at < now()
RETURNING agency;

-- name: release_leases
-- Hand back what this worker still leases (it is stopping): queued again at once.
UPDATE inquiries SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL
WHERE state = 'leased' AND lease_owner = $1;

-- name: queue_depth
SELECT agency, count(*) FILTER (WHERE state = 'queued') AS queued,
       count(*) FILTER (WHERE state = 'leased') AS leased
FROM inquiries WHERE state IN ('queued', 'leased')
GROUP BY agency;
