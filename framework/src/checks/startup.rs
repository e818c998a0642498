//! What the application refuses to start with. Each check here calls the
//! validation [`Application::new`](crate::Application::new) runs while it
//! builds the middleware and the databases, under the same condition (the
//! middleware that reads the setting is in `middleware`), and reports its
//! error with the same message and hint. So `check` fails exactly where
//! `runserver`, `serve` or `Application::new` would, and a checklist that
//! passes gives a server that starts.
//!
//! They run with every `check` (not only `--deploy`): a development server
//! refuses these settings too. The database ones are also what a command
//! that opens the database (`migrate`, `createsuperuser`, …) refuses.
//! `nuages.E052` (`serve_bind`) runs with `--deploy` only: `serve` is what
//! refuses it. One warning belongs here too, beside the middleware names:
//! a registered middleware the setting leaves out starts but never runs
//! (`nuages.W016`).

use super::{Check, CheckContext, CheckMessage, Level};
use crate::conf::Settings;
use crate::error::{Error, Problem};
use crate::middleware;

const TAGS: &[&str] = &["settings"];

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    let check = |name, run| Check {
        name,
        tags: TAGS,
        deploy: false,
        run,
    };
    vec![
        check("middleware_names", check_middleware_names),
        check("middleware_unlisted", check_middleware_unlisted),
        check("view_needs", check_view_needs),
        check("shared_state", check_shared_state),
        check("secret_key_required", check_secret_key_required),
        check("x_frame_options", check_x_frame_options),
        check("messages_storage", check_messages_storage),
        check("csrf_trusted_origins", check_csrf_trusted_origins),
        check("secure_redirect_exempt", check_secure_redirect_exempt),
        check("secure_proxy_ssl_header", check_secure_proxy_ssl_header),
        check("referrer_policy_value", check_referrer_policy_value),
        check(
            "cross_origin_opener_policy_value",
            check_cross_origin_opener_policy_value,
        ),
        Check {
            name: "auth_middleware",
            tags: &["settings", "auth"],
            deploy: false,
            run: check_auth_middleware,
        },
        Check {
            name: "database_drivers",
            tags: &["settings", "database"],
            deploy: false,
            run: check_database_drivers,
        },
        Check {
            name: "database_max_connections",
            tags: &["settings", "database"],
            deploy: false,
            run: check_database_max_connections,
        },
        Check {
            name: "default_database",
            tags: &["settings", "database"],
            deploy: false,
            run: check_default_database,
        },
        // Deploy only: `serve` and `deployconfig` read serve_bind, the
        // development server does not.
        Check {
            name: "serve_bind_form",
            tags: TAGS,
            deploy: true,
            run: check_serve_bind_form,
        },
    ]
}

/// The error `Application::new` (or `serve`) fails with, as a check
/// message of `id`.
pub(super) fn refused(id: &str, error: Error) -> CheckMessage {
    debug_assert!(
        crate::handler::REFUSED_BY_APPLICATION.contains(&id)
            || crate::management::commands::serve::REFUSED_BY_SERVE.contains(&id),
        "{id} reports what the application or serve refuses: list it beside that code \
         (nuages.W046 reads the list)"
    );
    let problem = Problem {
        message: error.to_string(),
        hint: error.hint(),
    };
    CheckMessage::of(Level::Error, id, problem)
}

pub(super) fn has_middleware(settings: &Settings, name: &str) -> bool {
    settings.middleware.iter().any(|m| m == name)
}

/// `nuages.E006`: a `middleware` entry that names no built-in middleware and
/// none the project registered, or one listed twice; `nuages.E015`: a
/// registered one that cannot be built from the settings, or that has the
/// name of a built-in one.
pub fn check_middleware_names(ctx: &CheckContext) -> Vec<CheckMessage> {
    let registered = ctx.project.registered_middleware();
    let names: Vec<&str> = registered.iter().map(|m| m.name()).collect();
    let taken = names
        .iter()
        .filter(|name| crate::conf::DEFAULT_MIDDLEWARE.contains(name))
        .map(|name| refused("nuages.E015", middleware::builtin_name_taken(name)));
    let listed = ctx
        .settings
        .middleware
        .iter()
        .filter(|name| !crate::conf::DEFAULT_MIDDLEWARE.contains(&name.as_str()))
        .filter_map(|name| match registered.iter().find(|m| m.name() == name) {
            Some(own) => own
                .build(ctx.settings)
                .err()
                .map(|error| refused("nuages.E015", error)),
            None => Some(refused(
                "nuages.E006",
                middleware::unknown_middleware(name, &names),
            )),
        });
    let twice = middleware::listed_twice(&ctx.settings.middleware)
        .map(|error| refused("nuages.E006", error));
    taken.chain(listed).chain(twice).collect()
}

/// `nuages.W016`: a middleware the project or an app registered that the
/// `middleware` setting does not list. The application starts, but it never
/// runs: registering only names it, the setting places it (as Django's
/// `MIDDLEWARE` is the only list that counts).
pub fn check_middleware_unlisted(ctx: &CheckContext) -> Vec<CheckMessage> {
    let setting = &ctx.settings.middleware;
    let registered = ctx.project.registered_middleware();
    let known = |name: &str| {
        crate::conf::DEFAULT_MIDDLEWARE.contains(&name)
            || registered.iter().any(|m| m.name() == name)
    };
    registered
        .iter()
        .map(|m| m.name())
        // A built-in's name is E015's: the setting's entry means the built-in.
        .filter(|name| !crate::conf::DEFAULT_MIDDLEWARE.contains(name))
        .filter(|name| !setting.iter().any(|listed| listed == name))
        .map(|name| {
            // The example leaves out a name the setting lists that names
            // nothing (E006's): a typo is not copied into the fix.
            let with_it: Vec<String> = setting
                .iter()
                .map(String::as_str)
                .filter(|listed| known(listed))
                .chain([name])
                .map(|m| format!("\"{m}\""))
                .collect();
            CheckMessage::of(
                Level::Warning,
                "nuages.W016",
                Problem::new(format!(
                    "the middleware '{name}' is registered but the `middleware` setting does not list it: it never runs"
                ))
                .with_hint(format!(
                    "add \"{name}\" to `middleware` where it should run among the others, e.g. middleware = [{}]; or remove its registration (.middleware(\"{name}\", …))",
                    with_it.join(", ")
                )),
            )
        })
        .collect()
}

/// `nuages.E053`: a type shared twice by the project or by one app
/// (`Project::state`), of which a view could only get one value; a type or
/// a middleware name two apps give and the project does not.
pub fn check_shared_state(ctx: &CheckContext) -> Vec<CheckMessage> {
    match ctx.project.check_state() {
        Ok(()) => vec![],
        Err(error) => vec![refused("nuages.E053", error)],
    }
}

/// `nuages.E016`: a view takes state or a settings section that the project
/// never provides.
pub fn check_view_needs(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Ok(urls) = ctx.project.urlconf().resolver() else {
        return vec![];
    };
    match crate::extract::check_needs(&urls, &ctx.project.shared_state(), ctx.settings) {
        Ok(()) => vec![],
        Err(error) => vec![refused("nuages.E016", error)],
    }
}

/// `nuages.E010`: no `secret_key` while `"session"` or `"csrf"` signs with
/// it; with `--deploy` in any case, since `serve` refuses to start without
/// one.
pub fn check_secret_key_required(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    let signs = has_middleware(settings, "session") || has_middleware(settings, "csrf");
    if !(signs || ctx.deploy) {
        return vec![];
    }
    settings
        .require_secret_key()
        .err()
        .map(|error| refused("nuages.E010", error.into()))
        .into_iter()
        .collect()
}

/// `nuages.E025`: the `messages` middleware cannot keep messages where
/// `message_storage` says (the session without the `session` middleware
/// before it, a cookie without `secret_key`).
pub fn check_messages_storage(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "messages") {
        return vec![];
    }
    crate::messages::MessagesConfig::new(ctx.settings)
        .err()
        .map(|error| refused("nuages.E025", error))
        .into_iter()
        .collect()
}

/// `nuages.E045`: the `auth` middleware needs `session` before it.
pub fn check_auth_middleware(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "auth") {
        return vec![];
    }
    crate::auth::login::check_middleware_order(ctx.settings)
        .err()
        .map(|error| refused("nuages.E045", error))
        .into_iter()
        .collect()
}

/// `nuages.E007`: `x_frame_options` is neither `DENY` nor `SAMEORIGIN`
/// while `"xframe"` sends it.
pub fn check_x_frame_options(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "xframe") {
        return vec![];
    }
    middleware::xframe::XFrameConfig::new(ctx.settings)
        .err()
        .map(|error| refused("nuages.E007", error))
        .into_iter()
        .collect()
}

/// `4_0.E001` (Django's id): a `csrf_trusted_origins` entry that is not an
/// origin with its scheme, while `"csrf"` reads them; one message per entry.
pub fn check_csrf_trusted_origins(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "csrf") {
        return vec![];
    }
    ctx.settings
        .csrf_trusted_origins
        .iter()
        .filter_map(|entry| middleware::csrf::check_trusted_origin(entry).err())
        .map(|error| refused("4_0.E001", error))
        .collect()
}

/// `nuages.E008`: a `secure_redirect_exempt` entry that is not a regular
/// expression, while `"security"` compiles them; one message per entry.
pub fn check_secure_redirect_exempt(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "security") {
        return vec![];
    }
    ctx.settings
        .secure_redirect_exempt
        .iter()
        .filter_map(|pattern| middleware::security::redirect_exempt_pattern(pattern).err())
        .map(|error| refused("nuages.E008", error))
        .collect()
}

/// `nuages.E009`: a `secure_proxy_ssl_header` that can never match (a
/// Django `HTTP_…` key, not a header name or value), while `"security"` or
/// `"csrf"` reads it.
pub fn check_secure_proxy_ssl_header(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    if !(has_middleware(settings, "security") || has_middleware(settings, "csrf")) {
        return vec![];
    }
    middleware::security::check_proxy_ssl_header(settings)
        .err()
        .map(|error| refused("nuages.E009", error))
        .into_iter()
        .collect()
}

/// `security.E023`: `secure_referrer_policy` has a value browsers do not
/// know, while `"security"` sends it.
pub fn check_referrer_policy_value(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "security") {
        return vec![];
    }
    middleware::security::referrer_policy(ctx.settings)
        .err()
        .map(|error| refused("security.E023", error))
        .into_iter()
        .collect()
}

/// `security.E024`: `secure_cross_origin_opener_policy` has a value
/// browsers do not know, while `"security"` sends it.
pub fn check_cross_origin_opener_policy_value(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "security") {
        return vec![];
    }
    middleware::security::opener_policy(ctx.settings)
        .err()
        .map(|error| refused("security.E024", error))
        .into_iter()
        .collect()
}

/// `nuages.E011`: a database URL whose scheme has no driver in this build,
/// or a SQLite URL without a file (empty, or in memory).
pub fn check_database_drivers(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.settings
        .databases
        .iter()
        .filter_map(|(alias, database)| crate::db::check_url(alias, &database.url).err())
        .map(|error| refused("nuages.E011", error))
        .collect()
}

/// `nuages.E050`: a database whose `max_connections` is 0.
pub fn check_database_max_connections(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.settings
        .databases
        .iter()
        .filter_map(|(alias, database)| crate::db::check_max_connections(alias, database).err())
        .map(|error| refused("nuages.E050", error))
        .collect()
}

/// `nuages.E052`: `serve_bind` is not `HOST:PORT`, `[IPv6]:PORT` or
/// `unix:/path`, so `serve` (without `--bind`) and `deployconfig` (without
/// `--upstream`) refuse it.
pub fn check_serve_bind_form(ctx: &CheckContext) -> Vec<CheckMessage> {
    crate::server::serve_bind_setting(
        ctx.settings,
        ctx.project.name(),
        ctx.env_overrides("NUAGES_SERVE_BIND"),
    )
    .err()
    .map(|error| refused("nuages.E052", error))
    .into_iter()
    .collect()
}

/// `nuages.E051`: `[databases.<alias>]` tables and none is `default`.
pub fn check_default_database(ctx: &CheckContext) -> Vec<CheckMessage> {
    crate::db::check_default_alias(ctx.settings)
        .err()
        .map(|error| refused("nuages.E051", error))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::{Application, Project};

    const KEY: &str = "k3Jx9vQm2Lw7Rt5Yp1Zs8Nd4Hf6Gb0Xc3Vb7Nm1Qw5Er9Ty2Ui4Op6As8Df0Gh";

    fn settings(dir: &std::path::Path) -> Settings {
        Settings {
            secret_key: Some(KEY.into()),
            ..settings_in(dir)
        }
    }

    /// The messages of every check of this file.
    fn messages(settings: &Settings, project: &Project, deploy: bool) -> Vec<CheckMessage> {
        let ctx = CheckContext::new(settings, project).with_deploy(deploy);
        checks()
            .iter()
            .flat_map(|check| (check.run)(&ctx))
            .collect()
    }

    /// `bad` makes exactly one `id` error, whose message and hint are those
    /// of the error `Application::new` refuses to build with.
    fn agrees(id: &str, bad: impl FnOnce(&mut Settings)) -> CheckMessage {
        let dir = tempfile::tempdir().unwrap();
        let project = || project_in(dir.path());
        let good = settings(dir.path());
        assert_eq!(messages(&good, &project(), true), vec![]);
        Application::new(project(), good.clone()).expect("the good settings build");

        let mut bad_settings = good;
        bad(&mut bad_settings);
        let found = messages(&bad_settings, &project(), false);
        assert_eq!(ids(&found), [id], "{found:#?}");
        let error = Application::new(project(), bad_settings).unwrap_err();
        assert_eq!(found[0].message, error.to_string());
        assert_eq!(found[0].hint, error.hint());
        assert!(found[0].hint.is_some(), "{id} has no hint");
        found.into_iter().next().unwrap()
    }

    #[test]
    fn what_the_application_refuses_check_reports_with_the_same_words() {
        let message = agrees("nuages.E006", |s| s.middleware.push("gzip".into()));
        assert_eq!(
            message.message,
            "unknown middleware 'gzip' in the `middleware` setting"
        );
        let message = agrees("nuages.E006", |s| s.middleware.push("csrf".into()));
        assert_eq!(
            message.message,
            "the `middleware` setting lists 'csrf' twice, and it would run twice on every request"
        );
        let message = agrees("nuages.E006", |s| s.middleware[0] = "securty".into());
        assert!(
            message
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean 'security'?"),
            "a typo gets its suggestion"
        );
        agrees("nuages.E007", |s| s.x_frame_options = "ALLOWALL".into());
        let message = agrees("4_0.E001", |s| {
            s.csrf_trusted_origins = vec!["https://ok.example".into(), "example.com".into()]
        });
        assert!(message.message.contains("'example.com' has no scheme"));
        assert_eq!(
            message.hint.as_deref(),
            Some(
                "write \"https://example.com\" (or \"http://example.com\" for a site served without TLS)"
            )
        );
        agrees("4_0.E001", |s| {
            s.csrf_trusted_origins = vec!["https://a.*.example.com".into()]
        });
        let message = agrees("nuages.E008", |s| {
            s.secure_redirect_exempt = vec!["^healthz/$".into(), "^(api/".into()]
        });
        assert!(message.message.contains("'^(api/'"), "{}", message.message);
        let message = agrees("nuages.E009", |s| {
            s.secure_proxy_ssl_header = Some(vec!["HTTP_X_FORWARDED_PROTO".into(), "https".into()])
        });
        assert!(
            message
                .message
                .contains("write the header as sent, like 'X-FORWARDED-PROTO'"),
            "{}",
            message.message
        );
        agrees("nuages.E010", |s| s.secret_key = None);
        agrees("nuages.E010", |s| s.secret_key = Some("  ".into()));
        // "messages" kept in the session, listed before "session".
        agrees("nuages.E025", |s| {
            s.middleware.retain(|m| m != "messages");
            s.middleware.insert(1, "messages".into());
        });
        // "auth" reads the user from the session, listed before "session".
        agrees("nuages.E045", |s| {
            s.middleware.retain(|m| m != "auth");
            s.middleware.insert(1, "auth".into());
        });
        // Moved from the deployment checks: browsers ignore an unknown policy.
        agrees("security.E023", |s| {
            s.secure_referrer_policy = "same-origin, sometimes".into()
        });
        agrees("security.E024", |s| {
            s.secure_cross_origin_opener_policy = "same-site".into()
        });
        let message = agrees("nuages.E011", |s| {
            s.databases.get_mut("default").unwrap().url = "mysql://db.internal/site".into()
        });
        assert!(
            message
                .message
                .starts_with("databases.default.url uses the scheme 'mysql:'"),
            "{}",
            message.message
        );
        let message = agrees("nuages.E011", |s| {
            s.databases.get_mut("default").unwrap().url = "sqlite://".into()
        });
        assert!(
            message.message.contains("names no database file"),
            "{}",
            message.message
        );
        agrees("nuages.E011", |s| {
            s.databases.get_mut("default").unwrap().url = "sqlite::memory:".into()
        });
        let message = agrees("nuages.E050", |s| {
            s.databases.get_mut("default").unwrap().max_connections = 0
        });
        assert!(
            message
                .message
                .starts_with("databases.default.max_connections is 0"),
            "{}",
            message.message
        );
        let message = agrees("nuages.E051", |s| {
            let default = s.databases.remove("default").unwrap();
            s.databases.insert("defualt".into(), default);
        });
        assert!(
            message
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean [databases.defualt]?"),
            "{:?}",
            message.hint
        );
    }

    #[test]
    fn an_invalid_serve_bind_is_e052_with_deploy_and_where_it_was_set() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut s = settings(dir.path());
        s.serve_bind = "abc".into();
        let deploy_only: Vec<&str> = checks()
            .iter()
            .filter(|check| check.deploy)
            .map(|check| check.name)
            .collect();
        assert_eq!(deploy_only, ["serve_bind_form"], "runserver ignores it");
        let ctx = CheckContext::new(&s, &project)
            .with_deploy(true)
            .with_env([("NUAGES_SERVE_BIND", "abc")]);
        let found: Vec<CheckMessage> = checks().iter().flat_map(|c| (c.run)(&ctx)).collect();
        assert_eq!(ids(&found), ["nuages.E052"]);
        assert_eq!(
            found[0].message,
            "serve_bind \"abc\" (set by NUAGES_SERVE_BIND) is not HOST:PORT, [IPv6]:PORT or unix:/path"
        );
        assert!(
            found[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("\"unix:/run/site/site.sock\""),
            "{:?}",
            found[0].hint
        );
        for good in ["127.0.0.1:8000", "[::1]:8000", "unix:/run/site/site.sock"] {
            s.serve_bind = good.into();
            assert_eq!(messages(&s, &project, true), vec![], "{good}");
        }
    }

    #[test]
    fn settings_no_middleware_reads_are_not_reported() {
        let dir = tempfile::tempdir().unwrap();
        let project = || project_in(dir.path());
        let mut s = settings(dir.path());
        s.middleware = vec!["common".into()];
        s.secret_key = None;
        s.x_frame_options = "ALLOWALL".into();
        s.csrf_trusted_origins = vec!["example.com".into()];
        s.secure_redirect_exempt = vec!["(".into()];
        s.secure_proxy_ssl_header = Some(vec!["HTTP_X".into(), "https".into()]);
        s.secure_referrer_policy = "sometimes".into();
        assert_eq!(messages(&s, &project(), false), vec![]);
        Application::new(project(), s.clone()).expect("nothing reads them");
        // serve needs a secret key whatever the middleware.
        assert_eq!(ids(&messages(&s, &project(), true)), ["nuages.E010"]);
    }

    #[test]
    fn every_policy_the_middleware_sends_passes_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let project = || project_in(dir.path());
        let mut s = settings(dir.path());
        for value in middleware::security::OPENER_POLICIES.iter().chain(&[""]) {
            s.secure_cross_origin_opener_policy = value.to_string();
            assert_eq!(messages(&s, &project(), false), vec![], "{value:?}");
            Application::new(project(), s.clone()).unwrap();
        }
        s.secure_referrer_policy = "no-referrer, strict-origin-when-cross-origin".into();
        assert_eq!(messages(&s, &project(), false), vec![], "a fallback list");
        s.secure_referrer_policy = String::new();
        assert_eq!(messages(&s, &project(), false), vec![], "no header");
    }
}
