//! The request line in the log, written as an event under a project's own
//! subscriber. Alone in its test binary: a subscriber set for one thread
//! (`support::capture_logs`) can miss an event whose callsite another
//! test's thread registers at the same moment (tracing's callsite
//! registry), which made this test fail about one run in eight beside the
//! tests of `request_path.rs`.

use nuages::conf::Settings;
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};

mod support;

async fn cafe() -> &'static str {
    "café"
}

/// A view that never answers.
async fn forever() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("café/", cafe, "cafe")
        .path("forever/", forever, "forever")
}

/// A production site (`debug = false`) with the routes `café/` and `forever/`.
fn application() -> Application {
    let settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        allowed_hosts: vec!["localhost".into()],
        debug: false,
        ..Settings::default()
    };
    let project = Project::new("requestline", env!("CARGO_MANIFEST_DIR")).urls(urlpatterns);
    Application::new(project, settings).unwrap()
}

/// A client of [`application`].
fn client() -> Client {
    Client::new(application())
}

/// The request line in the log is one line with one quoted request,
/// whatever the client put in the target: HTTP parsers let a `"` and
/// UTF-8 through, and written as they came a `"` would let a log reader
/// that splits on quotes (fail2ban, GoAccess) be handed another target,
/// status or time, U+0085 (NEL) and U+2028 break the line for readers
/// that take them as line ends, U+009B is a terminal's escape and U+202E
/// reverses the text shown. They are percent-encoded, as the URL they
/// stand for, and the route still sees them decoded.
#[tokio::test]
async fn the_request_line_percent_encodes_quotes_and_non_ascii_in_the_target() {
    let client = client();
    let (logs, guard) = support::capture_logs();
    let r = client
        .get("/nowhere\"_200_0.1ms_\"\u{85}\u{2028}\u{9b}31m\u{202e}/caf\u{e9}?q=\u{e9}")
        .await;
    let cafe = client.get("/caf\u{e9}/").await;
    drop(guard);
    assert_eq!(r.status, 404);
    assert_eq!(cafe.text(), "caf\u{e9}");
    let logs = logs.text();
    assert!(
        logs.contains(
            r#""GET /nowhere%22_200_0.1ms_%22%C2%85%E2%80%A8%C2%9B31m%E2%80%AE/caf%C3%A9?q=%C3%A9 HTTP/1.1" 404 "#
        ),
        "{logs}"
    );
    assert!(
        logs.contains(r#""GET /caf%C3%A9/ HTTP/1.1" 200 "#),
        "{logs}"
    );
    for raw in ["_\"", "\u{85}", "\u{2028}", "\u{9b}", "\u{202e}", "\u{e9}"] {
        assert!(!logs.contains(raw), "{raw:?} in {logs}");
    }
}

/// A request that the server drops unanswered (what `serve` does to a
/// request still running `serve_graceful_timeout` after its shutdown
/// began) is logged all the same, with nginx's status 499.
#[tokio::test]
async fn a_request_dropped_unanswered_is_logged_as_499() {
    use tower::ServiceExt;
    let request = http::Request::get("/forever/")
        .header(http::header::HOST, "localhost")
        .body(axum::body::Body::empty())
        .unwrap();
    let (logs, guard) = support::capture_logs();
    let answered = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        application().oneshot(request),
    )
    .await;
    drop(guard);
    assert!(answered.is_err(), "the view answered");
    let logs = logs.text();
    assert!(logs.contains(r#""GET /forever/ HTTP/1.1" 499 "#), "{logs}");
}
