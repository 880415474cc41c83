-- The operators' console (central/src/console/): local accounts with a role and, for team
-- leaders and caretakers, the sites they may see; sessions (only a hash of the token is
-- kept); and the console's own audit log: every login, refusal, export and view of
-- visits or events, visible to administrators.
CREATE TABLE accounts (
    name           text        PRIMARY KEY,
    password_hash  text        NOT NULL,  -- Argon2id, PHC string
    role           text        NOT NULL CHECK (role IN ('administrator', 'team_leader', 'caretaker', 'auditor')),
    sites          text[]      NOT NULL DEFAULT '{}',  -- team_leader, caretaker: the only sites they see
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    token_hash  bytea       PRIMARY KEY,  -- SHA-256 of the cookie's token
    account     text        NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    csrf        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE TABLE console_log (
    id       bigserial   PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    account  text,                       -- NULL: not logged in (a refused login names who tried in detail)
    action   text        NOT NULL,       -- login, login_refused, logout, view_visits, export_visits, view_site, ack_alarm, refused
    detail   text        NOT NULL,
    address  text
);
CREATE INDEX console_log_at ON console_log (at);
