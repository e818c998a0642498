//! Sessions through the test client, with each `session_engine`: the same
//! views, the same API; what differs is where the data lives (the cookie,
//! the cache, a real SQLite file) and so whether flush and cycle_key end a
//! copy of the old cookie too.

use std::collections::BTreeMap;
use std::time::Duration;

use nuages::conf::{CacheBackend, CacheSettings, DatabaseSettings, SessionEngine, Settings};
use nuages::prelude::*;
use nuages::sessions::{AUTH_USER_KEY, SessionStore};
use nuages::test::{Client, TestResponse};
use nuages::{Application, Project};
use serde_json::Value;

/// `/set/?k=v`: stores every query parameter.
async fn set(session: Session, Query(pairs): Query<BTreeMap<String, String>>) -> Result<String> {
    for (key, value) in pairs {
        session.insert(key, value)?;
    }
    Ok("set".into())
}

/// The whole session as JSON.
async fn show(session: Session) -> String {
    let values: serde_json::Map<String, Value> = session
        .keys()
        .into_iter()
        .filter_map(|key| Some((key.clone(), session.get_value(&key)?)))
        .collect();
    Value::Object(values).to_string()
}

/// `/remove/?k`: removes each key named in the query.
async fn remove(session: Session, Query(keys): Query<BTreeMap<String, String>>) -> &'static str {
    for key in keys.keys() {
        session.remove(key);
    }
    "removed"
}

async fn flush(session: Session) -> &'static str {
    session.flush();
    "flushed"
}

async fn cycle(session: Session) -> &'static str {
    session.cycle_key();
    "cycled"
}

async fn key(session: Session) -> String {
    format!("{:?}", session.session_key())
}

/// What auth's login does: a new key against fixation, then the user.
async fn login(session: Session, Query(q): Query<BTreeMap<String, String>>) -> Result<String> {
    session.cycle_key();
    session.insert(AUTH_USER_KEY, &q["user"])?;
    Ok("logged in".into())
}

/// What auth's password change does: end every session of the user.
async fn end_user(store: SessionStore, Query(q): Query<BTreeMap<String, String>>) -> String {
    match store.end_sessions_of_user(&q["user"]).await {
        Ok(n) => format!("ended {n}"),
        Err(error) => format!("refused: {error}"),
    }
}

/// Where `/slow-set/` waits: it tells `entered`, then waits for `release`.
struct Gate {
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

static GATE: Gate = Gate {
    entered: tokio::sync::Notify::const_new(),
    release: tokio::sync::Notify::const_new(),
};

/// Changes the session after another request had time to end it.
async fn slow_set(session: Session) -> Result<&'static str> {
    GATE.entered.notify_one();
    GATE.release.notified().await;
    session.insert("late", "yes")?;
    Ok("set late")
}

/// Changes the session, then fails: nothing is saved.
async fn fails(session: Session) -> Response {
    session.insert("lost", "yes").unwrap();
    (http::StatusCode::INTERNAL_SERVER_ERROR, "failed").into_response()
}

/// Ends the session (a logout), then fails: the session stays ended.
async fn flush_then_fail(session: Session) -> Response {
    session.flush();
    (http::StatusCode::INTERNAL_SERVER_ERROR, "failed").into_response()
}

/// Ends the session (a logout), then panics: the session stays ended too.
async fn flush_then_panic(session: Session) -> Response {
    session.flush();
    panic!("the page after the logout blew up")
}

fn urls() -> UrlConf {
    UrlConf::new()
        .path("set/", set, "set")
        .path("show/", show, "show")
        .path("remove/", remove, "remove")
        .path("flush/", flush, "flush")
        .path("cycle/", cycle, "cycle")
        .path("key/", key, "key")
        .path("login/", login, "login")
        .path("end-user/", end_user, "end-user")
        .path("fails/", fails, "fails")
        .path("flush-then-fail/", flush_then_fail, "flush_then_fail")
        .path("flush-then-panic/", flush_then_panic, "flush_then_panic")
        .path("slow-set/", slow_set, "slow-set")
}

/// An application keeping sessions with `engine`, its database a SQLite
/// file in `dir`, migrated.
async fn application(engine: SessionEngine, dir: &std::path::Path, age: u64) -> Application {
    let mut settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        allowed_hosts: vec!["localhost".into()],
        session_engine: engine,
        session_cookie_age: age,
        ..Settings::default()
    };
    settings.databases.insert(
        "default".into(),
        DatabaseSettings {
            url: format!("sqlite://{}", dir.join("db.sqlite3").display()),
            ..DatabaseSettings::default()
        },
    );
    let project = Project::new("sessionsite", env!("CARGO_MANIFEST_DIR")).urls(urls);
    let sets = nuages::migrations::all_sets(&project, &settings);
    let application = Application::new(project, settings).unwrap();
    let pool = application.databases().get("default").await.unwrap();
    nuages::migrations::apply(&pool, &sets, |_| {})
        .await
        .unwrap();
    application
}

async fn show_of(client: &Client) -> String {
    client.get("/show/").await.text()
}

/// A fresh application keeping sessions with `engine` (and its folder), and
/// a client with `name=Ann` in its session, and its cookie.
async fn with_ann(engine: SessionEngine) -> (tempfile::TempDir, Application, Client, String) {
    let dir = tempfile::tempdir().unwrap();
    let application = application(engine, dir.path(), 3600).await;
    let client = Client::new(application.clone());
    client.get("/set/?name=Ann").await;
    let cookie = client.cookie("sessionid").unwrap();
    (dir, application, client, cookie)
}

/// What another browser holding a copy of `cookie` sees.
async fn seen_with(application: &Application, cookie: &str) -> String {
    let copy = Client::new(application.clone());
    copy.set_cookie("sessionid", cookie);
    show_of(&copy).await
}

fn set_cookie(response: &TestResponse) -> Option<&str> {
    response.header("set-cookie")
}

/// Rows of `nuages_session`: key, data, expiry, user.
async fn rows(application: &Application) -> Vec<(String, String, i64, Option<String>)> {
    let pool = application.databases().get("default").await.unwrap();
    sqlx::query_as(
        "SELECT session_key, session_data, expire_date, user_key FROM nuages_session ORDER BY session_key",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
}

const ENGINES: [SessionEngine; 3] = [
    SessionEngine::SignedCookies,
    SessionEngine::Cache,
    SessionEngine::Db,
];

#[tokio::test]
async fn data_round_trips_with_every_engine_and_is_written_only_when_changed() {
    for engine in ENGINES {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(application(engine, dir.path(), 3600).await);
        assert_eq!(show_of(&client).await, "{}", "{engine:?}");
        let response = client.get("/set/?name=Ann&city=Lyon").await;
        assert_eq!(response.status, 200);
        let header = set_cookie(&response).unwrap().to_string();
        assert!(header.starts_with("sessionid="), "{header}");
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"] {
            assert!(header.contains(attribute), "{engine:?}: {header}");
        }
        assert_eq!(
            show_of(&client).await,
            r#"{"city":"Lyon","name":"Ann"}"#,
            "{engine:?}"
        );
        let cookie = client.cookie("sessionid").unwrap();
        if engine.is_server_side() {
            // Only a random key: letters and digits, nothing of the data.
            assert_eq!(cookie.len(), 40, "{cookie}");
            assert!(cookie.bytes().all(|b| b.is_ascii_alphanumeric()));
        } else {
            assert!(cookie.len() > 40, "the signed data: {cookie}");
        }
        // Reading does not write.
        let response = client.get("/show/").await;
        assert_eq!(set_cookie(&response), None, "{engine:?}");
        assert_eq!(response.header("vary"), Some("Cookie"));
        // A 500 saves nothing.
        assert_eq!(client.get("/fails/").await.status, 500);
        assert_eq!(
            show_of(&client).await,
            r#"{"city":"Lyon","name":"Ann"}"#,
            "{engine:?}"
        );
        // Changing it again keeps the key.
        client.get("/set/?name=Bob").await;
        assert_eq!(
            client.cookie("sessionid").unwrap() == cookie,
            engine.is_server_side()
        );
        // A removal is kept too.
        client.get("/remove/?city").await;
        assert_eq!(show_of(&client).await, r#"{"name":"Bob"}"#, "{engine:?}");
    }
}

#[tokio::test]
async fn the_db_engine_stores_json_with_its_expiry_in_the_sqlite_file() {
    let (_dir, application, client, key) = with_ann(SessionEngine::Db).await;
    let rows = rows(&application).await;
    assert_eq!(rows.len(), 1);
    let (stored_key, data, expire_date, user) = &rows[0];
    assert_eq!(stored_key, &key);
    assert_eq!(data, r#"{"name":"Ann"}"#);
    assert_eq!(user, &None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now + 3595..=now + 3600).contains(expire_date),
        "{expire_date} vs {now}"
    );
    assert_eq!(client.get("/key/").await.text(), format!("Some({key:?})"));
}

/// A change moves the stored session's expiry forward; a read leaves it.
#[tokio::test]
async fn a_changed_session_lives_session_cookie_age_from_its_last_write() {
    let (_dir, application, client, key) = with_ann(SessionEngine::Db).await;
    let pool = application.databases().get("default").await.unwrap();
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 60;
    sqlx::query("UPDATE nuages_session SET expire_date = $1")
        .bind(soon)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(show_of(&client).await, r#"{"name":"Ann"}"#);
    assert_eq!(rows(&application).await[0].2, soon, "a read writes nothing");
    let response = client.get("/set/?name=Bob").await;
    let cookie = set_cookie(&response).unwrap();
    assert!(cookie.contains("Max-Age=3600"), "{cookie}");
    let rows = rows(&application).await;
    assert_eq!(rows[0].0, key);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now + 3595..=now + 3600).contains(&rows[0].2),
        "{} vs {now}",
        rows[0].2
    );
}

#[tokio::test]
async fn flush_ends_a_server_side_session_for_every_copy_of_its_cookie() {
    for engine in ENGINES {
        let (_dir, application, client, old) = with_ann(engine).await;
        let response = client.get("/flush/").await;
        let removal = set_cookie(&response).unwrap();
        assert!(removal.starts_with("sessionid=;"), "{removal}");
        assert!(removal.contains("Max-Age=0"), "{removal}");
        assert_eq!(client.cookie("sessionid"), None);
        assert_eq!(show_of(&client).await, "{}");

        let seen = seen_with(&application, &old).await;
        if engine.is_server_side() {
            assert_eq!(seen, "{}", "{engine:?}: the old cookie is dead");
        } else {
            // The documented limit: a signed cookie lives until it expires.
            assert_eq!(seen, r#"{"name":"Ann"}"#);
        }
        if engine == SessionEngine::Db {
            assert!(rows(&application).await.is_empty());
        }
    }
}

/// A logout whose page then fails (a 500 after `flush`, or a panic) still
/// ends the session, as Django's `flush` deletes it at once: the cookie is
/// removed and a copy of it finds nothing on the server.
#[tokio::test]
async fn a_flushed_session_stays_ended_when_the_response_is_a_server_error() {
    for (engine, page) in ENGINES.into_iter().flat_map(|engine| {
        [
            (engine, "/flush-then-fail/"),
            (engine, "/flush-then-panic/"),
        ]
    }) {
        let (_dir, application, client, old) = with_ann(engine).await;
        let response = client.get(page).await;
        assert_eq!(response.status, 500, "{engine:?} {page}");
        let removal = set_cookie(&response).unwrap_or_default();
        assert!(removal.starts_with("sessionid=;"), "{engine:?}: {removal}");
        assert!(removal.contains("Max-Age=0"), "{engine:?}: {removal}");
        assert_eq!(client.cookie("sessionid"), None, "{engine:?}");
        assert_eq!(show_of(&client).await, "{}", "{engine:?}");
        if engine.is_server_side() {
            assert_eq!(seen_with(&application, &old).await, "{}", "{engine:?}");
        }
        if engine == SessionEngine::Db {
            assert!(rows(&application).await.is_empty());
        }
    }
}

#[tokio::test]
async fn cycle_key_keeps_the_data_under_a_new_key_and_the_old_key_stops_working() {
    for engine in ENGINES {
        let (_dir, application, client, old) = with_ann(engine).await;
        if engine.is_server_side() {
            assert_eq!(client.get("/key/").await.text(), format!("Some({old:?})"));
        } else {
            assert_eq!(client.get("/key/").await.text(), "None");
        }
        // Signed cookies carry their second: make the new one differ.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let response = client.get("/cycle/").await;
        assert!(set_cookie(&response).is_some(), "{engine:?}");
        let new = client.cookie("sessionid").unwrap();
        assert_ne!(new, old, "{engine:?}");
        assert_eq!(show_of(&client).await, r#"{"name":"Ann"}"#, "{engine:?}");

        let seen = seen_with(&application, &old).await;
        if engine.is_server_side() {
            assert_eq!(seen, "{}", "{engine:?}");
        } else {
            assert_eq!(seen, r#"{"name":"Ann"}"#, "the documented limit");
        }
        if engine == SessionEngine::Db {
            let keys: Vec<String> = rows(&application).await.into_iter().map(|r| r.0).collect();
            assert_eq!(keys, [new]);
        }
    }
}

#[tokio::test]
async fn an_expired_session_is_empty() {
    for engine in ENGINES {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(application(engine, dir.path(), 1).await);
        client.get("/set/?name=Ann").await;
        assert_eq!(show_of(&client).await, r#"{"name":"Ann"}"#, "{engine:?}");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let response = client.get("/show/").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "{}", "{engine:?}");
        // And the cookie that pointed at it is removed.
        assert!(set_cookie(&response).unwrap().contains("Max-Age=0"));
    }
}

#[tokio::test]
async fn a_tampered_or_unknown_key_is_an_empty_session_and_never_adopted() {
    for engine in ENGINES {
        let (_dir, _, client, good) = with_ann(engine).await;
        let mut changed = good.clone().into_bytes();
        changed[5] = if changed[5] == b'a' { b'b' } else { b'a' };
        let changed = String::from_utf8(changed).unwrap();
        let chosen_by_an_attacker = "A".repeat(40);
        for value in [
            changed.as_str(),
            chosen_by_an_attacker.as_str(),
            "short",
            "'; DROP TABLE nuages_session; --",
            "%00%ff",
        ] {
            client.set_cookie("sessionid", value);
            let response = client.get("/show/").await;
            assert_eq!(response.status, 200, "{engine:?} {value:?}");
            assert_eq!(response.text(), "{}", "{engine:?} {value:?}");
            // Written: a new key of ours, never the one the client sent
            // (session fixation).
            client.set_cookie("sessionid", value);
            client.get("/set/?name=Eve").await;
            let new = client.cookie("sessionid").unwrap();
            assert_ne!(new, value, "{engine:?}");
            assert_eq!(show_of(&client).await, r#"{"name":"Eve"}"#);
        }
        client.set_cookie("sessionid", &good);
        assert_eq!(show_of(&client).await, r#"{"name":"Ann"}"#, "{engine:?}");
    }
}

#[tokio::test]
async fn a_server_side_engine_looks_up_a_few_session_keys_of_a_request_only() {
    // A request may carry many `sessionid` cookies (a 64 KiB header holds
    // over a thousand keys): the first three well-formed ones are looked
    // up, not one query per key, so a key after them is not seen.
    for engine in [SessionEngine::Cache, SessionEngine::Db] {
        let (_dir, application, _, good) = with_ann(engine).await;
        let unknown = |n: usize| format!("{n:0>40}");
        let with_keys = async |keys: &[String]| {
            let cookies: Vec<String> = keys.iter().map(|k| format!("sessionid={k}")).collect();
            let client = Client::new(application.clone());
            let response = client
                .request(http::Method::GET, "/show/")
                .header("cookie", &cookies.join("; "))
                .send()
                .await;
            response.text()
        };
        let third = [unknown(1), "short".into(), unknown(2), good.clone()];
        assert_eq!(with_keys(&third).await, r#"{"name":"Ann"}"#, "{engine:?}");
        let mut many: Vec<String> = (0..1000).map(unknown).collect();
        many.push(good.clone());
        assert_eq!(with_keys(&many).await, "{}", "{engine:?}");
    }
}

#[tokio::test]
async fn with_the_db_engine_the_sessions_of_a_user_can_all_be_ended() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(SessionEngine::Db, dir.path(), 3600).await;
    let phone = Client::new(application.clone());
    let laptop = Client::new(application.clone());
    let someone_else = Client::new(application.clone());
    for (client, user) in [(&phone, "42"), (&laptop, "42"), (&someone_else, "7")] {
        client.get("/set/?theme=dark").await;
        let before = client.cookie("sessionid").unwrap();
        client.get(&format!("/login/?user={user}")).await;
        assert_ne!(
            client.cookie("sessionid").unwrap(),
            before,
            "a new key at login"
        );
    }
    let users: Vec<Option<String>> = rows(&application).await.into_iter().map(|r| r.3).collect();
    assert_eq!(
        users.iter().filter(|u| u.as_deref() == Some("42")).count(),
        2
    );
    assert_eq!(users.len(), 3, "the pre-login sessions are gone: {users:?}");

    assert_eq!(phone.get("/end-user/?user=42").await.text(), "ended 2");
    assert_eq!(show_of(&phone).await, "{}");
    assert_eq!(show_of(&laptop).await, "{}");
    assert_eq!(
        show_of(&someone_else).await,
        r#"{"_auth_user_id":"7","theme":"dark"}"#
    );
}

#[tokio::test]
async fn other_engines_refuse_to_end_the_sessions_of_a_user_and_say_why() {
    for engine in [SessionEngine::SignedCookies, SessionEngine::Cache] {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(application(engine, dir.path(), 3600).await);
        let text = client.get("/end-user/?user=42").await.text();
        assert_eq!(
            text,
            format!(
                "refused: session_engine = \"{}\" cannot find the sessions of a user to end them",
                engine.as_str()
            )
        );
    }
}

#[tokio::test]
async fn a_session_ended_by_another_request_is_not_written_back() {
    for engine in [SessionEngine::Cache, SessionEngine::Db] {
        let (_dir, application, client, key) = with_ann(engine).await;
        // Two requests with the same cookie: the slow one loads the
        // session, the other logs out, then the slow one changes it.
        let slow = {
            let client = Client::new(application.clone());
            client.set_cookie("sessionid", &key);
            tokio::spawn(async move {
                let response = client.get("/slow-set/").await;
                (
                    response.status,
                    response.header("set-cookie").map(str::to_string),
                )
            })
        };
        GATE.entered.notified().await;
        client.get("/flush/").await;
        GATE.release.notify_one();
        let (status, cookie) = slow.await.unwrap();
        // Django's SessionInterrupted: a 400, and no removal cookie (it
        // would wipe one a concurrent login has just set).
        assert_eq!(status, 400, "{engine:?}");
        assert_eq!(cookie, None, "{engine:?}");
        // The logout stands: the old key gives nothing.
        assert_eq!(seen_with(&application, &key).await, "{}", "{engine:?}");
        if engine == SessionEngine::Db {
            assert!(rows(&application).await.is_empty());
        }
    }
}

#[tokio::test]
async fn unknown_session_cache_alias_and_dummy_caches_are_refused_at_start() {
    let mut settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        session_engine: SessionEngine::Cache,
        session_cache_alias: "sessions".into(),
        ..Settings::default()
    };
    let project = || Project::new("sessionsite", env!("CARGO_MANIFEST_DIR")).urls(urls);
    let error = Application::new(project(), settings.clone()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "session_cache_alias is \"sessions\", and the settings have no [caches.sessions] to keep sessions in"
    );
    assert!(
        error
            .hint()
            .unwrap()
            .contains("add a [caches.sessions] table")
    );
    settings.caches.insert(
        "sessions".into(),
        CacheSettings {
            backend: CacheBackend::Dummy,
            ..CacheSettings::default()
        },
    );
    let error = Application::new(project(), settings).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("backend \"dummy\" keeps nothing"),
        "{error}"
    );
}
