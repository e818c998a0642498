//! What can go wrong while loading settings. Every variant names where the
//! value came from (the file, or the environment variable) and the key, and
//! [`SettingsError::hint`] says how to fix it.

use std::path::{Path, PathBuf};

use super::loader::{SETTINGS_VARIABLE, SettingsOrigin};

/// Where the documentation of every settings key lives, for hints.
pub const SETTINGS_REFERENCE: &str = "docs/settings.md in the Nuages repository";

/// How a syntax error whose line may hold a secret ends, in place of the line.
pub(crate) const HIDDEN_LINE: &str = "(the line is not shown: it may hold a secret)";

/// A settings file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file does not exist or cannot be read.
    #[error("cannot read settings file {}{}: {source}", path.display(), named_by(extended_by.as_deref()))]
    Read {
        /// The file.
        path: PathBuf,
        /// The file whose `extends` key names it, if any.
        extended_by: Option<PathBuf>,
        /// Why.
        source: std::io::Error,
    },
    /// The selected settings file is not there: where its name came from
    /// and where it was looked for.
    #[error("cannot find the settings file {}: looked for {}", describe_origin(origin), looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" and "))]
    NotFound {
        /// Where the name came from.
        origin: SettingsOrigin,
        /// The places looked, in order.
        looked: Vec<PathBuf>,
    },
    /// `NUAGES_SETTINGS` is set to nothing.
    #[error("{SETTINGS_VARIABLE} is set but empty, so it names no settings file")]
    EmptyVariable,
    /// The file is not valid TOML (the parser's message quotes the line,
    /// unless it may hold a secret: then it ends with [`HIDDEN_LINE`]).
    #[error("settings file {} is not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key no setting has.
    #[error("unknown setting `{key}` in {}", path.display())]
    UnknownKey {
        /// Where the key was found (a file, or the environment).
        path: PathBuf,
        /// The full key, `databases.default.urll` for nested ones.
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
    },
    /// A `NUAGES_*` variable that names no setting.
    #[error("unknown environment variable {variable}: no setting `{key}`")]
    UnknownVariable {
        /// The variable, `NUAGES_DEBGU`.
        variable: String,
        /// The key it would set.
        key: String,
        /// The closest known variable.
        suggestion: Option<String>,
    },
    /// A value of the wrong type.
    #[error("setting `{key}` in {origin} must be {expected}, found {found}")]
    WrongType {
        /// The file or environment variable.
        origin: String,
        /// The key.
        key: String,
        /// The type expected.
        expected: String,
        /// What was found.
        found: String,
        /// How to write it.
        hint: String,
    },
    /// A value of the right type that is not allowed.
    #[error("setting `{key}` in {origin} is invalid: {message}")]
    InvalidValue {
        /// The file or environment variable.
        origin: String,
        /// The key.
        key: String,
        /// What is wrong with it.
        message: String,
        /// How to fix it.
        hint: String,
    },
    /// `${VAR}` where VAR is not set.
    #[error("setting `{key}` in {} uses ${{{variable}}}, but the environment variable {variable} is not set", path.display())]
    UnsetVariable {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// The variable.
        variable: String,
    },
    /// A malformed `${…}`.
    #[error("setting `{key}` in {} has a malformed variable reference: {message}", path.display())]
    BadReference {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Files that extend each other in a circle.
    #[error("the `extends` key of settings file {} leads back to it: {}", path.display(), chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> "))]
    ExtendsCycle {
        /// The file met a second time.
        path: PathBuf,
        /// The chain up to it.
        chain: Vec<PathBuf>,
    },
    /// No secret key where one is required.
    #[error("the `secret_key` setting is not set{}; signing (sessions, CSRF) and `serve` need it", in_file(path.as_deref()))]
    MissingSecretKey {
        /// The settings file that was loaded, if the settings came from one.
        path: Option<PathBuf>,
    },
    /// A secret key that an environment variable set to an empty value:
    /// the `${VAR}` a settings file reads it from, or `NUAGES_SECRET_KEY`.
    #[error("the `secret_key` setting is empty: {}, is set to an empty value; signing (sessions, CSRF) and `serve` need a key", empty_source(variable, read_by.as_deref()))]
    EmptySecretKey {
        /// The variable that is set but empty.
        variable: String,
        /// The settings file whose `secret_key = "${VAR}"` reads it; `None`
        /// for `NUAGES_SECRET_KEY`, which replaces the files' value.
        read_by: Option<PathBuf>,
    },
    /// A settings section of the project's own (`Project::settings_section`)
    /// named as a built-in setting, whose table and variables it would take.
    #[error("the settings section [{name}] that the project declares has the name of a built-in setting: `{name}` in the settings files{} means the built-in one", variable.as_ref().map(|v| format!(" (and {v})")).unwrap_or_default())]
    SectionNameTaken {
        /// The section's name.
        name: String,
        /// The environment variable of the built-in setting, if it has one.
        variable: Option<String>,
    },
    /// A settings section whose name is not snake_case: its
    /// `NUAGES_<NAME>__<KEY>` variables, which are read in lowercase, could
    /// never reach it.
    #[error("the settings section [{name}] has a name that is not snake_case (lowercase letters, digits and single underscores, starting with a letter): NUAGES_{}__<KEY> variables could never set it", name.to_ascii_uppercase().replace('-', "_"))]
    SectionNameInvalid {
        /// The section's name.
        name: String,
        /// The name written in snake_case.
        suggestion: String,
    },
    /// One settings section name declared twice (by the project and an
    /// app, or by two apps) into two types: the one table cannot be read
    /// into both.
    #[error(
        "the settings section [{name}] is declared twice, read into {first} and into {second}: the one [{name}] table cannot be both, and a view's Config<{second}> would never get it"
    )]
    SectionDeclaredTwice {
        /// The section's name.
        name: String,
        /// The type of the first declaration (the project's, else the first app's).
        first: String,
        /// The type of the other one.
        second: String,
    },
    /// An error of the layering library that fits no variant above.
    #[error("the settings of {} could not be merged: {message}", path.display())]
    Merge {
        /// The selected settings file.
        path: PathBuf,
        /// The library's message.
        message: String,
    },
}

/// ` (named by \`extends\` in FILE)`, or nothing.
fn named_by(extended_by: Option<&Path>) -> String {
    extended_by
        .map(|file| format!(" (named by `extends` in {})", file.display()))
        .unwrap_or_default()
}

/// `named by NUAGES_SETTINGS=…`, `named by --settings`, or the default's words.
fn describe_origin(origin: &SettingsOrigin) -> String {
    match origin {
        SettingsOrigin::Default => "of the project (its default)".into(),
        named => format!("named by {named}"),
    }
}

/// For a nested key whose last part is a top-level setting
/// (`caches.default.session_engine`), the table it landed in and the
/// setting: the line was written below a `[table]` header, which TOML reads
/// as one of that table's keys.
fn misplaced_top_level(key: &str) -> Option<(&str, &str)> {
    let (table, field) = key.rsplit_once('.')?;
    super::keys::kind_of(field).map(|_| (table, field))
}

/// ` in FILE`, or nothing.
/// Where an empty secret key came from: the variable and the file that reads it.
fn empty_source(variable: &str, read_by: Option<&Path>) -> String {
    match read_by {
        Some(file) => format!("{variable}, which {} reads it from", file.display()),
        None => format!("{variable}, which replaces the settings files' secret_key"),
    }
}

fn in_file(path: Option<&Path>) -> String {
    path.map(|file| format!(" in {}", file.display()))
        .unwrap_or_default()
}

impl SettingsError {
    /// How to fix it. Every settings error has one; the `Option` matches
    /// [`Error::hint`](crate::Error::hint).
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            SettingsError::Read {
                extended_by: Some(file),
                ..
            } => format!(
                "fix the `extends` key of {}: it names a file relative to that file's folder",
                file.display()
            ),
            SettingsError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                "make the file readable by the user running this command".into()
            }
            SettingsError::Read { path, source, .. }
                if source.kind() == std::io::ErrorKind::IsADirectory =>
            {
                format!(
                    "name the settings file, not the folder that holds it (such as {}), with \
                     --settings FILE or the {SETTINGS_VARIABLE} variable",
                    path.join("settings.toml").display()
                )
            }
            SettingsError::Read { source, .. }
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::InvalidInput | std::io::ErrorKind::FileTooLarge
                ) =>
            {
                format!(
                    "name the project's TOML settings file (a regular file under {} KiB, such as \
                     settings.toml) with --settings FILE or the {SETTINGS_VARIABLE} variable",
                    super::loader::MAX_SETTINGS_FILE / 1024
                )
            }
            SettingsError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::InvalidData =>
            {
                "save it as UTF-8 text, the encoding of TOML files, or pass another file with \
                 --settings FILE or the NUAGES_SETTINGS variable"
                    .into()
            }
            SettingsError::Read { .. } => {
                "pass an existing file with --settings FILE or the NUAGES_SETTINGS variable".into()
            }
            SettingsError::NotFound {
                origin: SettingsOrigin::Flag,
                ..
            } => "pass an existing file to --settings: its path is relative to the working \
                  directory, as other paths on a command line"
                .into(),
            SettingsError::NotFound {
                origin: SettingsOrigin::Variable(_),
                ..
            } => format!(
                "set {SETTINGS_VARIABLE} to an existing file (a relative name is looked for in the working \
                 directory, then in the project's folder), or unset it to use the project's default \
                 settings file"
            ),
            SettingsError::NotFound { .. } => format!(
                "create it, or pass an existing file with --settings FILE or the {SETTINGS_VARIABLE} variable"
            ),
            SettingsError::EmptyVariable => format!(
                "unset it (`unset {SETTINGS_VARIABLE}`) to use the project's default settings file, or name \
                 a file: {SETTINGS_VARIABLE}=settings.production.toml"
            ),
            // A second `debug = …` or `[databases.default]`: TOML takes each
            // key and table once, and the quoting advice below would not help.
            SettingsError::Syntax { message, .. } if message.contains("duplicate key") => {
                "the key or table on the line shown is already set earlier in this file, and \
                 TOML takes each once: change the earlier line instead, or delete one of them"
                    .into()
            }
            SettingsError::Syntax { message, .. } => {
                let line = match message.ends_with(HIDDEN_LINE) {
                    true => "that line",
                    false => "the line shown",
                };
                format!(
                    "fix {line}: strings are quoted (\"…\"), booleans are true or false, lists \
                     are [\"a\", \"b\"], tables are [name]"
                )
            }
            SettingsError::UnknownKey { key, .. } if misplaced_top_level(key).is_some() => {
                let (table, field) = misplaced_top_level(key).expect("checked");
                format!(
                    "`{field}` is a top-level setting, but in TOML every key written after a \
                     [{table}] line belongs to that table: move `{field} = …` above the file's \
                     first [table] line"
                )
            }
            SettingsError::UnknownKey {
                suggestion: Some(s),
                ..
            } => format!("did you mean `{s}`?"),
            SettingsError::UnknownKey { key, .. } if !key.contains('.') => format!(
                "remove it, or correct its name; {SETTINGS_REFERENCE} lists every key. A \
                 [{key}] table of the project's own is declared with \
                 Project::settings_section(\"{key}\") and loaded through \
                 Project::load_settings"
            ),
            SettingsError::UnknownKey { .. } => {
                format!("remove it, or correct its name; {SETTINGS_REFERENCE} lists every key")
            }
            SettingsError::UnknownVariable {
                suggestion: Some(s),
                ..
            } => format!("did you mean {s}?"),
            SettingsError::UnknownVariable { .. } => {
                "unset it; NUAGES_<KEY> variables set settings, NUAGES_SETTINGS names the file"
                    .into()
            }
            SettingsError::WrongType { hint, .. } | SettingsError::InvalidValue { hint, .. } => {
                hint.clone()
            }
            SettingsError::UnsetVariable { variable, .. } => {
                format!("export {variable}=…, or give a default with ${{{variable}:-value}}")
            }
            SettingsError::BadReference { .. } => {
                "write ${NAME} or ${NAME:-default}, with NAME of letters, digits and _; $$ stands for a literal $"
                    .into()
            }
            SettingsError::MissingSecretKey { .. } => {
                "export SECRET_KEY=… and write `secret_key = \"${SECRET_KEY}\"` in the settings file"
                    .into()
            }
            SettingsError::EmptySecretKey {
                variable,
                read_by: Some(_),
            } => format!(
                "give {variable} 50 or more random characters where the server's environment is \
                 set (for systemd, the service's EnvironmentFile)"
            ),
            SettingsError::EmptySecretKey { variable, .. } => format!(
                "give {variable} 50 or more random characters, or unset it to use the settings \
                 file's secret_key"
            ),
            SettingsError::ExtendsCycle { .. } => "remove one of the `extends` keys in the chain".into(),
            SettingsError::Merge { .. } => {
                format!("check the values against {SETTINGS_REFERENCE}")
            }
            SettingsError::SectionNameInvalid { suggestion, .. } => format!(
                "declare it as .settings_section::<…>(\"{suggestion}\") in src/wsgi.rs, and write \
                 its keys under [{suggestion}]"
            ),
            SettingsError::SectionDeclaredTwice { name, second, .. } => format!(
                "declare one of them under a name of its own, e.g. \
                 .settings_section::<{second}>(\"my_{name}\") where {second} is declared, and \
                 write its keys under [my_{name}]"
            ),
            SettingsError::SectionNameTaken { name, .. } => format!(
                "declare it under a name of its own, e.g. .settings_section::<…>(\"my_{name}\") in \
                 src/wsgi.rs, and write its keys under [my_{name}]"
            ),
        })
    }
}
