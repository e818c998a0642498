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
    let mut settings = Settings {
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(
            "a-test-secret-key-long-enough-to-be-accepted-by-checks-0123456789".into(),
        ),
        ..Settings::default()
    };
    settings.databases.get_mut("default").unwrap().url =
        format!("postgres://site:pw-not-shown@127.0.0.1:{port}/site");
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
