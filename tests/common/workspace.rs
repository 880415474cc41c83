//! An authority's workspace on the example building, for the tests of `portvakt-admin`'s
//! workspace: made, run and edited by hand as a person would.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

const ADMIN: &str = env!("CARGO_BIN_EXE_portvakt-admin");

/// The example building's config and keys in a temporary folder, and an authority's
/// workspace for it (`ws/`), driven through `portvakt-admin` as a person would.
pub struct Authority {
    /// The folder: `etc/` (the config), `ws/` (the workspace), `inbox/`.
    pub dir: tempfile::TempDir,
}

impl Authority {
    /// The example building's config and keys, and a workspace of `id` (`class`, its
    /// private key at `key`) with the example site added from its config.
    pub fn new(id: &str, class: &str, key: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        super::daemon::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config"), &etc);
        for f in ["secrets/credential-hash.key", key] {
            std::fs::set_permissions(etc.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
        let a = Self { dir };
        a.ok(&["init", "--authority", id, "--class", class, "--key", key]);
        let inbox = a.path("inbox");
        let said = a.ok(&[
            "site",
            "add",
            "storgatan-12",
            "--site-key",
            "secrets/credential-hash.key",
            "--config",
            "portvakt.toml",
            "--inbox",
            &inbox,
        ]);
        assert!(said.contains(&format!("{id} may grant")), "{said}");
        a
    }

    pub fn municipality() -> Self {
        Self::new("hemtjansten", "municipality", "secrets/authorities/municipality.key")
    }

    pub fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(ADMIN)
            .arg("--workspace")
            .arg(self.path("ws"))
            .args(args)
            .current_dir(self.dir.path().join("etc"))
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.run(args);
        assert_eq!(code, 0, "portvakt-admin {args:?}:\n{out}");
        out
    }

    pub fn refused(&self, args: &[&str], words: &[&str]) -> String {
        let (code, out) = self.run(args);
        assert_ne!(code, 0, "portvakt-admin {args:?} should be refused:\n{out}");
        for w in words {
            assert!(out.contains(w), "portvakt-admin {args:?}: no {w:?} in:\n{out}");
        }
        out
    }

    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.path().join("ws").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}:\n{text}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    pub fn line_of(&self, file: &str, what: &str) -> usize {
        let text = std::fs::read_to_string(self.dir.path().join("ws").join(file)).unwrap();
        text.lines().position(|l| l.contains(what)).unwrap() + 1
    }

    pub fn inbox_files(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("inbox")).unwrap().count()
    }
}

impl Authority {
    /// The owner's workspace with the example residents.
    pub fn owner_with_residents() -> Self {
        let o = Self::new("owner", "owner", "secrets/authorities/owner.key");
        o.ok(&["import", "--csv", "example-residents.csv"]);
        o
    }

    /// `holders.toml` as it is.
    pub fn holders(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ws/holders.toml")).unwrap()
    }
}
