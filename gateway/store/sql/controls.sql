-- Control actions (gateway/store/controls.py): holds, their approval, the outbox of sends to
-- agencies, expiry and reminders. Each query starts with "-- name: <name>".

-- name: control_source
-- The result a control is asked on ($1 batch, $2 row, $3 agency), with its batch, case and
-- subject (sealed).
SELECT r.inquiry_id, r.status, r.data, b.team_id, b.case_number, b.purged_at, b.officer_id,
       s.kind, s.name, s.id_number, s.subject_digest,
       c.case_number IS NOT NULL AS filed, c.team_id AS case_team_id, c.amount_to_enforce
FROM results r
JOIN batches b ON b.id = r.batch_id
JOIN subjects s ON s.batch_id = r.batch_id AND s.row = r.row
LEFT JOIN cases c ON c.case_number = b.case_number
WHERE r.batch_id = $1 AND r.row = $2 AND r.agency = $3;

-- name: control_lock_batch_kept
-- Holds batch $1's row to commit (FOR KEY SHARE: the purge's FOR UPDATE waits for it, the
-- result writer's updates of the row do not); its purged_at (NULL while its data is kept).
SELECT purged_at FROM batches WHERE id = $1 FOR KEY SHARE;

-- name: control_lock_case
-- Controls on one case take turns (the frozen total is checked against what is committed).
SELECT pg_advisory_xact_lock(hashtextextended('controls:' || $1::text, 0));

-- name: control_frozen_total
-- Frozen or asked to be frozen on case $1, by holds still live.
SELECT coalesce(sum(amount), 0)::numeric AS total FROM controls
WHERE case_number = $1 AND action = 'freeze'
  AND status IN ('pending_approval', 'sending', 'in_effect', 'queued_behind');

-- name: control_live_on_asset
SELECT id FROM controls
WHERE case_number = $1 AND agency = $2 AND asset_digest = $3
  AND status IN ('pending_approval', 'sending', 'in_effect', 'queued_behind');

-- name: control_insert
INSERT INTO controls (case_number, team_id, batch_id, inquiry_id, row, agency, action,
                      asset_digest, amount, reason, term_days, requested_by, requested_at,
                      over_limit, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13)
RETURNING id;

-- name: control_get
-- One control with the names around it; $2 the caller's team (NULL: any).
SELECT c.*, t.name AS team, o.name AS requested_by_name, d.name AS decided_by_name,
       (SELECT s.operation FROM control_sends s
        WHERE s.control_id = c.id AND s.state = 'pending' AND s.operation <> 'status')
           AS sending
FROM controls c
JOIN teams t ON t.id = c.team_id
JOIN officers o ON o.id = c.requested_by
LEFT JOIN officers d ON d.id = c.decided_by
WHERE c.id = $1 AND ($2::bigint IS NULL OR c.team_id = $2);

-- name: control_lock
SELECT c.*, t.name AS team FROM controls c JOIN teams t ON t.id = c.team_id
WHERE c.id = $1 FOR UPDATE OF c;

-- name: control_decide
-- $2 status, $3 decider, $4 at, $5 note, $6 override reason
UPDATE controls SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5,
       override_reason = $6, updated_at = $4
WHERE id = $1;

-- name: control_send_insert
-- $1 control, $2 operation, $3 key, $4 term days, $5 order date, $6 officer, $7 now
INSERT INTO control_sends (control_id, operation, idempotency_key, term_days, order_date,
                           officer_id, not_before, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
ON CONFLICT (control_id) WHERE state = 'pending' AND operation <> 'status' DO NOTHING
RETURNING id;

-- name: control_lines_to_check
-- A question for each hold waiting in line not asked about on $1 (once a day): has the court
-- before it released? $2 now.
INSERT INTO control_sends (control_id, operation, idempotency_key, order_date, officer_id,
                           not_before, created_at)
SELECT c.id, 'status', gen_random_uuid(), $1, c.requested_by, $2, $2
FROM controls c
WHERE c.status = 'queued_behind'
  AND NOT EXISTS (SELECT 1 FROM control_sends s WHERE s.control_id = c.id
                  AND s.operation = 'status' AND (s.state = 'pending' OR s.order_date >= $1))
ON CONFLICT DO NOTHING
RETURNING control_id;

-- name: control_line_moved
-- A hold waiting in line, as the agency now says it stands (only while it is still waiting:
-- a release recorded meanwhile stands). $2 status, $3 position, $4 effective, $5 expires, $6 now
UPDATE controls SET status = $2, position = $3, effective_on = $4, expires_on = $5,
       updated_at = $6, released_at = CASE WHEN $2 = 'released' THEN $6::timestamptz END
WHERE id = $1 AND status = 'queued_behind'
  AND (status, position) IS DISTINCT FROM ($2, $3)
RETURNING *, (SELECT name FROM teams WHERE id = team_id) AS team;

-- name: control_sends_claim
-- Up to $4 sends due at $2, leased to $1 until $3 (a lease lapsed by a dead replica is taken
-- over: the same idempotency key goes out again).
UPDATE control_sends s SET lease_owner = $1, lease_expires_at = $3, attempts = attempts + 1
WHERE s.id IN (
    SELECT id FROM control_sends
    WHERE state = 'pending' AND not_before <= $2
      AND (lease_expires_at IS NULL OR lease_expires_at <= $2)
    ORDER BY not_before, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED)
RETURNING s.id, s.control_id, s.operation, s.idempotency_key, s.term_days, s.order_date,
          s.attempts, s.officer_id;

-- name: control_send_context
-- What a send needs: the control, its asset's record and subject (sealed), the officer.
SELECT c.id, c.case_number, c.batch_id, c.inquiry_id, c.row, c.agency, c.action,
       c.asset_digest, c.amount, c.term_days, c.receipt_no, c.status,
       r.data, s.kind, s.name, s.id_number, o.name AS officer, t.name AS team
FROM controls c
JOIN results r ON r.inquiry_id = c.inquiry_id
JOIN subjects s ON s.batch_id = c.batch_id AND s.row = c.row
JOIN officers o ON o.id = $2
JOIN teams t ON t.id = c.team_id
WHERE c.id = $1;

-- name: control_send_retry
-- The send failed for now: try again at $3 (only while this replica holds the lease).
UPDATE control_sends SET not_before = $3, lease_owner = NULL, lease_expires_at = NULL,
       last_error = $4
WHERE id = $1 AND lease_owner = $2 AND state = 'pending'
RETURNING id;

-- name: control_send_done
-- The agency answered: the send is finished (only while this replica holds the lease, so
-- an answer is recorded once).
UPDATE control_sends SET state = 'done', finished_at = $3, lease_owner = NULL,
       lease_expires_at = NULL, last_error = NULL
WHERE id = $1 AND lease_owner = $2 AND state = 'pending'
RETURNING id;

-- name: control_answered
-- $2 status, $3 receipt, $4 position, $5 effective, $6 expires, $7 refusal, $8 now,
-- $9 renewals added, $10 released at
UPDATE controls SET status = $2, receipt_no = coalesce($3, receipt_no), position = $4,
       effective_on = coalesce($5, effective_on), expires_on = coalesce($6, expires_on),
       refusal = $7, updated_at = $8, renewals = renewals + $9,
       released_at = coalesce($10, released_at)
WHERE id = $1 AND status IN ('sending', 'in_effect', 'queued_behind')
RETURNING *, (SELECT name FROM teams WHERE id = team_id) AS team;

-- name: controls_list
-- $1 team (NULL: all), $2 case, $3 status, $4 expiring on or before, $5 cursor id, $6 limit
SELECT c.*, t.name AS team, o.name AS requested_by_name, d.name AS decided_by_name,
       (SELECT s.operation FROM control_sends s
        WHERE s.control_id = c.id AND s.state = 'pending' AND s.operation <> 'status')
           AS sending
FROM controls c
JOIN teams t ON t.id = c.team_id
JOIN officers o ON o.id = c.requested_by
LEFT JOIN officers d ON d.id = c.decided_by
WHERE ($1::bigint IS NULL OR c.team_id = $1)
  AND ($2::text IS NULL OR c.case_number = $2)
  AND ($3::text IS NULL OR c.status = $3)
  AND ($4::date IS NULL OR (c.status = 'in_effect' AND c.expires_on <= $4))
  AND ($5::bigint IS NULL OR c.id < $5)
ORDER BY c.id DESC
LIMIT $6;

-- name: control_assets
-- The sealed records of results $1 (to show each control's asset identifier).
SELECT inquiry_id, data FROM results WHERE inquiry_id = ANY($1::bigint[]);

-- name: controls_to_expire
-- Holds in effect whose last day is before $1, locked (expiry judges them in the next
-- statement, which sees a renewal or release committed while this one waited).
SELECT id FROM controls WHERE status = 'in_effect' AND expires_on < $1 ORDER BY id FOR UPDATE;

-- name: controls_expire
-- Holds whose last day is before $1: expired (the agency lets them lapse the same way).
UPDATE controls c SET status = 'expired', updated_at = $2
WHERE c.status = 'in_effect' AND c.expires_on < $1
  -- a renewal or release asked in time and still on its way decides (the agency dates it
  -- by the day it was asked)
  AND NOT EXISTS (SELECT 1 FROM control_sends s WHERE s.control_id = c.id
                  AND s.state = 'pending' AND s.operation <> 'status')
RETURNING id, case_number, team_id, batch_id, action, agency, expires_on, requested_by,
          (SELECT name FROM teams WHERE id = team_id) AS team;

-- name: controls_to_remind
-- Holds in effect whose last day is between $1 and $2 and not reminded of for that date.
UPDATE controls SET reminded_for = expires_on
WHERE id IN (SELECT id FROM controls
             WHERE status = 'in_effect' AND expires_on BETWEEN $1 AND $2
               AND reminded_for IS DISTINCT FROM expires_on
             FOR UPDATE SKIP LOCKED)
RETURNING id, case_number, team_id, batch_id, action, agency, expires_on, requested_by,
          (SELECT name FROM teams t WHERE t.id = team_id) AS team;

-- name: controls_in_effect_by_action
SELECT action, count(*)::bigint AS holds FROM controls WHERE status = 'in_effect'
GROUP BY action;

-- name: controls_cluster_figures
-- Holds in effect whose last day is on or before $2, and the age at $1 (seconds) of the
-- oldest order (hold, renewal, release) still on its way to an agency (0: none).
SELECT (SELECT count(*) FROM controls
        WHERE status = 'in_effect' AND expires_on <= $2)::bigint AS expiring,
       coalesce((SELECT extract(epoch FROM $1 - min(created_at)) FROM control_sends
                 WHERE state = 'pending' AND operation <> 'status'), 0)::float8
           AS oldest_order_seconds;

-- name: case_event_insert
INSERT INTO case_events (case_number, at, kind, batch_id, control_id, detail)
VALUES ($1, $2, $3, $4, $5, $6);

-- name: case_events_list
SELECT id, at, kind, batch_id, control_id, detail FROM case_events
WHERE case_number = $1 ORDER BY at, id;

-- name: control_refusal_noted
-- The agency refused a renewal or release: the hold stands as it is; its words are kept.
UPDATE controls SET refusal = $2, updated_at = $3 WHERE id = $1
RETURNING *, (SELECT name FROM teams WHERE id = team_id) AS team;

-- name: controls_follow_cases
-- Cases $1 were (re)registered: their controls belong to the team now handling each (a
-- transferred case's holds are renewed, released and reminded of by its new team).
UPDATE controls c SET team_id = k.team_id
FROM cases k
WHERE k.case_number = c.case_number AND c.case_number = ANY($1::text[])
  AND c.team_id <> k.team_id;

-- name: control_batch_assets
-- Found asset records of batch $1 (agencies $2), with the subjects' sealed names, row order,
-- at most $3.
SELECT r.inquiry_id, r.row, r.agency, r.data, s.name
FROM results r JOIN subjects s ON s.batch_id = r.batch_id AND s.row = r.row
WHERE r.batch_id = $1 AND r.status = 'found' AND r.data IS NOT NULL
  AND r.agency = ANY($2::text[])
ORDER BY r.row, r.agency
LIMIT $3;

-- name: control_batch_controls
-- The controls asked on batch $1's results, newest last.
SELECT id, row, agency, asset_digest, action, status, expires_on FROM controls
WHERE batch_id = $1 ORDER BY id;

-- name: controls_pending_list
-- Controls awaiting a commander, oldest first (no personal data: case, team, agency, kind).
SELECT c.id, c.case_number, c.agency, c.action, c.amount, c.term_days, c.over_limit,
       c.requested_at, t.name AS team, o.name AS officer
FROM controls c JOIN teams t ON t.id = c.team_id JOIN officers o ON o.id = c.requested_by
WHERE c.status = 'pending_approval'
ORDER BY c.requested_at, c.id
LIMIT $1;

-- name: controls_expiring_list
-- Holds in effect whose last day is on or before $1, soonest first.
SELECT c.id, c.case_number, c.agency, c.action, c.expires_on, c.receipt_no, t.name AS team
FROM controls c JOIN teams t ON t.id = c.team_id
WHERE c.status = 'in_effect' AND c.expires_on <= $1
ORDER BY c.expires_on, c.id
LIMIT $2;

-- name: control_steps_between
-- Renewals and releases recorded in [$1, $2) (NULL: unbounded), by step.
SELECT kind, count(*)::bigint AS steps FROM case_events
WHERE kind IN ('control.renewed', 'control.released', 'control.in_effect')
  AND ($1::timestamptz IS NULL OR at >= $1) AND ($2::timestamptz IS NULL OR at < $2)
GROUP BY kind;
