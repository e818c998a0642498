//! Databases: one sqlx pool per `[databases.<alias>]`, opened on first use.
//!
//! Pools are sqlx's `Any` pools, so a PostgreSQL URL works through the same
//! setting. SQLite, the default, gets its folder created, WAL journaling, a
//! busy timeout and foreign keys on every connection.
//!
//! ```
//! use nuages::db::Db;
//! async fn count(Db(pool): Db) -> nuages::Result<String> {
//!     let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM polls_question").fetch_one(&pool).await?;
//!     Ok(n.to_string())
//! }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Once;

use axum::extract::FromRequestParts;
use http::request::Parts;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use tokio::sync::OnceCell;

use crate::conf::{DatabaseSettings, Settings};
use crate::error::{Error, Result};

/// The alias views get through [`Db`].
pub const DEFAULT_ALIAS: &str = "default";

/// The pools of an application, by alias.
#[derive(Debug, Default)]
pub struct Databases {
    entries: BTreeMap<String, Database>,
}

#[derive(Debug)]
struct Database {
    settings: DatabaseSettings,
    pool: OnceCell<AnyPool>,
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
                            pool: OnceCell::new(),
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

    /// The pool of `alias`, opening it on first use.
    pub async fn get(&self, alias: &str) -> Result<AnyPool> {
        let database = self.entries.get(alias).ok_or_else(|| Error::Config {
            message: format!("no database '{alias}' in the `databases` setting"),
            hint: Some(format!("add a [databases.{alias}] table with a url")),
        })?;
        let pool = database
            .pool
            .get_or_try_init(|| open(&database.settings))
            .await?;
        Ok(pool.clone())
    }
}

/// The SQLite file a URL points at, if it is a SQLite URL with a file.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Every URL scheme one of sqlx's database drivers handles, whether this
/// build compiles the driver in or not.
const DRIVER_SCHEMES: &[&str] = &["sqlite", "postgres", "postgresql", "mysql", "mariadb"];

/// A database URL whose scheme no driver handles: what is wrong and what works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSchemeError {
    /// What is wrong with the URL.
    pub message: String,
    /// The closest scheme, and the URLs that work in this build.
    pub hint: String,
}

/// The scheme of a URL (`sqlite` for `sqlite://x`, `sqlite:x` and
/// `sqlite::memory:`), if it has one.
pub fn url_scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// Refuse a URL whose scheme names no database driver.
///
/// ```
/// use nuages::db::check_url_scheme;
/// assert!(check_url_scheme("sqlite://db/db.sqlite3").is_ok());
/// let error = check_url_scheme("sqlite3://db.sqlite3").unwrap_err();
/// assert!(error.hint.contains("did you mean sqlite://"));
/// ```
pub fn check_url_scheme(url: &str) -> std::result::Result<(), UrlSchemeError> {
    let scheme = url_scheme(url);
    if scheme.is_some_and(|s| DRIVER_SCHEMES.contains(&s.to_ascii_lowercase().as_str())) {
        return Ok(());
    }
    let message = match scheme {
        Some(scheme) => {
            format!("{url:?} has the scheme {scheme:?}, which no database driver handles")
        }
        None => format!("{url:?} has no scheme, such as sqlite://"),
    };
    let working = <sqlx::Sqlite as sqlx::Database>::URL_SCHEMES
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ");
    let works = format!(
        "schemes that work in this build: {working} (sqlite://db/db.sqlite3 is a file relative to the settings file, sqlite::memory: a database in memory)"
    );
    let hint =
        match scheme.and_then(|s| crate::conf::closest_name(s, DRIVER_SCHEMES.iter().copied())) {
            Some(closest) => format!("did you mean {closest}://? The {works}"),
            None => format!("the {works}"),
        };
    Err(UrlSchemeError { message, hint })
}

async fn open(settings: &DatabaseSettings) -> Result<AnyPool> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
    let mut url = settings.url.clone();
    if let Some(file) = sqlite_file(&url) {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Config {
                message: format!("cannot create the database folder {}: {source}", dir.display()),
                hint: Some("make it writable by the user running the server, or change databases.default.url".into()),
            })?;
        }
        if !url.contains("mode=") {
            url.push_str(if url.contains('?') {
                "&mode=rwc"
            } else {
                "?mode=rwc"
            });
        }
    }
    let busy_timeout = settings.busy_timeout_ms;
    let pool = AnyPoolOptions::new()
        .max_connections(settings.max_connections)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                if connection.backend_name().eq_ignore_ascii_case("sqlite") {
                    for pragma in [
                        "PRAGMA journal_mode = WAL".to_string(),
                        format!("PRAGMA busy_timeout = {busy_timeout}"),
                        "PRAGMA foreign_keys = ON".to_string(),
                        "PRAGMA synchronous = NORMAL".to_string(),
                    ] {
                        sqlx::query(sqlx::AssertSqlSafe(pragma))
                            .execute(&mut *connection)
                            .await?;
                    }
                }
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    Ok(pool)
}

/// Extractor: the pool of the `default` database.
#[derive(Debug, Clone)]
pub struct Db(pub AnyPool);

impl<S: Send + Sync> FromRequestParts<S> for Db {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let state = crate::handler::AppState::from_parts(parts)?.clone();
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
        assert!(dir.path().join("db/db.sqlite3").is_file());
        let err = databases.get("other").await.unwrap_err();
        assert!(err.to_string().contains("'other'"));
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

    #[test]
    fn url_schemes_name_their_driver_or_the_closest() {
        assert_eq!(url_scheme("sqlite::memory:"), Some("sqlite"));
        assert_eq!(url_scheme("sqlite:db.sqlite3"), Some("sqlite"));
        assert_eq!(url_scheme("db/db.sqlite3"), None);
        for url in [
            "sqlite://db/x.sqlite3",
            "sqlite::memory:",
            "postgres://h/x",
            "mysql://h/x",
        ] {
            assert_eq!(check_url_scheme(url), Ok(()), "{url}");
        }
        let error = check_url_scheme("postgress://h/x").unwrap_err();
        assert!(error.message.contains("\"postgress\""), "{}", error.message);
        assert!(
            error.hint.starts_with("did you mean postgres://?"),
            "{}",
            error.hint
        );
        let error = check_url_scheme("db/db.sqlite3").unwrap_err();
        assert!(error.message.contains("no scheme"), "{}", error.message);
        assert!(
            error
                .hint
                .starts_with("the schemes that work in this build: sqlite://"),
            "{}",
            error.hint
        );
    }
}
