-- Connections (gateway/store/db.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: readiness_probe
-- GET /readyz: the database answers.
SELECT 1;
