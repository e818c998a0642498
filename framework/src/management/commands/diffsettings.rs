//! `diffsettings`: the settings that differ from the defaults, secrets masked.

use clap::{Arg, ArgAction, ArgMatches};

use crate::checks::database::is_password_param;
use crate::conf::Settings;
use crate::management::{Command, CommandContext, CommandError};

/// `manage diffsettings [--all]`.
pub(crate) struct DiffSettings;

/// What stands in place of a secret.
pub(crate) const MASK: &str = "********************";

impl Command for DiffSettings {
    fn name(&self) -> &'static str {
        "diffsettings"
    }

    fn about(&self) -> &'static str {
        "Show the settings that differ from the defaults (secrets masked)"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command.arg(
            Arg::new("all")
                .long("all")
                .action(ArgAction::SetTrue)
                .help("Show every setting; those at their default start with ###"),
        )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        println!("# {}", ctx.settings_path().display());
        for line in diff_lines(settings, args.get_flag("all")) {
            println!("{line}");
        }
        Ok(())
    }
}

/// `key = value` lines for every setting that differs from the defaults
/// (with `all`, the others too, prefixed with `###`).
pub fn diff_lines(settings: &Settings, all: bool) -> Vec<String> {
    let defaults = Settings::defaults_in(&settings.base_dir);
    let current = flatten(&masked(settings));
    let default = flatten(&masked(&defaults));
    let mut lines = Vec::new();
    let mut line = |key: &str, value: &str, same: bool| {
        if !same {
            lines.push(format!("{key} = {value}"));
        } else if all {
            lines.push(format!("### {key} = {value}"));
        }
    };
    for (key, value) in &current {
        line(
            key,
            value,
            default.iter().any(|(k, v)| k == key && v == value),
        );
    }
    // The project's own sections, against their structs' defaults; keys
    // that name a secret are masked, as Django's error reports hide them.
    for (key, value, default) in settings.sections.entries() {
        let shown = if crate::mail::report::names_a_secret(&key) {
            MASK
        } else {
            &value
        };
        line(&key, shown, value == default);
    }
    lines
}

fn masked(settings: &Settings) -> toml::Table {
    let mut settings = settings.clone();
    if settings.secret_key.is_some() {
        settings.secret_key = Some(MASK.into());
    }
    for key in &mut settings.secret_key_fallbacks {
        *key = MASK.into();
    }
    if !settings.email_host_password.is_empty() {
        settings.email_host_password = MASK.into();
    }
    for database in settings.databases.values_mut() {
        database.url = mask_url_password(&database.url);
    }
    for cache in settings.caches.values_mut() {
        cache.location = mask_url_password(&cache.location);
    }
    toml::Table::try_from(&settings).expect("settings serialize to TOML")
}

/// `postgres://user:pw@host/db` → `postgres://user:********************@host/db`;
/// a password in the query (`?password=pw`, Redis' `?pass=pw`) is masked
/// the same way.
pub(crate) fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{MASK}@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let query = query.map(|query| {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_password_param(&decoded(key)) => format!("{key}={MASK}"),
                _ => pair.to_string(),
            })
            .collect();
        format!("?{}", pairs.join("&"))
    });
    format!("{scheme}://{authority}{path}{}", query.unwrap_or_default())
}

fn decoded(text: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// Dotted keys with TOML values, sorted.
fn flatten(table: &toml::Table) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) {
        for (key, value) in table {
            let full = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match value {
                toml::Value::Table(inner) => walk(&full, inner, out),
                other => out.push((full, other.to_string())),
            }
        }
    }
    walk("", table, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_differences_are_listed_and_secrets_are_masked() {
        let settings = Settings {
            debug: true,
            secret_key: Some("super-secret".into()),
            secret_key_fallbacks: vec!["old-secret".into()],
            email_host_password: "smtp-secret".into(),
            ..Settings::defaults_in(std::path::Path::new("/srv/site"))
        };
        let mut settings = settings;
        settings.databases.get_mut("default").unwrap().url =
            "postgres://app:pw@db.internal/site".into();
        settings.caches.get_mut("default").unwrap().location =
            "redis://:hunter2@cache.internal:6379/0".into();
        let lines = diff_lines(&settings, false).join("\n");
        assert!(lines.contains("debug = true"), "{lines}");
        assert!(
            lines.contains(&format!(
                "caches.default.location = \"redis://:{MASK}@cache.internal:6379/0\""
            )) && !lines.contains("hunter2"),
            "{lines}"
        );
        assert!(
            lines.contains(&format!("secret_key = \"{MASK}\"")),
            "{lines}"
        );
        assert!(
            !lines.contains("super-secret") && !lines.contains("old-secret"),
            "{lines}"
        );
        assert!(
            lines.contains(&format!("email_host_password = \"{MASK}\""))
                && !lines.contains("smtp-secret"),
            "{lines}"
        );
        assert!(
            lines.contains(&format!(
                "databases.default.url = \"postgres://app:{MASK}@db.internal/site\""
            )),
            "{lines}"
        );
        assert!(!lines.contains("static_url"), "{lines}");
        let all = diff_lines(&settings, true).join("\n");
        assert!(all.contains("### static_url = \"/static/\""), "{all}");
    }

    #[test]
    fn urls_without_passwords_are_unchanged() {
        assert_eq!(mask_url_password("sqlite:///a/b.db"), "sqlite:///a/b.db");
        assert_eq!(
            mask_url_password("redis://host:6379/0"),
            "redis://host:6379/0"
        );
        assert_eq!(mask_url_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(
            mask_url_password("postgres://u@h/d?sslmode=require"),
            "postgres://u@h/d?sslmode=require"
        );
    }

    /// A password in the query is a password too (PostgreSQL's `password`,
    /// Redis' `pass`), whatever its case or encoding.
    #[test]
    fn passwords_in_the_query_are_masked() {
        assert_eq!(
            mask_url_password("postgres://app@db/site?sslmode=require&password=hunter2"),
            format!("postgres://app@db/site?sslmode=require&password={MASK}")
        );
        assert_eq!(
            mask_url_password("redis+unix:///run/redis.sock?db=1&PASS=hunter2"),
            format!("redis+unix:///run/redis.sock?db=1&PASS={MASK}")
        );
        assert_eq!(
            mask_url_password("postgres://u:pw@h/d?pass%77ord=x"),
            format!("postgres://u:{MASK}@h/d?pass%77ord={MASK}")
        );
    }
}
