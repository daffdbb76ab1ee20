-- Teams, officers, tokens (only their SHA-256) and filed cases (gateway/store/admin.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: lock_cases
-- The cases about to be registered, locked, with the team each has now (new ones: absent).
SELECT c.case_number, c.team_id, t.name AS team
FROM cases c JOIN teams t ON t.id = c.team_id
WHERE c.case_number = ANY ($1::text[])
FOR UPDATE OF c;

-- name: upsert_cases
-- $1 case numbers, $2 team ids, $3 registered by, $4 amounts to enforce (NULL: unchanged).
INSERT INTO cases AS c (case_number, team_id, registered_by, amount_to_enforce)
SELECT t.case_number, t.team_id, $3, t.amount
FROM unnest($1::text[], $2::bigint[], $4::numeric[]) AS t (case_number, team_id, amount)
ON CONFLICT (case_number) DO UPDATE
SET team_id = excluded.team_id,
    amount_to_enforce = coalesce(excluded.amount_to_enforce, c.amount_to_enforce),
    updated_at = now()
WHERE c.team_id <> excluded.team_id
   OR excluded.amount_to_enforce IS DISTINCT FROM c.amount_to_enforce
      AND excluded.amount_to_enforce IS NOT NULL;

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
