-- Agency limits held across replicas (gateway/store/limits.py; functions in migration 0004).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: agency_rate_slots
-- Reserve $2 send times from the agency's shared record: $3 requests in any $4 seconds, $5 the
-- tolerance. Answers seconds from now to each (0 when there is room in the window now).
SELECT agency_rate_reserve($1, $2, $3, $4, $5) AS slots;

-- name: agency_permits_sync
-- $1 agency, $2 owner, $3 limit, $4 keep, $5 wanted, $6 in use, $7 lease seconds
SELECT held, target, in_flight, starved
FROM agency_permits_sync($1, $2, $3, $4, $5, $6, $7);

-- name: agency_permits_release
DELETE FROM agency_permits WHERE owner = $1;

-- name: agency_in_flight
-- In flight per agency across all live replicas, as each last reported it.
SELECT agency, sum(in_use)::integer AS in_flight, count(*)::integer AS replicas
FROM agency_permits WHERE expires_at > clock_timestamp()
GROUP BY agency;
