-- What Central last published as the delegated issuer's revocation list (type 9): the
-- certificates of disabled people still valid, to every site it knew then. A new list goes
-- out when either changes; its sequence stays above the last one's.
CREATE TABLE staff_revocation_lists (
    delegation   text        PRIMARY KEY,
    sequence     bigint      NOT NULL,
    ids          text[]      NOT NULL,
    sites        text[]      NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
