-- The staff side (docs/central.md, Staff keys): the roster published from the
-- municipality's workspace, who Central has disabled, every shift certificate it issued
-- (each issue is a record), and the single-use nonces a phone signs to prove its key.
CREATE TABLE staff_teams (
    id      text    PRIMARY KEY,
    name    text    NOT NULL,
    role    text    NOT NULL,
    doors   text[]  NOT NULL
);

CREATE TABLE staff_people (
    login        text        PRIMARY KEY,
    holder       text        NOT NULL UNIQUE,
    name         text        NOT NULL,
    team         text        NOT NULL REFERENCES staff_teams (id)
);

-- Disabling outlives a roster that is imported again: kept by holder.
CREATE TABLE staff_disabled (
    holder       text        PRIMARY KEY,
    disabled_at  timestamptz NOT NULL DEFAULT now(),
    disabled_by  text        NOT NULL
);

CREATE TABLE staff_certificates (
    id          text        PRIMARY KEY,
    holder      text        NOT NULL,
    team        text        NOT NULL,
    key_id      bytea       NOT NULL CHECK (octet_length(key_id) = 32),
    key_kind    text        NOT NULL CHECK (key_kind IN ('ed25519', 'p256')),
    doors       text[]      NOT NULL,
    not_before  timestamptz NOT NULL,
    not_after   timestamptz NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_certificates_holder ON staff_certificates (holder, not_after);

CREATE TABLE staff_nonces (
    nonce    bytea       PRIMARY KEY CHECK (octet_length(nonce) = 32),
    holder   text        NOT NULL,
    expires  timestamptz NOT NULL
);

-- A sign-in under way at the identity provider: its state (in a cookie of the browser
-- that began it), nonce and PKCE verifier; taken once, within ten minutes.
CREATE TABLE staff_logins (
    state     text        PRIMARY KEY,
    nonce     text        NOT NULL,
    verifier  text        NOT NULL,
    expires   timestamptz NOT NULL
);

-- A signed-in staff member's session (the cookie's SHA-256), for the length of a shift.
CREATE TABLE staff_sessions (
    token_hash  bytea       PRIMARY KEY,
    holder      text        NOT NULL,
    login       text        NOT NULL,
    expires     timestamptz NOT NULL
);

-- Expired rows are cleared by time.
CREATE INDEX staff_logins_expires ON staff_logins (expires);
CREATE INDEX staff_nonces_expires ON staff_nonces (expires);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires);
