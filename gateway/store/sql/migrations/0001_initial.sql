-- Teams, officers and their tokens; batches of subjects; one inquiry per subject x agency;
-- at most one result per inquiry; an audit record for every dispatch and every result.
-- Personal data (names, identifiers, agency records) is stored sealed with AES-GCM by the
-- application (gateway/crypto.py); subject_digest is a keyed hash for look-ups by subject.

CREATE TABLE teams (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE officers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('officer', 'commander', 'auditor', 'admin')),
    team_id     bigint REFERENCES teams (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'officer' OR team_id IS NOT NULL)
);

-- Only a SHA-256 of each token is kept: tokens are 256-bit random, so a slow hash adds nothing.
CREATE TABLE tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    officer_id  bigint NOT NULL REFERENCES officers (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz
);

CREATE TABLE batches (
    id               uuid PRIMARY KEY,
    officer_id       bigint NOT NULL REFERENCES officers (id),
    team_id          bigint NOT NULL REFERENCES teams (id),
    case_number      text NOT NULL,
    reason           text NOT NULL,
    agencies         text[] NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'done', 'cancelled')),
    subject_count    integer NOT NULL,
    idempotency_key  text,
    request_digest   bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    UNIQUE (officer_id, idempotency_key)
);
CREATE INDEX batches_team ON batches (team_id, created_at DESC, id);
CREATE INDEX batches_open ON batches (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE subjects (
    batch_id   uuid NOT NULL REFERENCES batches (id),
    row        integer NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('person', 'organisation')),
    name            bytea NOT NULL,
    id_number       bytea NOT NULL,
    subject_digest  bytea NOT NULL,
    PRIMARY KEY (batch_id, row)
);
CREATE INDEX subjects_digest ON subjects (subject_digest);

CREATE TABLE inquiries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id          uuid NOT NULL,
    row               integer NOT NULL,
    agency            text NOT NULL,
    state             text NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'leased', 'done', 'cancelled')),
    attempts          integer NOT NULL DEFAULT 0,
    not_before        timestamptz NOT NULL DEFAULT now(),
    lease_owner       text,
    lease_expires_at  timestamptz,
    FOREIGN KEY (batch_id, row) REFERENCES subjects (batch_id, row)
);
-- Serves the claim (state = 'queued' implies the predicate) and the "anything left?" check.
CREATE INDEX inquiries_open ON inquiries (batch_id, agency, id)
    WHERE state IN ('queued', 'leased');
CREATE INDEX inquiries_leases ON inquiries (lease_expires_at) WHERE state = 'leased';
CREATE INDEX inquiries_batch ON inquiries (batch_id, agency);

-- The primary key is the guarantee that no inquiry is ever recorded twice.
CREATE TABLE results (
    inquiry_id    bigint PRIMARY KEY REFERENCES inquiries (id),
    batch_id      uuid NOT NULL,
    row           integer NOT NULL,
    agency        text NOT NULL,
    status        text NOT NULL CHECK (status IN ('found', 'not_found', 'failed')),
    data          bytea,
    error         text,
    attempts      integer NOT NULL,
    completed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX results_batch ON results (batch_id, inquiry_id);

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    action       text NOT NULL,
    officer_id   bigint,
    officer      text,
    team         text,
    case_number  text,
    batch_id     uuid,
    row          integer,
    subject_digest bytea,
    agency       text,
    outcome      text,
    detail       jsonb
);
CREATE INDEX audit_log_batch ON audit_log (batch_id, id);
CREATE INDEX audit_log_subject ON audit_log (subject_digest) WHERE subject_digest IS NOT NULL;
