//! The `redis` cache backend against a real Redis server, started by the
//! test as the current user on a unix socket in a fresh folder
//! (`nuages_e2e::redis`).

use std::time::{Duration, Instant};

use nuages::cache::Cache;
use nuages::conf::{CacheBackend, CacheSettings, Settings};
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};
use nuages_e2e::redis::{REDIS_SERVER, RedisServer};

fn redis_settings(url: &str) -> CacheSettings {
    CacheSettings {
        backend: CacheBackend::Redis,
        location: url.to_string(),
        ..CacheSettings::default()
    }
}

#[tokio::test]
async fn the_redis_backend_stores_json_on_the_server_with_expiry() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let cache = Cache::new("default", &redis_settings(&server.url())).unwrap();

    assert!(cache.set("question", &("What's new?", 3)).await);
    assert_eq!(server.cli(&["GET", "question"]), r#"["What's new?",3]"#);
    let ttl: u64 = server.cli(&["TTL", "question"]).parse().unwrap();
    assert!(
        (295..=300).contains(&ttl),
        "the default timeout is 300 s: {ttl}"
    );
    assert_eq!(
        cache.get::<(String, i32)>("question").await,
        Some(("What's new?".to_string(), 3))
    );
    assert_eq!(
        cache.get::<i32>("question").await,
        None,
        "another type is a miss"
    );

    // Another handle on the same server (another `serve`) sees the entries.
    let other = Cache::new("default", &redis_settings(&server.url())).unwrap();
    assert_eq!(other.incr("votes", 1).await, Some(1));
    assert_eq!(cache.incr("votes", 2).await, Some(3));
    assert_eq!(other.get::<i64>("votes").await, Some(3));
    let ttl: i64 = server.cli(&["TTL", "votes"]).parse().unwrap();
    assert!(ttl > 0, "a counter created by incr expires too: {ttl}");
    assert_eq!(cache.incr("question", 1).await, None, "not an integer");
    // An existing counter keeps its expiry: incr does not start it again.
    assert!(cache.set_for("kept", &5, Duration::from_secs(100)).await);
    assert_eq!(cache.incr("kept", 1).await, Some(6));
    let ttl: u64 = server.cli(&["TTL", "kept"]).parse().unwrap();
    assert!((95..=100).contains(&ttl), "the expiry is kept: {ttl}");

    cache.set("a", &1).await;
    let found = cache.get_many::<i32>(&["a", "votes", "missing"]).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found["a"], found["votes"]), (1, 3));

    assert!(
        cache
            .set_for("short", "soon gone", Duration::from_millis(200))
            .await
    );
    assert_eq!(
        cache.get::<String>("short").await.as_deref(),
        Some("soon gone")
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get::<String>("short").await, None);

    assert!(cache.delete("a").await);
    assert!(!cache.delete("a").await);
    assert!(cache.clear().await);
    assert_eq!(server.cli(&["DBSIZE"]), "0");
}

/// A command the server refuses on a working connection is that command's
/// miss, never the server's failure: a key holding a hash (`WRONGTYPE`), a
/// write refused for memory (`OOM`), a key outside the ACL user's patterns
/// (`NOPERM`). Each left the whole cache alone for 3 s: every session
/// then read as empty.
#[tokio::test]
async fn a_command_the_server_refuses_misses_and_the_cache_goes_on() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let cache = Cache::new("default", &redis_settings(&server.url())).unwrap();
    assert!(cache.set("session", &7).await);

    server.cli(&["HSET", "counts", "a", "b"]);
    assert_eq!(cache.get::<i64>("counts").await, None, "WRONGTYPE");
    assert_eq!(cache.incr("counts", 1).await, None, "WRONGTYPE");
    assert_eq!(cache.get::<i64>("session").await, Some(7), "still asked");

    server.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    server.cli(&["CONFIG", "SET", "maxmemory", "1"]);
    assert!(!cache.set("page", &"x".repeat(1000)).await, "OOM");
    assert_eq!(cache.get::<i64>("session").await, Some(7), "still asked");
    server.cli(&["CONFIG", "SET", "maxmemory", "0"]);

    server.cli(&["ACL", "SETUSER", "site", "on", ">pw", "~allowed:*", "+@all"]);
    let limited = Cache::new(
        "default",
        &redis_settings(&format!("{}?user=site&pass=pw", server.url())),
    )
    .unwrap();
    assert!(!limited.set("elsewhere", &1).await, "NOPERM");
    assert!(limited.set("allowed:session", &3).await, "still asked");
    assert_eq!(limited.get::<i64>("allowed:session").await, Some(3));
}

/// `Duration::MAX` (Django's `timeout=None`) keeps an entry with no
/// expiry, as locmem does: Redis refuses an expiry that far ("invalid
/// expire time"), and such a `set` or `incr` failed.
#[tokio::test]
async fn a_timeout_of_duration_max_keeps_the_entry_without_expiry() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let cache = Cache::new("default", &redis_settings(&server.url())).unwrap();
    assert!(cache.set_for("kept", "for good", Duration::MAX).await);
    assert_eq!(
        cache.get::<String>("kept").await.as_deref(),
        Some("for good")
    );
    assert_eq!(server.cli(&["TTL", "kept"]), "-1", "no expiry");
    assert_eq!(cache.incr_for("count", 2, Duration::MAX).await, Some(2));
    assert_eq!(server.cli(&["TTL", "count"]), "-1", "no expiry");
    // A long timeout Redis can hold still expires.
    let year = Duration::from_secs(365 * 24 * 60 * 60);
    assert!(cache.set_for("yearly", &1, year).await);
    let ttl: u64 = server.cli(&["TTL", "yearly"]).parse().unwrap();
    assert!(ttl > year.as_secs() - 10, "{ttl}");
}

/// Two sites on one Redis database, each with its `key_prefix` (Django's
/// `KEY_PREFIX`): neither reads nor counts in the other's entries, and
/// one's `clear()` leaves the other's alone. Without it they shared every
/// key (a page count, a cached page, the login throttle's counts) and
/// `clear()` emptied both.
#[tokio::test]
async fn a_key_prefix_keeps_two_sites_apart_on_one_redis_database() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let site = |prefix: &str| {
        let settings = CacheSettings {
            key_prefix: prefix.into(),
            ..redis_settings(&server.url())
        };
        Cache::new("default", &settings).unwrap()
    };
    let (blog, shop) = (site("blog"), site("shop"));
    assert_eq!(blog.incr("visits", 1).await, Some(1));
    assert_eq!(shop.incr("visits", 5).await, Some(5));
    assert!(blog.set("title", "Notes").await);
    assert_eq!(shop.get::<String>("title").await, None);
    assert_eq!(server.cli(&["GET", "blog:visits"]), "1");
    assert_eq!(server.cli(&["GET", "shop:visits"]), "5");

    assert!(shop.clear().await);
    assert_eq!(shop.get::<i64>("visits").await, None);
    assert_eq!(blog.get::<i64>("visits").await, Some(1), "the blog's stays");
    assert_eq!(blog.get_many::<String>(&["title"]).await["title"], "Notes");
}

/// `add` is `SET NX` with the expiry: of two handles (two `serve`
/// processes) adding one key at the same moment, exactly one stores, and
/// the entry expires as `set`'s does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_add_stores_once_when_two_race_and_expires() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let one = Cache::new("default", &redis_settings(&server.url())).unwrap();
    let other = Cache::new("default", &redis_settings(&server.url())).unwrap();
    for round in 0..50 {
        let key = format!("lock{round}");
        let (a, b) = tokio::join!(
            tokio::spawn({
                let (cache, key) = (one.clone(), key.clone());
                async move { cache.add(&key, "one").await }
            }),
            tokio::spawn({
                let (cache, key) = (other.clone(), key.clone());
                async move { cache.add(&key, "other").await }
            }),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "round {round}: exactly one stores ({a}, {b})");
        let winner = if a { "\"one\"" } else { "\"other\"" };
        assert_eq!(server.cli(&["GET", &key]), winner, "round {round}");
    }
    let ttl: u64 = server.cli(&["TTL", "lock0"]).parse().unwrap();
    assert!((295..=300).contains(&ttl), "the alias's timeout: {ttl}");

    assert!(!one.add("lock0", "again").await, "already there");
    assert!(one.add_for("brief", &1, Duration::from_millis(200)).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(one.add_for("brief", &2, Duration::MAX).await, "expired");
    assert_eq!(server.cli(&["GET", "brief"]), "2");
    assert_eq!(server.cli(&["TTL", "brief"]), "-1", "no expiry");
    // A zero timeout stores nothing and tells whether the key was absent.
    assert!(one.add_for("none", &1, Duration::ZERO).await);
    assert_eq!(server.cli(&["EXISTS", "none"]), "0");
    assert!(!one.add_for("brief", &1, Duration::ZERO).await);
}

/// `touch` gives an entry a new expiry on the server (read back with
/// `TTL`), its value unchanged; `Duration::MAX` removes the expiry, zero
/// the entry.
#[tokio::test]
async fn redis_touch_changes_the_ttl_on_the_server() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let cache = Cache::new("default", &redis_settings(&server.url())).unwrap();
    assert!(!cache.touch("missing").await);
    assert_eq!(server.cli(&["EXISTS", "missing"]), "0");

    assert!(cache.set_for("k", "v", Duration::from_secs(10)).await);
    assert!(cache.touch_for("k", Duration::from_secs(1000)).await);
    let ttl: u64 = server.cli(&["TTL", "k"]).parse().unwrap();
    assert!((995..=1000).contains(&ttl), "{ttl}");
    assert!(cache.touch("k").await);
    let ttl: u64 = server.cli(&["TTL", "k"]).parse().unwrap();
    assert!((295..=300).contains(&ttl), "the alias's timeout: {ttl}");
    assert_eq!(server.cli(&["GET", "k"]), r#""v""#, "the value is kept");

    // A short entry renewed lives on past its first timeout.
    assert!(cache.set_for("short", &1, Duration::from_millis(300)).await);
    assert!(cache.touch_for("short", Duration::from_secs(60)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cache.get::<i32>("short").await, Some(1));
    // And one shortened goes sooner.
    assert!(cache.touch_for("short", Duration::from_millis(200)).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!cache.has_key("short").await);
    assert!(!cache.touch("short").await, "expired: not there");

    assert!(cache.touch_for("k", Duration::MAX).await);
    assert_eq!(server.cli(&["TTL", "k"]), "-1", "no expiry");
    assert!(
        cache.touch_for("k", Duration::MAX).await,
        "there, though it had no expiry to remove"
    );
    assert!(cache.touch_for("k", Duration::ZERO).await);
    assert_eq!(server.cli(&["EXISTS", "k"]), "0");
    assert!(!cache.touch_for("k", Duration::ZERO).await);
}

#[tokio::test]
async fn redis_has_key_get_or_set_set_many_delete_many_and_decr() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let settings = CacheSettings {
        key_prefix: "site".into(),
        ..redis_settings(&server.url())
    };
    let cache = Cache::new("default", &settings).unwrap();

    assert!(!cache.has_key("k").await);
    assert!(cache.set("k", "text").await);
    assert!(cache.has_key("k").await, "whatever the type");
    assert_eq!(server.cli(&["EXISTS", "k"]), "0", "stored under the prefix");

    let made = std::sync::atomic::AtomicUsize::new(0);
    let make = || async {
        made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        vec![1, 2]
    };
    assert_eq!(cache.get_or_set("list", make).await, vec![1, 2]);
    assert_eq!(cache.get_or_set("list", make).await, vec![1, 2]);
    assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(server.cli(&["GET", "site:list"]), "[1,2]");
    let ttl: u64 = server.cli(&["TTL", "site:list"]).parse().unwrap();
    assert!((295..=300).contains(&ttl), "{ttl}");
    let brief = cache
        .get_or_set_for("brief", || async { 3 }, Duration::from_secs(20))
        .await;
    assert_eq!(brief, 3);
    let ttl: u64 = server.cli(&["TTL", "site:brief"]).parse().unwrap();
    assert!((15..=20).contains(&ttl), "{ttl}");

    let failed = cache
        .set_many_for([("a", 1), ("b", 2)], Duration::from_secs(50))
        .await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(server.cli(&["GET", "site:a"]), "1");
    let ttl: u64 = server.cli(&["TTL", "site:b"]).parse().unwrap();
    assert!((45..=50).contains(&ttl), "{ttl}");
    assert!(cache.set_many([("c", 3)]).await.is_empty());
    let found = cache.get_many::<i32>(&["a", "b", "c"]).await;
    assert_eq!((found["a"], found["b"], found["c"]), (1, 2, 3));

    assert_eq!(cache.decr("a", 5).await, Some(-4));
    assert_eq!(cache.decr("fresh", 2).await, Some(-2), "as incr: from 0");
    assert_eq!(cache.decr("k", 1).await, None, "not an integer");
    assert_eq!(cache.decr("a", i64::MIN).await, None);

    assert_eq!(cache.delete_many(&["a", "b", "missing"]).await, 2);
    assert_eq!(server.cli(&["EXISTS", "site:a", "site:b"]), "0");
    assert_eq!(cache.delete_many(&[]).await, 0);
    assert_eq!(cache.get::<i32>("c").await, Some(3));
}

/// Without a server every new method gives its miss value, quickly.
#[tokio::test]
async fn the_new_methods_without_a_server_give_their_miss_values() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("redis+unix://{}", dir.path().join("none.sock").display());
    let cache = Cache::new("default", &redis_settings(&nowhere)).unwrap();
    let started = Instant::now();
    assert!(!cache.add("k", &1).await);
    assert!(!cache.has_key("k").await);
    assert!(!cache.touch("k").await);
    assert_eq!(cache.get_or_set("k", || async { 7 }).await, 7);
    assert_eq!(cache.set_many([("a", 1), ("b", 2)]).await, ["a", "b"]);
    assert_eq!(cache.delete_many(&["a"]).await, 0);
    assert_eq!(cache.decr("n", 1).await, None);
    assert!(started.elapsed() < Duration::from_secs(10));
}

async fn visits(cache: Cache) -> String {
    match cache.incr("visits", 1).await {
        Some(n) => format!("visit {n}"),
        None => "no count".to_string(),
    }
}

fn urls() -> UrlConf {
    UrlConf::new().path("visits/", visits, "visits")
}

fn application(location: &str) -> Application {
    Application::new(
        Project::new("cachesite", env!("CARGO_MANIFEST_DIR")).urls(urls),
        settings_with(redis_settings(location)),
    )
    .unwrap()
}

fn settings_with(cache: CacheSettings) -> Settings {
    let mut settings = Settings {
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(
            "a-test-secret-key-long-enough-to-be-accepted-by-checks-0123456789".into(),
        ),
        ..Settings::default()
    };
    settings.caches.insert("default".into(), cache);
    settings
}

#[tokio::test]
async fn a_view_whose_redis_goes_away_gets_a_miss_not_an_error() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let mut server = RedisServer::start();
    let client = Client::new(application(&server.url()));
    assert_eq!(client.get("/visits/").await.text(), "visit 1");
    assert_eq!(client.get("/visits/").await.text(), "visit 2");

    server.stop();
    let started = Instant::now();
    let response = client.get("/visits/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "no count");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a gone server is a quick miss, took {:?}",
        started.elapsed()
    );
}

/// A Redis server restarted under the site (a deploy, a crash) is used
/// again once it is back: the misses last only while it is away.
#[tokio::test]
async fn a_view_whose_redis_comes_back_counts_again() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let mut server = RedisServer::start();
    let client = Client::new(application(&server.url()));
    assert_eq!(client.get("/visits/").await.text(), "visit 1");
    server.stop();
    assert_eq!(client.get("/visits/").await.text(), "no count");
    assert_eq!(client.get("/visits/").await.text(), "no count");
    server.restart();
    // The restarted server is empty: counting starts again.
    let started = Instant::now();
    let mut text = client.get("/visits/").await.text();
    while text == "no count" && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        text = client.get("/visits/").await.text();
    }
    assert_eq!(
        text,
        "visit 1",
        "still missing {:?} after the restart",
        started.elapsed()
    );
    assert_eq!(client.get("/visits/").await.text(), "visit 2");
}

/// A Redis server restarted between two requests (a routine restart):
/// the connection kept from before is found closed by the first command
/// after it (broken pipe), which is sent once more on a new connection, so
/// the first request after the restart is answered, not a miss (a session
/// read as empty: the visitor logged out). A command that cannot be resent
/// (`incr` would count twice) misses once, and the next is answered.
#[tokio::test]
async fn the_first_command_after_a_redis_restart_is_answered() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let mut server = RedisServer::start();
    let cache = Cache::new("default", &redis_settings(&server.url())).unwrap();
    assert!(cache.set("k", &1).await);
    server.stop();
    server.restart();
    assert_eq!(server.cli(&["SET", "k", "2"]), "OK");
    assert_eq!(cache.get::<i32>("k").await, Some(2), "the first get");
    assert!(cache.has_key("k").await);

    server.stop();
    server.restart();
    assert_eq!(cache.incr("n", 1).await, None, "not resent");
    assert_eq!(cache.incr("n", 1).await, Some(1), "the next is answered");
}

/// A Redis server restarted with another password, then back with the
/// right one: the cache connects again. The connection manager kept its
/// reconnection that failed on the password for good (it tries again only
/// after an I/O error), so every operation failed, and every login was a
/// 500, until serve restarted.
#[tokio::test]
async fn the_cache_connects_again_after_its_password_was_refused_for_a_while() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let mut server = RedisServer::start_with(&["--requirepass", "pw1"]);
    let location = format!("{}?pass=pw1", server.url());
    let cache = Cache::new("default", &redis_settings(&location)).unwrap();
    assert!(cache.set("k", &1).await);
    server.stop();
    server.restart_with(&["--requirepass", "other"]);
    assert_eq!(cache.get::<i32>("k").await, None, "refused");
    server.stop();
    server.restart_with(&["--requirepass", "pw1"]);
    let started = Instant::now();
    let mut stored = cache.set("k", &2).await;
    while !stored && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stored = cache.set("k", &2).await;
    }
    assert!(stored, "still failing after {:?}", started.elapsed());
    assert_eq!(cache.get::<i32>("k").await, Some(2));
}

/// A Redis server that stalls (SIGSTOP) and catches up: while it stalls a
/// page misses within seconds; once it answers again, each command gets
/// its own answer (none meant for a command that timed out meanwhile).
#[tokio::test]
async fn a_view_whose_redis_stalls_misses_then_counts_on() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let client = Client::new(application(&server.url()));
    assert_eq!(client.get("/visits/").await.text(), "visit 1");
    server.pause(true);
    let started = Instant::now();
    let stalled = client.get("/visits/").await;
    let waited = started.elapsed();
    server.pause(false);
    assert_eq!(stalled.status, 200);
    assert_eq!(stalled.text(), "no count");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let started = Instant::now();
    let mut text = client.get("/visits/").await.text();
    while text == "no count" && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        text = client.get("/visits/").await.text();
    }
    // 3 when the stalled INCR ran once the server woke up, as it does.
    let n: i64 = text
        .strip_prefix("visit ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("counting again: {text}"));
    assert!((2..=3).contains(&n), "{text}");
    assert_eq!(
        client.get("/visits/").await.text(),
        format!("visit {}", n + 1)
    );
    assert_eq!(server.cli(&["GET", "visits"]), (n + 1).to_string());
}

#[tokio::test]
async fn a_view_whose_redis_never_answered_gets_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("redis+unix://{}", dir.path().join("none.sock").display());
    let client = Client::new(application(&nowhere));
    let response = client.get("/visits/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "no count");
}

/// A Redis host that takes connections and never answers (hung, or a
/// firewall that swallows what follows the handshake), never reached since
/// the site started: concurrent requests each miss within about one
/// timeout (1 s), instead of queueing behind each other's connection
/// attempts (10 requests took 23-43 s, each attempt 2 s). A loopback
/// listener that never accepts stands for the hung host; the kernel
/// completes the handshakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_to_a_redis_that_never_answers_each_miss_within_the_timeout() {
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let application = application(&format!("redis://{}/0", hung.local_addr().unwrap()));
    let started = Instant::now();
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let client = Client::new(application.clone());
            tokio::spawn(async move {
                let asked = Instant::now();
                let response = client.get("/visits/").await;
                (response.status, response.text(), asked.elapsed())
            })
        })
        .collect();
    for request in requests {
        let (status, text, took) = request.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(text, "no count");
        assert!(
            took < Duration::from_millis(1800),
            "one request took {took:?}"
        );
    }
    let all = started.elapsed();
    assert!(
        all < Duration::from_millis(2000),
        "10 requests took {all:?}"
    );

    // The host is left alone for a while after the failure: a miss at once.
    let asked = Instant::now();
    let response = Client::new(application.clone()).get("/visits/").await;
    assert_eq!(response.text(), "no count");
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(300), "{took:?}");
    drop(hung);
}

fn rediss_settings(server: &RedisServer, ca: Option<&std::path::Path>) -> CacheSettings {
    CacheSettings {
        tls_ca_file: ca.map(|ca| ca.to_path_buf()),
        ..redis_settings(&server.url())
    }
}

#[tokio::test]
async fn rediss_trusting_the_private_authority_stores_and_reads() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start_tls();
    assert!(server.url().starts_with("rediss://127.0.0.1:"));
    let cache = Cache::new("default", &rediss_settings(&server, Some(server.ca()))).unwrap();
    assert!(cache.set("question", &("Over TLS?", 1)).await);
    assert_eq!(server.cli(&["GET", "question"]), r#"["Over TLS?",1]"#);
    assert_eq!(
        cache.get::<(String, i32)>("question").await,
        Some(("Over TLS?".to_string(), 1))
    );
    assert_eq!(cache.incr("votes", 2).await, Some(2));

    // A whole application, as `serve` builds it.
    let client = Client::new(
        Application::new(
            Project::new("cachesite", env!("CARGO_MANIFEST_DIR")).urls(urls),
            settings_with(rediss_settings(&server, Some(server.ca()))),
        )
        .unwrap(),
    );
    assert_eq!(client.get("/visits/").await.text(), "visit 1");
    assert_eq!(client.get("/visits/").await.text(), "visit 2");
    assert_eq!(server.cli(&["GET", "visits"]), "2");
}

#[tokio::test]
async fn a_view_whose_rediss_certificate_no_trusted_authority_signed_gets_a_miss() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start_tls();
    let (other_ca, _) = nuages_e2e::redis::certificate_authority(server.dir(), "other");
    // A view gets a miss, never a 500.
    let client = Client::new(
        Application::new(
            Project::new("cachesite", env!("CARGO_MANIFEST_DIR")).urls(urls),
            settings_with(rediss_settings(&server, Some(&other_ca))),
        )
        .unwrap(),
    );
    let response = client.get("/visits/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "no count");
}

#[test]
fn the_application_refuses_a_tls_ca_file_it_cannot_use_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CacheSettings {
        tls_ca_file: Some(dir.path().join("missing.pem")),
        ..redis_settings("rediss://127.0.0.1:6380/0")
    };
    let project = Project::new("cachesite", env!("CARGO_MANIFEST_DIR")).urls(urls);
    let Err(error) = Application::new(project, settings_with(cache)) else {
        panic!("refused at start");
    };
    let error = error.to_string();
    assert!(
        error.starts_with("caches.default.tls_ca_file cannot be read"),
        "{error}"
    );
}

/// The failed-login counts live in the cache `login_throttle_cache_alias`
/// names: two `serve` processes on one Redis share them, while `default`
/// is a `dummy` cache.
#[tokio::test]
async fn the_login_throttle_counts_in_the_cache_its_alias_names() {
    if !nuages_e2e::require(REDIS_SERVER) {
        return;
    }
    use nuages::auth::throttle::{Admission, LoginThrottle};
    let server = RedisServer::start();
    let mut settings = Settings {
        login_throttle_username_limit: 2,
        login_throttle_cache_alias: "logins".into(),
        ..Settings::default()
    };
    settings.caches.insert(
        "default".into(),
        CacheSettings {
            backend: CacheBackend::Dummy,
            ..CacheSettings::default()
        },
    );
    settings
        .caches
        .insert("logins".into(), redis_settings(&server.url()));
    let process =
        || LoginThrottle::new(&settings, &nuages::cache::Caches::new(&settings).unwrap()).unwrap();
    let (first, second) = (process(), process());
    for _ in 0..2 {
        assert_ne!(first.admit("jane", None).await, Admission::Refused);
    }
    assert_eq!(
        second.admit("jane", None).await,
        Admission::Refused,
        "the other process sees the count"
    );
    assert_ne!(server.cli(&["KEYS", "*"]), "", "the count is on the server");
}
