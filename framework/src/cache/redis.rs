//! The `redis` backend: a Redis server through the `redis` crate's
//! connection manager (one multiplexed connection, reconnected when lost),
//! with connect and response timeouts so that a server that goes away makes
//! a request miss the cache instead of hang. `rediss://` talks TLS through
//! rustls, trusting the system's certificate authorities or those of the
//! cache's `tls_ca_file`; a certificate that does not verify is a failed
//! connection, so a miss and a warning.

use std::path::Path;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use super::BackendError;
use crate::conf::CacheSettings;
use crate::error::{Error, Problem, Result};

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one command may wait for its answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest expiry sent to the server: a longer timeout (such as
/// `Duration::MAX`, the Rust way of saying Django's `timeout=None`) keeps
/// the entry without one, as `locmem` does. Redis refuses an expiry past
/// what its clock holds ("invalid expire time"), which made such a `set`
/// fail where `locmem` kept the value.
const LONGEST_EXPIRY: Duration = Duration::from_secs(1000 * 365 * 24 * 60 * 60);

/// The `PX` milliseconds of `ttl` (at least 1), or `None` for a timeout
/// past [`LONGEST_EXPIRY`]: no expiry.
fn expiry_millis(ttl: Duration) -> Option<u64> {
    (ttl <= LONGEST_EXPIRY).then(|| ttl.as_millis().max(1) as u64)
}

/// `command` with `PX millis` when `ttl` has an expiry.
fn with_expiry(command: &mut redis::Cmd, ttl: Duration) -> &mut redis::Cmd {
    match expiry_millis(ttl) {
        Some(millis) => command.arg("PX").arg(millis),
        None => command,
    }
}

impl From<redis::RedisError> for BackendError {
    fn from(error: redis::RedisError) -> Self {
        BackendError::of_server(error.to_string())
    }
}

/// The PEM certificates of `file`, refused (naming `key`) when unreadable
/// or holding none.
fn read_ca_file(key: &str, file: &Path) -> Result<Vec<u8>> {
    let fix = format!(
        "set {key} to a PEM file holding the certificate of the authority that signed the \
         Redis server's certificate (-----BEGIN CERTIFICATE-----), readable by the server's user"
    );
    let pem = std::fs::read(file).map_err(|e| {
        Error::Config(
            Problem::new(format!("{key} cannot be read ({}): {e}", file.display()))
                .with_hint(fix.clone()),
        )
    })?;
    let holds_a_certificate = pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----");
    if !holds_a_certificate {
        return Err(Error::Config(
            Problem::new(format!(
                "{key} ({}) holds no PEM certificate",
                file.display()
            ))
            .with_hint(fix),
        ));
    }
    Ok(pem)
}

/// A Redis server, connected on first use.
pub(crate) struct Redis {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

impl Redis {
    /// A client for `settings.location`; an unusable URL or CA file is a
    /// configuration error naming `caches.<alias>.<key>`. Nothing connects
    /// yet.
    pub(crate) fn new(alias: &str, settings: &CacheSettings) -> Result<Self> {
        let location_key = format!("caches.{alias}.location");
        let ca_key = format!("caches.{alias}.tls_ca_file");
        if let Some(delimiter) = crate::checks::database::password_delimiter(&settings.location) {
            return Err(Error::Config(
                crate::checks::database::password_delimiter_problem(&location_key, delimiter),
            ));
        }
        let tls = settings.location.starts_with("rediss://");
        let client = match &settings.tls_ca_file {
            Some(file) if !tls => {
                return Err(Error::Config(
                    Problem::new(format!(
                        "{ca_key} is set to {}, and {location_key} is not a rediss:// URL: the \
                         certificate authorities would never be used",
                        file.display()
                    ))
                    .with_hint(format!(
                        "write {location_key} = \"rediss://HOST:PORT/DB\" to talk TLS to the server, \
                         or remove {ca_key}"
                    )),
                ));
            }
            Some(file) => {
                let root_cert = read_ca_file(&ca_key, file)?;
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                };
                redis::Client::build_with_tls(settings.location.as_str(), certificates)
            }
            None => redis::Client::open(settings.location.as_str()),
        }
        .map_err(|e| {
            Error::Config(
                Problem::new(format!("{location_key} is not a usable Redis URL: {e}")).with_hint(
                    "write redis://HOST:PORT/DB, rediss://HOST:PORT/DB (TLS) or \
                     redis+unix:///PATH/TO/redis.sock",
                ),
            )
        })?;
        Ok(Redis {
            client,
            connection: OnceCell::new(),
        })
    }

    /// Where the server is, for messages: `host:port` or the socket's path
    /// (never the password).
    pub(crate) fn address(&self) -> String {
        self.client.get_connection_info().addr().to_string()
    }

    async fn connection(&self) -> Result<ConnectionManager, BackendError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        // A failed first connection is not kept: the next call tries again.
        let manager = self
            .connection
            .get_or_try_init(|| ConnectionManager::new_with_config(self.client.clone(), config))
            .await?;
        Ok(manager.clone())
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, BackendError> {
        let mut connection = self.connection().await?;
        Ok(redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await?)
    }

    pub(crate) async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, BackendError> {
        let mut connection = self.connection().await?;
        Ok(redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut connection)
            .await?)
    }

    pub(crate) async fn set(
        &self,
        key: &str,
        json: String,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let mut connection = self.connection().await?;
        let mut set = redis::cmd("SET");
        set.arg(key).arg(json);
        with_expiry(&mut set, ttl)
            .query_async::<()>(&mut connection)
            .await?;
        Ok(())
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let mut connection = self.connection().await?;
        let removed: u64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut connection)
            .await?;
        Ok(removed > 0)
    }

    /// `SET key json NX` with the expiry: the server stores it only when
    /// the key is absent, so of two concurrent calls (from any process)
    /// only one stores. True when it stored.
    pub(crate) async fn add(
        &self,
        key: &str,
        json: String,
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        let mut connection = self.connection().await?;
        let mut add = redis::cmd("SET");
        add.arg(key).arg(json).arg("NX");
        let stored: Option<String> = with_expiry(&mut add, ttl)
            .query_async(&mut connection)
            .await?;
        Ok(stored.is_some())
    }

    pub(crate) async fn has_key(&self, key: &str) -> Result<bool, BackendError> {
        let mut connection = self.connection().await?;
        let found: u64 = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut connection)
            .await?;
        Ok(found > 0)
    }

    /// A new expiry for `key`, `ttl` from now (`PEXPIRE`), or none for a
    /// `ttl` past [`LONGEST_EXPIRY`] (`PERSIST`); true when the key was
    /// there. `PERSIST` alone answers 0 for a key that has no expiry to
    /// remove, so `EXISTS` is asked in the same transaction.
    pub(crate) async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, BackendError> {
        let mut connection = self.connection().await?;
        match expiry_millis(ttl) {
            Some(millis) => {
                let renewed: u64 = redis::cmd("PEXPIRE")
                    .arg(key)
                    .arg(millis)
                    .query_async(&mut connection)
                    .await?;
                Ok(renewed > 0)
            }
            None => {
                let (found,): (u64,) = redis::pipe()
                    .atomic()
                    .cmd("EXISTS")
                    .arg(key)
                    .cmd("PERSIST")
                    .arg(key)
                    .ignore()
                    .query_async(&mut connection)
                    .await?;
                Ok(found > 0)
            }
        }
    }

    /// Every `(key, json)`, each living `ttl`, in one transaction: all are
    /// stored or, when the server fails, none.
    pub(crate) async fn set_many(
        &self,
        entries: &[(String, String)],
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let mut connection = self.connection().await?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (key, json) in entries {
            let mut set = redis::cmd("SET");
            set.arg(key).arg(json);
            with_expiry(&mut set, ttl);
            pipe.add_command(set).ignore();
        }
        pipe.query_async::<()>(&mut connection).await?;
        Ok(())
    }

    /// How many of `keys` were there (and are removed).
    pub(crate) async fn delete_many(&self, keys: &[String]) -> Result<u64, BackendError> {
        let mut connection = self.connection().await?;
        Ok(redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await?)
    }

    /// INCRBY, with a missing key first created as 0 living `ttl` (Redis
    /// alone would keep it forever; a `ttl` past [`LONGEST_EXPIRY`] does).
    pub(crate) async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> Result<i64, BackendError> {
        let mut connection = self.connection().await?;
        let mut create = redis::cmd("SET");
        create.arg(key).arg(0).arg("NX");
        with_expiry(&mut create, ttl);
        let (value,): (i64,) = redis::pipe()
            .atomic()
            .add_command(create)
            .ignore()
            .cmd("INCRBY")
            .arg(key)
            .arg(delta)
            .query_async(&mut connection)
            .await?;
        Ok(value)
    }

    /// Empties the server's database (the URL's `/DB`), as Django's
    /// `clear()` does; with a `prefix`, removes only the keys that start
    /// with it, so that a site sharing the database keeps its own.
    pub(crate) async fn clear(&self, prefix: &str) -> Result<(), BackendError> {
        let mut connection = self.connection().await?;
        if prefix.is_empty() {
            redis::cmd("FLUSHDB")
                .query_async::<()>(&mut connection)
                .await?;
            return Ok(());
        }
        // The prefix as a glob matching itself only.
        let mut pattern = String::new();
        for c in prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await?;
            if !keys.is_empty() {
                redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async::<()>(&mut connection)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}
