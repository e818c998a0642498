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
pub(crate) struct BackendError(String);

impl BackendError {
    fn new(message: impl Into<String>) -> Self {
        BackendError(message.into())
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
        let backend = match settings.backend {
            CacheBackend::Locmem => Backend::LocMem(locmem::LocMem::new(settings.max_entries)),
            CacheBackend::Dummy => Backend::Dummy,
            CacheBackend::Redis => {
                let key = format!("caches.{alias}.location");
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
        let json = match serde_json::to_string(value) {
            Ok(json) => json,
            Err(e) => {
                self.warn(
                    "set",
                    key,
                    &BackendError::new(format!("cannot encode the value: {e}")),
                );
                return false;
            }
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

    fn warn(&self, operation: &str, key: &str, error: &BackendError) {
        let key = loggable_key(key);
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
