//! The failed-login throttle: repeated failed logins for one username or
//! from one client address are slowed, then refused for a while.
//!
//! [`Auth::authenticate`](super::Auth::authenticate) (and so the login
//! view) goes through it; the lower-level [`authenticate`](super::authenticate),
//! which the commands use, does not. The counts live in the cache
//! `login_throttle_cache_alias` names (shared by every `serve` process with
//! Redis; per process with `locmem`), under a hash of the username as it
//! is looked up (exactly: `Jane` and `jane` may be two accounts) and under
//! the client's address (see [`crate::client_address`]; an IPv6 client by its
//! /64 network), each for
//! `login_throttle_window` seconds from its first failure.
//!
//! - An attempt is counted as a failure before its password is checked
//!   (an atomic increment of each count), so that attempts sent all at
//!   once cannot all pass before the first failure is counted, and one
//!   whose client hangs up counts all the same.
//! - From half a limit on, each attempt first waits a quarter of a second
//!   per failure past that half, at most [`MAX_DELAY`] (a sleep of the
//!   request's task: nothing is locked meanwhile).
//! - At a limit, logins are refused without the password being checked,
//!   a right one included, until the window ends: the login view answers
//!   429 with [`THROTTLED_LOGIN`], for a username that exists or not alike.
//!   A refused attempt is not counted.
//! - A successful login clears the username's count and takes its own
//!   attempt off the address's.
//!
//! With a `locmem` alias (or a `dummy` one, which would keep no count) the
//! counts are kept apart from the site's cached entries, in a store of the
//! process's own with room for
//! [`LOCMEM_COUNTS`] counts (or the alias' `max_entries`, if more), so
//! that neither the site's entries nor a flood of made-up usernames pushes
//! them out within a window.
//!
//! A cache that fails counts nothing (its failure is logged): the throttle
//! never locks everyone out because Redis is down.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::cache::{Cache, Caches};
use crate::conf::{CacheBackend, CacheSettings, Settings};
use crate::error::{Error, Problem, Result};

/// What a refused login says, whether or not the username exists.
pub const THROTTLED_LOGIN: &str = "Too many failed login attempts. Try again later.";

/// The longest wait before a slowed attempt.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// The wait per failure past half a limit.
const DELAY_STEP: Duration = Duration::from_millis(250);

/// The counts a `locmem` throttle keeps at least: at a hash per core every
/// few tens of milliseconds, more failed logins than a 15-minute window
/// sees on a small server.
pub const LOCMEM_COUNTS: u64 = 100_000;

/// Whether a login attempt may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password after this wait (zero: at once).
    After(Duration),
    /// Refused until the window ends.
    Refused,
}

/// The throttle of an application: its settings and cache.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    cache: Cache,
    username_limit: u64,
    address_limit: u64,
    window: Duration,
}

impl LoginThrottle {
    /// The throttle `settings` describe, over `caches`. An alias not among
    /// them, or a zero window with a limit set, is an error naming the
    /// setting (`nuages.E047`). Build it once and share it (its clones
    /// share the counts): with a `locmem` alias each one built keeps a
    /// store of its own.
    pub fn new(settings: &Settings, caches: &Caches) -> Result<Self> {
        validate(settings)?;
        Ok(LoginThrottle {
            cache: counts_store(settings, caches)?,
            username_limit: settings.login_throttle_username_limit,
            address_limit: settings.login_throttle_address_limit,
            window: Duration::from_secs(settings.login_throttle_window),
        })
    }

    fn counters(&self, username: &str, client: Option<IpAddr>) -> Vec<(String, u64)> {
        let mut counters = Vec::with_capacity(2);
        if self.username_limit > 0 {
            counters.push((username_key(username), self.username_limit));
        }
        if let Some(client) = client
            && self.address_limit > 0
        {
            counters.push((address_key(client), self.address_limit));
        }
        counters
    }

    /// Count an attempt of `username` from `client` (`None`: unknown) as
    /// a failure, and say whether it may go on: at a limit, refused (and
    /// not counted); past half of one, after a wait.
    pub async fn admit(&self, username: &str, client: Option<IpAddr>) -> Admission {
        let cache = &self.cache;
        let mut counted = Vec::with_capacity(2);
        let mut wait = Duration::ZERO;
        for (key, limit) in self.counters(username, client) {
            // A cache that fails counts nothing.
            let Some(with_this_one) = cache.incr_for(&key, 1, self.window).await else {
                continue;
            };
            counted.push(key);
            let failures = u64::try_from(with_this_one - 1).unwrap_or(0);
            if failures >= limit {
                for key in &counted {
                    self.uncount(cache, key).await;
                }
                return Admission::Refused;
            }
            let half = (limit / 2).max(1);
            if failures >= half {
                let past_half = u32::try_from(failures - half + 1).unwrap_or(u32::MAX);
                wait = wait.max(DELAY_STEP.saturating_mul(past_half).min(MAX_DELAY));
            }
        }
        Admission::After(wait)
    }

    /// After a successful login of `username` from `client`: its failures
    /// forgotten, and its attempt taken off the address's count.
    pub async fn succeeded(&self, username: &str, client: Option<IpAddr>) {
        let cache = &self.cache;
        cache.delete(&username_key(username)).await;
        if let Some(client) = client
            && self.address_limit > 0
        {
            self.uncount(cache, &address_key(client)).await;
        }
    }

    /// After `username`'s password was reset through its mailed link
    /// (owning the mailbox proves as much as the password): its failures
    /// forgotten, so that the new password logs in at once.
    pub(crate) async fn forget(&self, username: &str) {
        self.cache.delete(&username_key(username)).await;
    }

    /// Take one attempt off the count at `key`; one that would go below
    /// one (its window ended meanwhile) is removed instead.
    async fn uncount(&self, cache: &Cache, key: &str) {
        if cache
            .incr_for(key, -1, self.window)
            .await
            .is_some_and(|left| left <= 0)
        {
            cache.delete(key).await;
        }
    }
}

/// Where the counts of `login_throttle_cache_alias` are kept (the failed
/// logins', the password resets' of
/// [`ResetCooldown`](super::password_reset::ResetCooldown)): the alias's
/// cache when it is shared (Redis: every `serve` process sees the same
/// counts); with a `locmem` or `dummy` alias (a `dummy` cache keeps
/// nothing), or none of that name (the throttle being off), a `locmem`
/// store of their own with room for [`LOCMEM_COUNTS`], which the site's
/// entries do not push out. Each call makes a new own store: build once.
pub(crate) fn counts_store(settings: &Settings, caches: &Caches) -> Result<Cache> {
    let alias = &settings.login_throttle_cache_alias;
    let shared = settings
        .caches
        .get(alias)
        .filter(|own| !matches!(own.backend, CacheBackend::Locmem | CacheBackend::Dummy))
        .and_then(|_| caches.get(alias));
    if let Some(shared) = shared {
        return Ok(shared.clone());
    }
    let own = settings.caches.get(alias).cloned().unwrap_or_default();
    Cache::new(
        alias,
        &CacheSettings {
            backend: CacheBackend::Locmem,
            max_entries: own.max_entries.max(LOCMEM_COUNTS),
            ..own
        },
    )
}

/// The cache key of the count of `client`'s failures. An IPv6 client is
/// counted by its /64 network: a single host is routinely given a whole
/// /64, so counting each address would give an attacker 2^64 fresh counts.
/// An IPv4 address mapped into IPv6 (`::ffff:203.0.113.7`) is the IPv4
/// address.
fn address_key(client: IpAddr) -> String {
    match client.to_canonical() {
        IpAddr::V4(v4) => format!("nuages:login-failures:address:{v4}"),
        IpAddr::V6(v6) => {
            let network = std::net::Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX));
            format!("nuages:login-failures:address:{network}/64")
        }
    }
}

/// The cache key of `username`'s count: a hash, so that the cache holds no
/// usernames, of the name exactly as it is looked up. Names are compared
/// exactly (`bob` and `Bob` can be two accounts): a key shared by both let
/// a login to one clear the other's failures.
fn username_key(username: &str) -> String {
    let digest = Sha256::digest(username.as_bytes());
    format!(
        "nuages:login-failures:username:{}",
        crate::hex::encode(&digest)
    )
}

/// `nuages.E047`: the throttle's cache alias must exist and its window
/// must be positive while a limit is set; `trusted_proxies` must hold
/// addresses. The application refuses to start otherwise.
pub(crate) fn validate(settings: &Settings) -> Result<()> {
    crate::client_address::TrustedProxies::new(&settings.trusted_proxies)?;
    let limited =
        settings.login_throttle_username_limit > 0 || settings.login_throttle_address_limit > 0;
    if !limited {
        return Ok(());
    }
    let alias = &settings.login_throttle_cache_alias;
    if !settings.caches.contains_key(alias) {
        let known: Vec<&str> = settings.caches.keys().map(String::as_str).collect();
        return Err(Error::Config(
            Problem::new(format!(
                "login_throttle_cache_alias is \"{alias}\", and caches has no such alias"
            ))
            .with_hint(format!(
                "name one of the caches ({}), or add a [caches.{alias}] table",
                crate::conf::keys::quoted_list(&known, "and")
            )),
        ));
    }
    if settings.login_throttle_window == 0 {
        return Err(Error::Config(
            Problem::new("login_throttle_window is 0: failed logins would be forgotten at once")
                .with_hint(
                    "set login_throttle_window to the seconds failures count for (default 900), \
                     or set both login_throttle_*_limit keys to 0 to turn the throttle off",
                ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(username_limit: u64, address_limit: u64) -> LoginThrottle {
        let settings = Settings {
            login_throttle_username_limit: username_limit,
            login_throttle_address_limit: address_limit,
            ..Settings::default()
        };
        LoginThrottle::new(&settings, &Caches::new(&settings).unwrap()).unwrap()
    }

    /// Each admitted attempt counts as a failure until it succeeds.
    #[tokio::test]
    async fn failures_slow_then_refuse_and_a_success_clears_the_username() {
        let throttle = throttle(4, 0);
        let at_once = Admission::After(Duration::ZERO);
        assert_eq!(throttle.admit("jane", None).await, at_once);
        assert_eq!(throttle.admit("jane", None).await, at_once);
        assert_eq!(
            throttle.admit("jane", None).await,
            Admission::After(DELAY_STEP)
        );
        assert_eq!(
            throttle.admit("jane", None).await,
            Admission::After(DELAY_STEP * 2)
        );
        assert_eq!(throttle.admit("jane", None).await, Admission::Refused);
        assert_eq!(throttle.admit("jane", None).await, Admission::Refused);
        assert_eq!(throttle.admit("john", None).await, at_once);
        // `Jane` is another account, counted apart: a login to it (an
        // attacker's own) clears nothing of `jane`'s.
        assert_eq!(throttle.admit("Jane", None).await, at_once);
        throttle.succeeded("Jane", None).await;
        assert_eq!(throttle.admit("jane", None).await, Admission::Refused);
        throttle.succeeded("jane", None).await;
        assert_eq!(throttle.admit("jane", None).await, at_once);
    }

    /// Attempts sent all at once: exactly the limit gets in.
    #[tokio::test]
    async fn a_burst_gets_no_more_than_the_limit_in() {
        let throttle = std::sync::Arc::new(throttle(5, 0));
        let attempts: Vec<_> = (0..50)
            .map(|_| {
                let throttle = throttle.clone();
                tokio::spawn(async move { throttle.admit("jane", None).await })
            })
            .collect();
        let mut admitted = 0;
        for attempt in attempts {
            if attempt.await.unwrap() != Admission::Refused {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5);
    }

    #[tokio::test]
    async fn an_address_is_refused_whatever_the_username() {
        let throttle = throttle(0, 3);
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        for name in ["a", "b", "c"] {
            assert_ne!(throttle.admit(name, Some(client)).await, Admission::Refused);
        }
        assert_eq!(throttle.admit("d", Some(client)).await, Admission::Refused);
        // A success takes its own attempt off the address's count.
        throttle.succeeded("c", Some(client)).await;
        assert_eq!(
            throttle.admit("d", Some(client)).await,
            Admission::After(DELAY_STEP * 2)
        );
        assert_eq!(throttle.admit("e", Some(client)).await, Admission::Refused);
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        assert_eq!(
            throttle.admit("d", Some(other)).await,
            Admission::After(Duration::ZERO)
        );
        assert_eq!(
            throttle.admit("d", None).await,
            Admission::After(Duration::ZERO),
            "an unknown address is not counted"
        );
    }

    /// The addresses of one IPv6 /64 share a count (an attacker holding a
    /// /64 does not get a fresh count per address); another /64 does not.
    #[tokio::test]
    async fn an_ipv6_network_is_counted_as_one_client() {
        let throttle = throttle(0, 2);
        for client in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"] {
            let client: IpAddr = client.parse().unwrap();
            assert_ne!(throttle.admit("a", Some(client)).await, Admission::Refused);
        }
        let same_network: IpAddr = "2001:db8:1:2:abcd::7".parse().unwrap();
        assert_eq!(
            throttle.admit("a", Some(same_network)).await,
            Admission::Refused
        );
        let next_network: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(
            throttle.admit("a", Some(next_network)).await,
            Admission::After(Duration::ZERO)
        );
        // An IPv4 client seen through an IPv6 socket is that IPv4 client.
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(address_key(v4), address_key(mapped));
    }

    /// The site's entries and a flood of made-up usernames push no count
    /// out of a `locmem` throttle, though the site's cache keeps 300.
    #[tokio::test]
    async fn a_locmem_throttle_keeps_its_counts_through_a_flood() {
        let settings = Settings {
            login_throttle_username_limit: 2,
            ..Settings::default()
        };
        assert_eq!(settings.caches["default"].max_entries, 300);
        let caches = Caches::new(&settings).unwrap();
        let throttle = LoginThrottle::new(&settings, &caches).unwrap();
        for _ in 0..2 {
            assert_ne!(throttle.admit("jane", None).await, Admission::Refused);
        }
        let site = caches.get("default").unwrap();
        for n in 0..2_000 {
            site.set(&format!("page:{n}"), &n).await;
            throttle.admit(&format!("made-up-{n}"), None).await;
        }
        assert_eq!(throttle.admit("jane", None).await, Admission::Refused);
    }

    /// A `dummy` cache (caching turned off) does not turn the throttle
    /// off: the counts are kept in a store of the throttle's own. (That
    /// the alias is the one used shows with Redis, in the e2e tests.)
    #[tokio::test]
    async fn a_dummy_cache_still_counts_failed_logins() {
        let mut settings = Settings {
            login_throttle_username_limit: 2,
            ..Settings::default()
        };
        settings.caches.insert(
            "default".into(),
            CacheSettings {
                backend: CacheBackend::Dummy,
                ..CacheSettings::default()
            },
        );
        let throttle = LoginThrottle::new(&settings, &Caches::new(&settings).unwrap()).unwrap();
        for _ in 0..2 {
            assert_ne!(throttle.admit("jane", None).await, Admission::Refused);
        }
        assert_eq!(throttle.admit("jane", None).await, Admission::Refused);
    }

    #[test]
    fn the_delay_is_bounded() {
        let long = DELAY_STEP.saturating_mul(u32::MAX).min(MAX_DELAY);
        assert_eq!(long, MAX_DELAY);
    }

    #[test]
    fn bad_settings_name_the_key() {
        let unknown_alias = Settings {
            login_throttle_cache_alias: "throttle".into(),
            ..Settings::default()
        };
        let error = validate(&unknown_alias).unwrap_err();
        assert_eq!(
            error.to_string(),
            "login_throttle_cache_alias is \"throttle\", and caches has no such alias"
        );
        assert!(error.hint().unwrap().contains("[caches.throttle]"));
        let off = Settings {
            login_throttle_username_limit: 0,
            login_throttle_address_limit: 0,
            ..unknown_alias
        };
        assert!(validate(&off).is_ok(), "no limit, no cache needed");
        let no_window = Settings {
            login_throttle_window: 0,
            ..Settings::default()
        };
        assert!(
            validate(&no_window)
                .unwrap_err()
                .to_string()
                .contains("login_throttle_window is 0")
        );
    }
}
