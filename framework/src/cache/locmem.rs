//! The `locmem` backend: entries in this process, through moka, bounded by
//! `max_entries` (the least used go first) and each with its own expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::ops::compute::{CompResult, Op};

use super::BackendError;

/// One stored value, JSON-encoded, with how long it lives.
#[derive(Debug, Clone)]
struct Entry {
    json: Arc<str>,
    ttl: Duration,
    /// An `incr` keeps the expiry the entry already had.
    keep_expiry: bool,
}

/// Each entry expires after its own timeout.
struct PerEntry;

impl Expiry<String, Entry> for PerEntry {
    fn expire_after_create(&self, _: &String, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        _: Instant,
        remaining: Option<Duration>,
    ) -> Option<Duration> {
        if entry.keep_expiry {
            remaining
        } else {
            Some(entry.ttl)
        }
    }
}

/// An in-process cache.
#[derive(Clone)]
pub(crate) struct LocMem {
    entries: moka::future::Cache<String, Entry>,
}

impl std::fmt::Debug for LocMem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocMem")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl LocMem {
    pub(crate) fn new(max_entries: u64) -> Self {
        LocMem {
            entries: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntry)
                .build(),
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Option<String> {
        self.entries.get(key).await.map(|e| e.json.to_string())
    }

    pub(crate) async fn set(&self, key: &str, json: String, ttl: Duration) {
        let entry = Entry {
            json: json.into(),
            ttl,
            keep_expiry: false,
        };
        self.entries.insert(key.to_string(), entry).await;
        // Eviction is lazy in moka; running it now keeps the bound exact.
        self.entries.run_pending_tasks().await;
    }

    pub(crate) async fn delete(&self, key: &str) -> bool {
        self.entries.remove(key).await.is_some()
    }

    /// Stores `json` at `key`, living `ttl`, unless a live entry is there:
    /// one compute on the key, so that of two concurrent calls only one
    /// stores. True when it stored.
    pub(crate) async fn add(&self, key: &str, json: String, ttl: Duration) -> bool {
        let entry = Entry {
            json: json.into(),
            ttl,
            keep_expiry: false,
        };
        let result = self
            .entries
            .entry(key.to_string())
            .and_compute_with(|current| async move {
                match current {
                    None => Op::Put(entry),
                    Some(_) => Op::Nop,
                }
            })
            .await;
        let stored = matches!(result, CompResult::Inserted(_));
        if stored {
            // As in `set`: keeps the `max_entries` bound exact.
            self.entries.run_pending_tasks().await;
        }
        stored
    }

    /// Whether a live (unexpired) entry is at `key`, whatever its value.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Gives the live entry at `key` a new expiry, `ttl` from now, its
    /// value unchanged; true when there was one.
    pub(crate) async fn touch(&self, key: &str, ttl: Duration) -> bool {
        let result = self
            .entries
            .entry(key.to_string())
            .and_compute_with(|current| async move {
                match current {
                    None => Op::Nop,
                    Some(entry) => Op::Put(Entry {
                        json: entry.value().json.clone(),
                        ttl,
                        keep_expiry: false,
                    }),
                }
            })
            .await;
        matches!(result, CompResult::ReplacedWith(_))
    }

    /// Adds `delta` to the integer at `key`, which starts at 0 (living
    /// `ttl`) when missing.
    pub(crate) async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> Result<i64, BackendError> {
        let result = self
            .entries
            .entry(key.to_string())
            .and_compute_with(|current| async move {
                let (start, keep_expiry) = match &current {
                    None => (Some(0), false),
                    Some(entry) => (entry.value().json.parse::<i64>().ok(), true),
                };
                match start.and_then(|n| n.checked_add(delta)) {
                    Some(n) => Op::Put(Entry {
                        json: n.to_string().into(),
                        ttl,
                        keep_expiry,
                    }),
                    None => Op::Nop,
                }
            })
            .await;
        match result {
            CompResult::Inserted(entry) | CompResult::ReplacedWith(entry) => entry
                .value()
                .json
                .parse()
                .map_err(|_| BackendError::new("the new value is not an integer")),
            _ => Err(BackendError::new(format!(
                "the value of {key:?} is not an integer (or would overflow)"
            ))),
        }
    }

    pub(crate) async fn clear(&self) {
        self.entries.invalidate_all();
        self.entries.run_pending_tasks().await;
    }

    #[cfg(test)]
    pub(crate) async fn len(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.entry_count()
    }
}
