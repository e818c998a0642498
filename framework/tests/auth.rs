//! The `auth` middleware through the test client, on a real SQLite file:
//! login rotates the session key (and the CSRF secret, even when a
//! project's middleware asked for the user before the `csrf` step),
//! logout ends the session on the server, the user is loaded only when
//! asked, required logins redirect with
//! `next`, missing rights answer 403, templates see `user` and `perms`,
//! and a password change logs the user's other sessions out. The login and
//! logout views of `nuages::auth::urls()`: the form, a wrong password or
//! an unknown username told alike (an overlong one too, unnormalized),
//! `next` followed only on this site,
//! logout by POST only. The failed-login throttle (per username, per
//! client address, `X-Forwarded-For` only from `trusted_proxies`), and the
//! password change view's errors and its end.

mod support;

use std::collections::{BTreeMap, HashMap};

use nuages::auth::{
    Auth, CurrentUser, LoginRequired, NewUser, PasswordHashers, PermissionRequired,
    RequiredPermission, StaffRequired, User,
};
use nuages::axum::extract::FromRequestParts;
use nuages::conf::{DatabaseSettings, SessionEngine, Settings};
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};

async fn pool(application: &Application) -> sqlx::AnyPool {
    application.databases().get("default").await.unwrap()
}

/// `/login/?user=NAME`: what the login view does once the password is checked.
async fn login(
    auth: Auth,
    Db(pool): Db,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<String> {
    let mut user = User::get_by_username(&pool, &q["user"]).await?.unwrap();
    auth.login(&mut user).await?;
    Ok(format!("logged in {}", user.username))
}

async fn logout(auth: Auth) -> &'static str {
    auth.logout();
    "logged out"
}

async fn whoami(CurrentUser(user): CurrentUser) -> String {
    user.map_or("anonymous".into(), |u| u.username)
}

async fn private(LoginRequired(user): LoginRequired) -> String {
    format!("private page of {}", user.username)
}

async fn staff(StaffRequired(user): StaffRequired) -> String {
    format!("staff page of {}", user.username)
}

struct CanVote;
impl RequiredPermission for CanVote {
    const PERMISSION: &'static str = "polls.vote";
}

async fn vote(PermissionRequired(user, _): PermissionRequired<CanVote>) -> String {
    format!("{} may vote", user.username)
}

/// A page that never asks who is there.
async fn plain(session: Session) -> String {
    format!("plain, session empty: {}", session.is_empty())
}

/// `/cart/?add=ITEM`: what an anonymous visitor keeps in the session.
async fn cart(session: Session, Query(query): Query<HashMap<String, String>>) -> Result<String> {
    if let Some(item) = query.get("add") {
        session.insert("cart", item)?;
    }
    Ok(format!(
        "cart: {}",
        session.get::<String>("cart").unwrap_or_default()
    ))
}

/// `/numeric-id/`: the session's user id rewritten as a JSON number, as a
/// project's own code may store it (`session.insert(AUTH_USER_KEY, 42)`),
/// which the auth middleware reads as the same login.
async fn numeric_id(session: Session) -> Result<&'static str> {
    let id: i64 = session
        .get::<String>(nuages::sessions::AUTH_USER_KEY)
        .unwrap()
        .parse()
        .unwrap();
    session.insert(nuages::sessions::AUTH_USER_KEY, id)?;
    Ok("rewritten")
}

/// `/forge-login/?id=N`: the user id written into the session by hand,
/// without the session auth hash that `Auth::login` stores.
async fn forge_login(
    session: Session,
    Query(query): Query<HashMap<String, String>>,
) -> Result<&'static str> {
    session.insert(nuages::sessions::AUTH_USER_KEY, &query["id"])?;
    Ok("written")
}

/// `/password/?to=NEW`: changes the password and keeps this session.
async fn change_password(
    auth: Auth,
    Db(pool): Db,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<&'static str> {
    let mut user = auth.user().await?.unwrap();
    user.set_password(&pool, &fast_hashers(), &q["to"]).await?;
    auth.update_session_auth_hash(&user)?;
    Ok("changed")
}

/// `/set-password/?of=NAME&to=NEW`: what a staff page does that changes
/// another user's password (Django's admin calls `update_session_auth_hash`
/// with the user whose password it changed), then who this request is.
async fn set_password_of(
    auth: Auth,
    Db(pool): Db,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<String> {
    let mut user = User::get_by_username(&pool, &q["of"]).await?.unwrap();
    user.set_password(&pool, &fast_hashers(), &q["to"]).await?;
    auth.update_session_auth_hash(&user)?;
    let me = auth
        .user()
        .await?
        .map_or("anonymous".into(), |u| u.username);
    Ok(format!("changed, this request is {me}"))
}

async fn page(templates: Templates) -> Result<Html<String>> {
    templates.render("page.html", context! {})
}

/// `/framed/?name=child.html`: a page whose template names `user` or
/// `perms` only in what it includes or extends; the query is its `q`.
async fn framed(
    templates: Templates,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Html<String>> {
    templates.render(&q["name"], context! { "q" => &q })
}

/// `who`: a project's middleware that asks who is there on the way in
/// (as one that logs the user would), and says it in `X-User`.
async fn who(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let user = CurrentUser::from_request_parts(&mut parts, &()).await;
    let name = match user {
        Ok(CurrentUser(Some(user))) => user.username,
        _ => "anonymous".into(),
    };
    let mut response = next.run(Request::from_parts(parts, body)).await;
    response
        .headers_mut()
        .insert("x-user", name.parse().unwrap());
    response
}

fn urls() -> UrlConf {
    UrlConf::new()
        .path("login/", login, "login_as")
        .path("logout/", logout, "logout_now")
        .include("accounts/", nuages::auth::urls())
        .path("whoami/", whoami, "whoami")
        .path("private/", private, "private")
        .path("staff/", staff, "staff")
        .path("vote/", vote, "vote")
        .path("plain/", plain, "plain")
        .path("cart/", cart, "cart")
        .path("numeric-id/", numeric_id, "numeric_id")
        .path("forge-login/", forge_login, "forge_login")
        .path("password/", change_password, "password")
        .path("set-password/", set_password_of, "set_password_of")
        .path("page/", page, "page")
        .path("framed/", framed, "framed")
}

fn fast_hashers() -> PasswordHashers {
    PasswordHashers::new(vec![nuages::auth::Hasher::Argon2 {
        memory_cost: 1024,
        time_cost: 1,
        parallelism: 1,
    }])
    .unwrap()
}

/// A migrated application in `dir` with the users `ann` and `bob`
/// (`bob` may vote), keeping sessions with `engine`.
async fn application(dir: &std::path::Path, engine: SessionEngine) -> Application {
    application_with(dir, engine, |_| {}).await
}

/// [`application`] with settings changed by `tweak`.
async fn application_with(
    dir: &std::path::Path,
    engine: SessionEngine,
    tweak: impl FnOnce(&mut Settings),
) -> Application {
    let templates = dir.join("templates");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::write(
        templates.join("page.html"),
        "{% if user.is_authenticated %}hello {{ user.username }}{% else %}hello stranger{% endif %}\
         {% if perms.polls.vote %}, may vote{% endif %}",
    )
    .unwrap();
    for (name, text) in [
        ("who.html", "{{ user.username }}"),
        ("includes.html", "[{% include \"who.html\" %}]"),
        (
            "base.html",
            "{% if perms.polls.vote %}may vote{% endif %}{% block tail %}{% endblock tail %}",
        ),
        (
            "extends.html",
            "{% extends \"base.html\" %}{% block tail %}!{% endblock tail %}",
        ),
    ] {
        std::fs::write(templates.join(name), text).unwrap();
    }
    let mut settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        allowed_hosts: vec!["localhost".into()],
        session_engine: engine,
        template_dirs: vec![templates],
        ..Settings::default()
    };
    settings.databases.insert(
        "default".into(),
        DatabaseSettings {
            url: format!("sqlite://{}", dir.join("db.sqlite3").display()),
            ..DatabaseSettings::default()
        },
    );
    tweak(&mut settings);
    let polls = nuages::App::new("polls", dir.join("polls")).permission("vote", "Can vote");
    let mut project = Project::new("authsite", env!("CARGO_MANIFEST_DIR"))
        .urls(urls)
        .apps(vec![polls]);
    if settings.middleware.iter().any(|name| name == "who") {
        project = project.middleware("who", who);
    }
    let sets = nuages::migrations::all_sets(&project, &settings);
    let application = Application::new(project, settings).unwrap();
    let pool = pool(&application).await;
    nuages::migrations::apply(&pool, &sets, |_| {})
        .await
        .unwrap();
    for name in ["ann", "bob"] {
        User::create(
            &pool,
            &fast_hashers(),
            NewUser {
                username: name,
                password: Some("plum-violin-orbit"),
                ..NewUser::default()
            },
        )
        .await
        .unwrap();
    }
    nuages::auth::Permission::ensure(&pool, "polls", "vote", "Can vote")
        .await
        .unwrap();
    let bob = User::get_by_username(&pool, "bob").await.unwrap().unwrap();
    bob.add_permission(&pool, "polls.vote").await.unwrap();
    application
}

#[tokio::test]
async fn login_rotates_the_key_and_logout_ends_the_session_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::Db).await;
    let client = Client::new(application.clone());
    client.get("/plain/").await;
    // A session before the login (a fixation attempt would plant this key).
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
    let planted = Client::new(application.clone());
    planted.request(http::Method::GET, "/plain/").send().await;

    let response = client.get("/login/?user=ann").await;
    assert_eq!(response.text(), "logged in ann");
    let key = client.cookie("sessionid").unwrap();
    assert_eq!(client.get("/whoami/").await.text(), "ann");
    let ann = User::get_by_username(&pool(&application).await, "ann")
        .await
        .unwrap()
        .unwrap();
    assert!(ann.last_login.is_some(), "login records last_login");

    // Logging in again gives yet another key; the old one is dead.
    client.get("/login/?user=ann").await;
    let second = client.cookie("sessionid").unwrap();
    assert_ne!(key, second);
    let old_copy = Client::new(application.clone());
    old_copy.set_cookie("sessionid", &key);
    assert_eq!(old_copy.get("/whoami/").await.text(), "anonymous");

    // A copy of the current cookie is logged in, until the logout.
    let copy = Client::new(application.clone());
    copy.set_cookie("sessionid", &second);
    assert_eq!(copy.get("/whoami/").await.text(), "ann");
    assert_eq!(client.get("/logout/").await.text(), "logged out");
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
    assert_eq!(copy.get("/whoami/").await.text(), "anonymous");
}

#[tokio::test]
async fn a_login_with_another_users_session_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    client.get("/login/?user=ann").await;
    client.get("/cart/?add=ann-s-book").await;
    bob_logs_in_over_anns_cart(&client).await;
}

/// Bob logs in over the session where ann is logged in with a cart: he
/// starts with an empty one.
async fn bob_logs_in_over_anns_cart(client: &Client) {
    assert_eq!(client.get("/whoami/").await.text(), "ann");
    client.get("/login/?user=bob").await;
    assert_eq!(client.get("/whoami/").await.text(), "bob");
    assert_eq!(
        client.get("/cart/").await.text(),
        "cart: ",
        "ann's data is gone"
    );
}

/// The session's user id stored as a number is the same login (the auth
/// middleware reads it so): another user's login still empties the session
/// first, as Django compares the ids whatever their type.
#[tokio::test]
async fn a_login_over_a_session_whose_user_id_is_a_number_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::Db).await);
    client.get("/login/?user=ann").await;
    client.get("/cart/?add=ann-s-book").await;
    assert_eq!(client.get("/numeric-id/").await.text(), "rewritten");
    bob_logs_in_over_anns_cart(&client).await;
}

/// As Django's `get_user`: a session naming a user without the session
/// auth hash (written by hand, not by `Auth::login`) logs no one in and is
/// emptied, as README's Sessions section warns.
#[tokio::test]
async fn a_user_id_written_into_the_session_by_hand_logs_no_one_in() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::Db).await;
    let ann = User::get_by_username(&pool(&application).await, "ann")
        .await
        .unwrap()
        .unwrap();
    let client = Client::new(application);
    client.get("/cart/?add=a-book").await;
    let forged = format!("/forge-login/?id={}", ann.id);
    assert_eq!(client.get(&forged).await.text(), "written");
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
    assert_eq!(client.get("/cart/").await.text(), "cart: ");
}

/// As Django's `login`: what an anonymous visitor put in the session (a
/// cart) is kept under the new key; the old key gives nothing.
#[tokio::test]
async fn a_login_keeps_the_anonymous_session_under_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::Db).await;
    let client = Client::new(application.clone());
    assert_eq!(client.get("/cart/?add=teapot").await.text(), "cart: teapot");
    let before = client.cookie("sessionid").unwrap();
    assert_eq!(client.get("/login/?user=ann").await.text(), "logged in ann");
    assert_ne!(client.cookie("sessionid").unwrap(), before);
    assert_eq!(client.get("/cart/").await.text(), "cart: teapot");
    assert_eq!(client.get("/whoami/").await.text(), "ann");
    let old_copy = Client::new(application.clone());
    old_copy.set_cookie("sessionid", &before);
    assert_eq!(old_copy.get("/cart/").await.text(), "cart: ");
}

#[tokio::test]
async fn a_required_login_redirects_with_next_and_rights_answer_403() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    let response = client.get("/private/?tab=a%20b&x=1").await;
    assert_eq!(response.status, 302);
    assert_eq!(
        response.header("location"),
        Some("/accounts/login/?next=/private/%3Ftab%3Da%2520b%26x%3D1")
    );
    for path in ["/staff/", "/vote/"] {
        let response = client.get(path).await;
        assert_eq!(response.status, 302, "{path}");
        assert_eq!(
            response.header("location").unwrap(),
            format!("/accounts/login/?next={path}")
        );
    }

    client.get("/login/?user=ann").await;
    assert_eq!(client.get("/private/").await.text(), "private page of ann");
    assert_eq!(client.get("/vote/").await.status, 403);
    assert_eq!(client.get("/staff/").await.status, 403);

    client.get("/login/?user=bob").await;
    let response = client.get("/vote/").await;
    assert_eq!(
        (response.status, response.text()),
        (http::StatusCode::OK, "bob may vote".into())
    );
}

/// `login_url` is where every required login sends an anonymous visitor:
/// a path taken as it is (its own query kept, `next` added after it), or
/// the name of a route.
#[tokio::test]
async fn a_required_login_goes_where_login_url_says() {
    for (login_url, expected) in [
        ("/signin/?via=site", "/signin/?via=site&next=/private/"),
        ("login_as", "/login/?next=/private/"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let application = application_with(dir.path(), SessionEngine::SignedCookies, |s| {
            s.login_url = login_url.into();
        })
        .await;
        let client = Client::new(application);
        for path in ["/private/", "/staff/", "/vote/"] {
            let response = client.get(path).await;
            assert_eq!(response.status, 302, "{login_url}: {path}");
            assert_eq!(
                response.header("location").unwrap(),
                expected.replace("/private/", path),
                "{login_url}"
            );
        }
    }
}

#[tokio::test]
async fn templates_get_user_and_perms() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    assert_eq!(client.get("/page/").await.text(), "hello stranger");
    client.get("/login/?user=ann").await;
    assert_eq!(client.get("/page/").await.text(), "hello ann");
    client.get("/login/?user=bob").await;
    assert_eq!(client.get("/page/").await.text(), "hello bob, may vote");
}

/// An anonymous visitor's page, the first one and the next (whose `user`
/// and `perms` are the kept values), depends on the session all the same.
#[tokio::test]
async fn every_anonymous_page_that_shows_the_user_varies_on_the_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    for _ in 0..3 {
        let response = client.get("/page/").await;
        assert_eq!(response.text(), "hello stranger");
        let vary = response.headers.get(http::header::VARY);
        assert_eq!(vary.and_then(|v| v.to_str().ok()), Some("Cookie"));
    }
    // Logged in, then out: the session is there, without a user.
    client.get("/login/?user=bob").await;
    assert_eq!(client.get("/page/").await.text(), "hello bob, may vote");
    client.get("/logout/").await;
    assert_eq!(client.get("/page/").await.text(), "hello stranger");
}

#[tokio::test]
async fn templates_get_user_and_perms_through_what_they_include_or_extend() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    client.get("/login/?user=bob").await;
    assert_eq!(
        client.get("/framed/?name=includes.html").await.text(),
        "[bob]"
    );
    assert_eq!(
        client.get("/framed/?name=extends.html").await.text(),
        "may vote!"
    );
}

#[tokio::test]
async fn the_user_is_loaded_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::SignedCookies).await;
    let client = Client::new(application.clone());
    client.get("/login/?user=ann").await;
    // Without the user table, any query for the user fails: a page that
    // never asks still works, one that asks fails.
    sqlx::query("ALTER TABLE auth_user RENAME TO auth_user_away")
        .execute(&pool(&application).await)
        .await
        .unwrap();
    let response = client.get("/plain/").await;
    assert_eq!(
        (response.status, response.text()),
        (http::StatusCode::OK, "plain, session empty: false".into())
    );
    assert_eq!(client.get("/whoami/").await.status, 500);
}

#[tokio::test]
async fn a_password_change_logs_the_other_sessions_out() {
    for engine in [SessionEngine::SignedCookies, SessionEngine::Cache] {
        let dir = tempfile::tempdir().unwrap();
        let application = application(dir.path(), engine).await;
        let laptop = Client::new(application.clone());
        let phone = Client::new(application.clone());
        laptop.get("/login/?user=ann").await;
        phone.get("/login/?user=ann").await;
        assert_eq!(phone.get("/whoami/").await.text(), "ann", "{engine:?}");

        assert_eq!(
            laptop.get("/password/?to=new-plum-violin").await.text(),
            "changed"
        );
        assert_eq!(laptop.get("/whoami/").await.text(), "ann", "{engine:?}");
        assert_eq!(
            phone.get("/whoami/").await.text(),
            "anonymous",
            "{engine:?}"
        );
    }
}

/// Changing another user's password and calling `update_session_auth_hash`
/// with them (as Django's admin does) leaves this session logged in as its
/// own user, in this request and the next; the other user's sessions end.
#[tokio::test]
async fn update_session_auth_hash_with_another_user_keeps_this_session_its_own() {
    for engine in [SessionEngine::SignedCookies, SessionEngine::Db] {
        let dir = tempfile::tempdir().unwrap();
        let application = application(dir.path(), engine).await;
        let staff = Client::new(application.clone());
        let bobs_phone = Client::new(application.clone());
        staff.get("/login/?user=ann").await;
        bobs_phone.get("/login/?user=bob").await;
        let response = staff.get("/set-password/?of=bob&to=new-plum-violin").await;
        assert_eq!(response.status, 200, "{engine:?}");
        assert_eq!(
            response.text(),
            "changed, this request is ann",
            "{engine:?}"
        );
        assert_eq!(staff.get("/whoami/").await.text(), "ann", "{engine:?}");
        assert_eq!(
            bobs_phone.get("/whoami/").await.text(),
            "anonymous",
            "{engine:?}"
        );
    }
}

/// A user, or the fields of one to create, written with `{:?}` (in a log
/// line, say) show neither the password nor its hash.
#[tokio::test]
async fn debug_output_of_a_user_leaves_the_password_out() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::SignedCookies).await;
    let ann = User::get_by_username(&pool(&application).await, "ann")
        .await
        .unwrap()
        .unwrap();
    let shown = format!("{ann:?}");
    assert!(shown.contains("\"ann\""), "{shown}");
    assert!(!shown.contains(&ann.password), "{shown}");
    let new = NewUser {
        username: "carol",
        password: Some("plum-violin-orbit"),
        ..NewUser::default()
    };
    let shown = format!("{new:?}");
    assert!(shown.contains("\"carol\""), "{shown}");
    assert!(!shown.contains("plum-violin-orbit"), "{shown}");
}

/// Without `auth` in the setting, a view asking for the user answers 500
/// with the error that names the middleware (shown by the debug page); a
/// view that does not ask works with its session.
#[tokio::test]
async fn without_the_auth_middleware_the_user_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |settings| {
        settings.middleware.retain(|name| name != "auth");
        settings.debug = true;
    })
    .await;
    let client = Client::new(application);
    let response = client.get("/whoami/").await;
    assert_eq!(response.status, 500);
    let page = response.text();
    assert!(
        page.contains("need the &quot;auth&quot; middleware"),
        "{page}"
    );
    assert_eq!(
        client.get("/plain/").await.text(),
        "plain, session empty: true"
    );
}

/// Without the `auth` middleware a template that names `user` or `perms`
/// (a base template's `{% if user.is_authenticated %}`) was a 500,
/// "Variable `user` is not defined": it gets the anonymous user and no
/// permission, as Django's auth context processor gives `AnonymousUser`
/// to a request without a user; with no session middleware either.
#[tokio::test]
async fn without_the_auth_middleware_templates_get_the_anonymous_user() {
    for without in [&["auth"][..], &["auth", "session", "messages"]] {
        let dir = tempfile::tempdir().unwrap();
        let application = application_with(dir.path(), SessionEngine::SignedCookies, |settings| {
            settings
                .middleware
                .retain(|name| !without.contains(&name.as_str()));
        })
        .await;
        let client = Client::new(application);
        let response = client.get("/page/").await;
        assert_eq!(response.status, 200, "{without:?}: {}", response.text());
        assert_eq!(response.text(), "hello stranger");
        // Named only in what it includes, or in the permissions of what
        // it extends.
        assert_eq!(client.get("/framed/?name=includes.html").await.text(), "[]");
        assert_eq!(client.get("/framed/?name=extends.html").await.text(), "!");
    }
}

#[test]
fn auth_without_session_before_it_is_refused_at_start() {
    let settings = Settings {
        secret_key: Some("a-test-secret-key-long-enough-to-be-accepted-0123456789".into()),
        middleware: vec!["auth".into(), "session".into()],
        ..Settings::default()
    };
    let error = Application::new(
        Project::new("authsite", env!("CARGO_MANIFEST_DIR")),
        settings,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("\"session\" is not in the middleware setting before it"),
        "{error}"
    );
}

/// A POST of the login form, with the CSRF token a GET of it gave.
async fn submit_login(client: &Client, fields: &[(&str, &str)]) -> nuages::test::TestResponse {
    if client.csrf_token().is_none() {
        client.get("/accounts/login/").await;
    }
    post_form(client, "/accounts/login/", fields).await
}

async fn log_out(client: &Client, fields: &[(&str, &str)]) -> nuages::test::TestResponse {
    post_form(client, "/accounts/logout/", fields).await
}

/// A POST of `fields` to `path` with the client's CSRF token.
async fn post_form(
    client: &Client,
    path: &str,
    fields: &[(&str, &str)],
) -> nuages::test::TestResponse {
    client
        .request(http::Method::POST, path)
        .csrf()
        .form(fields)
        .send()
        .await
}

#[tokio::test]
async fn the_login_view_logs_in_with_a_new_key_and_follows_a_same_site_next() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::Db).await;
    let client = Client::new(application.clone());
    // Sent away from a private page, the visitor gets the form with `next`.
    let to_login = client.get("/private/").await;
    let form = client.get(to_login.header("location").unwrap()).await;
    assert_eq!(form.status, 200);
    let page = form.text();
    for field in [
        "name=\"username\"",
        "type=\"password\" name=\"password\"",
        "name=\"next\" value=\"/private/\"",
        "name=\"csrfmiddlewaretoken\"",
    ] {
        assert!(page.contains(field), "{field} missing from {page}");
    }

    let fields = [
        ("username", "ann"),
        ("password", "plum-violin-orbit"),
        ("next", "/private/"),
    ];
    let planted = client.cookie("csrftoken").unwrap();
    let response = submit_login(&client, &fields).await;
    assert_eq!(response.status, 302);
    assert!(
        response
            .headers
            .get_all("set-cookie")
            .iter()
            .any(|cookie| cookie.to_str().unwrap().starts_with("csrftoken=")),
        "{:?}",
        response.headers
    );
    assert_eq!(response.header("location"), Some("/private/"));
    assert_eq!(client.get("/private/").await.text(), "private page of ann");
    let first_key = client.cookie("sessionid").unwrap();
    // The login replaced the CSRF secret (Django's rotate_token): the
    // browser's cookie, one planted before the login included, is
    // overwritten; the next form (the second login below) uses the new one.
    let rotated = client.cookie("csrftoken").unwrap();
    assert_ne!(planted, rotated);

    // Logging in again rotates the key: a copy of the old one is anonymous.
    let response = submit_login(&client, &fields[..2]).await;
    assert_eq!(response.header("location"), Some("/"), "login_redirect_url");
    let second_key = client.cookie("sessionid").unwrap();
    assert_ne!(first_key, second_key);
    let old_copy = Client::new(application.clone());
    old_copy.set_cookie("sessionid", &first_key);
    assert_eq!(old_copy.get("/whoami/").await.text(), "anonymous");
    assert_eq!(client.get("/whoami/").await.text(), "ann");
}

#[tokio::test]
async fn a_login_rotates_the_csrf_secret_when_a_middleware_asked_for_the_user_before_csrf() {
    // A project's middleware listed between "auth" and "csrf" asks who is
    // there before the csrf step has run: the login still replaces the
    // CSRF secret, so that a cookie planted before it is no good after.
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::Db, |settings| {
        settings.middleware = [
            "security", "session", "auth", "who", "common", "csrf", "xframe",
        ]
        .map(String::from)
        .to_vec();
    })
    .await;
    let client = Client::new(application);
    assert_eq!(
        client.get("/accounts/login/").await.header("x-user"),
        Some("anonymous")
    );
    let planted = client.cookie("csrftoken").unwrap();
    let response = submit_login(&client, &credentials("ann", "plum-violin-orbit")).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(client.get("/whoami/").await.header("x-user"), Some("ann"));
    let rotated = client.cookie("csrftoken").unwrap();
    assert_ne!(planted, rotated, "the login replaced the CSRF secret");
    // A post that carries the planted secret as its token is refused.
    let forged = client
        .request(http::Method::POST, "/accounts/logout/")
        .header("x-csrftoken", &planted)
        .send()
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(client.get("/whoami/").await.text(), "ann");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_username_get_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    let mut pages = Vec::new();
    for (username, password) in [("ann", "wrong-password"), ("nobody", "plum-violin-orbit")] {
        let response = submit_login(
            &client,
            &[
                ("username", username),
                ("password", password),
                ("next", "/vote/"),
            ],
        )
        .await;
        assert_eq!(response.status, 200, "{username}");
        let page = response.text();
        assert!(page.contains(nuages::auth::views::INVALID_LOGIN), "{page}");
        assert!(page.contains("name=\"next\" value=\"/vote/\""), "{page}");
        assert!(!page.contains("wrong-password") && !page.contains("plum"));
        assert_eq!(client.get("/whoami/").await.text(), "anonymous");
        // What differs between the two: the username typed, and the masked token.
        let token_at = page.find("csrfmiddlewaretoken\" value=\"").unwrap();
        pages.push((
            page[..token_at].to_string(),
            page[token_at + 100..].replace(username, "?"),
        ));
    }
    assert_eq!(pages[0], pages[1]);
}

/// The error list the login page shows above field `name`.
fn field_errors(name: &str, messages: &[&str]) -> String {
    let items: String = messages.iter().map(|m| format!("<li>{m}</li>")).collect();
    format!("<ul class=\"errorlist\" id=\"id_{name}_error\">{items}</ul>")
}

#[tokio::test]
async fn an_empty_login_field_is_required_and_no_login_is_tried() {
    // As Django's AuthenticationForm: each empty field says "This field is
    // required." next to it, and the pair message (which would say the
    // credentials are wrong) is not shown, nor a failure counted: the
    // password is not checked.
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |s| {
        s.login_throttle_username_limit = 1;
        s.login_throttle_address_limit = 0;
    })
    .await;
    let client = Client::new(application);
    let required = nuages::forms::REQUIRED;
    for (username, password, empty) in [
        ("ann", "", &["password"][..]),
        ("", "plum-violin-orbit", &["username"]),
        ("  \t", "plum-violin-orbit", &["username"]),
        ("", "", &["username", "password"]),
    ] {
        let response = submit_login(&client, &credentials(username, password)).await;
        assert_eq!(response.status, 200, "{username:?} {password:?}");
        let page = response.text();
        for name in ["username", "password"] {
            assert_eq!(
                page.contains(&field_errors(name, &[required])),
                empty.contains(&name),
                "{name} of {username:?} {password:?}: {page}"
            );
        }
        assert!(!page.contains(nuages::auth::views::INVALID_LOGIN), "{page}");
        assert!(!page.contains("plum"), "the password is not sent back");
    }
    let kept = submit_login(&client, &credentials("ann", "")).await.text();
    assert!(
        kept.contains("name=\"username\" id=\"id_username\" value=\"ann\""),
        "the username typed is shown again: {kept}"
    );
    // Not one failure was counted (the limit is 1): ann logs in.
    let response = submit_login(&client, &credentials("ann", "plum-violin-orbit")).await;
    assert_eq!(response.status, 302, "{}", response.text());
}

/// How long a failed login as `username` takes, in microseconds.
async fn failed_login_time(client: &Client, username: &str) -> u128 {
    let started = std::time::Instant::now();
    let response = submit_login(client, &credentials(username, "not-the-password")).await;
    assert_eq!(response.status, 200, "{username}");
    assert!(response.text().contains(nuages::auth::views::INVALID_LOGIN));
    started.elapsed().as_micros()
}

#[tokio::test]
async fn a_user_without_a_usable_password_takes_as_long_as_no_user() {
    // As Django since CVE-2024-39329: the password is hashed all the same
    // for a user made without one (createsuperuser --noinput), so that the
    // time of a failed login does not tell that the username exists.
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |s| {
        s.login_throttle_username_limit = 0;
        s.login_throttle_address_limit = 0;
    })
    .await;
    User::create(
        &pool(&application).await,
        &fast_hashers(),
        NewUser {
            username: "carol",
            password: None,
            ..NewUser::default()
        },
    )
    .await
    .unwrap();
    let client = Client::new(application);
    // The default hasher (Argon2, 19 MiB): tens of milliseconds per hash.
    // Without a hash, carol's takes well under a millisecond: compare the
    // quickest of five each, taken in turns so that a busy machine slows both.
    let (mut unknown, mut unusable) = (u128::MAX, u128::MAX);
    for _ in 0..5 {
        unknown = unknown.min(failed_login_time(&client, "nobody").await);
        unusable = unusable.min(failed_login_time(&client, "carol").await);
    }
    assert!(
        unusable * 10 >= unknown,
        "carol (no usable password) took {unusable} µs, an unknown username {unknown} µs"
    );
}

#[tokio::test]
async fn usernames_are_nfkc_normalized_when_created_and_typed() {
    // As Django's normalize_username and UsernameField: a name in
    // full-width letters is stored, refused as taken, and logs in as the
    // plain one, so no second account looks like the first.
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::SignedCookies).await;
    let pool = pool(&application).await;
    let new = |username| NewUser {
        username,
        password: Some("plum-violin-orbit"),
        ..NewUser::default()
    };
    let joe = User::create(&pool, &fast_hashers(), new("ｊｏｅ"))
        .await
        .unwrap();
    assert_eq!(joe.username, "joe");
    let taken = User::create(&pool, &fast_hashers(), new("joe")).await;
    assert!(
        taken.unwrap_err().to_string().contains("already exists"),
        "joe and ｊｏｅ are one name"
    );
    let twin = User::create(&pool, &fast_hashers(), new("ａｎｎ")).await;
    assert!(twin.is_err(), "ann exists: ａｎｎ is taken");

    let client = Client::new(application);
    let response = submit_login(&client, &credentials("ｊｏｅ", "plum-violin-orbit")).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(client.get("/whoami/").await.text(), "joe");
}

#[tokio::test]
async fn spaces_around_a_typed_username_are_dropped_but_not_around_the_password() {
    // As Django's UsernameField (a CharField, strip=True): a phone's
    // autocompletion that adds a space after the name still logs in; the
    // password is kept as typed (strip=False), so a space there is wrong.
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::SignedCookies).await;
    let client = Client::new(application.clone());
    let response = submit_login(&client, &credentials(" ann\t", "plum-violin-orbit")).await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(client.get("/whoami/").await.text(), "ann");
    let client = Client::new(application);
    let response = submit_login(&client, &credentials("ann", "plum-violin-orbit ")).await;
    assert!(response.text().contains(nuages::auth::views::INVALID_LOGIN));
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
    // 150 characters and spaces around them: a name that may exist.
    let padded = format!(" {} ", "a".repeat(150));
    let response = submit_login(&client, &credentials(&padded, "plum-violin-orbit")).await;
    let page = response.text();
    assert!(
        page.contains(&format!("value=\"{}\"", "a".repeat(150))),
        "the stripped name is shown again: {page}"
    );
}

#[tokio::test]
async fn an_overlong_username_is_refused_before_it_is_normalized() {
    // As Django's UsernameField (CVE-2023-46695): no username has more than
    // 150 characters, and NFKC makes up to 18 characters of one (U+FDFA):
    // a longer one is neither normalized nor looked up, and the page does
    // not send back 18 times what was posted. As Django's
    // AuthenticationForm, the field says so, counting characters.
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    let typed = "\u{FDFA}".repeat(100_000);
    let response = submit_login(&client, &credentials(&typed, "plum-violin-orbit")).await;
    assert_eq!(response.status, 200);
    let page = response.text();
    let too_long = |count: usize| {
        field_errors(
            "username",
            &[&format!(
                "Ensure this value has at most 150 characters (it has {count})."
            )],
        )
    };
    assert!(page.contains(&too_long(100_000)), "{page}");
    assert!(!page.contains(nuages::auth::views::INVALID_LOGIN));
    assert!(page.len() < 10_000, "{} bytes sent back", page.len());
    // 151 characters are too many even when they would normalize to a name.
    let long = "ａ".repeat(151);
    let response = submit_login(&client, &credentials(&long, "plum-violin-orbit")).await;
    assert!(response.text().contains(&too_long(151)));
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
}

#[tokio::test]
async fn an_off_site_next_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::SignedCookies).await;
    for next in [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "javascript:alert(1)",
        "/\t/evil.com",
    ] {
        let client = Client::new(application.clone());
        let form = client
            .get(&format!("/accounts/login/?next={}", urlencode(next)))
            .await;
        assert!(form.text().contains("name=\"next\" value=\"\""), "{next}");
        let response = submit_login(
            &client,
            &[
                ("username", "ann"),
                ("password", "plum-violin-orbit"),
                ("next", next),
            ],
        )
        .await;
        assert_eq!(response.status, 302, "{next}");
        assert_eq!(response.header("location"), Some("/"), "{next}");
        assert_eq!(client.get("/whoami/").await.text(), "ann");
    }
}

/// A form posting to `/accounts/login/?next=…` (or the logout's), with no
/// `next` field, goes there once this site's path is checked, as Django's
/// `POST.get("next", GET.get("next"))`; a `next` field wins over the URL's.
#[tokio::test]
async fn a_next_in_the_query_string_of_the_post_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::Db).await;
    let client = Client::new(application);
    let credentials = [("username", "ann"), ("password", "plum-violin-orbit")];
    client.get("/accounts/login/").await;
    let login = post_form(&client, "/accounts/login/?next=/private/", &credentials).await;
    assert_eq!(login.status, 302);
    assert_eq!(login.header("location"), Some("/private/"));
    let logout = post_form(&client, "/accounts/logout/?next=/plain/", &[]).await;
    assert_eq!(logout.status, 302);
    assert_eq!(logout.header("location"), Some("/plain/"));
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");

    client.get("/accounts/login/").await;
    let off_site = post_form(&client, "/accounts/login/?next=//evil.com", &credentials).await;
    assert_eq!(off_site.header("location"), Some("/"));
    let logout = post_form(&client, "/accounts/logout/?next=//evil.com", &[]).await;
    assert_eq!(logout.header("location"), Some("/"));

    client.get("/accounts/login/").await;
    let mut with_field = credentials.to_vec();
    with_field.push(("next", "/vote/"));
    let field_wins = post_form(&client, "/accounts/login/?next=/private/", &with_field).await;
    assert_eq!(field_wins.header("location"), Some("/vote/"));
    // A failed login keeps the URL's `next` in the form shown again.
    log_out(&client, &[]).await;
    client.get("/accounts/login/").await;
    let wrong = post_form(
        &client,
        "/accounts/login/?next=/private/",
        &[("username", "ann"), ("password", "wrong-password")],
    )
    .await;
    assert!(
        wrong.text().contains("name=\"next\" value=\"/private/\""),
        "{}",
        wrong.text()
    );
}

/// A `next` that is a path of this site with characters a URI cannot hold
/// goes into `Location` percent-encoded (as Django's `iri_to_uri`).
#[tokio::test]
async fn a_next_with_non_ascii_characters_is_percent_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::SignedCookies).await;
    let client = Client::new(application);
    let response = submit_login(
        &client,
        &[
            ("username", "ann"),
            ("password", "plum-violin-orbit"),
            ("next", "/café/?q=é"),
        ],
    )
    .await;
    assert_eq!(response.status, 302);
    assert_eq!(response.header("location"), Some("/caf%C3%A9/?q=%C3%A9"));
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn the_login_and_logout_pages_are_never_cached() {
    // As Django's never_cache on LoginView and LogoutView: no browser or
    // proxy keeps a login form (its CSRF token), an error page of it, the
    // redirect that logged someone in, or the page of a logout.
    const NEVER: &str = "max-age=0, no-cache, no-store, must-revalidate, private";
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    let form = client.get("/accounts/login/?next=/private/").await;
    assert_eq!(form.status, 200);
    assert_eq!(form.header("cache-control"), Some(NEVER), "the form");
    let wrong = submit_login(&client, &credentials("ann", "wrong-password")).await;
    assert_eq!(wrong.status, 200);
    assert_eq!(wrong.header("cache-control"), Some(NEVER), "a failed login");
    let right = submit_login(&client, &credentials("ann", "plum-violin-orbit")).await;
    assert_eq!(right.status, 302);
    assert_eq!(right.header("cache-control"), Some(NEVER), "a login");
    let out = log_out(&client, &[]).await;
    assert_eq!(out.status, 302);
    assert_eq!(out.header("cache-control"), Some(NEVER), "a logout");
}

#[tokio::test]
async fn logout_is_a_post_with_csrf_and_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::Db).await;
    let client = Client::new(application.clone());
    let fields = [("username", "ann"), ("password", "plum-violin-orbit")];
    submit_login(&client, &fields).await;
    let key = client.cookie("sessionid").unwrap();

    let response = client.get("/accounts/logout/").await;
    assert_eq!(response.status, 405, "a link cannot log anyone out");
    let forged = client
        .request(http::Method::POST, "/accounts/logout/")
        .form(&[])
        .send()
        .await;
    assert_eq!(forged.status, 403, "no CSRF token, no logout");
    assert_eq!(client.get("/whoami/").await.text(), "ann");

    let response = log_out(&client, &[]).await;
    assert_eq!(response.status, 302);
    assert_eq!(response.header("location"), Some("/"));
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
    let copy = Client::new(application.clone());
    copy.set_cookie("sessionid", &key);
    assert_eq!(copy.get("/whoami/").await.text(), "anonymous");

    // A same-site `next` wins over logout_redirect_url; an off-site one does not.
    submit_login(&client, &fields).await;
    let response = log_out(&client, &[("next", "/plain/")]).await;
    assert_eq!(response.header("location"), Some("/plain/"));
    submit_login(&client, &fields).await;
    let response = log_out(&client, &[("next", "//evil.com")]).await;
    assert_eq!(response.header("location"), Some("/"));
}

#[tokio::test]
async fn the_project_templates_replace_the_login_page() {
    let dir = tempfile::tempdir().unwrap();
    let registration = dir.path().join("templates/registration");
    std::fs::create_dir_all(&registration).unwrap();
    std::fs::write(
        registration.join("login.html"),
        "<h1>Welcome back</h1>{{ error }}<form method=\"post\">{{ csrf_input() }}</form>",
    )
    .unwrap();
    let client = Client::new(application(dir.path(), SessionEngine::SignedCookies).await);
    assert!(
        client
            .get("/accounts/login/")
            .await
            .text()
            .contains("Welcome back")
    );
    let response = submit_login(&client, &[("username", "ann"), ("password", "no")]).await;
    let page = response.text();
    assert!(
        page.contains("Welcome back") && page.contains("Please enter a correct"),
        "{page}"
    );
}

#[tokio::test]
async fn the_redirect_settings_take_route_names_and_an_empty_logout_url_shows_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |settings| {
        settings.login_redirect_url = "whoami".into();
        settings.logout_redirect_url = String::new();
    })
    .await;
    let client = Client::new(application);
    let response = submit_login(
        &client,
        &[("username", "bob"), ("password", "plum-violin-orbit")],
    )
    .await;
    assert_eq!(response.header("location"), Some("/whoami/"));
    let response = log_out(&client, &[]).await;
    assert_eq!(response.status, 200);
    let page = response.text();
    assert!(
        page.contains("You are logged out.") && page.contains("href=\"/accounts/login/\""),
        "{page}"
    );
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
}

/// The reset mails the `memory` backend kept, once `count` have been sent
/// (they go out after the response).
async fn reset_mails(application: &Application, count: usize) -> Vec<nuages::mail::EmailMessage> {
    for _ in 0..100 {
        let outbox = application.mailer().outbox();
        if outbox.len() >= count {
            return outbox;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{count} mails expected: {:?}",
        application.mailer().outbox()
    );
}

#[tokio::test]
async fn a_password_reset_over_https_links_to_the_checked_host_and_logs_the_user_out_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("templates/registration")).unwrap();
    // The project's subject replaces the built-in one.
    std::fs::write(
        dir.path()
            .join("templates/registration/password_reset_subject.txt"),
        "Your {{ site_name }}\naccount\n",
    )
    .unwrap();
    let application = mailing_application(dir.path()).await;
    add_user(&application, "cat", "Cat@Example.com").await;
    // An inactive account of the same address gets no mail.
    let mut dormant = User::create(
        &pool(&application).await,
        &fast_hashers(),
        NewUser {
            username: "dormant",
            email: "cat@example.com",
            password: Some("plum-violin-orbit"),
            ..NewUser::default()
        },
    )
    .await
    .unwrap();
    dormant
        .set_active(&pool(&application).await, false)
        .await
        .unwrap();
    let elsewhere = Client::new(application.clone());
    elsewhere.get("/login/?user=cat").await;
    assert_eq!(elsewhere.get("/whoami/").await.text(), "cat");

    let client = Client::new(application.clone());
    let form = client.get("/accounts/password_reset/").await;
    assert!(form.text().contains("name=\"email\""), "{}", form.text());
    let https = |method: http::Method, path: &str| {
        client
            .request(method, path)
            .secure()
            .header("origin", "https://localhost")
            .csrf()
    };
    let response = https(http::Method::POST, "/accounts/password_reset/")
        .form(&[("email", "cat@example.COM")])
        .send()
        .await;
    assert_eq!(
        response.status,
        302,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let mail = reset_mails(&application, 1).await.remove(0);
    assert_eq!(mail.to, ["Cat@Example.com"]);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        application.mailer().outbox().len(),
        1,
        "only the active account is mailed"
    );
    assert_eq!(mail.from_email.as_deref(), Some("webmaster@localhost"));
    assert_eq!(mail.subject, "Your localhostaccount");
    let at = mail
        .body
        .find("https://localhost/accounts/reset/")
        .expect(&mail.body);
    let link = mail.body[at..].split_whitespace().next().unwrap();
    let path = link.strip_prefix("https://localhost").unwrap();

    let response = https(http::Method::GET, path).send().await;
    assert_eq!(response.status, 302);
    let form_path = response.header("location").unwrap().to_string();
    // A NUL is refused in each field, as the login form refuses it.
    let response = https(http::Method::POST, &form_path)
        .form(&[
            ("new_password1", "ochre-lantern\0basin-7"),
            ("new_password2", "ochre-lantern\0basin-7"),
        ])
        .send()
        .await;
    assert_eq!(response.status, 200);
    for field in ["new_password1", "new_password2"] {
        let list = format!(
            "<ul class=\"errorlist\" id=\"id_{field}_error\"><li>Null characters are not allowed.</li></ul>"
        );
        assert!(response.text().contains(&list), "{}", response.text());
    }
    let response = https(http::Method::POST, &form_path)
        .form(&[
            ("new_password1", "ochre-lantern-basin-7"),
            ("new_password2", "ochre-lantern-basin-7"),
        ])
        .send()
        .await;
    assert_eq!(
        response.status,
        302,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    // Signed-cookie sessions cannot be deleted: the session auth hash no
    // longer matches, so the other browser is anonymous at once.
    assert_eq!(elsewhere.get("/whoami/").await.text(), "anonymous");
    let cat = User::get_by_username(&pool(&application).await, "cat")
        .await
        .unwrap()
        .unwrap();
    assert!(
        fast_hashers().check_password("ochre-lantern-basin-7", &cat.password)
            != nuages::auth::Verification::Mismatch
    );
}

/// As Django: a page is HTML-escaped whatever its template's name (Tera
/// alone escapes `.html`, `.htm` and `.xml`), and the reset mail's subject
/// and body are plain text (Django's mail template is `{% autoescape off %}`),
/// where `|escape` still escapes.
#[tokio::test]
async fn every_page_is_escaped_whatever_its_template_name_and_a_reset_mail_is_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let registration = dir.path().join("templates/registration");
    std::fs::create_dir_all(&registration).unwrap();
    for name in ["note.jinja", "note.txt", "note"] {
        std::fs::write(dir.path().join("templates").join(name), "{{ q.text }}").unwrap();
    }
    std::fs::write(
        registration.join("password_reset_subject.txt"),
        "For {{ user.email }}",
    )
    .unwrap();
    std::fs::write(
        registration.join("password_reset_email.html"),
        "Hello {{ user.email }}; {{ user.email | escape }}",
    )
    .unwrap();
    let application = mailing_application(dir.path()).await;
    let client = Client::new(application.clone());
    for name in ["note.jinja", "note.txt", "note"] {
        let page = client
            .get(&format!(
                "/framed/?name={name}&text=%3Cscript%3Ealert(1)%3C/script%3E"
            ))
            .await;
        assert_eq!(page.status, 200, "{name}");
        assert_eq!(
            page.text(),
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "{name}"
        );
    }

    add_user(&application, "obrien", "o'brien&co@example.com").await;
    let mail = reset_mail_to(&application, "o'brien&co@example.com").await;
    assert_eq!(mail.subject, "For o'brien&co@example.com");
    assert!(
        mail.body
            .starts_with("Hello o'brien&co@example.com; o&#39;brien&amp;co@example.com"),
        "{}",
        mail.body
    );
}

/// An application of [`application_with`] whose mail the `memory` backend
/// keeps.
async fn mailing_application(dir: &std::path::Path) -> Application {
    application_with(dir, SessionEngine::SignedCookies, |settings| {
        settings.email_backend = nuages::conf::EmailBackend::Memory;
    })
    .await
}

/// A user `username` with the address `email`, who may log in.
async fn add_user(application: &Application, username: &str, email: &str) {
    User::create(
        &pool(application).await,
        &fast_hashers(),
        NewUser {
            username,
            email,
            password: Some("plum-violin-orbit"),
            ..NewUser::default()
        },
    )
    .await
    .unwrap();
}

/// The password reset mail to `email`, which a user has: the form posted
/// (over http) is answered with the redirect to the done page.
async fn reset_mail_to(application: &Application, email: &str) -> nuages::mail::EmailMessage {
    let client = Client::new(application.clone());
    client.get("/accounts/password_reset/").await;
    ask_reset(&client, email).await;
    reset_mails(application, 1).await.remove(0)
}

/// The password reset form posted by `client` (which has its CSRF cookie)
/// for `email`, answered with the redirect to the done page.
async fn ask_reset(client: &Client, email: &str) {
    let response = client
        .request(http::Method::POST, "/accounts/password_reset/")
        .csrf()
        .form(&[("email", email)])
        .send()
        .await;
    assert_eq!(response.status, 302, "{}", response.text());
    assert_eq!(
        response.header("location"),
        Some("/accounts/password_reset/done/")
    );
}

/// A reset finished in a browser logged in as that very user (a phone
/// that stayed logged in) ends that session with the others, as Django's
/// does on its next request (its auth hash no longer matches): the user
/// gets the "complete" page and is logged out. With stored sessions, the
/// session was deleted under the request, which then answered 400 ("ended
/// by another request") though the password had changed.
#[tokio::test]
async fn a_reset_finished_in_a_browser_logged_in_as_that_user_logs_it_out() {
    for engine in [
        SessionEngine::Db,
        SessionEngine::Cache,
        SessionEngine::SignedCookies,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let application = application_with(dir.path(), engine, |settings| {
            settings.email_backend = nuages::conf::EmailBackend::Memory;
        })
        .await;
        add_user(&application, "cat", "cat@example.com").await;
        let client = Client::new(application.clone());
        client.get("/login/?user=cat").await;
        assert_eq!(client.get("/whoami/").await.text(), "cat", "{engine:?}");
        client.get("/accounts/password_reset/").await;
        ask_reset(&client, "cat@example.com").await;
        let mail = reset_mails(&application, 1).await.remove(0);
        let at = mail.body.find("/accounts/reset/").expect(&mail.body);
        let path = mail.body[at..].split_whitespace().next().unwrap();
        let response = client.get(path).await;
        assert_eq!(response.status, 302, "{engine:?}");
        let form_path = response.header("location").unwrap().to_string();
        let response = client
            .request(http::Method::POST, &form_path)
            .csrf()
            .form(&[
                ("new_password1", "ochre-lantern-basin-7"),
                ("new_password2", "ochre-lantern-basin-7"),
            ])
            .send()
            .await;
        assert_eq!(response.status, 302, "{engine:?}: {}", response.text());
        assert_eq!(
            response.header("location"),
            Some("/accounts/reset/done/"),
            "{engine:?}"
        );
        assert_eq!(
            client.get("/whoami/").await.text(),
            "anonymous",
            "{engine:?}"
        );
    }
}

/// As Django's `PasswordResetForm` (its `EmailValidator`): an address at
/// `localhost` or at an IP address is one a reset can be asked for; the
/// form answered "Enter a valid email address.".
#[tokio::test]
async fn a_password_reset_is_mailed_to_an_address_at_localhost() {
    let dir = tempfile::tempdir().unwrap();
    let application = mailing_application(dir.path()).await;
    add_user(&application, "root", "root@localhost").await;
    let mail = reset_mail_to(&application, "root@localhost").await;
    assert_eq!(mail.to, ["root@localhost"]);
}

/// An address at an IP literal, which `createsuperuser` and the form
/// accept, gets its reset mail: it was "not sent ... invalid envelope"
/// (lettre read the `To` header back and could not parse the literal).
#[tokio::test]
async fn a_password_reset_is_mailed_to_an_address_at_an_ip_literal() {
    let dir = tempfile::tempdir().unwrap();
    let application = mailing_application(dir.path()).await;
    add_user(&application, "v6", "v6@[127.0.0.1]").await;
    let mail = reset_mail_to(&application, "v6@[127.0.0.1]").await;
    assert_eq!(mail.to, ["v6@[127.0.0.1]"]);
}

/// Password reset mails go out after the response, each request's in a
/// task of its own: against a mail server that never answers, every
/// request held a connection to it (up to `email_timeout`), without limit.
/// At most 4 are on their way at once now (the others wait for a place),
/// and a request for an address whose reset is under way is merged into
/// it: a client posting one address in a loop takes one place.
#[tokio::test]
async fn password_reset_mails_in_flight_are_capped() {
    use std::sync::atomic::Ordering;
    let (port, connections) = support::silent_mail_server();
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |settings| {
        settings.email_host = "127.0.0.1".into();
        settings.email_port = port;
        settings.email_timeout = Some(30);
    })
    .await;
    for n in 0..6 {
        add_user(
            &application,
            &format!("ada{n}"),
            &format!("ada{n}@example.com"),
        )
        .await;
    }
    let client = Client::new(application.clone());
    client.get("/accounts/password_reset/").await;
    let ask = |email: String| {
        let client = &client;
        async move {
            let response = client
                .request(http::Method::POST, "/accounts/password_reset/")
                .csrf()
                .form(&[("email", email.as_str())])
                .send()
                .await;
            assert_eq!(response.status, 302, "{}", response.text());
        }
    };
    // Time for any connection to be made.
    let settle = || async {
        for _ in 0..20 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    for _ in 0..10 {
        ask("ADA0@example.com".into()).await;
    }
    settle().await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one address, one mail"
    );
    for n in 0..6 {
        ask(format!("ada{n}@example.com")).await;
    }
    settle().await;
    assert_eq!(connections.load(Ordering::SeqCst), 4, "four places");
}

/// A client posting one address again and again, each post after the last
/// one's mail went out, makes one mail within `password_reset_cooldown`:
/// before, each post made a mail once the one before was sent (967 posts
/// in 3 s made 578 mails). Each post is answered alike, and another
/// address still gets its mail; with a cooldown of 0 each post is mailed.
#[tokio::test]
async fn a_password_reset_asked_again_within_the_cooldown_sends_no_mail() {
    let dir = tempfile::tempdir().unwrap();
    let application = mailing_application(dir.path()).await;
    add_user(&application, "ada", "ada@example.com").await;
    add_user(&application, "cal", "cal@example.com").await;
    let client = Client::new(application.clone());
    client.get("/accounts/password_reset/").await;
    let ask = |email: &'static str| ask_reset(&client, email);
    ask("ada@example.com").await;
    reset_mails(&application, 1).await;
    for email in ["ada@example.com", "ADA@Example.com", "ada@example.com"] {
        ask(email).await;
        // Time for a mail to go out, and its reset to end.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    ask("cal@example.com").await;
    reset_mails(&application, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let to: Vec<Vec<String>> = application
        .mailer()
        .outbox()
        .into_iter()
        .map(|mail| mail.to)
        .collect();
    assert_eq!(to, [["ada@example.com"], ["cal@example.com"]]);

    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |settings| {
        settings.email_backend = nuages::conf::EmailBackend::Memory;
        settings.password_reset_cooldown = 0;
    })
    .await;
    add_user(&application, "ada", "ada@example.com").await;
    for count in 1..=3 {
        reset_mail_to(&application, "ada@example.com").await;
        reset_mails(&application, count).await;
    }
}

/// As Django's `PasswordResetForm` (an `EmailField` of `max_length` 254):
/// a longer address says how long it is, counted in characters, rather
/// than "Enter a valid email address.".
#[tokio::test]
async fn an_overlong_address_for_a_password_reset_says_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new(mailing_application(dir.path()).await);
    client.get("/accounts/password_reset/").await;
    let email = format!("{}@example.com", "é".repeat(250));
    let response = client
        .request(http::Method::POST, "/accounts/password_reset/")
        .csrf()
        .form(&[("email", &email)])
        .send()
        .await;
    assert_eq!(response.status, 200);
    let page = response.text();
    assert!(
        page.contains("<li>Ensure this value has at most 254 characters (it has 262).</li>"),
        "{page}"
    );
    assert!(!page.contains("Enter a valid email address."), "{page}");
}

/// A POST of the login form from `address`, with more request headers.
async fn submit_login_from(
    client: &Client,
    address: &str,
    headers: &[(&str, &str)],
    fields: &[(&str, &str)],
) -> nuages::test::TestResponse {
    if client.csrf_token().is_none() {
        client.get("/accounts/login/").await;
    }
    let mut request = client
        .request(http::Method::POST, "/accounts/login/")
        .remote_addr(address.parse().unwrap())
        .csrf()
        .form(fields);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await
}

fn credentials<'a>(username: &'a str, password: &'a str) -> [(&'static str, &'a str); 2] {
    [("username", username), ("password", password)]
}

const THROTTLED: &str = nuages::auth::throttle::THROTTLED_LOGIN;

#[tokio::test]
async fn failed_logins_for_a_username_are_refused_past_the_limit_until_the_window_ends() {
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |s| {
        s.login_throttle_username_limit = 3;
        s.login_throttle_address_limit = 0;
        s.login_throttle_window = 2;
    })
    .await;
    let client = Client::new(application);
    // A success clears the count: two failures, a login, two failures more.
    for password in [
        "wrong-1",
        "wrong-2",
        "plum-violin-orbit",
        "wrong-3",
        "wrong-4",
    ] {
        let response = submit_login(&client, &credentials("ann", password)).await;
        let expected = if password.starts_with("wrong") {
            200
        } else {
            302
        };
        assert_eq!(response.status, expected, "{password}: {}", response.text());
    }
    log_out(&client, &[]).await;
    let response = submit_login(&client, &credentials("ann", "wrong-5")).await;
    assert_eq!(response.status, 200, "the third failure is still checked");
    assert!(response.text().contains(nuages::auth::views::INVALID_LOGIN));

    let refused = submit_login(&client, &credentials("ann", "plum-violin-orbit")).await;
    assert_eq!(refused.status, 429, "the right password is refused too");
    let refused_page = refused.text();
    assert!(refused_page.contains(THROTTLED), "{refused_page}");
    assert!(!refused_page.contains(nuages::auth::views::INVALID_LOGIN));
    assert_eq!(client.get("/whoami/").await.text(), "anonymous");
    // The form trims the name: " ann " is ann, with her count.
    let spaced = submit_login(&client, &credentials(" ann ", "plum-violin-orbit")).await;
    assert_eq!(spaced.status, 429, "the same name once trimmed");
    // Names are compared exactly: "ANN" is another account (none here),
    // counted apart, so a login to it could never clear ann's count.
    let other_case = submit_login(&client, &credentials("ANN", "plum-violin-orbit")).await;
    assert_eq!(other_case.status, 200, "another name, another count");
    assert!(
        other_case
            .text()
            .contains(nuages::auth::views::INVALID_LOGIN)
    );

    // An unknown username is refused alike, with the same page.
    for _ in 0..3 {
        submit_login(&client, &credentials("nobody", "x")).await;
    }
    let unknown = submit_login(&client, &credentials("nobody", "x")).await;
    assert_eq!(unknown.status, 429);
    let without_token = |page: &str| {
        let at = page.find("csrfmiddlewaretoken\" value=\"").unwrap();
        (page[..at].to_string(), page[at + 100..].to_string())
    };
    assert_eq!(
        without_token(&unknown.text().replace("nobody", "?")),
        without_token(&refused_page.replace("ann", "?"))
    );
    // Another user of the same address logs in.
    let bob = submit_login(&client, &credentials("bob", "plum-violin-orbit")).await;
    assert_eq!(bob.status, 302);

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let after = submit_login(&client, &credentials("ann", "plum-violin-orbit")).await;
    assert_eq!(after.status, 302, "allowed again after the window");
    assert_eq!(client.get("/whoami/").await.text(), "ann");
}

#[tokio::test]
async fn failed_logins_slow_down_before_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |s| {
        s.login_throttle_username_limit = 4;
    })
    .await;
    let client = Client::new(application);
    let timed = async |password: &str| {
        let started = std::time::Instant::now();
        submit_login(&client, &credentials("ann", password)).await;
        started.elapsed()
    };
    // From half the limit (2 failures) on, a quarter second per failure.
    timed("wrong-1").await;
    timed("wrong-2").await;
    let first_slowed = timed("wrong-3").await;
    let second_slowed = timed("wrong-4").await;
    assert!(
        first_slowed >= std::time::Duration::from_millis(250),
        "{first_slowed:?}"
    );
    assert!(
        second_slowed >= std::time::Duration::from_millis(500),
        "{second_slowed:?}"
    );
}

/// An attempt is counted before its password is checked: one whose client
/// hangs up while it waits still counts towards the limit.
#[tokio::test]
async fn a_login_attempt_whose_client_hangs_up_counts_too() {
    let dir = tempfile::tempdir().unwrap();
    let application = application_with(dir.path(), SessionEngine::SignedCookies, |s| {
        s.login_throttle_username_limit = 4;
        s.login_throttle_address_limit = 0;
    })
    .await;
    let client = Client::new(application);
    // Failures 1 and 2 are checked at once, the third after a quarter second.
    for password in ["wrong-1", "wrong-2", "wrong-3"] {
        let response = submit_login(&client, &credentials("ann", password)).await;
        assert_eq!(response.status, 200, "{password}");
    }
    // The fourth waits half a second first; its client leaves before that.
    let hung_up = tokio::time::timeout(
        std::time::Duration::from_millis(250),
        submit_login(&client, &credentials("ann", "wrong-4")),
    )
    .await;
    assert!(hung_up.is_err(), "the attempt was still waiting");
    // (Time for anything the hang-up set off to run.)
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let refused = submit_login(&client, &credentials("ann", "plum-violin-orbit")).await;
    assert_eq!(
        refused.status, 429,
        "four attempts counted, the one given up included"
    );
}

/// An application with a limit of two failed logins per address, whose
/// only trusted proxy is `127.0.0.1`.
async fn behind_a_trusted_proxy(dir: &std::path::Path) -> Client {
    let application = application_with(dir, SessionEngine::SignedCookies, |s| {
        s.login_throttle_username_limit = 0;
        s.login_throttle_address_limit = 2;
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    Client::new(application)
}

/// Through the proxy at `proxy`, the client `X-Forwarded-For` names last
/// (`from_client`, `other_client`) has a count of its own: two failures
/// refuse the first, not the other.
async fn each_client_behind_counts(
    client: &Client,
    proxy: &str,
    from_client: &[(&str, &str)],
    other_client: &[(&str, &str)],
) {
    for username in ["ann", "bob"] {
        let response =
            submit_login_from(client, proxy, from_client, &credentials(username, "wrong")).await;
        assert_eq!(response.status, 200);
    }
    let refused = submit_login_from(
        client,
        proxy,
        from_client,
        &credentials("ann", "plum-violin-orbit"),
    )
    .await;
    assert_eq!(refused.status, 429);
    assert!(refused.text().contains(THROTTLED));
    let allowed = submit_login_from(
        client,
        proxy,
        other_client,
        &credentials("ann", "plum-violin-orbit"),
    )
    .await;
    assert_eq!(allowed.status, 302, "another client behind the same proxy");
}

#[tokio::test]
async fn the_address_limit_takes_forwarded_for_only_from_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let client = behind_a_trusted_proxy(dir.path()).await;
    // The client put a made-up address first; nginx appended the real one.
    let from_client = [("x-forwarded-for", "10.9.9.9, 203.0.113.7")];
    let other_client = [("x-forwarded-for", "10.9.9.9, 203.0.113.8")];
    each_client_behind_counts(&client, "127.0.0.1", &from_client, &other_client).await;

    // From a peer that is no proxy the header is ignored: its own address counts.
    let stranger = "198.51.100.1";
    let response = submit_login_from(
        &client,
        stranger,
        &from_client,
        &credentials("bob", "plum-violin-orbit"),
    )
    .await;
    assert_eq!(response.status, 302, "203.0.113.7 is not who this is");
}

/// A server listening on `[::]` (both IPv4 and IPv6) sees an IPv4 peer as
/// an IPv4-mapped address (`::ffff:127.0.0.1`): a proxy listed in
/// `trusted_proxies` as `127.0.0.1` is trusted all the same, so that each
/// client behind it keeps a count of its own rather than all of them
/// sharing the proxy's.
#[tokio::test]
async fn a_trusted_proxy_is_trusted_when_a_dual_stack_socket_maps_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let client = behind_a_trusted_proxy(dir.path()).await;
    let from_client = [("x-forwarded-for", "203.0.113.7")];
    let other_client = [("x-forwarded-for", "203.0.113.8")];
    each_client_behind_counts(&client, "::ffff:127.0.0.1", &from_client, &other_client).await;
}

/// A POST of the password change form.
async fn change(client: &Client, fields: &[(&str, &str)]) -> nuages::test::TestResponse {
    client.get("/accounts/password_change/").await;
    post_form(client, "/accounts/password_change/", fields).await
}

#[tokio::test]
async fn the_password_change_view_shows_each_error_then_keeps_this_session_only() {
    let dir = tempfile::tempdir().unwrap();
    let application = application(dir.path(), SessionEngine::Db).await;
    let anonymous = Client::new(application.clone());
    let to_login = anonymous.get("/accounts/password_change/").await;
    assert_eq!(to_login.status, 302);
    assert_eq!(
        to_login.header("location"),
        Some("/accounts/login/?next=/accounts/password_change/")
    );

    let client = Client::new(application.clone());
    let other = Client::new(application.clone());
    for browser in [&client, &other] {
        let response = submit_login(browser, &credentials("ann", "plum-violin-orbit")).await;
        assert_eq!(response.status, 302);
    }
    let form = client.get("/accounts/password_change/").await;
    assert_eq!(form.status, 200);
    for field in ["old_password", "new_password1", "new_password2"] {
        assert!(
            form.text().contains(&format!("name=\"{field}\"")),
            "{field}"
        );
    }

    let error_of = |page: &str, field: &str| -> Vec<String> {
        let marker = format!("id=\"id_{field}_error\">");
        let Some(at) = page.find(&marker) else {
            return vec![];
        };
        let list = &page[at + marker.len()..];
        let list = &list[..list.find("</ul>").unwrap()];
        list.split("<li>")
            .filter_map(|item| item.strip_suffix("</li>"))
            .map(str::to_string)
            .collect()
    };
    let empty = change(&client, &[]).await.text();
    for field in ["old_password", "new_password1", "new_password2"] {
        assert_eq!(
            error_of(&empty, field),
            ["This field is required."],
            "{field}"
        );
    }
    let wrong_old = change(
        &client,
        &[
            ("old_password", "wrong"),
            ("new_password1", "quartz-lantern-meadow"),
            ("new_password2", "quartz-lantern-meadow"),
        ],
    )
    .await;
    assert_eq!(wrong_old.status, 200);
    assert_eq!(
        error_of(&wrong_old.text(), "old_password"),
        ["Your old password was entered incorrectly. Please enter it again."]
    );
    let mismatch = change(
        &client,
        &[
            ("old_password", "plum-violin-orbit"),
            ("new_password1", "quartz-lantern-meadow"),
            ("new_password2", "quartz-lantern-meadoW"),
        ],
    )
    .await
    .text();
    assert_eq!(
        error_of(&mismatch, "new_password2"),
        ["The two password fields didn’t match."]
    );
    assert!(error_of(&mismatch, "old_password").is_empty());
    let weak = change(
        &client,
        &[
            ("old_password", "plum-violin-orbit"),
            ("new_password1", "1234567"),
            ("new_password2", "1234567"),
        ],
    )
    .await
    .text();
    assert_eq!(
        error_of(&weak, "new_password2"),
        [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]
    );
    // As Django's CharField, a NUL is refused in each field: the login
    // form refuses it, so such a password could never be typed again.
    let nul = change(
        &client,
        &[
            ("old_password", "plum-violin-orbit\0"),
            ("new_password1", "quartz-lantern\0meadow"),
            ("new_password2", "quartz-lantern\0meadow"),
        ],
    )
    .await
    .text();
    for field in ["old_password", "new_password1", "new_password2"] {
        assert_eq!(
            error_of(&nul, field),
            ["Null characters are not allowed."],
            "{field}"
        );
    }
    assert_eq!(
        client.get("/whoami/").await.text(),
        "ann",
        "nothing changed"
    );

    let key_before = client.cookie("sessionid").unwrap();
    let done = change(
        &client,
        &[
            ("old_password", "plum-violin-orbit"),
            ("new_password1", "quartz-lantern-meadow"),
            ("new_password2", "quartz-lantern-meadow"),
        ],
    )
    .await;
    assert_eq!(done.status, 302, "{}", done.text());
    assert_eq!(
        done.header("location"),
        Some("/accounts/password_change/done/")
    );
    let done_page = client.get("/accounts/password_change/done/").await;
    assert_eq!(done_page.status, 200);
    assert!(done_page.text().contains("Password change successful"));
    assert_ne!(client.cookie("sessionid").unwrap(), key_before, "a new key");
    assert_eq!(
        client.get("/whoami/").await.text(),
        "ann",
        "still logged in"
    );
    assert_eq!(
        other.get("/whoami/").await.text(),
        "anonymous",
        "the other session ended"
    );

    let fresh = Client::new(application);
    let old = submit_login(&fresh, &credentials("ann", "plum-violin-orbit")).await;
    assert_eq!(old.status, 200);
    let new = submit_login(&fresh, &credentials("ann", "quartz-lantern-meadow")).await;
    assert_eq!(new.status, 302);
}
