//! Layered loading with the `config` crate: the main file, then `conf.d/*.toml` beside
//! it in name order, then `PORTVAKT__SECTION__KEY` environment variables (later wins).
//! Built-in defaults are the serde defaults of the raw form. Each file is read and
//! syntax-checked on its own first, so an error names the file, line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::{Environment, File, FileFormat};

use super::problems::ConfigError;
use super::{Config, validate};

/// Where the daemon looks when no `--config` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/portvakt/portvakt.toml";

/// The prefix of environment overrides (`PORTVAKT__SITE__NAME=...`).
pub const ENV_PREFIX: &str = "PORTVAKT";

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The main file; `conf.d/` next to it is read too.
    pub path: PathBuf,
    /// Environment variables to consider (only `PORTVAKT__*` ones are used).
    pub env: Vec<(String, String)>,
}

impl LoadOptions {
    /// Loads `path` with no environment overrides.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), env: Vec::new() }
    }

    /// Adds this process's `PORTVAKT__*` environment variables as the last layer.
    #[must_use]
    pub fn with_process_env(mut self) -> Self {
        self.env = std::env::vars().collect();
        self
    }
}

fn layer_files(main: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = vec![main.to_path_buf()];
    let dir = main.parent().unwrap_or(Path::new(".")).join("conf.d");
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            let mut extra: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            extra.sort();
            files.extend(extra);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(ConfigError::Unreadable { path: dir, source }),
    }
    Ok(files)
}

/// Loads and validates the configuration; every problem is reported at once.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigError> {
    let files = layer_files(&opts.path)?;
    let mut layers = Vec::with_capacity(files.len());
    for path in files {
        let text =
            std::fs::read_to_string(&path).map_err(|source| ConfigError::Unreadable { path: path.clone(), source })?;
        layers.push((path, text));
    }
    from_layers(&layers, &opts.env, &opts.path)
}

/// Merges layers already read (the main file first, each with the path it came from),
/// then the `PORTVAKT__*` variables among `env`, and validates the result. Paths in the
/// config are relative to `main`'s folder. This is [`load`] without the file reading;
/// the config fuzz target enters here.
pub fn from_layers(layers: &[(PathBuf, String)], env: &[(String, String)], main: &Path) -> Result<Config, ConfigError> {
    let mut builder = config::Config::builder();
    let mut typed = super::problems::Problems::default();
    for (path, text) in layers {
        // Syntax-check this file alone so the error names it; then its values' types.
        let alone = config::Config::builder()
            .add_source(File::from_str(text, FileFormat::Toml))
            .build()
            .map_err(|e| ConfigError::Syntax { path: path.clone(), message: e.to_string() })?;
        if let Ok(root) = alone.cache.into_table() {
            super::strict::check(config::Value::new(None, config::ValueKind::Table(root)), path, &mut typed);
        }
        builder = builder.add_source(File::from_str(text, FileFormat::Toml));
    }
    let prefix = format!("{ENV_PREFIX}__");
    let overrides: config::Map<String, String> = env.iter().filter(|(k, _)| k.starts_with(&prefix)).cloned().collect();
    builder = builder.add_source(
        Environment::with_prefix(ENV_PREFIX).prefix_separator("__").separator("__").source(Some(overrides)),
    );
    let merged =
        builder.build().map_err(|e| ConfigError::Syntax { path: main.to_path_buf(), message: e.to_string() })?;
    let root: BTreeMap<String, config::Value> = merged
        .try_deserialize()
        .map_err(|e| ConfigError::Syntax { path: main.to_path_buf(), message: e.to_string() })?;
    let base = main.parent().unwrap_or(Path::new(".")).to_path_buf();
    let validated = validate::validate(root, &base, layers.iter().map(|(p, _)| p.clone()).collect());
    let mut problems = match (validated, typed.0) {
        (result, typed) if typed.is_empty() => match result {
            Err(ConfigError::Invalid(problems)) => problems,
            other => return other,
        },
        (Err(ConfigError::Invalid(mut problems)), typed) => {
            // A type the file check found is the merged check's too: say it once, with its file.
            problems.retain(|p| !(p.message.starts_with("invalid type") && typed.iter().any(|t| t.path == p.path)));
            problems.extend(typed);
            problems
        }
        (Err(other), _) => return Err(other),
        (Ok(_), typed) => typed,
    };
    super::locate::locate(&mut problems, layers, env, main);
    Err(ConfigError::Invalid(problems))
}

/// Where the running daemon's control socket is, read leniently from a configuration
/// that may not validate (a half-edited file while the daemon runs on the one it loaded):
/// `daemon.control_socket` from the files that parse and the environment, else the
/// default. Tools that only talk to the daemon use this when the config has problems.
pub fn control_socket_of(opts: &LoadOptions) -> PathBuf {
    let base = opts.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut builder = config::Config::builder();
    for path in layer_files(&opts.path).unwrap_or_else(|_| vec![opts.path.clone()]) {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let source = File::from_str(&text, FileFormat::Toml);
        if config::Config::builder().add_source(source.clone()).build().is_ok() {
            builder = builder.add_source(source);
        }
    }
    let prefix = format!("{ENV_PREFIX}__");
    let env: config::Map<String, String> = opts.env.iter().filter(|(k, _)| k.starts_with(&prefix)).cloned().collect();
    builder = builder
        .add_source(Environment::with_prefix(ENV_PREFIX).prefix_separator("__").separator("__").source(Some(env)));
    builder
        .build()
        .ok()
        .and_then(|c| c.get_string("daemon.control_socket").ok())
        .map_or_else(|| PathBuf::from(super::DEFAULT_CONTROL_SOCKET), |s| base.join(s))
}
