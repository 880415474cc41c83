//! The batch's four statements (`super`'s steps 1–4) and their preparing, once per
//! connection.

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use crate::db::DbError;

/// Begins new runs, locks every run of the batch, moves the sites of begun runs to them,
/// and returns each run's state: (site, run, through, through hash, broken at, begun). A
/// run that exists is only locked (`FOR UPDATE`, in (site, run) order: no new row version);
/// one that does not is inserted. A run another collector began after this statement's
/// snapshot comes back from neither: the transaction is run again (rare; the row is then seen).
const RUNS: &str = "
WITH r AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[])
        AS r(site, epoch, first_seq, through, through_hash)),
new AS (
    INSERT INTO chains AS c (site, epoch, first_seq, through, through_hash)
    SELECT site, epoch, first_seq, through, through_hash FROM r
    WHERE NOT EXISTS (SELECT 1 FROM chains o WHERE o.site = r.site AND o.epoch = r.epoch)
    ORDER BY site, epoch
    ON CONFLICT (site, epoch) DO NOTHING
    RETURNING c.site, c.epoch, c.through, c.through_hash, c.broken_at, true AS begun),
old AS (
    SELECT c.site, c.epoch, c.through, c.through_hash, c.broken_at, false AS begun
    FROM chains c JOIN r ON c.site = r.site AND c.epoch = r.epoch
    ORDER BY c.site, c.epoch
    FOR UPDATE OF c),
up AS (SELECT * FROM new UNION ALL SELECT * FROM old),
latest AS (SELECT DISTINCT ON (site) site, epoch FROM up WHERE begun ORDER BY site, epoch DESC),
moved AS (
    INSERT INTO sites AS s (site, epoch, replaced_at)
    SELECT l.site, l.epoch,
           CASE WHEN EXISTS (SELECT 1 FROM chains o WHERE o.site = l.site AND o.epoch <> l.epoch)
                  OR (SELECT count(*) FROM up b WHERE b.site = l.site AND b.begun) > 1 THEN now() END
    FROM latest l ORDER BY l.site
    ON CONFLICT (site) DO UPDATE SET epoch = excluded.epoch,
        replaced_at = CASE WHEN s.epoch IS DISTINCT FROM excluded.epoch THEN now() ELSE excluded.replaced_at END
    RETURNING s.site)
SELECT site, epoch, through, through_hash, broken_at, begun FROM up ORDER BY site, epoch";

/// Inserts the records (each key once) and returns, per key, the hash inserted now or the
/// one stored before (looked up only for a key not inserted now).
const RECORDS: &str = "
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bool[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::bytea[], $12::bytea[], $13::bytea[], $14::int2[],
                         $15::text[], $16::bytea[], $17::bytea[], $18::bytea[]) WITH ORDINALITY
        AS u(site, epoch, seq, at_ms, trusted, kind, door, holder, credential, detail, prev, hash, payload, format,
             audience, commitment, salt, sealed, ord)),
ins AS (
    INSERT INTO records (site, epoch, seq, at, trusted, kind, door, holder, credential, detail, prev, hash, payload,
                         format, audience, commitment, salt, sealed)
    SELECT site, epoch, seq, TIMESTAMPTZ 'epoch' + at_ms * INTERVAL '1 millisecond', trusted, kind, door, holder,
           credential, detail, prev, hash, payload, format, audience, commitment, salt, sealed
    FROM u ORDER BY site, epoch, seq, ord -- of two copies of one key, the first to arrive is kept
    ON CONFLICT (site, epoch, seq) DO NOTHING
    RETURNING site, epoch, seq, hash)
SELECT k.site, k.epoch, k.seq, ins.hash AS inserted,
       CASE WHEN ins.hash IS NULL THEN
           (SELECT r.hash FROM records r WHERE r.site = k.site AND r.epoch = k.epoch AND r.seq = k.seq) END AS stored
FROM (SELECT DISTINCT site, epoch, seq FROM u) k
LEFT JOIN ins ON ins.site = k.site AND ins.epoch = k.epoch AND ins.seq = k.seq";

/// The records after each run's gap-free point (at most 1 000 a run), in order.
const LINKS: &str = "
SELECT u.site, u.epoch, l.seq, l.prev, l.hash
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(site, epoch, through)
CROSS JOIN LATERAL (SELECT seq, prev, hash FROM records r
                    WHERE r.site = u.site AND r.epoch = u.epoch AND r.seq > u.through
                    ORDER BY seq LIMIT 1000) l
ORDER BY u.site, u.epoch, l.seq";

/// Moves every run's gap-free point, sets the doors whose forced state changed (by their
/// latest door record by seq in the site's current run; a forced door keeps the time it
/// was first seen forced), tells the console which sites changed, and returns the sites
/// whose doors changed.
const ADVANCE: &str = "
WITH u AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::bigint[])
        AS u(site, epoch, through, through_hash, broken_at)),
moved AS (
    UPDATE chains c SET through = u.through, through_hash = u.through_hash, broken_at = u.broken_at,
                        last_record = now()
    FROM u WHERE c.site = u.site AND c.epoch = u.epoch
    RETURNING c.site),
latest AS (
    SELECT DISTINCT ON (r.site, r.door) r.site, r.door, r.kind
    FROM records r
    JOIN unnest($6::text[], $7::text[]) AS q(site, door) ON r.site = q.site AND r.door = q.door
    JOIN sites s ON s.site = r.site AND s.epoch = r.epoch
    WHERE r.kind IN ('door.forced_open', 'door.closed')
    ORDER BY r.site, r.door, r.seq DESC),
forced AS (
    INSERT INTO doors AS d (site, door, forced_at)
    SELECT site, door, CASE WHEN kind = 'door.forced_open' THEN now() END FROM latest ORDER BY site, door
    ON CONFLICT (site, door) DO UPDATE SET forced_at =
        CASE WHEN excluded.forced_at IS NULL THEN NULL ELSE coalesce(d.forced_at, excluded.forced_at) END
    WHERE (d.forced_at IS NULL) <> (excluded.forced_at IS NULL)
    RETURNING d.site),
told AS (SELECT pg_notify($9, s) FROM unnest($8::text[]) AS s)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM told) AS told,
       ARRAY(SELECT DISTINCT site FROM forced) AS changed";

/// The batch's four statements, prepared on one connection (a statement prepared on
/// another connection is not known on this one: prepare again after connecting again).
pub struct Prepared {
    pub(super) records: Statement,
    pub(super) runs: Statement,
    pub(super) links: Statement,
    pub(super) advance: Statement,
}

impl Prepared {
    /// Prepares the statements on `client` (four round trips, once per connection).
    pub async fn on(client: &Client) -> Result<Self, DbError> {
        let text = Type::TEXT_ARRAY;
        let (int8, bytea) = (Type::INT8_ARRAY, Type::BYTEA_ARRAY);
        let records = [
            &text,
            &text,
            &int8,
            &int8,
            &Type::BOOL_ARRAY,
            &text,
            &text,
            &text,
            &text,
            &text,
            &bytea,
            &bytea,
            &bytea,
            &Type::INT2_ARRAY,
            &text,
            &bytea,
            &bytea,
            &bytea,
        ]
        .map(Clone::clone);
        Ok(Self {
            records: client.prepare_typed(RECORDS, &records).await?,
            runs: client
                .prepare_typed(RUNS, &[text.clone(), text.clone(), int8.clone(), int8.clone(), bytea.clone()])
                .await?,
            links: client.prepare_typed(LINKS, &[text.clone(), text.clone(), int8.clone()]).await?,
            advance: client
                .prepare_typed(
                    ADVANCE,
                    &[
                        text.clone(),
                        text.clone(),
                        int8.clone(),
                        bytea,
                        int8,
                        text.clone(),
                        text.clone(),
                        text,
                        Type::TEXT,
                    ],
                )
                .await?,
        })
    }
}
