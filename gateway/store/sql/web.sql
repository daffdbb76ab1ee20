-- Sessions of the web pages (gateway/store/web.py). A session is valid only while its token is.
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: token_of_officer
-- The live token with this hash, if it belongs to the officer of this name.
SELECT k.id AS token_id, o.id AS officer_id, o.name AS officer, o.role, t.id AS team_id,
       t.name AS team
FROM tokens k
JOIN officers o ON o.id = k.officer_id
LEFT JOIN teams t ON t.id = o.team_id
WHERE k.token_hash = $1 AND o.name = $2
  AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now());

-- name: insert_web_session
-- $1 id hash, $2 token, $3 officer, $4 CSRF token, $5 seconds it lives
INSERT INTO web_sessions (id_hash, token_id, officer_id, csrf_token, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5));

-- name: find_web_session
-- The caller behind a live session (and its CSRF token).
SELECT o.id AS officer_id, o.name AS officer, o.role, t.id AS team_id, t.name AS team,
       s.csrf_token
FROM web_sessions s
JOIN tokens k ON k.id = s.token_id
JOIN officers o ON o.id = s.officer_id
LEFT JOIN teams t ON t.id = o.team_id
WHERE s.id_hash = $1 AND s.ended_at IS NULL AND s.expires_at > now()
  AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now());

-- name: end_web_session
UPDATE web_sessions SET ended_at = now() WHERE id_hash = $1 AND ended_at IS NULL
RETURNING officer_id;
