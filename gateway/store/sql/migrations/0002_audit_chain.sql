-- Tamper-evident audit log: append-only and hash-chained (design: gateway/audit.py).
--
-- Every record gets seq (1, 2, 3, ... in commit order), prev_hash (the hash of record seq - 1,
-- 32 zero bytes for seq 1) and hash = sha256(prev_hash || canonical encoding of the record),
-- assigned by a BEFORE INSERT trigger while the chain head is locked, so the chain is built in
-- the very transaction that writes the record. UPDATE, DELETE and TRUNCATE are refused by
-- triggers (even for the owner and superusers) and by privileges (role gateway_app).

ALTER TABLE audit_log
    ADD COLUMN seq bigint,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash bytea;

-- One row: the last record's seq and hash. Its row lock serialises appends (held to commit,
-- so chain order is commit order); it also lets `gateway audit verify` notice a deleted tail.
CREATE TABLE audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seq        bigint NOT NULL,
    hash       bytea NOT NULL,
    at         timestamptz NOT NULL
);

-- The canonical encoding, version "audit-v1" (gateway/audit.py recomputes it byte for byte):
--   sha256(prev_hash || utf8("audit-v1|f1|f2|...|f14"))
-- each field f is "-" for NULL, otherwise "<length in characters>:<text>" (length-prefixed, so
-- no value can forge a field boundary). Fields in order: seq, id, at as integer microseconds
-- since 1970-01-01 UTC, action, officer_id, officer, team, case_number, batch_id (lower-case
-- hyphenated), row, subject_digest (lower-case hex), agency, outcome, detail (jsonb::text,
-- which is canonical: jsonb stores keys sorted and duplicates removed).
CREATE FUNCTION audit_record_hash(
    prev_hash bytea, seq bigint, id bigint, at timestamptz, action text, officer_id bigint,
    officer text, team text, case_number text, batch_id uuid, "row" integer,
    subject_digest bytea, agency text, outcome text, detail jsonb
) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    -- Written out rather than via a helper function: a non-inlined SQL function call per
    -- field tripled the cost of an append.
    RETURN sha256(prev_hash || convert_to(concat_ws('|', 'audit-v1',
        coalesce(char_length(seq::text) || ':' || seq::text, '-'),
        coalesce(char_length(id::text) || ':' || id::text, '-'),
        coalesce(char_length(((extract(epoch FROM at) * 1000000)::bigint)::text) || ':'
                 || ((extract(epoch FROM at) * 1000000)::bigint)::text, '-'),
        coalesce(char_length(action) || ':' || action, '-'),
        coalesce(char_length(officer_id::text) || ':' || officer_id::text, '-'),
        coalesce(char_length(officer) || ':' || officer, '-'),
        coalesce(char_length(team) || ':' || team, '-'),
        coalesce(char_length(case_number) || ':' || case_number, '-'),
        coalesce(char_length(batch_id::text) || ':' || batch_id::text, '-'),
        coalesce(char_length("row"::text) || ':' || "row"::text, '-'),
        coalesce(char_length(encode(subject_digest, 'hex')) || ':'
                 || encode(subject_digest, 'hex'), '-'),
        coalesce(char_length(agency) || ':' || agency, '-'),
        coalesce(char_length(outcome) || ':' || outcome, '-'),
        coalesce(char_length(detail::text) || ':' || detail::text, '-')), 'UTF8'));
END $$;

-- Chain the records already written under 0001, in id order.
DO $$
DECLARE
    r audit_log%ROWTYPE;
    last_seq bigint := 0;
    last_hash bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
    last_at timestamptz := clock_timestamp();
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        last_seq := last_seq + 1;
        UPDATE audit_log
        SET seq = last_seq, prev_hash = last_hash,
            hash = audit_record_hash(last_hash, last_seq, r.id, r.at, r.action, r.officer_id,
                                     r.officer, r.team, r.case_number, r.batch_id, r."row",
                                     r.subject_digest, r.agency, r.outcome, r.detail)
        WHERE id = r.id
        RETURNING hash INTO last_hash;
        last_at := r.at;
    END LOOP;
    INSERT INTO audit_chain_head (seq, hash, at) VALUES (last_seq, last_hash, last_at);
END $$;

ALTER TABLE audit_log
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
-- For the auditor's filters (GET /v1/audit); batch and subject are indexed since 0001. Each
-- costs about 2% of the append rate; BRIN suits `at`, which grows with seq.
CREATE INDEX audit_log_officer ON audit_log (officer, seq);
CREATE INDEX audit_log_case ON audit_log (case_number, seq);
CREATE INDEX audit_log_at ON audit_log USING brin (at);

-- Per row: lock the head (re-locking in the same transaction is cheap), continue from the
-- last record this statement already appended beyond the head (visible to a BEFORE trigger)
-- or else from the head. The head row is moved once per statement (audit_chain_publish):
-- updating it per row halved the append rate. SECURITY DEFINER so that gateway_app needs no
-- privilege on the head; `at` is the database's clock once the lock is held, so records
-- cannot be back-dated and `at` grows with seq.
CREATE FUNCTION audit_chain_append() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
DECLARE
    last_seq bigint;
    last_hash bytea;
    tail_seq bigint;
    tail_hash bytea;
BEGIN
    SELECT h.seq, h.hash INTO STRICT last_seq, last_hash FROM audit_chain_head h FOR UPDATE;
    SELECT l.seq, l.hash INTO tail_seq, tail_hash
    FROM audit_log l WHERE l.seq > last_seq ORDER BY l.seq DESC LIMIT 1;
    IF FOUND THEN
        last_seq := tail_seq;
        last_hash := tail_hash;
    END IF;
    NEW.seq := last_seq + 1;
    NEW.prev_hash := last_hash;
    NEW.at := clock_timestamp();
    NEW.hash := audit_record_hash(NEW.prev_hash, NEW.seq, NEW.id, NEW.at, NEW.action,
                                  NEW.officer_id, NEW.officer, NEW.team, NEW.case_number,
                                  NEW.batch_id, NEW."row", NEW.subject_digest, NEW.agency,
                                  NEW.outcome, NEW.detail);
    RETURN NEW;
END $$;

-- After each INSERT statement: move the head to the last record. A statement that appended
-- nothing finds nothing beyond the (unlocked) head and takes no lock.
CREATE FUNCTION audit_chain_publish() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT
AS $$
BEGIN
    UPDATE audit_chain_head h SET seq = t.seq, hash = t.hash, at = t.at
    FROM (SELECT l.seq, l.hash, l.at FROM audit_log l
          WHERE l.seq > (SELECT seq FROM audit_chain_head)
          ORDER BY l.seq DESC LIMIT 1) t;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_chain_append BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain_append();
CREATE TRIGGER audit_chain_publish AFTER INSERT ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_publish();

-- Statement-level, so that even a statement touching no row is refused.
CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    -- The head may move only from within audit_chain_publish (trigger depth 2).
    IF TG_TABLE_NAME = 'audit_chain_head' AND TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit records are never changed or removed; see gateway/audit.py';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_chain_head_guard BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
-- ALWAYS: the refusals hold under session_replication_role = replica too. Only
-- ALTER TABLE ... DISABLE TRIGGER (the owner or a superuser) lifts them, and what is done
-- then breaks the chain, which `gateway audit verify` reports.
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_append_only;
ALTER TABLE audit_chain_head ENABLE ALWAYS TRIGGER audit_chain_head_guard;

-- Privileges. In production the gateway connects as a login role that is a member of
-- gateway_app (migrations run as the owner): it may read and append audit records, read the
-- head, and nothing more on either; it keeps full DML on the operational tables, including
-- tables later migrations create (default privileges). CREATE ROLE needs CREATEROLE: without
-- it the grants are skipped with a notice (create the role, then rerun this block).
REVOKE ALL ON audit_log, audit_chain_head FROM PUBLIC;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_app') THEN
        BEGIN
            CREATE ROLE gateway_app NOLOGIN;
        EXCEPTION WHEN insufficient_privilege OR duplicate_object THEN
            RAISE NOTICE 'role gateway_app not created: %', SQLERRM;
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'gateway_app') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO gateway_app', current_schema());
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I '
                       'TO gateway_app', current_schema());
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO gateway_app',
                       current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, '
                       'DELETE ON TABLES TO gateway_app', current_schema());
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT '
                       'ON SEQUENCES TO gateway_app', current_schema());
        REVOKE ALL ON audit_log, audit_chain_head FROM gateway_app;
        GRANT SELECT, INSERT ON audit_log TO gateway_app;
        GRANT SELECT ON audit_chain_head TO gateway_app;
    END IF;
END $$;
