//! Settings as written: the literal TOML value of a key in the selected file
//! or the first file of its `extends` chain that sets it, before `${VAR}`
//! interpolation. Checks use it to tell a secret written in a file from one
//! read from the environment.

use std::path::{Path, PathBuf};

use crate::conf::SettingsError;

/// The longest `extends` chain followed (the loader rejects cycles).
const MAX_CHAIN: usize = 64;

/// A value as written in a settings file.
#[derive(Debug, Clone, PartialEq)]
pub struct RawValue {
    /// The file that sets it (the last one of the chain to do so wins).
    pub file: PathBuf,
    /// The value before interpolation.
    pub value: toml::Value,
}

impl RawValue {
    /// The value if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        self.value.as_str()
    }

    /// Whether the string, or every string of a list, reads a variable (`${…}`).
    #[cfg(test)] // no check asks yet; the unit test pins the rule
    pub fn reads_environment(&self) -> bool {
        fn reads(value: &toml::Value) -> bool {
            match value {
                toml::Value::String(text) => text.contains("${"),
                toml::Value::Array(items) => items.iter().all(reads),
                _ => false,
            }
        }
        reads(&self.value)
    }
}

/// The literal value of `key` (a path such as `["databases", "default",
/// "url"]`) as the settings file `selected` or its `extends` chain writes
/// it; `None` when no file sets it (the default applies).
pub fn raw_setting(selected: &Path, key: &[&str]) -> Result<Option<RawValue>, SettingsError> {
    find_in_chain(selected, |path, table| {
        lookup(table, key).map(|value| RawValue {
            file: path.to_path_buf(),
            value: value.clone(),
        })
    })
}

/// The environment variables that the settings file `selected` and its
/// `extends` chain read (`${VAR}`), each once, with whether every reference
/// to it has a default (`${VAR:-default}`): the loader interpolates every
/// file of the chain, so each one without a default must be set.
pub fn variables_read(selected: &Path) -> Result<Vec<(String, bool)>, SettingsError> {
    fn strings<'v>(value: &'v toml::Value, out: &mut Vec<&'v str>) {
        match value {
            toml::Value::String(text) => out.push(text),
            toml::Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
            toml::Value::Table(table) => table.values().for_each(|item| strings(item, out)),
            _ => {}
        }
    }
    let mut read: Vec<(String, bool)> = Vec::new();
    find_in_chain(selected, |_, table| {
        let mut texts = Vec::new();
        table.values().for_each(|value| strings(value, &mut texts));
        for (name, defaulted) in texts
            .into_iter()
            .filter_map(|text| crate::conf::interpolate::references(text).ok())
            .flatten()
        {
            match read.iter_mut().find(|(known, _)| *known == name) {
                Some((_, all_defaulted)) => *all_defaulted &= defaulted,
                None => read.push((name, defaulted)),
            }
        }
        None::<()>
    })?;
    Ok(read)
}

/// What `found` finds first in the settings file `selected`, then in the
/// files its `extends` chain names, nearest first.
fn find_in_chain<T>(
    selected: &Path,
    mut found: impl FnMut(&Path, &toml::Table) -> Option<T>,
) -> Result<Option<T>, SettingsError> {
    let mut next = Some((selected.to_path_buf(), None));
    let mut followed = 0;
    while let Some((path, extended_by)) = next.take() {
        followed += 1;
        if followed > MAX_CHAIN {
            return Err(SettingsError::ExtendsCycle {
                path: path.clone(),
                chain: vec![selected.to_path_buf(), path],
            });
        }
        let text =
            crate::conf::read_settings_file(&path).map_err(|source| SettingsError::Read {
                path: path.clone(),
                extended_by,
                source,
            })?;
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| SettingsError::Syntax {
                    path: path.clone(),
                    message: e.to_string().trim_end().to_string(),
                })?;
        if let Some(value) = found(&path, &table) {
            return Ok(Some(value));
        }
        if let Some(parent) = table.get("extends").and_then(toml::Value::as_str) {
            next = Some((
                path.parent().unwrap_or(Path::new("/")).join(parent),
                Some(path.clone()),
            ));
        }
    }
    Ok(None)
}

fn lookup<'t>(table: &'t toml::Table, key: &[&str]) -> Option<&'t toml::Value> {
    let (first, rest) = key.split_first()?;
    let value = table.get(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    lookup(value.as_table()?, rest)
}

/// The `NUAGES_*` variable that sets `key` (`NUAGES_DATABASES__DEFAULT__URL`).
/// `text` as written in a file, with each `${VAR:-default}` whose `VAR`
/// `env` lacks replaced by its default, as the loader read it: a value
/// taken from a default is written in the file as much as a plain one. A
/// reference to a set variable stays `${VAR}` (its value comes from the
/// environment); so does the whole text when it cannot be read.
pub(crate) fn with_defaults_used(
    text: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> String {
    crate::conf::interpolate::interpolate(text, |name| {
        env.contains_key(name).then(|| format!("${{{name}}}"))
    })
    .unwrap_or_else(|_| text.to_string())
}

pub(crate) fn variable_for(key: &[&str]) -> String {
    format!(
        "NUAGES_{}",
        key.iter()
            .map(|k| k.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_file_of_the_chain_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "secret_key = \"k\"\n[databases.default]\nurl = \"postgres://u:p@db/x\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("prod")).unwrap();
        let prod = dir.path().join("prod/settings.toml");
        std::fs::write(
            &prod,
            "extends = \"../base.toml\"\nsecret_key = \"${SECRET_KEY}\"\n",
        )
        .unwrap();

        let key = raw_setting(&prod, &["secret_key"]).unwrap().unwrap();
        assert_eq!(key.file, prod);
        assert!(key.reads_environment());
        let url = raw_setting(&prod, &["databases", "default", "url"])
            .unwrap()
            .unwrap();
        assert!(url.file.ends_with("base.toml"));
        assert!(!url.reads_environment());
        assert_eq!(raw_setting(&prod, &["log_file"]).unwrap(), None);
        assert_eq!(
            raw_setting(&prod, &["databases", "other", "url"]).unwrap(),
            None
        );
    }

    #[test]
    fn a_cycle_or_a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), "extends = \"b.toml\"\n").unwrap();
        std::fs::write(dir.path().join("b.toml"), "extends = \"a.toml\"\n").unwrap();
        let err = raw_setting(&dir.path().join("a.toml"), &["secret_key"]).unwrap_err();
        assert!(matches!(err, SettingsError::ExtendsCycle { .. }), "{err}");
        let err = raw_setting(&dir.path().join("nope.toml"), &["secret_key"]).unwrap_err();
        assert!(matches!(err, SettingsError::Read { .. }), "{err}");
    }

    #[test]
    fn variables_are_named_as_the_loader_reads_them() {
        assert_eq!(variable_for(&["secret_key"]), "NUAGES_SECRET_KEY");
        assert_eq!(
            variable_for(&["databases", "default", "url"]),
            "NUAGES_DATABASES__DEFAULT__URL"
        );
    }

    #[test]
    fn raw_setting_names_the_file_of_the_extends_chain_that_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.toml"), "secret_key = \"written\"\n").unwrap();
        std::fs::write(
            dir.path().join("prod.toml"),
            "extends = \"base.toml\"\ndebug = false\n",
        )
        .unwrap();
        let raw = raw_setting(&dir.path().join("prod.toml"), &["secret_key"])
            .unwrap()
            .unwrap();
        assert_eq!(raw.as_str(), Some("written"));
        assert!(raw.file.ends_with("base.toml"));
    }
}
