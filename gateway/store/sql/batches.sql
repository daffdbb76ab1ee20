-- Batches, their subjects and inquiries (gateway/store/batches.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: lock_team_submissions
-- One team's submissions take turns (until commit), so the quota and re-query checks cannot be
-- raced by two concurrent batches. The two-int form keeps clear of the migrations' lock.
SELECT pg_advisory_xact_lock(5301, $1::int);

-- name: set_requery_reason
UPDATE batches SET requery_reason = $2 WHERE id = $1;

-- name: approve_batch
-- $1 batch, $2 the commander's note, $3 now
UPDATE batches SET status = 'queued', decision_note = $2, approved_at = $3
WHERE id = $1 AND status = 'pending_approval'
RETURNING id;

-- name: restart_deadlines
-- An approved batch's inquiries get their answer deadlines from the approval: $1 batch,
-- $2 now, $3 agencies, $4 their deadlines in seconds
UPDATE inquiries i SET answer_deadline = $2::timestamptz + make_interval(secs => d.seconds)
FROM unnest($3::text[], $4::float8[]) AS d (agency, seconds)
WHERE i.batch_id = $1 AND i.state = 'queued' AND i.agency = d.agency;

-- name: reject_batch
UPDATE batches SET status = 'rejected', finished_at = now(), decision_note = $2
WHERE id = $1 AND status = 'pending_approval'
RETURNING id;

-- ---------------------------------------------------------------- alerts and statistics

-- name: insert_batch
INSERT INTO batches (id, status, officer_id, team_id, case_number, reason, agencies,
                     subject_count, idempotency_key, request_digest, household_items,
                     merged_rows, unqueued_from, cross_team_pending)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13::integer IS NOT NULL)
ON CONFLICT (officer_id, idempotency_key) DO NOTHING
RETURNING created_at;

-- name: insert_subjects
-- A few subjects (more go by COPY): $1.. each column of SUBJECT_COLUMNS, as arrays.
INSERT INTO subjects (batch_id, row, kind, name, id_number, subject_digest)
SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::bytea[], $5::bytea[],
                     $6::bytea[]);

-- name: find_idempotent_batch
SELECT id, request_digest FROM batches WHERE officer_id = $1 AND idempotency_key = $2;

-- name: insert_inquiries
-- Subject-major order, so inquiry ids (and result pages) follow the officer's list.
-- $1 batch, $2 the subjects' rows, $3 agencies, $4 each agency's deadline in seconds,
-- $5 submitted at, $6 their state (queued; cancelled for a batch stopped before they were)
INSERT INTO inquiries (batch_id, row, agency, answer_deadline, state)
SELECT $1, s.row, a.agency, $5::timestamptz + make_interval(secs => a.deadline), $6
FROM unnest($2::integer[]) AS s (row)
CROSS JOIN unnest($3::text[], $4::float8[]) WITH ORDINALITY AS a (agency, deadline, position)
ORDER BY s.row, a.position;

-- name: lock_unqueued_batch
-- The oldest batch with subjects whose inquiries are not stored yet, locked until commit:
-- one replica queues a batch's chunk at a time, and a cancel waits for the chunk (so it
-- sees every inquiry stored before it, and later chunks see the cancel). first_chunk: no
-- subject comes before the chunk (the batch's checks left for its first chunk are due).
-- asked_from: when its inquiries' deadlines start (its approval, if it was held)
SELECT id, status, agencies, created_at, coalesce(approved_at, created_at) AS asked_from,
       unqueued_from, officer_id, team_id,
       NOT EXISTS (SELECT 1 FROM subjects s
                   WHERE s.batch_id = batches.id AND s.row < batches.unqueued_from)
           AS first_chunk
FROM batches
WHERE unqueued_from IS NOT NULL
ORDER BY created_at
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: subject_rows_from
-- $1 batch, $2 first row, $3 how many
SELECT row FROM subjects WHERE batch_id = $1 AND row >= $2 ORDER BY row LIMIT $3;

-- name: set_unqueued_from
UPDATE batches SET unqueued_from = $2 WHERE id = $1;

-- name: notify
SELECT pg_notify($1, $2);

-- name: batch_status
SELECT status FROM batches WHERE id = $1::uuid;

-- name: get_batch
SELECT b.id, b.case_number, b.reason, b.agencies, b.household_items, b.status,
       b.subject_count, b.merged_rows, b.created_at, b.started_at, b.finished_at, b.purged_at,
       o.name AS officer,
       t.name AS team, b.team_id
FROM batches b JOIN officers o ON o.id = b.officer_id JOIN teams t ON t.id = b.team_id
WHERE b.id = $1;

-- name: batch_progress
-- The total is one per subject, counting those whose inquiries are still to be stored.
SELECT i.agency,
       min(b.subject_count) AS total,
       count(r.inquiry_id) AS done,
       count(*) FILTER (WHERE r.status = 'found') AS found,
       count(*) FILTER (WHERE r.status = 'not_found') AS not_found,
       count(*) FILTER (WHERE r.status = 'failed') AS failed,
       count(*) FILTER (WHERE i.state IN ('queued', 'leased')
                        AND i.last_error IS NOT NULL) AS waiting,
       count(*) FILTER (WHERE i.state = 'cancelled') AS cancelled
FROM inquiries i JOIN batches b ON b.id = i.batch_id
LEFT JOIN results r ON r.inquiry_id = i.id
WHERE i.batch_id = $1
GROUP BY i.agency;

-- name: list_batches
-- Keyset pagination, newest first; $2/$3 are the cursor (created_at, id) or NULL.
SELECT b.id, b.case_number, b.reason, b.agencies, b.household_items, b.status,
       b.subject_count, b.merged_rows, b.created_at, b.started_at, b.finished_at, b.purged_at,
       o.name AS officer,
       t.name AS team, b.team_id
FROM batches b JOIN officers o ON o.id = b.officer_id JOIN teams t ON t.id = b.team_id
WHERE ($1::bigint IS NULL OR b.team_id = $1)
  AND ($2::timestamptz IS NULL OR (b.created_at, b.id) < ($2, $3::uuid))
ORDER BY b.created_at DESC, b.id DESC
LIMIT $4;

-- name: results_page
-- Recorded results, and inquiries still waiting after a failed attempt (status 'waiting',
-- with the last error and the time of the next attempt), in subject order.
SELECT i.id AS inquiry_id, i.row, i.agency, coalesce(r.status, 'waiting') AS status, r.data,
       CASE WHEN r.inquiry_id IS NULL THEN i.last_error ELSE r.error END AS error,
       coalesce(r.attempts, i.attempts) AS attempts,
       r.completed_at, CASE WHEN r.inquiry_id IS NULL THEN i.not_before END AS next_attempt_at,
       s.name, s.id_number, s.kind
FROM inquiries i
JOIN subjects s ON s.batch_id = i.batch_id AND s.row = i.row
LEFT JOIN results r ON r.inquiry_id = i.id
WHERE i.batch_id = $1 AND i.id > $2
  AND (r.inquiry_id IS NOT NULL
       OR (i.state IN ('queued', 'leased') AND i.last_error IS NOT NULL))
ORDER BY i.id
LIMIT $3;

-- name: cancel_batch
UPDATE batches SET status = 'cancelled', finished_at = now()
WHERE id = $1 AND status IN ('queued', 'running', 'pending_approval')
RETURNING id;

-- name: cancel_inquiries
UPDATE inquiries SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL
WHERE batch_id = $1 AND state IN ('queued', 'leased');
