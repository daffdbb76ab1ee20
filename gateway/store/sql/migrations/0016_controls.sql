-- Control actions (查控之"控"): freezing, sealing and seizing what an inquiry found; their legal
-- terms; and the 终本 re-query schedule (gateway/accountability/controls.py, closures.py).
--
-- A control names its asset by the result it was found in and the asset's keyed digest (the
-- identifier itself stays in the sealed agency record, read when it is sent or shown; an
-- account number is sensitive personal information, PIPL art. 28). A batch whose results
-- carry a hold still in force, or whose case is closed for want of assets (终本) and still on
-- its re-query schedule, is kept from the retention purge: the purpose continues.

-- The amount the judgment requires (执行标的), against which the frozen total is checked.
ALTER TABLE cases ADD COLUMN amount_to_enforce numeric(16, 2)
    CHECK (amount_to_enforce > 0);

CREATE TABLE controls (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_number      text NOT NULL REFERENCES cases (case_number),
    team_id          bigint NOT NULL REFERENCES teams (id),
    batch_id         uuid NOT NULL REFERENCES batches (id),
    inquiry_id       bigint NOT NULL REFERENCES results (inquiry_id),
    row              integer NOT NULL,
    agency           text NOT NULL,
    action           text NOT NULL CHECK (action IN ('seal', 'seize', 'freeze')),
    asset_digest     bytea NOT NULL,
    amount           numeric(16, 2) CHECK (amount > 0),
    reason           text NOT NULL,
    term_days        integer NOT NULL CHECK (term_days > 0),
    status           text NOT NULL DEFAULT 'pending_approval'
                     CHECK (status IN ('pending_approval', 'rejected', 'sending', 'in_effect',
                                       'queued_behind', 'refused', 'released', 'expired')),
    requested_by     bigint NOT NULL REFERENCES officers (id),
    requested_at     timestamptz NOT NULL,
    -- a freeze taking the case's frozen total past its amount to enforce (or a case without
    -- one): approval needs a commander's override reason
    over_limit       boolean NOT NULL DEFAULT false,
    decided_by       bigint REFERENCES officers (id),
    decided_at       timestamptz,
    decision_note    text,
    override_reason  text,
    receipt_no       text,
    position         integer CHECK (position > 0),
    effective_on     date,
    expires_on       date,   -- the last day the hold is in effect
    refusal          text,
    renewals         integer NOT NULL DEFAULT 0,
    released_at      timestamptz,
    -- the expiry date a reminder was raised for (a renewal moves the date: a new reminder)
    reminded_for     date,
    updated_at       timestamptz NOT NULL
);
-- One live control per asset and case: asking twice is a mistake, not a second hold.
CREATE UNIQUE INDEX controls_live_asset ON controls (case_number, agency, asset_digest)
    WHERE status IN ('pending_approval', 'sending', 'in_effect', 'queued_behind');
CREATE INDEX controls_case ON controls (case_number, id);
CREATE INDEX controls_team ON controls (team_id, id DESC);
CREATE INDEX controls_expiring ON controls (expires_on) WHERE status = 'in_effect';
CREATE INDEX controls_batch ON controls (batch_id)
    WHERE status IN ('pending_approval', 'sending', 'in_effect', 'queued_behind');

-- What must reach an agency (a hold, a renewal, a release): an outbox, so a send survives a
-- crash and is retried with the same idempotency key, which the agency honours: sent at
-- least once, in effect exactly once. 'status' asks how a hold waiting in line stands (it
-- takes effect when the court before it releases): a question, changing nothing.
CREATE TABLE control_sends (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    control_id        bigint NOT NULL REFERENCES controls (id),
    operation         text NOT NULL
                      CHECK (operation IN ('hold', 'renew', 'release', 'status')),
    idempotency_key   uuid NOT NULL UNIQUE,
    term_days         integer,
    order_date        date NOT NULL,
    officer_id        bigint NOT NULL REFERENCES officers (id),
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    attempts          integer NOT NULL DEFAULT 0,
    not_before        timestamptz NOT NULL,
    lease_owner       text,
    lease_expires_at  timestamptz,
    last_error        text,
    created_at        timestamptz NOT NULL,
    finished_at       timestamptz
);
CREATE INDEX control_sends_pending ON control_sends (not_before) WHERE state = 'pending';
-- at most one order in flight per control (a renewal waits for the hold's answer), and one
-- question
CREATE UNIQUE INDEX control_sends_one_pending ON control_sends (control_id)
    WHERE state = 'pending' AND operation <> 'status';
CREATE UNIQUE INDEX control_sends_one_question ON control_sends (control_id)
    WHERE state = 'pending' AND operation = 'status';

-- 终本: a case closed for want of assets, re-queried on schedule until reopened or done.
-- generation counts the closures of one case (closed, reopened, closed again: 2).
CREATE TABLE case_closures (
    case_number   text PRIMARY KEY REFERENCES cases (case_number),
    generation    integer NOT NULL DEFAULT 1,
    closed_on     date NOT NULL,
    closed_by     bigint NOT NULL REFERENCES officers (id),
    rounds_done   integer NOT NULL DEFAULT 0,
    -- the date of the next re-query; NULL once the schedule has ended or the case reopened
    next_due_on   date,
    reopened_at   timestamptz,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX case_closures_due ON case_closures (next_due_on) WHERE next_due_on IS NOT NULL;

-- The batches the schedule submitted, a round each; compared_at once its answers were
-- compared with what was known before. (Not columns of batches: a row of batches is locked
-- by the result writer after the audit chain's head, and the schedule appends to the audit
-- log after recording its round; the other order would deadlock.)
CREATE TABLE case_requeries (
    case_number   text NOT NULL REFERENCES cases (case_number),
    generation    integer NOT NULL,
    round         integer NOT NULL CHECK (round > 0),
    batch_id      uuid NOT NULL UNIQUE REFERENCES batches (id),
    submitted_at  timestamptz NOT NULL,
    compared_at   timestamptz,
    PRIMARY KEY (case_number, generation, round)
);
CREATE INDEX case_requeries_to_compare ON case_requeries (submitted_at)
    WHERE compared_at IS NULL;

-- The assets known on a closed case, by keyed digest: what a re-query's answer is compared
-- with. No personal data.
CREATE TABLE case_assets_seen (
    case_number     text NOT NULL REFERENCES cases (case_number),
    subject_digest  bytea NOT NULL,
    agency          text NOT NULL,
    asset_digest    bytea NOT NULL,
    batch_id        uuid NOT NULL REFERENCES batches (id),
    seen_at         timestamptz NOT NULL,
    PRIMARY KEY (case_number, subject_digest, agency, asset_digest)
);

-- A case's history: closures, re-queries, new assets, controls. Counts and ids, no personal
-- data.
CREATE TABLE case_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_number  text NOT NULL REFERENCES cases (case_number),
    at           timestamptz NOT NULL,
    kind         text NOT NULL,
    batch_id     uuid REFERENCES batches (id),
    control_id   bigint REFERENCES controls (id),
    detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case ON case_events (case_number, at, id);

ALTER TABLE alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_kind_check CHECK (
    kind IN ('off_hours', 'volume_spike', 'cross_team_subject', 'control_expiring',
             'new_assets'));
-- an officer's page lists the team's alerts
CREATE INDEX alerts_team ON alerts (team_id, at DESC, id DESC);
