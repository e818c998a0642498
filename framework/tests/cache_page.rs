//! `cache_page`: a view's pages kept in the `default` cache, keyed on the
//! method, the URL and the headers its `Vary` names; never a page that
//! depends on who asked.

use std::sync::atomic::{AtomicUsize, Ordering};

use http::Method;
use nuages::cache::cache_page;
use nuages::conf::{CacheBackend, CacheSettings, Settings};
use nuages::middleware::csrf::csrf_exempt;
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};

/// How many times the views ran.
#[derive(Default)]
struct Runs(AtomicUsize);

impl Runs {
    fn next(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

async fn page(runs: Data<Runs>) -> String {
    format!("run {}", runs.next())
}

async fn by_language(runs: Data<Runs>) -> Response {
    (
        [("vary", "Accept-Language")],
        format!("run {}", runs.next()),
    )
        .into_response()
}

async fn sets_a_cookie(runs: Data<Runs>) -> Response {
    ([("set-cookie", "seen=1")], format!("run {}", runs.next())).into_response()
}

async fn reads_the_session(runs: Data<Runs>, session: Session) -> String {
    let name: Option<String> = session.get("name");
    format!("run {} for {name:?}", runs.next())
}

async fn varies_on_cookie(runs: Data<Runs>) -> Response {
    ([("vary", "Cookie")], format!("run {}", runs.next())).into_response()
}

async fn missing(runs: Data<Runs>) -> Response {
    (http::StatusCode::NOT_FOUND, format!("run {}", runs.next())).into_response()
}

/// A page that sets its own `Cache-Control`.
async fn with_cache_control(runs: Data<Runs>, query: Query<Vec<(String, String)>>) -> Response {
    let value = query.0.first().map(|(_, v)| v.clone()).unwrap_or_default();
    ([("cache-control", value)], format!("run {}", runs.next())).into_response()
}

/// The visitor's messages, as a page that lists them does.
async fn shows_messages(runs: Data<Runs>, messages: Messages) -> String {
    let texts: Vec<String> = messages.take().into_iter().map(|m| m.message).collect();
    format!("run {}: {}", runs.next(), texts.join(", "))
}

async fn adds_a_message(messages: Messages) -> &'static str {
    messages.success("Welcome back, Alice.");
    "added"
}

/// A body streamed in chunks (an export, a download), as Django's
/// `StreamingHttpResponse`.
async fn streamed(runs: Data<Runs>) -> Response {
    let run = runs.next();
    let chunks = (0..3).map(move |n| Ok::<_, std::io::Error>(format!("run {run} part {n};")));
    nuages::axum::body::Body::from_stream(tokio_stream::iter(chunks)).into_response()
}

async fn uncached(runs: Data<Runs>) -> String {
    format!("run {}", runs.next())
}

/// A page from a template that shows no CSRF token.
async fn template_page(runs: Data<Runs>, templates: Templates) -> Result<Html<String>> {
    templates.render("plain.html", context! { "run" => &runs.next() })
}

/// A page from a template with a form: it shows the visitor's CSRF token.
async fn form_template(runs: Data<Runs>, templates: Templates) -> Result<Html<String>> {
    templates.render("form.html", context! { "run" => &runs.next() })
}

/// A view that takes the visitor's CSRF token.
async fn takes_the_token(runs: Data<Runs>, token: CsrfToken) -> String {
    format!(
        "run {} with a token of {}",
        runs.next(),
        token.as_str().len()
    )
}

fn urls() -> UrlConf {
    UrlConf::new()
        .path("template/", cache_page(60, template_page), "template")
        .path(
            "form-template/",
            cache_page(60, form_template),
            "form-template",
        )
        .path("token/", cache_page(60, takes_the_token), "token")
        .path("page/", cache_page(60, page), "page")
        .path("short/", cache_page(1, page), "short")
        .path(
            "form/",
            csrf_exempt(cache_page(60, get(page).post(page))),
            "form",
        )
        .path("language/", cache_page(60, by_language), "language")
        .path("cookie/", cache_page(60, sets_a_cookie), "cookie")
        .path("session/", cache_page(60, reads_the_session), "session")
        .path(
            "vary-cookie/",
            cache_page(60, varies_on_cookie),
            "vary-cookie",
        )
        .path("missing/", cache_page(60, missing), "missing")
        .path("own/", cache_page(60, with_cache_control), "own")
        .path("uncached/", uncached, "uncached")
        .path("streamed/", cache_page(60, streamed), "streamed")
        .path("forever/", cache_page(u64::MAX, page), "forever")
        .path("messages/", cache_page(60, shows_messages), "messages")
        .path("add-message/", adds_a_message, "add-message")
}

/// Settings that pass the checks, for `localhost` and `other.example`.
fn site_settings() -> Settings {
    Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        allowed_hosts: vec!["localhost".into(), "other.example".into()],
        ..Settings::default()
    }
}

fn client(backend: CacheBackend) -> Client {
    let mut settings = site_settings();
    settings.caches.insert(
        "default".into(),
        CacheSettings {
            backend,
            ..CacheSettings::default()
        },
    );
    client_with(settings)
}

/// A client of the pages with `settings` (a locmem `default` cache unless
/// they have one).
fn client_with(settings: Settings) -> Client {
    Client::new(application_with(settings))
}

/// The pages with `settings`, for clients that share their cache.
fn application_with(mut settings: Settings) -> Application {
    settings.caches.entry("default".into()).or_default();
    let project = Project::new("pages", env!("CARGO_MANIFEST_DIR"))
        .urls(urls)
        .state(Runs::default());
    Application::new(project, settings).unwrap()
}

async fn body(client: &Client, path: &str) -> String {
    let response = client.get(path).await;
    response.text()
}

#[tokio::test]
async fn a_page_is_served_from_the_cache_per_url() {
    let client = client(CacheBackend::Locmem);
    assert_eq!(body(&client, "/page/").await, "run 1");
    assert_eq!(body(&client, "/page/").await, "run 1");
    assert_eq!(
        body(&client, "/page/?q=2").await,
        "run 2",
        "the query is part of the key"
    );
    assert_eq!(body(&client, "/page/?q=2").await, "run 2");
    let other_host = client
        .request(Method::GET, "/page/")
        .header("host", "other.example")
        .send()
        .await;
    assert_eq!(other_host.text(), "run 3", "the host is part of the key");
    assert_eq!(body(&client, "/uncached/").await, "run 4");
    assert_eq!(body(&client, "/uncached/").await, "run 5");
}

#[tokio::test]
async fn a_cached_page_keeps_its_headers_and_expires() {
    let client = client(CacheBackend::Locmem);
    let first = client.get("/short/").await;
    let second = client.get("/short/").await;
    assert_eq!(
        (first.text(), second.text()),
        ("run 1".into(), "run 1".into())
    );
    assert_eq!(second.status, 200);
    assert_eq!(
        second.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(body(&client, "/short/").await, "run 2");
}

/// As Django's `patch_response_headers`: a kept page tells browsers and
/// proxies how long it is good for, from the cache and fresh alike.
#[tokio::test]
async fn a_kept_page_says_how_long_it_is_good_for() {
    let client = client(CacheBackend::Locmem);
    for _ in 0..2 {
        let page = client.get("/page/").await;
        assert_eq!(page.text(), "run 1");
        assert_eq!(page.header("cache-control"), Some("max-age=60"));
        let expires = page.header("expires").expect("an Expires header");
        let expires = chrono::DateTime::parse_from_rfc2822(&expires.replace("GMT", "+0000"))
            .unwrap_or_else(|e| panic!("{expires}: {e}"));
        let ahead = expires
            .signed_duration_since(chrono::Utc::now())
            .num_seconds();
        assert!((55..=60).contains(&ahead), "Expires {ahead} s ahead");
    }
}

/// The view's own `Cache-Control` has the last word, as in Django:
/// `private`, `no-store` and `max-age=0` are not kept; another `max-age`
/// is kept, and sent as the view set it.
#[tokio::test]
async fn a_view_s_own_cache_control_decides() {
    let client = client(CacheBackend::Locmem);
    let mut runs = 0;
    for (value, kept) in [
        ("private", false),
        ("no-store", false),
        ("max-age=0", false),
        ("public, max-age=5", true),
    ] {
        let path = format!("/own/?cc={}", value.replace(' ', "%20"));
        runs += 1;
        let first = client.get(&path).await;
        assert_eq!(first.text(), format!("run {runs}"), "{value}");
        assert_eq!(first.header("cache-control"), Some(value), "{value}");
        if !kept {
            runs += 1;
        }
        let second = client.get(&path).await;
        assert_eq!(second.text(), format!("run {runs}"), "{value}: kept {kept}");
    }
    // A view's other directives stay beside the max-age the cache adds.
    let page = client.get("/own/?cc=public").await;
    assert_eq!(page.header("cache-control"), Some("public, max-age=60"));
}

#[tokio::test]
async fn head_requests_are_kept_too() {
    let client = client(CacheBackend::Locmem);
    for _ in 0..3 {
        let response = client.request(Method::HEAD, "/page/").send().await;
        assert_eq!(response.status, 200);
    }
    assert_eq!(
        body(&client, "/uncached/").await,
        "run 2",
        "the view ran once for HEAD"
    );
}

#[tokio::test]
async fn only_get_and_head_200s_are_kept() {
    let client = client(CacheBackend::Locmem);
    assert_eq!(client.get("/missing/").await.status, 404);
    assert_eq!(client.get("/missing/").await.status, 404);
    assert_eq!(
        body(&client, "/uncached/").await,
        "run 3",
        "a 404 is not kept"
    );
    let post = || client.request(Method::POST, "/form/").send();
    assert_eq!(post().await.text(), "run 4");
    assert_eq!(post().await.text(), "run 5", "a POST is not kept");
}

#[tokio::test]
async fn pages_differ_by_the_headers_vary_names() {
    let client = client(CacheBackend::Locmem);
    let ask = |language: &'static str| {
        client
            .request(Method::GET, "/language/")
            .header("accept-language", language)
            .send()
    };
    assert_eq!(ask("fr").await.text(), "run 1");
    assert_eq!(ask("de").await.text(), "run 2");
    assert_eq!(ask("fr").await.text(), "run 1");
    let german = ask("de").await;
    assert_eq!(german.text(), "run 2");
    assert_eq!(german.header("vary"), Some("Accept-Language"));
}

#[tokio::test]
async fn personal_pages_are_never_kept() {
    let client = client(CacheBackend::Locmem);
    assert_eq!(body(&client, "/cookie/").await, "run 1");
    assert_eq!(body(&client, "/cookie/").await, "run 2", "sets a cookie");
    assert_eq!(body(&client, "/session/").await, "run 3 for None");
    assert_eq!(
        body(&client, "/session/").await,
        "run 4 for None",
        "reads the session"
    );
    assert_eq!(body(&client, "/vary-cookie/").await, "run 5");
    assert_eq!(
        body(&client, "/vary-cookie/").await,
        "run 6",
        "varies on Cookie"
    );
}

/// A page that read the visitor's messages is theirs, as one that read
/// the session: with `message_storage = "cookie"` (no session read) it was
/// kept, and Alice's message was shown to every visitor after her.
#[tokio::test]
async fn a_page_that_read_the_visitors_messages_is_never_kept() {
    let settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        allowed_hosts: vec!["localhost".into()],
        message_storage: nuages::conf::MessageStorage::Cookie,
        ..Settings::default()
    };
    let application = application_with(settings);
    let alice = Client::new(application.clone());
    let anonymous = Client::new(application);
    assert_eq!(body(&alice, "/add-message/").await, "added");
    assert_eq!(
        body(&alice, "/messages/").await,
        "run 1: Welcome back, Alice."
    );
    assert_eq!(
        body(&anonymous, "/messages/").await,
        "run 2: ",
        "another visitor never gets Alice's messages"
    );
}

/// As Django's cache middleware skips a streaming response, a streamed
/// body is passed on as it comes and never kept: it was read whole into
/// memory (a download of any size) to be stored.
#[tokio::test]
async fn a_streamed_response_is_never_kept() {
    let client = client(CacheBackend::Locmem);
    assert_eq!(
        body(&client, "/streamed/").await,
        "run 1 part 0;run 1 part 1;run 1 part 2;"
    );
    assert_eq!(
        body(&client, "/streamed/").await,
        "run 2 part 0;run 2 part 1;run 2 part 2;"
    );
}

/// `cache_page(u64::MAX, …)`, a page kept for good: its `Expires` was
/// computed as now plus that many seconds, which overflowed the calendar
/// and panicked, a 500 for every visitor. Now `Expires` is at most a year
/// ahead, as HTTP/1.1 advises, and the page is kept.
#[tokio::test]
async fn a_page_kept_for_good_is_served_with_an_expiry_a_year_ahead() {
    let client = client(CacheBackend::Locmem);
    let first = client.get("/forever/").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), "run 1");
    assert_eq!(body(&client, "/forever/").await, "run 1", "kept");
    let expires = first.header("expires").expect("an Expires header");
    let year = (chrono::Utc::now() + chrono::TimeDelta::days(365))
        .format("%Y")
        .to_string();
    assert!(expires.contains(&year), "{expires}");
}

#[tokio::test]
async fn with_the_dummy_cache_every_request_runs_the_view() {
    let client = client(CacheBackend::Dummy);
    assert_eq!(body(&client, "/page/").await, "run 1");
    assert_eq!(body(&client, "/page/").await, "run 2");
}

/// Behind a proxy that names the site in `X-Forwarded-Host` (with
/// `use_x_forwarded_host`), the host of the key is that validated host, not
/// the `Host` header the proxy sent (the same upstream name for every site):
/// one site's page is never served for another.
/// The scheme is part of the key, as in Django: a page made for a request
/// over `http` is not served to one over `https` (behind a proxy that says
/// so with `secure_proxy_ssl_header`).
#[tokio::test]
async fn the_key_holds_the_scheme() {
    let settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        allowed_hosts: vec!["localhost".into()],
        secure_proxy_ssl_header: Some(vec!["X-Forwarded-Proto".into(), "https".into()]),
        ..Settings::default()
    };
    let client = client_with(settings);
    let over = |scheme: &'static str| {
        client
            .request(Method::GET, "/page/")
            .header("x-forwarded-proto", scheme)
            .send()
    };
    assert_eq!(over("http").await.text(), "run 1");
    assert_eq!(over("https").await.text(), "run 2");
    assert_eq!(over("https").await.text(), "run 2");
    assert_eq!(over("http").await.text(), "run 1");
}

#[tokio::test]
async fn the_key_holds_the_validated_host_behind_a_forwarding_proxy() {
    let settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        allowed_hosts: vec!["a.example".into(), "b.example".into()],
        use_x_forwarded_host: true,
        ..Settings::default()
    };
    let client = client_with(settings);
    let through_proxy = |site: &'static str| {
        client
            .request(Method::GET, "/page/")
            .header("host", "app-upstream")
            .header("x-forwarded-host", site)
            .send()
    };
    assert_eq!(through_proxy("a.example").await.text(), "run 1");
    assert_eq!(through_proxy("a.example").await.text(), "run 1");
    assert_eq!(
        through_proxy("b.example").await.text(),
        "run 2",
        "another site behind the same proxy has pages of its own"
    );
}

/// With the `csrf` middleware on (as by default), a template page that
/// shows no token is kept, as Django keeps one that never called
/// `get_token`; a page that shows the visitor's token (a template that
/// renders it, a view that takes `CsrfToken`) is never kept, even for a
/// visitor whose `csrftoken` cookie means no cookie is set.
#[tokio::test]
async fn a_template_page_is_kept_unless_it_shows_the_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain.html"), "<p>run {{ run }}</p>").unwrap();
    std::fs::write(
        dir.path().join("form.html"),
        "<form method=\"post\">{{ csrf_input() }}<p>run {{ run }}</p></form>",
    )
    .unwrap();
    let settings = Settings {
        template_dirs: vec![dir.path().to_path_buf()],
        ..site_settings()
    };
    assert!(settings.middleware.iter().any(|m| m == "csrf"));
    let client = client_with(settings);
    for _ in 0..2 {
        let page = client.get("/template/").await;
        assert_eq!(page.text(), "<p>run 1</p>");
        assert_eq!(page.header("cache-control"), Some("max-age=60"));
        assert_eq!(page.header("set-cookie"), None);
    }
    // The first answer sets the cookie; the next ones, to a visitor who
    // sends it, set none, and still hold a token of their own.
    let mut runs = Vec::new();
    for path in [
        "/form-template/",
        "/form-template/",
        "/form-template/",
        "/token/",
        "/token/",
    ] {
        let page = client.get(path).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("cache-control"), None, "{path}");
        runs.push(page.text());
    }
    assert!(client.cookie("csrftoken").is_some());
    assert!(
        runs[0].contains("run 2") && runs[1].contains("run 3") && runs[2].contains("run 4"),
        "{runs:?}"
    );
    assert!(runs[2].contains("csrfmiddlewaretoken"), "{runs:?}");
    assert_eq!(
        runs[3..],
        ["run 5 with a token of 64", "run 6 with a token of 64"]
    );
}
