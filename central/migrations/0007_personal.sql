-- Audiences and personal parts (docs/audit.md, Audiences): a format 2 record's hash covers
-- its header — with whose it is (`audience`) — and a salted commitment to holder and
-- credential, never the part itself. The part comes sealed to its audience's reading key:
-- kept sealed (`sealed`) when this Central holds no key of that audience; opened into
-- `holder`, `credential` and `salt` when it does (its own audience), and then checked
-- against the commitment. Format 1 records (from before audiences) keep holder and
-- credential as they came. `erased_at`: the personal part (and salt, and the sealed part)
-- was deleted by retention or on request; header and commitment stay.
ALTER TABLE records
    ADD COLUMN format smallint NOT NULL DEFAULT 1 CHECK (format IN (1, 2)),
    ADD COLUMN audience text,
    ADD COLUMN commitment bytea CHECK (length(commitment) = 32),
    ADD COLUMN salt bytea CHECK (length(salt) = 16),
    ADD COLUMN sealed bytea,
    ADD COLUMN erased_at timestamptz;
CREATE INDEX records_audience_at ON records (audience, at);
-- What retention still has to erase, by class: parts opened here (own), parts kept sealed.
CREATE INDEX records_opened_at ON records (at) WHERE format = 2 AND erased_at IS NULL AND salt IS NOT NULL;
CREATE INDEX records_sealed_at ON records (at) WHERE format = 2 AND erased_at IS NULL AND sealed IS NOT NULL;
