//! Bundle entries and bookings from CSV. Columns (header row required, any order):
//! `id,holder,role,kind,secret,doors` and optionally `schedule,valid_from,valid_until,
//! name,group`, where `kind` is `pin`, `tag` or `phone`, `secret` the PIN, tag UID or
//! phone key (hex), `doors` door ids separated by `;`, times RFC 3339 or local
//! (`2026-12-01T07:00`) in the given zone, `name` the holder's name as people write it
//! (UTF-8; the holder's id is made from it when `holder` is empty) and `group` their
//! apartment or team. Bookings: `holder,door,start,end`. A column of another name is
//! refused, naming the known ones. Every bad row is reported with its line (as the file
//! counts them, Windows line endings too) and column; nothing is returned unless every
//! row is good. A file whose header row is separated by `;` (Excel with Swedish settings)
//! is read with `;` between columns; its `doors` are then separated by `,` (or `;` inside
//! quotes).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::core::credential::{PhoneKey, Token};
use crate::core::secret::{CredentialKey, check_pin, check_tag};
use crate::credentials::bundle::{BookingEntry, Entry};
use crate::tools::time_input::parse_time;

/// One problem in a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line in the file.
    pub line: u64,
    /// The column's name (or empty for the whole row).
    pub column: String,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column.is_empty() {
            write!(f, "line {}: {}", self.line, self.what)
        } else {
            write!(f, "line {}, column {}: {}", self.line, self.column, self.what)
        }
    }
}

struct Table {
    headers: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

/// The column separator: `;` when the header row has semicolons and no commas (Excel
/// with Swedish settings writes that), otherwise `,`.
fn separator(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    if header.contains(';') && !header.contains(',') { b';' } else { b',' }
}

/// Reads the header and the rows. `None` when the header cannot be used (unreadable, or a
/// required column missing): then the rows cannot be read either. A row with another
/// number of fields than the header is a problem of that row; the others are still read,
/// so every bad row is reported at once.
fn read_table(text: &str, required: &[&str], optional: &[&str], problems: &mut Vec<RowProblem>) -> Option<Table> {
    // Windows line endings, as Excel saves: the csv crate counts a line too many after
    // each (rust-csv#395), so lines are read with `\n` alone and named as the file has them.
    let text = text.replace("\r\n", "\n");
    let text = text.as_str();
    let sep = separator(text);
    let mut reader =
        csv::ReaderBuilder::new().delimiter(sep).trim(csv::Trim::All).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_ascii_lowercase).collect(),
        Err(e) => {
            problems.push(RowProblem { line: 1, column: String::new(), what: format!("no header row: {e}") });
            return None;
        }
    };
    let missing: Vec<&str> = required.iter().copied().filter(|r| !headers.iter().any(|h| h == r)).collect();
    if !missing.is_empty() {
        let found = headers.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ");
        problems.push(RowProblem {
            line: 1,
            column: String::new(),
            what: format!(
                "the header row lacks {} (read with '{}' between fields, it has {found}); the columns are {}",
                missing.join(", "),
                char::from(sep),
                required.join(", ")
            ),
        });
        return None;
    }
    // An empty header (a spreadsheet's trailing separator) is no column.
    let unknown = |h: &&String| !h.is_empty() && !required.contains(&h.as_str()) && !optional.contains(&h.as_str());
    for h in headers.iter().filter(unknown) {
        problems.push(RowProblem {
            line: 1,
            column: h.clone(),
            what: format!(
                "is not a column this list has (the columns are {}{})",
                required.join(", "),
                if optional.is_empty() { String::new() } else { format!(", and optionally {}", optional.join(", ")) }
            ),
        });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(r) if r.len() != headers.len() => {
                let line = r.position().map_or(0, csv::Position::line);
                let what = format!("{} field(s), but the header row has {}", r.len(), headers.len());
                problems.push(RowProblem { line, column: String::new(), what });
            }
            Ok(r) => rows.push((r.position().map_or(0, csv::Position::line), r.iter().map(str::to_owned).collect())),
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                problems.push(RowProblem { line, column: String::new(), what: e.to_string() });
            }
        }
    }
    Some(Table { headers, rows })
}

impl Table {
    fn get<'a>(&self, row: &'a [String], col: &str) -> Option<&'a str> {
        let i = self.headers.iter().position(|h| h == col)?;
        row.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }
}

fn id_ok(s: &str) -> Result<(), String> {
    crate::core::ids::CredentialId::new(s).map(|_| ()).map_err(|e| e.to_string())
}

/// Collects the problems of one row.
struct Row<'a> {
    line: u64,
    cells: &'a [String],
    table: &'a Table,
    problems: &'a mut Vec<RowProblem>,
}

impl<'a> Row<'a> {
    fn bad(&mut self, column: &str, what: impl Into<String>) {
        self.problems.push(RowProblem { line: self.line, column: column.into(), what: what.into() });
    }

    fn optional(&self, column: &str) -> Option<&'a str> {
        self.table.get(self.cells, column)
    }

    fn required(&mut self, column: &str) -> Option<&'a str> {
        let v = self.optional(column);
        if v.is_none() {
            self.bad(column, "is empty");
        }
        v
    }

    fn id(&mut self, column: &str) -> Option<&'a str> {
        let v = self.required(column)?;
        match id_ok(v) {
            Ok(()) => Some(v),
            Err(e) => {
                self.bad(column, e);
                None
            }
        }
    }

    fn time(&mut self, column: &str, tz: &TimeZone, required: bool) -> Option<Timestamp> {
        let v = if required { self.required(column) } else { self.optional(column) }?;
        parse_time(v, tz).map_err(|e| self.bad(column, e)).ok()
    }

    fn kind_and_secret(&mut self) -> Option<(&'a str, &'a str)> {
        let (kind, secret) = (self.required("kind")?, self.required("secret")?);
        let checked = match kind {
            "pin" => check_pin(secret),
            "tag" => check_tag(secret),
            "phone" => {
                PhoneKey::from_hex(secret).map(|_| ()).ok_or_else(|| "a phone key is 64 hexadecimal digits".to_owned())
            }
            other => {
                self.bad("kind", format!("\"{other}\" is not a kind; use pin, tag or phone"));
                return None;
            }
        };
        checked.map_err(|e| self.bad("secret", e)).ok().map(|()| (kind, secret))
    }
}

/// One row of a credentials list, checked, its secret still in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    /// Its line in the file.
    pub line: u64,
    /// Credential id.
    pub id: String,
    /// Holder id.
    pub holder: String,
    /// Role.
    pub role: String,
    /// `pin`, `tag` or `phone`.
    pub kind: String,
    /// The PIN, tag UID or phone key as written.
    pub secret: String,
    /// Doors.
    pub doors: Vec<smol_str::SmolStr>,
    /// An extra schedule.
    pub schedule: Option<smol_str::SmolStr>,
    /// Not valid before.
    pub valid_from: Option<Timestamp>,
    /// Not valid from then on.
    pub valid_until: Option<Timestamp>,
    /// The holder's name as people write it.
    pub name: Option<String>,
    /// Their apartment or team.
    pub group: Option<String>,
    /// The holder's id was made from the name (the `holder` column empty).
    pub holder_from_name: bool,
}

/// The optional columns of a credentials list.
pub const CREDENTIAL_OPTIONAL: [&str; 5] = ["schedule", "valid_from", "valid_until", "name", "group"];

impl CredentialRow {
    /// The bundle entry, PINs and tags hashed with `site_key`.
    pub fn entry(&self, site_key: &CredentialKey) -> Entry {
        let token = match self.kind.as_str() {
            "pin" => Token::Pin(site_key.pin(&self.secret)),
            "tag" => Token::Tag(site_key.tag(&self.secret)),
            _ => Token::Phone(PhoneKey::from_hex(&self.secret).unwrap_or(PhoneKey([0; 32]))),
        };
        Entry {
            id: self.id.as_str().into(),
            holder: self.holder.as_str().into(),
            role: self.role.as_str().into(),
            token,
            doors: self.doors.clone(),
            schedule: self.schedule.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

/// Reads credentials; PINs and tags are hashed with `site_key`.
pub fn entries(text: &str, site_key: &CredentialKey, tz: &TimeZone) -> Result<Vec<Entry>, Vec<RowProblem>> {
    credential_rows(text, tz).map(|rows| rows.iter().map(|r| r.entry(site_key)).collect())
}

/// Reads credentials, every value checked, secrets still in clear.
pub fn credential_rows(text: &str, tz: &TimeZone) -> Result<Vec<CredentialRow>, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let required = ["id", "holder", "role", "kind", "secret", "doors"];
    let Some(table) = read_table(text, &required, &CREDENTIAL_OPTIONAL, &mut problems) else {
        return Err(problems);
    };
    let mut out = Vec::with_capacity(table.rows.len());
    let mut seen = std::collections::HashMap::new();
    for (line, cells) in &table.rows {
        let mut row = Row { line: *line, cells, table: &table, problems: &mut problems };
        let name = row.optional("name").map(str::to_owned);
        let holder_from_name = row.optional("holder").is_none() && name.is_some();
        let holder = match (row.optional("holder"), &name) {
            (None, Some(n)) => crate::admin::names::id_from_name(n).or_else(|| {
                row.bad(
                    "name",
                    "no id can be made from it (no letter, or one only another script has); give the holder's id",
                );
                None
            }),
            _ => row.id("holder").map(str::to_owned),
        };
        let group = match row.optional("group") {
            Some(_) => row.id("group").map(str::to_owned),
            None => None,
        };
        let (id, role) = (row.id("id"), row.id("role"));
        if let Some(id) = id
            && let Some(first) = seen.insert(id.to_owned(), *line)
        {
            row.bad("id", format!("\"{id}\" is also on line {first}"));
        }
        let token = row.kind_and_secret();
        let doors: Vec<smol_str::SmolStr> = row
            .required("doors")
            .map(|d| d.split([';', ',', ' ']).filter(|s| !s.is_empty()).map(smol_str::SmolStr::new).collect())
            .unwrap_or_default();
        for d in &doors {
            if let Err(e) = id_ok(d) {
                row.bad("doors", e);
            }
        }
        let (valid_from, valid_until) = (row.time("valid_from", tz, false), row.time("valid_until", tz, false));
        if let (Some(a), Some(b)) = (valid_from, valid_until)
            && b <= a
        {
            row.bad("valid_until", "is not after valid_from");
        }
        let schedule = row.optional("schedule").map(smol_str::SmolStr::new);
        if let (Some(id), Some(holder), Some(role), Some((kind, secret))) = (id, holder, role, token) {
            out.push(CredentialRow {
                line: *line,
                id: id.into(),
                holder,
                role: role.into(),
                kind: kind.into(),
                secret: secret.into(),
                doors,
                schedule,
                valid_from,
                valid_until,
                name,
                group,
                holder_from_name,
            });
        }
    }
    problems.sort_by_key(|p| p.line);
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// Reads laundry bookings.
pub fn bookings(text: &str, tz: &TimeZone) -> Result<Vec<BookingEntry>, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let Some(table) = read_table(text, &["holder", "door", "start", "end"], &[], &mut problems) else {
        return Err(problems);
    };
    let mut out = Vec::new();
    for (line, cells) in &table.rows {
        let mut row = Row { line: *line, cells, table: &table, problems: &mut problems };
        let (holder, door) = (row.id("holder"), row.id("door"));
        let (start, end) = (row.time("start", tz, true), row.time("end", tz, true));
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            row.bad("end", "is not after start");
        }
        if let (Some(holder), Some(door), Some(start), Some(end)) = (holder, door, start, end) {
            out.push(BookingEntry { holder: holder.into(), door: door.into(), start, end });
        }
    }
    problems.sort_by_key(|p| p.line);
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_semicolon_separated_file_from_a_swedish_excel_is_read_as_such() {
        let csv = "id;holder;role;kind;secret;doors\n\
                   care-1;kalle;home_care;tag;04:C1:7A:22;entrance,rubbish\n\
                   care-2;lisa;home_care;pin;4711;\"entrance;rubbish\"\n";
        let e = entries(csv, &CredentialKey::from_bytes([1; 32]), &TimeZone::UTC).expect("read");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].doors, vec!["entrance", "rubbish"]);
        assert_eq!(e[1].doors, vec!["entrance", "rubbish"]);
    }

    fn key() -> CredentialKey {
        CredentialKey::from_bytes([7; 32])
    }

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Stockholm").unwrap_or(TimeZone::UTC)
    }

    #[test]
    fn reads_a_staff_export_and_hashes_secrets() {
        let csv = "id,holder,role,kind,secret,doors,schedule,valid_from,valid_until\n\
                   anna-pin,anna,resident,pin,4711,entrance,,,\n\
                   care-7,kalle,home_care,phone,"
            .to_owned()
            + &"ab".repeat(32)
            + ",entrance;rubbish,,2026-12-01T07:00,2027-06-30T22:00:00Z\n";
        let e = entries(&csv, &key(), &tz()).unwrap_or_default();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].token, Token::Pin(key().pin("4711")));
        assert_eq!(e[1].doors, vec!["entrance", "rubbish"]);
        assert_eq!(e[1].valid_from.map(|t| t.to_string()), Some("2026-12-01T06:00:00Z".into()));
    }

    #[test]
    fn reports_every_bad_row_with_line_and_column_and_returns_nothing() {
        let csv = "id,holder,role,kind,secret,doors\n\
                   ok-1,anna,resident,pin,4711,entrance\n\
                   bad-pin,bo,resident,pin,12,entrance\n\
                   ,cia,resident,tag,04:A2:19:7F,entrance\n\
                   ok-1,dan,resident,pin,9999,entrance\n\
                   x,eva,resident,card,1234,entrance\n\
                   y,Fia Ek,resident,pin,1234,entrance\n";
        let problems = entries(csv, &key(), &tz()).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        for want in [
            "line 3, column secret: a PIN is 4 to 8 digits",
            "line 4, column id: is empty",
            "line 5, column id: \"ok-1\" is also on line 2",
            "line 6, column kind: \"card\" is not a kind",
            "line 7, column holder:",
        ] {
            assert!(text.iter().any(|t| t.starts_with(want)), "missing {want:?} in {text:#?}");
        }
    }

    #[test]
    fn a_missing_column_says_what_the_header_was_read_as() {
        let problems = entries("id,holder,role,kind,secret\nx,y,resident,pin,1234\n", &key(), &tz()).unwrap_err();
        let text = problems[0].to_string();
        assert!(text.starts_with("line 1: the header row lacks doors (read with ',' between fields"), "{text}");
        let problems = entries("id|holder|role|kind|secret|doors\n", &key(), &tz()).unwrap_err();
        assert!(problems[0].to_string().contains("\"id|holder|role|kind|secret|doors\""), "{problems:?}");
    }

    #[test]
    fn lines_are_named_as_the_file_has_them_with_windows_line_endings_too() {
        let csv = "id,holder,role,kind,secret,doors\r\nok,anna,resident,pin,4711,entrance\r\n\
                   bad,bo,resident,pin,12,entrance\r\nalso-bad,cia,resident,pin,1,entrance\r\n";
        let lines: Vec<u64> = entries(csv, &key(), &tz()).unwrap_err().iter().map(|p| p.line).collect();
        assert_eq!(lines, [3, 4]);
    }

    #[test]
    fn an_unknown_column_is_refused_naming_the_known_ones() {
        let csv = "id,holder,role,kind,secret,doors,lägenhet\nx,anna,resident,pin,4711,entrance,1101\n";
        let text = entries(csv, &key(), &tz()).unwrap_err()[0].to_string();
        assert!(text.starts_with("line 1, column lägenhet: is not a column this list has"), "{text}");
        assert!(text.contains("optionally schedule, valid_from, valid_until, name, group"), "{text}");
    }

    #[test]
    fn a_name_makes_the_holders_id_when_none_is_given_and_a_group_is_read() {
        let csv = "id,holder,name,group,role,kind,secret,doors\n\
                   t1,,Åsa Öberg,lgh-1101,resident,tag,04:A2:19:7F,entrance\n\
                   t2,bo-1,Bo Ek,,resident,tag,04:A2:19:80,entrance\n";
        let rows = credential_rows(csv, &tz()).unwrap();
        assert_eq!((rows[0].holder.as_str(), rows[0].name.as_deref()), ("asa-oberg", Some("Åsa Öberg")));
        assert_eq!(rows[0].group.as_deref(), Some("lgh-1101"));
        assert_eq!((rows[1].holder.as_str(), rows[1].group.as_deref()), ("bo-1", None));
    }

    #[test]
    fn a_ragged_row_does_not_hide_the_bad_rows_after_it() {
        let csv = "id,holder,role,kind,secret,doors\n\
                   a,anna,resident,pin,1234,entrance,extra\n\
                   b,,resident,pin,12,entrance\n\
                   c,carl,resident\n";
        let problems = entries(csv, &key(), &tz()).unwrap_err();
        let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3, 3, 4], "{problems:#?}");
        assert!(problems[0].to_string().contains("7 field(s), but the header row has 6"), "{problems:?}");
    }
}
