//! What a project adds of its own: middleware placed by the `middleware`
//! setting, a settings section with the same layers and errors as the
//! built-in settings, shared state checked when the application is built,
//! and template libraries.

use std::path::Path;

use nuages::checks::{CheckContext, run_checks};
use nuages::middleware::session::Session;
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Problem, Project};

const SECRET: &str = "a-very-secret-key-that-must-never-appear-in-a-page-1234567890";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct MySite {
    greeting: String,
    page_size: i64,
    api_token: Option<String>,
    signing_key: Option<String>,
    webhook_secret: Option<String>,
    smtp_password: Option<String>,
    beta: bool,
}

impl Default for MySite {
    fn default() -> Self {
        MySite {
            greeting: "hello".into(),
            page_size: 10,
            api_token: None,
            signing_key: None,
            webhook_secret: None,
            smtp_password: None,
            beta: false,
        }
    }
}

struct ApiClient {
    base: String,
}

struct NeverShared;

#[derive(Default, serde::Deserialize, serde::Serialize)]
struct NeverConfigured {
    size: i64,
}

async fn stamp(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("x-stamp", http::HeaderValue::from_static("mine"));
    response
}

/// What it saw: the session and the messages in the request (put there by
/// the built-ins before it), the session cookie on the response (set by
/// the session's response step, which runs after it when it is inside).
async fn peek(request: Request, next: Next) -> Response {
    let session = request.extensions().get::<Session>().is_some();
    let messages = request.extensions().get::<Messages>().is_some();
    let mut response = next.run(request).await;
    let cookie = response.headers().contains_key(http::header::SET_COOKIE);
    let seen = format!("session={session} messages={messages} cookie={cookie}");
    response
        .headers_mut()
        .insert("x-peek", http::HeaderValue::from_str(&seen).unwrap());
    response
}

/// A maintenance page made by a middleware, from a template, wherever the
/// setting places it (before the session too).
async fn maint(request: Request, next: Next) -> Response {
    use nuages::axum::extract::FromRequestParts;
    if request.uri().path() != "/maintenance/" {
        return next.run(request).await;
    }
    let (mut parts, _) = request.into_parts();
    let page = match Templates::from_request_parts(&mut parts, &()).await {
        Ok(templates) => templates.render("shout.html", context! { "who" => "maintenance" }),
        Err(error) => Err(error),
    };
    page.into_response()
}

async fn remember(session: Session) -> Result<&'static str> {
    session.insert("visited", true)?;
    Ok("remembered")
}

async fn greet(site: Config<MySite>, api: Data<ApiClient>) -> String {
    format!("{} x{} via {}", site.greeting, site.page_size, api.base)
}

async fn shouted(templates: Templates) -> Result<Html<String>> {
    templates.render("shout.html", context! { "who" => "world" })
}

async fn library(templates: Templates) -> Result<Html<String>> {
    templates.render("library.html", context! { "who" => "world" })
}

async fn needs_missing(_: Data<NeverShared>) -> &'static str {
    "unreachable"
}

async fn needs_missing_section(_: Config<NeverConfigured>) -> &'static str {
    "unreachable"
}

fn shout(value: &str, _: nuages::tera::Kwargs, _: &nuages::tera::State) -> String {
    value.to_uppercase()
}

fn exclaim(
    _: nuages::tera::Kwargs,
    _: &nuages::tera::State,
) -> nuages::tera::TeraResult<&'static str> {
    Ok("!")
}

fn loud(value: &str, _: nuages::tera::Kwargs, _: &nuages::tera::State) -> bool {
    value == value.to_uppercase()
}

fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("greet/", greet, "greet")
        .path("shout/", shouted, "shout")
        .path("library/", library, "library")
        .path("remember/", remember, "remember")
}

/// The error `Application::new` refuses `project` with, after checking that
/// `check` reports it as `id`, in the same words.
fn refused_by_check_and_build(
    project: Project,
    settings: nuages::conf::Settings,
    id: &str,
) -> nuages::Error {
    let report = run_checks(&CheckContext::new(&settings, &project), &[]);
    let found: Vec<_> = report
        .messages
        .iter()
        .filter(|m| m.id == id)
        .map(|m| m.message.clone())
        .collect();
    let error = Application::new(project, settings).unwrap_err();
    assert_eq!(found, vec![error.to_string()], "{:#?}", report.messages);
    error
}

fn project(dir: &Path) -> Project {
    Project::new("extsite", dir)
        .urls(urlpatterns)
        .middleware("stamp", stamp)
        .middleware("peek", peek)
        .middleware("maint", maint)
        .settings_section::<MySite>("mysite")
        .state(ApiClient {
            base: "https://api.example".into(),
        })
        .template_library(|tera| {
            tera.register_filter("shout", shout);
            tera.register_function("exclaim", exclaim);
            tera.register_test("loud", loud);
        })
}

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(settings: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(
            dir.path().join("templates/shout.html"),
            "hello {{ who | shout }}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("templates/library.html"),
            "{% if who | shout is loud %}{{ who | shout }}{{ exclaim() }}{% endif %}\
             {% if who is loud %} never{% endif %}",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("settings.toml"),
            format!(
                "secret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\ntemplate_dirs = [\"templates\"]\n{settings}"
            ),
        )
        .unwrap();
        Site { dir }
    }

    fn load(&self, env: &[(&str, &str)]) -> nuages::Result<nuages::conf::Settings> {
        Ok(project(self.dir.path())
            .settings_loader(self.dir.path().join("settings.toml"))
            .env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .load()?)
    }

    fn application(&self, env: &[(&str, &str)]) -> nuages::Result<Application> {
        Application::new(project(self.dir.path()), self.load(env)?)
    }

    fn client(&self) -> Client {
        Client::new(self.application(&[]).unwrap())
    }
}

#[tokio::test]
async fn a_registered_middleware_runs_where_the_setting_places_it() {
    let site = Site::new("middleware = [\"security\", \"stamp\", \"common\"]\n");
    let client = site.client();
    let page = client.get("/greet/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("x-stamp"), Some("mine"));
    // Inside the error pages: a 404 passes through it too.
    assert_eq!(
        client.get("/nowhere/").await.header("x-stamp"),
        Some("mine")
    );
    // Inside the host check: a refused host never reaches it.
    let refused = client
        .request(http::Method::GET, "/greet/")
        .header("host", "evil.example")
        .send()
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.header("x-stamp"), None);
    // Not listed, not run.
    let site = Site::new("middleware = [\"security\", \"common\"]\n");
    assert_eq!(site.client().get("/greet/").await.header("x-stamp"), None);
}

/// A project's middleware renders a template before the session's step as
/// after it (the template gets no `user` there, as without `auth`).
#[tokio::test]
async fn a_middleware_renders_a_template_before_and_after_the_session() {
    for middleware in [
        r#"["maint", "session", "auth", "csrf", "messages"]"#,
        r#"["session", "auth", "csrf", "messages", "maint"]"#,
    ] {
        let site = Site::new(&format!("middleware = {middleware}\n"));
        let page = site.client().get("/maintenance/").await;
        assert_eq!(page.status, 200, "{middleware}: {}", page.text());
        assert_eq!(page.text(), "hello MAINTENANCE", "{middleware}");
    }
}

/// The built-ins run as one level between a project's own middleware, and
/// the order is still the setting's, both ways: a project's middleware
/// sees what the built-ins before it put in the request and what those
/// after it (inside) did to the response, and not the others.
#[tokio::test]
async fn a_registered_middleware_between_built_ins_sees_them_in_the_settings_order() {
    for (middleware, seen) in [
        (
            r#"["session", "peek", "messages"]"#,
            "session=true messages=false cookie=false",
        ),
        (
            r#"["peek", "session", "messages"]"#,
            "session=false messages=false cookie=true",
        ),
        (
            r#"["session", "messages", "peek"]"#,
            "session=true messages=true cookie=false",
        ),
        (
            r#"["session", "common", "csrf", "messages", "peek", "xframe"]"#,
            "session=true messages=true cookie=false",
        ),
    ] {
        let site = Site::new(&format!("middleware = {middleware}\n"));
        let page = site.client().get("/remember/").await;
        assert_eq!(page.status, 200, "{middleware}");
        assert_eq!(page.header("x-peek"), Some(seen), "{middleware}");
        assert!(
            page.header("set-cookie")
                .is_some_and(|c| c.starts_with("sessionid=")),
            "{middleware}"
        );
    }
    // `common`'s redirect answers before what is inside it runs.
    let site = Site::new("middleware = [\"common\", \"peek\"]\n");
    let page = site.client().get("/greet").await;
    assert_eq!(page.status, 301);
    assert_eq!(page.header("x-peek"), None);
    let site = Site::new("middleware = [\"peek\", \"common\"]\n");
    let page = site.client().get("/greet").await;
    assert_eq!(page.status, 301);
    assert!(page.header("x-peek").is_some());
}

#[test]
fn an_unknown_middleware_lists_the_registered_ones_too() {
    let site = Site::new("middleware = [\"security\", \"stmap\"]\n");
    let error = site.application(&[]).unwrap_err();
    assert!(error.to_string().contains("'stmap'"), "{error}");
    let hint = error.hint().unwrap();
    assert!(hint.contains("did you mean 'stamp'?"), "{hint}");
    assert!(
        hint.contains("security") && hint.contains("stamp"),
        "{hint}"
    );
    // Listed but never registered, with no name close to it: the hint says
    // how to register it.
    let site = Site::new("middleware = [\"security\", \"ratelimit\"]\n");
    let error = site.application(&[]).unwrap_err();
    let hint = error.hint().unwrap();
    assert!(!hint.contains("did you mean"), "{hint}");
    assert!(
        hint.contains("registered in src/wsgi.rs with .middleware(\"ratelimit\", "),
        "{hint}"
    );
}

/// A middleware registered as `session` would never run: the setting's
/// "session" is the built-in. The application and `check` refuse it,
/// naming the fix, whether or not the setting lists the name.
#[test]
fn a_middleware_registered_under_a_built_in_name_stops_the_build() {
    for middleware in [r#"["session", "csrf"]"#, r#"["security"]"#] {
        let site = Site::new(&format!("middleware = {middleware}\n"));
        let project = project(site.dir.path()).middleware("session", stamp);
        let settings = site.load(&[]).unwrap();
        let report = run_checks(&CheckContext::new(&settings, &project), &[]);
        let found: Vec<_> = report
            .messages
            .iter()
            .filter(|m| m.id == "nuages.E015")
            .collect();
        assert_eq!(found.len(), 1, "{:#?}", report.messages);
        let error = Application::new(project, settings).unwrap_err();
        let message = error.to_string();
        assert_eq!(found[0].message, message);
        assert!(
            message.contains("registered as 'session', the name of a built-in middleware"),
            "{message}"
        );
        let hint = error.hint().unwrap();
        assert!(hint.contains(".middleware(\"my_session\", …)"), "{hint}");
        assert_eq!(found[0].hint.as_deref(), Some(hint.as_str()));
    }
}

/// A registered middleware the `middleware` setting leaves out never runs:
/// `check` warns (`nuages.W016`) with the setting that lists it, and the
/// application starts without it. Listed, the warning goes.
#[tokio::test]
async fn a_registered_middleware_the_setting_leaves_out_is_a_warning() {
    let site = Site::new("middleware = [\"security\", \"peek\", \"maint\"]\n");
    let project = project(site.dir.path());
    let settings = site.load(&[]).unwrap();
    let report = run_checks(&CheckContext::new(&settings, &project), &[]);
    let found: Vec<_> = report
        .messages
        .iter()
        .filter(|m| m.id == "nuages.W016")
        .collect();
    assert_eq!(found.len(), 1, "{:#?}", report.messages);
    assert_eq!(found[0].level, nuages::checks::Level::Warning);
    assert_eq!(
        found[0].message,
        "the middleware 'stamp' is registered but the `middleware` setting does not list it: it never runs"
    );
    let hint = found[0].hint.as_deref().unwrap();
    assert!(
        hint.contains(r#"middleware = ["security", "peek", "maint", "stamp"]"#),
        "{hint}"
    );
    // It starts, and `stamp` does not run.
    let response = site.client().get("/greet/").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-stamp"), None);

    let listed = Site::new("middleware = [\"security\", \"stamp\", \"peek\", \"maint\"]\n");
    let settings = listed.load(&[]).unwrap();
    let report = run_checks(&CheckContext::new(&settings, &project), &[]);
    assert!(
        report.messages.iter().all(|m| m.id != "nuages.W016"),
        "{:#?}",
        report.messages
    );
    assert_eq!(
        listed.client().get("/greet/").await.header("x-stamp"),
        Some("mine")
    );

    // A misspelt entry (E006's) is not copied into the example of the fix.
    let misspelt = Site::new("middleware = [\"security\", \"stmap\", \"peek\"]\n");
    let settings = misspelt.load(&[]).unwrap();
    let report = run_checks(&CheckContext::new(&settings, &project), &[]);
    let hint = report
        .messages
        .iter()
        .find(|m| m.id == "nuages.W016")
        .and_then(|m| m.hint.as_deref())
        .unwrap_or_default();
    assert!(
        hint.contains(r#"middleware = ["security", "peek", "stamp"]"#),
        "{hint}"
    );
}

/// `middleware_with` builds the middleware's configuration from the
/// settings once, when the application is built, not per request.
#[tokio::test]
async fn a_middleware_configured_from_the_settings_is_built_once() {
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.toml"),
        format!("secret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\nmiddleware = [\"limits\"]\n[mysite]\npage_size = 7\n"),
    )
    .unwrap();
    let project =
        project(dir.path()).middleware_with("limits", |settings: &nuages::conf::Settings| {
            BUILDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let size = settings.sections.get::<MySite>().unwrap().page_size;
            Ok(move |request: Request, next: Next| async move {
                let mut response = next.run(request).await;
                response
                    .headers_mut()
                    .insert("x-page-size", size.to_string().parse().unwrap());
                response
            })
        });
    let settings = project
        .load_settings(&dir.path().join("settings.toml"))
        .unwrap();
    let client = Client::new(Application::new(project, settings).unwrap());
    for path in ["/greet/", "/greet/"] {
        let response = client.get(path).await;
        assert_eq!(response.header("x-page-size"), Some("7"), "{path}");
    }
    assert_eq!(BUILDS.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_middleware_configured_from_the_settings_fails_the_build_when_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.toml"),
        format!("secret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\nmiddleware = [\"limits\"]\n[mysite]\npage_size = 0\n"),
    )
    .unwrap();
    let project =
        project(dir.path()).middleware_with("limits", |settings: &nuages::conf::Settings| {
            let site = settings
                .sections
                .get::<MySite>()
                .expect("the section is declared");
            if site.page_size < 1 {
                return Err(nuages::Error::Config(
                    Problem::new("mysite.page_size must be at least 1")
                        .with_hint("set page_size = 10 under [mysite]"),
                ));
            }
            let size = site.page_size;
            Ok(move |request: Request, next: Next| async move {
                let mut response = next.run(request).await;
                response
                    .headers_mut()
                    .insert("x-page-size", size.to_string().parse().unwrap());
                response
            })
        });
    let settings = project
        .load_settings(&dir.path().join("settings.toml"))
        .unwrap();
    // `check` reports it as nuages.E015, in the same words.
    let report = run_checks(&CheckContext::new(&settings, &project), &[]);
    let found = report
        .messages
        .iter()
        .find(|m| m.id == "nuages.E015")
        .unwrap_or_else(|| panic!("{:#?}", report.messages));
    let said = "the middleware 'limits' cannot be built from the settings: \
                mysite.page_size must be at least 1";
    assert_eq!(found.message, said);
    assert_eq!(
        found.hint.as_deref(),
        Some("set page_size = 10 under [mysite]")
    );
    let error = Application::new(project, settings).unwrap_err();
    assert_eq!(error.to_string(), said);
}

#[tokio::test]
async fn a_settings_section_is_layered_like_every_setting() {
    let base = "[mysite]\ngreeting = \"bonjour\"\npage_size = 5\n";
    let site = Site::new("");
    std::fs::write(site.dir.path().join("base.toml"), base).unwrap();
    std::fs::write(
        site.dir.path().join("settings.toml"),
        format!(
            "extends = \"base.toml\"\nsecret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\n[mysite]\npage_size = 7\n"
        ),
    )
    .unwrap();
    let settings = site.load(&[]).unwrap();
    let loaded = settings.sections.get::<MySite>().unwrap();
    assert_eq!(loaded.greeting, "bonjour", "from the file it extends");
    assert_eq!(loaded.page_size, 7, "the file beats its base");
    assert!(!loaded.beta, "a key nobody set keeps its default");

    let settings = site
        .load(&[
            ("NUAGES_MYSITE__PAGE_SIZE", "9"),
            ("NUAGES_MYSITE__BETA", "yes"),
        ])
        .unwrap();
    let loaded = settings.sections.get::<MySite>().unwrap();
    assert_eq!((loaded.page_size, loaded.beta), (9, true));

    // Views read it, with the shared state.
    let application = site.application(&[]).unwrap();
    let page = Client::new(application).get("/greet/").await;
    assert_eq!(page.text(), "bonjour x7 via https://api.example");

    // diffsettings shows it, a token, key, secret or password masked.
    let settings = site
        .load(&[
            ("NUAGES_MYSITE__API_TOKEN", "tok-123"),
            ("NUAGES_MYSITE__SIGNING_KEY", "key-456"),
            ("NUAGES_MYSITE__WEBHOOK_SECRET", "whs-789"),
            ("NUAGES_MYSITE__SMTP_PASSWORD", "pw-012"),
        ])
        .unwrap();
    let lines = nuages::management::commands::diffsettings::diff_lines(&settings, false);
    assert!(
        lines.contains(&"mysite.page_size = 7".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"mysite.greeting = \"bonjour\"".to_string()),
        "{lines:?}"
    );
    for (key, value) in [
        ("api_token", "tok-123"),
        ("signing_key", "key-456"),
        ("webhook_secret", "whs-789"),
        ("smtp_password", "pw-012"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("mysite.{key} = "))),
            "{key}: {lines:?}"
        );
        assert!(lines.iter().all(|l| !l.contains(value)), "{lines:?}");
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("mysite.beta")),
        "{lines:?}"
    );
}

#[test]
fn a_settings_section_has_the_same_errors_as_every_setting() {
    let error = |settings: &str, env: &[(&str, &str)]| {
        let site = Site::new(settings);
        let error = site.load(env).unwrap_err();
        (error.to_string(), error.hint().unwrap_or_default())
    };
    let (message, hint) = error("[mysite]\ngreting = \"hi\"\n", &[]);
    assert!(message.contains("mysite.greting"), "{message}");
    assert!(
        format!("{message} {hint}").contains("mysite.greeting"),
        "{message} / {hint}"
    );
    let (message, _) = error("[mysite]\npage_size = \"ten\"\n", &[]);
    assert!(message.contains("mysite.page_size"), "{message}");
    let (message, _) = error("[mysite]\ngreeting = \"${UNSET_VARIABLE}\"\n", &[]);
    assert!(message.contains("UNSET_VARIABLE"), "{message}");
    // Loaded without the project, the table is unknown, and the hint says why.
    let site = Site::new("[mysite]\npage_size = 3\n");
    let bare = nuages::conf::SettingsLoader::new(site.dir.path().join("settings.toml"))
        .env(Vec::<(String, String)>::new())
        .load()
        .unwrap_err();
    let hint = nuages::Error::from(bare).hint().unwrap_or_default();
    assert!(
        hint.contains("Project::settings_section(\"mysite\")"),
        "{hint}"
    );
    let (message, hint) = error("", &[("NUAGES_MYSITE__PAGESIZE", "3")]);
    assert!(message.contains("NUAGES_MYSITE__PAGESIZE"), "{message}");
    assert!(
        format!("{message} {hint}").contains("NUAGES_MYSITE__PAGE_SIZE"),
        "{message} / {hint}"
    );
}

/// A misspelt section name (`[mysit]`, `[MySite]`, `NUAGES_MYSIT__…`) is
/// an unknown key like any other, and its closest name is the section's:
/// not a hint to declare a section of that name.
#[test]
fn a_misspelt_section_name_suggests_the_section() {
    for table in ["mysit", "MySite"] {
        let site = Site::new(&format!("[{table}]\npage_size = 3\n"));
        let error = site.load(&[]).unwrap_err();
        assert!(error.to_string().contains(&format!("`{table}`")), "{error}");
        assert_eq!(
            error.hint().as_deref(),
            Some("did you mean `mysite`?"),
            "{error}"
        );
    }
    let site = Site::new("");
    let error = site.load(&[("NUAGES_MYSIT__PAGE_SIZE", "3")]).unwrap_err();
    assert!(
        error.to_string().contains("NUAGES_MYSIT__PAGE_SIZE"),
        "{error}"
    );
    assert_eq!(
        error.hint().as_deref(),
        Some("did you mean NUAGES_MYSITE__PAGE_SIZE?"),
        "{error}"
    );
}

/// A section named other than in snake_case (`MySite`, `my-site`) could
/// be written in a file, but its `NUAGES_<NAME>__<KEY>` variables, read in
/// lowercase, could never reach it: refused by name, with the snake_case
/// name to use.
#[test]
fn a_settings_section_not_in_snake_case_is_refused() {
    for (name, fixed) in [
        ("MySite", "my_site"),
        ("my-site", "my_site"),
        ("tuning__x", "tuning_x"),
    ] {
        let site = Site::new("");
        let error = project(site.dir.path())
            .settings_section::<Tuning>(name)
            .settings_loader(site.dir.path().join("settings.toml"))
            .env([("NUAGES_MYSITE__WORKERS", "3")])
            .load()
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "the settings section [{name}] has a name that is not snake_case"
            )),
            "{message}"
        );
        let hint = nuages::Error::from(error).hint().unwrap_or_default();
        assert!(
            hint.contains(&format!(".settings_section::<…>(\"{fixed}\")")),
            "{hint}"
        );
    }
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Payments {
    credentials: std::collections::BTreeMap<String, String>,
    api_keys: Vec<String>,
    accounts: Vec<std::collections::BTreeMap<String, String>>,
    api_token: Option<String>,
}

/// diffsettings masks a secret a section keeps in a table, in a list under
/// a secret name or in a table of a list, as Django's `cleanse_setting`
/// walks dicts and lists; a masked value is TOML as the others are. So
/// does the sections' `Debug`, which a project may log.
#[test]
fn diffsettings_masks_secrets_inside_a_sections_tables_and_lists() {
    let site = Site::new(
        "[payments]\napi_keys = [\"list-key-111\"]\napi_token = \"tok-444\"\n\
         accounts = [{ name = \"shop\", token = \"list-token-222\" }]\n\
         [payments.credentials]\nuser = \"shop-user\"\npassword = \"nested-pass-333\"\n",
    );
    let settings = project(site.dir.path())
        .settings_section::<Payments>("payments")
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap();
    let lines = nuages::management::commands::diffsettings::diff_lines(&settings, false);
    let logged = format!("{:?}", settings.sections);
    for secret in [
        "list-key-111",
        "list-token-222",
        "nested-pass-333",
        "tok-444",
    ] {
        assert!(lines.iter().all(|l| !l.contains(secret)), "{lines:?}");
        assert!(!logged.contains(secret), "{logged}");
    }
    assert!(logged.contains("shop-user"), "{logged}");
    let mask = "\"********************\"";
    for expected in [
        format!("payments.api_keys = {mask}"),
        format!("payments.api_token = {mask}"),
        format!("payments.accounts = [{{ name = \"shop\", token = {mask} }}]"),
        format!("payments.credentials = {{ password = {mask}, user = \"shop-user\" }}"),
    ] {
        assert!(lines.contains(&expected), "{expected} in {lines:?}");
    }
}

/// A section's keys take what its struct's fields take, as a Django
/// setting takes any value: a fraction, a negative number, an `Option`
/// that defaults to `None`, a list of numbers, a table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Tuning {
    sample_rate: f64,
    utc_offset_minutes: i64,
    max_items: Option<u32>,
    label: Option<String>,
    retry_delays: Vec<i64>,
    weights: std::collections::BTreeMap<String, i64>,
    workers: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            sample_rate: 0.5,
            utc_offset_minutes: 0,
            max_items: None,
            label: None,
            retry_delays: vec![1],
            weights: Default::default(),
            workers: 1,
        }
    }
}

#[test]
fn a_settings_section_takes_every_type_its_struct_takes() {
    let load = |settings: &str, env: &[(&str, &str)]| {
        let site = Site::new(settings);
        project(site.dir.path())
            .settings_section::<Tuning>("tuning")
            .settings_loader(site.dir.path().join("settings.toml"))
            .env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .load()
    };
    let settings = load(
        "[tuning]\nsample_rate = 0.25\nutc_offset_minutes = -300\nmax_items = 50\nlabel = \"beta\"\n\
         retry_delays = [1, 5, 30]\nweights = { a = 2, b = -1 }\n",
        &[],
    )
    .unwrap();
    let tuning = settings.sections.get::<Tuning>().unwrap();
    assert_eq!(tuning.sample_rate, 0.25);
    assert_eq!(tuning.utc_offset_minutes, -300);
    assert_eq!(tuning.max_items, Some(50));
    assert_eq!(tuning.label.as_deref(), Some("beta"));
    assert_eq!(tuning.retry_delays, [1, 5, 30]);
    assert_eq!(tuning.weights["b"], -1);

    // The environment, read as the type of each key.
    let settings = load(
        "",
        &[
            ("NUAGES_TUNING__SAMPLE_RATE", "0.75"),
            ("NUAGES_TUNING__UTC_OFFSET_MINUTES", "-60"),
            ("NUAGES_TUNING__MAX_ITEMS", "7"),
            ("NUAGES_TUNING__LABEL", "123"),
            ("NUAGES_TUNING__RETRY_DELAYS", "2, 4"),
        ],
    )
    .unwrap();
    let tuning = settings.sections.get::<Tuning>().unwrap();
    assert_eq!(tuning.sample_rate, 0.75);
    assert_eq!(tuning.utc_offset_minutes, -60);
    assert_eq!(tuning.max_items, Some(7));
    assert_eq!(tuning.label.as_deref(), Some("123"));
    assert_eq!(tuning.retry_delays, [2, 4]);
    // A list may be a TOML array, as in a settings file.
    let settings = load("", &[("NUAGES_TUNING__RETRY_DELAYS", "[3, 9]")]).unwrap();
    let tuning = settings.sections.get::<Tuning>().unwrap();
    assert_eq!(tuning.retry_delays, [3, 9]);

    // What the field refuses is an error naming the file, the key and why.
    let error = |settings: &str, env: &[(&str, &str)]| {
        let error = load(settings, env).unwrap_err();
        (
            error.to_string(),
            nuages::Error::from(error).hint().unwrap_or_default(),
        )
    };
    let (message, hint) = error("[tuning]\nworkers = -2\n", &[]);
    assert!(
        message.contains("setting `tuning.workers` in ")
            && message.contains("settings.toml must be a whole number, found the number -2 (invalid value: integer `-2`, expected u32)"),
        "{message}"
    );
    assert!(hint.contains("`tuning.workers = 30`"), "{hint}");
    let (message, hint) = error("[tuning]\nsample_rate = \"fast\"\n", &[]);
    assert!(
        message.contains("`tuning.sample_rate`")
            && message.contains("must be a number, found the string \"fast\""),
        "{message}"
    );
    assert!(hint.contains("`tuning.sample_rate = 0.5`"), "{hint}");
    let (message, _) = error("[tuning]\nmax_items = \"many\"\n", &[]);
    assert!(
        message.contains("`tuning.max_items`") && message.contains("expected u32"),
        "{message}"
    );
    let (message, hint) = error("", &[("NUAGES_TUNING__MAX_ITEMS", "many")]);
    assert!(
        message.contains("NUAGES_TUNING__MAX_ITEMS") && message.contains("tuning.max_items"),
        "{message}"
    );
    assert!(hint.contains("NUAGES_TUNING__MAX_ITEMS"), "{hint}");
}

/// A section named as a built-in setting would take its table and its
/// variable (`[caches.default]` refused as a key of the section,
/// `NUAGES_DEBUG` as an unknown variable): refused by name, with the fix.
#[test]
fn a_settings_section_named_as_a_built_in_setting_is_refused() {
    for name in ["caches", "debug", "secret_key", "extends"] {
        let site = Site::new("debug = true\n[caches.default]\nbackend = \"locmem\"\n");
        let error = project(site.dir.path())
            .settings_section::<MySite>(name)
            .settings_loader(site.dir.path().join("settings.toml"))
            .env([("NUAGES_DEBUG", "false")])
            .load()
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "the settings section [{name}] that the project declares has the name of a built-in setting"
            )),
            "{message}"
        );
        let hint = nuages::Error::from(error).hint().unwrap_or_default();
        assert!(
            hint.contains(&format!(".settings_section::<…>(\"my_{name}\")")),
            "{hint}"
        );
    }
}

#[test]
fn a_view_that_takes_state_never_shared_stops_the_build() {
    let site = Site::new("");
    fn urls() -> UrlConf {
        UrlConf::new().path("missing/", needs_missing, "missing")
    }
    let project = project(site.dir.path()).urls(urls);
    let settings = project
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap();
    let error = refused_by_check_and_build(project, settings, "nuages.E016");
    let message = error.to_string();
    assert!(message.contains("needs_missing"), "{message}");
    assert!(
        message.contains("Data<extensions::NeverShared>"),
        "{message}"
    );
    assert!(error.hint().unwrap().contains(".state("), "{error:?}");
}

/// Two settings sections read into one type: a view's `Config<T>` could
/// only get one of them, so the application and `check` refuse it.
#[test]
fn two_sections_of_one_type_stop_the_build() {
    let site = Site::new("");
    let twice = project(site.dir.path()).settings_section::<MySite>("othersite");
    let settings = twice
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap();
    let error = refused_by_check_and_build(twice, settings, "nuages.E053");
    let message = error.to_string();
    assert_eq!(
        message,
        "the settings sections [mysite] and [othersite] are both read into the type \
         extensions::MySite: a view's Config<extensions::MySite> would only ever get one of them"
    );
    assert!(
        error
            .hint()
            .unwrap()
            .contains(".settings_section::<Other>(\"othersite\")"),
        "{error:?}"
    );
}

/// Two values of one type shared by the project: a view's `Data<T>` could
/// only get the last one, so the application and `check` refuse it.
#[tokio::test]
async fn a_type_shared_twice_stops_the_build() {
    let site = Site::new("");
    let twice = project(site.dir.path()).state(ApiClient {
        base: "https://other.example".into(),
    });
    let settings = site.load(&[]).unwrap();
    let error = refused_by_check_and_build(twice, settings, "nuages.E053");
    let message = error.to_string();
    assert_eq!(
        message,
        "the project shares two values of the type extensions::ApiClient (.state(…) twice): \
         a view's Data<extensions::ApiClient> would only ever get the last one"
    );
    assert!(
        error
            .hint()
            .unwrap()
            .contains("wrap each in a type of its own"),
        "{error:?}"
    );
    // Once is fine, and an app's value of the project's type is the project's.
    let app = nuages::App::new("polls", site.dir.path().join("polls")).state(ApiClient {
        base: "https://app.example".into(),
    });
    let with_app = project(site.dir.path()).apps(vec![app]);
    let application = Application::new(with_app, site.load(&[]).unwrap()).unwrap();
    let page = Client::new(application).get("/greet/").await;
    assert_eq!(page.text(), "hello x10 via https://api.example");
}

/// A value an app shares with its own views.
struct AppClient(#[allow(dead_code)] &'static str);

/// What the project does not share itself, two apps may not both give:
/// a value of one type, or a middleware under one name. Which app's the
/// other's views would get depended on the order of the apps.
#[tokio::test]
async fn a_type_or_middleware_name_of_two_apps_stops_the_build() {
    let site = Site::new("");
    let app = |label: &str| nuages::App::new(label, site.dir.path().join(label));
    let shared = project(site.dir.path()).apps(vec![
        app("catalog").state(AppClient("catalog")),
        app("reviews").state(AppClient("reviews")),
    ]);
    let error = refused_by_check_and_build(shared, site.load(&[]).unwrap(), "nuages.E053");
    assert_eq!(
        error.to_string(),
        "the apps 'catalog' and 'reviews' both register a value of the type \
         extensions::AppClient (.state(…)): only the first one's would be used, by the views of both"
    );
    assert!(error.hint().unwrap().contains("struct Own("), "{error:?}");
    let named = project(site.dir.path()).apps(vec![
        app("catalog").middleware("audit", stamp),
        app("reviews").middleware("audit", stamp),
    ]);
    let error = refused_by_check_and_build(named, site.load(&[]).unwrap(), "nuages.E053");
    assert_eq!(
        error.to_string(),
        "the apps 'catalog' and 'reviews' both register a middleware named 'audit': only the \
         first one's would be used, by the views of both"
    );
    assert!(
        error.hint().unwrap().contains("\"reviews_audit\""),
        "{error:?}"
    );
    // The project's own value and middleware of those win over both apps'.
    let overridden = project(site.dir.path())
        .state(AppClient("project"))
        .middleware("audit", stamp)
        .apps(vec![
            app("catalog")
                .state(AppClient("catalog"))
                .middleware("audit", stamp),
            app("reviews")
                .state(AppClient("reviews"))
                .middleware("audit", stamp),
        ]);
    assert!(Application::new(overridden, site.load(&[]).unwrap()).is_ok());
}

#[test]
fn a_view_that_takes_a_settings_section_never_declared_stops_the_build() {
    let site = Site::new("");
    fn urls() -> UrlConf {
        UrlConf::new().path("unset/", needs_missing_section, "unset")
    }
    let project = project(site.dir.path()).urls(urls);
    let settings = project
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap();
    let error = refused_by_check_and_build(project, settings, "nuages.E016");
    let message = error.to_string();
    assert!(message.contains("needs_missing_section"), "{message}");
    assert!(
        message.contains("Config<extensions::NeverConfigured>"),
        "{message}"
    );
    assert!(
        error.hint().unwrap().contains(".settings_section::<"),
        "{error:?}"
    );
}

#[tokio::test]
async fn template_libraries_reach_every_template() {
    let site = Site::new("debug = true\n");
    let page = site.client().get("/shout/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text(), "hello WORLD"); // Its functions and tests too.
    let page = site.client().get("/library/").await;
    assert_eq!(page.text(), "WORLD!");
}

/// An app that declares a section under the name the project (or another
/// app) already declares, into another type: the one table cannot be read
/// into both, so loading refuses it naming both types and the fix, where
/// the app's keys were "unknown settings" and its `Config<T>` "never
/// declared".
#[test]
fn one_section_name_declared_into_two_types_is_refused() {
    let site = Site::new("[mysite]\nsize = 3\n");
    let app = nuages::App::new("polls", site.dir.path().join("polls"))
        .settings_section::<NeverConfigured>("mysite");
    let error = project(site.dir.path())
        .apps(vec![app])
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the settings section [mysite] is declared twice, read into extensions::MySite and into \
         extensions::NeverConfigured: the one [mysite] table cannot be both, and a view's \
         Config<extensions::NeverConfigured> would never get it"
    );
    let hint = error.hint().unwrap();
    assert!(
        hint.contains(".settings_section::<extensions::NeverConfigured>(\"my_mysite\")"),
        "{hint}"
    );
    // One type declared by the project and by an app is one section.
    let app = nuages::App::new("polls", site.dir.path().join("polls"))
        .settings_section::<MySite>("mysite");
    let site = Site::new("[mysite]\npage_size = 3\n");
    let settings = project(site.dir.path())
        .apps(vec![app])
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap();
    assert_eq!(settings.sections.get::<MySite>().unwrap().page_size, 3);
}

/// A `${VAR}` in a section's key is read only where its value wins: a key
/// that `NUAGES_<SECTION>__<KEY>` or an extending file sets needs no VAR,
/// as for the built-in settings; a key nothing replaces still does.
#[test]
fn a_section_key_replaced_later_needs_no_variable() {
    let site = Site::new("[tuning]\nworkers = \"${WORKERS}\"\nlabel = \"${LABEL}\"\n");
    let load = |file: &str, env: &[(&str, &str)]| {
        project(site.dir.path())
            .settings_section::<Tuning>("tuning")
            .settings_loader(site.dir.path().join(file))
            .env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .load()
    };
    let settings = load(
        "settings.toml",
        &[("NUAGES_TUNING__WORKERS", "3"), ("LABEL", "beta")],
    )
    .unwrap();
    let tuning = settings.sections.get::<Tuning>().unwrap();
    assert_eq!((tuning.workers, tuning.label.as_deref()), (3, Some("beta")));

    std::fs::write(
        site.dir.path().join("settings.production.toml"),
        "extends = \"settings.toml\"\n[tuning]\nlabel = \"prod\"\n",
    )
    .unwrap();
    let settings = load("settings.production.toml", &[("WORKERS", "4")]).unwrap();
    let tuning = settings.sections.get::<Tuning>().unwrap();
    assert_eq!((tuning.workers, tuning.label.as_deref()), (4, Some("prod")));
    let error = load("settings.production.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("tuning.workers") && error.contains("WORKERS"),
        "{error}"
    );

    // A key that is a table is merged key by key: a later file setting one
    // of its entries replaces that entry only, so the others' variables
    // are still read (not dropped in silence).
    std::fs::write(
        site.dir.path().join("settings.toml"),
        "[tuning.weights]\nb = \"${WEIGHT_B}\"\n",
    )
    .unwrap();
    std::fs::write(
        site.dir.path().join("settings.production.toml"),
        "extends = \"settings.toml\"\n[tuning.weights]\na = 2\n",
    )
    .unwrap();
    let error = load("settings.production.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(error.contains("WEIGHT_B"), "{error}");
}

/// A table of the section's own struct, as README's `ShopSettings.api`.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct ApiSettings {
    base_url: String,
    timeout: u32,
    api_key: String,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct ShopSettings {
    greeting: String,
    page_size: u16,
    api: ApiSettings,
    banner: Option<String>,
    limits: std::collections::HashMap<String, u32>,
}

/// Loads `settings` with the `[shop]` section, under `env`.
fn load_shop(
    settings: &str,
    env: &[(&str, &str)],
) -> Result<nuages::conf::Settings, nuages::conf::SettingsError> {
    let site = Site::new(settings);
    project(site.dir.path())
        .settings_section::<ShopSettings>("shop")
        .settings_loader(site.dir.path().join("settings.toml"))
        .env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .load()
}

/// The message and the hint `settings` under `env` are refused with.
fn shop_error(settings: &str, env: &[(&str, &str)]) -> (String, String) {
    let error = load_shop(settings, env).unwrap_err();
    (
        error.to_string(),
        nuages::Error::from(error).hint().unwrap_or_default(),
    )
}

/// A key of a table of a section's struct is checked as a top-level key
/// is: an unknown one names the closest at its depth, written under
/// `[shop.api]` or inline; a map's keys are the user's own.
#[test]
fn a_sections_nested_table_refuses_an_unknown_key() {
    let (message, hint) = shop_error("[shop.api]\ntimout = 10\n", &[]);
    assert!(message.contains("`shop.api.timout`"), "{message}");
    assert_eq!(hint, "did you mean `shop.api.timeout`?");
    let (message, _) = shop_error(
        "[shop]\napi = { base_url = \"x\", timeout = 5, api_key = \"k\", extra = 1 }\n",
        &[],
    );
    assert!(message.contains("`shop.api.extra`"), "{message}");

    let settings = load_shop(
        "[shop.api]\ntimeout = 10\n[shop.limits]\nanything = 3\nelse = 4\n",
        &[],
    )
    .unwrap();
    let shop = settings.sections.get::<ShopSettings>().unwrap();
    assert_eq!(shop.api.timeout, 10);
    assert_eq!((shop.limits["anything"], shop.limits["else"]), (3, 4));
}

/// A nested key's value of the wrong type, or its unset `${VAR}`, is an
/// error naming the full dotted key and what it takes.
#[test]
fn a_sections_nested_key_errors_name_the_full_key() {
    let (message, hint) = shop_error("[shop.api]\ntimeout = \"soon\"\n", &[]);
    assert!(
        message.contains("setting `shop.api.timeout` in ")
            && message.contains(
                "must be a whole number, found the string \"soon\" (invalid type: string \"soon\", expected u32)"
            ),
        "{message}"
    );
    assert!(hint.contains("`shop.api.timeout = 30`"), "{hint}");
    let (message, _) = shop_error("[shop]\napi = 5\n", &[]);
    assert!(
        message.contains("`shop.api`") && message.contains("must be a table ([shop.api])"),
        "{message}"
    );

    let (message, hint) = shop_error("[shop.api]\napi_key = \"${SHOP_API_KEY}\"\n", &[]);
    assert!(
        message.contains("`shop.api.api_key`") && message.contains("SHOP_API_KEY"),
        "{message}"
    );
    assert!(hint.contains("export SHOP_API_KEY="), "{hint}");
    let settings = load_shop(
        "[shop.api]\napi_key = \"${SHOP_API_KEY}\"\n",
        &[("SHOP_API_KEY", "k-1")],
    )
    .unwrap();
    assert_eq!(
        settings.sections.get::<ShopSettings>().unwrap().api.api_key,
        "k-1"
    );
}

/// `NUAGES_SHOP__API__TIMEOUT` sets a nested key, read as its type, the
/// file's other keys of the table kept; an unknown one names the closest.
#[test]
fn a_sections_nested_key_is_set_by_its_variable() {
    let settings = load_shop(
        "[shop.api]\nbase_url = \"https://x\"\ntimeout = 5\n",
        &[("NUAGES_SHOP__API__TIMEOUT", "7")],
    )
    .unwrap();
    let shop = settings.sections.get::<ShopSettings>().unwrap();
    assert_eq!(
        (shop.api.timeout, shop.api.base_url.as_str()),
        (7, "https://x")
    );
    let settings = load_shop(
        "[shop.api]\ntimeout = 5\n",
        &[
            ("NUAGES_SHOP__API__BASE_URL", "https://y"),
            ("NUAGES_SHOP__API__API_KEY", "k-2"),
            ("NUAGES_SHOP__PAGE_SIZE", "3"),
        ],
    )
    .unwrap();
    let shop = settings.sections.get::<ShopSettings>().unwrap();
    assert_eq!(
        (shop.api.base_url.as_str(), shop.api.api_key.as_str()),
        ("https://y", "k-2")
    );
    assert_eq!((shop.api.timeout, shop.page_size), (5, 3));

    let (message, hint) = shop_error("", &[("NUAGES_SHOP__API__TIMOUT", "7")]);
    assert!(message.contains("NUAGES_SHOP__API__TIMOUT"), "{message}");
    assert_eq!(hint, "did you mean NUAGES_SHOP__API__TIMEOUT?");
    let (message, hint) = shop_error("", &[("NUAGES_SHOP__API__TIMEOUT", "soon")]);
    assert!(
        message.contains("`shop.api.timeout`") && message.contains("must be a whole number"),
        "{message}"
    );
    assert!(hint.contains("NUAGES_SHOP__API__TIMEOUT=30"), "{hint}");
    let (message, hint) = shop_error("", &[("NUAGES_SHOP__PAGE_SIZE__MAX", "3")]);
    assert!(message.contains("`shop.page_size.max`"), "{message}");
    assert_eq!(hint, "did you mean NUAGES_SHOP__PAGE_SIZE?");
    // A map's keys are the file's to set: no variable to suggest.
    let (message, hint) = shop_error("", &[("NUAGES_SHOP__LIMITS__GOLD", "3")]);
    assert!(message.contains("`shop.limits.gold`"), "{message}");
    assert!(!hint.contains("NUAGES_SHOP__LIMITS"), "{hint}");
    let (message, hint) = shop_error("", &[("NUAGES_SHOP__API", "x")]);
    assert!(
        message.contains("must be a table ([shop.api])"),
        "{message}"
    );
    assert!(hint.contains("NUAGES_SHOP__API__<KEY>"), "{hint}");
}

/// A map whose default has entries still takes any key: what tells a map
/// from a struct is that it keeps a key it is given.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Quotas {
    per_plan: std::collections::BTreeMap<String, u32>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            per_plan: [("free".to_string(), 10)].into(),
        }
    }
}

#[test]
fn a_sections_map_with_default_entries_takes_any_key() {
    let site = Site::new("[quotas.per_plan]\npro = 100\n");
    let settings = project(site.dir.path())
        .settings_section::<Quotas>("quotas")
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap();
    let quotas = settings.sections.get::<Quotas>().unwrap();
    assert_eq!(quotas.per_plan["pro"], 100);
}

/// A nested key's `${VAR}` is read only where its value wins, as a
/// top-level key's: its variable or an extending file replaces it; the
/// extending file's `[shop.api]` merges key by key with its base's.
#[test]
fn a_sections_nested_key_replaced_later_needs_no_variable() {
    let base = "[shop.api]\napi_key = \"${SHOP_API_KEY}\"\nbase_url = \"https://base\"\n";
    let settings = load_shop(base, &[("NUAGES_SHOP__API__API_KEY", "k-3")]).unwrap();
    assert_eq!(
        settings.sections.get::<ShopSettings>().unwrap().api.api_key,
        "k-3"
    );

    let site = Site::new(base);
    std::fs::write(
        site.dir.path().join("settings.production.toml"),
        "extends = \"settings.toml\"\n[shop.api]\napi_key = \"prod\"\ntimeout = 9\n",
    )
    .unwrap();
    let settings = project(site.dir.path())
        .settings_section::<ShopSettings>("shop")
        .settings_loader(site.dir.path().join("settings.production.toml"))
        .env(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    let api = &settings.sections.get::<ShopSettings>().unwrap().api;
    assert_eq!(
        (api.api_key.as_str(), api.base_url.as_str(), api.timeout),
        ("prod", "https://base", 9)
    );
}

/// A middleware name or a settings section the project declares twice: the
/// later silently replaced the earlier (a section's keys were then refused
/// as unknown settings of Nuages'), so check, the build and loading the
/// settings refuse it, naming what was declared twice.
#[test]
fn a_name_the_project_declares_twice_is_refused() {
    let site = Site::new("");
    let twice = project(site.dir.path()).middleware("stamp", peek);
    let settings = site.load(&[]).unwrap();
    let error = refused_by_check_and_build(twice, settings, "nuages.E053");
    assert_eq!(
        error.to_string(),
        "the project registers two middleware named 'stamp' (.middleware(\"stamp\", …) twice): \
         only the last one would ever run"
    );
    let twice = project(site.dir.path()).settings_section::<NeverConfigured>("mysite");
    let error = twice
        .load_settings(&site.dir.path().join("settings.toml"))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the project declares the settings section [mysite] twice \
         (.settings_section::<…>(\"mysite\") twice): only the last type would read it"
    );
    assert!(error.hint().unwrap().contains("declare each section once"));
}
