//! A cache that fails is a miss and a logged warning. Alone in its test
//! binary: tracing remembers per process which events nobody wants, and a
//! test without a subscriber meeting the same warning first would hide it.

mod support;

use nuages::cache::Cache;
use nuages::conf::{CacheBackend, CacheSettings, SessionEngine, Settings};

#[tokio::test]
async fn an_unreachable_redis_is_a_miss_and_a_warning() {
    let (logs, _guard) = support::capture_logs();
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
    let logs = logs.text();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("cache get failed, treated as a miss"),
        "{logs}"
    );
    assert!(logs.contains("cache set failed"), "{logs}");
}

/// Settings for a site whose sessions `engine` keeps.
fn session_settings(engine: SessionEngine) -> Settings {
    Settings {
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(
            "a-test-secret-key-long-enough-to-be-accepted-by-checks-0123456789".into(),
        ),
        session_engine: engine,
        ..Settings::default()
    }
}

async fn counter(session: nuages::extract::Session) -> String {
    let n: i64 = session.get("n").unwrap_or(0);
    let _ = session.insert("n", n + 1);
    format!("{}", n + 1)
}

/// Sessions in a Redis cache that is gone: the page still works, the
/// warnings say what failed, and never the session's key, which is what
/// its cookie holds (a log file would otherwise hand out live sessions).
#[tokio::test]
async fn a_failing_session_cache_never_logs_the_session_key() {
    let (logs, _guard) = support::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = session_settings(SessionEngine::Cache);
    settings.caches.insert(
        "default".into(),
        CacheSettings {
            backend: CacheBackend::Redis,
            location: format!("redis+unix://{}", dir.path().join("none.sock").display()),
            ..CacheSettings::default()
        },
    );
    let project = nuages::Project::new("sessionlogs", env!("CARGO_MANIFEST_DIR"))
        .urls(|| nuages::urls::UrlConf::new().path("", counter, "counter"));
    let application = nuages::Application::new(project, settings).unwrap();
    let client = nuages::test::Client::new(application);
    let key = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCd";
    client.set_cookie("sessionid", key);
    let response = client.get("/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "1");
    let logs = logs.text();
    assert!(logs.contains("cache get failed"), "{logs}");
    assert!(logs.contains("nuages.session.(hidden)"), "{logs}");
    assert!(!logs.contains(key), "{logs}");
    let new_key = client.cookie("sessionid");
    if let Some(new_key) = new_key {
        assert!(!logs.contains(&new_key), "{logs}");
    }
}

/// A session write the store refuses was logged as "the session is
/// treated as empty", which is what a failed read means: it now says the
/// request's changes are not saved, and the stored session is kept.
#[tokio::test]
async fn a_failed_session_write_says_the_changes_are_not_saved() {
    let (logs, _guard) = support::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = session_settings(SessionEngine::Db);
    settings.databases.get_mut("default").unwrap().url =
        format!("sqlite://{}", dir.path().join("db.sqlite3").display());
    let project = nuages::Project::new("sessionwrites", env!("CARGO_MANIFEST_DIR"))
        .urls(|| nuages::urls::UrlConf::new().path("", counter, "counter"));
    let sets = nuages::migrations::all_sets(&project, &settings);
    let application = nuages::Application::new(project, settings).unwrap();
    let pool = application.databases().get("default").await.unwrap();
    nuages::migrations::apply(&pool, &sets, |_| {})
        .await
        .unwrap();
    let client = nuages::test::Client::new(application);
    assert_eq!(client.get("/").await.text(), "1");
    // The store refuses to rewrite a session from now on.
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE UPDATE ON nuages_session \
         BEGIN SELECT RAISE(ABORT, 'the disk is full'); END",
    )
    .execute(&pool)
    .await
    .unwrap();
    let response = client.get("/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "2");
    let logs = logs.text();
    assert!(
        logs.contains(
            "session write failed, this request's changes to the session are not saved (the \
             stored session is left as it was): "
        ) && logs.contains("the disk is full"),
        "{logs}"
    );
    assert!(!logs.contains("treated as empty"), "{logs}");
    assert_eq!(
        client.get("/").await.text(),
        "2",
        "the stored session is kept"
    );
}

/// A Redis server at a unix socket in `dir` that takes connections and
/// never answers a `GET`: every other command (what the client sends when it
/// connects) gets `+OK`, unless `mute`, when it answers nothing at all.
fn hung_redis(dir: &std::path::Path, mute: bool) -> String {
    use std::io::{BufRead, BufReader, Write};
    let path = dir.join(if mute { "mute.sock" } else { "hung.sock" });
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                // Commands come as RESP arrays: *N, then N times $LEN and the word.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let count: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
                    let mut words = Vec::new();
                    for _ in 0..count * 2 {
                        line.clear();
                        if !reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                            return;
                        }
                        words.push(line.trim().to_string());
                    }
                    line.clear();
                    let command = words.get(1).map(|w| w.to_ascii_uppercase());
                    if !mute && command.as_deref() != Some("GET") {
                        let _ = writer.write_all(b"+OK\r\n");
                    }
                }
            });
        }
    });
    format!("redis+unix://{}", path.display())
}

/// A Redis server that hangs (it takes the connection, then answers
/// nothing, or nothing to the command) costs a request about a second, the
/// connect and response timeouts: a miss and a warning, not a page that
/// waits for ever.
#[tokio::test]
async fn a_redis_that_never_answers_is_a_miss_within_seconds() {
    let (logs, _guard) = support::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    for mute in [false, true] {
        let settings = CacheSettings {
            backend: CacheBackend::Redis,
            location: hung_redis(dir.path(), mute),
            ..CacheSettings::default()
        };
        let cache = Cache::new("default", &settings).unwrap();
        let started = std::time::Instant::now();
        let got = tokio::time::timeout(std::time::Duration::from_secs(10), cache.get::<i32>("k"))
            .await
            .unwrap_or_else(|_| panic!("mute: {mute}: still waiting after 10 s"));
        assert_eq!(got, None);
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(4),
            "mute: {mute}: {took:?}"
        );
    }
    let logs = logs.text();
    assert_eq!(
        logs.matches("cache get failed, treated as a miss").count(),
        2,
        "{logs}"
    );
}
