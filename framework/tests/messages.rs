//! Messages (Django's contrib.messages) through the test client: added by a
//! view, shown once by the next page that renders them, in the session or
//! in a signed cookie.

mod support;

use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};

const SECRET: &str = "test-secret-key-for-the-messages-middleware-0123456789";

const SHOW: &str = "<ul>{% for message in messages %}<li class=\"{{ message.tags }}\">{{ message.message }}</li>{% endfor %}</ul>";

async fn add(messages: Messages) -> Response {
    messages.success("Saved <script>alert(1)</script>");
    messages.warning("Second");
    messages.debug("not recorded at the default level");
    redirect("/show/")
}

async fn show(templates: Templates) -> Result<Html<String>> {
    templates.render("show.html", context! {})
}

async fn levels(templates: Templates) -> Result<Html<String>> {
    templates.render("levels.html", context! {})
}

async fn plain(templates: Templates) -> Result<Html<String>> {
    templates.render("plain.html", context! {})
}

async fn add_and_show(messages: Messages, templates: Templates) -> Result<Html<String>> {
    messages.info("Right away");
    templates.render("child.html", context! {})
}

async fn add_after_show(messages: Messages, templates: Templates) -> Result<Html<String>> {
    let page = templates.render("show.html", context! {});
    messages.error("Next time");
    page
}

/// Forty messages of about a hundred characters: over 4 KB together.
async fn add_many(messages: Messages) -> Response {
    for n in 0..40 {
        messages.info(format!("message {n:02} {}", "x".repeat(90)));
    }
    redirect("/show/")
}

async fn remember(session: Session) -> Result<&'static str> {
    session.insert("visited", true)?;
    Ok("remembered")
}

async fn visited(session: Session) -> String {
    format!(
        "visited: {}",
        session.get::<bool>("visited").unwrap_or(false)
    )
}

fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("remember/", remember, "remember")
        .path("visited/", visited, "visited")
        .path("add/", add, "add")
        .path("add-many/", add_many, "add_many")
        .path("show/", show, "show")
        .path("plain/", plain, "plain")
        .path("levels/", levels, "levels")
        .path("add-and-show/", add_and_show, "add_and_show")
        .path("add-after-show/", add_after_show, "add_after_show")
}

fn site(settings: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("templates/show.html", SHOW);
    write(
        "templates/base.html",
        &format!("{SHOW}{{% block body %}}{{% endblock %}}"),
    );
    write(
        "templates/child.html",
        "{% extends \"base.html\" %}{% block body %}child{% endblock %}",
    );
    write("templates/plain.html", "<p>no messages here</p>");
    write(
        "templates/levels.html",
        "{% for message in messages %}{{ message.level }} {{ message.level_tag }} {{ message.tags }};{% endfor %}",
    );
    write(
        "settings.toml",
        &format!("secret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\n{settings}"),
    );
    dir
}

fn build(dir: &std::path::Path) -> nuages::Result<Application> {
    let settings = nuages::conf::SettingsLoader::new(dir.join("settings.toml"))
        .env(Vec::<(String, String)>::new())
        .load()?;
    Application::new(Project::new("messages", dir).urls(urlpatterns), settings)
}

const SHOWN: &str = "<ul><li class=\"success\">Saved &lt;script&gt;alert(1)&lt;/script&gt;</li><li class=\"warning\">Second</li></ul>";

/// add → redirect → shown once, in order, escaped → gone on reload.
async fn shown_once(client: &Client) {
    let response = client.get("/add/").await;
    assert_eq!(response.status, 302);
    // A page that does not render them leaves them waiting.
    assert_eq!(
        client.get("/plain/").await.text(),
        "<p>no messages here</p>"
    );
    let page = client.get("/show/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text(), SHOWN);
    assert_eq!(client.get("/show/").await.text(), "<ul></ul>", "shown once");
}

#[tokio::test]
async fn session_storage_shows_messages_once_on_the_next_page() {
    let dir = site("");
    let client = Client::new(build(dir.path()).unwrap());
    shown_once(&client).await;
    assert!(
        client.cookie("sessionid").is_none(),
        "the emptied session is removed"
    );
    client.get("/add/").await;
    assert!(client.cookie("sessionid").is_some(), "kept in the session");
    assert!(client.cookie("messages").is_none());
    assert_eq!(client.get("/show/").await.text(), SHOWN);

    // A page that shows no messages leaves the session alone: no new cookie.
    client.get("/remember/").await;
    let page = client.get("/show/").await;
    assert_eq!(page.text(), "<ul></ul>");
    assert!(page.header("set-cookie").is_none(), "{:?}", page.headers);

    // Added and rendered in the same request (through an extended base):
    // shown, and not kept.
    assert_eq!(
        client.get("/add-and-show/").await.text(),
        "<ul><li class=\"info\">Right away</li></ul>child"
    );
    assert_eq!(client.get("/show/").await.text(), "<ul></ul>");

    // Each message's level: Django's number and tag.
    client.get("/add/").await;
    assert_eq!(
        client.get("/levels/").await.text(),
        "25 success success;30 warning warning;"
    );

    // Added after the render: shown by the next page.
    assert_eq!(client.get("/add-after-show/").await.text(), "<ul></ul>");
    assert_eq!(
        client.get("/show/").await.text(),
        "<ul><li class=\"error\">Next time</li></ul>"
    );
}

/// In debug, a template edited to show the messages shows them on the
/// next page (it showed none, once, the messages kept for a later page:
/// what it names was read before the edit was loaded).
#[tokio::test]
async fn a_template_edited_in_debug_to_show_messages_shows_them_at_once() {
    let dir = site("debug = true\n");
    let client = Client::new(build(dir.path()).unwrap());
    assert_eq!(client.get("/add/").await.status, 302);
    assert_eq!(
        client.get("/plain/").await.text(),
        "<p>no messages here</p>"
    );
    std::fs::write(dir.path().join("templates/plain.html"), SHOW).unwrap();
    assert_eq!(client.get("/plain/").await.text(), SHOWN);
}

#[tokio::test]
async fn cookie_storage_shows_messages_once_and_ignores_a_tampered_cookie() {
    let dir = site("message_storage = \"cookie\"\nsession_cookie_secure = true\n");
    let client = Client::new(build(dir.path()).unwrap());
    let response = client.get("/add/").await;
    let set_cookie = messages_cookie(&response);
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(client.cookie("sessionid").is_none(), "not in the session");
    let page = client.get("/show/").await;
    assert_eq!(page.text(), SHOWN);
    assert!(client.cookie("messages").is_none(), "removed once shown");
    assert_eq!(client.get("/show/").await.text(), "<ul></ul>");

    // A cookie changed by the client: no messages, no error.
    client.get("/add/").await;
    let value = client.cookie("messages").unwrap();
    let tampered = format!(
        "{}{}",
        if value.starts_with('W') { "X" } else { "W" },
        &value[1..]
    );
    client.set_cookie("messages", &tampered);
    let page = client.get("/show/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text(), "<ul></ul>");
}

/// In a signed cookie (the default session engine, or cookie storage),
/// messages shown once come back for a client that sends the old cookie
/// again, as with Django's cookie-based sessions; the cache engine keeps
/// them on the server, where showing them used them up.
#[tokio::test]
async fn an_old_signed_cookie_sent_again_shows_its_messages_again() {
    for (settings, cookie, replayed) in [
        ("", "sessionid", SHOWN),
        ("message_storage = \"cookie\"\n", "messages", SHOWN),
        ("session_engine = \"cache\"\n", "sessionid", "<ul></ul>"),
    ] {
        let dir = site(settings);
        let client = Client::new(build(dir.path()).unwrap());
        client.get("/add/").await;
        let old = client.cookie(cookie).expect(cookie);
        assert_eq!(client.get("/show/").await.text(), SHOWN, "{settings}");
        assert_eq!(client.get("/show/").await.text(), "<ul></ul>", "{settings}");
        client.set_cookie(cookie, &old);
        assert_eq!(client.get("/show/").await.text(), replayed, "{settings}");
    }
}

#[tokio::test]
async fn a_cookie_keeps_the_newest_messages_that_fit_in_2048_bytes() {
    // A browser drops a cookie over 4096 bytes, and every message with it;
    // as Django's cookie storage, the oldest are left out instead.
    let dir = site("message_storage = \"cookie\"\n");
    let client = Client::new(build(dir.path()).unwrap());
    let (logs, guard) = support::capture_logs();
    let response = client.get("/add-many/").await;
    drop(guard);
    assert_eq!(response.status, 302);
    let set_cookie = messages_cookie(&response);
    assert!(
        !set_cookie.contains("Secure"),
        "Secure only with session_cookie_secure: {set_cookie}"
    );
    let value = client.cookie("messages").expect("a messages cookie");
    assert!(value.len() <= 2048, "{} bytes", value.len());
    let shown = newest_of_add_many_shown(&client).await;
    // The log says how many were left out.
    let logs = logs.text();
    assert!(
        logs.contains(&format!("{} of 40 messages not kept", 40 - shown)),
        "{logs}"
    );
}

/// With the defaults (messages in the session, the session in a signed
/// cookie), messages never shown piled up in the session cookie until a
/// browser dropped it, and the session (the login) with it; as in the
/// messages cookie, they take at most 2048 bytes of it, the oldest left out.
#[tokio::test]
async fn messages_in_a_session_cookie_keep_it_under_what_browsers_keep() {
    let dir = site("");
    let client = Client::new(build(dir.path()).unwrap());
    assert_eq!(client.get("/remember/").await.text(), "remembered");
    let (logs, guard) = support::capture_logs();
    for _ in 0..3 {
        assert_eq!(client.get("/add-many/").await.status, 302);
    }
    drop(guard);
    let cookie = client.cookie("sessionid").expect("a session cookie");
    assert!(cookie.len() < 4000, "{} bytes", cookie.len());
    assert_eq!(
        client.get("/visited/").await.text(),
        "visited: true",
        "the session kept its other values"
    );
    newest_of_add_many_shown(&client).await;
    assert!(logs.text().contains("messages not kept"), "{}", logs.text());
}

#[tokio::test]
async fn session_storage_without_the_session_middleware_is_refused_naming_the_fix() {
    let dir = site("middleware = [\"common\", \"messages\"]\n");
    let Err(error) = build(dir.path()) else {
        panic!("refused at start");
    };
    assert!(
        error
            .to_string()
            .contains("\"session\" is not in the middleware setting before it"),
        "{error}"
    );
    let hint = error.hint().unwrap();
    assert!(hint.contains("message_storage = \"cookie\""), "{hint}");

    // Without the middleware at all, the extractor says what to add.
    let dir = site("middleware = [\"session\"]\n");
    let client = Client::new(build(dir.path()).unwrap());
    assert_eq!(client.get("/add/").await.status, 500);
    let dir = site("debug = true\nmiddleware = [\"session\"]\n");
    let client = Client::new(build(dir.path()).unwrap());
    let response = client.get("/add/").await;
    assert_eq!(response.status, 500);
    let page = response.text();
    assert!(
        page.contains("the Messages extractor needs the &quot;messages&quot; middleware")
            && page.contains("add &quot;messages&quot; to the middleware setting"),
        "{page}"
    );
}

/// How many of `add_many`'s messages the next page shows: at least ten,
/// the newest, in order.
async fn newest_of_add_many_shown(client: &Client) -> usize {
    let page = client.get("/show/").await.text();
    let shown: Vec<&str> = page
        .split("<li class=\"info\">message ")
        .skip(1)
        .map(|item| &item[..2])
        .collect();
    assert!(shown.len() >= 10, "{page}");
    let newest: Vec<String> = (40 - shown.len()..40).map(|n| format!("{n:02}")).collect();
    assert_eq!(shown, newest, "the newest, in order");
    shown.len()
}

/// The `Set-Cookie` line of the `messages` cookie in `response`.
fn messages_cookie(response: &nuages::test::TestResponse) -> String {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("messages="))
        .expect("a messages cookie")
        .to_string()
}
