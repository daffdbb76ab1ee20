-- The cluster's leader (gateway/store/leader.py): the replica whose dedicated connection holds
-- a session-level advisory lock. Advisory locks belong to one database: gateways on other
-- databases of the same server do not compete for it.
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: leader_try_lock
-- $1, $2 the lock's two keys
SELECT pg_try_advisory_lock($1::int, $2::int);

-- name: leader_holds
-- Whether this session still holds the lock (an administrator may have released it, or
-- ended the session, by hand). $1, $2 the lock's two keys
SELECT EXISTS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
      AND classid = $1::int::oid AND objid = $2::int::oid AND objsubid = 2
);

-- name: leader_unlock
-- $1, $2 the lock's two keys
SELECT pg_advisory_unlock($1::int, $2::int);
