//! What in the settings is secret, and the settings with it masked: what
//! `diffsettings` prints and what the `Debug` of `Settings` and of its
//! database and cache entries shows, so that a project logging its
//! settings logs no secret.

use super::{CacheSettings, DatabaseSettings, Settings};
use crate::checks::database::{is_password_param, shown_password};

/// What stands in place of a secret.
pub(crate) const MASK: &str = "********************";

/// Whether the setting `key` holds a secret as a whole (its value is never
/// shown, not even in an error about its form).
pub(crate) fn is_secret_setting(key: &str) -> bool {
    matches!(
        key,
        "secret_key" | "secret_key_fallbacks" | "email_host_password"
    )
}

impl Settings {
    /// These settings with the secret key and its fallbacks, the SMTP
    /// password and the passwords of database and cache URLs masked.
    pub(crate) fn masked(&self) -> Settings {
        let mut settings = self.clone();
        if settings.secret_key.is_some() {
            settings.secret_key = Some(MASK.into());
        }
        for key in &mut settings.secret_key_fallbacks {
            *key = MASK.into();
        }
        if !settings.email_host_password.is_empty() {
            settings.email_host_password = MASK.into();
        }
        for database in settings.databases.values_mut() {
            database.url = mask_url_password(&database.url);
        }
        for cache in settings.caches.values_mut() {
            cache.location = mask_url_password(&cache.location);
        }
        settings
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &mask_url_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("busy_timeout_ms", &self.busy_timeout_ms)
            .finish()
    }
}

impl std::fmt::Debug for CacheSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheSettings")
            .field("backend", &self.backend)
            .field("location", &mask_url_password(&self.location))
            .field("timeout", &self.timeout)
            .field("max_entries", &self.max_entries)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// `postgres://user:pw@host/db` → `postgres://user:********************@host/db`;
/// a password in the query (`?password=pw`, Redis' `?pass=pw`) is masked
/// the same way, and so is one holding an unencoded `/` or `?` (which a URL
/// would read as the end of the server's address).
pub(crate) fn mask_url_password(url: &str) -> String {
    if !url.contains("://") {
        return mask_mistyped_url(url);
    }
    let (head, tail) = match shown_password(url) {
        Some(password) => (
            format!("{}{MASK}", &url[..password.start]),
            &url[password.end..],
        ),
        None => (String::new(), url),
    };
    let Some((before_query, query)) = tail.split_once('?') else {
        return head + tail;
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_password_param(&decoded(key)) => format!("{key}={MASK}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}{before_query}?{}", pairs.join("&"))
}

/// A server URL typed without its `://` (`postgres//u:pw@h/db`), which no
/// driver reads but `diffsettings` shows: what lies between its first `:`
/// and its last `@` may be a password. A SQLite URL holds a path instead.
fn mask_mistyped_url(url: &str) -> String {
    let masked = url.split_once(':').and_then(|(scheme, rest)| {
        let at = rest.rfind('@')?;
        (!scheme.eq_ignore_ascii_case("sqlite") && at > 0)
            .then(|| format!("{scheme}:{MASK}{}", &rest[at..]))
    });
    masked.unwrap_or_else(|| url.to_string())
}

fn decoded(text: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// Settings holding a secret key, an SMTP password and a database
/// password, for the tests of what masks them.
#[cfg(test)]
pub(crate) fn settings_with_secrets() -> Settings {
    let mut settings = Settings {
        secret_key: Some("the-secret-key-123".into()),
        email_host_password: "smtp-pass-456".into(),
        ..Settings::default()
    };
    settings.databases.insert(
        "default".into(),
        crate::conf::DatabaseSettings {
            url: "postgres://site:db-pass-789@localhost/site".into(),
            ..Default::default()
        },
    );
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_passwords_are_unchanged() {
        assert_eq!(mask_url_password("sqlite:///a/b.db"), "sqlite:///a/b.db");
        assert_eq!(
            mask_url_password("redis://host:6379/0"),
            "redis://host:6379/0"
        );
        assert_eq!(mask_url_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(
            mask_url_password("sqlite:db/a@b.sqlite3"),
            "sqlite:db/a@b.sqlite3"
        );
        assert_eq!(
            mask_url_password("postgres://u@h/d?sslmode=require"),
            "postgres://u@h/d?sslmode=require"
        );
    }

    /// A password in the query is a password too (PostgreSQL's `password`,
    /// Redis' `pass`), whatever its case or encoding.
    #[test]
    fn passwords_in_the_query_are_masked() {
        assert_eq!(
            mask_url_password("postgres://app@db/site?sslmode=require&password=hunter2"),
            format!("postgres://app@db/site?sslmode=require&password={MASK}")
        );
        assert_eq!(
            mask_url_password("redis+unix:///run/redis.sock?db=1&PASS=hunter2"),
            format!("redis+unix:///run/redis.sock?db=1&PASS={MASK}")
        );
        assert_eq!(
            mask_url_password("postgres://u:pw@h/d?pass%77ord=x"),
            format!("postgres://u:{MASK}@h/d?pass%77ord={MASK}")
        );
    }

    /// A password holding `/`, `?` or `#` unencoded (one of `openssl rand
    /// -base64`), which the URL reads as the end of the server's address,
    /// is masked whole all the same; an `@` in the query is no password.
    #[test]
    fn passwords_holding_url_delimiters_are_masked_whole() {
        for (url, shown) in [
            (
                "postgres://site:ab/cdLEAK@db:5432/site",
                "postgres://site:{MASK}@db:5432/site",
            ),
            (
                "postgres://site:ab?cdLEAK@db/site",
                "postgres://site:{MASK}@db/site",
            ),
            (
                "postgres://site:ab#cdLEAK@db/site",
                "postgres://site:{MASK}@db/site",
            ),
            (
                "postgres://site:ab@cdLEAK@db/site",
                "postgres://site:{MASK}@db/site",
            ),
            (
                "redis://:ab/cdLEAK@cache:6379",
                "redis://:{MASK}@cache:6379",
            ),
            (
                "postgres://u:pwLEAK@h/d?application_name=a@b",
                "postgres://u:{MASK}@h/d?application_name=a@b",
            ),
            // Its `://` mistyped: no URL, but perhaps a password all the same.
            ("postgres//u:pwLEAK@h/db", "postgres//u:{MASK}@h/db"),
        ] {
            assert_eq!(
                mask_url_password(url),
                shown.replace("{MASK}", MASK),
                "{url}"
            );
        }
    }

    /// What `Debug` shows of the settings: no secret.
    #[test]
    fn debug_shows_no_secret() {
        let mut settings = settings_with_secrets();
        let database = settings.databases.get_mut("default").unwrap();
        database.url.push_str("?password=q-pass-0");
        let shown = format!("{settings:?}");
        for secret in [
            "the-secret-key-123",
            "smtp-pass-456",
            "db-pass-789",
            "q-pass-0",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("localhost/site"), "{shown}");
        // Each entry alone, as a project might log it.
        let database = format!("{:?}", settings.databases["default"]);
        assert!(!database.contains("db-pass-789"), "{database}");
        assert!(database.contains("localhost/site"), "{database}");
        let cache = crate::conf::CacheSettings {
            location: "redis://:cache-pass-1@localhost:6379/0".into(),
            ..Default::default()
        };
        let cache = format!("{cache:?}");
        assert!(!cache.contains("cache-pass-1"), "{cache}");
        assert!(cache.contains("localhost:6379/0"), "{cache}");
    }
}
