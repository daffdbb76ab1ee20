-- The dispatcher's queue: claims under a lease, results, leases, deadlines (gateway/store/inquiries.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: claim_inquiries
-- Fair share: every open batch that asked this agency gets an equal slice of the claim, so a
-- huge batch cannot starve a small one submitted after it. SKIP LOCKED lets replicas claim
-- side by side; the lease makes a dead claimant's work claimable again.
-- $1 agency, $2 how many, $3 lease owner, $4 lease seconds. Each row also carries the
-- share: a batch that filled it may have more due; one short of it had none left that no
-- other claim held at that moment (what another replica's claim locked and dropped is found
-- at the next poll).
WITH active AS (
    -- (a purged batch has nothing left to ask; during a rolling upgrade an old replica's
    -- re-run could requeue some: its names are gone, so it is never claimed)
    SELECT id, created_at FROM batches
    WHERE status IN ('queued', 'running') AND $1 = ANY (agencies) AND purged_at IS NULL
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
    RETURNING i.id, i.batch_id, i.row, i.attempts, i.answer_deadline
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
SELECT c.id, c.batch_id, c.row, c.attempts, c.answer_deadline, s.name, s.id_number, s.kind,
       b.case_number, b.household_items, o.name AS officer, t.name AS team,
       (SELECT per_batch FROM share) AS share
FROM claimed c
JOIN subjects s ON s.batch_id = c.batch_id AND s.row = c.row
JOIN batches b ON b.id = c.batch_id
JOIN officers o ON o.id = b.officer_id
JOIN teams t ON t.id = b.team_id
ORDER BY c.id;

-- name: record_results
-- Only rows still leased by this worker are recorded: a worker whose lease expired and was
-- taken over records nothing, so each inquiry gets exactly one result and one audit record.
-- $1 ids, $2 statuses, $3 data, $4 errors, $5 attempts, $6 lease owner, $7 assets found.
-- Returns how many were stored per batch, agency and status (not a row per result: the
-- writer needs only the counts, and a row each cost more to decode than the rest of it).
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::int[],
                         $7::int[])
        AS t (inquiry_id, status, data, error, attempts, assets)
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
    INSERT INTO results (inquiry_id, batch_id, row, agency, status, data, error, attempts,
                         assets)
    SELECT o.id, o.batch_id, o.row, o.agency, input.status, input.data, input.error,
           input.attempts, input.assets
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
SELECT batch_id, agency, status, count(*)::int AS stored FROM stored
GROUP BY batch_id, agency, status;

-- name: finish_batches
UPDATE batches b SET status = 'done', finished_at = now()
WHERE b.id = ANY ($1::uuid[]) AND b.status IN ('queued', 'running')
  AND b.unqueued_from IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM inquiries i
      WHERE i.batch_id = b.id AND i.state IN ('queued', 'leased')
  )
RETURNING b.id;

-- name: renew_leases
-- Only the leases this worker is still working on ($3): a lease whose work was lost (a claim
-- whose answer never arrived, a dropped group) must run out, so another worker takes it.
UPDATE inquiries SET lease_expires_at = now() + make_interval(secs => $2)
WHERE state = 'leased' AND lease_owner = $1 AND id = ANY ($3::bigint[]);

-- name: reclaim_expired_leases
UPDATE inquiries SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL
WHERE state = 'leased' AND lease_expires_at < now()
RETURNING agency;

-- name: release_leases
-- Hand back what this worker still leases (it is stopping): queued again at once. Returns
-- the agencies whose work went back.
WITH released AS (
    UPDATE inquiries SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL
    WHERE state = 'leased' AND lease_owner = $1
    RETURNING agency
)
SELECT DISTINCT agency FROM released;

-- name: requeue_deferred
-- Give back claimed work that was not answered (a transient failure, the agency's breaker is
-- open, the retry budget is spent, or it asked us to wait), keeping the attempts made so far
-- and the last error, due again after its delay. Only rows this worker still leases.
-- $1 ids, $2 attempts, $3 seconds to wait, $4 lease owner, $5 errors (null: none now)
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::integer[], $3::float8[], $5::text[])
        AS t (id, attempts, delay, error)
)
UPDATE inquiries i
SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,
    attempts = input.attempts, not_before = now() + make_interval(secs => input.delay),
    last_error = coalesce(input.error, i.last_error),
    last_attempt_at = CASE WHEN input.error IS NULL THEN i.last_attempt_at ELSE now() END
FROM input
WHERE i.id = input.id AND i.state = 'leased' AND i.lease_owner = $4
RETURNING i.id, i.agency;

-- name: lease_overdue
-- Lease queued inquiries of open batches whose answer deadline has passed ($3, the
-- dispatcher's clock): the caller records them failed, "no answer within the deadline".
-- $1 owner, $2 lease seconds, $3 now, $4 how many
WITH picked AS (
    SELECT i.id
    FROM inquiries i JOIN batches b ON b.id = i.batch_id
    WHERE i.state = 'queued' AND i.answer_deadline <= $3
      AND b.status IN ('queued', 'running')
    ORDER BY i.answer_deadline, i.id
    LIMIT $4
    FOR UPDATE OF i SKIP LOCKED
)
UPDATE inquiries i
SET state = 'leased', lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2)
FROM picked WHERE i.id = picked.id
RETURNING i.id, i.agency, i.attempts, i.last_error;

-- name: rerun_overdue
-- Ask again what failed because the agency gave no answer within its deadline: the failed
-- result goes (its audit record stays), the inquiry is queued afresh with a new deadline, the
-- batch reopens, and the re-run is audited under the officer who asked for it.
-- $1 batch, $2 officer id, $3 officer, $4 team, $5 agencies, $6 their deadlines (seconds),
-- $7 now. The batch's row is locked first, so a purge (gateway/store/retention.py) that
-- begins meanwhile either went first (the batch is purged: nothing is re-run) or waits.
WITH batch AS (
    SELECT id FROM batches
    WHERE id = $1 AND status IN ('running', 'done') AND purged_at IS NULL
    FOR UPDATE
),
dropped AS (
    DELETE FROM results r
    USING batch b
    WHERE r.batch_id = $1 AND b.id = r.batch_id
      AND r.status = 'failed' AND r.error LIKE '%: no answer within the deadline%'
    RETURNING r.inquiry_id
),
deadlines AS (
    SELECT * FROM unnest($5::text[], $6::float8[]) AS d (agency, seconds)
),
requeued AS (
    UPDATE inquiries i
    SET state = 'queued', attempts = 0, not_before = now(), rerun_at = now(),
        lease_owner = NULL, lease_expires_at = NULL, last_error = NULL,
        last_attempt_at = NULL,
        answer_deadline = $7::timestamptz + make_interval(secs => d.seconds)
    FROM dropped x, deadlines d
    WHERE i.id = x.inquiry_id AND d.agency = i.agency
    RETURNING i.id, i.batch_id, i.row, i.agency
),
reopened AS (
    UPDATE batches SET status = 'running', finished_at = NULL
    WHERE id = $1 AND status = 'done' AND EXISTS (SELECT 1 FROM requeued)
),
audited AS (
    INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, row,
                           subject_digest, agency, outcome)
    SELECT 'inquiry.rerun', $2, $3, $4, b.case_number, q.batch_id, q.row, s.subject_digest,
           q.agency, 'requeued'
    FROM requeued q
    JOIN subjects s ON s.batch_id = q.batch_id AND s.row = q.row
    JOIN batches b ON b.id = q.batch_id
)
SELECT agency, count(*)::integer AS requeued FROM requeued GROUP BY agency ORDER BY agency;

-- name: agency_waiting
-- Per agency: inquiries waiting after a failed attempt, and those waiting (submitted, or
-- approved, or re-run) longer than $1 seconds ago without an answer. $2 now
SELECT i.agency,
       count(*) FILTER (WHERE i.last_error IS NOT NULL)::integer AS waiting,
       count(*) FILTER (
           WHERE greatest(b.created_at, b.approved_at, i.rerun_at)
                 < $2::timestamptz - make_interval(secs => $1)
       )::integer AS late
FROM inquiries i JOIN batches b ON b.id = i.batch_id
WHERE i.state IN ('queued', 'leased') AND b.status IN ('queued', 'running')
GROUP BY i.agency;

-- name: agency_due_now
-- The agency is back (its breaker closed): what was put off for it is due at once.
UPDATE inquiries SET not_before = now()
WHERE agency = $1 AND state = 'queued' AND not_before > now();
