-- Data-key rotation (gateway/store/rotation.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: rotation_subjects_chunk
-- (a purged subject's name and identifier are NULL: gateway/store/retention.py)
SELECT batch_id, row, name, id_number FROM subjects
WHERE ($1::uuid IS NULL OR (batch_id, row) > ($1, $2)) AND name IS NOT NULL
ORDER BY batch_id, row
LIMIT $3
FOR UPDATE;

-- name: rotation_reseal_subject
UPDATE subjects SET name = $3, id_number = $4 WHERE batch_id = $1 AND row = $2;

-- name: rotation_results_chunk
SELECT inquiry_id, data FROM results
WHERE inquiry_id > $1 AND data IS NOT NULL
ORDER BY inquiry_id
LIMIT $2
FOR UPDATE;

-- name: rotation_reseal_result
UPDATE results SET data = $2 WHERE inquiry_id = $1;
