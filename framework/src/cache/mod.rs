//! Caches, as Django's `CACHES`: one [`Cache`] per `[caches.<alias>]`,
//! built once per application, reached from views with the [`Cache`]
//! extractor (the `default` alias) or [`Caches`] (any alias).
//!
//! Values are anything serde can write, stored as JSON. A cache that fails
//! (a Redis server gone away, a value of another type) never fails the
//! request: the operation is a miss, and a warning is logged.
//!
//! ```
//! use nuages::cache::Cache;
//! async fn visits(cache: Cache) -> String {
//!     let n = cache.incr("visits", 1).await.unwrap_or(0);
//!     format!("{n} visits")
//! }
//! ```

mod locmem;
mod page;
mod redis;

pub use page::{CachePage, cache_page};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::conf::{CacheBackend, CacheSettings, Settings};
use crate::error::{Error, Problem, Result};
use crate::state::AppState;

/// The alias the [`Cache`] extractor gives.
pub const DEFAULT_ALIAS: &str = "default";

/// Why a backend could not do what was asked; logged, never returned.
#[derive(Debug)]
pub(crate) struct BackendError {
    message: String,
    /// The cache's server failed (unreachable, timed out, refused the
    /// command), rather than the value: the warning names the server.
    from_server: bool,
}

impl BackendError {
    fn new(message: impl Into<String>) -> Self {
        BackendError {
            message: message.into(),
            from_server: false,
        }
    }

    /// A failure of the cache's server.
    fn of_server(message: impl Into<String>) -> Self {
        BackendError {
            message: message.into(),
            from_server: true,
        }
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug)]
enum Backend {
    LocMem(locmem::LocMem),
    // Boxed: a TLS client's parameters make it several times the others.
    Redis(Box<redis::Redis>),
    Dummy,
}

/// A cache: a cheap, cloneable handle on one `[caches.<alias>]`.
#[derive(Debug, Clone)]
pub struct Cache {
    alias: Arc<str>,
    default_timeout: Duration,
    /// `key_prefix` and `:`, or empty.
    prefix: Arc<str>,
    backend: Arc<Backend>,
}

impl Cache {
    /// The cache `settings` describe; `alias` names it in errors and logs.
    pub fn new(alias: &str, settings: &CacheSettings) -> Result<Self> {
        let key = format!("caches.{alias}.location");
        if settings.backend != CacheBackend::Redis && !settings.location.is_empty() {
            // A Redis URL under a forgotten `backend` would be a cache of
            // each process's own, silently: one process's changes unseen
            // by the others.
            let backend = settings.backend.name();
            return Err(Error::Config(
                Problem::new(format!(
                    "{key} is set, but the {backend} backend reads no location \
                     (caches.{alias}.backend = \"{backend}\")"
                ))
                .with_hint(format!(
                    "to use the server at {key}, set caches.{alias}.backend = \"redis\"; \
                     else remove {key}"
                )),
            ));
        }
        let backend = match settings.backend {
            CacheBackend::Locmem if settings.max_entries == 0 => {
                return Err(Error::Config(
                    Problem::new(format!(
                        "caches.{alias}.max_entries is 0: a locmem cache that keeps no entry \
                         (each one is dropped as it is set)"
                    ))
                    .with_hint(format!(
                        "set caches.{alias}.max_entries to the most entries to keep (300 by \
                         default), or caches.{alias}.backend = \"dummy\" to cache nothing"
                    )),
                ));
            }
            CacheBackend::Locmem => Backend::LocMem(locmem::LocMem::new(settings.max_entries)),
            CacheBackend::Dummy => Backend::Dummy,
            CacheBackend::Redis => {
                if settings.location.is_empty() {
                    return Err(Error::Config(
                        Problem::new(format!(
                            "{key} is empty, and the redis backend needs the server's URL"
                        ))
                        .with_hint(format!(
                            "set {key} = \"redis://127.0.0.1:6379/0\" (or redis+unix:///PATH)"
                        )),
                    ));
                }
                Backend::Redis(Box::new(redis::Redis::new(alias, settings)?))
            }
        };
        let prefix = match settings.key_prefix.as_str() {
            "" => String::new(),
            prefix => format!("{prefix}:"),
        };
        Ok(Cache {
            alias: alias.into(),
            default_timeout: Duration::from_secs(settings.timeout),
            prefix: prefix.into(),
            backend: Arc::new(backend),
        })
    }

    /// `key` as stored: after `key_prefix` and `:`, when there is one.
    fn stored(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The value at `key`, if there is one of type `T`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.try_get(key).await.ok().flatten()
    }

    /// [`Self::get`], telling a cache that failed (`Err`, logged) from a
    /// miss: what was there may still be (a session to end).
    pub(crate) async fn try_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ()> {
        let json = match &*self.backend {
            Backend::LocMem(m) => m.get(&self.stored(key)).await,
            Backend::Redis(r) => r
                .get(&self.stored(key))
                .await
                .map_err(|e| self.warn("get", key, &e))?,
            Backend::Dummy => None,
        };
        Ok(json.and_then(|json| self.decode(key, &json)))
    }

    /// The values found among `keys`, by key; missing ones are left out.
    pub async fn get_many<T: DeserializeOwned>(&self, keys: &[&str]) -> HashMap<String, T> {
        let found: Vec<Option<String>> = match &*self.backend {
            Backend::LocMem(m) => {
                let mut found = Vec::with_capacity(keys.len());
                for key in keys {
                    found.push(m.get(&self.stored(key)).await);
                }
                found
            }
            Backend::Redis(r) if !keys.is_empty() => {
                let stored: Vec<String> = keys.iter().map(|key| self.stored(key)).collect();
                self.degrade("get_many", &keys.join(","), r.get_many(&stored).await)
                    .unwrap_or_default()
            }
            Backend::Redis(_) | Backend::Dummy => vec![],
        };
        keys.iter()
            .zip(found)
            .filter_map(|(key, json)| Some((key.to_string(), self.decode(key, &json?)?)))
            .collect()
    }

    /// Whether an unexpired entry is at `key`, whatever its type (Django's
    /// `has_key`). False when the cache failed (logged), and always with
    /// the dummy backend.
    pub async fn has_key(&self, key: &str) -> bool {
        self.try_has_key(key).await.unwrap_or(false)
    }

    async fn try_has_key(&self, key: &str) -> Result<bool, ()> {
        match &*self.backend {
            Backend::LocMem(m) => Ok(m.contains(&self.stored(key))),
            Backend::Redis(r) => r
                .has_key(&self.stored(key))
                .await
                .map_err(|e| self.warn("has_key", key, &e)),
            Backend::Dummy => Ok(false),
        }
    }

    /// Stores `value` at `key` for the alias's `timeout`. False when the
    /// cache failed (logged).
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> bool {
        self.set_for(key, value, self.default_timeout).await
    }

    /// Stores `value` at `key` for `timeout`; a zero timeout removes it,
    /// and `Duration::MAX` (any timeout over 1000 years: Django's
    /// `timeout=None`) keeps it until it is deleted or evicted. False when
    /// the cache failed (logged).
    pub async fn set_for<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        timeout: Duration,
    ) -> bool {
        if timeout.is_zero() {
            self.delete(key).await;
            return true;
        }
        let Some(json) = self.encode("set", key, value) else {
            return false;
        };
        match &*self.backend {
            Backend::LocMem(m) => {
                m.set(&self.stored(key), json, timeout).await;
                true
            }
            Backend::Redis(r) => self
                .degrade("set", key, r.set(&self.stored(key), json, timeout).await)
                .is_some(),
            Backend::Dummy => true,
        }
    }

    /// Removes `key`; true when it was there.
    pub async fn delete(&self, key: &str) -> bool {
        self.try_delete(key).await.unwrap_or(false)
    }

    /// [`Self::delete`], telling a cache that failed (`Err`, logged) from
    /// a key that was not there: what must be gone (an ended session)
    /// cannot take a failure for a miss.
    pub(crate) async fn try_delete(&self, key: &str) -> Result<bool, ()> {
        match &*self.backend {
            Backend::LocMem(m) => Ok(m.delete(&self.stored(key)).await),
            Backend::Redis(r) => r
                .delete(&self.stored(key))
                .await
                .map_err(|e| self.warn("delete", key, &e)),
            Backend::Dummy => Ok(false),
        }
    }

    /// Stores `value` at `key` for the alias's `timeout` only when no
    /// entry is there, as Django's `add`: true when it stored, false when
    /// the key was there (the value is left as it was) or the cache failed
    /// (logged). The check and the store are one step, also with Redis and
    /// several processes: of two concurrent `add`s of a key, exactly one
    /// gets true, so it can serve as a lock or a once-only marker. The
    /// dummy backend stores nothing and says true, as Django's.
    ///
    /// ```
    /// use nuages::cache::Cache;
    /// async fn welcome_once(cache: Cache, user: i64) -> &'static str {
    ///     if cache.add(&format!("welcomed:{user}"), &true).await {
    ///         "welcome!" // once, whichever request (or process) is first
    ///     } else {
    ///         "welcome back"
    ///     }
    /// }
    /// ```
    pub async fn add<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> bool {
        self.add_for(key, value, self.default_timeout).await
    }

    /// [`Self::add`] for `timeout` instead of the alias's (`Duration::MAX`:
    /// no expiry). With a zero timeout nothing is stored, and the answer is
    /// whether the key was absent, as Django's `add(key, value, 0)`.
    pub async fn add_for<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        timeout: Duration,
    ) -> bool {
        self.try_add(key, value, timeout).await.unwrap_or(false)
    }

    /// [`Self::add_for`], telling a cache that failed (`Err`, logged) from
    /// a key that was there.
    async fn try_add<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        timeout: Duration,
    ) -> Result<bool, ()> {
        let json = self.encode("add", key, value).ok_or(())?;
        if timeout.is_zero() {
            return self.try_has_key(key).await.map(|found| !found);
        }
        match &*self.backend {
            Backend::LocMem(m) => Ok(m.add(&self.stored(key), json, timeout).await),
            Backend::Redis(r) => r
                .add(&self.stored(key), json, timeout)
                .await
                .map_err(|e| self.warn("add", key, &e)),
            Backend::Dummy => Ok(true),
        }
    }

    /// The value at `key`; on a miss, the value `default` makes, added for
    /// the alias's `timeout` (Django's `get_or_set`). As Django's, when
    /// another caller added a value meanwhile, that one is given (and
    /// yours dropped), so that concurrent callers agree. A cache that
    /// fails (logged) gives `default`'s value, stored nowhere; so does a
    /// stored value of another type, left in place.
    ///
    /// ```
    /// use nuages::cache::Cache;
    /// async fn total(cache: Cache) -> String {
    ///     let n: i64 = cache
    ///         .get_or_set("orders:total", || async {
    ///             42 // a slow query, run only on a miss
    ///         })
    ///         .await;
    ///     n.to_string()
    /// }
    /// ```
    pub async fn get_or_set<T, F, Fut>(&self, key: &str, default: F) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        self.get_or_set_for(key, default, self.default_timeout)
            .await
    }

    /// [`Self::get_or_set`], a missing value added for `timeout` instead of
    /// the alias's.
    pub async fn get_or_set_for<T, F, Fut>(&self, key: &str, default: F, timeout: Duration) -> T
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let found = self.try_get(key).await;
        if let Ok(Some(value)) = found {
            return value;
        }
        let value = default().await;
        // A cache that failed is not asked again (each ask may wait for
        // its response timeout).
        if found.is_ok() && self.try_add(key, &value, timeout).await == Ok(false) {
            // Another caller's value, added since the first get.
            if let Some(theirs) = self.get(key).await {
                return theirs;
            }
        }
        value
    }

    /// Renews the expiry of the entry at `key` to the alias's `timeout`
    /// from now, its value unchanged (Django's `touch`); true when it was
    /// there, false when it was not or the cache failed (logged), and
    /// always with the dummy backend.
    ///
    /// ```
    /// use nuages::cache::Cache;
    /// async fn keep_alive(cache: Cache, token: &str) -> bool {
    ///     cache.touch(&format!("token:{token}")).await
    /// }
    /// ```
    pub async fn touch(&self, key: &str) -> bool {
        self.touch_for(key, self.default_timeout).await
    }

    /// [`Self::touch`] with `timeout`: `Duration::MAX` removes the expiry,
    /// and a zero timeout removes the entry (true when it was there), as
    /// Django's `touch(key, None)` and `touch(key, 0)`.
    pub async fn touch_for(&self, key: &str, timeout: Duration) -> bool {
        if timeout.is_zero() {
            return self.delete(key).await;
        }
        match &*self.backend {
            Backend::LocMem(m) => m.touch(&self.stored(key), timeout).await,
            Backend::Redis(r) => self
                .degrade("touch", key, r.touch(&self.stored(key), timeout).await)
                .unwrap_or(false),
            Backend::Dummy => false,
        }
    }

    /// Stores each `(key, value)` for the alias's `timeout` (Django's
    /// `set_many`) and gives the keys that were not stored: none when all
    /// were; those whose value serde cannot write; all of them when the
    /// cache failed (logged). With Redis the entries are stored in one
    /// transaction.
    ///
    /// ```
    /// use nuages::cache::Cache;
    /// async fn remember(cache: Cache) -> bool {
    ///     cache.set_many([("a", 1), ("b", 2)]).await.is_empty()
    /// }
    /// ```
    pub async fn set_many<K, V, I>(&self, entries: I) -> Vec<String>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Serialize,
    {
        self.set_many_for(entries, self.default_timeout).await
    }

    /// [`Self::set_many`] for `timeout` (as [`Self::set_for`]'s: zero
    /// removes the keys, `Duration::MAX` keeps them without expiry).
    pub async fn set_many_for<K, V, I>(&self, entries: I, timeout: Duration) -> Vec<String>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Serialize,
    {
        let mut failed = Vec::new();
        let mut encoded = Vec::new();
        for (key, value) in entries {
            let key = key.as_ref();
            match self.encode("set_many", key, &value) {
                Some(json) => encoded.push((key.to_string(), json)),
                None => failed.push(key.to_string()),
            }
        }
        if encoded.is_empty() {
            return failed;
        }
        if timeout.is_zero() {
            let keys: Vec<&str> = encoded.iter().map(|(key, _)| key.as_str()).collect();
            self.delete_many(&keys).await;
            return failed;
        }
        match &*self.backend {
            Backend::LocMem(m) => {
                for (key, json) in encoded {
                    m.set(&self.stored(&key), json, timeout).await;
                }
            }
            Backend::Redis(r) => {
                let stored: Vec<(String, String)> = encoded
                    .iter()
                    .map(|(key, json)| (self.stored(key), json.clone()))
                    .collect();
                let keys: Vec<&str> = encoded.iter().map(|(key, _)| key.as_str()).collect();
                let done = r.set_many(&stored, timeout).await;
                if self.degrade("set_many", &keys.join(","), done).is_none() {
                    failed.extend(encoded.into_iter().map(|(key, _)| key));
                }
            }
            Backend::Dummy => {}
        }
        failed
    }

    /// Removes each of `keys` (Django's `delete_many`) and gives how many
    /// were there; 0 when the cache failed (logged).
    pub async fn delete_many(&self, keys: &[&str]) -> u64 {
        match &*self.backend {
            Backend::LocMem(m) => {
                let mut removed = 0;
                for key in keys {
                    removed += u64::from(m.delete(&self.stored(key)).await);
                }
                removed
            }
            Backend::Redis(r) if !keys.is_empty() => {
                let stored: Vec<String> = keys.iter().map(|key| self.stored(key)).collect();
                self.degrade("delete_many", &keys.join(","), r.delete_many(&stored).await)
                    .unwrap_or(0)
            }
            Backend::Redis(_) | Backend::Dummy => 0,
        }
    }

    /// Adds `delta` to the integer at `key` and gives the result; a missing
    /// key starts at 0 with the alias's `timeout`, and an existing one keeps
    /// its expiry. `None` when the value is not an integer or the cache
    /// failed (logged), and always with the dummy backend.
    pub async fn incr(&self, key: &str, delta: i64) -> Option<i64> {
        self.incr_for(key, delta, self.default_timeout).await
    }

    /// [`Self::incr`], a missing key starting with `timeout` instead of the
    /// alias's: a counter over a window that starts with its first count.
    pub async fn incr_for(&self, key: &str, delta: i64, timeout: Duration) -> Option<i64> {
        let timeout = timeout.max(Duration::from_millis(1));
        match &*self.backend {
            Backend::LocMem(m) => {
                let counted = m.incr(&self.stored(key), delta, timeout).await;
                self.degrade("incr", key, counted)
            }
            Backend::Redis(r) => {
                let counted = r.incr(&self.stored(key), delta, timeout).await;
                self.degrade("incr", key, counted)
            }
            Backend::Dummy => None,
        }
    }

    /// Takes `delta` from the integer at `key` and gives the result: as
    /// Django's, `incr(key, -delta)`, so a missing key starts at 0 with the
    /// alias's `timeout` and an existing one keeps its expiry. `None` when
    /// the value is not an integer, the result or `-delta` would overflow,
    /// or the cache failed (logged), and always with the dummy backend.
    pub async fn decr(&self, key: &str, delta: i64) -> Option<i64> {
        match delta.checked_neg() {
            Some(negated) => self.incr(key, negated).await,
            None => {
                let error = BackendError::new(format!("cannot take {delta} (it has no negation)"));
                self.warn("decr", key, &error);
                None
            }
        }
    }

    /// Removes every entry (with Redis, of the URL's database; only the
    /// keys of `key_prefix` when it is set). False when the cache failed
    /// (logged).
    pub async fn clear(&self) -> bool {
        match &*self.backend {
            Backend::LocMem(m) => {
                m.clear().await;
                true
            }
            Backend::Redis(r) => {
                let pattern = format!("{}*", self.prefix);
                self.degrade("clear", &pattern, r.clear(&self.prefix).await)
                    .is_some()
            }
            Backend::Dummy => true,
        }
    }

    /// `value` as JSON; `None` (logged) when serde cannot write it.
    fn encode<T: Serialize + ?Sized>(
        &self,
        operation: &str,
        key: &str,
        value: &T,
    ) -> Option<String> {
        let json = serde_json::to_string(value)
            .map_err(|e| BackendError::new(format!("cannot encode the value: {e}")));
        self.degrade(operation, key, json)
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, json: &str) -> Option<T> {
        let value = serde_json::from_str(json).map_err(|e| {
            BackendError::new(format!(
                "the stored value is not a {}: {e}",
                std::any::type_name::<T>()
            ))
        });
        self.degrade("get", key, value)
    }

    /// A failure becomes a miss and a warning.
    fn degrade<T>(&self, operation: &str, key: &str, result: Result<T, BackendError>) -> Option<T> {
        result.map_err(|e| self.warn(operation, key, &e)).ok()
    }

    /// The warning of a failed operation; a server's failure names the
    /// server and the setting that points at it (a bare "timed out" or "No
    /// such file or directory" says neither).
    fn warn(&self, operation: &str, key: &str, error: &BackendError) {
        let key = loggable_key(key);
        let error = match &*self.backend {
            Backend::Redis(redis) if error.from_server => format!(
                "the Redis server at {} (caches.{}.location): {error}",
                redis.address(),
                self.alias
            ),
            _ => error.to_string(),
        };
        tracing::warn!(
            target: "nuages::cache",
            cache = %self.alias,
            key,
            "cache {operation} failed, treated as a miss: {error}"
        );
    }
}

/// `key` (or keys joined with `,`) as a log may show it: a session's key is
/// what its cookie holds, a credential, so it is left out.
fn loggable_key(key: &str) -> String {
    use crate::sessions::CACHE_KEY_PREFIX;
    if !key.contains(CACHE_KEY_PREFIX) {
        return key.to_string();
    }
    key.split(',')
        .map(|one| match one.strip_prefix(CACHE_KEY_PREFIX) {
            Some(_) => format!("{CACHE_KEY_PREFIX}(hidden)"),
            None => one.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Every cache of an application, by alias.
#[derive(Debug, Clone, Default)]
pub struct Caches {
    entries: Arc<BTreeMap<String, Cache>>,
}

impl Caches {
    /// A cache for every `[caches.<alias>]`; none connects yet.
    pub fn new(settings: &Settings) -> Result<Self> {
        let entries = settings
            .caches
            .iter()
            .map(|(alias, cache)| Ok((alias.clone(), Cache::new(alias, cache)?)))
            .collect::<Result<_>>()?;
        Ok(Caches {
            entries: Arc::new(entries),
        })
    }

    /// The cache of `alias`, if configured.
    pub fn get(&self, alias: &str) -> Option<&Cache> {
        self.entries.get(alias)
    }

    /// At `serve` and `runserver` start: `PING` every Redis cache at once
    /// and log an error for each that fails, naming its location, what
    /// went wrong, what it switches off and the fix. A cache outage does
    /// not stop the site (every operation is a miss meanwhile), which makes
    /// a misconfigured one easy to miss without this line.
    pub(crate) async fn report_unreachable(&self, settings: &Settings) {
        let pings = self
            .entries
            .iter()
            .filter_map(|(alias, cache)| match &*cache.backend {
                Backend::Redis(redis) => Some(async move { (alias, redis, redis.ping().await) }),
                _ => None,
            });
        for (alias, redis, answer) in futures_util::future::join_all(pings).await {
            let Err(error) = answer else { continue };
            let key = format!("caches.{alias}.location");
            let (what, fix) = redis::diagnose(&error.message, &key, redis.is_tls());
            let mut off = Vec::new();
            if settings.session_engine == crate::conf::SessionEngine::Cache
                && settings.session_cache_alias == *alias
            {
                off.push("no session is read or kept (nobody stays logged in)");
            }
            if settings.login_throttle_cache_alias == *alias {
                off.push("the failed-login throttle counts nothing (it is off)");
            }
            let off = match off.is_empty() {
                true => String::new(),
                false => format!(" Meanwhile {}.", off.join(", and ")),
            };
            tracing::error!(
                target: "nuages::cache",
                cache = %alias,
                "the Redis server at {} ({key}) does not answer as it should: {what} ({error}). \
                 The site runs all the same, every operation of this cache a miss until it \
                 answers.{off} Fix: {fix}",
                redis.address()
            );
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caches {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Ok(AppState::from_parts(parts)?.caches.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Cache {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let state = AppState::from_parts(parts)?;
        state.caches.get(DEFAULT_ALIAS).cloned().ok_or_else(|| {
            Error::Config(
                Problem::new(
                    "a view takes the default cache, and the settings have no [caches.default]",
                )
                .with_hint("add a [caches.default] table, e.g. backend = \"locmem\""),
            )
        })
    }
}

#[cfg(test)]
mod tests;
