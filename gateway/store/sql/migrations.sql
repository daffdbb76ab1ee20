-- The migration runner (gateway/store/migrations.py).
-- Each query starts with "-- name: <name>" and runs until the next one.

-- name: migrations_lock
-- Any constant works; it only has to be the same in every process that migrates.
SELECT pg_advisory_xact_lock(7301944211);

-- name: migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now());

-- name: migrations_applied
SELECT version FROM schema_migrations;

-- name: migration_record
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL;
