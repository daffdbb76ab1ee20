-- The court's statistics report (gateway/accountability/report.py).
--
-- What the officer asked of the household registry: its identity record (身份信息), the ID
-- photo (电子头像), or both. Batches stored before this asked for both.
ALTER TABLE batches
    ADD COLUMN household_items text[] NOT NULL DEFAULT '{identity,photo}'
    CONSTRAINT batches_household_items_check
    CHECK (cardinality(household_items) > 0 AND household_items <@ '{identity,photo}');

-- Assets found, counted when a result is recorded (the record itself is sealed, and the
-- statistics must not open it): real-estate properties, vehicles, forest-right
-- certificates, subsidy accounts (distinct accounts paid into). Null for other agencies and
-- for results that found nothing or failed, and for results recorded before this column
-- (their records were not counted).
ALTER TABLE results ADD COLUMN assets integer CONSTRAINT results_assets_check CHECK (assets >= 0);
