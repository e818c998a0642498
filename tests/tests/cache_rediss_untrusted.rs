//! A `rediss://` server whose certificate no trusted authority signed: every
//! operation is a miss and a logged warning that says why. Alone in its test
//! binary: tracing remembers per process which events nobody wants, and a
//! test without a subscriber meeting the same warning first would hide it.

use std::time::{Duration, Instant};

use nuages::cache::Cache;
use nuages::conf::{CacheBackend, CacheSettings};
use nuages_e2e::logs::capture_logs;
use nuages_e2e::redis::{REDIS_SERVER, RedisServer, certificate_authority};

#[tokio::test]
async fn rediss_with_a_certificate_no_trusted_authority_signed_is_a_miss_and_a_warning() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let (logs, _guard) = capture_logs();
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
    let logs = logs.take();
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
