-- What each gateway last said of itself: its retained `status` and `state` (the JSON as
-- it came), and when anything of it was last heard.
CREATE TABLE gateways (
    site        text        PRIMARY KEY,
    online      boolean,
    status_at   timestamptz,
    state       text,
    state_at    timestamptz,
    last_seen   timestamptz NOT NULL
);

-- Each door's retained `door/<door>/state`, and a `door.forced_open` not yet followed by
-- its `door.closed` (the door state has no forced flag; the audit stream does).
CREATE TABLE doors (
    site       text        NOT NULL,
    door       text        NOT NULL,
    state      text,
    state_at   timestamptz,
    forced_at  timestamptz,
    PRIMARY KEY (site, door)
);

-- Alarms with raised and cleared times; at most one open per (site, kind, subject).
CREATE TABLE alarms (
    id               bigserial   PRIMARY KEY,
    site             text        NOT NULL,
    kind             text        NOT NULL,
    subject          text        NOT NULL DEFAULT '',
    detail           text        NOT NULL,
    raised_at        timestamptz NOT NULL,
    cleared_at       timestamptz,
    acknowledged_by  text,
    acknowledged_at  timestamptz
);
CREATE UNIQUE INDEX alarms_open ON alarms (site, kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX alarms_raised ON alarms (raised_at);
