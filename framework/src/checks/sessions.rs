//! Where sessions are kept (`session_engine`): the store must exist and
//! keep what it is given (`nuages.E022`, `nuages.E023`, through the
//! validation the `session` middleware runs when it is built, so the
//! application refuses the same settings), and for deployment it must be
//! shared by every `serve` and survive a restart (`nuages.W035`), and a
//! site where users log in keeps them on the server, where a logout can
//! end them (`nuages.W041`).

use super::startup::{has_middleware, refused};
use super::{Check, CheckContext, CheckMessage};
use crate::conf::{CacheBackend, SessionEngine};
use crate::sessions;

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "session_cache_alias",
            tags: &["settings", "sessions"],
            deploy: false,
            run: check_session_cache_alias,
        },
        Check {
            name: "session_store_keeps_sessions",
            tags: &["settings", "sessions"],
            deploy: false,
            run: check_session_store_keeps_sessions,
        },
        Check {
            name: "session_cache_shared",
            tags: &["sessions", "caches"],
            deploy: true,
            run: check_session_cache_shared,
        },
        Check {
            name: "session_logout_ends_it",
            tags: &["sessions", "security"],
            deploy: true,
            run: check_session_logout_ends_it,
        },
    ]
}

/// `nuages.E022`: `session_engine = "cache"` with a `session_cache_alias`
/// that names no cache.
fn check_session_cache_alias(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "session") {
        return vec![];
    }
    sessions::check_cache_alias(ctx.settings)
        .err()
        .map(|error| refused("nuages.E022", error))
        .into_iter()
        .collect()
}

/// `nuages.E023`: sessions in a `dummy` cache, or `"db"` without a default
/// database.
fn check_session_store_keeps_sessions(ctx: &CheckContext) -> Vec<CheckMessage> {
    if !has_middleware(ctx.settings, "session") {
        return vec![];
    }
    sessions::check_store_keeps_sessions(ctx.settings)
        .err()
        .map(|error| refused("nuages.E023", error))
        .into_iter()
        .collect()
}

/// `nuages.W035`: sessions in a `locmem` cache, which each process has its
/// own of and loses at restart.
fn check_session_cache_shared(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    if !has_middleware(settings, "session") || settings.session_engine != SessionEngine::Cache {
        return vec![];
    }
    let alias = &settings.session_cache_alias;
    match settings.caches.get(alias) {
        Some(cache) if cache.backend == CacheBackend::Locmem => vec![CheckMessage::warning(
            "nuages.W035",
            format!(
                "Sessions are kept in the cache '{alias}', a \"locmem\" cache: each serve process \
                 has its own, so a user logged in through one is unknown to another, and every \
                 session is lost when the server restarts."
            ),
            format!(
                "set caches.{alias}.backend = \"redis\" (with its location), or \
                 session_engine = \"db\""
            ),
        )],
        _ => vec![],
    }
}

/// `nuages.W041`: users log in (the `"auth"` middleware) while sessions
/// are kept in signed cookies. Such a cookie holds the whole session, so a
/// logout can only ask the browser to forget it: a copy taken before (from
/// a shared computer, a proxy's log, malware) stays logged in until it
/// expires. Django's default engine keeps sessions in the database for
/// this reason.
fn check_session_logout_ends_it(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    if !has_middleware(settings, "session")
        || !has_middleware(settings, "auth")
        || settings.session_engine != SessionEngine::SignedCookies
    {
        return vec![];
    }
    vec![CheckMessage::warning(
        "nuages.W041",
        format!(
            "Users log in (the \"auth\" middleware) and sessions are kept in signed cookies \
             (session_engine = \"signed_cookies\"): a logout cannot end a copy of a session \
             cookie, which stays logged in until it expires (session_cookie_age = {} seconds).",
            settings.session_cookie_age
        ),
        "set session_engine = \"db\" and run migrate (or \"cache\" with a shared cache), so \
         that a logout ends the session for every copy of its cookie",
    )]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::conf::CacheSettings;

    fn run(settings: &crate::conf::Settings, deploy: bool) -> Vec<CheckMessage> {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let ctx = CheckContext::new(settings, &project).with_deploy(deploy);
        checks()
            .iter()
            .filter(|check| deploy || !check.deploy)
            .flat_map(|check| (check.run)(&ctx))
            .collect()
    }

    #[test]
    fn the_session_store_must_exist_and_keep_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(dir.path());
        assert!(
            run(&settings, false).is_empty(),
            "signed cookies need no store"
        );

        settings.session_engine = SessionEngine::Cache;
        settings.session_cache_alias = "sesions".into();
        settings
            .caches
            .insert("sessions".into(), CacheSettings::default());
        let messages = run(&settings, false);
        assert_eq!(ids(&messages), ["nuages.E022"]);
        assert_eq!(
            messages[0].message,
            "session_cache_alias is \"sesions\", and the settings have no [caches.sesions] to keep sessions in"
        );
        let hint = messages[0].hint.as_deref().unwrap();
        assert!(hint.starts_with("did you mean \"sessions\"?"), "{hint}");
        assert!(hint.ends_with(": default, sessions"), "{hint}");

        settings.session_cache_alias = "sessions".into();
        assert_eq!(ids(&run(&settings, false)), Vec::<&str>::new());
        assert_eq!(ids(&run(&settings, true)), ["nuages.W035"]);
        settings.caches.get_mut("sessions").unwrap().backend = CacheBackend::Redis;
        assert!(run(&settings, true).is_empty());
        settings.caches.get_mut("sessions").unwrap().backend = CacheBackend::Dummy;
        let messages = run(&settings, false);
        assert_eq!(ids(&messages), ["nuages.E023"]);
        assert!(messages[0].message.contains("\"dummy\" keeps nothing"));

        settings.session_engine = SessionEngine::Db;
        assert!(run(&settings, true).is_empty());
        settings.databases.clear();
        assert_eq!(ids(&run(&settings, false)), ["nuages.E023"]);

        settings.middleware.retain(|m| m != "session");
        assert!(run(&settings, true).is_empty(), "no session middleware");
    }

    #[test]
    fn logins_in_signed_cookie_sessions_are_reported_for_deployment() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(dir.path());
        settings.session_cookie_age = 3600;
        assert!(run(&settings, false).is_empty(), "only with --deploy");
        let messages = run(&settings, true);
        assert_eq!(ids(&messages), ["nuages.W041"]);
        assert!(
            messages[0]
                .message
                .contains("a logout cannot end a copy of a session cookie"),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0]
                .message
                .contains("session_cookie_age = 3600 seconds")
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("set session_engine = \"db\" and run migrate")
        );

        settings.session_engine = SessionEngine::Db;
        assert!(run(&settings, true).is_empty(), "a logout deletes the row");
        settings.session_engine = SessionEngine::SignedCookies;
        settings.middleware.retain(|m| m != "auth");
        assert!(run(&settings, true).is_empty(), "nobody logs in");
    }
}
