//! A private PostgreSQL cluster for demos: its own data directory, listening only on a Unix
//! socket inside that directory (no TCP port, nothing shared with a system server).
//!
//! Layout under the given directory: `data/` (the cluster), `run/` (the socket),
//! `postgres.log`. PostgreSQL refuses to run as root, so when the effective uid is 0 the
//! server programs run through `runuser -u postgres --` and the directory is handed to that
//! user (its parent directories must be traversable by it).

use crate::error::PersistenceError;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running private cluster; stopped on drop.
#[derive(Debug)]
pub struct PrivateCluster {
    root: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    running: bool,
}

fn cluster_err(msg: impl Into<String>) -> PersistenceError {
    PersistenceError::Cluster(msg.into())
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: `PATH` first, else the highest
/// version under `/usr/lib/postgresql/*/bin`.
pub fn find_server_binaries() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if complete(&dir) {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e
                .file_name()
                .to_str()?
                .split('.')
                .next()?
                .parse::<u32>()
                .ok()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    // `id -u` avoids an unsafe libc call for one number.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Percent-encodes a path for a libpq URI query value.
fn encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl PrivateCluster {
    /// Initialises the cluster if `dir` holds none yet, starts it and creates the `desk`
    /// database if missing.
    pub fn start(dir: impl AsRef<Path>) -> Result<PrivateCluster, PersistenceError> {
        let bin = find_server_binaries().ok_or_else(|| {
            cluster_err("PostgreSQL server programs (initdb, pg_ctl, postgres) not found")
        })?;
        std::fs::create_dir_all(dir.as_ref())
            .map_err(|e| cluster_err(format!("cannot create the directory: {e}")))?;
        let root = std::fs::canonicalize(dir.as_ref()).map_err(|e| cluster_err(e.to_string()))?;
        std::fs::create_dir_all(root.join("run")).map_err(|e| cluster_err(e.to_string()))?;
        let mut cluster = PrivateCluster {
            root,
            bin,
            as_postgres: is_root(),
            running: false,
        };
        if cluster.as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.root)
                .status()
                .map_err(|e| cluster_err(format!("chown: {e}")))?;
            if !status.success() {
                return Err(cluster_err(
                    "cannot hand the directory to the postgres user",
                ));
            }
        }
        if !cluster.data_dir().join("PG_VERSION").exists() {
            let data = cluster.data_dir();
            cluster.run(
                "initdb",
                &[
                    "-D",
                    path_str(&data)?,
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
            )?;
        }
        // A cluster left running (by an earlier test process, say) is reused as it is.
        if PgConnection::establish(&cluster.admin_url()).is_ok() {
            cluster.running = true;
            cluster.create_database("desk")?;
            return Ok(cluster);
        }
        let options = format!(
            "-k {} -c listen_addresses='' -p 5432",
            cluster.socket_dir().display()
        );
        let (data, log) = (cluster.data_dir(), cluster.root.join("postgres.log"));
        cluster.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&log)?,
                "-o",
                &options,
            ],
        )?;
        cluster.running = true;
        cluster.create_database("desk")?;
        Ok(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The directory holding the server's socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    fn url_for(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?host={}&user=postgres",
            encode(&self.socket_dir().to_string_lossy())
        )
    }

    /// The URL of the `desk` database (libpq form `postgres:///desk?host=/abs/run&user=postgres`).
    pub fn database_url(&self) -> String {
        self.url_for("desk")
    }

    /// The URL of the maintenance database `postgres`.
    pub fn admin_url(&self) -> String {
        self.url_for("postgres")
    }

    fn create_database(&self, name: &str) -> Result<(), PersistenceError> {
        let mut conn = PgConnection::establish(&self.admin_url())
            .map_err(|e| PersistenceError::Connect(e.to_string()))?;
        let exists: bool = diesel::select(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "EXISTS (SELECT 1 FROM pg_database WHERE datname = ",
            )
            .bind::<diesel::sql_types::Text, _>(name)
            .sql(")"),
        )
        .get_result(&mut conn)?;
        if !exists {
            conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        }
        Ok(())
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), PersistenceError> {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let output = cmd
            .args(args)
            .output()
            .map_err(|e| cluster_err(format!("{program}: {e}")))?;
        if !output.status.success() {
            return Err(cluster_err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(())
    }

    /// Stops the server (`pg_ctl stop -m fast`). Also done on drop.
    pub fn stop(&mut self) -> Result<(), PersistenceError> {
        if !self.running {
            return Ok(());
        }
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &["stop", "-w", "-m", "fast", "-D", path_str(&data)?],
        )?;
        self.running = false;
        Ok(())
    }
}

fn path_str(path: &Path) -> Result<&str, PersistenceError> {
    path.to_str()
        .ok_or_else(|| cluster_err(format!("path is not UTF-8: {}", path.display())))
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("stopping the private PostgreSQL cluster: {e}");
        }
    }
}
