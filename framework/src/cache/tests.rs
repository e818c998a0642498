use std::time::Duration;

use super::*;

fn cache(backend: CacheBackend, max_entries: u64) -> Cache {
    let settings = CacheSettings {
        backend,
        max_entries,
        ..CacheSettings::default()
    };
    Cache::new("default", &settings).unwrap()
}

#[tokio::test]
async fn set_keeps_values_for_the_aliass_timeout() {
    let settings = CacheSettings {
        timeout: 1,
        ..CacheSettings::default()
    };
    let cache = Cache::new("default", &settings).unwrap();
    assert!(cache.set("brief", "gone in a second").await);
    assert!(cache.get::<String>("brief").await.is_some());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(cache.get::<String>("brief").await, None, "timeout = 1");
}

#[tokio::test]
async fn locmem_keeps_serde_values_until_their_timeout() {
    let cache = cache(CacheBackend::Locmem, 100);
    assert!(cache.set("answer", &vec![4, 2]).await);
    assert_eq!(cache.get::<Vec<i32>>("answer").await, Some(vec![4, 2]));
    assert!(
        cache
            .set_for("short", "soon gone", Duration::from_millis(150))
            .await
    );
    assert_eq!(
        cache.get::<String>("short").await.as_deref(),
        Some("soon gone")
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get::<String>("short").await, None, "expired");
    assert_eq!(
        cache.get::<Vec<i32>>("answer").await,
        Some(vec![4, 2]),
        "default timeout is 300 s"
    );
    assert_eq!(
        cache.get::<String>("answer").await,
        None,
        "another type is a miss"
    );
    assert!(cache.delete("answer").await);
    assert!(!cache.delete("answer").await);
    assert_eq!(cache.get::<Vec<i32>>("answer").await, None);
}

#[tokio::test]
async fn locmem_keeps_at_most_max_entries() {
    let cache = cache(CacheBackend::Locmem, 10);
    for i in 0..50 {
        cache.set(&format!("k{i}"), &i).await;
    }
    let Backend::LocMem(m) = &*cache.backend else {
        unreachable!()
    };
    assert!(m.len().await <= 10, "{} entries", m.len().await);
}

#[tokio::test]
async fn locmem_incr_starts_at_zero_and_refuses_non_integers() {
    let cache = cache(CacheBackend::Locmem, 100);
    assert_eq!(cache.incr("hits", 1).await, Some(1));
    assert_eq!(cache.incr("hits", 5).await, Some(6));
    assert_eq!(cache.incr("hits", -2).await, Some(4));
    assert_eq!(cache.get::<i64>("hits").await, Some(4));
    cache.set("name", "ada").await;
    assert_eq!(cache.incr("name", 1).await, None);
    assert_eq!(cache.get::<String>("name").await.as_deref(), Some("ada"));
}

#[tokio::test]
async fn locmem_incr_keeps_the_expiry() {
    let cache = cache(CacheBackend::Locmem, 100);
    cache.set_for("n", &1, Duration::from_millis(200)).await;
    assert_eq!(cache.incr("n", 1).await, Some(2));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get::<i64>("n").await, None);
}

#[tokio::test]
async fn locmem_get_many_and_clear() {
    let cache = cache(CacheBackend::Locmem, 100);
    cache.set("a", &1).await;
    cache.set("b", &2).await;
    cache.set("s", "text").await;
    let found = cache.get_many::<i32>(&["a", "b", "missing", "s"]).await;
    assert_eq!(
        found,
        HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)])
    );
    assert!(cache.clear().await);
    assert!(cache.get_many::<i32>(&["a", "b"]).await.is_empty());
}

#[tokio::test]
async fn dummy_caches_nothing() {
    let cache = cache(CacheBackend::Dummy, 100);
    assert!(cache.set("a", &1).await);
    assert_eq!(cache.get::<i32>("a").await, None);
    assert!(cache.get_many::<i32>(&["a"]).await.is_empty());
    assert_eq!(cache.incr("a", 1).await, None);
    assert!(!cache.delete("a").await);
    assert!(cache.clear().await);
}

#[test]
fn redis_without_a_location_names_the_key() {
    let settings = CacheSettings {
        backend: CacheBackend::Redis,
        ..CacheSettings::default()
    };
    let err = Cache::new("sessions", &settings).unwrap_err().to_string();
    assert!(err.contains("caches.sessions.location"), "{err}");
    let settings = CacheSettings {
        backend: CacheBackend::Redis,
        location: "http://example.com".into(),
        ..CacheSettings::default()
    };
    let err = Cache::new("default", &settings).unwrap_err().to_string();
    assert!(err.contains("caches.default.location"), "{err}");
    // rediss:// is TLS: accepted, and connects on first use.
    let settings = CacheSettings {
        backend: CacheBackend::Redis,
        location: "rediss://127.0.0.1:6379/0".into(),
        ..CacheSettings::default()
    };
    assert!(Cache::new("default", &settings).is_ok());
}

/// A `location` under a backend that reads none (a forgotten
/// `backend = "redis"`) is refused, naming the key and the fix: each
/// process would otherwise keep a cache of its own, silently.
#[test]
fn a_location_under_a_backend_that_reads_none_is_refused() {
    for backend in [CacheBackend::Locmem, CacheBackend::Dummy] {
        let settings = CacheSettings {
            backend,
            location: "redis://127.0.0.1:6379/0".into(),
            ..CacheSettings::default()
        };
        let error = Cache::new("default", &settings).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("caches.default.location is set, but the")
                && message.contains(backend.name()),
            "{message}"
        );
        let hint = error.hint().unwrap_or_default();
        assert!(
            hint.contains("set caches.default.backend = \"redis\""),
            "{hint}"
        );
    }
}

/// A `locmem` cache with room for no entry would drop each as it is set
/// (a session saved into it lost at once): refused, naming the fix.
#[test]
fn a_locmem_cache_with_room_for_nothing_is_refused() {
    let settings = CacheSettings {
        max_entries: 0,
        ..CacheSettings::default()
    };
    let error = Cache::new("sessions", &settings).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("caches.sessions.max_entries is 0"),
        "{error}"
    );
    assert!(
        error
            .hint()
            .unwrap_or_default()
            .contains("backend = \"dummy\""),
        "{error:?}"
    );
    let settings = CacheSettings {
        max_entries: 1,
        ..CacheSettings::default()
    };
    assert!(Cache::new("sessions", &settings).is_ok());
}

/// A query parameter the redis crate does not read would be ignored
/// (`?pass=` over TCP, `?foo=`): refused, naming it and what is read.
#[test]
fn a_redis_url_parameter_the_client_ignores_is_refused() {
    for (location, named, hint) in [
        (
            "redis://127.0.0.1:6379/0?foo=bar",
            "'foo'",
            "remove it from caches.default.location; the parameters read are protocol",
        ),
        (
            "redis://127.0.0.1:6379/0?pass=hunter2",
            "'pass'",
            "remove it from caches.default.location",
        ),
        (
            "redis+unix:///run/redis.sock?Pass=hunter2",
            "'Pass'",
            "write it 'pass' (the names are case-sensitive)",
        ),
    ] {
        let settings = CacheSettings {
            backend: CacheBackend::Redis,
            location: location.into(),
            ..CacheSettings::default()
        };
        let error = Cache::new("default", &settings).unwrap_err();
        let text = format!("{error} HINT {}", error.hint().unwrap_or_default());
        assert!(
            text.starts_with(&format!(
                "caches.default.location has the parameter {named}, which the Redis client does \
                 not read"
            )),
            "{text}"
        );
        assert!(text.contains(hint), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    for fine in [
        "redis://127.0.0.1:6379/0?protocol=resp3",
        "redis+unix:///run/redis.sock?db=1&pass=x&user=site",
    ] {
        let settings = CacheSettings {
            backend: CacheBackend::Redis,
            location: fine.into(),
            ..CacheSettings::default()
        };
        assert!(Cache::new("default", &settings).is_ok(), "{fine}");
    }
}

/// `rediss://…#insecure` would skip the check of the server's
/// certificate: refused, with the way to trust a private authority.
#[test]
fn a_tls_location_that_would_not_verify_the_server_is_refused() {
    // The URL parser drops the space and line break: the client reads it.
    for location in [
        "rediss://10.0.0.5:6380/0#insecure",
        "rediss://10.0.0.5:6380/0#insecure \n",
    ] {
        let settings = CacheSettings {
            backend: CacheBackend::Redis,
            location: location.into(),
            ..CacheSettings::default()
        };
        let error = Cache::new("default", &settings).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("caches.default.location ends with #insecure"),
            "{location:?}: {error}"
        );
        assert!(
            error
                .hint()
                .unwrap_or_default()
                .contains("set caches.default.tls_ca_file"),
            "{error:?}"
        );
    }
}

/// A `rediss://` server that does not answer may be a plain one: the
/// TLS greeting waits for an answer that never comes.
#[test]
fn a_tls_location_that_times_out_may_be_a_plain_server() {
    let (_, fix) = redis::diagnose("timed out", "caches.default.location", true);
    assert!(fix.ends_with("a plain one is redis://"), "{fix}");
    let (_, fix) = redis::diagnose("timed out", "caches.default.location", false);
    assert!(!fix.contains("TLS"), "{fix}");
}

/// A URL that does not parse names the part that does not (the redis
/// crate says only "Redis URL did not parse"), never the password.
#[test]
fn a_redis_url_that_does_not_parse_names_the_bad_part() {
    for (location, says) in [
        (
            "redis://:hunter2@127.0.0.1:99999/0",
            "its port \"99999\" is not a port number (1 to 65535)",
        ),
        // Not digits: maybe USER:PASSWORD without its @HOST, never shown.
        (
            "redis://site:Secretpw9/0",
            "the part after the host's ':' is not a port number (if it is USER:PASSWORD, the \
             @HOST after it is missing)",
        ),
        (
            "redis://[::1/0",
            "its host \"[::1\" is not a host name or an IP address",
        ),
        (
            "127.0.0.1:6379",
            "it is not a URL (no scheme such as redis://)",
        ),
    ] {
        let settings = CacheSettings {
            backend: CacheBackend::Redis,
            location: location.into(),
            ..CacheSettings::default()
        };
        let err = Cache::new("default", &settings).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "caches.default.location is not a usable Redis URL: {says}"
            )),
            "{location}: {err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}

/// As a database URL's: a password holding `/` (`?`, `#`) not
/// percent-encoded, or a `%` that encodes nothing, is named with the fix,
/// never shown.
#[test]
fn a_redis_password_holding_a_url_delimiter_is_named() {
    // With a database index or without (then E024 read part of the
    // password as the port: 'its port "Xk3" is not a port number').
    for (location, named) in [
        ("rediss://:k3J/9xQ+abc=@10.0.0.6:6380/0", "'/'"),
        ("redis://default:Xk3/9LmSECRET@127.0.0.1:19500", "'/'"),
        ("redis://default:Xk3#9LmSECRET@127.0.0.1:19500", "'#'"),
        ("redis://:Xk3?9LmSECRET@127.0.0.1:19500", "'?'"),
        ("redis://:S3cr@tHost#tail@127.0.0.1:16379/0", "'#'"),
        ("redis://:p@ss/x@127.0.0.1:16379/0", "'/'"),
        (
            "redis://:Xk3%zz9LmSECRET@127.0.0.1:19500",
            "a '%' not followed by two hex digits",
        ),
    ] {
        let settings = CacheSettings {
            backend: CacheBackend::Redis,
            location: location.into(),
            ..CacheSettings::default()
        };
        let error = Cache::new("default", &settings).unwrap_err();
        let text = format!("{error} {}", error.hint().unwrap_or_default());
        assert!(
            text.starts_with(&format!(
                "caches.default.location: the password holds {named}"
            )),
            "{text}"
        );
        assert!(text.contains("%2F"), "{text}");
        assert!(
            !text.contains("k3J") && !text.contains("Xk3") && !text.contains("9LmSECRET"),
            "{text}"
        );
    }
}

#[test]
fn a_tls_ca_file_that_cannot_be_used_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let with = |location: &str, file: &std::path::Path| CacheSettings {
        backend: CacheBackend::Redis,
        location: location.into(),
        tls_ca_file: Some(file.to_path_buf()),
        ..CacheSettings::default()
    };
    let missing = dir.path().join("missing.pem");
    let err = Cache::new("default", &with("rediss://localhost/0", &missing)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("caches.default.tls_ca_file cannot be read"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("PEM file"), "{err:?}");
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let err = Cache::new("default", &with("rediss://localhost/0", &not_pem)).unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
    // Without rediss:// the file would be ignored: refused, not ignored.
    let err = Cache::new("default", &with("redis://localhost/0", &not_pem)).unwrap_err();
    assert!(err.to_string().contains("is not a rediss:// URL"), "{err}");
    assert!(
        err.hint().unwrap().contains("caches.default.location"),
        "{err:?}"
    );
}

#[tokio::test]
async fn locmem_keeps_an_entry_of_duration_max() {
    let cache = cache(CacheBackend::Locmem, 100);
    assert!(cache.set_for("kept", &1, Duration::MAX).await);
    assert_eq!(cache.incr_for("count", 1, Duration::MAX).await, Some(1));
    assert_eq!(cache.get::<i64>("kept").await, Some(1));
}

#[tokio::test]
async fn locmem_add_stores_only_when_the_key_is_absent() {
    let cache = cache(CacheBackend::Locmem, 100);
    assert!(cache.add("lock", "first").await);
    assert!(!cache.add("lock", "second").await, "already there");
    assert_eq!(cache.get::<String>("lock").await.as_deref(), Some("first"));
    // An expired entry is absent.
    assert!(cache.add_for("brief", &1, Duration::from_millis(150)).await);
    assert!(!cache.add_for("brief", &2, Duration::from_millis(150)).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(cache.add("brief", &3).await, "expired, so absent");
    assert_eq!(cache.get::<i32>("brief").await, Some(3));
    // A zero timeout stores nothing and tells whether the key was absent.
    assert!(cache.add_for("none", &1, Duration::ZERO).await);
    assert!(!cache.has_key("none").await);
    assert!(!cache.add_for("lock", &1, Duration::ZERO).await);
    assert_eq!(cache.get::<String>("lock").await.as_deref(), Some("first"));
}

#[tokio::test]
async fn locmem_add_of_one_key_from_many_tasks_stores_once() {
    let cache = cache(CacheBackend::Locmem, 100);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.add("once", &i).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locmem_add_of_one_key_from_two_threads_stores_once() {
    for round in 0..50 {
        let cache = cache(CacheBackend::Locmem, 100);
        let key = format!("lock{round}");
        let (a, b) = tokio::join!(
            tokio::spawn({
                let (cache, key) = (cache.clone(), key.clone());
                async move { cache.add(&key, "a").await }
            }),
            tokio::spawn({
                let (cache, key) = (cache.clone(), key.clone());
                async move { cache.add(&key, "b").await }
            }),
        );
        assert!(a.unwrap() ^ b.unwrap(), "round {round}: exactly one stores");
    }
}

#[tokio::test]
async fn locmem_get_or_set_runs_the_default_only_on_a_miss() {
    let cache = cache(CacheBackend::Locmem, 100);
    let made = std::sync::atomic::AtomicUsize::new(0);
    let make = || async {
        made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        vec![1, 2]
    };
    assert_eq!(cache.get_or_set("list", make).await, vec![1, 2]);
    assert_eq!(cache.get_or_set("list", make).await, vec![1, 2]);
    assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(cache.get::<Vec<i32>>("list").await, Some(vec![1, 2]));
    // Another caller adds a value while the default is made: theirs is
    // given (and kept), as Django's, so that both callers agree.
    let theirs = cache
        .get_or_set("raced", || async {
            assert!(cache.add("raced", &1).await);
            2
        })
        .await;
    assert_eq!(theirs, 1);
    assert_eq!(cache.get::<i32>("raced").await, Some(1));
    // A value of another type is left in place; the default is given.
    cache.set("name", "ada").await;
    assert_eq!(cache.get_or_set("name", || async { 7 }).await, 7);
    assert_eq!(cache.get::<String>("name").await.as_deref(), Some("ada"));
    // With its own timeout.
    let brief = cache
        .get_or_set_for("brief", || async { 1 }, Duration::from_millis(150))
        .await;
    assert_eq!(brief, 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!cache.has_key("brief").await);
}

#[tokio::test]
async fn locmem_has_key_sees_any_unexpired_value() {
    let cache = cache(CacheBackend::Locmem, 100);
    assert!(!cache.has_key("k").await);
    cache.set_for("k", "v", Duration::from_millis(150)).await;
    assert!(cache.has_key("k").await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!cache.has_key("k").await, "expired");
}

#[tokio::test]
async fn locmem_touch_renews_the_expiry_of_an_entry_that_is_there() {
    let cache = cache(CacheBackend::Locmem, 100);
    assert!(!cache.touch("missing").await);
    assert!(!cache.has_key("missing").await, "touch creates nothing");
    cache.set_for("k", "v", Duration::from_millis(200)).await;
    assert!(cache.touch_for("k", Duration::from_secs(60)).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        cache.get::<String>("k").await.as_deref(),
        Some("v"),
        "lives on past its first timeout"
    );
    // Shortened, it goes sooner.
    assert!(cache.touch_for("k", Duration::from_millis(150)).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!cache.has_key("k").await);
    assert!(!cache.touch("k").await, "an expired entry is not there");
    // Duration::MAX keeps it; zero removes it.
    cache.set_for("k", "v", Duration::from_millis(200)).await;
    assert!(cache.touch_for("k", Duration::MAX).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(cache.has_key("k").await);
    assert!(cache.touch_for("k", Duration::ZERO).await);
    assert!(!cache.has_key("k").await);
    assert!(!cache.touch_for("k", Duration::ZERO).await);
}

#[tokio::test]
async fn locmem_set_many_and_delete_many() {
    let cache = cache(CacheBackend::Locmem, 100);
    assert!(cache.set_many([("a", 1), ("b", 2)]).await.is_empty());
    let found = cache.get_many::<i32>(&["a", "b"]).await;
    assert_eq!(
        found,
        HashMap::from([("a".to_string(), 1), ("b".to_string(), 2)])
    );
    // From a map, by reference.
    let map = HashMap::from([("c".to_string(), "x".to_string())]);
    assert!(cache.set_many(&map).await.is_empty());
    assert_eq!(cache.get::<String>("c").await.as_deref(), Some("x"));
    // A value serde cannot write is named, and the others stored.
    // (JSON object keys are strings: a map keyed by lists is refused.)
    let unwritable = HashMap::from([(vec![1], 1)]);
    let failed = cache
        .set_many([("good", HashMap::new()), ("bad", unwritable)])
        .await;
    assert_eq!(failed, vec!["bad".to_string()]);
    assert!(cache.has_key("good").await);
    assert!(!cache.has_key("bad").await);
    // A timeout of their own; zero removes them.
    assert!(
        cache
            .set_many_for([("s", 1)], Duration::from_millis(150))
            .await
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!cache.has_key("s").await);
    assert!(
        cache
            .set_many_for([("a", 1)], Duration::ZERO)
            .await
            .is_empty()
    );
    assert!(!cache.has_key("a").await);

    assert_eq!(cache.delete_many(&["b", "c", "missing"]).await, 2);
    assert!(cache.get_many::<i32>(&["b", "c"]).await.is_empty());
    assert_eq!(cache.delete_many(&[]).await, 0);
}

#[tokio::test]
async fn locmem_decr_is_incr_of_the_negation() {
    let cache = cache(CacheBackend::Locmem, 100);
    cache.set("n", &10).await;
    assert_eq!(cache.decr("n", 3).await, Some(7));
    assert_eq!(cache.decr("n", -1).await, Some(8));
    assert_eq!(cache.decr("fresh", 2).await, Some(-2), "as incr: from 0");
    assert_eq!(cache.decr("n", i64::MIN).await, None, "no negation");
    assert_eq!(cache.get::<i64>("n").await, Some(8));
    cache.set("name", "ada").await;
    assert_eq!(cache.decr("name", 1).await, None);
    cache.set("low", &i64::MIN).await;
    assert_eq!(cache.decr("low", 1).await, None, "would overflow");
}

#[tokio::test]
async fn the_new_methods_keep_to_key_prefix() {
    let settings = CacheSettings {
        key_prefix: "site".into(),
        ..CacheSettings::default()
    };
    let cache = Cache::new("default", &settings).unwrap();
    assert!(cache.add("k", &1).await);
    assert!(cache.set_many([("m", 2)]).await.is_empty());
    let Backend::LocMem(m) = &*cache.backend else {
        unreachable!()
    };
    assert!(m.contains("site:k") && m.contains("site:m"));
    assert!(!m.contains("k"));
    assert!(cache.has_key("k").await);
    assert!(cache.touch("k").await);
    assert_eq!(cache.delete_many(&["k", "m"]).await, 2);
    assert!(!m.contains("site:k"));
}

#[tokio::test]
async fn dummy_adds_and_keeps_nothing() {
    let cache = cache(CacheBackend::Dummy, 100);
    assert!(cache.add("a", &1).await, "as Django's dummy cache");
    assert!(cache.add("a", &1).await);
    assert!(!cache.has_key("a").await);
    assert!(!cache.touch("a").await);
    assert_eq!(cache.get_or_set("a", || async { 5 }).await, 5);
    assert!(cache.set_many([("a", 1)]).await.is_empty());
    assert_eq!(cache.delete_many(&["a"]).await, 0);
    assert_eq!(cache.decr("a", 1).await, None);
}
