-- Runs of a site's chain (docs/mqtt.md, Runs of the chain): a store made anew (a box
-- swapped, a card reflashed) or restored from a backup begins a new run, named by the
-- gateway (`epoch.id`; '' for the run a store began before runs existed). Records,
-- equivocations and checkpoints are kept per (site, run, seq); every run's records stay.
ALTER TABLE records ADD COLUMN epoch text NOT NULL DEFAULT '';
ALTER TABLE records DROP CONSTRAINT records_pkey;
ALTER TABLE records ADD PRIMARY KEY (site, epoch, seq);
ALTER TABLE equivocations ADD COLUMN epoch text NOT NULL DEFAULT '';
ALTER TABLE equivocations DROP CONSTRAINT equivocations_pkey;
ALTER TABLE equivocations ADD PRIMARY KEY (site, epoch, seq, hash);
ALTER TABLE checkpoints ADD COLUMN epoch text NOT NULL DEFAULT '';
ALTER TABLE checkpoints DROP CONSTRAINT checkpoints_pkey;
ALTER TABLE checkpoints ADD PRIMARY KEY (site, epoch, seq);

-- How far each run is whole: every record from the run's start up to `through` stored and
-- linked. A run that begins after record 1 (a restored backup) has no `through_hash`
-- until its first record is here: that record's `prev` is taken as it is.
CREATE TABLE chains (
    site          text        NOT NULL,
    epoch         text        NOT NULL,
    first_seq     bigint      NOT NULL DEFAULT 1 CHECK (first_seq > 0),  -- the run's `epoch.from`
    through       bigint      NOT NULL,
    through_hash  bytea       CHECK (length(through_hash) = 32),
    broken_at     bigint,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_record   timestamptz,
    PRIMARY KEY (site, epoch)
);
INSERT INTO chains (site, epoch, through, through_hash, broken_at, first_seen, last_record)
    SELECT site, '', through, through_hash, broken_at, first_seen, last_record FROM sites;

-- A site's current run (the one begun last), and since when it replaced an earlier one.
ALTER TABLE sites DROP COLUMN through, DROP COLUMN through_hash, DROP COLUMN broken_at, DROP COLUMN last_record;
ALTER TABLE sites ADD COLUMN epoch text NOT NULL DEFAULT '', ADD COLUMN replaced_at timestamptz;

CREATE VIEW current_chains AS
    SELECT s.site, s.epoch, s.replaced_at, c.through, c.through_hash, c.broken_at, c.first_seen, c.last_record
    FROM sites s JOIN chains c ON c.site = s.site AND c.epoch = s.epoch;
