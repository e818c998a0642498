//! Cache servers for deployment, as database servers: not reachable from
//! outside (`nuages.W015`), encrypted on a network address
//! (`nuages.W013`), and their passwords in the environment, not in a
//! settings file (`nuages.W014`). The URL rules are the database checks'.
//!
//! `nuages.E024` runs with every `check`: it builds each cache as the
//! application does at start (without connecting), so a location or a
//! `tls_ca_file` the application refuses is reported with the same words.

use super::database::{ServerUrl, password_written_in, server_url_problem};
use super::startup::refused;
use super::{Check, CheckContext, CheckMessage};
use crate::cache::Cache;
use crate::conf::{CacheBackend, CacheSettings};

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "cache_settings",
            tags: &["caches", "settings"],
            deploy: false,
            run: check_cache_settings,
        },
        Check {
            name: "default_cache",
            tags: &["caches"],
            deploy: false,
            run: check_default_cache,
        },
        Check {
            name: "cache_tls",
            tags: &["caches", "security"],
            deploy: true,
            run: check_cache_tls,
        },
        Check {
            name: "cache_password_in_file",
            tags: &["caches", "security"],
            deploy: true,
            run: check_cache_password_in_file,
        },
        Check {
            name: "cache_public_address",
            tags: &["caches", "security"],
            deploy: true,
            run: check_cache_public_address,
        },
    ]
}

/// The caches that talk to a server, with their alias.
fn servers<'a>(ctx: &'a CheckContext) -> impl Iterator<Item = (&'a String, &'a CacheSettings)> {
    ctx.settings
        .caches
        .iter()
        .filter(|(_, cache)| cache.backend == CacheBackend::Redis)
}

/// `nuages.E024`: a cache the application would refuse to build at start.
fn check_cache_settings(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.settings
        .caches
        .iter()
        .filter_map(|(alias, cache)| Cache::new(alias, cache).err())
        .map(|error| refused("nuages.E024", error))
        .collect()
}

/// `nuages.E054`: `caches` has tables and none is `default` (a typo such as
/// `[caches.defualt]`), as Django's `caches.E001`: the `Cache` extractor,
/// `cache_page` and the failed-login throttle use the default cache, and
/// a view that takes it would answer 500.
fn check_default_cache(ctx: &CheckContext) -> Vec<CheckMessage> {
    let caches = &ctx.settings.caches;
    if caches.is_empty() || caches.contains_key(crate::cache::DEFAULT_ALIAS) {
        return vec![];
    }
    let tables: Vec<String> = caches
        .keys()
        .map(|alias| format!("[caches.{alias}]"))
        .collect();
    let hint = match crate::conf::closest_name("default", caches.keys().map(String::as_str)) {
        Some(close) => format!("did you mean [caches.{close}]? rename that table [caches.default]"),
        None => "add a [caches.default] table, e.g. backend = \"locmem\"".to_string(),
    };
    vec![CheckMessage::error(
        "nuages.E054",
        format!(
            "There is no [caches.default]: the caches setting has only {}. Views that take the \
             Cache extractor answer 500 and cache_page keeps nothing.",
            tables.join(", ")
        ),
        hint,
    )]
}

/// `nuages.W013` for every Redis cache on a network address without TLS.
fn check_cache_tls(ctx: &CheckContext) -> Vec<CheckMessage> {
    servers(ctx)
        .filter_map(|(alias, cache)| {
            server_url_problem(
                "nuages.W013",
                &format!("the cache '{alias}'"),
                &format!("caches.{alias}.location"),
                &cache.location,
            )
        })
        .collect()
}

/// `nuages.W014`: a cache password written in a settings file.
fn check_cache_password_in_file(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(selected) = &ctx.settings.settings_file else {
        return vec![];
    };
    servers(ctx)
        .filter_map(|(alias, cache)| {
            let key = ["caches", alias.as_str(), "location"];
            let file = password_written_in(ctx, selected, &key, &cache.location)?;
            let upper = alias.to_ascii_uppercase();
            Some(CheckMessage::warning(
                "nuages.W014",
                format!(
                    "The password of the cache '{alias}' is written in {}: anyone who reads the file, its \
                     backups or its version history can connect to the cache server.",
                    file.display()
                ),
                format!(
                    "write it as ${{{upper}_CACHE_PASSWORD}} in caches.{alias}.location \
                     (redis://:${{{upper}_CACHE_PASSWORD}}@host/0) and export it in the server's environment, \
                     or set NUAGES_CACHES__{upper}__LOCATION there instead; then change the password"
                ),
            ))
        })
        .collect()
}

/// `nuages.W015`: a cache server on a public IP address.
fn check_cache_public_address(ctx: &CheckContext) -> Vec<CheckMessage> {
    servers(ctx)
        .filter_map(|(alias, cache)| {
            let ip = ServerUrl::parse(&cache.location)?.public_ip()?;
            Some(CheckMessage::warning(
                "nuages.W015",
                format!(
                    "The cache '{alias}' is on the public address {ip}: a cache server must be reachable \
                     only by the application servers, never from outside."
                ),
                format!(
                    "serve Redis on loopback, a unix socket or a private network address and point \
                     caches.{alias}.location there"
                ),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::conf::Settings;

    fn with_location(dir: &std::path::Path, file_text: &str, location: &str) -> Settings {
        let path = dir.join("settings.toml");
        std::fs::write(&path, file_text).unwrap();
        let mut settings = settings_in(dir);
        settings.settings_file = Some(path);
        settings.caches.insert(
            "default".into(),
            CacheSettings {
                backend: CacheBackend::Redis,
                location: location.into(),
                ..CacheSettings::default()
            },
        );
        settings
    }

    fn all(ctx: &CheckContext) -> Vec<CheckMessage> {
        checks().iter().flat_map(|check| (check.run)(ctx)).collect()
    }

    #[test]
    fn e054_names_a_caches_setting_without_a_default_cache() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = settings_in(dir.path());
        assert_eq!(
            check_default_cache(&CheckContext::new(&settings, &project)),
            vec![]
        );
        let default = settings.caches.remove("default").unwrap();
        settings.caches.insert("defualt".into(), default);
        let ctx = CheckContext::new(&settings, &project);
        let messages = check_default_cache(&ctx);
        assert_eq!(ids(&messages), ["nuages.E054"]);
        assert!(messages[0].is_serious());
        assert!(
            messages[0].message.starts_with(
                "There is no [caches.default]: the caches setting has only [caches.defualt]."
            ),
            "{}",
            messages[0].message
        );
        assert_eq!(
            messages[0].hint.as_deref(),
            Some("did you mean [caches.defualt]? rename that table [caches.default]")
        );
        // Through `manage check`, without --deploy.
        let report = crate::checks::run_checks(&ctx, &[]);
        assert!(report.messages.iter().any(|m| m.id == "nuages.E054"));
    }

    #[test]
    fn a_redis_cache_on_a_public_address_without_tls_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let run = |location: &str| {
            let settings = with_location(dir.path(), "", location);
            all(&CheckContext::new(&settings, &project))
        };
        let messages = run("redis://203.0.113.7:6379/0");
        assert_eq!(ids(&messages), ["nuages.W013", "nuages.W015"]);
        assert!(
            messages[0]
                .message
                .starts_with("The cache 'default' is on the network address 203.0.113.7")
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("rediss://HOST:PORT/DB")
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("caches.default.location")
        );
        assert!(messages[1].message.contains("public address 203.0.113.7"));
        assert_eq!(ids(&run("rediss://203.0.113.7:6379/0")), ["nuages.W015"]);
        assert_eq!(ids(&run("redis://10.0.0.5:6379/0")), ["nuages.W013"]);
        assert_eq!(ids(&run("redis://cache.internal:6379/0")), ["nuages.W013"]);
        assert!(run("rediss://10.0.0.5:6379/0").is_empty());
        assert!(run("redis://127.0.0.1:6379/0").is_empty());
        assert!(run("redis+unix:///run/redis/redis.sock").is_empty());
        // Only Redis caches talk to a server (a location under another
        // backend is refused, E024, and nothing more).
        let mut settings = with_location(dir.path(), "", "redis://203.0.113.7:6379/0");
        settings.caches.get_mut("default").unwrap().backend = CacheBackend::Locmem;
        assert_eq!(
            ids(&all(&CheckContext::new(&settings, &project))),
            ["nuages.E024"]
        );
    }

    #[test]
    fn a_cache_the_application_refuses_is_e024_with_its_words() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = with_location(dir.path(), "", "http://cache.internal/0");
        let refused = Cache::new("default", &settings.caches["default"])
            .unwrap_err()
            .to_string();
        let messages = check_cache_settings(&CheckContext::new(&settings, &project));
        assert_eq!(ids(&messages), ["nuages.E024"]);
        assert_eq!(messages[0].message, refused);
        assert!(messages[0].message.contains("caches.default.location"));
        assert!(messages[0].hint.as_deref().unwrap().contains("rediss://"));
        settings.caches.get_mut("default").unwrap().location = "rediss://cache.internal/0".into();
        assert!(check_cache_settings(&CheckContext::new(&settings, &project)).is_empty());
    }

    #[test]
    fn a_cache_password_written_in_the_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let written = "redis://:hunter2@localhost:6379/0";
        let settings = with_location(
            dir.path(),
            &format!("[caches.default]\nbackend = \"redis\"\nlocation = \"{written}\"\n"),
            written,
        );
        let ctx = |s: &Settings, env: &[(&str, &str)]| {
            check_cache_password_in_file(
                &CheckContext::new(s, &project).with_env(env.iter().copied()),
            )
        };
        assert_password_in_file_warning(
            &ctx(&settings, &[]),
            "nuages.W014",
            "DEFAULT_CACHE_PASSWORD",
        );
        assert!(ctx(&settings, &[("NUAGES_CACHES__DEFAULT__LOCATION", written)]).is_empty());
        let settings = with_location(
            dir.path(),
            "[caches.default]\nbackend = \"redis\"\nlocation = \"redis://:${REDIS_PASSWORD}@localhost/0\"\n",
            written,
        );
        assert!(ctx(&settings, &[]).is_empty());
    }
}
