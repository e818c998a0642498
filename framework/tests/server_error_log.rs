//! What the log says of a server error in production, where the page says
//! only "Server Error (500)": the error, its causes and the fix. Alone in
//! its test binary: tracing remembers per process which events nobody
//! wants, and a test without a subscriber meeting the same event first
//! would hide it.

mod support;

use nuages::conf::Settings;
use nuages::db::Db;
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};

async fn count(Db(pool): Db) -> Result<String> {
    let (n,): (i64,) = nuages::sqlx::query_as("SELECT 1").fetch_one(&pool).await?;
    Ok(n.to_string())
}

/// Production settings for `localhost` whose default database is at `url`.
fn settings_with_database(url: String) -> Settings {
    let mut settings = Settings {
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(
            "a-test-secret-key-long-enough-to-be-accepted-by-checks-0123456789".into(),
        ),
        ..Settings::default()
    };
    settings.databases.get_mut("default").unwrap().url = url;
    settings
}

fn urls() -> UrlConf {
    UrlConf::new().path("count/", count, "count")
}

/// A PostgreSQL server that is not running when the site first needs it:
/// the visitor gets the plain 500 page, and the log line names the setting,
/// the server and how to fix it.
#[tokio::test]
async fn a_server_error_in_production_logs_its_fix() {
    let (logs, _guard) = support::capture_logs();
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = settings_with_database(format!(
        "postgres://site:pw-not-shown@127.0.0.1:{port}/site"
    ));
    let application = Application::new(
        Project::new("logsite", env!("CARGO_MANIFEST_DIR")).urls(urls),
        settings,
    )
    .unwrap();
    let response = Client::new(application).get("/count/").await;
    assert_eq!(response.status, 500);
    assert!(
        !response.text().contains("PostgreSQL"),
        "{}",
        response.text()
    );
    let logs = logs.text();
    assert!(
        logs.contains(&format!(
            "databases.default.url: cannot connect to the PostgreSQL server at 127.0.0.1:{port}: \
             connection refused (hint: start PostgreSQL there (`systemctl start postgresql`), or \
             correct the host and port in databases.default.url)"
        )),
        "{logs}"
    );
    assert!(!logs.contains("pw-not-shown"), "{logs}");
}

async fn write(Db(pool): Db) -> Result<String> {
    nuages::sqlx::query("INSERT INTO notes (text) VALUES ('hello')")
        .execute(&pool)
        .await?;
    Ok("written".into())
}

/// A database error's hint names the database's key, `databases.default.url`:
/// it said `databases.<alias>.url`, as a `sqlx::Error` does not tell its
/// pool; the site's only open pool does.
#[tokio::test]
async fn a_database_errors_hint_names_the_databases_key() {
    let (logs, _guard) = support::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.sqlite3");
    {
        use nuages::sqlx::Connection;
        nuages::sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let mut connection = nuages::sqlx::AnyConnection::connect(&url).await.unwrap();
        // In WAL mode, as `migrate` leaves a database: one opened
        // read-only is then read without writing anything.
        for sql in ["PRAGMA journal_mode=WAL", "CREATE TABLE notes (text TEXT)"] {
            nuages::sqlx::query(sql)
                .execute(&mut connection)
                .await
                .unwrap();
        }
        connection.close().await.unwrap();
    }
    let settings = settings_with_database(format!("sqlite://{}?mode=ro", file.display()));
    let application = Application::new(
        Project::new("logsite", env!("CARGO_MANIFEST_DIR"))
            .urls(|| UrlConf::new().path("write/", write, "write")),
        settings,
    )
    .unwrap();
    let response = Client::new(application).get("/write/").await;
    assert_eq!(response.status, 500);
    let logs = logs.text();
    assert!(
        logs.contains("(hint: the SQLite database of databases.default.url cannot be written"),
        "{logs}"
    );
    assert!(!logs.contains("databases.<alias>"), "{logs}");
}

async fn to_mistyped() -> Response {
    redirect("hom")
}

/// `redirect("hom")`, a name no route has (a typo of `home`), is sent as
/// the relative address it also is, and the log says so with the closest
/// name: a mistake a developer sees, not a silent redirect elsewhere.
#[tokio::test]
async fn a_redirect_to_a_name_no_route_has_is_said_in_the_log() {
    let (logs, _guard) = support::capture_logs();
    let dir = tempfile::tempdir().unwrap();
    async fn home() -> &'static str {
        "home"
    }
    let application = Application::new(
        Project::new("logsite", env!("CARGO_MANIFEST_DIR")).urls(|| {
            UrlConf::new()
                .path("home/", home, "home")
                .path("to/", to_mistyped, "to")
        }),
        settings_with_database(format!("sqlite://{}", dir.path().join("db").display())),
    )
    .unwrap();
    let response = Client::new(application).get("/to/").await;
    assert_eq!(response.status, 302);
    assert_eq!(response.header("location"), Some("hom"));
    let logs = logs.text();
    assert!(
        logs.contains(
            "redirect(\"hom\") sent the relative address `hom`, which may be a mistyped route name"
        ) && logs.contains("'home'"),
        "{logs}"
    );
}
