//! Configuration problems and errors: each problem has the key path it concerns and a
//! message that says what is wrong and, where it helps, what would be right.

use std::fmt;
use std::path::PathBuf;

/// One problem with the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `doors[2].relay.unit`.
    pub path: String,
    /// What is wrong, with a hint.
    pub message: String,
    /// Where it is: `line 131, "laundry"`, `conf.d/10-site.toml line 3`, or
    /// `from PORTVAKT__SITE__ID` (none when the key is written nowhere, e.g. missing).
    pub at: Option<String>,
    /// The file the problem is known to be in (a type checked file by file).
    pub file: Option<PathBuf>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), &self.at) {
            (true, _) => f.write_str(&self.message),
            (false, None) => write!(f, "{}: {}", self.path, self.message),
            (false, Some(at)) => write!(f, "{} ({at}): {}", self.path, self.message),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid TOML (the message has line and column).
    #[error("{path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The layers merged but the result has problems; all of them are listed.
    #[error("{} problem{} in the configuration", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Invalid(Vec<Problem>),
}

/// Collects problems while validating.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into(), ..Problem::default() });
    }

    /// A problem known to be in `file`.
    pub fn push_in(&mut self, file: &std::path::Path, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into(), at: None, file: Some(file.to_path_buf()) });
    }
}
