-- When a commander approved a held batch. Its inquiries' answer deadlines (反馈期限) run from
-- then, not from its submission: a batch held over a weekend is not failed for an agency that
-- was never asked; and its inquiries are late (超时预警) counting from then.
ALTER TABLE batches ADD COLUMN approved_at timestamptz;
