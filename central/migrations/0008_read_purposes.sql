-- Every read of personal data says who, whose and why (docs/privacy.md): a purpose from a
-- short list, for `other` the reason in words, and whose records when one person's were
-- asked for. Reads from before purposes are 'unstated'.
ALTER TABLE reads
    ADD COLUMN purpose text NOT NULL DEFAULT 'unstated'
        CHECK (purpose IN ('relatives', 'invoicing', 'deviation', 'police', 'other', 'handover', 'unstated')),
    ADD COLUMN note text,
    ADD COLUMN holder text;
CREATE INDEX reads_at ON reads (at);

-- The auditor's sample check of reads (HSLF-FS 2016:40 4 kap. 9 §): each read checked at
-- most once, by whom, when, with what outcome. The check is itself in the console's log.
CREATE TABLE read_checks (
    read_id     bigint      PRIMARY KEY REFERENCES reads (id),
    checked_by  text        NOT NULL,
    checked_at  timestamptz NOT NULL DEFAULT now(),
    outcome     text        NOT NULL CHECK (outcome IN ('justified', 'questioned')),
    note        text
);
