-- Each gateway's signed checkpoints as judged on arrival (central/src/anchors.rs): signed by
-- the device key its chain commissioned, covering a stored record with the hash it names.
CREATE TABLE checkpoints (
    site        text        NOT NULL,
    seq         bigint      NOT NULL,   -- the audit.checkpoint record's own seq
    covers      bigint,                 -- the record it signs
    signed_at   timestamptz,            -- the gateway's clock when it signed
    key         bytea,                  -- the device key that signed it
    outcome     text        NOT NULL,   -- verified, not_stored, or what failed
    words       text        NOT NULL,
    checked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, seq)
);
