//! The warning of a Redis cache that fails names the Redis server and the
//! setting that points at it, whatever went wrong: an operator reading
//! "timed out" or "No such file or directory" alone does not know it is
//! the cache's Redis, nor which one. Alone in its test binary: tracing
//! remembers per process which events nobody wants, and a test without a
//! subscriber meeting the same warning first would hide it.

use nuages::cache::Cache;
use nuages::conf::{CacheBackend, CacheSettings};
use nuages_e2e::logs::capture_logs;
use nuages_e2e::redis::{REDIS_SERVER, RedisServer};

#[tokio::test]
async fn a_failing_redis_cache_warning_names_the_server_and_its_setting() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let (logs, _guard) = capture_logs();
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
