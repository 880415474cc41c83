//! Stored cells read defensively. SQLite keeps any type in any column, so a row written
//! by hand or damaged on the card can hold text where a number belongs, NULL where the
//! schema says NOT NULL (after a hand-made table), or a number too large for its field.
//! The rows the gateway restores are read cell by cell through these functions: each
//! says what it expected and what it found, so the caller can refuse the row (and audit
//! it) instead of failing the whole read and the daemon's start with it.

use rusqlite::Row;
use rusqlite::types::ValueRef;

/// What a cell was expected to hold and what it held instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The column.
    pub column: &'static str,
    /// What was expected.
    pub expected: &'static str,
    /// What was found (its SQLite type).
    pub found: &'static str,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "column {} holds {} where {} belongs", self.column, self.found, self.expected)
    }
}

fn found(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

fn cell<'r>(row: &'r Row<'_>, idx: usize) -> ValueRef<'r> {
    // The index comes from the caller's own SELECT: out of range is a programming error,
    // read as NULL so that the row is refused rather than the daemon stopped.
    row.get_ref(idx).unwrap_or(ValueRef::Null)
}

/// A text cell (UTF-8).
pub fn text(row: &Row<'_>, idx: usize, column: &'static str) -> Result<String, Damage> {
    match cell(row, idx) {
        ValueRef::Text(t) => std::str::from_utf8(t).map(str::to_owned).map_err(|_| Damage {
            column,
            expected: "UTF-8 text",
            found: "text that is not UTF-8",
        }),
        other => Err(Damage { column, expected: "text", found: found(other) }),
    }
}

/// A text cell or NULL.
pub fn text_or_null(row: &Row<'_>, idx: usize, column: &'static str) -> Result<Option<String>, Damage> {
    match cell(row, idx) {
        ValueRef::Null => Ok(None),
        _ => text(row, idx, column).map(Some),
    }
}

/// An integer cell.
pub fn integer(row: &Row<'_>, idx: usize, column: &'static str) -> Result<i64, Damage> {
    match cell(row, idx) {
        ValueRef::Integer(i) => Ok(i),
        other => Err(Damage { column, expected: "an integer", found: found(other) }),
    }
}

/// An integer cell or NULL.
pub fn integer_or_null(row: &Row<'_>, idx: usize, column: &'static str) -> Result<Option<i64>, Damage> {
    match cell(row, idx) {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        other => Err(Damage { column, expected: "an integer or NULL", found: found(other) }),
    }
}

/// A blob cell; NULL reads as empty when `null_is_empty`.
pub fn blob(row: &Row<'_>, idx: usize, column: &'static str, null_is_empty: bool) -> Result<Vec<u8>, Damage> {
    match cell(row, idx) {
        ValueRef::Blob(b) => Ok(b.to_vec()),
        ValueRef::Null if null_is_empty => Ok(Vec::new()),
        other => Err(Damage { column, expected: "a blob", found: found(other) }),
    }
}

/// A cell's value, or `instead` with what was wrong with it added to `damage`.
pub fn or_noted<T>(read: Result<T, Damage>, instead: T, damage: &mut Vec<String>) -> T {
    read.unwrap_or_else(|d| {
        damage.push(d.to_string());
        instead
    })
}

/// A cell as text for naming the row in a message, whatever it holds.
pub fn shown(row: &Row<'_>, idx: usize) -> String {
    match cell(row, idx) {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T>(value: &str, f: impl Fn(&Row<'_>) -> T) -> T {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.query_row(&format!("SELECT {value}"), [], |r| Ok(f(r))).unwrap()
    }

    #[test]
    fn each_kind_of_cell_is_read_when_it_holds_what_belongs_and_named_when_not() {
        assert_eq!(read("'entrance'", |r| text(r, 0, "door")), Ok("entrance".to_owned()));
        assert_eq!(read("x'00ff'", |r| text(r, 0, "door")).unwrap_err().found, "a blob");
        assert_eq!(read("NULL", |r| text_or_null(r, 0, "door")), Ok(None));
        assert_eq!(read("42", |r| integer(r, 0, "streak")), Ok(42));
        let e = read("'42'", |r| integer(r, 0, "streak")).unwrap_err();
        assert_eq!(e.to_string(), "column streak holds text where an integer belongs");
        assert_eq!(read("1.5", |r| integer_or_null(r, 0, "until")).unwrap_err().found, "a real number");
        assert_eq!(read("NULL", |r| blob(r, 0, "seal", true)), Ok(Vec::new()));
        assert_eq!(read("NULL", |r| blob(r, 0, "seal", false)).unwrap_err().found, "NULL");
        assert_eq!(read("'abc'", |r| blob(r, 0, "seal", true)).unwrap_err().found, "text");
        assert_eq!(read("x'0102'", |r| shown(r, 0)), "a blob of 2 bytes");
    }
}
