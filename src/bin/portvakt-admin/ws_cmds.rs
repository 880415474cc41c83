//! The workspace's verbs from the command line: load the workspace, change one thing,
//! save it, say what changed. Publishing is in `ws_publish`.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};

use portvakt::admin::workspace::Workspace;
use portvakt::admin::workspace::edit::door_list;
use portvakt::admin::workspace::files::{Access, BookingSpec, Group, Holder, MqttDelivery, Settings};
use portvakt::admin::workspace::policy_file::{SpanSpec, WindowSpec, span, window};

use crate::ws_args::{CredentialCommand, GroupCommand, HolderCommand, SiteCommand, SiteDoors, WsCommand};
use crate::ws_time_args::{BookingCommand, HolidayCommand, HoursCommand};

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn windows(list: &[String]) -> anyhow::Result<Vec<WindowSpec>> {
    list.iter().map(|w| window(w).map_err(|e| anyhow!("--window: {e}"))).collect()
}

fn spans(list: &[String]) -> anyhow::Result<Vec<SpanSpec>> {
    list.iter().map(|s| span(s).map_err(|e| anyhow!("--open: {e}"))).collect()
}

/// `--site S --doors a,b` as access (the site defaults to the workspace's only one).
fn access(ws: &Workspace, d: &SiteDoors) -> anyhow::Result<Option<(String, Vec<String>)>> {
    match &d.doors {
        None if d.site.is_some() => bail!("--site without --doors: say which doors"),
        None => Ok(None),
        Some(doors) => Ok(Some((ws.site_or_only(d.site.as_deref())?, door_list(doors)))),
    }
}

/// Runs one verb; `init` makes the workspace, every other loads it first.
pub(crate) fn run(dir: &Path, command: WsCommand) -> anyhow::Result<String> {
    if let WsCommand::Init { authority, class, key, timezone, valid_days, reissue_every_days } = command {
        return init(
            dir,
            Settings {
                authority,
                class,
                key,
                timezone,
                valid_days,
                reissue_every_days,
                sites: std::collections::BTreeMap::default(),
            },
        );
    }
    let mut ws = Workspace::load(dir)?;
    match &command {
        WsCommand::Site(SiteCommand::List) => return site_list(&ws),
        WsCommand::Holder(HolderCommand::List) => return Ok(holder_list(&ws)),
        WsCommand::Booking(BookingCommand::List) => return Ok(booking_list(&ws)),
        WsCommand::Hours(HoursCommand::Show { site }) => return hours_show(&ws, site.as_deref()),
        _ => {}
    }
    let said = match command {
        WsCommand::Init { .. } => unreachable!("handled above"),
        WsCommand::Site(c) => site(&mut ws, c)?,
        WsCommand::Holder(c) => holder(&mut ws, c)?,
        WsCommand::Credential(c) => credential(&mut ws, c)?,
        WsCommand::Group(c) => group(&mut ws, c)?,
        WsCommand::Booking(c) => booking(&mut ws, c)?,
        WsCommand::Import { csv, site } => {
            let site = ws.site_or_only(site.as_deref())?;
            ws.import_csv(&read_text(&csv)?, &site)?
        }
        WsCommand::Hours(c) => hours(&mut ws, c)?,
        WsCommand::Holiday(c) => holiday(&mut ws, c)?,
        other => return crate::ws_publish::run(&ws, other),
    };
    ws.save()?;
    Ok(format!(
        "{said}\n(in the workspace; `portvakt-admin diff` shows what the next bundle changes, `publish` sends it)\n"
    ))
}

fn init(dir: &Path, settings: Settings) -> anyhow::Result<String> {
    if dir.join("workspace.toml").exists() {
        bail!("{} already holds a workspace", dir.display());
    }
    if !matches!(settings.class.as_str(), "owner" | "municipality" | "contractor") {
        bail!("--class: \"{}\" is not owner, municipality or contractor", settings.class);
    }
    portvakt::core::ids::AuthorityId::new(&settings.authority).map_err(|e| anyhow!("--authority: {e}"))?;
    jiff::tz::TimeZone::get(&settings.timezone)
        .map_err(|_| anyhow!("--timezone: \"{}\" is not an IANA zone", settings.timezone))?;
    std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    let key = std::path::absolute(&settings.key).unwrap_or_else(|_| settings.key.clone());
    portvakt::credentials::keys::read_private(&key)?;
    let ws = Workspace::new(dir, Settings { key, ..settings });
    ws.save()?;
    Ok(format!(
        "workspace of {} ({}) in {}\nnext: `portvakt-admin site add <site> --site-key FILE --config portvakt.toml --inbox DIR`\n",
        ws.settings.authority,
        ws.settings.class,
        dir.display()
    ))
}

fn site(ws: &mut Workspace, c: SiteCommand) -> anyhow::Result<String> {
    match c {
        SiteCommand::Add { id, site_key, config, inbox, broker, ca_file, cert_file, key_file } => {
            let text = config.as_deref().map(read_text).transpose()?;
            let abs = |p: Option<std::path::PathBuf>| p.map(|p| std::path::absolute(&p).unwrap_or(p));
            let mut said = ws.site_add(&id, abs(site_key).as_deref(), text.as_deref(), abs(inbox).as_deref())?;
            if let Some(broker) = broker {
                portvakt_wire::broker::parse_broker(&broker).map_err(|e| anyhow!("--broker: {e}"))?;
                let s = ws.settings.sites.entry(id.clone()).or_default();
                s.mqtt = Some(MqttDelivery {
                    broker: broker.clone(),
                    topic_root: "portvakt".into(),
                    ca_file: abs(ca_file),
                    cert_file: abs(cert_file),
                    key_file: abs(key_file),
                });
                let _ = write!(said, ", published to {broker}");
            }
            Ok(said)
        }
        SiteCommand::List => unreachable!("read-only, handled first"),
    }
}

fn site_list(ws: &Workspace) -> anyhow::Result<String> {
    let mut out = String::new();
    for (id, s) in &ws.settings.sites {
        let last = portvakt::admin::workspace::publish::read_issued(&ws.issued_path(id))?;
        let to = s
            .inbox
            .as_ref()
            .map(|p| p.display().to_string())
            .or_else(|| s.mqtt.as_ref().map(|m| m.broker.clone()))
            .unwrap_or_else(|| "nowhere yet (--inbox or --broker)".into());
        let _ = writeln!(
            out,
            "{id}: doors {}; delivered to {to}; last issued {}",
            if s.doors.is_empty() { "not imported".into() } else { s.doors.join(", ") },
            last.map_or("nothing".into(), |b| format!("version {} (expires {})", b.version, b.not_after))
        );
    }
    Ok(out)
}

fn holder(ws: &mut Workspace, c: HolderCommand) -> anyhow::Result<String> {
    Ok(match c {
        HolderCommand::Add { id, name, role, group, doors, schedule, valid_from, valid_until } => {
            let mut a = Access::new();
            if let Some((site, d)) = access(ws, &doors)? {
                a.insert(site, d);
            }
            let id = match (id, &name) {
                (Some(id), _) => id,
                (None, Some(n)) => portvakt::admin::names::id_from_name(n)
                    .ok_or_else(|| anyhow!("--name {n:?} has no letter or digit to make an id from: give the id"))?,
                (None, None) => bail!("give the holder's id, or --name to make one from"),
            };
            let holder =
                Holder { name, role, group, access: a, schedule, valid_from, valid_until, credentials: Vec::new() };
            ws.holder_add(&id, holder)?
        }
        HolderCommand::Change { id, role, group, no_group, doors, valid_until } => {
            let own = access(ws, &doors)?;
            ws.holder_change(&id, |h| {
                if let Some(r) = role {
                    h.role = r;
                }
                if group.is_some() {
                    h.group = group;
                }
                if no_group {
                    h.group = None;
                }
                if let Some((site, d)) = own {
                    if d.is_empty() {
                        h.access.remove(&site);
                    } else {
                        h.access.insert(site, d);
                    }
                }
                if let Some(v) = valid_until {
                    h.valid_until = if v == "none" { None } else { Some(v) };
                }
            })?
        }
        HolderCommand::Remove { id, revoke } => {
            let carried = issued_ids(ws, &id)?;
            let mut said = ws.holder_remove(&id, revoke)?;
            if !revoke && !carried.is_empty() {
                let _ = write!(
                    said,
                    "\nnote: {} are in bundles already issued and open doors until the next one is taken in; to stop them at once (lost, or someone who must not get in): `portvakt-admin credential revoke {}`",
                    carried.join(", "),
                    carried.join(" ")
                );
            }
            said
        }
        HolderCommand::List => unreachable!("read-only, handled first"),
    })
}

fn holder_list(ws: &Workspace) -> String {
    let mut out = String::new();
    for (id, h) in &ws.holders.holders {
        let sites: Vec<String> = ws
            .settings
            .sites
            .keys()
            .filter_map(|s| {
                let d = ws.doors_at(h, s);
                (!d.is_empty()).then(|| format!("{s}: {}", d.join(", ")))
            })
            .collect();
        let creds: Vec<String> = h.credentials.iter().map(|c| format!("{} {}", c.kind, c.id)).collect();
        let group = h.group.as_ref().map(|g| format!(", {g}")).unwrap_or_default();
        let name = h.name.as_ref().map(|n| format!("{n} ")).unwrap_or_default();
        let _ = writeln!(out, "{name}{id} ({}{group}) {} | {}", h.role, sites.join("; "), creds.join(", "));
    }
    out
}

/// The credential ids of `holder` in the last bundles issued.
fn issued_ids(ws: &Workspace, holder: &str) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = issued_entries(ws)?.into_iter().filter(|(_, h)| h == holder).map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Every credential id in the last bundles issued.
fn issued_credentials(ws: &Workspace) -> anyhow::Result<Vec<String>> {
    Ok(issued_entries(ws)?.into_iter().map(|(id, _)| id).collect())
}

/// (credential id, holder) of every entry in the last bundles issued to each site.
fn issued_entries(ws: &Workspace) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for site in ws.settings.sites.keys() {
        if let Some(b) = portvakt::admin::workspace::publish::read_issued(&ws.issued_path(site))? {
            out.extend(b.entries.iter().map(|e| (e.id.to_string(), e.holder.to_string())));
        }
    }
    Ok(out)
}

fn credential(ws: &mut Workspace, c: CredentialCommand) -> anyhow::Result<String> {
    Ok(match c {
        CredentialCommand::Add { holder, id, tag, pin, phone_key, doors } => {
            let doors = doors.as_deref().map(door_list).unwrap_or_default();
            let (kind, value) = match (tag, pin, phone_key) {
                (Some(t), None, None) => ("tag", t),
                (None, Some(p), None) if p == "-" => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s).context("reading the PIN from standard input")?;
                    ("pin", s.trim().to_owned())
                }
                (None, Some(p), None) => ("pin", p),
                (None, None, Some(k)) => ("phone", k),
                _ => bail!("give one of --tag, --pin or --phone-key"),
            };
            ws.credential_add(&holder, &id, kind, &value, doors)?
        }
        CredentialCommand::Revoke { ids, phone_keys } => ws.revoke(&ids, &phone_keys)?,
        CredentialCommand::Remove { id, revoke } => {
            let issued = issued_credentials(ws)?.contains(&id);
            let mut said = ws.credential_remove(&id, revoke)?;
            if !revoke && issued {
                let _ = write!(
                    said,
                    "\nnote: {id} is in a bundle already issued and opens doors until the next one is taken in; if it is lost or stolen, revoke it too, so it stops at once: `portvakt-admin credential revoke {id}`"
                );
            }
            said
        }
    })
}

fn group(ws: &mut Workspace, c: GroupCommand) -> anyhow::Result<String> {
    Ok(match c {
        GroupCommand::Add { id, name, doors } => {
            let mut a = Access::new();
            if let Some((site, d)) = access(ws, &doors)? {
                a.insert(site, d);
            }
            ws.group_add(&id, Group { name, access: a })?
        }
        GroupCommand::Doors { id, doors } => {
            let (site, d) = access(ws, &doors)?.ok_or_else(|| anyhow!("--doors: say which doors (\"\" for none)"))?;
            ws.group_doors(&id, &site, &d)?
        }
        GroupCommand::Remove { id } => ws.group_remove(&id)?,
    })
}

fn booking(ws: &mut Workspace, c: BookingCommand) -> anyhow::Result<String> {
    Ok(match c {
        BookingCommand::Add { site, door, holder, group, start, end } => {
            let site = ws.site_or_only(site.as_deref())?;
            let b = BookingSpec { start, end, site, door, holder, group, uid: None };
            ws.booking_add_coming(b, jiff::Timestamp::now())?
        }
        BookingCommand::Remove { site, door, start, by } => {
            let site = ws.site_or_only(site.as_deref())?;
            ws.booking_remove(&site, &door, &start, by.as_deref())?
        }
        BookingCommand::Import { ics, site, door, replace } => {
            let site = ws.site_or_only(site.as_deref())?;
            ws.import_ics(&read_text(&ics)?, &site, &door, replace, jiff::Timestamp::now())?
        }
        BookingCommand::List => unreachable!("read-only, handled first"),
    })
}

fn booking_list(ws: &Workspace) -> String {
    let tz = ws.timezone();
    let now = jiff::Timestamp::now();
    let mut out = String::new();
    for b in &ws.bookings.bookings {
        if portvakt::tools::time_input::parse_time(&b.end, &tz).is_ok_and(|e| e > now) {
            let _ = writeln!(out, "{}", portvakt::admin::workspace::bookings::describe_booking(b));
        }
    }
    out
}

fn hours(ws: &mut Workspace, c: HoursCommand) -> anyhow::Result<String> {
    Ok(match c {
        HoursCommand::Show { .. } => unreachable!("read-only, handled first"),
        HoursCommand::DoorCode { site, windows: w, on_holiday } => {
            let site = ws.site_or_only(site.as_deref())?;
            ws.door_code_hours(&site, windows(&w)?, on_holiday.as_deref())?
        }
        HoursCommand::FreePassage { site, door, windows: w, off } => {
            let site = ws.site_or_only(site.as_deref())?;
            ws.free_passage_hours(&site, &door, if off { Vec::new() } else { windows(&w)? })?
        }
        HoursCommand::Schedule { name, site, windows: w, on_holiday } => {
            let site = ws.site_or_only(site.as_deref())?;
            let w = if w.is_empty() { None } else { Some(windows(&w)?) };
            ws.schedule_set(&site, &name, w, on_holiday.as_deref())?
        }
    })
}

fn hours_show(ws: &Workspace, site: Option<&str>) -> anyhow::Result<String> {
    let site = ws.site_or_only(site)?;
    let mut out = String::new();
    for (name, what, whose) in ws.hours_in_force(&site) {
        let _ = writeln!(out, "{name:<24} {what}   ({whose})");
    }
    let code =
        ws.policies.get(&site).and_then(|p| p.door_code.as_ref()).map(|c| format!("{} (owner)", c.schedule)).or_else(
            || ws.bases.get(&site).and_then(|b| b.door_code.as_ref()).map(|c| format!("{} (config)", c.schedule)),
        );
    let _ = writeln!(out, "door code hours: {}", code.unwrap_or_else(|| "not known (import the config)".into()));
    Ok(out)
}

fn holiday(ws: &mut Workspace, c: HolidayCommand) -> anyhow::Result<String> {
    Ok(match c {
        HolidayCommand::Add { site, date, schedules, open } => {
            let site = ws.site_or_only(site.as_deref())?;
            ws.holiday_add(&site, &date, &schedules, spans(&open)?)?
        }
        HolidayCommand::Remove { site, date, schedules } => {
            let site = ws.site_or_only(site.as_deref())?;
            ws.holiday_remove(&site, &date, &schedules)?
        }
    })
}
