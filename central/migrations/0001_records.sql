-- Every gateway's audit records, exactly as they arrived, one row per (site, seq).
CREATE TABLE records (
    site        text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq > 0),
    at          timestamptz NOT NULL,
    trusted     boolean     NOT NULL,
    kind        text        NOT NULL,
    door        text,
    holder      text,
    credential  text,
    detail      text        NOT NULL,  -- the stored JSON text byte for byte (what the hash covers)
    prev        bytea       NOT NULL CHECK (length(prev) = 32),
    hash        bytea       NOT NULL CHECK (length(hash) = 32),
    payload     bytea       NOT NULL,  -- the events message as it arrived
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, seq)
);
CREATE INDEX records_holder_at ON records (holder, at) WHERE holder IS NOT NULL;
CREATE INDEX records_site_door_at ON records (site, door, at);

-- A second, different record under a known (site, seq): kept beside the first, never over it.
CREATE TABLE equivocations (
    site        text        NOT NULL,
    seq         bigint      NOT NULL,
    hash        bytea       NOT NULL,
    payload     bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, seq, hash)
);

-- How far each site's chain is whole: every record up to `through` stored and linked.
CREATE TABLE sites (
    site          text        PRIMARY KEY,
    through       bigint      NOT NULL DEFAULT 0,
    through_hash  bytea       NOT NULL DEFAULT decode(repeat('00', 32), 'hex'),
    broken_at     bigint,                 -- the first stored record that does not link
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_record   timestamptz
);

-- Messages on events that could not be taken (malformed, altered), for the operator.
CREATE TABLE refused (
    id          bigserial   PRIMARY KEY,
    site        text        NOT NULL,
    reason      text        NOT NULL,
    payload     bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Every read of a visit list (personal data): who, what, how many records.
CREATE TABLE reads (
    id       bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    who      text        NOT NULL,
    query    text        NOT NULL,
    records  bigint      NOT NULL
);
