//! Server-side sessions as a site meets them: the `db` engine through a
//! real `serve` on loopback with its SQLite file (`migrate`,
//! `showmigrations`, `clearsessions`, `check`), and the `cache` engine on a
//! real redis-server.

use std::net::SocketAddr;
use std::time::Duration;

use nuages::conf::{CacheBackend, CacheSettings, SessionEngine, Settings};
use nuages::sqlx;
use nuages::test::Client;
use nuages::{Application, Project};
use nuages_e2e::redis::{REDIS_SERVER, RedisServer};
use nuages_e2e::{
    GeneratedProject, HttpResponse, Server, as_serve_user, free_port, http, manage, require, run,
    wait_for,
};

/// The session views: the generated project's `src/urls.rs`, and the
/// routes of the in-process applications below.
#[path = "session_site/urls.rs"]
mod session_site;
const URLS: &str = include_str!("session_site/urls.rs");

/// Production settings with sessions in the database, runnable here:
/// plain HTTP on loopback.
const SETTINGS: &str = r#"extends = "settings.production.toml"
allowed_hosts = ["localhost"]
secure_ssl_redirect = false
session_engine = "db"
session_cookie_age = 600
"#;

const SECRET: &str = "k8Qz1vX9mN2bL7cR4tY6uI0oP3aS5dF8gH1jK4lZ7xC0vB3nM6qW9eR2tY5uI8oP";

/// GET `path` with the session cookie `key`, if any.
fn visit(addr: SocketAddr, path: &str, key: Option<&str>) -> HttpResponse {
    let cookie = key.map(|key| format!("sessionid={key}"));
    let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("Cookie", c.as_str())).collect();
    http(addr, "GET", path, &headers, "").unwrap()
}

/// The session key a response sets, if it sets one.
fn session_key(response: &HttpResponse) -> Option<String> {
    response
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .find_map(|(_, value)| value.strip_prefix("sessionid="))
        .map(|rest| rest.split(';').next().unwrap().to_string())
        .filter(|key| !key.is_empty())
}

async fn session_rows(database: &std::path::Path) -> Vec<(String, String, i64)> {
    let url = format!("sqlite://{}", database.display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT session_key, session_data, expire_date FROM nuages_session ORDER BY session_key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

async fn insert_row(database: &std::path::Path, key: &str, expire_date: i64) {
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", database.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO nuages_session (session_key, session_data, expire_date) VALUES ($1, '{}', $2)",
    )
    .bind(key)
    .bind(expire_date)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_project_keeps_sessions_in_its_database_through_serve() {
    let project = GeneratedProject::new("sessionsite");
    project.write("src/urls.rs", URLS);
    project.write("settings.sessions.toml", SETTINGS);
    let (output, stdout, stderr) = project.cargo(&["build", "--quiet"]);
    assert!(output.status.success(), "{stdout}{stderr}");
    let production = || {
        let mut command = manage(&project.dir);
        command
            .env("NUAGES_SETTINGS", "settings.sessions.toml")
            .env("SECRET_KEY", SECRET);
        command
    };
    let with_db = |args: &[&str]| run(production().args(args));

    // The table's migration exists only for the db engine.
    let (output, stdout, _) = project.manage(&["showmigrations"]);
    assert!(output.status.success());
    assert!(!stdout.contains("sessions"), "{stdout}");
    let (output, stdout, stderr) = with_db(&["showmigrations"]);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("sessions\n [ ] 1_initial\n"), "{stdout}");
    let (output, stdout, stderr) = with_db(&["migrate"]);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("Apply all migrations: sessions"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  Applying sessions.1_initial... OK"),
        "{stdout}"
    );
    let (_, stdout, _) = with_db(&["showmigrations"]);
    assert!(stdout.contains("sessions\n [X] 1_initial\n"), "{stdout}");

    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = Server::start(
        as_serve_user(&mut production()).args(["serve", "--bind", &addr.to_string()]),
        project.temp.path(),
        "serve",
    );
    wait_for(Duration::from_secs(60), || {
        http(addr, "GET", "/show/", &[], "").ok()
    })
    .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));

    let database = project.dir.join("db/db.sqlite3");
    let response = visit(addr, "/set/?name=Ann", None);
    assert_eq!(response.status, 200, "{response:?}");
    let key = session_key(&response).expect("a session cookie");
    assert_eq!(key.len(), 40);
    assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
    let header = response.header("set-cookie").unwrap();
    assert!(!header.contains("Ann") && header.contains("Secure") && header.contains("HttpOnly"));
    assert_eq!(
        visit(addr, "/show/", Some(&key)).body,
        "session: [name=Ann]"
    );
    let rows = session_rows(&database).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        (key.as_str(), r#"{"name":"Ann"}"#)
    );
    assert!((unix_now() + 590..=unix_now() + 600).contains(&rows[0].2));

    // A login gives a new key with the data; the old key stops working.
    let response = visit(addr, "/login/", Some(&key));
    let new_key = session_key(&response).expect("a new key");
    assert_ne!(new_key, key);
    assert_eq!(
        visit(addr, "/show/", Some(&new_key)).body,
        "session: [name=Ann]"
    );
    assert_eq!(visit(addr, "/show/", Some(&key)).body, "session: []");

    // A logout ends it for a copy of the cookie too.
    let response = visit(addr, "/logout/", Some(&new_key));
    assert!(response.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(visit(addr, "/show/", Some(&new_key)).body, "session: []");
    assert!(session_rows(&database).await.is_empty());

    // An unknown key: an empty session, a 200, and no key adopted.
    let forged = "Z".repeat(40);
    assert_eq!(visit(addr, "/show/", Some(&forged)).body, "session: []");
    let response = visit(addr, "/set/?name=Eve", Some(&forged));
    assert_eq!(response.status, 200);
    let live = session_key(&response).unwrap();
    assert_ne!(live, forged);
    drop(server);

    // clearsessions deletes the expired rows only, and says how many.
    insert_row(&database, &"e".repeat(40), unix_now() - 10).await;
    insert_row(&database, &"f".repeat(40), unix_now() - 1_000_000).await;
    let (output, stdout, stderr) = with_db(&["clearsessions"]);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "Deleted 2 expired session(s).\n");
    let keys: Vec<String> = session_rows(&database)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(keys, [live]);
    let (_, stdout, _) = with_db(&["clearsessions"]);
    assert_eq!(stdout, "Deleted 0 expired session(s).\n");

    // With the other engines there is nothing to clear, and it says why.
    let (output, stdout, _) = project.manage(&["clearsessions"]);
    assert!(output.status.success());
    assert_eq!(
        stdout,
        "Nothing to do: session_engine = \"signed_cookies\" keeps sessions in the browsers' cookies, which expire there.\n"
    );
    let mut command = manage(&project.dir);
    command
        .env("NUAGES_SESSION_ENGINE", "cache")
        .arg("clearsessions");
    let (output, stdout, _) = run(&mut command);
    assert!(output.status.success());
    assert_eq!(
        stdout,
        "Nothing to do: session_engine = \"cache\", and the cache 'default' drops expired sessions itself.\n"
    );
}

#[test]
fn check_reports_session_stores_that_cannot_work() {
    let project = GeneratedProject::new("sessioncheck");
    let check = |env: &[(&str, &str)], args: &[&str]| {
        let mut command = manage(&project.dir);
        command.arg("check").args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        run(&mut command)
    };
    let (output, _, stderr) = check(&[("NUAGES_SESSION_ENGINE", "redis")], &[]);
    assert!(!output.status.success());
    assert!(stderr.contains("NUAGES_SESSION_ENGINE"), "{stderr}");
    assert!(
        stderr.contains(r#""signed_cookies", "cache" or "db""#),
        "{stderr}"
    );

    let (output, stdout, stderr) = check(
        &[
            ("NUAGES_SESSION_ENGINE", "cache"),
            ("NUAGES_SESSION_CACHE_ALIAS", "sessions"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let text = format!("{stdout}{stderr}");
    assert!(
        text.contains("?: (nuages.E022) session_cache_alias is \"sessions\", and the settings have no [caches.sessions] to keep sessions in"),
        "{text}"
    );
    assert!(
        text.contains("HINT: add a [caches.sessions] table"),
        "{text}"
    );

    let (_, stdout, stderr) = check(&[("NUAGES_SESSION_ENGINE", "cache")], &["--deploy"]);
    let text = format!("{stdout}{stderr}");
    assert!(
        text.contains(
            "?: (nuages.W035) Sessions are kept in the cache 'default', a \"locmem\" cache"
        ),
        "{text}"
    );
    let (_, stdout, stderr) = check(&[("NUAGES_SESSION_ENGINE", "db")], &["--deploy"]);
    assert!(!format!("{stdout}{stderr}").contains("nuages.W035"));
}

fn redis_application(location: &str) -> Application {
    redis_application_with(location, session_site::urlpatterns)
}

fn redis_application_with(location: &str, urls: fn() -> nuages::urls::UrlConf) -> Application {
    let mut settings = Settings {
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(
            "a-test-secret-key-long-enough-to-be-accepted-by-checks-0123456789".into(),
        ),
        session_engine: SessionEngine::Cache,
        session_cache_alias: "sessions".into(),
        session_cookie_age: 600,
        ..Settings::default()
    };
    settings.caches.insert(
        "sessions".into(),
        CacheSettings {
            backend: CacheBackend::Redis,
            location: location.into(),
            ..CacheSettings::default()
        },
    );
    Application::new(
        Project::new("redissessions", env!("CARGO_MANIFEST_DIR")).urls(urls),
        settings,
    )
    .unwrap()
}

#[tokio::test]
async fn the_cache_engine_keeps_sessions_in_redis_with_their_age() {
    if !require(REDIS_SERVER) {
        return;
    }
    let mut server = RedisServer::start();
    let application = redis_application(&server.url());
    let client = Client::new(application.clone());
    client.get("/set/?name=Ann").await;
    let key = client.cookie("sessionid").unwrap();
    assert_eq!(key.len(), 40);
    let entry = format!("nuages.session.{key}");
    assert_eq!(server.cli(&["GET", &entry]), r#"{"name":"Ann"}"#);
    let ttl: u64 = server.cli(&["TTL", &entry]).parse().unwrap();
    assert!((595..=600).contains(&ttl), "the session's age: {ttl}");
    assert_eq!(client.get("/show/").await.text(), "session: [name=Ann]");

    // Another application on the same server (another serve) knows it.
    let elsewhere = Client::new(redis_application(&server.url()));
    elsewhere.set_cookie("sessionid", &key);
    assert_eq!(elsewhere.get("/show/").await.text(), "session: [name=Ann]");

    client.get("/login/").await;
    let new_key = client.cookie("sessionid").unwrap();
    assert_ne!(new_key, key);
    assert_eq!(server.cli(&["EXISTS", &entry]), "0");
    assert_eq!(client.get("/show/").await.text(), "session: [name=Ann]");
    assert_eq!(elsewhere.get("/show/").await.text(), "session: []");

    client.get("/logout/").await;
    assert_eq!(
        server.cli(&["EXISTS", &format!("nuages.session.{new_key}")]),
        "0"
    );
    assert_eq!(server.cli(&["DBSIZE"]), "0");

    // Redis gone: an empty session, not an error page.
    client.get("/set/?name=Ann").await;
    server.stop();
    let response = client.get("/show/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "session: []");
    let response = client.get("/set/?name=Ann").await;
    assert_eq!(response.status, 200);
}

/// Logging out while the session cache does not answer (Redis stalled)
/// must not claim the session ended: its record could outlive the outage,
/// and a copy of the cookie work again. The logout is an error page, the
/// cookie is kept, and once Redis answers the same logout ends the session
/// for every copy of the cookie.
#[tokio::test]
async fn a_logout_the_session_cache_cannot_carry_out_is_an_error_not_a_pretence() {
    if !require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let application = redis_application(&server.url());
    let client = Client::new(application.clone());
    client.get("/set/?name=Ann").await;
    let key = client.cookie("sessionid").unwrap();
    let copy = Client::new(application);
    copy.set_cookie("sessionid", &key);

    server.pause(true);
    let refused = client.get("/logout/").await;
    server.pause(false);
    assert_eq!(refused.status, 500, "{}", refused.text());
    assert!(
        refused.header("set-cookie").is_none(),
        "the cookie is not removed: {:?}",
        refused.header("set-cookie")
    );
    // (What a stalled Redis does with the DEL it holds is its own: it may
    // still run it once it answers.) The cache leaves a server that timed
    // out alone for a few seconds: the logout is tried until then.
    assert_eq!(
        get_until(&client, "/logout/", "logged out").await,
        "logged out"
    );
    assert_eq!(copy.get("/show/").await.text(), "session: []");
    assert_eq!(server.cli(&["DBSIZE"]), "0");
}

/// GET `path` until the page is `text` (a cache left alone for a few
/// seconds after a failure misses meanwhile); the last page's text.
async fn get_until(client: &Client, path: &str, text: &str) -> String {
    let started = std::time::Instant::now();
    loop {
        let page = client.get(path).await.text();
        if page == text || started.elapsed() > Duration::from_secs(10) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A short Redis outage must not log visitors out, as their sessions
/// outlive it in Redis: a request whose session could not be read (Redis
/// stalled, then stopped) sends no Set-Cookie (it sent `sessionid=;
/// Max-Age=0`), whether its view read the session or changed it, and once
/// Redis answers the same cookie gives the session back.
#[tokio::test]
async fn a_session_the_cache_could_not_read_keeps_its_cookie() {
    if !require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let client = Client::new(redis_application(&server.url()));
    client.get("/set/?name=Ann").await;
    let key = client.cookie("sessionid").unwrap();
    server.pause(true);
    for path in ["/show/", "/set/?name=Bob", "/show/"] {
        let response = client.get(path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.header("set-cookie"), None, "{path}");
    }
    server.pause(false);
    assert_eq!(
        get_until(&client, "/show/", "session: [name=Ann]").await,
        "session: [name=Ann]"
    );
    assert_eq!(client.cookie("sessionid").unwrap(), key);
}

/// The redis-server a [`stall_then_change`] view stops (`SIGSTOP`).
static STALLED_REDIS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Reads the session, stalls its Redis, then changes the session: its
/// write-back cannot tell whether the session is still there.
async fn stall_then_change(session: nuages::prelude::Session) -> nuages::Result<String> {
    let name: Option<String> = session.get("name");
    let pid = STALLED_REDIS.load(std::sync::atomic::Ordering::SeqCst);
    // SAFETY: signalling the server the test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
    session.insert("seen", "yes")?;
    Ok(format!("was {name:?}"))
}

/// Deletes the session's record, as a concurrent logout or login does
/// (`cycle_key`), then changes the session.
async fn ended_meanwhile(
    session: nuages::prelude::Session,
    caches: nuages::cache::Caches,
) -> nuages::Result<&'static str> {
    let key = session.session_key().expect("a stored session");
    let store = caches.get("sessions").expect("the session cache");
    assert!(store.delete(&format!("nuages.session.{key}")).await);
    session.insert("late", "yes")?;
    Ok("changed")
}

fn stalling_urls() -> nuages::urls::UrlConf {
    session_site::urlpatterns()
        .path("stall/", stall_then_change, "stall")
        .path("ended/", ended_meanwhile, "ended")
}

/// A request that wrote back a session another request ended meanwhile (a
/// vote POST finishing after a login POST of the same browser) answered
/// `Set-Cookie: sessionid=; Max-Age=0`, which, of the same name and path,
/// wiped the cookie the login had just set: the visitor was logged out of
/// the new session. As Django's `SessionInterrupted`, it is now a 400, the
/// cookie left alone, and nothing written back.
#[tokio::test]
async fn a_session_ended_by_a_concurrent_request_is_a_400_and_its_cookie_left_alone() {
    if !require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    let client = Client::new(redis_application_with(&server.url(), stalling_urls));
    client.get("/set/?name=Ann").await;
    let key = client.cookie("sessionid").unwrap();
    let response = client.get("/ended/").await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.header("set-cookie"), None);
    assert_eq!(client.cookie("sessionid").unwrap(), key);
    assert_eq!(server.cli(&["DBSIZE"]), "0", "nothing written back");
}

/// A session read at the start of a request whose store then fails to
/// answer when it is written back was taken for a session ended by
/// another request: "ended by another request (a logout?)" and its cookie
/// removed. It is a failed write: not written, the cookie left alone,
/// the session there once Redis answers.
#[tokio::test]
async fn a_session_write_back_the_cache_cannot_check_keeps_its_cookie() {
    if !require(REDIS_SERVER) {
        return;
    }
    let server = RedisServer::start();
    STALLED_REDIS.store(server.pid(), std::sync::atomic::Ordering::SeqCst);
    let client = Client::new(redis_application_with(&server.url(), stalling_urls));
    client.get("/set/?name=Ann").await;
    let key = client.cookie("sessionid").unwrap();
    let response = client.get("/stall/").await;
    server.pause(false);
    assert_eq!(response.text(), "was Some(\"Ann\")");
    assert_eq!(response.header("set-cookie"), None);
    assert_eq!(
        get_until(&client, "/show/", "session: [name=Ann]").await,
        "session: [name=Ann]"
    );
    assert_eq!(client.cookie("sessionid").unwrap(), key);
}

/// The session site named `name`, its sessions in a fresh database of
/// `server`.
fn db_sessions_in(
    server: &nuages_e2e::postgres::PostgresServer,
    name: &str,
) -> (Project, Settings) {
    let mut settings = Settings {
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(
            "a-test-secret-key-long-enough-to-be-accepted-by-checks-0123456789".into(),
        ),
        session_engine: SessionEngine::Db,
        ..Settings::default()
    };
    settings.databases.get_mut("default").unwrap().url = server.create_database();
    let project = Project::new(name, env!("CARGO_MANIFEST_DIR")).urls(session_site::urlpatterns);
    (project, settings)
}

/// A PostgreSQL server that takes connections and never answers (stopped,
/// overloaded) before the site first used it: a page that reads the
/// session is an empty session within seconds, and the error names the
/// server, instead of every request waiting for good (sqlx has no connect
/// timeout).
#[tokio::test]
async fn a_postgresql_server_that_never_answers_is_an_empty_session_within_seconds() {
    let Some(server) = nuages_e2e::postgres::PostgresServer::start() else {
        return;
    };
    let (project, settings) = db_sessions_in(&server, "pghung");
    let application = Application::new(project, settings).unwrap();
    server.pause(true);
    let started = std::time::Instant::now();
    // A visitor's cookie: the session is looked up in the database.
    let client = Client::new(application.clone());
    client.set_cookie("sessionid", &"k".repeat(40));
    let page = tokio::time::timeout(Duration::from_secs(60), client.get("/show/")).await;
    let waited = started.elapsed();
    let opened = tokio::time::timeout(
        Duration::from_secs(60),
        application.databases().get("default"),
    )
    .await;
    server.pause(false);
    let page = page.expect("the page is answered, not held for good");
    assert_eq!(page.status, 200);
    assert_eq!(page.text(), "session: []");
    assert!(
        waited < Duration::from_secs(15),
        "the page waited {waited:?} for the database"
    );
    let error = opened
        .expect("opening the pool gives up")
        .expect_err("a server that never answers is an error");
    let expected = format!(
        "databases.default.url: the PostgreSQL server at 127.0.0.1:{} did not answer within 5 s",
        server.port()
    );
    assert_eq!(error.to_string(), expected);
    assert!(
        error.hint().unwrap_or_default().contains("pg_isready"),
        "{:?}",
        error.hint()
    );
}

/// A PostgreSQL server that takes connections and never answers while the
/// site's pool is not open yet (as after every start: serve's check of the
/// migrations opens and closes a pool of its own): concurrent requests
/// share one attempt to open it, and are all answered within about one
/// 5 s timeout (they were answered one after another, 5 s each: the 8th
/// after 40 s). For a few seconds after, the database is not tried again
/// and a request fails at once with the same error; then the server,
/// answering again, is used without a restart.
#[tokio::test]
async fn concurrent_requests_to_a_postgresql_server_that_never_answers_share_one_timeout() {
    let Some(server) = nuages_e2e::postgres::PostgresServer::start() else {
        return;
    };
    let (project, settings) = db_sessions_in(&server, "pgshared");
    let application = Application::new(project, settings).unwrap();
    server.pause(true);
    let started = std::time::Instant::now();
    let mut pages = tokio::task::JoinSet::new();
    for _ in 0..8 {
        // A visitor's cookie: the session is looked up in the database.
        let client = Client::new(application.clone());
        client.set_cookie("sessionid", &"k".repeat(40));
        pages.spawn(async move { (client.get("/show/").await, started.elapsed()) });
    }
    let answered = tokio::time::timeout(Duration::from_secs(90), pages.join_all()).await;
    let error_at_once = {
        let asked = std::time::Instant::now();
        let error = application.databases().get("default").await.unwrap_err();
        (error, asked.elapsed())
    };
    server.pause(false);
    let answered = answered.expect("the pages are answered");
    for (page, waited) in &answered {
        assert_eq!(page.text(), "session: []");
        assert!(
            *waited < Duration::from_secs(9),
            "a page waited {waited:?}: {:?}",
            answered
                .iter()
                .map(|(_, waited)| waited)
                .collect::<Vec<_>>()
        );
    }
    let (error, asked) = error_at_once;
    assert_eq!(
        error.to_string(),
        format!(
            "databases.default.url: the PostgreSQL server at 127.0.0.1:{} did not answer within 5 s",
            server.port()
        )
    );
    assert!(asked < Duration::from_secs(1), "asked for {asked:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pool = application.databases().get("default").await.unwrap();
    let (one,): (i64,) = sqlx::query_as("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one, 1);
}

/// Sessions in PostgreSQL, and the server goes away while the site runs:
/// a page that reads the session is an empty session within seconds, not
/// after sqlx's 30 s of retrying the refused connection (a session read
/// and write would outlast nginx's 60 s `proxy_read_timeout`: a 504).
#[tokio::test]
async fn a_postgresql_server_gone_away_is_an_empty_session_within_seconds() {
    let Some(server) = nuages_e2e::postgres::PostgresServer::start() else {
        return;
    };
    let (project, settings) = db_sessions_in(&server, "pgsessions");
    let sets = nuages::migrations::all_sets(&project, &settings);
    let application = Application::new(project, settings).unwrap();
    let pool = application.databases().get("default").await.unwrap();
    nuages::migrations::apply(&pool, &sets, |_| {})
        .await
        .unwrap();
    let client = Client::new(application);
    client.get("/set/?name=Ann").await;
    assert_eq!(client.get("/show/").await.text(), "session: [name=Ann]");

    drop(server);
    let started = std::time::Instant::now();
    let response = client.get("/show/").await;
    let waited = started.elapsed();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "session: []");
    assert!(
        waited < Duration::from_secs(15),
        "the page waited {waited:?} for the database"
    );
}
