//! `audit verify` and `audit list`: the local store's hash chain and visit lists.

use jiff::Timestamp;
use portvakt::exit;
use portvakt::store::AuditFilter;
use portvakt::tools::{audit_anchor, audit_view, time_input};

use super::args::{AuditCommand, Cli};
use super::{Failure, fail, open_store, store_path, store_target};

pub(crate) fn audit_cmd(cli: &Cli, cmd: &AuditCommand) -> Result<String, Failure> {
    match cmd {
        AuditCommand::Verify { db, against } => {
            let kept = against
                .as_ref()
                .map(|f| std::fs::read(f).map_err(|e| fail(exit::USAGE, format!("--against {}: {e}", f.display()))))
                .transpose()?;
            let path = store_path(cli, db.as_ref())?;
            let store = open_store(&path)?;
            let report = store.verify().map_err(|e| fail(exit::STORE, e.to_string()))?;
            let anchor = audit_anchor::check(&store, kept.as_deref()).map_err(|e| fail(exit::STORE, e.to_string()))?;
            let text = audit_view::render_verify(&path.display().to_string(), &report) + &audit_anchor::render(&anchor);
            if report.first_break.is_some() || anchor.broken() {
                Err(fail(exit::DATA, text.trim_end().to_owned()))
            } else {
                Ok(text)
            }
        }
        AuditCommand::List(a) => {
            let super::StoreTarget { path, tz, uplink } = store_target(cli, a.db.as_ref())?;
            let store = open_store(&path)?;
            let time = |s: &Option<String>, flag: &str| -> Result<Option<Timestamp>, Failure> {
                s.as_deref()
                    .map(|s| time_input::parse_time(s, &tz).map_err(|e| fail(exit::USAGE, format!("--{flag}: {e}"))))
                    .transpose()
            };
            let filter = AuditFilter {
                door: a.door.clone(),
                holder: a.holder.clone(),
                since: time(&a.since, "since")?,
                until: time(&a.until, "until")?,
                limit: a.limit,
                audience: None,
            };
            let records = store.query(&filter).map_err(|e| fail(exit::STORE, e.to_string()))?;
            Ok(if a.json { audit_view::render_json(&records) } else { audit_view::render_list(&records, &tz, uplink) })
        }
    }
}
