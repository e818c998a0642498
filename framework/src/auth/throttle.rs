//! The failed-login throttle: repeated failed logins for one username or
//! from one client address are slowed, then refused for a while.
//!
//! [`Auth::authenticate`](super::Auth::authenticate) (and so the login
//! view) goes through it; the lower-level [`authenticate`](super::authenticate),
//! which the commands use, does not. The counts live in the cache
//! `login_throttle_cache_alias` names (shared by every `serve` process with
//! Redis; per process with `locmem`), under a hash of the username (trimmed
//! and lowercased, so that `Jane` and `jane ` share one) and under the
//! client's address (see [`crate::client_address`]), each for
//! `login_throttle_window` seconds from its first failure.
//!
//! - From half a limit on, each attempt first waits a quarter of a second
//!   per failure past that half, at most [`MAX_DELAY`] (a sleep of the
//!   request's task: nothing is locked meanwhile).
//! - At a limit, logins are refused without the password being checked,
//!   a right one included, until the window ends: the login view answers
//!   429 with [`THROTTLED_LOGIN`], for a username that exists or not alike.
//! - A successful login clears the username's count (not the address's).
//!
//! A cache that fails counts nothing (its failure is logged): the throttle
//! never locks everyone out because Redis is down.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::cache::{Cache, Caches};
use crate::conf::Settings;
use crate::error::{Error, Problem, Result};

/// What a refused login says, whether or not the username exists.
pub const THROTTLED_LOGIN: &str = "Too many failed login attempts. Try again later.";

/// The longest wait before a slowed attempt.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// The wait per failure past half a limit.
const DELAY_STEP: Duration = Duration::from_millis(250);

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
    cache: Option<Cache>,
    username_limit: u64,
    address_limit: u64,
    window: Duration,
}

impl LoginThrottle {
    /// The throttle `settings` describe, over `caches`. An alias not among
    /// them, or a zero window with a limit set, is an error naming the
    /// setting (`nuages.E047`).
    pub fn new(settings: &Settings, caches: &Caches) -> Result<Self> {
        validate(settings)?;
        Ok(LoginThrottle {
            cache: caches.get(&settings.login_throttle_cache_alias).cloned(),
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
            counters.push((
                format!("nuages:login-failures:address:{client}"),
                self.address_limit,
            ));
        }
        counters
    }

    /// Whether `username`, from `client` (`None`: unknown), may try now.
    pub async fn admit(&self, username: &str, client: Option<IpAddr>) -> Admission {
        let Some(cache) = &self.cache else {
            return Admission::After(Duration::ZERO);
        };
        let counters = self.counters(username, client);
        let keys: Vec<&str> = counters.iter().map(|(key, _)| key.as_str()).collect();
        let counts = cache.get_many::<u64>(&keys).await;
        let mut wait = Duration::ZERO;
        for (key, limit) in &counters {
            let failures = counts.get(key).copied().unwrap_or(0);
            if failures >= *limit {
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

    /// Count a failed login of `username` from `client`.
    pub async fn failed(&self, username: &str, client: Option<IpAddr>) {
        let Some(cache) = &self.cache else { return };
        for (key, _) in self.counters(username, client) {
            cache.incr_for(&key, 1, self.window).await;
        }
    }

    /// Forget `username`'s failures after a successful login.
    pub async fn succeeded(&self, username: &str) {
        if let Some(cache) = &self.cache {
            cache.delete(&username_key(username)).await;
        }
    }
}

/// The cache key of `username`'s count: a hash, so that the cache holds no
/// usernames, of the name as typed give or take spaces and case.
fn username_key(username: &str) -> String {
    let normalized = username.trim().to_lowercase();
    let digest = Sha256::digest(normalized.as_bytes());
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

    #[tokio::test]
    async fn failures_slow_then_refuse_and_a_success_clears_the_username() {
        let throttle = throttle(4, 0);
        let at_once = Admission::After(Duration::ZERO);
        assert_eq!(throttle.admit("jane", None).await, at_once);
        throttle.failed("jane", None).await;
        assert_eq!(throttle.admit("jane", None).await, at_once);
        throttle.failed(" JANE", None).await;
        assert_eq!(
            throttle.admit("jane", None).await,
            Admission::After(DELAY_STEP)
        );
        throttle.failed("jane", None).await;
        assert_eq!(
            throttle.admit("jane", None).await,
            Admission::After(DELAY_STEP * 2)
        );
        throttle.failed("jane", None).await;
        assert_eq!(throttle.admit("Jane", None).await, Admission::Refused);
        assert_eq!(throttle.admit("john", None).await, at_once);
        throttle.succeeded("jane").await;
        assert_eq!(throttle.admit("jane", None).await, at_once);
    }

    #[tokio::test]
    async fn an_address_is_refused_whatever_the_username() {
        let throttle = throttle(0, 3);
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        for name in ["a", "b", "c"] {
            throttle.failed(name, Some(client)).await;
        }
        assert_eq!(throttle.admit("d", Some(client)).await, Admission::Refused);
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
