//! Server-side session storage: where the `session` middleware keeps a
//! [`Session`](crate::middleware::session::Session)'s data when
//! `session_engine` is `"cache"` or `"db"` (Django's cache and database
//! backends). With the default `"signed_cookies"` the data travels in the
//! cookie and nothing is stored here.
//!
//! With a server-side engine the `sessionid` cookie holds only a random
//! key: [`KEY_LENGTH`] letters and digits from the operating system's
//! random generator, with the same cookie attributes as a signed cookie.
//! The data is stored as JSON under that key until `session_cookie_age`
//! seconds after it was last written:
//!
//! - `"cache"`: at `nuages.session.<key>` in the cache `session_cache_alias`,
//!   with the session's age as its time to live. A cache that fails gives
//!   an empty session and a logged warning, never an error page.
//! - `"db"`: a row of `nuages_session(session_key, session_data,
//!   expire_date, user_key)` in the default database. `migrate` creates the
//!   table (migration set `sessions`) when `session_engine = "db"`;
//!   `clearsessions` deletes the expired rows.
//!
//! A key that is unknown, expired or malformed gives an empty session
//! (never an error), and a new key when the session is written. A session
//! is written only when it changed (Django's default,
//! `SESSION_SAVE_EVERY_REQUEST = False`): its expiry moves forward then.
//! A session ended meanwhile by another request (a logout, a login) is not
//! written back: the request is answered 400 and its cookie left alone (it
//! may be the one a concurrent login has just set), as Django's
//! `SessionInterrupted`.
//!
//! # Ending sessions (what the auth layer builds on)
//!
//! - [`Session::flush`](crate::middleware::session::Session::flush) deletes
//!   the stored session and the cookie: reusing the old cookie gives an
//!   empty session.
//! - [`Session::cycle_key`](crate::middleware::session::Session::cycle_key)
//!   keeps the data under a new key and deletes the old one (a login, against
//!   session fixation).
//! - [`SessionStore::end_sessions_of_user`] deletes every session of a
//!   user with the `db` engine: the session value [`AUTH_USER_KEY`] is
//!   copied into the indexed `user_key` column when the session is written.
//!   The cache engine cannot list a user's sessions, and a signed cookie
//!   cannot be ended anywhere but in its browser: for those, keep a hash of
//!   the user's password in the session and compare it on each request
//!   (Django's session auth hash), so that a password change ends them.

mod db;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde_json::{Map, Value};
use sqlx::AnyPool;
use sqlx::migrate::Migrator;

use crate::cache::Cache;
use crate::conf::{CacheBackend, SessionEngine, Settings};
use crate::error::{Error, Problem, Result};
use crate::state::AppState;

/// The length of a session key.
pub const KEY_LENGTH: usize = 40;

/// The session value the auth layer keeps the user's id under (Django's
/// `_auth_user_id`); the `db` engine copies it into the `user_key` column.
pub const AUTH_USER_KEY: &str = "_auth_user_id";

/// The label of the sessions' migration set (`_nuages_migrations_sessions`).
pub const MIGRATION_LABEL: &str = "sessions";

/// The `nuages_session` table, applied by `migrate` when `session_engine = "db"`.
pub(crate) static MIGRATIONS: Migrator = sqlx::migrate!("src/sessions/migrations");

/// What the cache keys of sessions start with.
pub(crate) const CACHE_KEY_PREFIX: &str = "nuages.session.";

/// The cache key of the session `key`.
fn cache_key(key: &str) -> String {
    format!("{CACHE_KEY_PREFIX}{key}")
}

/// Why the store could not do what was asked: logged, never shown.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct StoreError(String);

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError(error.to_string())
    }
}

impl From<Error> for StoreError {
    fn from(error: Error) -> Self {
        StoreError(error.chain().join(": "))
    }
}

/// What became of a write of an existing session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Saved {
    /// Written.
    Done,
    /// The session was ended meanwhile: not written back.
    Gone,
}

/// Where sessions are stored, per `session_engine`: a cheap handle.
///
/// A view takes it as an extractor to end the sessions of a user:
///
/// ```
/// use nuages::sessions::SessionStore;
///
/// async fn password_changed(store: SessionStore) -> nuages::Result<String> {
///     let ended = store.end_sessions_of_user("42").await?;
///     Ok(format!("{ended} sessions ended"))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct SessionStore {
    backend: Backend,
    age: u64,
}

#[derive(Clone, Debug)]
enum Backend {
    SignedCookies,
    Cache(Cache),
    Db(Arc<AppState>),
}

impl SessionStore {
    /// The store of the application `app`; refuses a `session_cache_alias`
    /// that names no cache (`nuages.E022`) and a store that keeps nothing
    /// (`nuages.E023`).
    pub(crate) fn new(app: &Arc<AppState>) -> Result<SessionStore> {
        let settings = &app.settings;
        check_cache_alias(settings)?;
        check_store_keeps_sessions(settings)?;
        let backend = match settings.session_engine {
            SessionEngine::SignedCookies => Backend::SignedCookies,
            SessionEngine::Db => Backend::Db(app.clone()),
            SessionEngine::Cache => Backend::Cache(
                app.caches
                    .get(&settings.session_cache_alias)
                    .cloned()
                    .expect("check_cache_alias found it"),
            ),
        };
        Ok(SessionStore {
            backend,
            age: settings.session_cookie_age,
        })
    }

    /// Whether the data lives on the server and the cookie holds a key.
    pub(crate) fn is_server_side(&self) -> bool {
        !matches!(self.backend, Backend::SignedCookies)
    }

    async fn pool(app: &AppState) -> Result<AnyPool, StoreError> {
        Ok(app.databases.get(crate::db::DEFAULT_ALIAS).await?)
    }

    /// The session stored under `key`: `Ok(None)` when there is none (or
    /// the key is not one we make), `Err` when the store failed (logged),
    /// and the session may be there all the same.
    pub(crate) async fn load(&self, key: &str) -> Result<Option<Map<String, Value>>, ()> {
        if !is_valid_key(key) {
            return Ok(None);
        }
        let loaded = match &self.backend {
            Backend::SignedCookies => Ok(None),
            Backend::Cache(cache) => {
                return Ok(cache
                    .try_get::<Value>(&cache_key(key))
                    .await?
                    .and_then(|value| match value {
                        Value::Object(values) => Some(values),
                        _ => None,
                    }));
            }
            Backend::Db(app) => match Self::pool(app).await {
                Ok(pool) => db::load(&pool, key, unix_now()).await,
                Err(error) => Err(error),
            },
        };
        loaded.map_err(|error| warn("read", "the session is treated as empty", &error))
    }

    /// Store a new session under `key`. False when the store failed (logged).
    pub(crate) async fn create(&self, key: &str, values: &Map<String, Value>) -> bool {
        let result = match &self.backend {
            Backend::SignedCookies => Ok(()),
            Backend::Cache(cache) => self.cache_set(cache, key, values).await,
            Backend::Db(app) => {
                let (json, expire_date, user) = self.row(values);
                match Self::pool(app).await {
                    Ok(pool) => db::create(&pool, key, &json, expire_date, user.as_deref()).await,
                    Err(error) => Err(error),
                }
            }
        };
        result
            .map_err(|error| warn("create", "the new session is not saved", &error))
            .is_ok()
    }

    /// Rewrite the session stored under `key`, unless it was ended
    /// meanwhile. `None` when the store failed (logged).
    pub(crate) async fn update(&self, key: &str, values: &Map<String, Value>) -> Option<Saved> {
        let result = match &self.backend {
            Backend::SignedCookies => Ok(Saved::Done),
            // Django's check, as the cache has no "set if present". A
            // cache that failed to answer is a failed write, not a session
            // ended meanwhile.
            Backend::Cache(cache) => match cache.try_get::<Value>(&cache_key(key)).await {
                Err(()) => Err(StoreError(
                    "the session cache failed to say whether the session is still there".into(),
                )),
                Ok(None) => Ok(Saved::Gone),
                Ok(Some(_)) => self
                    .cache_set(cache, key, values)
                    .await
                    .map(|()| Saved::Done),
            },
            Backend::Db(app) => {
                let (json, expire_date, user) = self.row(values);
                match Self::pool(app).await {
                    Ok(pool) => {
                        db::update(&pool, key, &json, expire_date, user.as_deref(), unix_now())
                            .await
                    }
                    Err(error) => Err(error),
                }
            }
        };
        result.map_err(|error| warn(
                "write",
                "this request's changes to the session are not saved (the stored session is left as it was)",
                &error,
            )).ok()
    }

    /// Delete the session stored under `key`; `false` when the store
    /// failed (logged), and the session may still be there.
    pub(crate) async fn delete(&self, key: &str) -> bool {
        let result = match &self.backend {
            Backend::SignedCookies => Ok(()),
            Backend::Cache(cache) => return cache.try_delete(&cache_key(key)).await.is_ok(),
            Backend::Db(app) => match Self::pool(app).await {
                Ok(pool) => db::delete(&pool, key).await,
                Err(error) => Err(error),
            },
        };
        result
            .map_err(|error| warn("delete", "the session may still be stored", &error))
            .is_ok()
    }

    /// Delete every stored session whose [`AUTH_USER_KEY`] is `user_key`
    /// (a password change, "log out everywhere"); how many there were.
    /// Only the `db` engine can: with the others this is an error that says
    /// so (use a session auth hash, see the [module](self) documentation).
    pub async fn end_sessions_of_user(&self, user_key: &str) -> Result<u64> {
        match &self.backend {
            Backend::Db(app) => {
                let pool = app.databases.get(crate::db::DEFAULT_ALIAS).await?;
                db::delete_for_user(&pool, user_key)
                    .await
                    .map_err(Error::other)
            }
            Backend::SignedCookies | Backend::Cache(_) => Err(Error::Config(
                Problem::new(format!(
                    "session_engine = \"{}\" cannot find the sessions of a user to end them",
                    self.engine().as_str()
                ))
                .with_hint(
                    "set session_engine = \"db\", or keep a hash of the user's password in the \
                     session and end a session whose hash no longer matches",
                ),
            )),
        }
    }

    fn engine(&self) -> SessionEngine {
        match self.backend {
            Backend::SignedCookies => SessionEngine::SignedCookies,
            Backend::Cache(_) => SessionEngine::Cache,
            Backend::Db(_) => SessionEngine::Db,
        }
    }

    async fn cache_set(
        &self,
        cache: &Cache,
        key: &str,
        values: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        let timeout = Duration::from_secs(self.age.max(1));
        match cache.set_for(&cache_key(key), values, timeout).await {
            true => Ok(()),
            false => Err(StoreError("the cache did not store it".into())),
        }
    }

    /// A `nuages_session` row's data, expiry and user for `values`.
    fn row(&self, values: &Map<String, Value>) -> (String, i64, Option<String>) {
        let json = serde_json::to_string(values).expect("a JSON map always serializes");
        let age = i64::try_from(self.age).unwrap_or(i64::MAX);
        let user = values.get(AUTH_USER_KEY).and_then(|value| match value {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        });
        (json, unix_now().saturating_add(age), user)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionStore {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        SessionStore::new(AppState::from_parts(parts)?)
    }
}

/// A store that failed: what was tried, and what it means for the
/// visitor's session (`outcome`).
fn warn(operation: &str, outcome: &str, error: &StoreError) {
    tracing::warn!(
        target: "nuages::sessions",
        "session {operation} failed, {outcome}: {error}"
    );
}

/// The session map in stored JSON, or `None` for anything else.
fn decode_data(json: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(json).ok()? {
        Value::Object(values) => Some(values),
        _ => None,
    }
}

/// Whether `key` has the shape of the keys [`new_key`] makes: anything
/// else is not looked up.
pub(crate) fn is_valid_key(key: &str) -> bool {
    key.len() == KEY_LENGTH && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new random session key, or `None` when the OS random generator failed.
pub(crate) fn new_key() -> Option<String> {
    crate::middleware::csrf::random_string(KEY_LENGTH)
        .map_err(|error| {
            tracing::error!(target: "nuages::sessions", "no session key could be made: {error}");
        })
        .ok()
}

/// Seconds since the epoch, as the `expire_date` column holds them.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Delete the expired rows of `nuages_session` (`clearsessions`).
pub(crate) async fn clear_expired(pool: &AnyPool) -> Result<u64> {
    db::clear_expired(pool, unix_now()).await.map_err(|error| {
        Error::Config(
            Problem::new(format!(
                "the expired sessions could not be deleted: {error}"
            ))
            .with_hint(
                "run `manage migrate` (it creates the nuages_session table when \
                         session_engine = \"db\") and check databases.default.url",
            ),
        )
    })
}

/// `nuages.E022`: with `session_engine = "cache"`, `session_cache_alias`
/// must name a configured cache.
pub(crate) fn check_cache_alias(settings: &Settings) -> Result<()> {
    let alias = &settings.session_cache_alias;
    if settings.session_engine != SessionEngine::Cache || settings.caches.contains_key(alias) {
        return Ok(());
    }
    let known: Vec<&str> = settings.caches.keys().map(String::as_str).collect();
    Err(Error::Config(
        Problem::new(format!(
            "session_cache_alias is \"{alias}\", and the settings have no [caches.{alias}] to keep sessions in"
        ))
        .with_hint(format!(
            "{}add a [caches.{alias}] table (backend = \"redis\"), or set session_cache_alias to a configured cache{}",
            crate::middleware::did_you_mean(alias, &known),
            match known.is_empty() {
                true => String::new(),
                false => format!(": {}", known.join(", ")),
            }
        )),
    ))
}

/// `nuages.E023`: the store `session_engine` names must keep what it is
/// given: not a `dummy` cache, and a default database for `"db"`.
pub(crate) fn check_store_keeps_sessions(settings: &Settings) -> Result<()> {
    match settings.session_engine {
        SessionEngine::SignedCookies => Ok(()),
        SessionEngine::Cache => {
            let alias = &settings.session_cache_alias;
            match settings.caches.get(alias) {
                Some(cache) if cache.backend == CacheBackend::Dummy => Err(Error::Config(
                    Problem::new(format!(
                        "session_engine = \"cache\" keeps sessions in the cache '{alias}', whose \
                         backend \"dummy\" keeps nothing: every session would be lost at once"
                    ))
                    .with_hint(format!(
                        "set caches.{alias}.backend = \"redis\", point session_cache_alias at \
                         another cache, or set session_engine = \"db\""
                    )),
                )),
                _ => Ok(()),
            }
        }
        SessionEngine::Db => match settings.databases.contains_key(crate::db::DEFAULT_ALIAS) {
            true => Ok(()),
            false => Err(Error::Config(
                Problem::new(
                    "session_engine = \"db\" keeps sessions in the default database, and the \
                     settings have no [databases.default]",
                )
                .with_hint(
                    "add a [databases.default] table with a url, or set session_engine = \"cache\"",
                ),
            )),
        },
    }
}
