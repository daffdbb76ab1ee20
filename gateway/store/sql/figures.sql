-- The cluster-wide figures the leader exports as metrics (gateway/store/figures.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: figures_queue_depth
-- Unanswered inquiries per agency: queued (to be asked), leased (being asked), held (their
-- batch awaits a commander's approval: not dispatched until then). Counted per batch first,
-- so only a row per open batch and agency meets the batches.
SELECT q.agency,
       coalesce(sum(q.queued) FILTER (WHERE b.status <> 'pending_approval'), 0)::bigint
           AS queued,
       coalesce(sum(q.leased), 0)::bigint AS leased,
       coalesce(sum(q.queued) FILTER (WHERE b.status = 'pending_approval'), 0)::bigint AS held
FROM (
    SELECT batch_id, agency,
           count(*) FILTER (WHERE state = 'queued') AS queued,
           count(*) FILTER (WHERE state = 'leased') AS leased
    FROM inquiries WHERE state IN ('queued', 'leased')
    GROUP BY batch_id, agency
) q
JOIN batches b ON b.id = q.batch_id
GROUP BY q.agency;

-- name: figures_batches_by_status
SELECT status, count(*)::bigint AS batches FROM batches GROUP BY status;

-- name: figures_detentions_assisted
-- The police's found results: each one a detention assisted (the station answered 'accepted'
-- or 'dispatched', connectors/police.py). Counted from the partial index results_found_police.
SELECT count(*)::bigint FROM results WHERE agency = 'police' AND status = 'found';
