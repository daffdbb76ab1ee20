-- The audit log (gateway/store/audit.py; the chain itself is kept by triggers, migration 0002).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: audit_action
-- Administration, interceptions and approvals. $1 action, $2 actor id, $3 actor, $4 team,
-- $5 case number, $6 batch, $7 outcome, $8 detail
INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, outcome, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- ---------------------------------------------------------------- approvals

-- name: audit_chain_head
SELECT seq, hash, at FROM audit_chain_head;

-- name: audit_chain_walk
-- Every field the hash covers, as the canonical encoding needs it (see gateway/audit.py):
-- batch_id and detail as PostgreSQL renders them, so Python need not re-render jsonb.
SELECT id, seq, prev_hash, hash, at, action, officer_id, officer, team, case_number,
       batch_id::text AS batch_id, row, subject_digest, agency, outcome,
       detail::text AS detail
FROM audit_log
ORDER BY seq;

-- name: audit_chain_installed
SELECT to_regclass('audit_chain_head') IS NOT NULL;

-- name: audit_page_custom_plans
-- Before audit_page, in its transaction: a generic plan would keep every "$n IS NULL OR ..."
-- and miss the indexes.
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: audit_page
-- Keyset pagination in chain order; every filter is optional (NULL). Run with custom plans
-- (gateway/audit.py) so the NULL filters fold away and the matching index is used.
-- $1 officer, $2 team, $3 case number, $4 subject digest, $5 batch, $6 from, $7 to (excl.),
-- $8 after seq, $9 limit
SELECT id, seq, at, action, officer, team, case_number, batch_id, row, agency, outcome,
       detail, hash, prev_hash
FROM audit_log
WHERE ($1::text IS NULL OR officer = $1)
  AND ($2::text IS NULL OR team = $2)
  AND ($3::text IS NULL OR case_number = $3)
  AND ($4::bytea IS NULL OR subject_digest = $4)
  AND ($5::uuid IS NULL OR batch_id = $5)
  AND ($6::timestamptz IS NULL OR at >= $6)
  AND ($7::timestamptz IS NULL OR at < $7)
  AND seq > $8
ORDER BY seq
LIMIT $9;

-- name: audit_batch_event
INSERT INTO audit_log (action, officer_id, officer, team, case_number, batch_id, outcome, detail)
SELECT $2, b.officer_id, o.name, t.name, b.case_number, b.id, $3, $4
FROM batches b JOIN officers o ON o.id = b.officer_id JOIN teams t ON t.id = b.team_id
WHERE b.id = $1;
