-- Answers until the agency's deadline (反馈期限): a transient failure gives the inquiry back to
-- the queue with its last error and the time of its next attempt, until answer_deadline; only
-- then is it failed, "no answer within the deadline".
ALTER TABLE inquiries
    ADD COLUMN answer_deadline timestamptz NOT NULL DEFAULT now() + interval '24 hours',
    ADD COLUMN last_error text,
    ADD COLUMN last_attempt_at timestamptz;

-- Inquiries already queued: 24 hours from their batch, the default deadline.
UPDATE inquiries i SET answer_deadline = b.created_at + interval '24 hours'
FROM batches b
WHERE b.id = i.batch_id AND i.state IN ('queued', 'leased');

-- The deadline sweep, and results in subject order with what is still waiting.
CREATE INDEX inquiries_deadline ON inquiries (answer_deadline) WHERE state = 'queued';
CREATE INDEX inquiries_batch_order ON inquiries (batch_id, id);
