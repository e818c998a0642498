//! A cache that fails is a miss and a logged warning. Alone in its test
//! binary: tracing remembers per process which events nobody wants, and a
//! test without a subscriber meeting the same warning first would hide it.

use std::sync::Arc;

use nuages::cache::Cache;
use nuages::conf::{CacheBackend, CacheSettings};

/// Collects what tracing writes, to read the warnings back.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

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
async fn an_unreachable_redis_is_a_miss_and_a_warning() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().unwrap();
    let settings = CacheSettings {
        backend: CacheBackend::Redis,
        location: format!("redis+unix://{}", dir.path().join("none.sock").display()),
        ..CacheSettings::default()
    };
    let cache = Cache::new("default", &settings).unwrap();
    assert_eq!(cache.get::<i32>("k").await, None);
    assert!(!cache.set("k", &1).await);
    assert_eq!(cache.incr("k", 1).await, None);
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("cache get failed, treated as a miss"),
        "{logs}"
    );
    assert!(logs.contains("cache set failed"), "{logs}");
}
