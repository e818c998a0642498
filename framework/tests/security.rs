//! Issue #3, security middleware, through the test client: allowed hosts,
//! the security headers and HTTPS redirect, X-Frame-Options, signed
//! sessions with key rotation, CSRF, and the secret key requirement.

use std::collections::HashMap;
use std::path::Path;

use axum::routing::{get, post};
use http::Method;
use nuages::middleware::csrf::{CsrfToken, csrf_exempt};
use nuages::middleware::session::Session;
use nuages::middleware::xframe::XFrameExempt;
use nuages::prelude::*;
use nuages::test::{Client, TestResponse};
use nuages::{Application, Project};

mod support;

const SECRET: &str = "test-secret-key-for-the-security-middleware-0123456789";
const OLD_SECRET: &str = "the-previous-secret-key-that-is-being-rotated-out-987654";

async fn home() -> &'static str {
    "home"
}

async fn form_page(templates: Templates) -> Result<Html<String>> {
    templates.render("form.html", context! {})
}

async fn plain_page(templates: Templates) -> Result<Html<String>> {
    templates.render("plain.html", context! { "name" => "visitor" })
}

async fn inherited_form(templates: Templates) -> Result<Html<String>> {
    templates.render("child.html", context! {})
}

/// The token as a variable, Django's way into JavaScript.
async fn script_page(templates: Templates) -> Result<Html<String>> {
    templates.render("script.html", context! {})
}

/// A form only for those who ask for it (`?form=1`), as a logout form only
/// for a logged-in visitor.
async fn maybe_form(
    templates: Templates,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Html<String>> {
    let show = query.contains_key("form");
    templates.render("maybe.html", context! { "show" => &show })
}

async fn submit(Form(form): Form<HashMap<String, String>>) -> String {
    format!("got {}", form.get("name").cloned().unwrap_or_default())
}

async fn api(body: String) -> String {
    format!("api {body}")
}

async fn token(token: CsrfToken) -> String {
    token.to_string()
}

async fn hook(axum::extract::Path(name): axum::extract::Path<String>, body: String) -> String {
    format!("hook {name} {body}")
}

async fn hook_admin() -> &'static str {
    "admin"
}

async fn upload(body: String) -> String {
    format!("upload has file: {}", body.contains("file-content"))
}

async fn incr(session: Session) -> Result<String> {
    let n = session.get::<u32>("n").unwrap_or(0) + 1;
    session.insert("n", n)?;
    Ok(n.to_string())
}

async fn read(session: Session) -> String {
    session
        .get::<u32>("n")
        .map(|n| n.to_string())
        .unwrap_or_else(|| "none".into())
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

async fn framed() -> impl IntoResponse {
    (XFrameExempt, "embed me")
}

async fn own_headers() -> impl IntoResponse {
    (
        [
            ("x-frame-options", "SAMEORIGIN"),
            ("referrer-policy", "no-referrer"),
        ],
        "own",
    )
}

async fn detail(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    format!("question {id}")
}

fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("home/", home, "home")
        .path("form/", get(form_page).post(submit), "form")
        .path("api/", post(api), "api")
        .path("token/", token, "token")
        .path("plain/", plain_page, "plain")
        .path("inherited/", inherited_form, "inherited")
        .path("maybe/", maybe_form, "maybe")
        .path("script/", script_page, "script")
        // Tried in order, as Django: the literal pattern first.
        .path("hooks/admin/", post(hook_admin), "hook-admin")
        .path("hooks/<slug:name>/", csrf_exempt(post(hook)), "hook")
        .path("upload/", post(upload), "upload")
        .path("session/incr/", incr, "incr")
        .path("session/read/", read, "read")
        .path("session/logout/", logout, "logout")
        .path("framed/", framed, "framed")
        .path("own/", own_headers, "own")
        .path("health/", home, "health")
        .path("polls/<int:id>/", detail, "detail")
}

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// A site with a secret key, `allowed_hosts = ["localhost"]` and `settings`.
    fn new(settings: &str) -> Site {
        Site::raw(&format!(
            "secret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\n{settings}"
        ))
    }

    /// A site with exactly `settings`.
    fn raw(settings: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/form.html"),
            "<form method=\"post\">{{ csrf_input() }}</form>",
        )
        .unwrap();
        let templates = dir.path().join("templates");
        std::fs::write(templates.join("plain.html"), "<p>Hello {{ name }}</p>").unwrap();
        std::fs::write(
            templates.join("script.html"),
            "<script>const token = \"{{ csrf_token }}\";</script>",
        )
        .unwrap();
        std::fs::write(
            templates.join("maybe.html"),
            "<p>Hi</p>{% if show %}<form method=\"post\">{{ csrf_input() }}</form>{% endif %}",
        )
        .unwrap();
        std::fs::write(
            templates.join("base_form.html"),
            "<form method=\"post\">{{ csrf_input() }}{% block fields %}{% endblock %}</form>",
        )
        .unwrap();
        std::fs::write(
            templates.join("child.html"),
            "{% extends \"base_form.html\" %}{% block fields %}<input name=\"name\">{% endblock %}",
        )
        .unwrap();
        std::fs::write(dir.path().join("settings.toml"), settings).unwrap();
        Site { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn build(&self) -> nuages::Result<Application> {
        let settings = nuages::conf::SettingsLoader::new(self.path().join("settings.toml"))
            .env(Vec::<(String, String)>::new())
            .load()?;
        Application::new(
            Project::new("secure", self.path()).urls(urlpatterns),
            settings,
        )
    }

    fn client(&self) -> Client {
        Client::new(self.build().unwrap())
    }
}

fn set_cookie_for<'r>(response: &'r TestResponse, name: &str) -> Option<&'r str> {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The hidden field's value in a page rendered with `csrf_input()`.
fn form_token(page: &str) -> String {
    let start = page.find("value=\"").expect("a csrf input") + 7;
    page[start..start + 64].to_string()
}

// ---------------------------------------------------------------- hosts

#[tokio::test]
async fn a_disallowed_host_is_a_400_explained_in_debug() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    // The debug page's text for a request to `host`, a 400.
    let refused = |host: &'static str| {
        let request = client
            .request(Method::GET, "/home/")
            .header("host", host)
            .header("accept", "text/plain");
        async move {
            let r = request.send().await;
            assert_eq!(r.status, 400, "{host}");
            r.text()
        }
    };
    let text = refused("evil.test:8000").await;
    assert!(
        text.contains(
            "Invalid HTTP_HOST header: 'evil.test:8000'. You may need to add 'evil.test' to allowed_hosts."
        ),
        "{text}"
    );
    assert!(text.contains("allowed_hosts = [\"evil.test\"]"), "{text}");
    // A host as Django's `%r` shows it: its quote cannot close the quotes
    // (and write fields of its own in the log line), a line separator and
    // a right-to-left override are escapes.
    let text = refused("a\u{2028}\u{202e}1.0.0.721' status=200 x='").await;
    assert!(
        text.contains(
            "Invalid HTTP_HOST header: 'a\\u{2028}\\u{202e}1.0.0.721\\' status=200 x=\\''. The domain name provided is not valid"
        ),
        "{text}"
    );
    // Allowed: exact, any case, with a port, with a trailing dot.
    for host in ["localhost", "LOCALHOST:8000", "localhost."] {
        let r = client
            .request(Method::GET, "/home/")
            .header("host", host)
            .send()
            .await;
        assert_eq!(r.status, 200, "{host}");
    }
}

#[tokio::test]
async fn a_disallowed_host_in_production_gets_the_plain_page() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    for host in [
        "evil.test",
        "localhost.evil.test",
        "exa mple.com",
        "localhost@evil.test",
    ] {
        let r = client
            .request(Method::GET, "/home/")
            .header("host", host)
            .send()
            .await;
        assert_eq!(r.status, 400, "{host}");
        let text = r.text();
        assert!(text.contains("Bad Request (400)"), "{text}");
        assert!(!text.contains("evil"), "{text}");
        assert!(!text.contains("allowed_hosts"), "{text}");
    }
}

#[tokio::test]
async fn a_malformed_host_is_refused_even_with_a_wildcard() {
    let site = Site::raw(&format!(
        "secret_key = \"{SECRET}\"\nallowed_hosts = [\"*\"]\ndebug = true\n"
    ));
    let client = site.client();
    let r = client
        .request(Method::GET, "/home/")
        .header("host", "anything.test")
        .send()
        .await;
    assert_eq!(r.status, 200);
    for host in ["example.com@evil.org", "[::1", "exa mple.com", "a..b", ""] {
        let r = client
            .request(Method::GET, "/home/")
            .header("host", host)
            .header("accept", "text/plain")
            .send()
            .await;
        assert_eq!(r.status, 400, "{host:?}");
        assert!(
            r.text().contains("not valid according to RFC 1034/1035"),
            "{}",
            r.text()
        );
    }
}

#[tokio::test]
async fn debug_with_no_allowed_hosts_accepts_local_names_only() {
    let site = Site::raw(&format!("secret_key = \"{SECRET}\"\ndebug = true\n"));
    let client = site.client();
    for (host, status) in [
        ("localhost", 200),
        ("api.localhost:8000", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:8000", 200),
        ("example.com", 400),
        ("localhost.evil.example", 400),
    ] {
        let r = client
            .request(Method::GET, "/home/")
            .header("host", host)
            .send()
            .await;
        assert_eq!(r.status, status, "{host}");
    }
}

#[tokio::test]
async fn x_forwarded_host_is_only_read_when_configured() {
    let site = Site::new("");
    let r = site
        .client()
        .request(Method::GET, "/home/")
        .header("x-forwarded-host", "evil.test")
        .send()
        .await;
    assert_eq!(r.status, 200);
    let site = Site::new("use_x_forwarded_host = true\n");
    let client = site.client();
    let r = client
        .request(Method::GET, "/home/")
        .header("x-forwarded-host", "evil.test, localhost")
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = client
        .request(Method::GET, "/home/")
        .header("host", "internal.proxy")
        .header("x-forwarded-host", "localhost")
        .send()
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_refused_host_is_logged_as_a_warning_naming_it() {
    let (logs, _guard) = support::capture_logs();
    let site = Site::new("");
    let r = site
        .client()
        .request(Method::GET, "/home/")
        .header("host", "attacker.example")
        .send()
        .await;
    assert_eq!(r.status, 400);
    let log = logs.text();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("attacker.example"), "{log}");
}

// ---------------------------------------------------------------- security

#[tokio::test]
async fn security_headers_are_present_by_default() {
    let site = Site::new("");
    let r = site.client().get("/home/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("strict-transport-security"), None);
    // Error pages get them too.
    let r = site.client().get("/nowhere/").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn headers_a_view_set_are_kept_and_settings_change_them() {
    let site = Site::new(
        "secure_referrer_policy = \"strict-origin\"\nsecure_cross_origin_opener_policy = \"\"\nsecure_content_type_nosniff = false\nx_frame_options = \"sameorigin\"\n",
    );
    let client = site.client();
    let r = client.get("/home/").await;
    assert_eq!(r.header("referrer-policy"), Some("strict-origin"));
    assert_eq!(r.header("cross-origin-opener-policy"), None);
    assert_eq!(r.header("x-content-type-options"), None);
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    let site = Site::new("");
    let r = site.client().get("/own/").await;
    assert_eq!(r.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.headers.get_all("referrer-policy").iter().count(), 1);
}

#[tokio::test]
async fn xframe_exempt_views_can_be_framed() {
    let site = Site::new("");
    let r = site.client().get("/framed/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-frame-options"), None);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn hsts_is_sent_on_secure_requests_only() {
    let site = Site::new(
        "secure_hsts_seconds = 3600\nsecure_hsts_include_subdomains = true\nsecure_hsts_preload = true\nsecure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\n",
    );
    let client = site.client();
    let r = client.get("/home/").await;
    assert_eq!(r.header("strict-transport-security"), None);
    let r = client
        .request(Method::GET, "/home/")
        .header("x-forwarded-proto", "http")
        .send()
        .await;
    assert_eq!(r.header("strict-transport-security"), None);
    let r = client
        .request(Method::GET, "/home/")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=3600; includeSubDomains; preload")
    );
    let r = client.request(Method::GET, "/home/").secure().send().await;
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=3600; includeSubDomains; preload")
    );
    // Without the setting, the proxy header means nothing.
    let site = Site::new("secure_hsts_seconds = 60\n");
    let r = site
        .client()
        .request(Method::GET, "/home/")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(r.header("strict-transport-security"), None);
}

#[tokio::test]
async fn ssl_redirect_keeps_path_and_query_and_respects_exemptions() {
    let site = Site::new(
        "secure_ssl_redirect = true\nsecure_redirect_exempt = [\"^health/$\"]\nsecure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\n",
    );
    let client = site.client();
    let r = client.get("/polls/4/?a=1&b=%20x").await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("https://localhost/polls/4/?a=1&b=%20x")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let r = client
        .request(Method::POST, "/api/")
        .header("host", "LocalHost:8000")
        .send()
        .await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("https://LocalHost:8000/api/"));
    // Exempt: the regex is searched in the path without its leading slash.
    let r = client.get("/health/").await;
    assert_eq!(r.status, 200);
    assert_eq!(client.get("/health/x").await.status, 301);
    // Already secure.
    let r = client
        .request(Method::GET, "/polls/4/")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "question 4");
}

#[tokio::test]
async fn an_invalid_redirect_exemption_fails_the_build() {
    let site = Site::new("secure_redirect_exempt = [\"^health/(\"]\n");
    let error = site.build().unwrap_err();
    assert!(matches!(error, nuages::Error::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("^health/("), "{error}");
    assert!(error.hint().unwrap().contains("regular expressions"));
}

#[tokio::test]
async fn invalid_security_settings_fail_the_build() {
    for (settings, needle) in [
        ("x_frame_options = \"ALLOWALL\"\n", "x_frame_options"),
        ("secure_referrer_policy = \"same-origni\"\n", "same-origni"),
        (
            "secure_proxy_ssl_header = [\"HTTP_X_FORWARDED_PROTO\", \"https\"]\n",
            "X-FORWARDED-PROTO",
        ),
        ("csrf_trusted_origins = [\"example.com\"]\n", "example.com"),
    ] {
        let error = Site::new(settings).build().unwrap_err();
        assert!(error.to_string().contains(needle), "{settings}: {error}");
    }
}

// ---------------------------------------------------------------- sessions

/// A cookie whose value is not ASCII (`city=München`, set by a script of
/// the site or of a neighbour on the domain; browsers send it as UTF-8 in
/// the same `Cookie` line as the others) hides neither the session nor the
/// CSRF cookie: the visitor stays logged in and can still post forms, as
/// with Django.
#[tokio::test]
async fn a_cookie_that_is_not_ascii_hides_neither_the_session_nor_the_csrf_cookie() {
    let site = Site::new("");
    let client = site.client();
    assert_eq!(client.get("/session/incr/").await.text(), "1");
    let page = client.get("/form/").await.text();
    let token = form_token(&page);
    client.set_cookie("city", "M\u{fc}nchen");
    client.set_cookie("z", "\u{2603}");
    assert_eq!(client.get("/session/read/").await.text(), "1");
    let r = client
        .request(Method::POST, "/form/")
        .form(&[("csrfmiddlewaretoken", token.as_str()), ("name", "ann")])
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "got ann");
}

#[tokio::test]
async fn a_session_lives_in_a_signed_cookie_written_only_when_changed() {
    let site = Site::new("");
    let client = site.client();
    let r = client.get("/session/read/").await;
    assert_eq!(r.text(), "none");
    assert_eq!(set_cookie_for(&r, "sessionid"), None);
    assert_eq!(r.header("vary"), Some("Cookie"));

    let r = client.get("/session/incr/").await;
    assert_eq!(r.text(), "1");
    let cookie = set_cookie_for(&r, "sessionid").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(client.get("/session/incr/").await.text(), "2");

    let r = client.get("/session/read/").await;
    assert_eq!(r.text(), "2");
    assert_eq!(set_cookie_for(&r, "sessionid"), None);
    // Views that do not touch the session do not vary on the cookie.
    assert_eq!(client.get("/home/").await.header("vary"), None);

    let r = client.get("/session/logout/").await;
    let removal = set_cookie_for(&r, "sessionid").expect("a removal");
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(client.cookie("sessionid"), None);
    assert_eq!(client.get("/session/read/").await.text(), "none");
}

#[tokio::test]
async fn session_cookie_attributes_follow_the_settings() {
    let site = Site::new(
        "session_cookie_secure = true\nsession_cookie_httponly = false\nsession_cookie_age = 60\n",
    );
    let r = site.client().get("/session/incr/").await;
    let cookie = set_cookie_for(&r, "sessionid").unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(!cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("Max-Age=60"), "{cookie}");
}

#[tokio::test]
async fn csrf_cookie_secure_marks_the_csrf_cookie_secure() {
    let site = Site::new("csrf_cookie_secure = true\n");
    let r = site.client().get("/form/").await;
    let cookie = set_cookie_for(&r, "csrftoken").expect("a csrf cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_tampered_session_cookie_is_an_empty_session() {
    let site = Site::new("");
    let client = site.client();
    client.get("/session/incr/").await;
    client.get("/session/incr/").await;
    let good = client.cookie("sessionid").unwrap();
    let (payload, rest) = good.split_once('.').unwrap();

    // A forged payload with the old signature: {"n": 100}.
    use base64::Engine as _;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"n":100}"#);
    let mut flipped = payload.to_string().into_bytes();
    flipped[0] = if flipped[0] == b'e' { b'f' } else { b'e' };
    for bad in [
        format!("{forged}.{rest}"),
        String::from_utf8(flipped).unwrap(),
        good[..good.len() - 2].to_string(),
        payload.to_string(),
        "garbage".to_string(),
        String::new(),
        "...".to_string(),
    ] {
        client.set_cookie("sessionid", &bad);
        let r = client.get("/session/read/").await;
        assert_eq!(r.status, 200, "{bad}");
        assert_eq!(r.text(), "none", "{bad}");
    }
    // A cookie signed by another site's key is no better.
    let other = Site::raw(
        "secret_key = \"another-site-entirely-with-its-own-long-secret-key\"\nallowed_hosts = [\"localhost\"]\n",
    );
    let other_client = other.client();
    other_client.get("/session/incr/").await;
    client.set_cookie("sessionid", &other_client.cookie("sessionid").unwrap());
    assert_eq!(client.get("/session/read/").await.text(), "none");
    // And the genuine one still works.
    client.set_cookie("sessionid", &good);
    assert_eq!(client.get("/session/read/").await.text(), "2");
}

#[tokio::test]
async fn key_rotation_keeps_sessions_valid_and_re_signs_them() {
    let old = Site::raw(&format!(
        "secret_key = \"{OLD_SECRET}\"\nallowed_hosts = [\"localhost\"]\n"
    ));
    let old_client = old.client();
    old_client.get("/session/incr/").await;
    let old_cookie = old_client.cookie("sessionid").unwrap();

    let rotated = Site::new(&format!("secret_key_fallbacks = [\"{OLD_SECRET}\"]\n"));
    let client = rotated.client();
    client.set_cookie("sessionid", &old_cookie);
    let r = client.get("/session/read/").await;
    assert_eq!(r.text(), "1");
    assert!(
        set_cookie_for(&r, "sessionid").is_some(),
        "a session verified with a fallback key is re-signed"
    );
    let resigned = client.cookie("sessionid").unwrap();
    assert_ne!(resigned, old_cookie);

    // Once the fallback is dropped, only the re-signed cookie is valid.
    let new_only = Site::new("");
    let client = new_only.client();
    client.set_cookie("sessionid", &resigned);
    assert_eq!(client.get("/session/incr/").await.text(), "2");
    client.set_cookie("sessionid", &old_cookie);
    assert_eq!(client.get("/session/read/").await.text(), "none");
}

// ---------------------------------------------------------------- csrf

#[tokio::test]
async fn a_form_page_carries_a_masked_token_and_sets_the_cookie() {
    let site = Site::new("");
    let client = site.client();
    let r = client.get("/form/").await;
    assert_eq!(r.status, 200);
    let page = r.text();
    assert!(
        page.contains("<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\""),
        "{page}"
    );
    let token = form_token(&page);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()), "{token}");
    let cookie = set_cookie_for(&r, "csrftoken").expect("a csrf cookie");
    for attribute in ["SameSite=Lax", "Path=/", "Max-Age=31449600"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("HttpOnly"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    let secret = client.csrf_token().unwrap();
    assert_eq!(secret.len(), 32);
    assert!(
        !page.contains(&secret),
        "the page must not carry the secret"
    );
    // The next render has another token for the same cookie, which is not
    // re-set; the page varies on the cookie all the same, so that a shared
    // cache never hands this visitor's token to another (Django's
    // `get_token` does the same).
    let r = client.get("/form/").await;
    assert_ne!(form_token(&r.text()), token);
    assert_eq!(set_cookie_for(&r, "csrftoken"), None);
    assert_eq!(r.header("vary"), Some("Cookie"));
    assert_eq!(client.csrf_token().unwrap(), secret);
    // A page without the token does not vary on the cookie.
    assert_eq!(client.get("/home/").await.header("vary"), None);
}

/// Of several `csrftoken` cookies the last counts, as Django's cookie parser
/// keeps the last: a browser sends this site's own cookie, set at login,
/// after one planted earlier for a parent domain (cookie tossing).
#[tokio::test]
async fn of_several_csrf_cookies_the_last_counts() {
    let site = Site::new("");
    let visitor = site.client();
    let token = form_token(&visitor.get("/form/").await.text());
    let own = visitor.csrf_token().unwrap();
    let attacker = site.client();
    attacker.get("/form/").await;
    let planted = attacker.csrf_token().unwrap();
    let browser = site.client();
    for (cookies, status) in [
        (format!("csrftoken={planted}; csrftoken={own}"), 200),
        (format!("csrftoken={own}; csrftoken={planted}"), 403),
    ] {
        let r = browser
            .request(Method::POST, "/form/")
            .header("cookie", &cookies)
            .form(&[("csrfmiddlewaretoken", token.as_str()), ("name", "ann")])
            .send()
            .await;
        assert_eq!(r.status, status, "{cookies}: {}", r.text());
    }
}

#[tokio::test]
async fn a_post_without_the_cookie_is_refused() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    let r = client
        .request(Method::POST, "/form/")
        .form(&[("name", "x"), ("csrfmiddlewaretoken", &"a".repeat(64))])
        .header("accept", "text/plain")
        .send()
        .await;
    assert_eq!(r.status, 403);
    let text = r.text();
    assert!(
        text.contains("CSRF verification failed. Request aborted."),
        "{text}"
    );
    assert!(text.contains("CSRF cookie not set."), "{text}");
    // The refusal gave the client a cookie: the retry can succeed.
    assert!(client.csrf_token().is_some());
}

#[tokio::test]
async fn missing_bad_and_good_tokens() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    let token = form_token(&client.get("/form/").await.text());
    let post = |fields: Vec<(&'static str, String)>| {
        let fields: Vec<(&str, String)> = fields;
        let client = &client;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client
                .request(Method::POST, "/form/")
                .form(&pairs)
                .header("accept", "text/plain")
                .send()
                .await
        }
    };
    let r = post(vec![("name", "ann".into())]).await;
    assert_eq!(r.status, 403);

    let r = post(vec![
        ("name", "ann".into()),
        ("csrfmiddlewaretoken", "A".repeat(64)),
    ])
    .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("CSRF token incorrect."), "{}", r.text());

    let r = post(vec![
        ("name", "ann".into()),
        ("csrfmiddlewaretoken", "short".into()),
    ])
    .await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("CSRF token has incorrect length."),
        "{}",
        r.text()
    );

    let r = post(vec![
        ("name", "ann".into()),
        ("csrfmiddlewaretoken", token.clone()),
    ])
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "got ann", "the view still reads the form body");

    // Sent twice, the last token is the one checked (as Django's `POST.get`).
    let r = post(vec![
        ("name", "ann".into()),
        ("csrfmiddlewaretoken", token.clone()),
        ("csrfmiddlewaretoken", "A".repeat(64)),
    ])
    .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("CSRF token incorrect."), "{}", r.text());
    let r = post(vec![
        ("name", "ann".into()),
        ("csrfmiddlewaretoken", "A".repeat(64)),
        ("csrfmiddlewaretoken", token.clone()),
    ])
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // A token of another client's secret is incorrect for this one.
    let stranger = site.client();
    let foreign = form_token(&stranger.get("/form/").await.text());
    let r = post(vec![
        ("name", "ann".into()),
        ("csrfmiddlewaretoken", foreign),
    ])
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn the_header_carries_the_token_for_javascript() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    client.get("/home/").await;
    let r = client
        .request(Method::POST, "/api/")
        .body("{\"a\":1}")
        .send()
        .await;
    assert_eq!(r.status, 403);
    // The cookie's value, as JavaScript reads it.
    let r = client
        .request(Method::POST, "/api/")
        .body("{\"a\":1}")
        .csrf()
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "api {\"a\":1}");
    // A masked token from the CsrfToken extractor, on PUT, PATCH and DELETE too.
    let masked = client.get("/token/").await.text();
    assert_eq!(masked.len(), 64);
    for method in [Method::PUT, Method::PATCH, Method::DELETE] {
        let r = client
            .request(method.clone(), "/token/")
            .header("X-CSRFToken", &masked)
            .send()
            .await;
        assert_eq!(r.status, 200, "{method}");
        let r = client.request(method.clone(), "/token/").send().await;
        assert_eq!(r.status, 403, "{method}");
    }
    let r = client
        .request(Method::POST, "/api/")
        .header("X-CSRFToken", &"B".repeat(32))
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("CSRF token incorrect."));
}

#[tokio::test]
async fn a_multipart_form_carries_the_token_too() {
    let site = Site::new("");
    let client = site.client();
    let token = form_token(&client.get("/form/").await.text());
    let boundary = "XyZboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{token}\r\n\
--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile-content\r\n\
--{boundary}--\r\n"
    );
    let r = client
        .request(Method::POST, "/upload/")
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body.clone())
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "upload has file: true");
    let r = client
        .request(Method::POST, "/upload/")
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body.replace(&token, &"C".repeat(64)))
        .send()
        .await;
    assert_eq!(r.status, 403);
    // A second token field after the first: the last one is checked.
    let closing = format!("--{boundary}--\r\n");
    let second = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{}\r\n{closing}",
        "C".repeat(64)
    );
    let r = client
        .request(Method::POST, "/upload/")
        .header(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body.replace(&closing, &second))
        .send()
        .await;
    assert_eq!(r.status, 403);
    // The token as an uploaded file is no token (Django reads it from
    // `request.POST`, which holds no file), however the file name is
    // given: the form drops all of these as files.
    for file_name in [
        "filename=\"t.txt\"",
        "filename*=UTF-8''t.txt",
        "FILENAME=\"t.txt\"",
        "filename*=bogus",
    ] {
        let as_file = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"; {file_name}\r\nContent-Type: text/plain\r\n\r\n{token}\r\n{closing}"
        );
        let r = client
            .request(Method::POST, "/upload/")
            .header(
                "content-type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .body(as_file)
            .send()
            .await;
        assert_eq!(r.status, 403, "{file_name}");
    }
}

/// A multipart body whose `Content-Type` names no usable boundary cannot be
/// read, so it is a bad request (400, as Django's `MultiPartParserError`
/// and as the view's own reading of it), not a CSRF failure: the token
/// field in it, or the header's, is never looked for.
#[tokio::test]
async fn a_multipart_form_without_a_boundary_is_a_bad_request() {
    let site = Site::new("debug = true\n");
    let client = site.client();
    let body = |token: &str| {
        format!(
            "--XX\r\nContent-Disposition: form-data; name=\"csrfmiddlewaretoken\"\r\n\r\n{token}\r\n--XX--\r\n"
        )
    };
    let body = body(&form_token(&client.get("/form/").await.text()));
    for content_type in [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; charset=utf-8",
    ] {
        let r = client
            .request(Method::POST, "/upload/")
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await;
        assert_eq!(r.status, 400, "{content_type}: {}", r.text());
        assert!(
            r.text().contains("multipart form without a boundary"),
            "{content_type}: {}",
            r.text()
        );
        let r = client
            .request(Method::POST, "/upload/")
            .header("content-type", content_type)
            .body(body.clone())
            .csrf()
            .send()
            .await;
        assert_eq!(r.status, 400, "{content_type} with the header's token");
    }
    // In production the page says only that the request was bad.
    let site = Site::new("");
    let client = site.client();
    client.get("/form/").await;
    let r = client
        .request(Method::POST, "/upload/")
        .header("content-type", "multipart/form-data")
        .body(body)
        .csrf()
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("Bad Request (400)"), "{}", r.text());
    assert!(!r.text().contains("boundary"), "{}", r.text());
}

#[tokio::test]
async fn safe_methods_are_not_checked() {
    let site = Site::new("");
    let client = site.client();
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        let r = client
            .request(method.clone(), "/home/")
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await;
        assert_ne!(r.status, 403, "{method}");
    }
}

/// The `Origin` or `Referer` a refusal names is written with what is not
/// printable ASCII percent-encoded, in the warning and on the page: a
/// client's U+2028 (a line end to some log readers), U+0085 or U+202E
/// (which reverses the text shown) never reaches the log as it came.
#[tokio::test]
async fn a_refused_origin_or_referer_is_logged_percent_encoded() {
    let site =
        Site::new("debug = true\nsecure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\n");
    let client = site.client();
    client.get("/home/").await;
    let (logs, guard) = support::capture_logs();
    let mut pages = Vec::new();
    for header in ["origin", "referer"] {
        let r = client
            .request(Method::POST, "/api/")
            .header("x-forwarded-proto", "https")
            .header("accept", "text/plain")
            .header(header, "https://evil\u{2028}.example\u{85}\u{202e}/")
            .csrf()
            .send()
            .await;
        assert_eq!(r.status, 403);
        pages.push(r.text());
    }
    drop(guard);
    let log = logs.text();
    for (page, check) in pages.iter().zip(["Origin", "Referer"]) {
        let named = format!(
            "{check} checking failed - https://evil%E2%80%A8.example%C2%85%E2%80%AE/ does not match"
        );
        assert!(log.contains(&named), "{log}");
        assert!(page.contains(&named), "{page}");
    }
    for raw in ["\u{2028}", "\u{85}", "\u{202e}"] {
        assert!(!log.contains(raw), "{raw:?} in {log}");
    }
}

#[tokio::test]
async fn a_cross_origin_secure_post_is_refused_and_a_trusted_one_accepted() {
    let site = Site::new(
        "debug = true\nsecure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\ncsrf_trusted_origins = [\"https://*.partner.example\", \"https://shop.example:8443\"]\n",
    );
    let client = site.client();
    client.get("/home/").await;
    let secure_post = |origin: Option<&'static str>, referer: Option<&'static str>| {
        let client = &client;
        async move {
            let mut request = client
                .request(Method::POST, "/api/")
                .header("x-forwarded-proto", "https")
                .header("accept", "text/plain")
                .csrf();
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            if let Some(referer) = referer {
                request = request.header("referer", referer);
            }
            request.send().await
        }
    };
    let r = secure_post(Some("https://evil.example"), None).await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains(
            "Origin checking failed - https://evil.example does not match any trusted origins."
        ),
        "{}",
        r.text()
    );
    // Its own origin, but over plain http while the request is secure.
    assert_eq!(
        secure_post(Some("http://localhost"), None).await.status,
        403
    );
    assert_eq!(secure_post(Some("null"), None).await.status, 403);
    for origin in [
        "https://localhost",
        "https://app.partner.example",
        "https://partner.example",
        "https://shop.example:8443",
    ] {
        let r = secure_post(Some(origin), None).await;
        assert_eq!(r.status, 200, "{origin}: {}", r.text());
    }
    assert_eq!(
        secure_post(Some("https://shop.example"), None).await.status,
        403
    );
    assert_eq!(
        secure_post(Some("https://evilpartner.example"), None)
            .await
            .status,
        403
    );

    // No Origin: the Referer decides.
    let r = secure_post(None, None).await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("Referer checking failed - no Referer."));
    let r = secure_post(None, Some("http://localhost/form/")).await;
    assert!(r.text().contains("Referer is insecure"), "{}", r.text());
    let r = secure_post(None, Some("https://evil.example/page")).await;
    assert!(
        r.text().contains(
            "Referer checking failed - https://evil.example/page does not match any trusted origins."
        ),
        "{}",
        r.text()
    );
    assert_eq!(
        secure_post(None, Some("https://localhost/form/"))
            .await
            .status,
        200
    );
    assert_eq!(
        secure_post(None, Some("https://a.partner.example/x"))
            .await
            .status,
        200
    );
    // Plain http requests without Origin do not need a Referer.
    let r = client.request(Method::POST, "/api/").csrf().send().await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn sec_fetch_site_cross_site_is_refused() {
    let site = Site::new("debug = true\ncsrf_trusted_origins = [\"https://partner.example\"]\n");
    let client = site.client();
    client.get("/home/").await;
    let r = client
        .request(Method::POST, "/api/")
        .header("sec-fetch-site", "cross-site")
        .header("accept", "text/plain")
        .csrf()
        .send()
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("Sec-Fetch-Site is cross-site"),
        "{}",
        r.text()
    );
    for site_value in ["same-origin", "same-site", "none"] {
        let r = client
            .request(Method::POST, "/api/")
            .header("sec-fetch-site", site_value)
            .csrf()
            .send()
            .await;
        assert_eq!(r.status, 200, "{site_value}");
    }
    // A trusted origin may post cross-site.
    let r = client
        .request(Method::POST, "/api/")
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://partner.example")
        .csrf()
        .send()
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn csrf_exempt_views_skip_the_check_and_only_them() {
    let site = Site::new("");
    let client = site.client();
    let r = client
        .request(Method::POST, "/hooks/payment/")
        .body("paid")
        .header("origin", "https://payments.example")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hook payment paid");
    // `hooks/admin/` also matches the exempt pattern `hooks/<slug:name>/`,
    // but it is served by its own, protected, view, listed first.
    let r = client.request(Method::POST, "/hooks/admin/").send().await;
    assert_eq!(r.status, 403);
    // The exempt view still answers 405 to other methods.
    assert_eq!(client.get("/hooks/payment/").await.status, 405);
}

#[tokio::test]
async fn production_csrf_failures_say_what_django_says_and_nothing_more() {
    // As Django's csrf_failure view without DEBUG: the check failed, and
    // what a visitor can do about a missing cookie or Referer; no token,
    // origin, path or setting.
    let site = Site::new("debug = false\n");
    let r = site.client().request(Method::POST, "/api/").send().await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let page = r.text();
    assert!(page.contains("<h1>Forbidden (403)</h1>"), "{page}");
    assert!(
        page.contains("<p>CSRF verification failed. Request aborted.</p>"),
        "{page}"
    );
    assert!(
        page.contains("this site requires a CSRF cookie when submitting forms"),
        "{page}"
    );
    assert!(
        page.contains("More information is available with debug = true."),
        "{page}"
    );
    // With the cookie but a wrong token: the failure and nothing of why.
    let client = site.client();
    client.set_cookie("csrftoken", &"a".repeat(32));
    let r = client
        .request(Method::POST, "/api/")
        .header("x-csrftoken", &"b".repeat(32))
        .send()
        .await;
    assert_eq!(r.status, 403);
    let page = r.text();
    assert!(
        page.contains("CSRF verification failed. Request aborted."),
        "{page}"
    );
    for detail in ["cookie", "Referer", "token", "/api/", "aaaa", "bbbb"] {
        assert!(!page.contains(detail), "{detail} in {page}");
    }
}

// ---------------------------------------------------------------- secret key

#[tokio::test]
async fn signing_middleware_refuses_to_build_without_a_secret_key() {
    for middleware in [
        "",
        "middleware = [\"session\"]\n",
        "middleware = [\"csrf\"]\n",
    ] {
        let site = Site::raw(&format!("allowed_hosts = [\"localhost\"]\n{middleware}"));
        let error = site.build().unwrap_err();
        assert!(
            matches!(
                error,
                nuages::Error::Settings(nuages::conf::SettingsError::MissingSecretKey { .. })
            ),
            "{middleware}: {error:?}"
        );
        assert!(error.to_string().contains("secret_key"), "{error}");
        assert!(error.hint().unwrap().contains("SECRET_KEY"));
    }
    let site = Site::raw("secret_key = \"   \"\n");
    assert!(site.build().is_err());
    // What does not sign runs without a key.
    let site = Site::raw(
        "allowed_hosts = [\"localhost\"]\nmiddleware = [\"security\", \"common\", \"xframe\"]\n",
    );
    assert_eq!(site.client().get("/home/").await.status, 200);
}

#[tokio::test]
async fn csrf_exempt_holds_when_mounted_under_a_prefix() {
    use tower::ServiceExt;
    let site = Site::new("");
    let nested = axum::Router::new().nest_service("/app", site.build().unwrap());
    let post = |path: &str| {
        http::Request::builder()
            .method("POST")
            .uri(path)
            .header("host", "localhost")
            .body(axum::body::Body::from("x"))
            .unwrap()
    };
    // The exemption is the route's, whatever prefix the application is
    // mounted under; the view next to it stays protected.
    let response = nested
        .clone()
        .oneshot(post("/app/hooks/payment/"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = nested.oneshot(post("/app/hooks/admin/")).await.unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn the_csrf_cookie_goes_out_only_with_pages_that_may_carry_the_token() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    let plain = client.get("/home/").await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        set_cookie_for(&plain, "csrftoken"),
        None,
        "no form, no cookie"
    );
    let form = client.get("/form/").await;
    assert!(
        set_cookie_for(&form, "csrftoken").is_some(),
        "a rendered form sets the cookie"
    );
    let fresh = site.client();
    let asked = fresh.get("/token/").await;
    assert!(
        set_cookie_for(&asked, "csrftoken").is_some(),
        "the CsrfToken extractor sets it"
    );
}

/// Django's lazy `get_token`: the secret is made only when a page asks for
/// it, whatever else the page renders.
#[tokio::test]
async fn a_template_without_the_token_sets_no_csrf_cookie() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    let plain = client.get("/plain/").await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.text(), "<p>Hello visitor</p>");
    assert_eq!(set_cookie_for(&plain, "csrftoken"), None);
    assert!(client.csrf_token().is_none());
    // A token rendered by the template it extends counts, and it posts.
    let inherited = client.get("/inherited/").await;
    assert!(set_cookie_for(&inherited, "csrftoken").is_some());
    let token = form_token(&inherited.text());
    let r = client
        .request(Method::POST, "/form/")
        .form(&[("name", "x"), ("csrfmiddlewaretoken", &token)])
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "got x");
    // With the cookie held, a plain page still sets nothing.
    let again = client.get("/plain/").await;
    assert_eq!(set_cookie_for(&again, "csrftoken"), None);
}

/// The token is made when the template calls for it, not because its text
/// names it: a branch not taken makes no secret and sets no cookie.
#[tokio::test]
async fn a_token_in_a_branch_not_taken_sets_no_csrf_cookie() {
    let site = Site::new("debug = false\n");
    let client = site.client();
    let without = client.get("/maybe/").await;
    assert_eq!(without.status, 200);
    assert_eq!(without.text(), "<p>Hi</p>");
    assert_eq!(set_cookie_for(&without, "csrftoken"), None);
    assert!(client.csrf_token().is_none());
    let with = client.get("/maybe/?form=1").await;
    assert_eq!(with.status, 200);
    assert!(set_cookie_for(&with, "csrftoken").is_some());
    let token = form_token(&with.text());
    let r = client
        .request(Method::POST, "/form/")
        .form(&[("name", "y"), ("csrfmiddlewaretoken", &token)])
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The variable `{{ csrf_token }}` holds a token that posts too.
    let script = Site::new("debug = false\n").client();
    let page = script.get("/script/").await;
    assert!(set_cookie_for(&page, "csrftoken").is_some());
    let text = page.text();
    let token = text
        .split('"')
        .nth(1)
        .filter(|t| t.len() == 64)
        .unwrap_or_else(|| panic!("{text}"));
    let r = script
        .request(Method::POST, "/form/")
        .form(&[("name", "z"), ("csrfmiddlewaretoken", token)])
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A forged token is still refused.
    let r = client
        .request(Method::POST, "/form/")
        .form(&[
            ("name", "y"),
            ("csrfmiddlewaretoken", "x".repeat(64).as_str()),
        ])
        .send()
        .await;
    assert_eq!(r.status, 403);
}
