//! The warning of a Redis cache that fails names the Redis server and the
//! setting that points at it, whatever went wrong: an operator reading
//! "timed out" or "No such file or directory" alone does not know it is
//! the cache's Redis, nor which one. Alone in its test binary: tracing
//! remembers per process which events nobody wants, and a test without a
//! subscriber meeting the same warning first would hide it.

use std::sync::{Arc, Mutex};

use nuages::cache::Cache;
use nuages::conf::{CacheBackend, CacheSettings};
use nuages_e2e::redis::{REDIS_SERVER, RedisServer};

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

impl Logs {
    /// What was written since the last call.
    fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}

#[tokio::test]
async fn a_failing_redis_cache_warning_names_the_server_and_its_setting() {
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
    let mut server = RedisServer::start();
    let socket = server.dir().join("redis.sock");
    assert_eq!(server.url(), format!("redis+unix://{}", socket.display()));
    let settings = CacheSettings {
        backend: CacheBackend::Redis,
        location: server.url(),
        ..CacheSettings::default()
    };
    let cache = Cache::new("sessions", &settings).unwrap();
    assert!(cache.set("k", &1).await);
    assert_eq!(logs.take(), "", "no warning while the server answers");
    // A value of another type is no fault of the server: not blamed on it.
    assert!(cache.set("text", &"words").await);
    assert_eq!(cache.get::<i32>("text").await, None);
    let decode = logs.take();
    assert!(decode.contains("the stored value is not a i32"), "{decode}");
    assert!(!decode.contains("Redis server"), "{decode}");
    let names_the_server = format!(
        "the Redis server at {} (caches.sessions.location)",
        socket.display()
    );

    // Stalled: the command times out.
    server.pause(true);
    assert_eq!(cache.get::<i32>("k").await, None);
    server.pause(false);
    let stalled = logs.take();
    assert!(
        stalled.contains("cache get failed, treated as a miss"),
        "{stalled}"
    );
    assert!(stalled.contains(&names_the_server), "{stalled}");
    assert!(stalled.contains("timed out"), "{stalled}");

    // Gone: no socket to connect to.
    server.stop();
    assert!(!cache.set("k", &2).await);
    let gone = logs.take();
    assert!(
        gone.contains("cache set failed, treated as a miss"),
        "{gone}"
    );
    assert!(gone.contains(&names_the_server), "{gone}");
}
