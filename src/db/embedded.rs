//! A private PostgreSQL cluster for zero-configuration runs and for tests.
//!
//! The cluster lives under `<data dir>/postgres`, listens only on a Unix socket inside that
//! directory (no TCP port) and trusts local connections: the directory is private to the user
//! that owns the cluster, which is what keeps other users out. PostgreSQL refuses to run as
//! root, so as root every PostgreSQL program runs as the `postgres` user.

use std::ffi::OsStr;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use nix::unistd::{Gid, Uid, User};
use tokio::process::Command;

/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 107;
const PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";
const CONFIG_FILE: &str = "marginalia.conf";

/// Places searched for PostgreSQL's server programs after `PATH`.
const INSTALL_GLOBS: &[&str] = &[
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql*/bin",
    "/usr/local/opt/postgresql*/bin",
    "/opt/local/lib/postgresql*/bin",
];

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found on PATH nor in {searched}.\n\
         Install them (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install postgresql-server`; \
         macOS: `brew install postgresql`), or set DATABASE_URL to use an existing server."
    )]
    BinariesNotFound { searched: String },
    #[error(
        "running as root, but there is no `postgres` user to run PostgreSQL as \
         (PostgreSQL refuses to run as root). Create one (`useradd --system postgres`), \
         run Marginalia as an ordinary user, or set DATABASE_URL."
    )]
    NoPostgresUser,
    #[error("{path} exists but is not a PostgreSQL data directory and is not empty; move it away or choose another MARGINALIA_DATA_DIR")]
    NotAClusterDirectory { path: String },
    #[error("the socket path {path} is {len} bytes, over the 107-byte limit of Unix sockets; choose a shorter MARGINALIA_DATA_DIR")]
    SocketPathTooLong { path: String, len: usize },
    #[error("{action} failed: {detail}")]
    Command { action: String, detail: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("the private PostgreSQL cluster at {pgdata} did not accept connections: {detail}")]
    Unreachable { pgdata: String, detail: String },
}

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// How a cluster is tuned.
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions {
    /// Flush every commit to disk. Only throwaway test clusters turn this off.
    pub durable: bool,
}

/// Whether `start` found the cluster already running (left by a process that was killed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    AlreadyRunning,
}

/// A private cluster under a data directory.
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    pgdata: PathBuf,
    run_as: Option<(Uid, Gid)>,
}

impl EmbeddedPostgres {
    /// Prepares (but does not start) the cluster under `<data_dir>/postgres`.
    pub fn new(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let bin_dir = locate_binaries()?;
        std::fs::create_dir_all(data_dir)
            .map_err(io_error(format!("creating {}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io_error(format!("resolving {}", data_dir.display())))?;
        let run_as = if Uid::effective().is_root() {
            let user = User::from_name(SUPERUSER)
                .ok()
                .flatten()
                .ok_or(EmbeddedError::NoPostgresUser)?;
            Some((user.uid, user.gid))
        } else {
            None
        };
        let cluster = Self {
            bin_dir,
            pgdata: data_dir.join("postgres"),
            run_as,
        };
        let socket = cluster.socket_path();
        let len = socket.as_os_str().len();
        if len > MAX_SOCKET_PATH {
            return Err(EmbeddedError::SocketPathTooLong {
                path: socket.display().to_string(),
                len,
            });
        }
        Ok(cluster)
    }

    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    fn socket_path(&self) -> PathBuf {
        self.pgdata.join(format!(".s.PGSQL.{PORT}"))
    }

    /// A connection string for `database` through the cluster's socket.
    pub fn database_url(&self, database: &str) -> String {
        // Key/value form: a socket directory needs no escaping there unless it has spaces or quotes.
        let host = self
            .pgdata
            .display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('\'', "\\'");
        format!("host='{host}' port={PORT} user={SUPERUSER} dbname={database}")
    }

    /// Initializes the cluster on first use, then starts it unless it is already running.
    /// A `postmaster.pid` left by a crash is handled by PostgreSQL itself; a crash can also
    /// leave backends holding shared memory for a moment, so start is retried briefly.
    pub async fn start(&self, options: ClusterOptions) -> Result<StartOutcome, EmbeddedError> {
        if !self.pgdata.join("PG_VERSION").exists() {
            self.init().await?;
        }
        self.write_config(options)?;
        if self.postmaster_alive() {
            if self.wait_until_reachable(10).await.is_ok() {
                return Ok(StartOutcome::AlreadyRunning);
            }
        } else {
            // The pid file names a postmaster that is gone, or a zombie not reaped yet, which
            // PostgreSQL would still take for a running server. Orphaned backends are no risk:
            // PostgreSQL refuses to start while they hold the old shared memory, and the
            // retries below wait for them to exit.
            let stale = self.pgdata.join("postmaster.pid");
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .map_err(io_error(format!("removing the stale {}", stale.display())))?;
            }
        }
        let log = self.pgdata.join("server.log");
        let mut last_error = None;
        for attempt in 0..5u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
            let result = self
                .run(
                    "pg_ctl",
                    [
                        OsStr::new("start"),
                        OsStr::new("-D"),
                        self.pgdata.as_os_str(),
                        OsStr::new("-l"),
                        log.as_os_str(),
                        OsStr::new("-w"),
                        OsStr::new("-t"),
                        OsStr::new("60"),
                        OsStr::new("-s"),
                    ],
                    "starting PostgreSQL",
                )
                .await;
            match result {
                Ok(()) => {
                    self.wait_until_reachable(60).await?;
                    return Ok(StartOutcome::Started);
                }
                Err(error) => last_error = Some(error),
            }
        }
        let log_tail = std::fs::read_to_string(&log)
            .map(|text| {
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(10)..].join("\n")
            })
            .unwrap_or_default();
        Err(match last_error {
            Some(EmbeddedError::Command { action, detail }) => EmbeddedError::Command {
                action,
                detail: format!("{detail}\nlast lines of {}:\n{log_tail}", log.display()),
            },
            Some(other) => other,
            None => EmbeddedError::Unreachable {
                pgdata: self.pgdata.display().to_string(),
                detail: log_tail,
            },
        })
    }

    /// Stops the cluster, letting open transactions finish or roll back cleanly.
    pub async fn stop(&self) -> Result<(), EmbeddedError> {
        self.run(
            "pg_ctl",
            [
                OsStr::new("stop"),
                OsStr::new("-D"),
                self.pgdata.as_os_str(),
                OsStr::new("-m"),
                OsStr::new("fast"),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("60"),
                OsStr::new("-s"),
            ],
            "stopping PostgreSQL",
        )
        .await
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> Result<(), EmbeddedError> {
        let unreachable = |detail: String| EmbeddedError::Unreachable {
            pgdata: self.pgdata.display().to_string(),
            detail,
        };
        let mut conn = AsyncPgConnection::establish(&self.database_url("postgres"))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let exists: Vec<i32> =
            diesel::sql_query("SELECT 1 AS one FROM pg_database WHERE datname = $1")
                .bind::<diesel::sql_types::Text, _>(database)
                .load::<One>(&mut conn)
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .into_iter()
                .map(|row| row.one)
                .collect();
        if exists.is_empty() {
            let quoted = format!("\"{}\"", database.replace('"', "\"\""));
            diesel::sql_query(format!("CREATE DATABASE {quoted}"))
                .execute(&mut conn)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
        }
        Ok(())
    }

    /// Starts a detached watcher that stops the cluster and deletes its files once process `pid`
    /// is gone, however it ended. Test harnesses use it so that no throwaway cluster outlives
    /// the test run.
    pub fn discard_when_process_exits(&self, pid: u32) -> Result<(), EmbeddedError> {
        let script = r#"while [ -d "/proc/$0" ]; do sleep 0.5; done; "$1" stop -D "$2" -m immediate -s; rm -rf "$2""#;
        let mut command = self.command(Path::new("sh"));
        command
            .arg("-c")
            .arg(script)
            .arg(pid.to_string())
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(&self.pgdata)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        command
            .spawn()
            .map(drop)
            .map_err(io_error("starting the cluster watcher"))
    }

    async fn init(&self) -> Result<(), EmbeddedError> {
        if self.pgdata.exists() {
            let mut entries = std::fs::read_dir(&self.pgdata)
                .map_err(io_error(format!("reading {}", self.pgdata.display())))?;
            if entries.next().is_some() {
                return Err(EmbeddedError::NotAClusterDirectory {
                    path: self.pgdata.display().to_string(),
                });
            }
        } else {
            std::fs::create_dir(&self.pgdata)
                .map_err(io_error(format!("creating {}", self.pgdata.display())))?;
        }
        std::fs::set_permissions(&self.pgdata, std::fs::Permissions::from_mode(0o700))
            .map_err(io_error(format!("restricting {}", self.pgdata.display())))?;
        self.hand_over(&self.pgdata)?;
        self.run(
            "initdb",
            [
                OsStr::new("-D"),
                self.pgdata.as_os_str(),
                OsStr::new("-U"),
                OsStr::new(SUPERUSER),
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--no-locale"),
                OsStr::new("--no-instructions"),
            ],
            "initializing the PostgreSQL cluster (initdb)",
        )
        .await?;
        let main_config = self.pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&main_config)
            .map_err(io_error(format!("reading {}", main_config.display())))?;
        text.push_str(&format!("\ninclude_if_exists = '{CONFIG_FILE}'\n"));
        std::fs::write(&main_config, text)
            .map_err(io_error(format!("writing {}", main_config.display())))
    }

    /// Rewritten at every start so that a moved data directory still gets the right socket path.
    fn write_config(&self, options: ClusterOptions) -> Result<(), EmbeddedError> {
        let socket_dir = self.pgdata.display().to_string().replace('\'', "''");
        let mut config = format!(
            "# Written by Marginalia at every start; edits here are overwritten.\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_directories = '{socket_dir}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n"
        );
        if !options.durable {
            config.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.pgdata.join(CONFIG_FILE);
        std::fs::write(&path, config).map_err(io_error(format!("writing {}", path.display())))?;
        self.hand_over(&path)
    }

    /// As root, gives a path to the `postgres` user so the server can use it.
    fn hand_over(&self, path: &Path) -> Result<(), EmbeddedError> {
        if let Some((uid, gid)) = self.run_as {
            nix::unistd::chown(path, Some(uid), Some(gid)).map_err(|errno| EmbeddedError::Io {
                context: format!("giving {} to the postgres user", path.display()),
                source: io::Error::from(errno),
            })?;
        }
        Ok(())
    }

    /// Whether the postmaster named in `postmaster.pid` is alive, without running a program: cheap
    /// enough to ask twice a second.
    pub fn postmaster_alive(&self) -> bool {
        let pid = std::fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok());
        // Signal 0 checks that the process exists; a killed postmaster whose parent has not
        // reaped it yet still exists, as a zombie (state `Z` in /proc).
        pid.is_some_and(|pid| {
            let exists = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            });
            exists && !zombie
        })
    }

    /// Watches the cluster until `stopping` resolves, restarting it with backoff whenever its
    /// postmaster dies (killed, out of memory). Requests meanwhile get prompt 503s from the pool.
    pub async fn supervise(
        &self,
        options: ClusterOptions,
        stopping: impl std::future::Future<Output = ()>,
        on_restart: impl Fn(),
    ) {
        const CHECK_EVERY: Duration = Duration::from_millis(500);
        const BACKOFF_MAX: Duration = Duration::from_secs(10);
        let watch = async {
            loop {
                tokio::time::sleep(CHECK_EVERY).await;
                if self.postmaster_alive() {
                    continue;
                }
                tracing::error!(pgdata = %self.pgdata.display(), "the private PostgreSQL cluster died; restarting it");
                let mut backoff = Duration::from_millis(250);
                loop {
                    match self.start(options).await {
                        Ok(_) => {
                            on_restart();
                            tracing::info!("the private PostgreSQL cluster is running again");
                            break;
                        }
                        Err(error) => {
                            tracing::error!(%error, retry_in_ms = backoff.as_millis() as u64, "restarting the private cluster failed");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(BACKOFF_MAX);
                        }
                    }
                }
            }
        };
        tokio::select! {
            _ = watch => {}
            () = stopping => {}
        }
    }

    async fn wait_until_reachable(&self, seconds: u64) -> Result<(), EmbeddedError> {
        let url = self.database_url("postgres");
        let mut last = String::new();
        for _ in 0..seconds * 10 {
            match AsyncPgConnection::establish(&url).await {
                Ok(_) => return Ok(()),
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(EmbeddedError::Unreachable {
            pgdata: self.pgdata.display().to_string(),
            detail: last,
        })
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command.current_dir("/");
        // The server must use exactly our socket, port and directory, whatever the caller's PG* say.
        for name in [
            "PGDATA",
            "PGPORT",
            "PGHOST",
            "PGUSER",
            "PGDATABASE",
            "PGOPTIONS",
        ] {
            command.env_remove(name);
        }
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid.as_raw()).gid(gid.as_raw());
        }
        command
    }

    async fn run<I, S>(&self, program: &str, args: I, action: &str) -> Result<(), EmbeddedError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = self
            .command(&self.bin_dir.join(program))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(io_error(format!("running {program}")))?;
        if output.status.success() {
            return Ok(());
        }
        let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if detail.is_empty() {
            detail = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        if self.run_as.is_some() && detail.contains("Permission denied") {
            detail.push_str(
                "\nhint: as root, PostgreSQL runs as the `postgres` user, which must be able to \
                 reach the data directory; make its parent directories world-searchable (chmod o+x) \
                 or choose another MARGINALIA_DATA_DIR",
            );
        }
        Err(EmbeddedError::Command {
            action: action.to_owned(),
            detail,
        })
    }
}

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    one: i32,
}

/// Finds the directory holding `initdb`, `pg_ctl` and `postgres`: first on `PATH`, then in the
/// usual install places, newest major version first.
pub fn locate_binaries() -> Result<PathBuf, EmbeddedError> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|program| dir.join(program).is_file())
    };
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let pg_ctl = dir.join("pg_ctl");
            if pg_ctl.is_file() {
                // Debian links the programs into PATH one by one; use their real directory.
                let real_dir = pg_ctl
                    .canonicalize()
                    .ok()
                    .and_then(|real| real.parent().map(Path::to_path_buf))
                    .unwrap_or(dir);
                if has_all(&real_dir) {
                    return Ok(real_dir);
                }
            }
        }
    }
    let mut candidates: Vec<PathBuf> = INSTALL_GLOBS
        .iter()
        .flat_map(|pattern| expand_glob(pattern))
        .filter(|dir| has_all(dir))
        .collect();
    candidates.sort_by_key(|dir| std::cmp::Reverse(major_version(dir)));
    candidates
        .into_iter()
        .next()
        .ok_or_else(|| EmbeddedError::BinariesNotFound {
            searched: INSTALL_GLOBS.join(", "),
        })
}

/// Expands one `*` in the last-but-one path component, which is all the install places need.
fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let (Some(parent), Some(leaf)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let (Some(grand), Some(wild)) = (parent.parent(), parent.file_name()) else {
        return Vec::new();
    };
    let wild = wild.to_string_lossy();
    let Some((prefix, suffix)) = wild.split_once('*') else {
        return vec![path.to_path_buf()];
    };
    let Ok(entries) = std::fs::read_dir(grand) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .map(|entry| entry.path().join(leaf))
        .collect()
}

/// The first number in a path such as `/usr/lib/postgresql/15/bin`, for picking the newest.
fn major_version(dir: &Path) -> u32 {
    dir.to_string_lossy()
        .split(|c: char| !c.is_ascii_digit())
        .find_map(|digits| digits.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_install_places() {
        assert_eq!(major_version(Path::new("/usr/lib/postgresql/15/bin")), 15);
        assert_eq!(major_version(Path::new("/usr/pgsql-16/bin")), 16);
        assert_eq!(major_version(Path::new("/usr/local/pgsql/bin")), 0);
    }

    #[test]
    fn glob_expansion_lists_matching_directories() {
        let root = tempfile_dir();
        for version in ["14", "16"] {
            std::fs::create_dir_all(root.join("postgresql").join(version).join("bin")).unwrap();
        }
        let pattern = format!("{}/postgresql/*/bin", root.display());
        let mut found = expand_glob(&pattern);
        found.sort();
        assert_eq!(
            found,
            vec![
                root.join("postgresql/14/bin"),
                root.join("postgresql/16/bin")
            ]
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("marginalia-glob-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn connection_strings_quote_the_socket_directory() {
        let cluster = EmbeddedPostgres {
            bin_dir: PathBuf::from("/usr/bin"),
            pgdata: PathBuf::from("/srv/it's here/postgres"),
            run_as: None,
        };
        assert_eq!(
            cluster.database_url("marginalia"),
            r"host='/srv/it\'s here/postgres' port=5432 user=postgres dbname=marginalia"
        );
    }
}
