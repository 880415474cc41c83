//! A throwaway PostgreSQL for the demo: `initdb` and `pg_ctl` from the Debian package, a
//! data directory in the demo's folder, listening on a Unix socket only (no TCP port),
//! trust authentication for the one local user. Stopped when dropped.

use std::path::{Path, PathBuf};

use super::DemoError;
use super::tools::{Tools, command, output};

/// A running throwaway cluster.
pub struct Postgres {
    pg_ctl: PathBuf,
    data: PathBuf,
    as_root: bool,
    running: bool,
    /// How to connect (a Unix socket, user `portvakt`, database `portvakt`).
    pub url: String,
    /// Its version, as `postgres --version` says it.
    pub version: String,
}

/// Runs a PostgreSQL program, as `postgres` when we are root.
fn pg_command(tools_root: bool, program: &Path) -> tokio::process::Command {
    if tools_root {
        let mut c = command(Path::new("runuser"));
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        command(program)
    }
}

impl Postgres {
    /// `initdb`, start on a socket in `dir/sock`, and create the database.
    pub async fn start(tools: &Tools, dir: &Path) -> Result<Self, DemoError> {
        Self::start_with(&tools.pg_bin, tools.as_root, dir).await
    }

    /// The same with Debian's newest PostgreSQL found by itself (Central's tests against
    /// a real PostgreSQL, which need nothing else of the demo's).
    pub async fn throwaway(dir: &Path) -> Result<Self, DemoError> {
        let pg_bin = super::tools::newest_postgres().ok_or_else(|| DemoError::Missing {
            what: "PostgreSQL (/usr/lib/postgresql/*/bin/initdb)".into(),
            hint: "apt install postgresql".into(),
        })?;
        Self::start_with(&pg_bin, super::tools::running_as_root(), dir).await
    }

    async fn start_with(pg_bin: &Path, as_root: bool, dir: &Path) -> Result<Self, DemoError> {
        let data = dir.join("pg");
        let socket = dir.join("sock");
        for d in [&data, &socket] {
            std::fs::create_dir_all(d).map_err(|e| DemoError::io(&d.display().to_string(), e))?;
        }
        if as_root {
            // initdb refuses root: the data and socket directories belong to `postgres`.
            output(
                "chown the PostgreSQL directories to postgres",
                command(Path::new("chown")).arg("postgres").arg(&data).arg(&socket),
            )
            .await?;
        }
        let version = output("postgres --version", command(&pg_bin.join("postgres")).arg("--version")).await?;
        output(
            "initdb",
            pg_command(as_root, &pg_bin.join("initdb"))
                .args(["-A", "trust", "-U", "portvakt", "-E", "UTF8", "--no-sync", "-D"])
                .arg(&data),
        )
        .await?;
        let mut pg = Self {
            pg_ctl: pg_bin.join("pg_ctl"),
            data,
            as_root,
            running: false,
            url: format!("host={} user=portvakt dbname=portvakt", socket.display()),
            version: version.split_whitespace().nth(2).unwrap_or_default().to_owned(),
        };
        let options = format!("-k {} -c listen_addresses=''", socket.display());
        output(
            "pg_ctl start",
            pg_command(pg.as_root, &pg.pg_ctl)
                .arg("-D")
                .arg(&pg.data)
                .arg("-o")
                .arg(options)
                .arg("-l")
                .arg(pg.data.join("log"))
                .args(["-w", "start"]),
        )
        .await?;
        pg.running = true;
        let admin = format!("host={} user=portvakt dbname=postgres", socket.display());
        let client = crate::db::connect(&admin).await?;
        client.batch_execute("CREATE DATABASE portvakt").await.map_err(crate::db::DbError::from)?;
        Ok(pg)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let mut c = if self.as_root {
                let mut c = std::process::Command::new("runuser");
                c.arg("-u").arg("postgres").arg("--").arg(&self.pg_ctl);
                c
            } else {
                std::process::Command::new(&self.pg_ctl)
            };
            let _ = c.arg("-D").arg(&self.data).args(["-m", "fast", "-w", "stop"]).output();
        }
    }
}
