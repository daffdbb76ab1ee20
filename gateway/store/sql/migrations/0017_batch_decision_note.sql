-- A commander's note on approving or rejecting a held batch is free text that may name people:
-- it is kept on the batch, where retention clears it with the batch's other free text, and
-- the audit log records only that there was one and its length (as for controls, 0016).
ALTER TABLE batches ADD COLUMN decision_note text;
