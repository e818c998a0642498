//! Databases: one sqlx pool per `[databases.<alias>]`, opened on first use.
//!
//! Pools are sqlx's `Any` pools: a URL works when this build has the driver
//! of its scheme (SQLite and PostgreSQL). SQLite, the default, gets its
//! folder created, WAL journaling, a busy timeout and foreign keys on every
//! connection; commands that need a database already made or only read
//! use [`Databases::get_existing`] and [`Databases::get_read_only`],
//! which create nothing. A URL without a driver, a SQLite URL without a file or an
//! in-memory one, `max_connections = 0`, and a `databases` setting without
//! `default` are refused when the application is built and when a command
//! opens the database, and reported by `check` (`nuages.E011`, `E050`,
//! `E051`) with the same words. A server that cannot be
//! reached, refuses the credentials or has no such database is an error
//! naming the setting, the server and the fix, never the password.
//! Requests that need a pool while it is being opened share that one
//! attempt and its error; after a failure, they fail at once with it for
//! [`BACKOFF`], then one tries again.
//!
//! SQL that runs on both: `$1, $2…` placeholders (sqlx's SQLite driver
//! binds `$N` by number too), `i64` for any integer column (PostgreSQL's
//! INT4 and INT8 both decode into it), text for timestamps.
//!
//! ```
//! use nuages::db::Db;
//! async fn count(Db(pool): Db) -> nuages::Result<String> {
//!     let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM polls_question").fetch_one(&pool).await?;
//!     Ok(n.to_string())
//! }
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::extract::FromRequestParts;
use http::request::Parts;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::breaker::{Breaker, Refusal};
use crate::conf::{DatabaseSettings, Settings};
use crate::error::{Error, Problem, Result};

/// A database driver installed in sqlx's `Any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Driver {
    /// The database's name, as sqlx gives it (`SQLite`).
    pub name: &'static str,
    /// The URL schemes it answers to (`sqlite`).
    pub schemes: &'static [&'static str],
}

impl Driver {
    const fn of<DB: sqlx::Database>() -> Driver {
        Driver {
            name: DB::NAME,
            schemes: DB::URL_SCHEMES,
        }
    }
}

/// The drivers `sqlx::any::install_default_drivers` installs in this
/// build, read from sqlx's own database types: those of the sqlx features
/// the workspace enables. A test connects with every scheme sqlx knows and
/// fails if this list and what sqlx installed differ, so enabling a
/// feature (`postgres`) means adding its type here (`sqlx::Postgres`).
pub(crate) const DRIVERS: &[Driver] =
    &[Driver::of::<sqlx::Sqlite>(), Driver::of::<sqlx::Postgres>()];

/// sqlx's name of the database (`SQLite`, `PostgreSQL`) of a URL scheme of
/// this build, if any.
pub(crate) fn backend_of_scheme(scheme: &str) -> Option<&'static str> {
    DRIVERS
        .iter()
        .find(|driver| driver.schemes.contains(&scheme))
        .map(|driver| driver.name)
}

/// The URL schemes of [`DRIVERS`] with their database: `sqlite: (SQLite)`.
fn supported_schemes() -> String {
    DRIVERS
        .iter()
        .flat_map(|driver| {
            driver
                .schemes
                .iter()
                .map(|s| format!("{s}: ({})", driver.name))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `did you mean 'sqlite:'? ` when a scheme of [`DRIVERS`] is close to
/// `scheme` (a typo such as `sqlite3` or `sqlit`), else nothing.
fn closest_scheme(scheme: &str) -> String {
    let schemes = DRIVERS
        .iter()
        .flat_map(|driver| driver.schemes.iter().copied());
    crate::conf::closest_name(scheme, schemes)
        .map(|close| format!("did you mean '{close}:'? "))
        .unwrap_or_default()
}

/// Check that `url`, the `url` of `[databases.<alias>]`, has a driver in
/// this build and, for SQLite, names a file: the error is what
/// [`Application::new`](crate::Application::new) fails with, what a command
/// that opens the database fails with, and what `check` reports
/// (`nuages.E011`), instead of the first request that needs the database.
pub(crate) fn check_url(alias: &str, url: &str) -> Result<()> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .filter(|scheme| !scheme.is_empty());
    let key = format!("databases.{alias}.url");
    let Some(scheme) = scheme else {
        return Err(Error::Config(
            Problem::new(format!(
                "{key} {url:?} is not a database URL: it has no scheme"
            ))
            .with_hint(format!(
                "write a URL such as \"sqlite://db/db.sqlite3\"; this build connects to: {}",
                supported_schemes()
            )),
        ));
    };
    if !DRIVERS
        .iter()
        .any(|driver| driver.schemes.contains(&scheme.as_str()))
    {
        return Err(Error::Config(Problem::new(format!(
                "{key} uses the scheme '{scheme}:', and this build of Nuages has no database driver for it"
            )).with_hint(format!(
                "{}the drivers compiled in answer to: {}; change {key}, or build with the sqlx driver of '{scheme}'",
                closest_scheme(&scheme),
                supported_schemes()
            ))));
    }
    if scheme == "sqlite" {
        check_sqlite_file(&key, url)?;
        if let Err(error) = url.parse::<sqlx::sqlite::SqliteConnectOptions>() {
            // An unknown parameter (`?foo=bar`) or value (`?mode=rwx`):
            // else every command that opens the database fails with it.
            return Err(Error::Config(
                Problem::new(format!(
                    "{key} is not a SQLite URL that can be read: {error}"
                ))
                .with_hint(format!(
                    "the parameters SQLite URLs take are mode (ro, rw, rwc), cache (private, \
                     shared), immutable (true, false) and vfs; remove the others from {key}"
                )),
            ));
        }
    }
    if let Some(delimiter) = crate::checks::database::password_delimiter(url) {
        return Err(Error::Config(
            crate::checks::database::password_delimiter_problem(&key, delimiter),
        ));
    }
    if is_postgres_url(url) {
        if let Err(error) = url.parse::<sqlx::postgres::PgConnectOptions>() {
            // Else the server would start and every request that needs the
            // database would fail with this.
            return Err(unreadable_postgres_url(&key, url, &error));
        }
        if let Some(problem) =
            unknown_postgres_parameter(&key, url).or_else(|| missing_tls_file(&key, url))
        {
            return Err(Error::Config(problem));
        }
    }
    Ok(())
}

/// The query parameters of the PostgreSQL URL `url`, decoded as sqlx's
/// driver decodes them.
fn postgres_parameters(url: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
}

/// A certificate or key file that the PostgreSQL URL of `key` names and
/// that is not there: the driver would fail each connection on it with a
/// bare "No such file or directory".
fn missing_tls_file(key: &str, url: &str) -> Option<Problem> {
    let (name, file) = postgres_parameters(url).find(|(name, value)| {
        // A value in PEM is the certificate itself, not a file's path.
        POSTGRES_FILE_PARAMETERS.contains(&name.as_ref())
            && !value.trim().starts_with("-----BEGIN")
            && !Path::new(value.as_ref()).exists()
    })?;
    Some(
        Problem::new(format!(
            "{key}: {name} names the file {file}, which does not exist"
        ))
        .with_hint(format!(
            "put the file there or correct {name} in {key} (a relative path is read from the \
             folder the server is started in)"
        )),
    )
}

/// The query parameters of a PostgreSQL URL that name a file, which sqlx's
/// driver reads (a certificate given in PEM instead is not a path).
const POSTGRES_FILE_PARAMETERS: [&str; 7] = [
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
];

/// The other query parameters of a PostgreSQL URL that sqlx's driver
/// reads, with `options[NAME]`: it connects without any other, logging
/// only a line (`?SSLMODE=require` would connect in clear, `?Password=`
/// without it).
const POSTGRES_OTHER_PARAMETERS: [&str; 11] = [
    "sslmode",
    "ssl-mode",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// Every query parameter the PostgreSQL driver reads by that name.
fn postgres_parameter_names() -> impl Iterator<Item = &'static str> + Clone {
    POSTGRES_OTHER_PARAMETERS
        .into_iter()
        .chain(POSTGRES_FILE_PARAMETERS)
}

/// A query parameter of the PostgreSQL URL of `key` that the driver would
/// ignore (see [`unknown_url_parameter`]); `options[NAME]` is read.
fn unknown_postgres_parameter(key: &str, url: &str) -> Option<Problem> {
    let known: Vec<&str> = postgres_parameter_names().collect();
    crate::checks::database::unknown_url_parameter(key, url, "PostgreSQL driver", &known, |name| {
        name.starts_with("options[")
    })
}

/// A PostgreSQL URL sqlx cannot read (a port that is no number, an unknown
/// `sslmode`), the part named where it can be (never the password), else
/// sqlx's reason.
fn unreadable_postgres_url(key: &str, url: &str, error: &dyn std::fmt::Display) -> Error {
    let shape = format!("write {key} as postgres://USER:${{DB_PASSWORD}}@HOST:PORT/NAME");
    let (why, hint) = match crate::checks::database::unparsable_part(url) {
        Some(why) => (why, shape),
        None => unreadable_postgres_parameter(url).unwrap_or_else(|| {
            // sqlx writes "error with configuration: " once per level.
            let text = error.to_string();
            let prefix = "error with configuration: ";
            let mut reason = text.as_str();
            while let Some(rest) = reason.strip_prefix(prefix) {
                reason = rest;
            }
            (reason.to_string(), shape)
        }),
    };
    Error::Config(
        Problem::new(format!(
            "{key} is not a PostgreSQL URL that can be read: {why}"
        ))
        .with_hint(hint),
    )
}

/// The values `sslmode` takes.
const POSTGRES_SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// A query parameter of a PostgreSQL URL whose value the driver cannot
/// read, named with its value (no parameter it reads this way holds a
/// password), and what it takes.
fn unreadable_postgres_parameter(url: &str) -> Option<(String, String)> {
    postgres_parameters(url).find_map(|(name, value)| {
        let takes = match name.as_ref() {
            "sslmode" | "ssl-mode"
                if !POSTGRES_SSL_MODES.contains(&value.to_ascii_lowercase().as_str()) =>
            {
                format!(
                    "one of {} (require, or verify-full with sslrootcert, for a server on the \
                     network)",
                    POSTGRES_SSL_MODES.join(", ")
                )
            }
            "port" if value.parse::<u16>().is_err() => "a port number (1 to 65535)".to_string(),
            "statement-cache-capacity" if value.parse::<usize>().is_err() => {
                "a number of statements (100 by default)".to_string()
            }
            "hostaddr" if value.parse::<std::net::IpAddr>().is_err() => {
                "an IP address (a host name goes in host)".to_string()
            }
            _ => return None,
        };
        Some((
            format!(
                "its {name} {value:?} is not {}",
                takes.split(" (").next().unwrap_or(&takes)
            ),
            format!("set {name} to {takes}"),
        ))
    })
}

/// The file of a SQLite URL must be a file: without a path SQLite opens a
/// temporary database deleted when its connection closes, and an in-memory
/// one lives in one connection (sqlx's `Any` pool parses the URL again for
/// each connection, so each gets an empty database of its own) and dies
/// with the process. Either way `migrate` would report its migrations
/// applied and nothing would be kept.
fn check_sqlite_file(key: &str, url: &str) -> Result<()> {
    let rest = &url["sqlite:".len()..];
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path == ":memory:"
        || query
            .split('&')
            .any(|pair| pair.eq_ignore_ascii_case("mode=memory"));
    let what = if path.is_empty() {
        "names no database file: SQLite would open a temporary database, deleted when its connection closes"
    } else if in_memory {
        "is an in-memory database: each connection of the pool, and each command, would get an empty \
         database of its own"
    } else {
        return Ok(());
    };
    Err(Error::Config(
        Problem::new(format!(
            "{key} {url:?} {what}, so the tables `migrate` creates and the site's data would not be kept"
        ))
        .with_hint(format!(
            "write the path of the database file in {key}, such as \"sqlite://db/db.sqlite3\" (relative to \
             the settings file; the folder is created)"
        )),
    ))
}

/// Check that `[databases.<alias>]` lets its pool open a connection:
/// `max_connections = 0` would make sqlx panic when the pool is built.
pub(crate) fn check_max_connections(alias: &str, database: &DatabaseSettings) -> Result<()> {
    if database.max_connections >= 1 {
        return Ok(());
    }
    let key = format!("databases.{alias}.max_connections");
    Err(Error::Config(
        Problem::new(format!(
            "{key} is 0: the pool of the database '{alias}' could never open a connection"
        ))
        .with_hint(format!(
            "set {key} to at least 1 (the default is {}), or remove the key",
            DatabaseSettings::default().max_connections
        )),
    ))
}

/// Everything [`open`] needs of `[databases.<alias>]`: [`check_url`] and
/// [`check_max_connections`].
pub(crate) fn check_database(alias: &str, database: &DatabaseSettings) -> Result<()> {
    check_url(alias, &database.url)?;
    check_max_connections(alias, database)
}

/// Check that a `databases` setting with tables has a `default` one, as
/// Django requires: commands, views ([`Db`]), users and database sessions
/// use it. No database at all is allowed (a site that stores nothing).
pub(crate) fn check_default_alias(settings: &Settings) -> Result<()> {
    if settings.databases.is_empty() || settings.databases.contains_key(DEFAULT_ALIAS) {
        return Ok(());
    }
    Err(no_such_alias(
        DEFAULT_ALIAS,
        settings.databases.keys().map(String::as_str),
    ))
}

/// There is no `[databases.<alias>]`: the error names the aliases there are
/// and suggests the closest (a typo such as `[databases.defualt]`).
fn no_such_alias<'a>(alias: &str, aliases: impl Iterator<Item = &'a str> + Clone) -> Error {
    let tables: Vec<String> = aliases
        .clone()
        .map(|alias| format!("[databases.{alias}]"))
        .collect();
    let has = match tables.as_slice() {
        [] => "the databases setting has none".to_string(),
        tables => format!("the databases setting has only {}", tables.join(", ")),
    };
    let hint = match crate::conf::closest_name(alias, aliases) {
        Some(close) => {
            format!("did you mean [databases.{close}]? rename that table [databases.{alias}]")
        }
        None => format!(
            "add a [databases.{alias}] table with a url, such as url = \"sqlite://db/db.sqlite3\""
        ),
    };
    Error::Config(Problem::new(format!("there is no [databases.{alias}]: {has}")).with_hint(hint))
}

/// What [`Application::new`](crate::Application::new) refuses of the
/// `databases` setting: no `default` ([`check_default_alias`]), or a
/// database [`check_database`] refuses.
pub(crate) fn check_settings(settings: &Settings) -> Result<()> {
    check_default_alias(settings)?;
    settings
        .databases
        .iter()
        .try_for_each(|(alias, database)| check_database(alias, database))
}

/// The alias views get through [`Db`].
pub const DEFAULT_ALIAS: &str = "default";

/// The pools of an application, by alias.
#[derive(Debug, Default)]
pub struct Databases {
    entries: BTreeMap<String, Database>,
}

/// How long a database whose pool could not be opened is left alone: the
/// requests meanwhile fail at once with the error of that attempt, then one
/// of them tries again. A server that never answers would else hold each
/// of them for [`POSTGRES_ACQUIRE_TIMEOUT`].
pub(crate) const BACKOFF: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug)]
struct Database {
    settings: DatabaseSettings,
    /// The pool of [`Databases::get`]: one attempt to open it at a time,
    /// whose error every request waiting for it shares.
    pool: Breaker<AnyPool, Problem>,
    /// The pool of [`Databases::get_read_only`].
    read_only: Breaker<AnyPool, Problem>,
}

impl Database {
    /// The pool of `access`, opened by one attempt at a time: the callers
    /// meanwhile share its outcome, and for [`BACKOFF`] after a failure
    /// they fail at once with its error.
    async fn pool(&self, alias: &str, access: Access) -> Result<AnyPool> {
        let breaker = match access {
            Access::Create => &self.pool,
            Access::ReadOnly => &self.read_only,
        };
        let (key, settings) = (alias.to_string(), self.settings.clone());
        let attempt = || async move {
            open(&key, &settings, access)
                .await
                .map_err(|error| error.problem())
        };
        breaker
            .connect(attempt)
            .await
            .map_err(|refusal| {
                match refusal {
            Refusal::Failed(problem) | Refusal::LeftAlone { error: problem, .. } => {
                Error::Config(problem)
            }
            Refusal::Abandoned => Error::Config(
                Problem::new(format!(
                    "databases.{alias}.url: the attempt to open the database was abandoned"
                ))
                .with_hint(
                    "try again: the process is shutting down, or the attempt stopped unexpectedly \
                     (see the log)",
                ),
            ),
        }
            })
    }
}

impl Databases {
    /// Pools for every configured database; none is opened yet.
    pub fn new(settings: &Settings) -> Self {
        Databases {
            entries: settings
                .databases
                .iter()
                .map(|(alias, settings)| {
                    (
                        alias.clone(),
                        Database {
                            settings: settings.clone(),
                            pool: Breaker::new(BACKOFF),
                            read_only: Breaker::new(BACKOFF),
                        },
                    )
                })
                .collect(),
        }
    }

    /// The aliases configured.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    fn entry(&self, alias: &str) -> Result<&Database> {
        self.entries
            .get(alias)
            .ok_or_else(|| no_such_alias(alias, self.entries.keys().map(String::as_str)))
    }

    /// The pool of `alias`, opening it on first use. A SQLite file not
    /// there yet is created, and its folder: what `migrate` and the server
    /// need. Concurrent calls share one attempt to open it, and fail
    /// together with its error; for [`BACKOFF`] after a failure, calls fail
    /// at once with that error, then one tries again (a database that
    /// comes back is used without a restart).
    pub async fn get(&self, alias: &str) -> Result<AnyPool> {
        self.entry(alias)?.pool(alias, Access::Create).await
    }

    /// The SQLite file of `alias` when it is not there yet (`migrate`
    /// creates it); `None` when it is there, and for other databases.
    pub fn sqlite_file_not_created(&self, alias: &str) -> Option<PathBuf> {
        let file = sqlite_file(&self.entries.get(alias)?.settings.url)?;
        (!file.exists()).then_some(file)
    }

    /// The pool of `alias`, as [`get`](Self::get), for a command that needs
    /// the database `migrate` made (`createsuperuser`, a project's `seed`):
    /// a SQLite file not there yet is refused, saying to run `migrate`,
    /// instead of created empty (nor is its folder).
    pub async fn get_existing(&self, alias: &str) -> Result<AnyPool> {
        self.refuse_not_created(alias)?;
        self.get(alias).await
    }

    /// A pool of `alias` for a command that only reads (`showmigrations`):
    /// SQLite's file is opened read-only and left exactly as it is (an empty
    /// file is not turned into a database in WAL mode); one not there yet
    /// is refused as by [`get_existing`](Self::get_existing). PostgreSQL's
    /// connections are read-only sessions: a statement that would write is
    /// refused by the server ("cannot execute … in a read-only
    /// transaction").
    pub async fn get_read_only(&self, alias: &str) -> Result<AnyPool> {
        let database = self.entry(alias)?;
        self.refuse_not_created(alias)?;
        database.pool(alias, Access::ReadOnly).await
    }

    fn refuse_not_created(&self, alias: &str) -> Result<()> {
        let Some(file) = self.sqlite_file_not_created(alias) else {
            return Ok(());
        };
        Err(Error::Config(
            Problem::new(format!(
                "the SQLite database {} of databases.{alias}.url does not exist yet",
                file.display()
            ))
            .with_hint(
                "run `manage migrate` first: it creates the database and its tables; nothing was created",
            ),
        ))
    }

    /// The alias and settings of each database whose pool is open.
    fn open(&self) -> impl Iterator<Item = (&str, &DatabaseSettings)> {
        self.entries
            .iter()
            .filter(|(_, database)| {
                database.pool.get().is_some() || database.read_only.get().is_some()
            })
            .map(|(alias, database)| (alias.as_str(), &database.settings))
    }

    /// Close the pools opened so far, waiting for their connections to end.
    /// SQLite copies its write-ahead log (`db.sqlite3-wal`) into the
    /// database file when its last connection closes: a command that ends
    /// with this leaves its changes in `db.sqlite3` itself, where a copy of
    /// that one file finds them.
    pub async fn close(&self) {
        for database in self.entries.values() {
            let opened: Vec<AnyPool> = [database.read_only.get(), database.pool.get()]
                .into_iter()
                .flatten()
                .collect();
            for pool in &opened {
                pool.close().await;
            }
            // A file this user may not write cannot be checkpointed: its
            // connection would only make the `-wal` and `-shm` it spares.
            if !opened.is_empty()
                && sqlite_file(&database.settings.url)
                    .is_some_and(|file| writable_by_this_user(&file))
            {
                empty_the_log(&database.settings.url).await;
            }
        }
    }
}

/// After the pool of a SQLite database closed: its write-ahead log copied
/// into the file and emptied, by a connection of its own. SQLite does this
/// when the last connection closes, which the pool's closing is not always
/// (seen once in CI: a command's changes left in `db.sqlite3-wal`). The
/// connection waits for nobody: while another process (a `serve`) reads
/// the file, the log stays its business. After a read-only pool, it is
/// what removes the `-wal` and `-shm` files its connections made beside a
/// database in WAL mode: SQLite deletes them only when the last connection
/// to close could write (it writes nothing else: the log is empty, and the
/// checkpoint does nothing to a database not in WAL mode).
async fn empty_the_log(url: &str) {
    use sqlx::Connection;
    let Ok(mut connection) = sqlx::AnyConnection::connect(url).await else {
        return;
    };
    for statement in ["PRAGMA busy_timeout = 0", "PRAGMA wal_checkpoint(TRUNCATE)"] {
        if sqlx::query(statement)
            .execute(&mut connection)
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = connection.close().await;
}

/// The SQLite file a URL points at, if it is a SQLite URL with a file.
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// How long a query waits for a PostgreSQL connection: one of the pool's
/// to come free, or a new one. sqlx retries a refused connection (taking it
/// for a server still starting) for the whole wait, 30 s by default, so a
/// server gone away made every request that needs it hang that long (two
/// such waits, a session read and its write, outlast nginx's 60 s
/// `proxy_read_timeout`: a 504 instead of the page).
pub(crate) const POSTGRES_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Create the SQLite database `file`, empty (which SQLite takes for a new
/// database), readable by its owner and group only: its tables hold the
/// password hashes and the sessions (check --deploy: `nuages.W042`).
/// SQLite would create it with mode 0644, and gives its journal files the
/// mode of the database. An existing file is left as it is.
fn create_private(file: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .open(file)
}

/// How [`open`] opens a SQLite file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Read and write, creating the file and its folder if need be, in WAL
    /// mode.
    Create,
    /// Read only: SQLite's file opened `mode=ro`, changing nothing of it
    /// (its journal mode is left as it is); PostgreSQL's sessions set
    /// read-only.
    ReadOnly,
}

/// The pool of `[databases.<alias>]`, once [`check_database`] accepts it
/// (commands open it without building the application).
async fn open(alias: &str, settings: &DatabaseSettings, access: Access) -> Result<AnyPool> {
    check_database(alias, settings)?;
    sqlx::any::install_default_drivers();
    let mut url = settings.url.clone();
    if let Some(file) = sqlite_file(&url) {
        if let Some(problem) = crate::checks::files::special_database_file_problem(alias, &file) {
            return Err(Error::Config(as_error_line(&problem, "")));
        }
        if access == Access::Create
            && let Some(dir) = file.parent()
        {
            std::fs::create_dir_all(dir).map_err(|source| folder_error(alias, dir, source))?;
        }
        if !url.contains("mode=") {
            if access == Access::Create {
                // Where it cannot be created, SQLite's own attempt fails
                // next, and that error is told in check's words.
                let _ = create_private(&file);
            }
            url.push_str(if url.contains('?') { "&" } else { "?" });
            url.push_str(match access {
                Access::Create => "mode=rwc",
                Access::ReadOnly => "mode=ro",
            });
        }
    }
    if access == Access::ReadOnly
        && let Some(file) = sqlite_file(&url)
        && !url.contains("immutable=")
        && !journal_beside(&file)
        && !writable_by_this_user(&file)
    {
        // A database this user cannot write, that no connection has open
        // (nothing beside it), is read as it is: in WAL mode SQLite would
        // make `-wal` and `-shm` beside it, this user's and with the
        // database's mode, which its owner (the server) could then not
        // write, and could not remove them either: every write of the
        // site then failed as "a readonly database".
        url.push_str("&immutable=1");
    }
    let mut url = with_bare_ipv6_host(url);
    let busy_timeout = settings.busy_timeout_ms;
    if PostgresServer::of(&url).is_some() || sqlite_file(&url).is_some() {
        // The pool retries a refused connection until its acquire timeout
        // (30 s), taking it for a server still starting, and then says only
        // that it timed out (so does a SQLite file opened read-only, whose
        // `journal_mode = WAL` fails); one connection first tells at once
        // what is wrong.
        let failed = |error| connect_error(alias, &settings.url, error);
        match PostgresServer::of(&url) {
            // sqlx has no connect timeout: a server that accepts and never
            // answers (stopped, overloaded, a host that drops packets) would
            // hold every request waiting for this pool, for good.
            Some(server) => {
                tokio::time::timeout(POSTGRES_ACQUIRE_TIMEOUT, probe(&url, busy_timeout, access))
                    .await
                    .map_err(|_| no_answer(alias, &server))?
                    .map_err(failed)?
            }
            None => {
                let mut probed = probe(&url, busy_timeout, access).await;
                if let Err(error) = &probed
                    && access == Access::ReadOnly
                    && let Some(file) = sqlite_file(&url)
                    && cannot_open_the_log(error, &file)
                {
                    // A database in WAL mode in a folder this user cannot
                    // write: a reader must create `-shm` beside it. With no
                    // `-wal` nor `-shm` there, no connection has it open
                    // (the last one to close removed them) and the file
                    // holds everything: SQLite reads it as it is.
                    url.push_str("&immutable=1");
                    probed = probe(&url, busy_timeout, access).await;
                }
                probed.map_err(|error| match (&access, sqlite_file(&url)) {
                    (Access::ReadOnly, Some(file))
                        if sqlite_code(&error).is_some_and(|code| matches!(code, 8 | 14)) =>
                    {
                        unreadable_log(alias, &file, &error)
                    }
                    _ => failed(error),
                })?
            }
        }
    }
    let mut options = AnyPoolOptions::new();
    if PostgresServer::of(&url).is_some() {
        options = options.acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT);
    }
    let pool = options
        .max_connections(settings.max_connections)
        .after_connect(move |connection, _| Box::pin(prepare(connection, busy_timeout, access)))
        .connect(&url)
        .await
        .map_err(|error| connect_error(alias, &settings.url, error))?;
    Ok(pool)
}

/// `url` with the bare address of a PostgreSQL server written as an IPv6
/// literal: sqlx looks the host up as the URL writes it, brackets included,
/// so `postgres://site@[::1]:5432/site` failed with "Name or service not
/// known"; its `host` parameter, applied after the address, takes the bare
/// one.
fn with_bare_ipv6_host(url: String) -> String {
    if !is_postgres_url(&url) {
        return url;
    }
    let Ok(options) = url.parse::<sqlx::postgres::PgConnectOptions>() else {
        return url;
    };
    let bare = options
        .get_host()
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'));
    match bare {
        Some(address) if options.get_socket().is_none() => {
            let separator = if url.contains('?') { '&' } else { '?' };
            let address: String = form_urlencoded::byte_serialize(address.as_bytes()).collect();
            format!("{url}{separator}host={address}")
        }
        _ => url,
    }
}

/// One connection to `url`, set up and closed: the pool retries a refused
/// connection until its acquire timeout, then says only that it timed out,
/// where this tells at once what is wrong.
async fn probe(
    url: &str,
    busy_timeout: u64,
    access: Access,
) -> std::result::Result<(), sqlx::Error> {
    use sqlx::Connection;
    let mut probe = sqlx::AnyConnection::connect(url).await?;
    prepare(&mut probe, busy_timeout, access).await?;
    probe.close().await
}

/// What a database error's hint says for the alias of the database it came
/// from, which a `sqlx::Error` does not tell: [`name_the_database`] puts the
/// alias in its place where the pools tell it.
pub(crate) const ALIAS_PLACEHOLDER: &str = "databases.<alias>";

/// `hint` with [`ALIAS_PLACEHOLDER`] naming the database an error came
/// from: the only one whose pool is open among `databases` (a command's,
/// or every pool a site has used: nearly always `default`), its `url` key
/// followed by its PostgreSQL server's address (never the password). Left
/// as it is when no pool, or several databases' pools, are open.
pub(crate) fn name_the_database(hint: String, databases: &[&Databases]) -> String {
    if !hint.contains(ALIAS_PLACEHOLDER) {
        return hint;
    }
    let mut open: Vec<(&str, &DatabaseSettings)> = databases
        .iter()
        .flat_map(|databases| databases.open())
        .collect();
    open.sort_by_key(|(alias, _)| *alias);
    open.dedup_by_key(|(alias, _)| *alias);
    let [(alias, settings)] = open[..] else {
        return hint;
    };
    let key = format!("databases.{alias}");
    let url = match PostgresServer::of(&settings.url) {
        Some(server) => format!("{key}.url ({})", server.address),
        None => format!("{key}.url"),
    };
    hint.replace(&format!("{ALIAS_PLACEHOLDER}.url"), &url)
        .replace(ALIAS_PLACEHOLDER, &key)
}

/// `error` as the problem a log line outside a request and a command
/// tells: its [`Error::problem`] (its causes too: a database error's own
/// message is only "database error"), its hint naming the database as
/// [`name_the_database`] does.
pub(crate) fn named_problem(error: &Error, databases: &Databases) -> Problem {
    let problem = error.problem();
    Problem {
        message: problem.message,
        hint: problem
            .hint
            .map(|hint| name_the_database(hint, &[databases])),
    }
}

/// What to do about a SQLite database another connection keeps locked
/// (`alias`: `<alias>` where it is not known).
pub(crate) fn locked_hint(alias: &str) -> String {
    format!(
        "another process was writing to the database (a running server, another `manage \
         migrate`, a database browser) for longer than databases.{alias}.busy_timeout_ms: run \
         the command again once it is done, or raise that setting"
    )
}

/// What to do about a SQLite database this process may not write
/// (`SQLITE_READONLY`).
pub(crate) const READ_ONLY_HINT: &str = "the SQLite database of databases.<alias>.url cannot be written: if its URL opens it read-only (mode=ro, immutable=1), remove that; else the user this command runs as lacks write permission on the file or its folder (where SQLite keeps its journal): give it (`manage check` names the command, nuages.E001), or run the command as the server's user";

/// The primary result code of a SQLite error (`SQLITE_READONLY`, 8, of
/// its extended codes); `None` for other errors.
pub(crate) fn sqlite_code(error: &sqlx::Error) -> Option<i32> {
    let sqlx::Error::Database(database) = error else {
        return None;
    };
    database.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    let code: i32 = database.code()?.parse().ok()?;
    Some(code & 0xff)
}

/// Whether a read-only connection to `file` failed only because it could
/// not create the shared-memory file of a database in WAL mode beside it
/// (SQLITE_READONLY or SQLITE_CANTOPEN), with no `-wal` nor `-shm` there.
fn cannot_open_the_log(error: &sqlx::Error, file: &Path) -> bool {
    sqlite_code(error).is_some_and(|code| matches!(code, 8 | 14)) && !journal_beside(file)
}

/// Whether the `-wal` or the `-shm` file of the SQLite database `file` is
/// there: a connection has it open in WAL mode, or the last one to close
/// could not remove them.
fn journal_beside(file: &Path) -> bool {
    ["-wal", "-shm"].iter().any(|suffix| {
        let mut path = file.as_os_str().to_owned();
        path.push(suffix);
        std::fs::symlink_metadata(PathBuf::from(path)).is_ok()
    })
}

/// Whether this process may write `file` (`access(2)`, as the kernel will
/// judge an open for writing: root may write any file).
fn writable_by_this_user(file: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(file.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `path` is a valid NUL-terminated string for the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK) == 0 }
}

/// A read-only connection to `file` was refused: in WAL mode, a reader
/// needs to write `-shm` beside it (and read `-wal`), which this user
/// cannot. Reading only, it needs no write permission on the database.
fn unreadable_log(alias: &str, file: &Path, error: &sqlx::Error) -> Error {
    let said = match error {
        sqlx::Error::Database(database) => database.message().to_string(),
        other => other.to_string(),
    };
    let who = crate::checks::files::Identity::current().describe();
    // The file itself, which Nuages creates readable by its owner and
    // group only (nuages.W042), before what WAL mode needs beside it.
    if let Err(open) = std::fs::File::open(file) {
        return Error::Config(
            Problem::new(format!(
                "cannot read the SQLite database {} of databases.{alias}.url as {who}: {open}",
                file.display()
            ))
            .with_hint(
                "run the command as the user that owns the database (the one the server runs \
                 as), or as a member of the database file's group",
            ),
        );
    }
    let folder = file.parent().unwrap_or(Path::new("/"));
    Error::Config(
        Problem::new(format!(
            "cannot read the SQLite database {} of databases.{alias}.url as {who}: in WAL mode, a reader \
             needs the files {name}-wal and {name}-shm beside it, and cannot create or open them \
             in {} (SQLite: {said})",
            file.display(),
            folder.display(),
            name = file.display(),
        ))
        .with_hint(format!(
            "run the command as the user that owns the database (the one the server runs as), \
             or let {who} write in {} and its -wal and -shm files",
            folder.display()
        )),
    )
}

/// Set up a new connection: SQLite's write-ahead log (unless `access` is
/// read-only: switching to it writes the file), busy timeout, foreign keys
/// and sync level; a read-only session on other databases when `access`
/// is read-only.
async fn prepare(
    connection: &mut sqlx::AnyConnection,
    busy_timeout: u64,
    access: Access,
) -> std::result::Result<(), sqlx::Error> {
    if !connection.backend_name().eq_ignore_ascii_case("sqlite") {
        if access == Access::ReadOnly {
            // Every transaction of the session, its implicit ones too: the
            // server refuses any write, whatever the command runs.
            sqlx::query("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                .execute(&mut *connection)
                .await?;
        }
        return Ok(());
    }
    match access {
        Access::Create => set_wal_mode(connection, busy_timeout).await?,
        // Read now: a database in WAL mode that this user cannot read
        // (its `-shm` file cannot be made) is refused at once, by the
        // probe, rather than by the first query.
        Access::ReadOnly => sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&mut *connection)
            .await
            .map(drop)?,
    }
    for pragma in [
        format!("PRAGMA busy_timeout = {busy_timeout}"),
        "PRAGMA foreign_keys = ON".to_string(),
        "PRAGMA synchronous = NORMAL".to_string(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(pragma))
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// `PRAGMA journal_mode = WAL`. It needs the database to itself, and SQLite
/// answers "database is locked" at once, without waiting its busy timeout,
/// while another connection sets up the same new file (two `migrate` at
/// once on a database not created yet): the second failed with
/// "database is locked". It is tried again until `busy_timeout` ms passed.
async fn set_wal_mode(
    connection: &mut sqlx::AnyConnection,
    busy_timeout: u64,
) -> std::result::Result<(), sqlx::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(busy_timeout);
    loop {
        match sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&mut *connection)
            .await
        {
            Err(error)
                if sqlite_locked(&error).is_some() && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            result => return result.map(drop),
        }
    }
}

/// SQLite's words when `error` is its "database is locked" (SQLITE_BUSY,
/// 5, or SQLITE_LOCKED, 6, as in their extended codes): another connection
/// held the database for longer than the busy timeout. Nothing is wrong
/// with the migrations then, and nothing to fix in their SQL.
pub(crate) fn sqlite_locked(error: &sqlx::Error) -> Option<&str> {
    let sqlx::Error::Database(database) = error else {
        return None;
    };
    matches!(sqlite_code(error)?, 5 | 6).then(|| database.message())
}

/// The folder of the SQLite database of `databases.<alias>.url` cannot be
/// created: a file or a link to nothing stands in its place, or `source`
/// says why.
fn folder_error(alias: &str, dir: &Path, source: std::io::Error) -> Error {
    let key = format!("databases.{alias}.url");
    let problem = match crate::checks::files::not_a_folder(dir) {
        Some(obstacle) => Problem::new(format!(
            "cannot create the database folder {} of {key}: {}",
            dir.display(),
            obstacle.describe()
        ))
        .with_hint(format!(
            "{}, or change {key} to a path whose folders are folders",
            obstacle.fix()
        )),
        None => Problem::new(format!(
            "cannot create the database folder {} of {key}: {source}",
            dir.display()
        ))
        .with_hint(format!(
            "make its parent writable by the user this command runs as, or change {key}"
        )),
    };
    Error::Config(problem)
}

/// SQLite could not open the file of `databases.<alias>.url`
/// (SQLITE_CANTOPEN, 14, or any error for a folder at its path) or only
/// for reading (SQLITE_READONLY, 8, as in its extended codes): the file
/// and the cause, in `check`'s words when the
/// permissions of the file or its folder explain it. A file that is not a
/// database (SQLITE_NOTADB, 26) or a damaged one (SQLITE_CORRUPT, 11) is
/// named with what to do, and left as it is. `None` for any other error.
fn sqlite_open_error(alias: &str, file: &Path, error: &sqlx::Error) -> Option<Problem> {
    let sqlx::Error::Database(database) = error else {
        return None;
    };
    let code: i32 = database.code()?.parse().ok()?;
    let said = database.message();
    let key = format!("databases.{alias}.url");
    // SQLITE_CORRUPT (11), SQLITE_NOTADB (26): the file is there and is
    // not (or no longer) a database. It is the user's: never replaced.
    if matches!(code & 0xff, 11 | 26) {
        let (what, fix) = if code & 0xff == 26 {
            (
                "is not an SQLite database",
                format!(
                    "point {key} to the project's database file, or move that file away and run `manage migrate` to create a new database"
                ),
            )
        } else {
            (
                "is damaged",
                format!(
                    "restore it from a backup (`sqlite3 {} .recover` saves what can be read), or point {key} to another file",
                    crate::management::output::shell_word(file)
                ),
            )
        };
        return Some(
            Problem::new(format!(
                "the file {} of {key} {what} (SQLite: {said})",
                file.display()
            ))
            .with_hint(format!("{fix}; the file was left as it is")),
        );
    }
    // A folder at the file's path is SQLITE_CANTOPEN opened to be written,
    // and a disk I/O error (SQLITE_IOERR_READ, 266) opened read-only, as
    // `showmigrations` and the user commands open it.
    if !matches!(code & 0xff, 8 | 14) && !file.is_dir() {
        return None;
    }
    if let Some(problem) = crate::checks::files::database_file_problem(alias, file) {
        return Some(as_error_line(&problem, &format!(" (SQLite: {said})")));
    }
    let who = crate::checks::files::Identity::current().describe();
    let folder = file.parent().unwrap_or(Path::new("/"));
    Some(
        Problem::new(format!(
            "cannot open the SQLite database {} of {key}: {said}",
            file.display()
        ))
        .with_hint(format!(
            "make the file and its folder {} writable by {who}, the user this command runs as, or change {key}",
            folder.display()
        )),
    )
}

/// `check`'s sentence (`problem`: "The user 'x' cannot write … .") as the
/// rest of an `error:` line, with `more` after it.
fn as_error_line(problem: &Problem, more: &str) -> Problem {
    let message = problem.message.trim_end_matches('.');
    let mut chars = message.chars();
    let first = chars.next().map(|c| c.to_lowercase().to_string());
    Problem::maybe_hinted(
        format!("{}{}{more}", first.unwrap_or_default(), chars.as_str()),
        problem.hint.as_deref(),
    )
}

/// What went wrong connecting to the server of `databases.<alias>.url`, for
/// the kinds a user fixes in the settings or on the server: nothing
/// listens, the credentials are refused, the database is missing; or to its
/// SQLite file, which cannot be opened ([`sqlite_open_error`]). Other
/// errors are sqlx's, with the key and the server added. Never the password.
fn connect_error(alias: &str, url: &str, error: sqlx::Error) -> Error {
    if let Some(file) = sqlite_file(url)
        && let Some(problem) = sqlite_open_error(alias, &file, &error)
    {
        return Error::Config(problem);
    }
    let key = format!("databases.{alias}.url");
    let Some(server) = PostgresServer::of(url) else {
        if is_postgres_url(url) {
            return unreadable_postgres_url(&key, url, &error);
        }
        return Error::Database(error);
    };
    let problem = match &error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Problem::new(format!(
                "{key}: cannot connect to the PostgreSQL server at {}: connection refused",
                server.address
            ))
            .with_hint(format!(
                "start PostgreSQL there (`systemctl start postgresql`), or correct the host and port in {key}"
            ))
        }
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound && server.socket => {
            Problem::new(format!(
                "{key}: cannot connect to the PostgreSQL server at {}: no such socket",
                server.address
            ))
            .with_hint(format!(
                "start PostgreSQL, or correct the socket folder (`?host=`) and port in {key}"
            ))
        }
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => Problem::new(format!(
            "{key}: cannot connect to the PostgreSQL server at {}: a file the connection needs \
             is missing ({io})",
            server.address
        ))
        .with_hint(format!(
            "check the files that sslrootcert, sslcert and sslkey name in {key}"
        )),
        sqlx::Error::Tls(tls) => Problem::new(format!(
            "{key}: cannot connect to the PostgreSQL server at {}: TLS failed: {tls}",
            server.address
        ))
        .with_hint(format!(
            "with sslmode=require the server needs `ssl = on` in postgresql.conf; with verify-ca \
             or verify-full its certificate must be signed by the authority that sslrootcert \
             names in {key} (and, for verify-full, be issued to the host {key} names)"
        )),
        sqlx::Error::Database(database) => match database.code().as_deref() {
            // invalid_password, invalid_authorization_specification
            Some("28P01" | "28000") => Problem::new(format!(
                "{key}: the PostgreSQL server at {} refused the user '{}': authentication failed",
                server.address, server.user
            ))
            .with_hint(authentication_hint(&key, url)),
            // invalid_catalog_name
            Some("3D000") => Problem::new(format!(
                "{key}: the database \"{}\" does not exist on the PostgreSQL server at {}",
                server.database, server.address
            ))
            .with_hint(format!(
                "create it: `createdb --owner {} {}` as a PostgreSQL superuser, or correct the database name in {key}",
                server.user, server.database
            )),
            _ => Problem::new(format!(
                "{key}: the PostgreSQL server at {} refused the connection: {}",
                server.address,
                database.message()
            ))
            .with_hint(format!("correct {key} or the server's configuration")),
        },
        // Something else answered the first message (`SSLRequest`): an
        // HTTP server, Redis… sqlx's words end with its source location.
        sqlx::Error::Protocol(said) if said.contains("unexpected response from SSLRequest") => {
            Problem::new(format!(
                "{key}: what answers at {} is not a PostgreSQL server (it answered the \
                 connection's first message with something else)",
                server.address
            ))
            .with_hint(format!(
                "correct the host and port in {key}: PostgreSQL listens on 5432 unless its port \
                 setting says otherwise"
            ))
        }
        other => Problem::new(format!(
            "{key}: cannot connect to the PostgreSQL server at {}: {other}",
            server.address
        ))
        .with_hint(format!(
            "check that the server runs and that {key} names it (host, port, user, database)"
        )),
    };
    Error::Config(problem)
}

/// What to check when the server at `url` (the setting `key`) refused its
/// user: the user and password, `pg_hba.conf`; and, for a password holding
/// `%` and two hex digits that encode a character no URL needs encoded
/// (`%41`, read as `A`), that a literal `%` is written `%25`. The escapes
/// the README tells to write (`%2F` for `/`) get no such hint: following
/// it would break a correct password.
fn authentication_hint(key: &str, url: &str) -> String {
    let mut hint = format!(
        "check the user and password of {key} (write the password as ${{DB_PASSWORD}} and export \
         DB_PASSWORD), and that pg_hba.conf lets this user in from here"
    );
    if crate::checks::database::password_has_unneeded_escape(url) {
        hint.push_str(
            "; the password holds a % and two hex digits that the URL reads as a letter, digit or \
             -._~ (%41 as A), which needs no encoding: if that % is part of the password itself, \
             write it as %25",
        );
    }
    hint
}

/// The PostgreSQL server of `databases.<alias>.url` took a connection and
/// did not answer within [`POSTGRES_ACQUIRE_TIMEOUT`].
fn no_answer(alias: &str, server: &PostgresServer) -> Error {
    let key = format!("databases.{alias}.url");
    Error::Config(
        Problem::new(format!(
            "{key}: the PostgreSQL server at {} did not answer within {} s",
            server.address,
            POSTGRES_ACQUIRE_TIMEOUT.as_secs()
        ))
        .with_hint(format!(
            "check that PostgreSQL there is running and not overloaded (`pg_isready`, its log), \
             that no firewall drops the packets, and that {key} names the right host and port"
        )),
    )
}

/// Whether `url` has a PostgreSQL scheme.
fn is_postgres_url(url: &str) -> bool {
    url.split_once(':').is_some_and(|(scheme, _)| {
        <sqlx::Postgres as sqlx::Database>::URL_SCHEMES
            .contains(&scheme.to_ascii_lowercase().as_str())
    })
}

/// Who a PostgreSQL URL connects to, for messages (never the password).
struct PostgresServer {
    /// `host:port`, or the socket's path.
    address: String,
    /// Whether it is reached through a unix socket.
    socket: bool,
    user: String,
    database: String,
}

impl PostgresServer {
    /// `None` for a URL that is not PostgreSQL's or does not parse.
    fn of(url: &str) -> Option<PostgresServer> {
        use sqlx::postgres::PgConnectOptions;
        if !is_postgres_url(url) {
            return None;
        }
        let options: PgConnectOptions = url.parse().ok()?;
        let address = match options.get_socket() {
            Some(folder) => folder
                .join(format!(".s.PGSQL.{}", options.get_port()))
                .display()
                .to_string(),
            None => format!("{}:{}", options.get_host(), options.get_port()),
        };
        Some(PostgresServer {
            address,
            socket: options.get_socket().is_some(),
            user: options.get_username().to_string(),
            database: options
                .get_database()
                .unwrap_or(options.get_username())
                .to_string(),
        })
    }
}

/// Extractor: the pool of the `default` database.
#[derive(Debug, Clone)]
pub struct Db(pub AnyPool);

impl<S: Send + Sync> FromRequestParts<S> for Db {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let state = crate::state::AppState::from_parts(parts)?.clone();
        Ok(Db(state.databases.get(DEFAULT_ALIAS).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_files_and_folders_are_created_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("settings.toml"), "").unwrap();
        let settings = Settings::load(dir.path().join("settings.toml")).unwrap();
        let databases = Databases::new(&settings);
        let pool = databases.get("default").await.unwrap();
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let file = dir.path().join("db/db.sqlite3");
        assert!(file.is_file());
        // Created private: the others may not read it, nor its journal.
        use std::os::unix::fs::MetadataExt;
        for created in [file.clone(), dir.path().join("db/db.sqlite3-wal")] {
            let mode = std::fs::metadata(&created).unwrap().mode();
            assert_eq!(mode & 0o777, 0o640, "{}: {mode:o}", created.display());
        }
        let err = databases.get("other").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no [databases.other]: the databases setting has only [databases.default]"
        );
    }

    #[tokio::test]
    async fn sqlite_connections_wait_busy_timeout_ms_for_a_lock() {
        let (_dir, settings) = load("[databases.default]\nbusy_timeout_ms = 1234\n");
        let pool = Databases::new(&settings).get("default").await.unwrap();
        let (timeout,): (i64,) = sqlx::query_as("PRAGMA busy_timeout")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(timeout, 1234);
    }

    /// Closing the databases leaves the write-ahead log empty, even when a
    /// connection outside the pool is still open (so that the pool's last
    /// close is not SQLite's last): the changes are in the file itself.
    #[tokio::test]
    async fn closing_leaves_the_changes_in_the_sqlite_file() {
        use sqlx::Connection;
        let (dir, settings) = load("");
        let databases = Databases::new(&settings);
        let pool = databases.get("default").await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&pool)
            .await
            .unwrap();
        let url = settings.databases["default"].url.clone();
        // Open, and having read the file (SQLite opens the log then).
        let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT x FROM t")
            .fetch_all(&mut other)
            .await
            .unwrap();
        let log = dir.path().join("db/db.sqlite3-wal");
        assert!(std::fs::metadata(&log).unwrap().len() > 0);
        databases.close().await;
        assert_eq!(std::fs::metadata(&log).map_or(0, |m| m.len()), 0);
        other.close().await.unwrap();
    }

    /// Foreign keys are enforced on every connection of the pool, not only
    /// the first: a row that names no parent is refused on each.
    #[tokio::test]
    async fn sqlite_connections_enforce_foreign_keys() {
        let (_dir, settings) = load("[databases.default]\nmax_connections = 3\n");
        let pool = Databases::new(&settings).get("default").await.unwrap();
        sqlx::query("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE child (parent_id INTEGER NOT NULL REFERENCES parent (id))")
            .execute(&pool)
            .await
            .unwrap();
        let mut connections = Vec::new();
        for _ in 0..3 {
            connections.push(pool.acquire().await.unwrap());
        }
        for connection in &mut connections {
            let error = sqlx::query("INSERT INTO child (parent_id) VALUES (42)")
                .execute(&mut **connection)
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains("FOREIGN KEY constraint failed"),
                "{error}"
            );
        }
    }

    /// A settings file of `text` in a new folder, loaded.
    fn load(text: &str) -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("settings.toml"), text).unwrap();
        let settings = Settings::load(dir.path().join("settings.toml")).unwrap();
        (dir, settings)
    }

    /// sqlx panics ("capacity must be non-zero") building a pool of no
    /// connection: opening the database is a configuration error instead.
    #[tokio::test]
    async fn a_pool_of_no_connection_is_refused_before_sqlx_sees_it() {
        let (dir, settings) = load("[databases.default]\nmax_connections = 0\n");
        let error = Databases::new(&settings).get("default").await.unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "databases.default.max_connections is 0: the pool of the database 'default' could never open a connection"
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "set databases.default.max_connections to at least 1 (the default is 8), or remove the key"
            )
        );
        assert!(!dir.path().join("db").exists(), "nothing was created");
        assert_eq!(
            check_settings(&settings).unwrap_err().to_string(),
            error.to_string()
        );
        let (_dir, one) = load("[databases.default]\nmax_connections = 1\n");
        assert!(check_settings(&one).is_ok());
        Databases::new(&one).get("default").await.unwrap();
    }

    /// A misspelled `[databases.defualt]` leaves no default: the error names
    /// the table there is.
    #[tokio::test]
    async fn a_missing_default_database_names_the_closest_alias() {
        let (_dir, settings) = load("[databases.defualt]\nurl = \"sqlite://db/db.sqlite3\"\n");
        let error = check_default_alias(&settings).unwrap_err();
        assert_eq!(
            error.to_string(),
            "there is no [databases.default]: the databases setting has only [databases.defualt]"
        );
        assert_eq!(
            error.hint().as_deref(),
            Some("did you mean [databases.defualt]? rename that table [databases.default]")
        );
        let opened = Databases::new(&settings)
            .get(DEFAULT_ALIAS)
            .await
            .unwrap_err();
        assert_eq!(
            (opened.to_string(), opened.hint()),
            (error.to_string(), error.hint())
        );
        // Nothing close: how to add it.
        let (_dir, settings) = load("[databases.replica]\nurl = \"sqlite://db/r.sqlite3\"\n");
        assert_eq!(
            check_default_alias(&settings)
                .unwrap_err()
                .hint()
                .as_deref(),
            Some(
                "add a [databases.default] table with a url, such as url = \"sqlite://db/db.sqlite3\""
            )
        );
        // The default file, and no database at all, are fine.
        let (_dir, settings) = load("");
        assert!(check_default_alias(&settings).is_ok());
        let mut none = settings.clone();
        none.databases.clear();
        assert!(check_settings(&none).is_ok());
    }

    /// `sqlite://` opens a temporary database per connection and
    /// `sqlite::memory:` an empty one per connection: `migrate` would apply
    /// its migrations to nothing that lasts.
    #[test]
    fn sqlite_urls_without_a_file_are_refused() {
        for url in [
            "sqlite://",
            "sqlite:",
            "SQLITE://?mode=rwc",
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://db.sqlite3?mode=memory",
        ] {
            let error = check_url("default", url).unwrap_err();
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("databases.default.url {url:?} ")),
                "{text}"
            );
            assert!(
                text.ends_with(
                    "so the tables `migrate` creates and the site's data would not be kept"
                ),
                "{text}"
            );
            assert!(
                error.hint().unwrap().contains("\"sqlite://db/db.sqlite3\""),
                "{:?}",
                error.hint()
            );
        }
        for url in [
            "sqlite://db.sqlite3",
            "sqlite:///srv/db.sqlite3?mode=rwc",
            "sqlite:x.db",
        ] {
            assert!(check_url("default", url).is_ok(), "{url}");
        }
    }

    /// The refusal holds where commands open the database.
    #[tokio::test]
    async fn opening_a_database_without_a_file_is_refused() {
        let (_dir, settings) = load("[databases.default]\nurl = \"sqlite://\"\n");
        let error = Databases::new(&settings).get("default").await.unwrap_err();
        assert!(
            error.to_string().contains("names no database file"),
            "{error}"
        );
    }

    #[test]
    fn urls_without_a_driver_are_refused_with_the_schemes_that_work() {
        assert!(check_url("default", "sqlite:///srv/db.sqlite3").is_ok());
        assert!(check_url("default", "sqlite://db/x.sqlite3?mode=rwc&cache=shared").is_ok());
        for (url, said) in [
            (
                "sqlite://db/x.sqlite3?mode=rwc&foo=bar",
                "unknown query parameter `foo`",
            ),
            (
                "sqlite://db/x.sqlite3?mode=rwx",
                "unknown value \"rwx\" for `mode`",
            ),
        ] {
            let error = check_url("default", url).unwrap_err();
            let text = error.to_string();
            assert!(
                text.starts_with("databases.default.url is not a SQLite URL that can be read")
                    && text.contains(said),
                "{text}"
            );
            assert!(
                error.hint().unwrap().contains("mode (ro, rw, rwc)"),
                "{error}"
            );
        }
        assert!(check_url("default", "SQLite://x.db").is_ok());
        let error = check_url("other", "mongodb://localhost/site").unwrap_err();
        assert_eq!(
            error.to_string(),
            "databases.other.url uses the scheme 'mongodb:', and this build of Nuages has no database driver for it"
        );
        assert!(
            error
                .hint()
                .unwrap()
                .contains("sqlite: (SQLite), postgres: (PostgreSQL), postgresql: (PostgreSQL)"),
            "{:?}",
            error.hint()
        );
        let error = check_url("default", "db.sqlite3").unwrap_err();
        assert!(error.to_string().contains("no scheme"), "{error}");
        // A typo of a scheme gets the closest.
        let error = check_url("default", "sqlite3://db.sqlite3").unwrap_err();
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("did you mean 'sqlite:'? the drivers"),
            "{:?}",
            error.hint()
        );
        assert!(
            !check_url("default", "mongodb://h/x")
                .unwrap_err()
                .hint()
                .unwrap()
                .starts_with("did you mean")
        );
    }

    /// [`DRIVERS`] is what sqlx installed: every scheme sqlx has a driver
    /// for connects (or fails for another reason), every other one fails
    /// with sqlx's "no driver" error. Nothing listens on port 1.
    #[tokio::test]
    async fn the_driver_list_is_what_sqlx_installed() {
        sqlx::any::install_default_drivers();
        for scheme in [
            "sqlite",
            "postgres",
            "postgresql",
            "mysql",
            "mariadb",
            "mssql",
        ] {
            let url = if scheme == "sqlite" {
                "sqlite::memory:".to_string()
            } else {
                format!("{scheme}://nuages@127.0.0.1:1/nuages")
            };
            let result = AnyPoolOptions::new()
                .acquire_timeout(std::time::Duration::from_secs(5))
                .max_connections(1)
                .connect(&url)
                .await;
            let installed = match result {
                Ok(_) => true,
                Err(sqlx::Error::Configuration(error)) => {
                    !error.to_string().contains("no driver found")
                }
                Err(_) => true,
            };
            // A SQLite URL that check_url accepts names a file.
            let checked = if scheme == "sqlite" {
                "sqlite://db.sqlite3".to_string()
            } else {
                url
            };
            assert_eq!(
                installed,
                check_url("default", &checked).is_ok(),
                "sqlx {} a driver for {scheme}: but DRIVERS says otherwise",
                if installed { "has" } else { "has no" }
            );
        }
    }

    /// A PostgreSQL URL that does not parse names the key; none shows the
    /// password. (Servers that refuse are tested end to end against a real
    /// PostgreSQL, in tests/tests/example_site.rs.)
    #[tokio::test]
    async fn unreadable_postgres_urls_name_the_key_and_never_the_password() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("settings.toml"),
            "[databases.default]\nurl = \"postgres://site:s3cret-pw@127.0.0.1:notaport/site\"\n",
        )
        .unwrap();
        let settings = Settings::load(dir.path().join("settings.toml")).unwrap();
        let error = Databases::new(&settings).get("default").await.unwrap_err();
        let text = format!("{error} {:?}", error.hint());
        assert!(
            text.starts_with("databases.default.url is not a PostgreSQL URL that can be read: "),
            "{text}"
        );
        assert!(
            text.contains("postgres://USER:${DB_PASSWORD}@HOST:PORT/NAME"),
            "{text}"
        );
        assert!(!text.contains("s3cret-pw"), "{text}");
    }

    /// A password from `${DB_PASSWORD}` holding `/`, `?` or `#` (as one
    /// from `openssl rand -base64` may) ends the server's address where a
    /// URL reads it: `postgres://site:k3J/9x@host/site` was "invalid port
    /// number" with a hint to write what the user wrote, or with a number
    /// before the `/`, a connection to the host "site". Now the character
    /// and its percent-encoding are named, never the password.
    #[test]
    fn a_password_holding_a_url_delimiter_is_named_with_its_encoding() {
        for (password, named) in [
            ("k3J/9xQ+abc=", "'/'"),
            ("12/34", "'/'"),
            ("pa?ss", "'?'"),
            ("pa#ss", "'#'"),
            // An `@` before the delimiter (the URL as read then has user
            // information of its own, and a host cut from the password).
            ("S3cr@tHost#tail", "'#'"),
            ("S3cr@tHost/tail", "'/'"),
            ("S3cr@tHost?tail", "'?'"),
            // A `%` no driver can decode; `%41` is decoded (to `A`).
            ("pa%zz", "'%' not followed by two hex digits"),
            ("pa%4", "'%' not followed by two hex digits"),
        ] {
            let url = format!("postgres://site:{password}@10.0.0.5:5432/site");
            let error = check_url("default", &url).unwrap_err();
            let text = format!("{error} {}", error.hint().unwrap_or_default());
            assert!(
                text.starts_with("databases.default.url: the password holds "),
                "{text}"
            );
            assert!(text.contains(named), "{text}");
            assert!(text.contains("%2F") && text.contains("%23"), "{text}");
            assert!(!text.contains(password), "{text}");
        }
        for fine in [
            "postgres://site:k3J%2F9xQ+abc=@10.0.0.5:5432/site",
            "postgres://site:pa%25zz@10.0.0.5/site",
            "postgres://site:pa%41ss@10.0.0.5/site",
            "postgres://site:p@ss@10.0.0.5/site",
            "postgres://site@localhost/site?host=/run/postgresql",
            "postgres://10.0.0.5/site?user=ops@example",
            "postgres://site:pw@10.0.0.5/site?options=a@b",
            "postgres://site:p@ss@10.0.0.5/site?application_name=x@y",
            // An `@` in a query's value, then a path or a port.
            "postgres://u:p@10.0.0.5/db?application_name=alice@corp.example.com/client",
            "postgres://u:p@10.0.0.5/db?application_name=me@host:5432",
        ] {
            assert!(check_url("default", fine).is_ok(), "{fine}");
        }
    }

    /// A URL whose port another server answers on (an HTTP server) says
    /// that it is no PostgreSQL server, without sqlx's source location.
    #[tokio::test]
    async fn a_port_where_no_postgresql_answers_is_named_as_such() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 64];
                let _ = stream.read(&mut buffer).await;
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let mut settings = Settings::default();
        settings.databases.get_mut("default").unwrap().url =
            format!("postgres://site:pw@127.0.0.1:{port}/site");
        let error = Databases::new(&settings).get("default").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "databases.default.url: what answers at 127.0.0.1:{port} is not a PostgreSQL \
                 server (it answered the connection's first message with something else)"
            )
        );
        assert!(error.hint().unwrap().contains("correct the host and port"));
    }

    /// A database error's hint names the database whose pool is open; with
    /// none or several open, it keeps `databases.<alias>`.
    #[tokio::test]
    async fn a_hint_names_the_only_database_whose_pool_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        for alias in ["default", "archive"] {
            settings.databases.insert(
                alias.into(),
                DatabaseSettings {
                    url: format!("sqlite://{}", dir.path().join(alias).display()),
                    ..DatabaseSettings::default()
                },
            );
        }
        let databases = Databases::new(&settings);
        let hint = || {
            crate::error::Error::Database(sqlx::Error::PoolTimedOut)
                .hint()
                .unwrap()
        };
        assert!(hint().contains("databases.<alias>.url"), "{}", hint());
        assert_eq!(
            name_the_database(hint(), &[&databases]),
            hint(),
            "no pool open"
        );
        databases.get("archive").await.unwrap();
        let named = name_the_database(hint(), &[&databases]);
        assert!(
            named.contains("the database server of databases.archive.url runs")
                && named.contains("raise databases.archive.max_connections"),
            "{named}"
        );
        // The problem a background task logs (a password reset's lookup).
        let problem = named_problem(
            &crate::error::Error::Database(sqlx::Error::PoolTimedOut),
            &databases,
        );
        assert_eq!(problem.hint.as_deref(), Some(named.as_str()));
        databases.get("default").await.unwrap();
        assert_eq!(name_the_database(hint(), &[&databases]), hint(), "two open");
        databases.close().await;
    }

    /// A refused password holding `%XX` of a character no URL needs
    /// encoded, which the driver decoded (`%41` as `A`), gets a hint that
    /// says so: a literal `%` is written `%25`. One encoded as the README
    /// tells (`%2F` for `/`, `%23` for `#`) does not: following the hint
    /// broke a correct password.
    #[test]
    fn a_refused_password_holding_an_escape_is_told_to_write_percent_as_25() {
        let key = "databases.default.url";
        let said = "if that % is part of the password itself, write it as %25";
        for unneeded in ["pa%41ss", "pa%2fx%7E", "S3cr3t%2Fpw%2dx"] {
            let hint =
                authentication_hint(key, &format!("postgres://site:{unneeded}@10.0.0.5/site"));
            assert!(
                hint.starts_with("check the user and password of databases.default.url"),
                "{hint}"
            );
            assert!(hint.contains(said), "{unneeded}: {hint}");
        }
        // The last one's `%41` is the user's, not the password's.
        for meant in [
            "site:pa41ss",
            "site:S3cr3t%2Fpw%23x",
            "site:a%3Fb%25c%40d%20e%C3%A9",
            "u%41:ss%2F",
        ] {
            let hint = authentication_hint(key, &format!("postgres://{meant}@10.0.0.5/site"));
            assert!(!hint.contains("%25"), "{meant}: {hint}");
        }
    }

    /// An IPv6 server's address reaches sqlx without its brackets (as the
    /// `host` parameter), and only then: a name, a socket or a `host` of
    /// the user's own are left as written.
    #[test]
    fn ipv6_postgres_hosts_are_given_bare() {
        assert_eq!(
            with_bare_ipv6_host("postgres://site@[::1]:5432/site".into()),
            "postgres://site@[::1]:5432/site?host=%3A%3A1"
        );
        assert_eq!(
            with_bare_ipv6_host("postgres://site@[2001:db8::5]/site?sslmode=require".into()),
            "postgres://site@[2001:db8::5]/site?sslmode=require&host=2001%3Adb8%3A%3A5"
        );
        for unchanged in [
            "postgres://site@db.example.com/site",
            "postgres://site@127.0.0.1:5432/site",
            "postgres://site@[::1]/site?host=::1",
            "postgres:///site?host=/run/postgresql",
            "sqlite://db/db.sqlite3",
        ] {
            assert_eq!(with_bare_ipv6_host(unchanged.into()), unchanged);
        }
    }

    /// A certificate file the URL names and that is not there is refused
    /// by name before any connection; a certificate given inline is not a
    /// path.
    #[test]
    fn a_missing_postgres_tls_file_is_named() {
        let error = check_url(
            "default",
            "postgres://site@db/site?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem",
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "databases.default.url: sslrootcert names the file /nonexistent/ca.pem, which does not exist"
        );
        assert!(
            error
                .hint()
                .unwrap_or_default()
                .starts_with("put the file there or correct sslrootcert in databases.default.url"),
            "{error:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-").unwrap();
        let present = format!(
            "postgres://site@db/site?sslmode=verify-ca&sslrootcert={}",
            ca.display()
        );
        assert!(check_url("default", &present).is_ok());
    }

    /// A PostgreSQL URL sqlx cannot read names the part it cannot, and
    /// what that part takes (sqlx says "error with configuration: error
    /// with configuration: unknown value", or "invalid digit found in
    /// string" without the parameter).
    #[test]
    fn an_unreadable_postgres_url_names_the_part_and_what_it_takes() {
        for (url, says, hint) in [
            (
                "postgres://site:pw@db/site?sslmode=bogus",
                "its sslmode \"bogus\" is not one of disable, allow, prefer, require, verify-ca, verify-full",
                "set sslmode to one of disable,",
            ),
            (
                "postgres://site:pw@db:99999/site",
                "its port \"99999\" is not a port number (1 to 65535)",
                "postgres://USER:${DB_PASSWORD}@HOST:PORT/NAME",
            ),
            (
                "postgres://site:pw@db/site?port=abc",
                "its port \"abc\" is not a port number",
                "set port to a port number (1 to 65535)",
            ),
            (
                "postgres://site:Secretpw9/site",
                "the part after the host's ':' is not a port number (if it is USER:PASSWORD, the \
                 @HOST after it is missing)",
                "postgres://USER:${DB_PASSWORD}@HOST:PORT/NAME",
            ),
            (
                "postgres://site:pw@/site?host=/run/postgresql",
                "it names no host (a URL with a user or password needs one: for PostgreSQL's unix \
                 socket, write localhost and the socket's folder as ?host=/run/postgresql)",
                "postgres://USER:${DB_PASSWORD}@HOST:PORT/NAME",
            ),
            (
                "postgres://site:pw@db/site?hostaddr=db.internal",
                "its hostaddr \"db.internal\" is not an IP address",
                "set hostaddr to an IP address (a host name goes in host)",
            ),
            (
                "postgres://site:pw@db/site?statement-cache-capacity=many",
                "its statement-cache-capacity \"many\" is not a number of statements",
                "set statement-cache-capacity to a number of statements",
            ),
        ] {
            let error = check_url("default", url).unwrap_err();
            let message = error.to_string();
            assert_eq!(
                message,
                format!("databases.default.url is not a PostgreSQL URL that can be read: {says}")
            );
            let given = error.hint().unwrap_or_default();
            assert!(given.contains(hint), "{given}");
            assert!(!message.contains("error with configuration"), "{message}");
        }
    }

    /// sqlx's PostgreSQL driver reads its parameters by their exact names
    /// and connects without any other: `?SSLMODE=require` connected in
    /// clear, and `check --deploy` counted it as TLS. Each such name is now
    /// refused, with the one meant; never the value.
    #[test]
    fn postgres_parameters_the_driver_ignores_are_refused() {
        for (url, named, hint) in [
            (
                "postgres://site@10.0.0.5/site?SSLMODE=require",
                "'SSLMODE'",
                "write it 'sslmode' (the names are case-sensitive)",
            ),
            (
                "postgres://site@10.0.0.5/site?ssl_mode=verify-full",
                "'ssl_mode'",
                "did you mean 'sslmode'?",
            ),
            (
                "postgres://site@db/site?sslmode=require&Password=hunter2",
                "'Password'",
                "write it 'password'",
            ),
            (
                "postgres://site@db/site?connect_timeout=10",
                "'connect_timeout'",
                // Nothing close: no dangling "or".
                " does not read: it would connect as if it were not there HINT remove it from databases.default.url",
            ),
        ] {
            let error = check_url("default", url).unwrap_err();
            let text = format!("{error} HINT {}", error.hint().unwrap_or_default());
            assert!(
                text.starts_with(&format!(
                    "databases.default.url has the parameter {named}, which the PostgreSQL driver \
                     does not read"
                )),
                "{text}"
            );
            assert!(text.contains(hint), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        // A password parameter holding an '&': its rest is never named.
        let error =
            check_url("default", "postgres://site@db/site?password=ab&Secret9").unwrap_err();
        let text = format!("{error} HINT {}", error.hint().unwrap_or_default());
        assert!(
            text.starts_with(
                "databases.default.url: the password of its 'password' parameter holds an '&' not \
                 percent-encoded"
            ) && text.contains("as %26"),
            "{text}"
        );
        assert!(!text.contains("Secret9"), "{text}");
        for fine in [
            "postgres://site@db/site?sslmode=verify-full&ssl-mode=require&application_name=x",
            "postgres://site@db/site?options[search_path]=app",
            "postgres:///site?host=/run/postgresql&user=site",
        ] {
            assert!(check_url("default", fine).is_ok(), "{fine}");
        }
    }

    /// A SQLite file SQLite cannot open names the file, the cause and the
    /// fix, not sqlx's bare "(code: 14) unable to open database file". As
    /// root (CI) permissions never stop SQLite, so the causes tested here
    /// are a folder at the file's path and a file in place of its folder.
    /// A file or folder the user cannot write is said in the words of
    /// check's nuages.E001 (tested with the checks; this path was tried by
    /// hand as `nobody` with setpriv).
    #[tokio::test]
    async fn a_sqlite_file_that_cannot_be_opened_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("db.sqlite3");
        std::fs::create_dir(&folder).unwrap();
        let (_settings_dir, settings) = load(&format!(
            "[databases.default]\nurl = \"sqlite://{}\"\n",
            folder.display()
        ));
        let error = Databases::new(&settings).get("default").await.unwrap_err();
        assert!(matches!(error, Error::Config(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "the SQLite database {} (databases.default.url) is a folder, not a file (SQLite: unable to open database file)",
                folder.display()
            )
        );
        assert_eq!(
            error.hint().as_deref(),
            Some("point databases.default.url to a file inside it, or remove the folder")
        );
        // Opened read-only (showmigrations, the user commands), SQLite says
        // "disk I/O error" (code 266): the same words and fix.
        let error = Databases::new(&settings)
            .get_read_only("default")
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the SQLite database {} (databases.default.url) is a folder, not a file (SQLite: disk I/O error)",
                folder.display()
            )
        );
        assert_eq!(
            error.hint().as_deref(),
            Some("point databases.default.url to a file inside it, or remove the folder")
        );

        // A file where the database's folder goes: named, and left as it was.
        let file = dir.path().join("file.txt");
        std::fs::write(&file, "notes").unwrap();
        let (_settings_dir, settings) = load(&format!(
            "[databases.default]\nurl = \"sqlite://{}/db/db.sqlite3\"\n",
            file.display()
        ));
        let error = Databases::new(&settings).get("default").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot create the database folder {}/db of databases.default.url: {} is a file",
                file.display(),
                file.display()
            )
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "move or remove that file, or change databases.default.url to a path whose folders are folders"
            )
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "notes");

        // A link to nothing where the folder goes, or above it: named with
        // its target, not "File exists" and a hint about permissions. The
        // link is left as it was, its target not made.
        let link = dir.path().join("link");
        let target = dir.path().join("nonexistent/x");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for folder in [link.clone(), link.join("sub")] {
            let (_settings_dir, settings) = load(&format!(
                "[databases.default]\nurl = \"sqlite://{}/db.sqlite3\"\n",
                folder.display()
            ));
            let error = Databases::new(&settings).get("default").await.unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "cannot create the database folder {} of databases.default.url: {} is a link to {}, which does not exist",
                    folder.display(),
                    link.display(),
                    target.display()
                )
            );
            assert_eq!(
                error.hint().as_deref(),
                Some(
                    "create the link's target or remove the link, or change databases.default.url to a path whose folders are folders"
                )
            );
        }
        assert_eq!(std::fs::read_link(&link).unwrap(), target);
        assert!(!dir.path().join("nonexistent").exists());
    }

    /// A file at the database's path that is not an SQLite database (a
    /// file copied there by mistake), or a damaged one (cut short), is
    /// named with the setting and what to do, not sqlx's bare "(code: 26)
    /// file is not a database"; the file is left as it was.
    #[tokio::test]
    async fn a_file_that_is_not_a_sound_database_is_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_database = "these are my notes, not a database; ".repeat(10);
        let sound = dir.path().join("sound.sqlite3");
        let (_settings_dir, settings) = load(&format!(
            "[databases.default]\nurl = \"sqlite://{}\"\n",
            sound.display()
        ));
        let databases = Databases::new(&settings);
        let pool = databases.get("default").await.unwrap();
        for table in ["a", "b", "c", "d"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE {table} (x TEXT)"
            )))
            .execute(&pool)
            .await
            .unwrap();
        }
        databases.close().await;
        let mut cut_short = std::fs::read(&sound).unwrap();
        assert!(cut_short.len() > 5000, "{}", cut_short.len());
        cut_short.truncate(5000);
        for (contents, what, hint) in [
            (
                not_a_database.as_bytes().to_vec(),
                "is not an SQLite database (SQLite: file is not a database)",
                "point databases.default.url to the project's database file, or move that file away and run `manage migrate` to create a new database; the file was left as it is".to_string(),
            ),
            (
                cut_short,
                "is damaged (SQLite: database disk image is malformed)",
                format!(
                    "restore it from a backup (`sqlite3 {} .recover` saves what can be read), or point databases.default.url to another file; the file was left as it is",
                    dir.path().join("db.sqlite3").display()
                ),
            ),
        ] {
            let file = dir.path().join("db.sqlite3");
            std::fs::write(&file, &contents).unwrap();
            let (_settings_dir, settings) = load(&format!(
                "[databases.default]\nurl = \"sqlite://{}\"\n",
                file.display()
            ));
            let error = Databases::new(&settings).get("default").await.unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{error:?}");
            assert_eq!(
                error.to_string(),
                format!(
                    "the file {} of databases.default.url {what}",
                    file.display()
                )
            );
            assert_eq!(error.hint().as_deref(), Some(hint.as_str()));
            assert_eq!(std::fs::read(&file).unwrap(), contents);
        }
    }

    #[test]
    fn sqlite_file_paths() {
        assert_eq!(
            sqlite_file("sqlite:///a/b.db?mode=ro"),
            Some(PathBuf::from("/a/b.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x/y"), None);
    }
}
