//! `portvakt-central verify --site`: the site's chain as stored, each run of it
//! (`docs/mqtt.md`, Runs of the chain) checked again from the columns — every record's
//! hash recomputed from what PostgreSQL holds, every link to the record before, the gaps
//! from the run's first record, the equivocations, where the gap-free point stands, and
//! every signed checkpoint judged against the run's records (`anchors`).

use std::fmt::Write as _;

use portvakt_wire::chain::{Fields, GENESIS, Header, Personal, chain_hash, commitment, header_hash};
use tokio_postgres::Client;

use crate::anchors::{self, Judged};
use crate::db::DbError;

/// What the stored chain of one site looks like: each run, in the order Central first saw
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteReport {
    /// The runs.
    pub runs: Vec<Report>,
}

impl SiteReport {
    /// Whether every run is whole and untouched.
    pub fn intact(&self) -> bool {
        self.runs.iter().all(Report::intact)
    }

    /// In words.
    pub fn render(&self, site: &str) -> String {
        if self.runs.is_empty() {
            return format!("site {site}: no records stored\n");
        }
        let many = self.runs.len() > 1;
        let mut out = String::new();
        for (i, run) in self.runs.iter().enumerate() {
            if many {
                let name = if run.epoch.is_empty() { "(unnamed)" } else { run.epoch.as_str() };
                let which = if i + 1 == self.runs.len() { "current" } else { "earlier" };
                let _ = writeln!(
                    out,
                    "run {} of {} ({which}): {name}, from record {}",
                    i + 1,
                    self.runs.len(),
                    run.first_seq
                );
            }
            out.push_str(&run.render(site));
        }
        out
    }
}

/// What one run of a site's chain looks like.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The run (`''`: the unnamed run).
    pub epoch: String,
    /// Its first record.
    pub first_seq: u64,
    /// Records stored.
    pub records: u64,
    /// Records whose content no longer matches their hash (altered in the database).
    pub altered: Vec<u64>,
    /// Records that do not point at the stored record before them.
    pub unlinked: Vec<u64>,
    /// Missing ranges (first, last), inclusive, from the run's first record.
    pub gaps: Vec<(u64, u64)>,
    /// Sequence numbers that came again with another hash.
    pub equivocations: Vec<u64>,
    /// The gap-free point as the collectors left it.
    pub through: u64,
    /// Every `audit.checkpoint` record, judged.
    pub checkpoints: Vec<Judged>,
    /// Format 2 records whose personal part was erased (commitment and header kept).
    pub erased: u64,
    /// Records whose personal part, as held here, is not what was committed to.
    pub personal_altered: Vec<u64>,
}

impl Report {
    /// Whether the chain is whole and untouched.
    pub fn intact(&self) -> bool {
        self.altered.is_empty()
            && self.personal_altered.is_empty()
            && self.unlinked.is_empty()
            && self.gaps.is_empty()
            && self.equivocations.is_empty()
            && !self.checkpoints.iter().any(|c| c.outcome.failed())
    }

    /// In words.
    pub fn render(&self, site: &str) -> String {
        let mut out = String::new();
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let _ = writeln!(out, "site {site}: {} record(s) stored, acknowledged through {}", self.records, self.through);
        if self.intact() {
            let erased = if self.erased > 0 {
                format!(
                    "; {} personal part(s) erased (by retention or on request), their commitments kept",
                    self.erased
                )
            } else {
                String::new()
            };
            let _ = writeln!(out, "chain intact: every hash recomputed, every link checked, no gaps{erased}");
        }
        if !self.personal_altered.is_empty() {
            let _ = writeln!(
                out,
                "ALTERED personal parts (not what the gateway committed to): {}",
                list(&self.personal_altered)
            );
        }
        if !self.altered.is_empty() {
            let _ = writeln!(out, "ALTERED in the database (content does not match its hash): {}", list(&self.altered));
        }
        if !self.unlinked.is_empty() {
            let _ = writeln!(out, "BROKEN links (previous hash differs): {}", list(&self.unlinked));
        }
        for (a, b) in &self.gaps {
            let _ = if a == b {
                writeln!(out, "gap: record {a} missing")
            } else {
                writeln!(out, "gap: records {a}-{b} missing")
            };
        }
        if !self.equivocations.is_empty() {
            let _ = writeln!(out, "EQUIVOCATION (a second record under a known number): {}", list(&self.equivocations));
        }
        let verified: Vec<&Judged> =
            self.checkpoints.iter().filter(|c| c.outcome == anchors::Outcome::Verified).collect();
        match verified.last() {
            Some(newest) => {
                let _ = writeln!(
                    out,
                    "checkpoints: {} of {} verified with the commissioned device key; the newest covers record {} (signed {})",
                    verified.len(),
                    self.checkpoints.len(),
                    newest.covers.unwrap_or_default(),
                    newest.signed_at.map_or_else(String::new, |t| format!("{t:.0}")),
                );
            }
            None => {
                let _ = writeln!(out, "checkpoints: none verified ({} stored)", self.checkpoints.len());
            }
        }
        for c in self.checkpoints.iter().filter(|c| c.outcome != anchors::Outcome::Verified) {
            let _ = writeln!(out, "{}", c.words());
        }
        out
    }
}

/// Checks the stored chain of `site`, run by run.
pub async fn site(client: &Client, site: &str) -> Result<SiteReport, DbError> {
    let runs = client
        .query("SELECT epoch, first_seq, through FROM chains WHERE site = $1 ORDER BY first_seen, epoch", &[&site])
        .await?;
    let mut report = SiteReport::default();
    // A run begun from a restored backup keeps the device key its earlier run commissioned.
    let mut commissioned = None;
    for r in &runs {
        let epoch: String = r.get("epoch");
        let first_seq = u64::try_from(r.get::<_, i64>("first_seq")).unwrap_or(1);
        let mut run = one_run(client, site, &epoch, first_seq, &mut commissioned).await?;
        run.through = u64::try_from(r.get::<_, i64>("through")).unwrap_or(0);
        report.runs.push(run);
    }
    Ok(report)
}

async fn one_run(
    client: &Client,
    site: &str,
    epoch: &str,
    first_seq: u64,
    commissioned: &mut Option<[u8; 32]>,
) -> Result<Report, DbError> {
    let rows = client
        .query(
            "SELECT seq, (extract(epoch FROM at) * 1000)::bigint AS at_ms, trusted, kind, door, holder, credential,
                    detail, prev, hash, format, audience, commitment, salt, erased_at IS NOT NULL AS erased
             FROM records WHERE site = $1 AND epoch = $2 ORDER BY seq",
            &[&site, &epoch],
        )
        .await?;
    let mut report = Report { epoch: epoch.to_owned(), first_seq, ..Report::default() };
    let mut last: Option<(u64, [u8; 32])> = None;
    let mut hashes = std::collections::HashMap::new();
    let mut checkpoints = Vec::new();
    for r in &rows {
        let seq = u64::try_from(r.get::<_, i64>("seq")).unwrap_or(0);
        let prev: [u8; 32] = r.get::<_, Vec<u8>>("prev").try_into().map_err(|_| DbError::Damaged("prev".into()))?;
        let hash: [u8; 32] = r.get::<_, Vec<u8>>("hash").try_into().map_err(|_| DbError::Damaged("hash".into()))?;
        let (kind, detail): (String, String) = (r.get("kind"), r.get("detail"));
        let (door, holder, credential): (Option<String>, Option<String>, Option<String>) =
            (r.get("door"), r.get("holder"), r.get("credential"));
        let computed = if r.get::<_, i16>("format") == 2 {
            let committed: Option<[u8; 32]> = r.get::<_, Option<Vec<u8>>>("commitment").and_then(|c| c.try_into().ok());
            let audience: Option<String> = r.get("audience");
            let header = Header {
                at_ms: r.get("at_ms"),
                trusted: r.get("trusted"),
                kind: &kind,
                door: door.as_deref(),
                audience: audience.as_deref().unwrap_or_default(),
                commitment: committed.as_ref(),
                detail: &detail,
            };
            // A part opened here is checked against the commitment it was sealed under.
            let part = Personal { holder: holder.as_deref(), credential: credential.as_deref() };
            let salt: Option<[u8; 16]> = r.get::<_, Option<Vec<u8>>>("salt").and_then(|s| s.try_into().ok());
            let held_matches = match (salt, committed) {
                (Some(salt), Some(c)) => commitment(&salt, &part) == c,
                _ => part.is_empty(),
            };
            if !held_matches {
                report.personal_altered.push(seq);
            }
            if r.get::<_, bool>("erased") {
                report.erased += 1;
            }
            header_hash(&prev, seq, &header)
        } else {
            let fields = Fields {
                at_ms: r.get("at_ms"),
                trusted: r.get("trusted"),
                kind: &kind,
                door: door.as_deref(),
                holder: holder.as_deref(),
                credential: credential.as_deref(),
                detail: &detail,
            };
            chain_hash(&prev, seq, &fields)
        };
        if computed != hash {
            report.altered.push(seq);
        }
        let expected_from = last.map_or(first_seq, |(s, _)| s + 1);
        if seq > expected_from {
            report.gaps.push((expected_from, seq - 1));
        }
        // The first record of a run begun after record 1 links to what its `prev` names.
        let before = match last {
            Some((s, h)) if s + 1 == seq => Some(h),
            None if seq == 1 => Some(GENESIS),
            _ => None,
        };
        if before.is_some_and(|h| h != prev) {
            report.unlinked.push(seq);
        }
        last = Some((seq, hash));
        report.records += 1;
        hashes.insert(seq, hash);
        match kind.as_str() {
            "system.device_key" => *commissioned = anchors::commissioned_key(&detail),
            "audit.checkpoint" => checkpoints.push((seq, detail, *commissioned)),
            _ => {}
        }
    }
    report.checkpoints = checkpoints
        .into_iter()
        .map(|(seq, detail, key)| anchors::judge(site, seq, &detail, key, |s| hashes.get(&s).copied()))
        .collect();
    report.equivocations = client
        .query("SELECT DISTINCT seq FROM equivocations WHERE site = $1 AND epoch = $2 ORDER BY seq", &[&site, &epoch])
        .await?
        .iter()
        .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
        .collect();
    Ok(report)
}
