//! `diffsettings`: the settings that differ from the defaults, secrets masked.

use clap::{Arg, ArgAction, ArgMatches};

use crate::conf::Settings;
use crate::management::{Command, CommandContext, CommandError, outln};

/// `manage diffsettings [--all]`.
pub(crate) struct DiffSettings;

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
        outln!("# {}", ctx.settings_path().display())?;
        for line in diff_lines(settings, args.get_flag("all")) {
            outln!("{line}")?;
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
    // A setting without a value (`static_root`, `log_file` unset) has no
    // TOML line: it is shown as unset, as Django shows `None`.
    let mut current = current;
    current.extend(unset_keys(settings, &current));
    current.sort();
    let default_value = |key: &str| {
        default
            .iter()
            .find(|(k, _)| k == key)
            .map_or(UNSET, |(_, value)| value.as_str())
    };
    for (key, value) in &current {
        line(key, value, default_value(key) == value);
    }
    // The project's own sections, against their structs' defaults; keys
    // that name a secret are masked (in tables too), as Django's error
    // reports hide them.
    for (key, shown, differs) in settings.sections.masked_entries() {
        line(&key, &shown, !differs);
    }
    lines
}

/// How a setting without a value is shown.
const UNSET: &str = "(unset)";

/// The settings with no value in `settings` (no line in `shown`, its
/// flattened form): the top-level keys, and those of each database and
/// cache entry.
fn unset_keys(settings: &Settings, shown: &[(String, String)]) -> Vec<(String, String)> {
    use crate::conf::{CACHE_KEYS, DATABASE_KEYS, KNOWN_KEYS, Kind};
    let mut keys: Vec<String> = KNOWN_KEYS
        .iter()
        .filter(|(_, kind)| !matches!(kind, Kind::Tables(_)))
        .map(|(key, _)| key.to_string())
        .collect();
    for (table, aliases, fields) in [
        (
            "databases",
            settings.databases.keys().collect::<Vec<_>>(),
            DATABASE_KEYS,
        ),
        ("caches", settings.caches.keys().collect(), CACHE_KEYS),
    ] {
        for alias in aliases {
            keys.extend(
                fields
                    .iter()
                    .map(|(field, _)| format!("{table}.{alias}.{field}")),
            );
        }
    }
    keys.into_iter()
        .filter(|key| !shown.iter().any(|(k, _)| k == key))
        .map(|key| (key, UNSET.to_string()))
        .collect()
}

fn masked(settings: &Settings) -> toml::Table {
    toml::Table::try_from(settings.masked()).expect("settings serialize to TOML")
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
    use crate::conf::secrets::MASK;

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
        // Unset settings are listed too, as Django lists `None`; one set
        // by default and unset here differs.
        for unset in [
            "### log_file = (unset)",
            "### media_root = (unset)",
            "### serve_user = (unset)",
            "### caches.default.tls_ca_file = (unset)",
        ] {
            assert!(all.contains(unset), "{unset}: {all}");
        }
        assert!(!lines.contains("(unset)"), "{lines}");
        let mut without_root = settings.clone();
        without_root.static_root = None;
        let defaults = Settings::defaults_in(std::path::Path::new("/srv/site"));
        let shown = diff_lines(&without_root, false).join("\n");
        assert_eq!(
            shown.contains("static_root = (unset)"),
            defaults.static_root.is_some(),
            "{shown}"
        );
    }
}
