-- Every read of personal data says why (docs/privacy.md): a purpose from a short list,
-- and for `other` the reason in words. Reads from before purposes are 'unstated'.
ALTER TABLE reads
    ADD COLUMN purpose text NOT NULL DEFAULT 'unstated'
        CHECK (purpose IN ('relatives', 'invoicing', 'deviation', 'police', 'other', 'handover', 'unstated')),
    ADD COLUMN note text;
CREATE INDEX reads_at ON reads (at);
