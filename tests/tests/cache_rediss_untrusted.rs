//! A `rediss://` server whose certificate no trusted authority signed: every
//! operation is a miss and a logged warning that says why. Alone in its test
//! binary: tracing remembers per process which events nobody wants, and a
//! test without a subscriber meeting the same warning first would hide it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nuages::cache::Cache;
use nuages::conf::{CacheBackend, CacheSettings};
use nuages_e2e::redis::{REDIS_SERVER, RedisServer, certificate_authority};

/// Collects what tracing writes, to read the warnings back.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn rediss_with_a_certificate_no_trusted_authority_signed_is_a_miss_and_a_warning() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = RedisServer::start_tls();
    let (other_ca, _) = certificate_authority(server.dir(), "other");
    // Another authority, then the system's (which never signed it).
    for ca in [Some(other_ca.as_path()), None] {
        let settings = CacheSettings {
            backend: CacheBackend::Redis,
            location: server.url(),
            tls_ca_file: ca.map(|ca| ca.to_path_buf()),
            ..CacheSettings::default()
        };
        let cache = Cache::new("default", &settings).unwrap();
        let started = Instant::now();
        assert!(!cache.set("k", &1).await, "trusting {ca:?}");
        assert_eq!(cache.get::<i32>("k").await, None);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(server.cli(&["DBSIZE"]), "0", "nothing was written");
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("cache set failed, treated as a miss"),
        "{logs}"
    );
    assert!(
        logs.to_ascii_lowercase().contains("certificate"),
        "the warning says why: {logs}"
    );
}
