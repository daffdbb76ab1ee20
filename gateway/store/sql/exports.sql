-- A batch's results read out for files (gateway/store/exports.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: export_page
-- Every inquiry of a batch in subject order, answered or not: a result workbook has a row for
-- each person, including those no agency has answered yet. Besides the results' statuses:
-- 'waiting' (a failed attempt, asked again later), 'pending' (not answered yet) and
-- 'cancelled' (never to be asked). Keyset pagination on the inquiry id, as results_page.
SELECT i.id AS inquiry_id, i.row, i.agency,
       CASE WHEN r.inquiry_id IS NOT NULL THEN r.status
            WHEN i.state = 'cancelled' THEN 'cancelled'
            WHEN i.last_error IS NOT NULL THEN 'waiting'
            ELSE 'pending' END AS status,
       r.data,
       CASE WHEN r.inquiry_id IS NULL THEN i.last_error ELSE r.error END AS error,
       coalesce(r.attempts, i.attempts) AS attempts,
       r.completed_at, CASE WHEN r.inquiry_id IS NULL THEN i.not_before END AS next_attempt_at,
       s.name, s.id_number, s.kind
FROM inquiries i
JOIN subjects s ON s.batch_id = i.batch_id AND s.row = i.row
LEFT JOIN results r ON r.inquiry_id = i.id
WHERE i.batch_id = $1 AND i.id > $2
ORDER BY i.id
LIMIT $3;
