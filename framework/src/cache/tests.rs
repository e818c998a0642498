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

/// As a database URL's: a password holding `/` (`?`, `#`) not
/// percent-encoded is named with the fix, never shown.
#[test]
fn a_redis_password_holding_a_url_delimiter_is_named() {
    let settings = CacheSettings {
        backend: CacheBackend::Redis,
        location: "rediss://:k3J/9xQ+abc=@10.0.0.6:6380/0".into(),
        ..CacheSettings::default()
    };
    let error = Cache::new("default", &settings).unwrap_err();
    let text = format!("{error} {}", error.hint().unwrap_or_default());
    assert!(
        text.starts_with("caches.default.location: the password holds '/'"),
        "{text}"
    );
    assert!(text.contains("%2F") && !text.contains("k3J/9xQ"), "{text}");
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
