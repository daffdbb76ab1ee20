-- What the command centre's wall page shows (gateway/store/dashboard.py). No personal data.
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: completed_per_minute
-- Results recorded per agency and minute since $1 (minutes as epoch seconds).
SELECT agency, extract(epoch FROM date_trunc('minute', completed_at))::bigint AS minute,
       count(*)::int AS completed
FROM results
WHERE completed_at >= $1
GROUP BY agency, minute
ORDER BY minute;

-- name: open_batches
-- Batches not finished, in the statuses asked for ($2: of pending_approval, queued,
-- running), newest first.
SELECT b.id, b.case_number, b.status, b.subject_count, b.created_at, b.agencies,
       o.name AS officer, t.name AS team
FROM batches b JOIN officers o ON o.id = b.officer_id JOIN teams t ON t.id = b.team_id
WHERE b.status = ANY($2::text[])
ORDER BY b.created_at DESC
LIMIT $1;

-- name: batches_progress
-- Progress of several batches at once: (batch, agency, total, done, failed, waiting). The
-- total is one per subject, counting those whose inquiries are still to be stored.
SELECT i.batch_id, i.agency, min(b.subject_count)::int AS total,
       count(r.inquiry_id)::int AS done,
       count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
       count(*) FILTER (WHERE i.state IN ('queued', 'leased')
                        AND i.last_error IS NOT NULL)::int AS waiting
FROM inquiries i JOIN batches b ON b.id = i.batch_id
LEFT JOIN results r ON r.inquiry_id = i.id
WHERE i.batch_id = ANY ($1::uuid[])
GROUP BY i.batch_id, i.agency;

-- name: overdue_per_agency
-- Inquiries failed for want of an answer within the deadline, since $1.
SELECT agency, count(*)::int AS overdue
FROM results
WHERE status = 'failed' AND error LIKE '%: no answer within the deadline%' AND completed_at >= $1
GROUP BY agency;
