-- Named queries for resilience: agency limits across replicas, deferred inquiries, the
-- "agency unavailable" deadline and re-runs, agency health.

-- name: agency_rate_slots
-- Reserve $2 send times from the agency's shared record: $3 requests in any $4 seconds, $5 the
-- tolerance. Answers seconds from now to each (0 when there is room in the window now).
SELECT agency_rate_reserve($1, $2, $3, $4, $5) AS slots;

-- name: agency_permits_sync
-- $1 agency, $2 owner, $3 limit, $4 keep, $5 wanted, $6 in use, $7 lease seconds
SELECT held, target, in_flight, starved
FROM agency_permits_sync($1, $2, $3, $4, $5, $6, $7);

-- name: agency_permits_release
DELETE FROM agency_permits WHERE owner = $1;

-- name: agency_in_flight
-- In flight per agency across all live replicas, as each last reported it.
SELECT agency, sum(in_use)::integer AS in_flight, count(*)::integer AS replicas
FROM agency_permits WHERE expires_at > clock_timestamp()
GROUP BY agency;

-- name: requeue_deferred
-- Give back claimed work that was not answered (the agency's breaker is open, the retry
-- budget is spent, or it asked us to wait), keeping the attempts made so far. Only rows this
-- worker still leases. $1 ids, $2 attempts, $3 seconds to wait, $4 lease owner
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::integer[], $3::float8[]) AS t (id, attempts, delay)
)
UPDATE inquiries i
SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,
    attempts = input.attempts, not_before = now() + make_interval(secs => input.delay)
FROM input
WHERE i.id = input.id AND i.state = 'leased' AND i.lease_owner = $4
RETURNING i.id, i.agency;

-- name: lease_unavailable
-- Lease queued inquiries of an agency that have waited past the deadline while the agency was
-- unavailable: waiting started when the batch was submitted (or the inquiry re-run) or when
-- the outage began, whichever is later. The caller records them failed ("agency unavailable").
-- $1 agency, $2 owner, $3 lease seconds, $4 seconds since the outage began, $5 deadline
-- seconds, $6 how many
WITH picked AS (
    SELECT i.id
    FROM inquiries i JOIN batches b ON b.id = i.batch_id
    WHERE i.agency = $1 AND i.state = 'queued' AND b.status IN ('queued', 'running')
      AND greatest(b.created_at, i.rerun_at, now() - make_interval(secs => $4::float8))
          < now() - make_interval(secs => $5::float8)
    ORDER BY i.id
    LIMIT $6
    FOR UPDATE OF i SKIP LOCKED
)
UPDATE inquiries i
SET state = 'leased', lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3)
FROM picked WHERE i.id = picked.id
RETURNING i.id, i.attempts;

-- name: rerun_unavailable
-- Ask again what failed only because the agency was unavailable: the failed result goes (its
-- audit record stays), the inquiry is queued afresh, the batch reopens, and the re-run is
-- audited under the officer who asked for it. $1 batch, $2 officer id, $3 officer, $4 team
WITH dropped AS (
    DELETE FROM results r
    USING batches b
    WHERE r.batch_id = $1 AND b.id = r.batch_id AND b.status IN ('running', 'done')
      AND r.status = 'failed' AND r.error LIKE '%: agency unavailable'
    RETURNING r.inquiry_id
),
requeued AS (
    UPDATE inquiries i
    SET state = 'queued', attempts = 0, not_before = now(), rerun_at = now(),
        lease_owner = NULL, lease_expires_at = NULL
    FROM dropped d WHERE i.id = d.inquiry_id
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

-- name: agency_due_now
-- The agency is back (its breaker closed): what was put off for it is due at once.
UPDATE inquiries SET not_before = now()
WHERE agency = $1 AND state = 'queued' AND not_before > now();

-- name: readiness_probe
-- GET /readyz: the database answers.
SELECT 1;
