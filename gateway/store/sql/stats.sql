-- The command centre's statistics (gateway/store/stats.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

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
-- $1/$2 the window, $3 seconds after which an unanswered inquiry is late, $4 now
SELECT i.agency, count(*)::int AS inquiries,
       count(*) FILTER (WHERE r.status = 'found')::int AS found,
       count(*) FILTER (WHERE r.status = 'not_found')::int AS not_found,
       count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
       count(*) FILTER (WHERE i.state IN ('queued', 'leased'))::int AS waiting,
       count(*) FILTER (
           WHERE i.state IN ('queued', 'leased')
             AND greatest(b.created_at, i.rerun_at) < $4::timestamptz - make_interval(secs => $3)
       )::int AS late,
       count(*) FILTER (
           WHERE r.status = 'failed' AND r.error LIKE '%: no answer within the deadline%'
       )::int AS overdue,
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
