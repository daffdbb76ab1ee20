-- The command centre's statistics (gateway/store/stats.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: stats_report
-- The court's report, per team and agency and per agency over every team (team NULL), for the
-- batches created in [$1, $2) that went to the agencies (not rejected, not still awaiting a
-- commander's approval, not cancelled before any was asked): batches; people (distinct
-- subjects), and for
-- household the people asked for the identity and for the photo; answers found, assets found
-- in them (results.assets, counted when recorded: the records stay sealed) and answers
-- overdue (failed: no answer within the agency's deadline).
WITH chosen AS (
    SELECT b.id, b.team_id, b.agencies, b.household_items
    FROM batches b
    WHERE b.status NOT IN ('rejected', 'pending_approval')
      AND NOT (b.status = 'cancelled' AND b.started_at IS NULL)
      AND ($1::timestamptz IS NULL OR b.created_at >= $1)
      AND ($2::timestamptz IS NULL OR b.created_at < $2)
),
asked AS (
    SELECT c.team_id, a.agency, count(DISTINCT c.id)::int AS batches,
           count(DISTINCT s.subject_digest)::int AS people,
           count(DISTINCT s.subject_digest) FILTER (
               WHERE a.agency = 'household' AND 'identity' = ANY (c.household_items)
           )::int AS identity_people,
           count(DISTINCT s.subject_digest) FILTER (
               WHERE a.agency = 'household' AND 'photo' = ANY (c.household_items)
           )::int AS photo_people
    FROM chosen c
    CROSS JOIN LATERAL unnest(c.agencies) AS a (agency)
    JOIN subjects s ON s.batch_id = c.id
    GROUP BY GROUPING SETS ((c.team_id, a.agency), (a.agency))
),
answered AS (
    SELECT c.team_id, r.agency,
           count(*) FILTER (WHERE r.status = 'found')::int AS found,
           coalesce(sum(r.assets), 0)::int AS assets,
           count(*) FILTER (
               WHERE r.status = 'failed' AND r.error LIKE '%: no answer within the deadline%'
           )::int AS overdue
    FROM chosen c JOIN results r ON r.batch_id = c.id
    GROUP BY GROUPING SETS ((c.team_id, r.agency), (r.agency))
)
SELECT t.name AS team, q.agency, q.batches, q.people, q.identity_people, q.photo_people,
       coalesce(a.found, 0) AS found, coalesce(a.assets, 0) AS assets,
       coalesce(a.overdue, 0) AS overdue
FROM asked q
LEFT JOIN answered a ON a.agency = q.agency AND a.team_id IS NOT DISTINCT FROM q.team_id
LEFT JOIN teams t ON t.id = q.team_id
ORDER BY t.name NULLS LAST, q.agency;

-- name: stats_agency_inquiries
-- $1/$2 the window, $3 seconds after which an unanswered inquiry is late, $4 now (found and
-- overdue are in stats_report)
SELECT i.agency, count(*)::int AS inquiries,
       count(*) FILTER (WHERE r.status = 'not_found')::int AS not_found,
       count(*) FILTER (WHERE r.status = 'failed')::int AS failed,
       -- waiting and late as the wall and the metrics count them: of batches under way
       count(*) FILTER (
           WHERE i.state IN ('queued', 'leased') AND b.status IN ('queued', 'running')
       )::int AS waiting,
       count(*) FILTER (
           WHERE i.state IN ('queued', 'leased') AND b.status IN ('queued', 'running')
             AND greatest(b.created_at, b.approved_at, i.rerun_at)
                 < $4::timestamptz - make_interval(secs => $3)
       )::int AS late,
       count(*) FILTER (WHERE i.state = 'cancelled')::int AS cancelled
FROM inquiries i
JOIN batches b ON b.id = i.batch_id
LEFT JOIN results r ON r.inquiry_id = i.id
-- the batches the report counts (stats_report): those that went to the agencies
WHERE b.status NOT IN ('rejected', 'pending_approval')
  AND NOT (b.status = 'cancelled' AND b.started_at IS NULL)
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
