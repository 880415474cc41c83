-- The quarantine is bounded per site (docs/central.md, The trust boundary): past
-- MAX_QUARANTINED unreviewed messages of a site, a further one is only counted here — how
-- many and how many bytes — so one stolen gateway key cannot fill the database.
CREATE TABLE refused_dropped (
    site      text        PRIMARY KEY,
    messages  bigint      NOT NULL DEFAULT 0,
    bytes     bigint      NOT NULL DEFAULT 0,
    last_at   timestamptz NOT NULL DEFAULT now()
);
