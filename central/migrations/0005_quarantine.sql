-- `refused` is the quarantine: every message Central would not store (malformed, or
-- holding what the schema cannot: a NUL in text, seq 0, a date out of range, a size past
-- the limits), kept with why and when, its first 64 KiB, and how long it was. A site with
-- messages not yet reviewed has the `records_quarantined` alarm.
ALTER TABLE refused ADD COLUMN length bigint;
ALTER TABLE refused ADD COLUMN reviewed_at timestamptz;
CREATE INDEX refused_unreviewed ON refused (site) WHERE reviewed_at IS NULL;
