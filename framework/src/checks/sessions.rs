//! Where sessions are kept (`session_engine`): the store must exist and
//! keep what it is given (`nuages.E022`, `nuages.E023`, through the
//! validation the `session` middleware runs when it is built, so the
//! application refuses the same settings), and for deployment it must be
//! shared by every `serve` and survive a restart (`nuages.W035`).

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
            run(&settings, true).is_empty(),
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
}
