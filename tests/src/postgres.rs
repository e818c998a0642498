//! A throwaway PostgreSQL server for tests: `initdb` in a fresh temporary
//! folder, the server on 127.0.0.1 (a free port) and on a unix socket in
//! that folder, `fsync=off`, stopped and deleted at the end.
//!
//! ```no_run
//! use nuages_e2e::postgres::PostgresServer;
//! // None: PostgreSQL is not installed and CI is not set (the test skips,
//! // with a printed reason). With CI=true a missing server fails instead.
//! let Some(server) = PostgresServer::shared() else { return };
//! let url = server.create_database(); // a new, empty database
//! // url = "postgres://nuages:…@127.0.0.1:PORT/test_1"
//! assert_eq!(server.psql(&server.database_of(&url), "SELECT 1"), "1");
//! ```
//!
//! - [`PostgresServer::shared`]: one server per test process, started on
//!   first use (initdb + start take 1–3 s). A watchdog process stops it and
//!   deletes its folder once the test process is gone: Rust never drops
//!   statics.
//! - [`PostgresServer::start`]: a server of the test's own, stopped and
//!   deleted when dropped (and by the same watchdog if the test is killed).
//! - [`PostgresServer::create_database`]: a fresh database owned by
//!   [`USER`] and its URL, with the password: TCP connections authenticate
//!   with scram-sha-256, so a wrong password fails as it would in production.
//! - [`PostgresServer::psql`]: run SQL as the superuser over the unix socket
//!   (no password) and get the rows back, to assert what a command wrote.
//!
//! PostgreSQL refuses to run as root: as root, the server runs as the
//! `postgres` system user (`runuser`), in a folder given to that user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::wait_for;

/// A database a test body runs on: the same body runs once per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A fresh database of the [`PostgresServer::shared`] server.
    Postgres,
}

impl Backend {
    /// The URL for a new database of this backend: `sqlite_url` as given,
    /// or a fresh PostgreSQL database; `None` when PostgreSQL is not
    /// installed outside CI (the test then returns early, skipped).
    pub fn url(self, sqlite_url: &str) -> Option<String> {
        match self {
            Backend::Sqlite => Some(sqlite_url.to_string()),
            Backend::Postgres => Some(PostgresServer::shared()?.create_database()),
        }
    }
}

/// Declare each named test function (`fn NAME(backend: Backend)`, or
/// `async fn` after `async:`) twice, in modules `sqlite` and `postgres`,
/// so one body is run against both databases:
///
/// ```ignore
/// nuages_e2e::on_both_databases!(async: index_lists_questions, voting; sync: seed);
/// nuages_e2e::on_both_databases!(sync: migrate_then_showmigrations);
/// ```
#[macro_export]
macro_rules! on_both_databases {
    ($(async: $($async_name:ident),+ $(;)?)? $(sync: $($sync_name:ident),+ $(,)?)?) => {
        $crate::on_both_databases!(@module sqlite, Sqlite; $($($async_name),*)?; $($($sync_name),*)?);
        $crate::on_both_databases!(@module postgres, Postgres; $($($async_name),*)?; $($($sync_name),*)?);
    };
    (@module $module:ident, $backend:ident; $($async_name:ident),*; $($sync_name:ident),*) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $async_name() {
                    super::$async_name($crate::postgres::Backend::$backend).await
                }
            )*
            $(
                #[test]
                fn $sync_name() {
                    super::$sync_name($crate::postgres::Backend::$backend)
                }
            )*
        }
    };
}

/// The role the databases belong to (not a superuser).
pub const USER: &str = "nuages";
/// Its password, checked with scram-sha-256 on TCP connections.
pub const PASSWORD: &str = "nuages-test-pw";

/// A running PostgreSQL server of the test process.
#[derive(Debug)]
pub struct PostgresServer {
    bin: PathBuf,
    /// The temporary folder: data/ and the socket.
    dir: PathBuf,
    port: u16,
    /// `runuser -u postgres --` prefix when running as root.
    run_as: Option<String>,
    child: Option<Child>,
    /// Stops the server once the test process is gone (see [`Self::watch`]).
    watchdog: Option<Child>,
    databases: AtomicUsize,
}

/// The bin folder of the newest PostgreSQL installed (Debian's layout,
/// `/usr/lib/postgresql/<major>/bin`, else `pg_config --bindir`), if any.
/// With `CI` set a missing PostgreSQL panics: `.ci/run` installs it.
pub fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|major| major.file_name())
            .and_then(|major| major.to_str()?.parse::<u32>().ok())
    });
    let from_pg_config = || {
        let output = Command::new("pg_config").arg("--bindir").output().ok()?;
        let bin = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
        bin.join("initdb").is_file().then_some(bin)
    };
    if let Some(bin) = found.pop().or_else(from_pg_config) {
        return Some(bin);
    }
    if std::env::var_os("CI").is_some() {
        panic!("PostgreSQL (initdb, postgres) is missing: .ci/run must install it");
    }
    eprintln!("SKIPPED: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)");
    None
}

impl PostgresServer {
    /// The server shared by the tests of this process, started on first
    /// use; `None` when PostgreSQL is not installed outside CI.
    pub fn shared() -> Option<&'static PostgresServer> {
        static SHARED: OnceLock<Option<PostgresServer>> = OnceLock::new();
        SHARED.get_or_init(PostgresServer::start).as_ref()
    }

    /// A new server of the caller's own, stopped and deleted on drop;
    /// `None` when PostgreSQL is not installed outside CI.
    pub fn start() -> Option<PostgresServer> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("nuages-pg-")
            .tempdir()
            .unwrap()
            .keep();
        // SAFETY: geteuid has no preconditions.
        let run_as = (unsafe { libc::geteuid() } == 0).then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            let (uid, gid) = user_ids(user);
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let mut server = PostgresServer {
            bin,
            dir,
            port: crate::free_port(),
            run_as,
            child: None,
            watchdog: None,
            databases: AtomicUsize::new(0),
        };
        server.watchdog = Some(server.watch(std::process::id()));
        server.init();
        server.child = Some(server.spawn());
        let ready = wait_for(Duration::from_secs(30), || {
            let output = server.psql_command("postgres", "SELECT 1").output().ok()?;
            output.status.success().then_some(())
        });
        assert!(
            ready.is_some(),
            "PostgreSQL did not start: {}",
            std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default()
        );
        server.psql(
            "postgres",
            &format!("CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{PASSWORD}'"),
        );
        Some(server)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder of the unix socket (`?host=` of a URL).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of `database` as [`USER`] with its password, over TCP.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// A new empty database owned by [`USER`]; its URL ([`Self::url`]).
    pub fn create_database(&self) -> String {
        let number = self.databases.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("test_{number}");
        self.psql("postgres", &format!("CREATE DATABASE {name} OWNER {USER}"));
        self.url(&name)
    }

    /// Stop (`SIGSTOP`) or continue (`SIGCONT`) the postmaster: a server
    /// that takes connections and never answers them, as a hung or
    /// overloaded one, and back.
    pub fn pause(&self, paused: bool) {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid")).unwrap();
        let pid: libc::pid_t = pid_file.lines().next().unwrap().trim().parse().unwrap();
        let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: signalling the server this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// The database name of a URL made by [`Self::url`].
    pub fn database_of(&self, url: &str) -> String {
        url.rsplit('/').next().unwrap().to_string()
    }

    /// Run `sql` in `database` as the superuser; the rows, one a line,
    /// columns separated by `|`. Panics with psql's message on an error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = self.psql_command(database, sql).output().unwrap();
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn psql_command(&self, database: &str, sql: &str) -> Command {
        // Over the socket with `trust`: any OS user may connect as postgres.
        let mut command = Command::new(self.bin.join("psql"));
        command
            .arg("-h")
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdin(Stdio::null());
        command
    }

    /// `program` of PostgreSQL, as the `postgres` user when root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn init(&self) {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(self.data())
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C"])
            .stdin(Stdio::null())
            .output()
            .expect("initdb runs");
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn spawn(&self) -> Child {
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        self.command("postgres")
            .arg("-D")
            .arg(self.data())
            .arg("-k")
            .arg(&self.dir)
            // `::1` too where the machine has it (a failed bind is only a
            // warning), for the URLs that name an IPv6 server.
            .args(["-p", &self.port.to_string(), "-h", "127.0.0.1,::1"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("postgres starts")
    }

    /// A watchdog that, once `pid` (the test process) has exited, stops
    /// the server and deletes its folder: statics are never dropped.
    fn watch(&self, pid: u32) -> Child {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {}",
            self.stop_script()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts")
    }

    /// Shell: fast shutdown of the postmaster (its pid is the first line of
    /// postmaster.pid), wait up to 10 s, then delete the folder.
    fn stop_script(&self) -> String {
        let dir = self.dir.display();
        format!(
            "p=$(head -n1 '{dir}/data/postmaster.pid' 2>/dev/null); \
             if [ -n \"$p\" ]; then kill -INT \"$p\" 2>/dev/null; \
             for i in $(seq 100); do kill -0 \"$p\" 2>/dev/null || break; sleep 0.1; done; \
             kill -KILL \"$p\" 2>/dev/null; fi; rm -rf '{dir}'"
        )
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = Command::new("sh")
            .args(["-c", &self.stop_script()])
            .status();
        for child in [&mut self.child, &mut self.watchdog].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The uid and gid of a system user.
fn user_ids(user: &str) -> (u32, u32) {
    let name = std::ffi::CString::new(user).unwrap();
    // SAFETY: getpwnam with a NUL-terminated name; the record is read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(!entry.is_null(), "no system user {user}");
    // SAFETY: non-null, just returned by getpwnam.
    unsafe { ((*entry).pw_uid, (*entry).pw_gid) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_serves_databases_and_is_gone_after_drop() {
        let Some(server) = PostgresServer::start() else {
            return;
        };
        let first = server.create_database();
        let second = server.create_database();
        assert_ne!(first, second);
        let name = server.database_of(&first);
        server.psql(&name, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)");
        assert_eq!(server.psql(&name, "SELECT x FROM t"), "42");
        assert_eq!(
            server.psql(
                "postgres",
                &format!(
                    "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'"
                )
            ),
            USER
        );
        let dir = server.dir.clone();
        let port = server.port();
        drop(server);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
