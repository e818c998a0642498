//! The request path through the test client: routing, reverse in views and
//! templates, error pages in both modes and the report mailed to the admins,
//! 413, panics, template reload.

use std::path::Path;

use axum::extract::Path as UrlPath;
use axum::routing::post;
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};

mod support;

const SECRET: &str = "a-very-secret-key-that-must-never-appear-in-a-page-1234567890";

/// The default middleware without `csrf`, for tests that post without a
/// token because they test something else (tests/security.rs tests CSRF).
const NO_CSRF: &str = "middleware = [\"security\", \"session\", \"common\", \"xframe\"]\n";

async fn home() -> &'static str {
    "home"
}

async fn cafe() -> &'static str {
    "café"
}

async fn detail(UrlPath(id): UrlPath<i64>, urls: Urls) -> Result<String> {
    Ok(format!(
        "question {id} votes at {}",
        urls.reverse_args("polls:vote", &[&id])?
    ))
}

async fn vote(
    UrlPath(id): UrlPath<i64>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> String {
    format!(
        "voted {} on {id}",
        form.get("choice").cloned().unwrap_or_default()
    )
}

async fn page(templates: Templates) -> Result<Html<String>> {
    templates.render("page.html", context! { "who" => "<world>" })
}

async fn broken() -> Result<String> {
    let io = std::io::Error::other("disk on fire");
    Err(Error::Io(io))
}

async fn missing() -> Result<String> {
    Err(Error::NotFound("question 99 does not exist".into()))
}

async fn panics() -> String {
    panic!("the view blew up with {SECRET}")
}

async fn echo(body: String) -> String {
    format!("{} bytes", body.len())
}

async fn bad_reverse(urls: Urls) -> Result<String> {
    Ok(urls.reverse("polls:nope", &[])?)
}

async fn thing_by_id(UrlPath(id): UrlPath<i64>) -> String {
    format!("thing number {id}")
}

async fn thing_by_slug(UrlPath(slug): UrlPath<String>) -> String {
    format!("thing named {slug}")
}

fn polls() -> UrlConf {
    UrlConf::app("polls")
        .path("<int:question_id>/", detail, "detail")
        .path("<int:question_id>/vote/", post(vote), "vote")
}

fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("home/", home, "home")
        .path("café/", cafe, "cafe")
        .path("{braces}/", cafe, "braces")
        .path("page/", page, "page")
        .path("broken/", broken, "broken")
        .path("missing/", missing, "missing")
        .path("panic/", panics, "panic")
        .path("echo/", post(echo), "echo")
        .path("bad-reverse/", bad_reverse, "bad-reverse")
        .path("things/<int:id>/", thing_by_id, "thing-by-id")
        .path("things/<slug:slug>/", thing_by_slug, "thing-by-slug")
        .path("to-home/", to_home, "to-home")
        .path("to-detail/", to_detail, "to-detail")
        .path("to-query/", to_query, "to-query")
        .path("to-relative/", to_relative, "to-relative")
        .path("to-typo/", to_typo, "to-typo")
        .path("to-next/", to_next, "to-next")
        .path("to-cafe/", to_cafe, "to-cafe")
        .path("to-braces/", to_braces, "to-braces")
        .include("polls/", polls())
}

/// Django's `redirect("home")`: a route's name.
async fn to_home() -> Response {
    redirect("home")
}

/// A name whose route takes a parameter, given none.
async fn to_detail() -> Response {
    redirect("polls:detail")
}

/// A relative address that is no route's name.
async fn to_query() -> Response {
    redirect("?page=2")
}

/// A relative address of one word, no route's name either.
async fn to_relative() -> Response {
    redirect("results")
}

/// A route whose pattern is not ASCII (`café/`).
async fn to_cafe() -> Response {
    redirect("cafe")
}

/// A route whose pattern has characters a URL encodes (`{braces}/`).
async fn to_braces() -> Response {
    redirect("braces")
}

/// A namespaced name that no route has (a typo of `polls:index`).
/// A redirect to where the visitor asked (a login's `next`).
async fn to_next(
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    redirect(query.get("to").map(String::as_str).unwrap_or("/"))
}

async fn to_typo() -> Response {
    redirect("polls:indx")
}

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(settings: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/page.html"),
            "hello {{ who }} <a href=\"{{ url(name='polls:detail', question_id=3) }}\">q</a>",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("settings.toml"),
            format!("secret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\n{settings}"),
        )
        .unwrap();
        Site { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn settings(&self) -> nuages::conf::Settings {
        nuages::conf::SettingsLoader::new(self.path().join("settings.toml"))
            .env(Vec::<(String, String)>::new())
            .load()
            .unwrap()
    }

    fn project(&self) -> Project {
        Project::new("testsite", self.path()).urls(urlpatterns)
    }

    fn application(&self) -> Application {
        Application::new(self.project(), self.settings()).unwrap()
    }

    fn client(&self) -> Client {
        Client::new(self.application())
    }
}

fn assert_no_leak(text: &str, site: &Site) {
    assert!(!text.contains(SECRET), "the secret key leaked: {text}");
    assert!(!text.contains("secret"), "a setting leaked: {text}");
    assert!(
        !text.contains(&site.path().display().to_string()),
        "a path leaked: {text}"
    );
    assert!(
        !text.contains("disk on fire"),
        "an error detail leaked: {text}"
    );
    assert!(!text.contains("question 99"), "a 404 detail leaked: {text}");
    assert!(!text.contains("polls/<int"), "a URL pattern leaked: {text}");
}

/// A HEAD request gets the GET answer's status and headers and no body,
/// whatever made the answer: a view, the 404 page, a view's error page,
/// `common`'s redirect, a refused host.
#[tokio::test]
async fn head_requests_get_no_body_from_any_part_of_the_path() {
    for debug in ["debug = false\n", "debug = true\n"] {
        let client = Site::new(debug).client();
        for path in ["/home/", "/nowhere/", "/missing/", "/broken/", "/home"] {
            let get = client.get(path).await;
            let head = client.request(http::Method::HEAD, path).send().await;
            assert_eq!(head.status, get.status, "{debug}{path}");
            assert!(head.body.is_empty(), "{debug}{path}: {:?}", head.text());
            assert_eq!(
                head.header("content-type"),
                get.header("content-type"),
                "{debug}{path}"
            );
            // The length of what GET would send (the debug pages name the
            // method, one letter longer).
            let length: usize = head.header("content-length").unwrap().parse().unwrap();
            if debug == "debug = false\n" {
                assert_eq!(length, get.body.len(), "{debug}{path}");
            }
        }
        let refused = client
            .request(http::Method::HEAD, "/home/")
            .header("host", "evil.example")
            .send()
            .await;
        assert_eq!(refused.status, 400);
        assert!(refused.body.is_empty());
    }
}

#[tokio::test]
async fn routes_answer_with_typed_parameters() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    let r = client.get("/home/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "home");
    let r = client.get("/polls/42/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "question 42 votes at /polls/42/vote/");
}

/// The path is matched decoded, as Django decodes it first: a literal
/// segment percent-encoded (`%70olls`), a parameter (`%34%32`) and a
/// non-ASCII literal as a browser sends it (`caf%C3%A9`) all match.
#[tokio::test]
async fn percent_encoded_paths_match_their_decoded_routes() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    for (path, expected) in [
        ("/%70olls/42/", "question 42 votes at /polls/42/vote/"),
        ("/polls/%34%32/", "question 42 votes at /polls/42/vote/"),
        ("/%68ome/", "home"),
        ("/caf%C3%A9/", "café"),
        ("/café/", "café"),
        ("/things/%31/", "thing number 1"),
        // A literal its axum path encodes, sent raw or encoded.
        ("/{braces}/", "café"),
        ("/%7Bbraces%7D/", "café"),
    ] {
        let response = client.get(path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.text(), expected, "{path}");
    }
    // A slash encoded is part of its segment, never a separator.
    assert_eq!(client.get("/polls%2F42/").await.status, 404);
    assert_eq!(client.get("/%2Fhome/").await.status, 404);
}

#[tokio::test]
async fn converters_refuse_what_they_do_not_accept() {
    let site = Site::new("debug = false\n");
    let r = site.client().get("/polls/abc/").await;
    assert_eq!(r.status, 404);
    // Digits that fit no 64-bit integer: a 404, as an id that does not exist.
    let r = site.client().get("/polls/9223372036854775808/").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn patterns_of_the_same_shape_fall_through_as_in_django() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    let r = client.get("/things/42/").await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (200, "thing number 42")
    );
    let r = client.get("/things/blue-one/").await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (200, "thing named blue-one")
    );
    assert_eq!(client.get("/things/not%20a%20slug/").await.status, 404);
}

/// As Django's `redirect()`, a route's name is reversed: `Location` gets the
/// path, where the browser would have taken `polls:` for a URL scheme.
#[tokio::test]
async fn a_redirect_to_a_route_name_goes_to_its_path() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    let r = client.get("/to-home/").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/home/"));
    let r = client.get("/to-query/").await;
    assert_eq!(r.header("location"), Some("?page=2"));
    let r = client.get("/to-relative/").await;
    assert_eq!(r.header("location"), Some("results"));
    // A namespaced name that reverses to nothing is an error, as Django's
    // NoReverseMatch, not a redirect to the "polls:" scheme.
    let r = client.get("/to-typo/").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.header("location"), None);
    // A route with parameters cannot be reached without them: an error, as
    // Django's NoReverseMatch, never a redirect to "polls:detail".
    let r = client.get("/to-detail/").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.header("location"), None);
    // What reads as a name but is none, and whose first part is no
    // namespace, is a URL: a scheme other than http, https or ftp is a
    // 400 (not a 500 and a mail to the admins on a visitor's demand).
    for to in ["javascript:alert", "JAVASCRIPT:x", "data:x", "polls-x:y"] {
        let r = client.get(&format!("/to-next/?to={to}")).await;
        assert_eq!(r.status, 400, "{to}");
        assert_eq!(r.header("location"), None, "{to}");
    }
    let r = client.get("/to-next/?to=https:x").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("https:x"));
    let r = client.get("/to-next/?to=home").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/home/"));
}

/// As Django's `reverse`, which quotes the whole path, a pattern's own
/// text is percent-encoded too: `redirect("cafe")` to the route `café/`
/// answers 302 to `/caf%C3%A9/` (it was a 500, a panic on a `Location`
/// that was not ASCII), and `url()` in a template writes the same path.
#[tokio::test]
async fn a_route_whose_pattern_is_not_ascii_reverses_percent_encoded() {
    let site = Site::new("debug = false\n");
    std::fs::write(
        site.path().join("templates/page.html"),
        "{{ url(name='cafe') }} {{ url(name='braces') }}",
    )
    .unwrap();
    let client = site.client();
    let r = client.get("/to-cafe/").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/caf%C3%A9/"));
    assert_eq!(client.get("/caf%C3%A9/").await.text(), "café");
    let r = client.get("/to-braces/").await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/%7Bbraces%7D/"));
    assert_eq!(
        client.get("/page/").await.text(),
        "/caf%C3%A9/ /%7Bbraces%7D/"
    );
}

#[tokio::test]
async fn methods_are_restricted_per_route() {
    let site = Site::new(&format!("debug = false\n{NO_CSRF}"));
    let client = site.client();
    let r = client.post_form("/polls/4/vote/", &[("choice", "2")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "voted 2 on 4");
    let r = client.get("/polls/4/vote/").await;
    assert_eq!(r.status, 405);
}

#[tokio::test]
async fn common_appends_the_slash_with_a_301_keeping_the_query() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    let r = client.get("/polls/7?x=1").await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/polls/7/?x=1"));
    // No redirect when the slashed path does not exist either.
    assert_eq!(client.get("/nothing").await.status, 404);
}

/// A POST to a path without its slash is not redirected (its data would be
/// lost); in debug the 404 says so and names the path to post to, as
/// Django's RuntimeError does. In production it is the plain 404.
#[tokio::test]
async fn a_post_without_the_slash_is_a_404_that_names_the_slashed_path_in_debug() {
    let site = Site::new(&format!("debug = true\n{NO_CSRF}"));
    let r = site
        .client()
        .request(http::Method::POST, "/echo")
        .header("accept", "text/plain")
        .body("x")
        .send()
        .await;
    assert_eq!(r.status, 404);
    let text = r.text();
    assert!(text.contains("no URL pattern matches /echo\n"), "{text}");
    assert!(
        text.contains(
            "hint: you sent this POST to /echo, without the trailing slash of the route at /echo/; \
             the \"common\" middleware redirects only GET and HEAD there"
        ),
        "{text}"
    );
    // A path whose slashed form has no route either gets no such hint.
    let r = site
        .client()
        .request(http::Method::POST, "/nothing")
        .header("accept", "text/plain")
        .send()
        .await;
    assert!(!r.text().contains("hint:"), "{}", r.text());
    let site = Site::new(&format!("debug = false\n{NO_CSRF}"));
    let r = site
        .client()
        .request(http::Method::POST, "/echo")
        .body("x")
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert!(!r.text().contains("/echo"), "{}", r.text());
}

#[tokio::test]
async fn templates_render_with_autoescape_and_url() {
    let site = Site::new("debug = false\n");
    let r = site.client().get("/page/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.text(), "hello &lt;world&gt; <a href=\"/polls/3/\">q</a>");
}

#[tokio::test]
async fn template_edits_are_seen_without_restart_in_debug() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    assert!(client.get("/page/").await.text().starts_with("hello"));
    std::fs::write(
        site.path().join("templates/page.html"),
        "edited {{ who }} {{ url(name='home') }}",
    )
    .unwrap();
    assert_eq!(
        client.get("/page/").await.text(),
        "edited &lt;world&gt; /home/"
    );
}

#[tokio::test]
async fn debug_404_lists_the_patterns_tried() {
    let site = Site::new("debug = true\n");
    let r = site.client().get("/nowhere/").await;
    assert_eq!(r.status, 404);
    let text = r.text();
    assert!(text.contains("Page not found (404)"), "{text}");
    assert!(
        text.contains("polls/&lt;int:question_id&gt;/ [name=&#x27;polls:detail&#x27;]"),
        "{text}"
    );
    assert!(
        text.contains("The current path, <code>nowhere/</code>, didn't match any of these."),
        "{text}"
    );
    assert!(!text.contains("Raised by"), "{text}");
    assert!(!text.contains("matched the last one"), "{text}");
}

/// Django's page for an `Http404` that a view raised: the view, the
/// patterns up to the one that matched, and that the path matched it.
#[tokio::test]
async fn debug_404_from_a_view_names_the_view_and_the_pattern_it_matched() {
    let site = Site::new("debug = true\n");
    let r = site.client().get("/missing/").await;
    assert_eq!(r.status, 404);
    let text = r.text();
    assert!(text.contains("question 99 does not exist"), "{text}");
    assert!(
        text.contains("<p>Raised by: <code>request_path::missing</code></p>"),
        "{text}"
    );
    let tried = text
        .split("<ol class=\"patterns\">")
        .nth(1)
        .and_then(|rest| rest.split("</ol>").next())
        .unwrap_or_else(|| panic!("no list of patterns: {text}"));
    assert!(
        tried.starts_with("<li><code>home/ [name=&#x27;home&#x27;]</code></li>"),
        "{tried}"
    );
    assert!(
        tried.ends_with("<li><code>missing/ [name=&#x27;missing&#x27;]</code></li>"),
        "{tried}"
    );
    assert!(
        text.contains("The current path, <code>missing/</code>, matched the last one."),
        "{text}"
    );
    assert!(!text.contains("didn't match"), "{text}");

    // The same as text, for a client that does not read HTML.
    let r = site
        .client()
        .request(http::Method::GET, "/missing/")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(r.status, 404);
    let text = r.text();
    assert!(
        text.contains("\nRaised by: request_path::missing\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  missing/ [name='missing']\nThe current path, missing/, matched the last one.\n"
        ),
        "{text}"
    );
    assert!(!text.contains("panic/"), "{text}");

    // A path that no pattern matches still says so.
    let r = site
        .client()
        .request(http::Method::GET, "/nowhere/")
        .header("accept", "application/json")
        .send()
        .await;
    let text = r.text();
    assert!(
        text.contains("The current path, nowhere/, didn't match any of these.\n"),
        "{text}"
    );
    assert!(!text.contains("Raised by"), "{text}");
}

#[tokio::test]
async fn debug_500_shows_the_error_and_its_causes() {
    let site = Site::new("debug = true\n");
    let r = site.client().get("/broken/").await;
    assert_eq!(r.status, 500);
    let text = r.text();
    assert!(text.contains("I/O error"), "{text}");
    assert!(text.contains("disk on fire"), "{text}");
    assert!(text.contains("Caused by"), "{text}");
}

#[tokio::test]
async fn debug_500_is_plain_text_for_clients_that_do_not_accept_html() {
    let site = Site::new("debug = true\n");
    let r = site
        .client()
        .request(http::Method::GET, "/broken/")
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(r.text().contains("caused by: disk on fire"), "{}", r.text());
}

#[tokio::test]
async fn a_reverse_error_is_a_500_naming_the_url() {
    let site = Site::new("debug = true\n");
    let r = site.client().get("/bad-reverse/").await;
    assert_eq!(r.status, 500);
    assert!(r.text().contains("polls:nope"));
}

#[tokio::test]
async fn production_pages_are_plain_and_leak_nothing() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    for (path, status, title) in [
        ("/nowhere/", 404, "Not Found"),
        ("/missing/", 404, "Not Found"),
        ("/broken/", 500, "Server Error (500)"),
        ("/panic/", 500, "Server Error (500)"),
        ("/bad-reverse/", 500, "Server Error (500)"),
    ] {
        let r = client.get(path).await;
        assert_eq!(r.status, status, "{path}");
        let text = r.text();
        assert!(text.contains(title), "{path}: {text}");
        assert_no_leak(&text, &site);
    }
    // A view's 404 gets the very page of a path no pattern matches.
    assert_eq!(
        client.get("/missing/").await.text(),
        client.get("/nowhere/").await.text()
    );
}

/// The mails the `memory` backend kept once `quiet` has passed with no new
/// one (the report goes out after the response, in a task of its own).
async fn mails_after(
    application: &Application,
    quiet: std::time::Duration,
) -> Vec<(String, String, Vec<String>)> {
    let mut seen = usize::MAX;
    loop {
        let outbox = application.mailer().outbox();
        if outbox.len() == seen {
            return outbox
                .into_iter()
                .map(|m| (m.from_email.unwrap_or_default(), m.subject, m.to))
                .collect();
        }
        seen = outbox.len();
        tokio::time::sleep(quiet).await;
    }
}

/// `admins`: with `debug` off, a request that ends in a server error mails
/// them a report from `server_email`; a 404 does not, and with `debug` on
/// nothing is mailed (the page shows the error).
#[tokio::test]
async fn server_errors_mail_the_admins_with_debug_off_only() {
    let mail = "email_backend = \"memory\"\nadmins = [\"Ops <ops@example.com>\"]\n\
                server_email = \"errors@example.com\"\n";
    let quiet = std::time::Duration::from_millis(300);
    let site = Site::new(&format!("debug = false\n{mail}"));
    let application = site.application();
    let client = Client::new(application.clone());
    assert_eq!(client.get("/missing/").await.status, 404);
    assert_eq!(mails_after(&application, quiet).await, []);
    assert_eq!(client.get("/broken/").await.status, 500);
    assert_eq!(
        mails_after(&application, quiet).await,
        [(
            "errors@example.com".to_string(),
            "[Nuages] ERROR: Internal Server Error: /broken/".to_string(),
            vec!["Ops <ops@example.com>".to_string()]
        )]
    );

    let site = Site::new(&format!("debug = true\n{mail}"));
    let application = site.application();
    let client = Client::new(application.clone());
    assert_eq!(client.get("/broken/").await.status, 500);
    assert_eq!(mails_after(&application, quiet).await, []);
}

/// A burst of server errors while the mail server is slow: the reports on
/// their way at once are bounded (4), not one connection to the mail
/// server per failed request, each held up to email_timeout; every page is
/// still answered at once.
#[tokio::test]
async fn a_burst_of_server_errors_opens_a_bounded_number_of_mail_connections() {
    use std::sync::atomic::Ordering;
    let (port, connections) = support::silent_mail_server();
    let site = Site::new(&format!(
        "debug = false\nadmins = [\"Ops <ops@example.com>\"]\n\
         server_email = \"errors@example.com\"\nemail_host = \"127.0.0.1\"\n\
         email_port = {port}\nemail_timeout = 10\n"
    ));
    let client = site.client();
    let started = std::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(client.get("/broken/").await.status, 500);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let opened = connections.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&opened),
        "{opened} connections to the mail server"
    );
}

#[tokio::test]
async fn production_error_templates_override_the_plain_pages() {
    let site = Site::new("debug = false\n");
    std::fs::write(
        site.path().join("templates/404.html"),
        "custom 404 ({{ status_code }})",
    )
    .unwrap();
    std::fs::write(site.path().join("templates/500.html"), "custom 500").unwrap();
    let client = site.client();
    assert_eq!(client.get("/nowhere/").await.text(), "custom 404 (404)");
    let r = client.get("/broken/").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), "custom 500");
}

/// Error templates that extend the site's base template, as Django's do:
/// the base shows the visitor, a form with its CSRF field and the
/// messages, and the 404 shows `request_path`. In Django the 404 gets the
/// request's context and the 500 an empty one; here both render, as for a
/// visitor who is not logged in, rather than falling back to the plain page.
#[tokio::test]
async fn production_error_templates_extend_the_base_template() {
    let site = Site::new("debug = false\n");
    let templates = site.path().join("templates");
    std::fs::write(
        templates.join("base.html"),
        "{% if user.is_authenticated %}{{ user.username }}{% else %}<a href=\"{{ url(name='home') }}\">log in</a>{% endif %}\
         <form method=\"post\">{{ csrf_input() }}</form>{% for message in messages %}{{ message }}{% endfor %}\
         {% block content %}{% endblock %}",
    )
    .unwrap();
    std::fs::write(
        templates.join("404.html"),
        "{% extends \"base.html\" %}{% block content %}Nothing at {{ request_path }} ({{ status_code }}){% endblock %}",
    )
    .unwrap();
    std::fs::write(
        templates.join("500.html"),
        "{% extends \"base.html\" %}{% block content %}Sorry ({{ status_code }}){% endblock %}",
    )
    .unwrap();
    let client = site.client();
    let form = "<a href=\"/home/\">log in</a><form method=\"post\">\
                <input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"\"></form>";
    let r = client.get("/nowhere/?q=1").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), format!("{form}Nothing at /nowhere/ (404)"));
    let r = client.get("/broken/").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), format!("{form}Sorry (500)"));
    assert_no_leak(&r.text(), &site);
}

/// A filter of the project's own that panics in an error template: the
/// plain page answers, with the status of the error, and the next request
/// is served (before, the client got no answer at all).
fn explodes(_: &str, _: nuages::tera::Kwargs, _: &nuages::tera::State) -> String {
    panic!("the filter blew up with {SECRET}")
}

#[tokio::test]
async fn an_error_template_that_panics_gives_the_plain_page() {
    let site = Site::new("debug = false\n");
    let templates = site.path().join("templates");
    for name in ["404.html", "500.html"] {
        std::fs::write(templates.join(name), "{{ \"x\" | explodes }}").unwrap();
    }
    let project = site
        .project()
        .template_library(|tera| tera.register_filter("explodes", explodes));
    let client = Client::new(Application::new(project, site.settings()).unwrap());
    let r = client.get("/broken/").await;
    assert_eq!(r.status, 500);
    assert!(r.text().contains("Server Error (500)"), "{}", r.text());
    assert_no_leak(&r.text(), &site);
    assert!(!r.text().contains("blew up"), "{}", r.text());
    let r = client.get("/nowhere/").await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("Not Found"), "{}", r.text());
    assert_eq!(client.get("/home/").await.status, 200);
}

#[tokio::test]
async fn a_panic_is_a_500_and_the_next_request_still_works() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    let r = client.get("/panic/").await;
    assert_eq!(r.status, 500);
    assert!(r.text().contains("the view panicked: the view blew up"));
    assert_eq!(client.get("/home/").await.status, 200);
}

/// A project's middleware that panics before it makes its future.
fn panics_before_its_future(
    request: Request,
    next: Next,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    if request.headers().contains_key("x-blow-up") {
        panic!("the middleware blew up with {SECRET}");
    }
    Box::pin(next.run(request))
}

/// Without built-in middleware, the levels inside start when the request
/// comes in: a panic there is still the production 500, and the server
/// goes on.
#[tokio::test]
async fn a_panic_before_any_future_is_a_500_too() {
    let site = Site::new("debug = false\nmiddleware = [\"blow_up\"]\n");
    let project = site
        .project()
        .middleware("blow_up", panics_before_its_future);
    let client = Client::new(Application::new(project, site.settings()).unwrap());
    let r = client
        .request(http::Method::GET, "/home/")
        .header("x-blow-up", "yes")
        .send()
        .await;
    assert_eq!(r.status, 500);
    assert_no_leak(&r.text(), &site);
    assert!(!r.text().contains("blew up"), "{}", r.text());
    assert_eq!(client.get("/home/").await.status, 200);
}

/// A project's middleware that marks every response it passes on.
async fn stamp(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("x-stamped", http::HeaderValue::from_static("yes"));
    response
}

/// A panic in a view, or in a middleware inside another, is a 500 at its
/// own level: the middleware around it see that response and add to it,
/// as Django's exception handling around each middleware gives them (a
/// panic used to skip their way out). The debug page names where it was.
#[tokio::test]
async fn a_panic_is_a_500_that_the_middleware_around_it_see() {
    for debug in [true, false] {
        let site = Site::new(&format!(
            "debug = {debug}\nmiddleware = [\"stamp\", \"session\", \"blow_up\"]\n"
        ));
        let project = site
            .project()
            .middleware("stamp", stamp)
            .middleware("blow_up", panics_before_its_future);
        let client = Client::new(Application::new(project, site.settings()).unwrap());
        let from_view = client.get("/panic/").await;
        let blow_up = client
            .request(http::Method::GET, "/home/")
            .header("x-blow-up", "yes")
            .send()
            .await;
        for (r, said) in [
            (&from_view, "the view panicked: the view blew up"),
            (
                &blow_up,
                "the middleware &#x27;blow_up&#x27; panicked: the middleware blew up",
            ),
        ] {
            assert_eq!(r.status, 500, "debug = {debug}: {}", r.text());
            assert_eq!(r.header("x-stamped"), Some("yes"), "debug = {debug}");
            if debug {
                assert!(r.text().contains(said), "{}", r.text());
            } else {
                assert!(r.text().contains("Server Error (500)"), "{}", r.text());
                assert_no_leak(&r.text(), &site);
                assert!(!r.text().contains("blew up"), "{}", r.text());
            }
        }
        let r = client.get("/home/").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-stamped"), Some("yes"));
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let site = Site::new(&format!(
        "debug = false\ndata_upload_max_memory_size = 100\n{NO_CSRF}"
    ));
    let client = site.client();
    // An empty body, which the limit has nothing to do with, is read as one.
    let r = client.request(http::Method::POST, "/echo/").send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "0 bytes");
    let r = client
        .request(http::Method::POST, "/echo/")
        .body("x".repeat(50))
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "50 bytes");
    let r = client
        .request(http::Method::POST, "/echo/")
        .body("x".repeat(101))
        .send()
        .await;
    assert_eq!(r.status, 413);
    assert!(!r.text().contains("data_upload_max_memory_size"));
}

#[tokio::test]
async fn a_body_without_length_is_cut_at_the_limit() {
    let site = Site::new(&format!(
        "debug = false\ndata_upload_max_memory_size = 100\n{NO_CSRF}"
    ));
    let app = site.application();
    let stream = futures_util_stream(vec![vec![b'x'; 80], vec![b'y'; 80]]);
    let request = http::Request::builder()
        .method("POST")
        .uri("/echo/")
        .header("host", "localhost")
        .body(axum::body::Body::from_stream(stream))
        .unwrap();
    use tower::ServiceExt;
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 413);
}

fn futures_util_stream(
    chunks: Vec<Vec<u8>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    tokio_stream::iter(chunks.into_iter().map(Ok))
}

#[tokio::test]
async fn the_welcome_page_answers_until_slash_is_routed() {
    let site = Site::new("debug = true\n");
    let r = site.client().get("/").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("testsite"));
    assert!(r.text().contains(nuages::VERSION));
    let site = Site::new("debug = false\n");
    assert_eq!(site.client().get("/").await.status, 404);
}

#[tokio::test]
async fn an_unknown_middleware_is_an_error_naming_it() {
    let site = Site::new("middleware = [\"security\", \"comon\"]\n");
    let err = Application::new(site.project(), site.settings()).unwrap_err();
    assert!(err.to_string().contains("'comon'"), "{err}");
    assert!(err.hint().unwrap().contains("did you mean 'common'"));
}

#[tokio::test]
async fn the_test_client_keeps_cookies_and_sends_json() {
    async fn set(jar: axum::http::HeaderMap) -> impl IntoResponse {
        let seen = jar
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        ([("set-cookie", "flavour=oat; Path=/")], seen)
    }
    async fn json(axum::Json(v): axum::Json<serde_json::Value>) -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({ "got": v["n"] }))
    }
    fn urls() -> UrlConf {
        UrlConf::new()
            .path("set/", set, "set")
            .path("json/", json, "json")
    }
    let site = Site::new(&format!("debug = false\n{NO_CSRF}"));
    let settings = nuages::conf::SettingsLoader::new(site.path().join("settings.toml"))
        .env(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let client =
        Client::new(Application::new(Project::new("t", site.path()).urls(urls), settings).unwrap());
    assert_eq!(client.get("/set/").await.text(), "");
    assert_eq!(client.cookie("flavour").as_deref(), Some("oat"));
    assert_eq!(client.get("/set/").await.text(), "flavour=oat");
    let r = client
        .post_json("/json/", &serde_json::json!({ "n": 5 }))
        .await;
    assert_eq!(
        r.json::<serde_json::Value>(),
        serde_json::json!({ "got": 5 })
    );
}

#[tokio::test]
async fn the_application_serves_over_a_real_socket_and_nests_in_axum() {
    let site = Site::new("debug = false\n");
    let app = site.application();
    let nested = axum::Router::new().nest_service("/app", app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let listener2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr2 = listener2.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener2, nested).await.unwrap() });
    for (addr, path) in [(addr, "/home/"), (addr2, "/app/home/")] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("home"), "{answer}");
    }
}
