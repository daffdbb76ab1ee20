-- The record of applied migrations is the owner's: the service's role (gateway_app) reads it,
-- to refuse a database behind its code (GATEWAY_MIGRATE_ON_START=false), and may not write it
-- (a forged or deleted record would make `gateway migrate` skip or repeat a migration).
-- 0002 granted it full DML, as on every table then.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_app') THEN
        REVOKE ALL ON schema_migrations FROM gateway_app;
        GRANT SELECT ON schema_migrations TO gateway_app;
    END IF;
END $$;
