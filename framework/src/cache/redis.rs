//! The `redis` backend: a Redis server through the `redis` crate's
//! connection manager (one multiplexed connection, reconnected when lost).
//! Each cache operation waits at most [`TIMEOUT`] for the server, connecting
//! included, so that a server that goes away or never answers makes a
//! request miss the cache instead of hang. One connection attempt is under
//! way at a time, and every operation meanwhile waits for that one (never
//! starting its own after it); once an attempt fails or an operation times
//! out, the server is not asked again for [`BACKOFF`]: every operation in
//! between is a miss at once (a circuit breaker), so that concurrent
//! requests never queue behind each other's attempts. `rediss://` talks TLS
//! through rustls, trusting the system's certificate authorities or those
//! of the cache's `tls_ca_file`; a certificate that does not verify is a
//! failed connection, so a miss and a warning.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use super::BackendError;
use crate::breaker::{Breaker, Refusal};
use crate::conf::CacheSettings;
use crate::error::{Error, Problem, Result};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The longest one cache operation waits for the server, connecting
/// included: past it, the operation is a miss.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(1);

/// How long the server is left alone after a failed connection attempt or
/// an operation that timed out: operations meanwhile are misses at once.
pub(crate) const BACKOFF: Duration = Duration::from_secs(3);

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

/// Whether `error` is the server's or its connection's failure, which
/// leaves the server alone for [`BACKOFF`] and then connects anew: no
/// connection, no answer in time, or a connection that could not be set up
/// (a password or a database refused). The connection manager keeps a
/// reconnection that failed on a refusal for good, trying again only after
/// an I/O error: a Redis restarted with another password and back with the
/// right one would not be used again until serve restarted. A command's
/// own failure ([`answers_the_command`]) is not the server's. A connection
/// found closed (`dropped`, unless `resent` found it closed again) is being
/// replaced by the manager already: the next operation uses the new one.
fn of_the_server(error: &redis::RedisError, resent: bool) -> bool {
    let dropped = error.is_connection_dropped() && !error.is_connection_refusal();
    (resent || !dropped) && !answers_the_command(error)
}

/// Whether `error` is the server's answer to the command itself, on a
/// connection that works: a value of another type than asked (`INCR` of a
/// text: "ERR value is not an integer", `WRONGTYPE`), a write refused for
/// memory (`OOM`) or by the ACL user's key patterns (`NOPERM`), a failed
/// transaction (`EXECABORT`); not a refusal of the connection (a password:
/// `NOAUTH`, `WRONGPASS`; a database index: "ERR DB index is out of range"
/// when selecting it) nor a server that cannot serve yet (`LOADING`,
/// `MASTERDOWN`, `CLUSTERDOWN`). Taken for the server's, one such answer
/// left the whole cache alone for the back-off: every session read as
/// empty while one key held a hash.
fn answers_the_command(error: &redis::RedisError) -> bool {
    use redis::ServerErrorKind::{BusyLoading, ClusterDown, MasterDown};
    match error.kind() {
        redis::ErrorKind::UnexpectedReturnType => true,
        redis::ErrorKind::Server(BusyLoading | MasterDown | ClusterDown) => false,
        // WRONGTYPE and OOM come as extensions (codes redis does not name).
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension => {
            !matches!(error.code(), Some("NOAUTH" | "WRONGPASS"))
                && !error
                    .detail()
                    .is_some_and(|detail| detail.contains("DB index"))
        }
        _ => false,
    }
}

/// What went wrong in a failed `PING`'s `message`, and the fix, for the
/// cache whose location is `key` (a `rediss://` one when `tls`).
pub(crate) fn diagnose(message: &str, key: &str, tls: bool) -> (&'static str, String) {
    let has = |needle: &str| message.to_ascii_lowercase().contains(needle);
    if has("noauth") {
        (
            "the server wants a password and the URL gives none (NOAUTH)",
            format!(
                "put the password in {key}: redis://:${{REDIS_PASSWORD}}@HOST:PORT/DB \
                 (redis+unix:///PATH?pass=... for a socket)"
            ),
        )
    } else if has("without any password configured") {
        (
            "the URL gives a password and the server has none",
            format!("remove the password from {key}, or set requirepass on the server"),
        )
    } else if has("wrongpass") || has("invalid username-password") || has("authentication") {
        (
            "the server refuses the URL's password (WRONGPASS)",
            format!("write the server's password (requirepass, or its ACL user's) in {key}"),
        )
    } else if has("db index is out of range") {
        (
            "the URL's database number is past those the server has (DB index is out of range)",
            format!(
                "write a database the server has in {key} (0 to 15 unless redis.conf sets \
                 `databases`): redis://HOST:PORT/0"
            ),
        )
    } else if has("refused") || has("no such file") {
        (
            "nothing listens there (connection refused)",
            format!("start the Redis server, or correct the host, port or socket path of {key}"),
        )
    } else if has("timed out") {
        // A plain server takes a TLS greeting for a command it waits to
        // end: no answer either.
        let plain = match tls {
            true => {
                "; or the server does not speak TLS on that port (rediss://): a plain one \
                     is redis://"
            }
            false => "",
        };
        (
            "no answer within 1 s (timed out)",
            format!(
                "check that the Redis server runs at the address of {key} and that no firewall \
                 holds the connection; an overloaded server answers late too{plain}"
            ),
        )
    } else if has("certificate") || has("tls") || has("handshake") {
        (
            "the TLS connection failed",
            format!(
                "set {} to the PEM file of the authority that signed the server's certificate, \
                 and check that the certificate names the host of {key}",
                key.replace(".location", ".tls_ca_file")
            ),
        )
    } else {
        (
            "it does not answer as it should",
            format!("check {key} and that the Redis server runs"),
        )
    }
}

/// What an operation or an attempt that took [`TIMEOUT`] says.
fn timed_out() -> String {
    format!("timed out: no answer within {} s", TIMEOUT.as_secs())
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
    /// The connection (the manager reconnects a connection that drops).
    link: Breaker<ConnectionManager, String>,
}

/// Whether a command may be sent again after its connection was found
/// closed: a second `INCRBY` would count twice, a second `SET NX` answer
/// "was there" after a first that stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    Once,
    Never,
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
        // The redis crate reads these, and ignores any other parameter.
        let known: &[&str] = match settings.location.starts_with("redis+unix:")
            || settings.location.starts_with("unix:")
        {
            true => &["db", "user", "pass", "protocol"],
            false => &["protocol"],
        };
        if let Some(problem) = crate::checks::database::unknown_url_parameter(
            &location_key,
            &settings.location,
            "Redis client",
            known,
            |_| false,
        ) {
            return Err(Error::Config(problem));
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
            let why = crate::checks::database::unparsable_part(&settings.location).unwrap_or_else(|| e.to_string());
            Error::Config(
                Problem::new(format!("{location_key} is not a usable Redis URL: {why}")).with_hint(
                    "write redis://HOST:PORT/DB, rediss://HOST:PORT/DB (TLS) or \
                     redis+unix:///PATH/TO/redis.sock",
                ),
            )
        })?;
        // `rediss://…#insecure`, however it is spelled (the URL parser drops
        // spaces and line breaks around it), as the client reads it.
        if matches!(
            client.get_connection_info().addr(),
            redis::ConnectionAddr::TcpTls { insecure: true, .. }
        ) {
            return Err(Error::Config(
                Problem::new(format!(
                    "{location_key} ends with #insecure: the server's certificate would not be \
                     verified, so whoever sits between this machine and the server could read \
                     and change every value, sessions included"
                ))
                .with_hint(format!(
                    "remove #insecure, and set {ca_key} to the PEM file of the authority that \
                     signed the server's certificate"
                )),
            ));
        }
        Ok(Redis {
            client,
            link: Breaker::new(BACKOFF),
        })
    }

    /// Whether the server is reached over TLS (`rediss://`).
    pub(crate) fn is_tls(&self) -> bool {
        matches!(
            self.client.get_connection_info().addr(),
            redis::ConnectionAddr::TcpTls { .. }
        )
    }

    /// Where the server is, for messages: `host:port` or the socket's path
    /// (never the password).
    pub(crate) fn address(&self) -> String {
        self.client.get_connection_info().addr().to_string()
    }

    /// The connection: the one there is, the attempt under way joined,
    /// or a new attempt; at once an error while the server is left alone
    /// after a failure.
    async fn connection(&self) -> Result<ConnectionManager, BackendError> {
        let client = self.client.clone();
        let attempt = || async move {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(TIMEOUT))
                .set_response_timeout(Some(TIMEOUT))
                // One attempt per connection: a failure waits for BACKOFF.
                .set_number_of_retries(0);
            let connect = ConnectionManager::new_with_config(client, config);
            match tokio::time::timeout(TIMEOUT, connect).await {
                Ok(Ok(manager)) => Ok(manager),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(timed_out()),
            }
        };
        self.link
            .connect(attempt)
            .await
            .map_err(|refusal| match refusal {
                Refusal::Failed(error) => BackendError::of_server(error),
                Refusal::LeftAlone { since, error } => BackendError::of_server(format!(
                    "not asked: it failed {:.1} s ago ({error}), and is left alone for {} s \
                 after a failure",
                    since.elapsed().as_secs_f32(),
                    BACKOFF.as_secs()
                )),
                Refusal::Abandoned => {
                    BackendError::of_server("the connection attempt was abandoned")
                }
            })
    }

    /// Leave a connected server alone for [`BACKOFF`] after `error`.
    fn trip(&self, error: &str) {
        self.link.trip(error.to_string());
    }

    /// `PING`: whether the server answers as it should.
    pub(crate) async fn ping(&self) -> Result<(), BackendError> {
        self.run(Resend::Once, |mut connection| async move {
            redis::cmd("PING").query_async::<()>(&mut connection).await
        })
        .await
    }

    /// `command` on the connection, within [`TIMEOUT`] in all. A command
    /// that may be resent is sent once more when the connection kept from
    /// before was found closed (a Redis server restarted since: broken
    /// pipe, reset, end of file): the manager reconnects, and the first
    /// request after a restart is answered. A failure of the server (no
    /// connection, a timeout) leaves it alone for [`BACKOFF`].
    async fn run<T, F, Fut>(&self, resend: Resend, command: F) -> Result<T, BackendError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let attempt = async {
            let connection = self.connection().await?;
            let mut result = command(connection.clone()).await;
            let mut resent = false;
            if let Err(error) = &result
                && resend == Resend::Once
                && error.is_connection_dropped()
                && !error.is_connection_refusal()
            {
                result = command(connection).await;
                resent = true;
            }
            result.map_err(|error| {
                if of_the_server(&error, resent) {
                    self.trip(&error.to_string());
                }
                BackendError::from(error)
            })
        };
        match tokio::time::timeout(TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => {
                self.trip(&timed_out());
                Err(BackendError::of_server(timed_out()))
            }
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<String>, BackendError> {
        self.run(Resend::Once, |mut connection| async move {
            redis::cmd("GET")
                .arg(key)
                .query_async(&mut connection)
                .await
        })
        .await
    }

    pub(crate) async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<String>>, BackendError> {
        self.run(Resend::Once, |mut connection| async move {
            redis::cmd("MGET")
                .arg(keys)
                .query_async(&mut connection)
                .await
        })
        .await
    }

    pub(crate) async fn set(
        &self,
        key: &str,
        json: String,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let json = &json;
        self.run(Resend::Once, |mut connection| async move {
            let mut set = redis::cmd("SET");
            set.arg(key).arg(json);
            with_expiry(&mut set, ttl)
                .query_async::<()>(&mut connection)
                .await
        })
        .await
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<bool, BackendError> {
        let removed: u64 = self
            .run(Resend::Once, |mut connection| async move {
                redis::cmd("DEL")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(removed > 0)
    }

    /// `SET key json NX` with the expiry: the server stores it only when
    /// the key is absent, so of two concurrent calls (from any process)
    /// only one stores. True when it stored. Never resent.
    pub(crate) async fn add(
        &self,
        key: &str,
        json: String,
        ttl: Duration,
    ) -> Result<bool, BackendError> {
        let json = &json;
        let stored: Option<String> = self
            .run(Resend::Never, |mut connection| async move {
                let mut add = redis::cmd("SET");
                add.arg(key).arg(json).arg("NX");
                with_expiry(&mut add, ttl)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(stored.is_some())
    }

    pub(crate) async fn has_key(&self, key: &str) -> Result<bool, BackendError> {
        let found: u64 = self
            .run(Resend::Once, |mut connection| async move {
                redis::cmd("EXISTS")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        Ok(found > 0)
    }

    /// A new expiry for `key`, `ttl` from now (`PEXPIRE`), or none for a
    /// `ttl` past [`LONGEST_EXPIRY`] (`PERSIST`); true when the key was
    /// there. `PERSIST` alone answers 0 for a key that has no expiry to
    /// remove, so `EXISTS` is asked in the same transaction.
    pub(crate) async fn touch(&self, key: &str, ttl: Duration) -> Result<bool, BackendError> {
        let found: u64 = self
            .run(Resend::Once, |mut connection| async move {
                match expiry_millis(ttl) {
                    Some(millis) => {
                        redis::cmd("PEXPIRE")
                            .arg(key)
                            .arg(millis)
                            .query_async(&mut connection)
                            .await
                    }
                    None => redis::pipe()
                        .atomic()
                        .cmd("EXISTS")
                        .arg(key)
                        .cmd("PERSIST")
                        .arg(key)
                        .ignore()
                        .query_async(&mut connection)
                        .await
                        .map(|(found,): (u64,)| found),
                }
            })
            .await?;
        Ok(found > 0)
    }

    /// Every `(key, json)`, each living `ttl`, in one transaction: all are
    /// stored or, when the server fails, none.
    pub(crate) async fn set_many(
        &self,
        entries: &[(String, String)],
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (key, json) in entries {
            let mut set = redis::cmd("SET");
            set.arg(key).arg(json);
            with_expiry(&mut set, ttl);
            pipe.add_command(set).ignore();
        }
        let pipe = &pipe;
        self.run(Resend::Once, |mut connection| async move {
            pipe.query_async::<()>(&mut connection).await
        })
        .await
    }

    /// How many of `keys` were there (and are removed).
    pub(crate) async fn delete_many(&self, keys: &[String]) -> Result<u64, BackendError> {
        self.run(Resend::Once, |mut connection| async move {
            redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut connection)
                .await
        })
        .await
    }

    /// INCRBY, with a missing key first created as 0 living `ttl` (Redis
    /// alone would keep it forever; a `ttl` past [`LONGEST_EXPIRY`] does).
    /// Never resent.
    pub(crate) async fn incr(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> Result<i64, BackendError> {
        self.run(Resend::Never, |mut connection| async move {
            let mut create = redis::cmd("SET");
            create.arg(key).arg(0).arg("NX");
            with_expiry(&mut create, ttl);
            redis::pipe()
                .atomic()
                .add_command(create)
                .ignore()
                .cmd("INCRBY")
                .arg(key)
                .arg(delta)
                .query_async(&mut connection)
                .await
                .map(|(value,): (i64,)| value)
        })
        .await
    }

    /// Empties the server's database (the URL's `/DB`), as Django's
    /// `clear()` does; with a `prefix`, removes only the keys that start
    /// with it, so that a site sharing the database keeps its own.
    pub(crate) async fn clear(&self, prefix: &str) -> Result<(), BackendError> {
        if prefix.is_empty() {
            return self
                .run(Resend::Once, |mut connection| async move {
                    redis::cmd("FLUSHDB")
                        .query_async::<()>(&mut connection)
                        .await
                })
                .await;
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
        let pattern = &pattern;
        let mut cursor: u64 = 0;
        loop {
            // Each step within its own timeout: a large database takes many.
            cursor = self
                .run(Resend::Once, |mut connection| async move {
                    let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
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
                    Ok(next)
                })
                .await?;
            if cursor == 0 {
                return Ok(());
            }
        }
    }
}
