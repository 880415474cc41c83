-- Central's list as the delegated issuer (type 9), per delegation: the highest sequence it
-- signed (taken before publishing, so a list that reached some sites before a failure is
-- never followed by a lower one), and what the last list published revoked, to which sites,
-- its bytes as signed and when it was last published (again every 10 minutes, for a
-- broker that lost it).
CREATE TABLE staff_revocation_lists (
    delegation   text        PRIMARY KEY,
    sequence     bigint      NOT NULL,
    ids          text[]      NOT NULL DEFAULT '{}',
    sites        text[]      NOT NULL DEFAULT '{}',
    body         bytea,
    published_at timestamptz
);
