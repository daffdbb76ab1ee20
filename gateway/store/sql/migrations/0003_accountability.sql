-- Accountability (issue 5): filed cases and the team handling each, batches held for a
-- commander's approval, a per-officer daily ledger for quotas and volume baselines, and risk
-- alerts. No personal data here: subjects appear only as their keyed digest.

-- A batch over the per-case size threshold waits in 'pending_approval' (the dispatcher claims
-- only 'queued'/'running' batches, so it waits without further code); a commander's rejection
-- is final.
ALTER TABLE batches DROP CONSTRAINT batches_status_check;
ALTER TABLE batches ADD CONSTRAINT batches_status_check
    CHECK (status IN ('queued', 'running', 'done', 'cancelled', 'pending_approval', 'rejected'));
-- Why the same subject is asked for again within the re-query window (the lawful basis).
ALTER TABLE batches ADD COLUMN requery_reason text;
-- Per-case size threshold: every batch of a case is summed.
CREATE INDEX batches_case ON batches (case_number);
CREATE INDEX batches_pending ON batches (created_at) WHERE status = 'pending_approval';
-- Throughput in /v1/stats reads the last hour of results.
CREATE INDEX results_completed ON results (completed_at);

-- Only formally filed cases may be queried, and only by the team handling them.
CREATE TABLE cases (
    case_number    text PRIMARY KEY,
    team_id        bigint NOT NULL REFERENCES teams (id),
    registered_by  text NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_team ON cases (team_id, case_number);

-- Subjects submitted per officer per local day (GATEWAY_TIMEZONE). Written in the submission
-- transaction, so quotas hold under concurrency and volume baselines need no scan of batches.
CREATE TABLE officer_daily_volume (
    officer_id  bigint NOT NULL REFERENCES officers (id),
    day         date NOT NULL,
    batches     integer NOT NULL DEFAULT 0,
    subjects    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (officer_id, day)
);

-- Risks flagged to the command centre (they never block a submission).
CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL,
    kind            text NOT NULL
                    CHECK (kind IN ('off_hours', 'volume_spike', 'cross_team_subject')),
    officer_id      bigint NOT NULL REFERENCES officers (id),
    team_id         bigint NOT NULL REFERENCES teams (id),
    batch_id        uuid REFERENCES batches (id),
    subject_digest  bytea,
    detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alerts_at ON alerts (at DESC, id DESC);
CREATE INDEX alerts_kind ON alerts (kind, at DESC, id DESC);
