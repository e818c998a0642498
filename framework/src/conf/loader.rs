//! Loading settings: the `extends` chain, `${VAR}` interpolation, `NUAGES_*`
//! variables, and schema checks, layered with the `config` crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use config::{Config, ConfigError, Map, Source, Value, ValueKind};

use super::Settings;
use super::error::{HIDDEN_LINE, SETTINGS_REFERENCE, SettingsError};
use super::interpolate::{InterpolationError, interpolate};
use super::keys::{self, EXTENDS, Kind};
use super::section::{Field, Section};

/// The environment variable that names the settings file.
pub const SETTINGS_VARIABLE: &str = "NUAGES_SETTINGS";
/// The prefix of variables that override single settings.
pub const VARIABLE_PREFIX: &str = "NUAGES_";

/// Where the name of the settings file came from: errors say it, because a
/// forgotten `NUAGES_SETTINGS` in a shell explains a file nobody asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsOrigin {
    /// `--settings FILE`.
    Flag,
    /// `NUAGES_SETTINGS`, with its value.
    Variable(String),
    /// The project's default (`settings.toml`).
    Default,
}

impl std::fmt::Display for SettingsOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsOrigin::Flag => f.write_str("--settings"),
            SettingsOrigin::Variable(value) => write!(f, "{SETTINGS_VARIABLE}={value}"),
            SettingsOrigin::Default => f.write_str("the project's default"),
        }
    }
}

/// The settings file a command loads: its path, where its name came from,
/// and the places a relative name was looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedSettings {
    /// The first of `looked` that exists, else the last; the name itself
    /// when it is absolute or given by `--settings`.
    pub path: PathBuf,
    /// Where the name came from.
    pub origin: SettingsOrigin,
    /// Where the name was looked for, in order (absolute paths).
    pub looked: Vec<PathBuf>,
}

impl SelectedSettings {
    /// `error`, from loading [`Self::path`], with the origin of the name and
    /// the places looked when the file is not there
    /// ([`SettingsError::NotFound`]); any other error unchanged.
    pub fn explain(&self, error: SettingsError) -> SettingsError {
        match error {
            // The loader reads the absolute path.
            SettingsError::Read {
                path,
                extended_by: None,
                source,
            } if std::path::absolute(&path).ok() == std::path::absolute(&self.path).ok()
                && source.kind() == std::io::ErrorKind::NotFound =>
            {
                SettingsError::NotFound {
                    origin: self.origin.clone(),
                    looked: self.looked.clone(),
                }
            }
            other => other,
        }
    }
}

/// Pick the settings file: `--settings FILE` beats `NUAGES_SETTINGS`, which
/// beats the project's default.
///
/// A relative name from `NUAGES_SETTINGS` or the default is looked for in
/// the working directory, then in `project_dir`: the generated hints say
/// `NUAGES_SETTINGS=settings.production.toml`, which must work from any
/// folder of the project, as `settings.toml` does. A relative `--settings`
/// is relative to the working directory only, as any path a shell user
/// types as a flag's value (and completes with Tab) is. An empty
/// `NUAGES_SETTINGS` is refused rather than taken for unset: it is a
/// mistake (`NUAGES_SETTINGS=$UNSET_VAR`), and the default it would fall
/// back to is the development settings.
pub(crate) fn select_settings_file(
    flag: Option<&Path>,
    variable: Option<String>,
    default: &Path,
    project_dir: &Path,
) -> Result<SelectedSettings, SettingsError> {
    let cwd = std::env::current_dir().unwrap_or_default();
    select_in(flag, variable, default, project_dir, &cwd)
}

/// [`select_settings_file`] with `cwd` as the working directory. A name
/// found there is kept as given (relative to it).
fn select_in(
    flag: Option<&Path>,
    variable: Option<String>,
    default: &Path,
    project_dir: &Path,
    cwd: &Path,
) -> Result<SelectedSettings, SettingsError> {
    let (name, origin) = match (flag, variable) {
        (Some(flag), _) => (flag.to_path_buf(), SettingsOrigin::Flag),
        (None, Some(value)) if value.is_empty() => return Err(SettingsError::EmptyVariable),
        (None, Some(value)) => (PathBuf::from(&value), SettingsOrigin::Variable(value)),
        (None, None) => (default.to_path_buf(), SettingsOrigin::Default),
    };
    let in_cwd = cwd.join(&name);
    if name.is_absolute() || origin == SettingsOrigin::Flag {
        return Ok(SelectedSettings {
            looked: vec![in_cwd],
            path: name,
            origin,
        });
    }
    let in_project = std::path::absolute(cwd.join(project_dir).join(&name))
        .unwrap_or_else(|_| project_dir.join(&name));
    let found_in_cwd = in_cwd.exists();
    let mut looked = vec![in_cwd];
    if !looked.contains(&in_project) {
        looked.push(in_project.clone());
    }
    Ok(SelectedSettings {
        path: if found_in_cwd { name } else { in_project },
        origin,
        looked,
    })
}

/// Loads one settings file with its `extends` chain and an environment.
///
/// Layers, later wins: built-in defaults < the files named by `extends`
/// (base first) < the file itself < `NUAGES_<KEY>` variables (nested keys with
/// `__`, lists comma-separated).
///
/// ```no_run
/// use nuages::conf::SettingsLoader;
/// let settings = SettingsLoader::new("settings.toml")
///     .env([("NUAGES_DEBUG", "false")])
///     .load()?;
/// assert!(!settings.debug);
/// # Ok::<(), nuages::conf::SettingsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SettingsLoader {
    path: PathBuf,
    env: BTreeMap<String, String>,
    sections: Vec<Section>,
}

impl SettingsLoader {
    /// A loader for `path` that reads this process's environment.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SettingsLoader {
            path: path.into(),
            env: std::env::vars().collect(),
            sections: Vec::new(),
        }
    }

    /// Also read these sections of the project's and its apps' own
    /// (see [`Project::settings_section`](crate::Project::settings_section)).
    pub fn sections(mut self, sections: Vec<Section>) -> Self {
        self.sections = sections;
        self
    }

    /// Use these variables instead of the process environment.
    pub fn env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Read, check and layer everything into [`Settings`].
    pub fn load(&self) -> Result<Settings, SettingsError> {
        if let Some(section) = self
            .sections
            .iter()
            .find(|s| s.name() == EXTENDS || keys::kind_of(s.name()).is_some())
        {
            return Err(SettingsError::SectionNameTaken {
                name: section.name().to_string(),
                variable: (section.name() != EXTENDS)
                    .then(|| format!("{VARIABLE_PREFIX}{}", section.name().to_ascii_uppercase())),
            });
        }
        if let Some(section) = self.sections.iter().find(|s| !is_snake_case(s.name())) {
            return Err(SettingsError::SectionNameInvalid {
                name: section.name().to_string(),
                suggestion: snake_case(section.name()),
            });
        }
        for (at, section) in self.sections.iter().enumerate() {
            if let Some(other) = self.sections[at + 1..]
                .iter()
                .find(|s| s.name() == section.name() && !s.same_type_as(section))
            {
                return Err(SettingsError::SectionDeclaredTwice {
                    name: section.name().to_string(),
                    first: section.type_name().to_string(),
                    second: other.type_name().to_string(),
                });
            }
        }
        let path = std::path::absolute(&self.path).map_err(|source| SettingsError::Read {
            path: self.path.clone(),
            extended_by: None,
            source,
        })?;
        let mut builder = Config::builder();
        let mut own = Config::builder();
        let chain = read_chain(&path)?;
        let (env_values, env_sections) = env_layer(&self.env, &self.sections)?;
        let replaced = replaced_later(&chain, [&env_values, &env_sections], &self.sections);
        for ((file, mut table), replaced) in chain.into_iter().zip(replaced) {
            own = own.add_source(Layer {
                values: section_layer(&file, &mut table, &self.sections, &self.env, &replaced)?,
            });
            builder = builder.add_source(Layer {
                values: file_layer(&file, table, &self.sections, &self.env, &replaced)?,
            });
        }
        builder = builder.add_source(Layer { values: env_values });
        own = own.add_source(Layer {
            values: env_sections,
        });
        let merged = builder
            .build()
            .map_err(|e| config_error(e, &path, &self.env))?;
        // Where each top-level value came from (a file, or a variable), for
        // the checks of `validate`.
        let origins: BTreeMap<String, String> = merged
            .collect()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, value)| Some((key, value.origin()?.to_string())))
            .collect();
        let mut settings: Settings = merged
            .try_deserialize()
            .map_err(|e| config_error(e, &path, &self.env))?;
        let own = own.build().map_err(|e| config_error(e, &path, &self.env))?;
        for section in &self.sections {
            let table = match own.get::<serde_json::Value>(section.name()) {
                Ok(serde_json::Value::Object(table)) => table,
                _ => serde_json::Map::new(),
            };
            let loaded = section
                .load(table)
                .map_err(|found| SettingsError::WrongType {
                    origin: path.display().to_string(),
                    key: section.name().to_string(),
                    expected: "values the section's fields accept".into(),
                    found,
                    hint: format!(
                        "give each key of [{}] a value of the type of its default",
                        section.name()
                    ),
                })?;
            settings.sections.insert(section.name(), loaded);
        }
        settings.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        settings.settings_file = Some(path);
        settings.resolve_paths();
        validate(&settings, &origins)?;
        Ok(settings)
    }
}

/// A ready layer of values for the `config` crate, each remembering its origin.
#[derive(Debug, Clone)]
struct Layer {
    values: Map<String, Value>,
}

impl Source for Layer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, ConfigError> {
        Ok(self.values.clone())
    }
}

/// The largest settings file read: far above any real one (Django's
/// `settings.py` files are a few KiB), so that a wrong path (`--settings
/// /dev/zero`, a log, a database) is an error, not memory filled.
pub(crate) const MAX_SETTINGS_FILE: u64 = 1024 * 1024;

/// The text of a settings file: a regular file (a link to one is fine) of at
/// most [`MAX_SETTINGS_FILE`] bytes, in UTF-8. A device, a pipe or a socket
/// is refused before it is opened (opening a pipe would wait for a writer,
/// reading a device may never end), and so is a larger file; the error's
/// kind is `InvalidInput` and `FileTooLarge`, which the hint of
/// [`SettingsError::Read`] tells apart.
pub(crate) fn read_settings_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let not_regular = |meta: &std::fs::Metadata| {
        (!meta.is_file()).then(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not a regular file (a {})", file_kind(meta)),
            )
        })
    };
    let too_large = |size: u64| {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!(
                "{size} bytes or more, over the {} KiB a settings file may have",
                MAX_SETTINGS_FILE / 1024
            ),
        )
    };
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::ErrorKind::IsADirectory.into());
    }
    if let Some(error) = not_regular(&meta) {
        return Err(error);
    }
    let file = std::fs::File::open(path)?;
    // It may have been replaced between the two looks.
    let meta = file.metadata()?;
    if let Some(error) = not_regular(&meta) {
        return Err(error);
    }
    if meta.len() > MAX_SETTINGS_FILE {
        return Err(too_large(meta.len()));
    }
    let mut text = String::new();
    file.take(MAX_SETTINGS_FILE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SETTINGS_FILE {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

/// What a file that is not a regular file is, for an error message.
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_fifo() {
        "named pipe"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// The files of the `extends` chain, base first, each without its `extends` key.
fn read_chain(selected: &Path) -> Result<Vec<(PathBuf, toml::Table)>, SettingsError> {
    let mut chain: Vec<(PathBuf, toml::Table)> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    // Each file, with the one whose `extends` named it.
    let mut next = Some((selected.to_path_buf(), None));
    while let Some((path, extended_by)) = next.take() {
        let text = read_settings_file(&path).map_err(|source| SettingsError::Read {
            path: path.clone(),
            extended_by,
            source,
        })?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if seen.contains(&canonical) {
            seen.push(canonical.clone());
            return Err(SettingsError::ExtendsCycle {
                path: canonical,
                chain: seen,
            });
        }
        seen.push(canonical);
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| SettingsError::Syntax {
                    path: path.clone(),
                    message: syntax_message(&text, &e),
                })?;
        if let Some(parent) = table.remove(EXTENDS) {
            let toml::Value::String(parent) = parent else {
                return Err(SettingsError::WrongType {
                    origin: path.display().to_string(),
                    key: EXTENDS.into(),
                    expected: "a string (a path relative to this file)".into(),
                    found: describe_toml(&parent),
                    hint: "write `extends = \"settings.toml\"`, the file this one builds on".into(),
                });
            };
            // The chain is read before anything is interpolated, and a file
            // chosen by the environment is the selected one's to be.
            if parent.contains("${") {
                return Err(SettingsError::InvalidValue {
                    origin: path.display().to_string(),
                    key: EXTENDS.into(),
                    message: format!(
                        "{parent:?} reads an environment variable, and `extends` names a file \
                         as written"
                    ),
                    hint: "write the file's name, `extends = \"settings.toml\"`; to choose the \
                           settings file from the environment, set NUAGES_SETTINGS (or pass \
                           --settings) to the file that extends it"
                        .into(),
                });
            }
            let dir = path.parent().unwrap_or(Path::new("/"));
            next = Some((dir.join(parent), Some(path.clone())));
        }
        chain.push((path, table));
    }
    chain.reverse();
    Ok(chain)
}

/// The TOML parser's message about `text`, which quotes the line at fault;
/// where that line may be part of a secret, its place and the parser's
/// reason only: a terminal or a journal is no place for it.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let quoted = error.to_string().trim_end().to_string();
    let Some(span) = error.span() else {
        return quoted;
    };
    let at = span.start.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    if !may_hold_a_secret(&text[..end]) {
        return quoted;
    }
    let number = text[..start].matches('\n').count() + 1;
    let column = text[start..at].chars().count() + 1;
    format!(
        "line {number}, column {column}: {} {HIDDEN_LINE}",
        error.message().trim_end()
    )
}

/// Whether the last line of `text` may be part of a secret's value: it or
/// a line above it in its table (a value written over several lines, a
/// list or a `"""` string, is quoted by the line where it breaks) names a
/// key like a secret (Django's `hidden_settings`) or holds a URL with
/// credentials.
fn may_hold_a_secret(text: &str) -> bool {
    let is_table_header = |line: &str| {
        let line = line.trim();
        line.starts_with('[')
            && line.ends_with(']')
            && line
                .trim_matches(['[', ']'])
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
    };
    text.lines()
        .rev()
        .take_while(|line| !is_table_header(line))
        .any(|line| {
            let key = line.split('=').next().unwrap_or_default();
            crate::mail::report::names_a_secret(key)
                || line
                    .split_once("://")
                    .is_some_and(|(_, rest)| rest.contains('@'))
        })
}

/// Take the project's own sections out of one file's table, checked and
/// interpolated as the built-in settings are; a key in `replaced` whose
/// `${VAR}` is unset is left out (a later layer sets it).
fn section_layer(
    path: &Path,
    table: &mut toml::Table,
    sections: &[Section],
    env: &BTreeMap<String, String>,
    replaced: &BTreeSet<String>,
) -> Result<Map<String, Value>, SettingsError> {
    let origin = path.display().to_string();
    let lookup = |name: &str| env.get(name).cloned();
    let mut values = Map::new();
    for section in sections {
        let Some(value) = table.remove(section.name()) else {
            continue;
        };
        let toml::Value::Table(entries) = value else {
            return Err(SettingsError::WrongType {
                origin,
                key: section.name().to_string(),
                expected: format!("a table ([{}])", section.name()),
                found: describe_toml(&value),
                hint: format!("write the keys under a [{}] line", section.name()),
            });
        };
        let file = SectionFile {
            path,
            origin: &origin,
            section,
            lookup: &lookup,
            replaced,
        };
        let fields = file.table(&mut Vec::new(), entries)?;
        values.insert(
            section.name().to_string(),
            Value::new(Some(&origin), fields),
        );
    }
    Ok(values)
}

/// One file's table of a project's section, read key by key.
struct SectionFile<'a, L> {
    path: &'a Path,
    origin: &'a str,
    section: &'a Section,
    lookup: &'a L,
    replaced: &'a BTreeSet<String>,
}

impl<L: Fn(&str) -> Option<String>> SectionFile<'_, L> {
    /// The table at `at` (`[]` for `[name]`, `["api"]` for `[name.api]`):
    /// each key known at that depth, a table of named fields read key by
    /// key as the section's own are; a key whose `${VAR}` is unset and
    /// that a later layer replaces is left out.
    fn table(
        &self,
        at: &mut Vec<String>,
        entries: toml::Table,
    ) -> Result<Map<String, Value>, SettingsError> {
        let name = self.section.name();
        let mut fields = Map::new();
        for (key, value) in entries {
            at.push(key);
            let path: Vec<&str> = at.iter().map(String::as_str).collect();
            let full_key = format!("{name}.{}", path.join("."));
            let Some(field) = self.section.field(&path) else {
                let (key, parent) = path.split_last().expect("pushed");
                let known = self
                    .section
                    .keys_at(parent)
                    .into_iter()
                    .flat_map(|t| t.keys());
                return Err(SettingsError::UnknownKey {
                    path: self.path.to_path_buf(),
                    suggestion: keys::closest(key, known.map(String::as_str)).map(|k| {
                        std::iter::once(name)
                            .chain(parent.iter().copied())
                            .chain([k])
                            .collect::<Vec<_>>()
                            .join(".")
                    }),
                    key: full_key,
                });
            };
            let value = match value {
                toml::Value::Table(inner) if field == Field::Table => Some(Value::new(
                    Some(&self.origin.to_string()),
                    self.table(at, inner)?,
                )),
                value => {
                    unless_replaced(self.value(&path, field, value), self.replaced, &full_key)?
                }
            };
            let key = at.pop().expect("pushed");
            if let Some(value) = value {
                fields.insert(key, value);
            }
        }
        Ok(fields)
    }

    /// The value of the key at `path`: any TOML value the section's struct
    /// takes for it (`${VAR}` interpolated in its strings; a string that is
    /// only a `${VAR}` read as the environment is, for a key that is not
    /// text), else an error naming the file and the full key with serde's
    /// reason.
    fn value(
        &self,
        path: &[&str],
        field: Field,
        value: toml::Value,
    ) -> Result<Value, SettingsError> {
        let section = self.section;
        let key = path.join(".");
        let full_key = format!("{}.{key}", section.name());
        let wrong = |found: String, why: String| SettingsError::WrongType {
            origin: self.origin.to_string(),
            key: full_key.clone(),
            expected: field.describe(section, &key),
            found: format!("{found} ({why})"),
            hint: field.file_example(section, &key),
        };
        let interpolated =
            |text: &str| interpolate_setting(self.path, &full_key, text, self.lookup);
        let json = match &value {
            toml::Value::String(text) if text.contains("${") && field != Field::String => {
                let text = interpolated(text)?;
                typed_text(section, path, field, &text)
                    .map_err(|why| wrong(format!("the string {text:?}"), why))?
            }
            _ => toml_to_json(&value, &interpolated)?,
        };
        section
            .accepts(path, &json)
            .map_err(|why| wrong(describe_toml(&value), why))?;
        Ok(json_to_value(&json, self.origin))
    }
}

/// `text` (an environment variable's, or a `${VAR}`'s) as the value of a
/// section's key: read as the type of the key's default; for a key whose
/// default says nothing, a boolean or a number where the struct takes one,
/// else the text. Serde's reason when the struct takes none of these.
fn typed_text(
    section: &Section,
    path: &[&str],
    field: Field,
    text: &str,
) -> Result<serde_json::Value, String> {
    use serde_json::Value as Json;
    let guess = |text: &str| -> Option<Json> {
        let text = text.trim();
        match text {
            "true" => return Some(Json::Bool(true)),
            "false" => return Some(Json::Bool(false)),
            _ => {}
        }
        if let Ok(number) = text.parse::<i64>() {
            return Some(number.into());
        }
        if let Ok(number) = text.parse::<u64>() {
            return Some(number.into());
        }
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
    };
    let mut candidates: Vec<Json> = Vec::new();
    match field {
        Field::Bool => {
            if let Some(ValueKind::Boolean(b)) = parse_scalar(Kind::Bool, text) {
                candidates.push(Json::Bool(b));
            }
        }
        Field::Integer | Field::Float => candidates.extend(guess(text).filter(Json::is_number)),
        Field::String => candidates.push(Json::String(text.to_string())),
        // An array says its items' types; items split on commas are text,
        // or what they read as.
        Field::List if text.trim().starts_with('[') => {
            let items = env_list(text)?;
            let array = toml_to_json(&toml::Value::Array(items), &|item| Ok(item.to_string()))
                .map_err(|error| error.to_string())?;
            candidates.push(array);
        }
        Field::List => {
            let items: Vec<String> = env_list(text)?
                .into_iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect();
            candidates.push(Json::Array(
                items
                    .iter()
                    .map(|item| Json::String(item.clone()))
                    .collect(),
            ));
            if let Some(typed) = items.iter().map(|item| guess(item)).collect() {
                candidates.push(Json::Array(typed));
            }
        }
        Field::Other => {
            candidates.extend(guess(text));
            candidates.push(Json::String(text.to_string()));
        }
        // A table's keys are set one by one.
        Field::Table => {}
    }
    let key = path.join(".");
    let mut reason = format!("it does not read as {}", field.describe(section, &key));
    for candidate in candidates {
        match section.accepts(path, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(why) => reason = why,
        }
    }
    Err(reason)
}

/// A TOML value as JSON, its strings interpolated.
fn toml_to_json(
    value: &toml::Value,
    interpolated: &impl Fn(&str) -> Result<String, SettingsError>,
) -> Result<serde_json::Value, SettingsError> {
    use serde_json::Value as Json;
    Ok(match value {
        toml::Value::String(text) => Json::String(interpolated(text)?),
        toml::Value::Integer(number) => (*number).into(),
        toml::Value::Float(number) => serde_json::Number::from_f64(*number)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(date) => Json::String(date.to_string()),
        toml::Value::Array(items) => Json::Array(
            items
                .iter()
                .map(|item| toml_to_json(item, interpolated))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => Json::Object(
            table
                .iter()
                .map(|(key, item)| Ok((key.clone(), toml_to_json(item, interpolated)?)))
                .collect::<Result<_, SettingsError>>()?,
        ),
    })
}

/// A JSON value as a layer's value, from `origin`.
fn json_to_value(json: &serde_json::Value, origin: &str) -> Value {
    use serde_json::Value as Json;
    let kind = match json {
        Json::Null => ValueKind::Nil,
        Json::Bool(b) => ValueKind::Boolean(*b),
        Json::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(i), _) => ValueKind::I64(i),
            (None, Some(u)) => ValueKind::U64(u),
            (None, None) => ValueKind::Float(number.as_f64().unwrap_or_default()),
        },
        Json::String(text) => ValueKind::String(text.clone()),
        Json::Array(items) => ValueKind::Array(
            items
                .iter()
                .map(|item| json_to_value(item, origin))
                .collect(),
        ),
        Json::Object(map) => ValueKind::Table(
            map.iter()
                .map(|(key, item)| (key.clone(), json_to_value(item, origin)))
                .collect(),
        ),
    };
    Value::new(Some(&origin.to_string()), kind)
}

/// `text` of the setting `key` in the file `path`, its `${VAR}` replaced.
fn interpolate_setting(
    path: &Path,
    key: &str,
    text: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<String, SettingsError> {
    interpolate(text, lookup).map_err(|e| match e {
        InterpolationError::Unset(variable) => SettingsError::UnsetVariable {
            path: path.to_path_buf(),
            key: key.to_string(),
            variable,
        },
        InterpolationError::Malformed(message) => SettingsError::BadReference {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        },
    })
}

/// For each file of `chain` (the extended first), the settings that a
/// later file or a `NUAGES_<KEY>` variable (`later`: the built-in
/// settings' layer and the sections') sets: the file's value of one of
/// them is never read, so a `${VAR}` in it may be unset (a platform that
/// sets `NUAGES_SECRET_KEY` need not set the `SECRET_KEY` that
/// `settings.production.toml` reads). Tables are merged key by key, so
/// what is replaced is a key of a table: `databases.default.url`,
/// `polls.latest_count`.
fn replaced_later(
    chain: &[(PathBuf, toml::Table)],
    later: [&Map<String, Value>; 2],
    sections: &[Section],
) -> Vec<BTreeSet<String>> {
    let mut replaced = BTreeSet::new();
    for layer in later {
        for (key, value) in layer {
            insert_dotted_keys(
                key,
                value,
                depth_of(key, sections),
                &mut replaced,
                |value| match &value.kind {
                    ValueKind::Table(table) => Some(table.iter()),
                    _ => None,
                },
            );
        }
    }
    let mut each = vec![BTreeSet::new(); chain.len()];
    for (at, (_, table)) in chain.iter().enumerate().rev() {
        each[at] = replaced.clone();
        for (key, value) in table {
            insert_dotted_keys(
                key,
                value,
                depth_of(key, sections),
                &mut replaced,
                |value| value.as_table().map(|table| table.iter()),
            );
        }
    }
    each
}

/// A file's value of `key`, or `None` when its `${VAR}` is unset and a
/// later layer replaces the key (the value is never read).
fn unless_replaced(
    converted: Result<Value, SettingsError>,
    replaced: &BTreeSet<String>,
    key: &str,
) -> Result<Option<Value>, SettingsError> {
    match converted {
        Err(SettingsError::UnsetVariable { .. }) if replaced.contains(key) => Ok(None),
        converted => converted.map(Some),
    }
}

/// How many tables a top-level setting's values lie below: 2 for
/// `[databases.<alias>]` and `[caches.<alias>]`; for a project's section,
/// down to its leaves (a key that is itself a table is merged key by key);
/// 0 for the others (a list is replaced whole).
fn depth_of(key: &str, sections: &[Section]) -> usize {
    match keys::kind_of(key) {
        Some(Kind::Tables(_)) => 2,
        Some(_) => 0,
        None if sections.iter().any(|s| s.name() == key) => usize::MAX,
        None => 0,
    }
}

/// Add to `set` the dotted keys of `value`, at `key`, down `depth` tables
/// (`entries` opens one).
fn insert_dotted_keys<'v, V: 'v, I>(
    key: &str,
    value: &'v V,
    depth: usize,
    set: &mut BTreeSet<String>,
    entries: impl Fn(&'v V) -> Option<I> + Copy,
) where
    I: Iterator<Item = (&'v String, &'v V)>,
{
    match entries(value).filter(|_| depth > 0) {
        Some(table) => {
            for (inner, value) in table {
                insert_dotted_keys(&format!("{key}.{inner}"), value, depth - 1, set, entries);
            }
        }
        None => {
            set.insert(key.to_string());
        }
    }
}

/// Check one file's keys and types, interpolate its strings, and turn it into
/// `config` values whose origin is the file; a key in `replaced` whose
/// `${VAR}` is unset is left out (a later layer sets it).
fn file_layer(
    path: &Path,
    table: toml::Table,
    sections: &[Section],
    env: &BTreeMap<String, String>,
    replaced: &BTreeSet<String>,
) -> Result<Map<String, Value>, SettingsError> {
    let origin = path.display().to_string();
    let lookup = |name: &str| env.get(name).cloned();
    let mut values = Map::new();
    for (key, value) in table {
        let Some(kind) = keys::kind_of(&key) else {
            return Err(SettingsError::UnknownKey {
                path: path.to_path_buf(),
                // `extends` is read before the keys, but a typo of it is one.
                suggestion: keys::closest(&key, top_level_names(sections).chain([EXTENDS]))
                    .map(str::to_string),
                key,
            });
        };
        let converted = if let Kind::Tables(fields) = kind {
            tables_from_file(path, &origin, &key, fields, value, &lookup, replaced)?
        } else {
            let converted = scalar_from_file(path, &origin, &key, kind, value, &lookup);
            let Some(converted) = unless_replaced(converted, replaced, &key)? else {
                continue;
            };
            converted
        };
        values.insert(key, converted);
    }
    Ok(values)
}

/// `[databases.<alias>]`, `[caches.<alias>]`: a table per alias, each
/// with the keys `fields`; a key in `replaced` whose `${VAR}` is unset is
/// left out.
fn tables_from_file(
    path: &Path,
    origin: &str,
    top: &str,
    keys_of_table: &'static [(&'static str, Kind)],
    value: toml::Value,
    lookup: &impl Fn(&str) -> Option<String>,
    replaced: &BTreeSet<String>,
) -> Result<Value, SettingsError> {
    let wrong = |key: &str, found: &toml::Value| SettingsError::WrongType {
        origin: origin.to_string(),
        key: key.to_string(),
        expected: format!("a table ([{top}.<alias>] with {})", keys_of_table[0].0),
        found: describe_toml(found),
        hint: Kind::Tables(keys_of_table).file_example(top),
    };
    let toml::Value::Table(aliases) = value else {
        return Err(wrong(top, &value));
    };
    let mut out = Map::new();
    for (alias, entry) in aliases {
        let alias_key = format!("{top}.{alias}");
        let toml::Value::Table(entry) = entry else {
            return Err(wrong(&alias_key, &entry));
        };
        let mut fields = Map::new();
        for (field, value) in entry {
            let full_key = format!("{alias_key}.{field}");
            let Some(kind) = keys::field_kind_of(keys_of_table, &field) else {
                return Err(SettingsError::UnknownKey {
                    path: path.to_path_buf(),
                    suggestion: keys::closest(&field, keys_of_table.iter().map(|(k, _)| *k))
                        .map(|s| format!("{alias_key}.{s}")),
                    key: full_key,
                });
            };
            let converted = scalar_from_file(path, origin, &full_key, kind, value, lookup);
            let Some(value) = unless_replaced(converted, replaced, &full_key)? else {
                continue;
            };
            fields.insert(field, value);
        }
        out.insert(alias, Value::new(Some(&origin.to_string()), fields));
    }
    Ok(Value::new(Some(&origin.to_string()), out))
}

fn scalar_from_file(
    path: &Path,
    origin: &str,
    key: &str,
    kind: Kind,
    value: toml::Value,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Value, SettingsError> {
    let origin_owned = origin.to_string();
    let interpolated = |text: &str| interpolate_setting(path, key, text, lookup);
    let wrong = |found: String| SettingsError::WrongType {
        origin: origin.to_string(),
        key: key.to_string(),
        expected: kind.describe(),
        // A secret's value is named, never shown (a password typed as a
        // number would be printed on the terminal and in CI logs).
        found: match super::secrets::is_secret_setting(key) {
            true => without_value(&found),
            false => found,
        },
        hint: kind.file_example(key),
    };
    let kind_value: ValueKind = match (kind, &value) {
        (Kind::Bool, toml::Value::Boolean(b)) => ValueKind::Boolean(*b),
        (Kind::Integer, toml::Value::Integer(i)) if *i >= 0 => ValueKind::I64(*i),
        (Kind::String, toml::Value::String(s)) => ValueKind::String(interpolated(s)?),
        (Kind::Choice(allowed), toml::Value::String(s)) => {
            let text = interpolated(s)?;
            check_choice(&text, allowed, origin, key, |closest| {
                format!("did you mean `{key} = \"{closest}\"`?")
            })?;
            ValueKind::String(text)
        }
        // A `${VAR}` may stand for a boolean or a number, with the
        // environment's spellings; a quoted literal is a mistake.
        (Kind::Bool | Kind::Integer, toml::Value::String(s)) if s.contains("${") => {
            let text = interpolated(s)?;
            parse_scalar(kind, &text).ok_or_else(|| wrong(format!("the string {text:?}")))?
        }
        (Kind::List, toml::Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                let toml::Value::String(s) = item else {
                    return Err(wrong(describe_toml(&value)));
                };
                list.push(Value::new(Some(&origin_owned), interpolated(s)?));
            }
            ValueKind::Array(list)
        }
        _ => return Err(wrong(describe_toml(&value))),
    };
    Ok(Value::new(Some(&origin_owned), kind_value))
}

/// Refuse `text` unless it is one of `allowed`, listing them and, through
/// `suggest`, the closest.
fn check_choice(
    text: &str,
    allowed: &[&str],
    origin: &str,
    key: &str,
    suggest: impl Fn(&str) -> String,
) -> Result<(), SettingsError> {
    if allowed.contains(&text) {
        return Ok(());
    }
    let listed = keys::quoted_list(allowed, "or");
    Err(SettingsError::InvalidValue {
        origin: origin.to_string(),
        key: key.to_string(),
        message: format!("{text:?} is not one of {listed}"),
        hint: match keys::closest(text, allowed.iter().copied()) {
            Some(closest) => suggest(closest),
            None => format!("use one of {listed}"),
        },
    })
}

/// A scalar from text (an environment variable or an interpolated string).
fn parse_scalar(kind: Kind, text: &str) -> Option<ValueKind> {
    match kind {
        Kind::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(ValueKind::Boolean(true)),
            "false" | "0" | "no" | "off" => Some(ValueKind::Boolean(false)),
            _ => None,
        },
        Kind::Integer => text.trim().parse::<u64>().ok().map(ValueKind::U64),
        Kind::String | Kind::Choice(_) => Some(ValueKind::String(text.to_string())),
        // A list's text has its own reader, which says why it is refused.
        Kind::List | Kind::Tables(_) => None,
    }
}

/// The items of a list an environment variable sets: a TOML array when
/// the text starts with `[` (`["Doe, John <j@example.com>"]`), for items
/// that hold a comma; else the text split on its commas, each item
/// trimmed, empty ones dropped. The error says why the array is refused.
fn env_list(text: &str) -> Result<Vec<toml::Value>, String> {
    let text = text.trim();
    if !text.starts_with('[') {
        return Ok(text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| toml::Value::String(item.to_string()))
            .collect());
    }
    match text.parse::<toml::Value>() {
        Ok(toml::Value::Array(items)) => Ok(items),
        Ok(other) => Err(format!(
            "it starts with [ but is a TOML {}, not an array",
            other.type_str()
        )),
        Err(error) => Err(format!(
            "it starts with [ but is not a TOML array: {}",
            error.message().trim()
        )),
    }
}

/// [`env_list`] for a list of strings: each item of an array must be one.
fn env_strings(text: &str) -> Result<ValueKind, String> {
    env_list(text)?
        .into_iter()
        .enumerate()
        .map(|(at, item)| match item {
            toml::Value::String(item) => Ok(Value::new(None, item)),
            other => Err(format!(
                "its item {} is a TOML {}, not a string in quotes",
                at + 1,
                other.type_str()
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(ValueKind::Array)
}

/// Whether `name` is a section name `NUAGES_<NAME>__<KEY>` reaches: ASCII
/// lowercase letters, digits and single underscores, a letter first.
fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_')
}

/// `MySite`, `my-site` as `my_site`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (at, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && at > 0 && !out.ends_with('_') {
            out.push('_');
        }
        match c {
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ if !out.is_empty() && !out.ends_with('_') => out.push('_'),
            _ => {}
        }
    }
    let out = out.trim_end_matches('_').to_string();
    match out.starts_with(|c: char| c.is_ascii_lowercase()) {
        true => out,
        false => format!("my_{out}"),
    }
}

/// The names a top-level key may have: the built-in settings and the
/// project's sections, among which a typo finds its closest.
fn top_level_names(sections: &[Section]) -> impl Iterator<Item = &'static str> + '_ {
    keys::KNOWN_KEYS
        .iter()
        .map(|(k, _)| *k)
        .chain(sections.iter().map(Section::name))
}

/// A `NUAGES_<SECTION>__<KEY>` variable (`keys`: what follows the
/// section's name, `__SUB__KEY` for a key of a table of named fields)
/// added to `own`, the sections' layer: read as the type of the key, an
/// unknown key's closest at its depth suggested.
fn section_variable(
    section: &Section,
    variable: &str,
    keys: &[String],
    text: &str,
    own: &mut Map<String, Value>,
) -> Result<(), SettingsError> {
    let name = section.name();
    let origin = format!("environment variable {variable}");
    let key = std::iter::once(name)
        .chain(keys.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(".");
    let variable_of = |parts: &[&str]| {
        std::iter::once(name)
            .chain(parts.iter().copied())
            .map(str::to_ascii_uppercase)
            .collect::<Vec<_>>()
            .join("__")
    };
    let unknown = |suggestion: Option<String>| SettingsError::UnknownVariable {
        variable: variable.to_string(),
        key: key.clone(),
        suggestion: suggestion.map(|name| format!("{VARIABLE_PREFIX}{name}")),
    };
    let parts: Vec<&str> = keys.iter().map(String::as_str).collect();
    if parts.is_empty() {
        return Err(unknown(Some(variable_of(&["<KEY>"]))));
    }
    // Down the tables of named fields, each key known at its depth.
    let mut field = None;
    for depth in 0..parts.len() {
        let path = &parts[..=depth];
        if let Some(above) = field.filter(|field| *field != Field::Table) {
            // Below a key that is not a table of named fields: the
            // variable of that key is the closest, where it takes the
            // value (no variable reaches a map's own keys).
            let parent = &parts[..depth];
            let takes = above != Field::Other || typed_text(section, parent, above, text).is_ok();
            return Err(unknown(takes.then(|| variable_of(parent))));
        }
        field = section.field(path);
        if field.is_none() {
            let known = section
                .keys_at(&parts[..depth])
                .into_iter()
                .flat_map(|t| t.keys());
            let suggestion = keys::closest(parts[depth], known.map(String::as_str)).map(|k| {
                let mut fixed = parts.clone();
                fixed[depth] = k;
                variable_of(&fixed)
            });
            return Err(unknown(suggestion));
        }
    }
    let field = field.expect("at least one key");
    let dotted = parts.join(".");
    let value = typed_text(section, &parts, field, text)
        .map(|json| json_to_value(&json, &origin))
        .map_err(|why| SettingsError::WrongType {
            origin: origin.clone(),
            key: key.clone(),
            expected: field.describe(section, &dotted),
            found: format!("{text:?} ({why})"),
            hint: field.env_example(variable),
        })?;
    // The value in tables down its path: the layers merge them key by key.
    let (last, parents) = parts.split_last().expect("not empty");
    let mut nested = Map::new();
    nested.insert(last.to_string(), value);
    for parent in parents.iter().rev() {
        let inner = Value::new(Some(&origin), std::mem::take(&mut nested));
        nested.insert(parent.to_string(), inner);
    }
    let table = own
        .entry(name.to_string())
        .or_insert_with(|| Value::new(Some(&origin), Map::<String, Value>::new()));
    merge_tables(table, nested);
    Ok(())
}

/// `entries` added to the table `into`, a table in both merged key by key.
fn merge_tables(into: &mut Value, entries: Map<String, Value>) {
    let ValueKind::Table(fields) = &mut into.kind else {
        return;
    };
    for (key, value) in entries {
        match (fields.get_mut(&key), value) {
            (
                Some(existing),
                Value {
                    kind: ValueKind::Table(inner),
                    ..
                },
            ) if matches!(existing.kind, ValueKind::Table(_)) => merge_tables(existing, inner),
            (_, value) => {
                fields.insert(key, value);
            }
        }
    }
}

/// The layer of the built-in settings, and the layer of the project's sections.
type EnvLayers = (Map<String, Value>, Map<String, Value>);

/// `NUAGES_<KEY>` variables as a layer, and `NUAGES_<SECTION>__<KEY>` ones
/// as a layer of the project's sections; an unknown one is an error.
fn env_layer(
    env: &BTreeMap<String, String>,
    sections: &[Section],
) -> Result<EnvLayers, SettingsError> {
    let mut values = Map::new();
    let mut own = Map::new();
    for (variable, text) in env {
        let Some(name) = variable.strip_prefix(VARIABLE_PREFIX) else {
            continue;
        };
        if variable == SETTINGS_VARIABLE {
            continue;
        }
        let origin = format!("environment variable {variable}");
        let path: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
        let unknown = |suggestion: Option<String>| SettingsError::UnknownVariable {
            variable: variable.clone(),
            key: path.join("."),
            suggestion,
        };
        let top = path[0].as_str();
        if let Some(section) = sections.iter().find(|s| s.name() == top) {
            section_variable(section, variable, &path[1..], text, &mut own)?;
            continue;
        }
        let Some(kind) = keys::kind_of(top) else {
            let suggestion = keys::closest(top, top_level_names(sections)).map(|k| {
                match sections.iter().any(|s| s.name() == k) {
                    // A misspelt section keeps the key it was setting.
                    true => std::iter::once(k.to_string())
                        .chain(path[1..].iter().cloned())
                        .map(|part| part.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .join("__"),
                    false => k.to_ascii_uppercase(),
                }
            });
            return Err(unknown(
                suggestion.map(|name| format!("{VARIABLE_PREFIX}{name}")),
            ));
        };
        let typed = |kind: Kind, key: &str| {
            if let Kind::Choice(allowed) = kind {
                check_choice(text, allowed, &origin, key, |closest| {
                    format!("did you mean {variable}={closest}?")
                })?;
            }
            let parsed = match kind {
                Kind::List => env_strings(text).map_err(Some),
                _ => parse_scalar(kind, text).ok_or(None),
            };
            parsed
                .map(|v| Value::new(Some(&origin), v))
                .map_err(|why| SettingsError::WrongType {
                    origin: origin.clone(),
                    key: key.to_string(),
                    expected: kind.describe(),
                    found: {
                        // A secret's value is not shown, even malformed.
                        let shown = match super::secrets::is_secret_setting(key) {
                            true => "its value (not shown: a secret)".to_string(),
                            false => format!("{text:?}"),
                        };
                        match why {
                            Some(why) => format!("{shown} ({why})"),
                            None => shown,
                        }
                    },
                    hint: kind.env_example(variable),
                })
        };
        match (kind, path.as_slice()) {
            (Kind::Tables(fields), [_, alias, field]) => {
                let Some(field_kind) = keys::field_kind_of(fields, field) else {
                    return Err(unknown(
                        keys::closest(field, fields.iter().map(|(k, _)| *k)).map(|k| {
                            format!(
                                "{VARIABLE_PREFIX}{}__{}__{}",
                                top.to_ascii_uppercase(),
                                alias.to_ascii_uppercase(),
                                k.to_ascii_uppercase()
                            )
                        }),
                    ));
                };
                let value = typed(field_kind, &path.join("."))?;
                let databases = values
                    .entry(top.to_string())
                    .or_insert_with(|| Value::new(Some(&origin), Map::<String, Value>::new()));
                if let ValueKind::Table(aliases) = &mut databases.kind {
                    let entry = aliases
                        .entry(alias.clone())
                        .or_insert_with(|| Value::new(Some(&origin), Map::<String, Value>::new()));
                    if let ValueKind::Table(fields) = &mut entry.kind {
                        fields.insert(field.clone(), value);
                    }
                }
            }
            (Kind::Tables(fields), _) => {
                return Err(unknown(Some(format!(
                    "{VARIABLE_PREFIX}{}__<ALIAS>__{}",
                    top.to_ascii_uppercase(),
                    fields[0].0.to_ascii_uppercase()
                ))));
            }
            (_, [key]) => {
                values.insert(key.clone(), typed(kind, key)?);
            }
            (_, _) => {
                return Err(unknown(Some(format!(
                    "{VARIABLE_PREFIX}{}",
                    top.to_ascii_uppercase()
                ))));
            }
        }
    }
    Ok((values, own))
}

/// Checks of values that have the right type but cannot work. The error
/// names where the value came from (`origins`: the settings file that
/// writes it, or its `NUAGES_*` variable) and gives the fix in that place's
/// syntax.
fn validate(settings: &Settings, origins: &BTreeMap<String, String>) -> Result<(), SettingsError> {
    let selected = settings
        .settings_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let invalid = |key: &str, message: String, file_hint: &str, variable_value: &str| {
        let origin = origins
            .get(key)
            .cloned()
            .unwrap_or_else(|| selected.clone());
        let variable = format!("{VARIABLE_PREFIX}{}", key.to_ascii_uppercase());
        let hint = if origin.ends_with(&variable) {
            format!(
                "set {variable}={variable_value}, or unset it to keep the settings file's value"
            )
        } else {
            file_hint.to_string()
        };
        SettingsError::InvalidValue {
            origin,
            key: key.into(),
            message,
            hint,
        }
    };
    if !settings.static_url.starts_with('/') && !settings.static_url.contains("://") {
        return Err(invalid(
            "static_url",
            format!(
                "{:?} must start with / or be a full URL",
                settings.static_url
            ),
            "write `static_url = \"/static/\"`, or a full URL such as \"https://cdn.example.com/static/\"",
            "/static/",
        ));
    }
    // The static files handler answers every URL under static_url: at the
    // site's root it would answer every request, and no view would.
    if settings.static_url == "/" {
        return Err(invalid(
            "static_url",
            "\"/\" is the site's root: every request would go to the static files, and no view \
             would answer"
                .into(),
            "write `static_url = \"/static/\"`",
            "/static/",
        ));
    }
    if !settings.static_url.ends_with('/') {
        return Err(invalid(
            "static_url",
            format!("{:?} must end with /", settings.static_url),
            &format!("write `static_url = \"{}/\"`", settings.static_url),
            &format!("{}/", settings.static_url),
        ));
    }
    if let Some(header) = &settings.secure_proxy_ssl_header
        && header.len() != 2
    {
        return Err(invalid(
            "secure_proxy_ssl_header",
            "must be [header name, value], e.g. [\"X-Forwarded-Proto\", \"https\"]".into(),
            "write `secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]` with the header your proxy sets",
            "X-Forwarded-Proto,https (the header your proxy sets, a comma, its value)",
        ));
    }
    // A prefix is where a folder's files go under static_root and
    // static_url: `..` would put them outside static_root.
    for dir in settings.static_dirs() {
        let Some(prefix) = dir.prefix.filter(|prefix| !prefix.is_empty()) else {
            continue;
        };
        if prefix
            .split('/')
            .any(|segment| matches!(segment, "" | "." | "..") || segment.contains('\\'))
        {
            return Err(invalid(
                "staticfiles_dirs",
                format!(
                    "the prefix {prefix:?} (of \"{prefix}={}\") is not a plain path: its files would \
                     go outside static_root, or nowhere a URL names",
                    dir.path.display()
                ),
                "write the prefix as folder names joined by /, without . or .. or \\, e.g. \
                 `staticfiles_dirs = [\"vendor=node_modules/dist\"]`",
                "vendor=node_modules/dist (a prefix of folder names, =, the folder)",
            ));
        }
    }
    // Every session would expire as it is written: no login would last.
    if settings.session_cookie_age == 0 {
        return Err(invalid(
            "session_cookie_age",
            "is 0: every session would expire as soon as it is written, so no login would last \
             past its own page"
                .into(),
            "remove the key for two weeks (1209600 s, Django's default), or set the seconds a \
             session lasts, e.g. `session_cookie_age = 1209600`",
            "1209600 (the seconds a session lasts)",
        ));
    }
    if u32::from_str_radix(&settings.serve_socket_mode, 8).is_err() {
        return Err(invalid(
            "serve_socket_mode",
            format!(
                "{:?} is not an octal mode such as \"660\"",
                settings.serve_socket_mode
            ),
            "write the permission bits in octal digits (0-7), e.g. `serve_socket_mode = \"660\"`",
            "660 (the permission bits in octal digits, 0-7)",
        ));
    }
    Ok(())
}

/// What [`describe_toml`] says of a value, without the value: `a number`.
fn without_value(found: &str) -> String {
    ["number", "string", "boolean", "date"]
        .into_iter()
        .find(|kind| found.starts_with(&format!("the {kind}")))
        .map(|kind| format!("a {kind}"))
        .unwrap_or_else(|| found.to_string())
}

fn describe_toml(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(i) => format!("the number {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

/// The largest value of an unsigned integer type, from the layering
/// library's name for it ("an unsigned 16 bit integer").
fn unsigned_maximum(expected: &str) -> Option<u64> {
    match expected {
        "an unsigned 8 bit integer" => Some(u8::MAX.into()),
        "an unsigned 16 bit integer" => Some(u16::MAX.into()),
        "an unsigned 32 bit integer" => Some(u32::MAX.into()),
        _ => None,
    }
}

/// The layering library's errors, in our words; `path` is the selected file.
fn config_error(error: ConfigError, path: &Path, env: &BTreeMap<String, String>) -> SettingsError {
    let origin = |origin: Option<String>| origin.unwrap_or_else(|| path.display().to_string());
    match error {
        ConfigError::Type {
            origin: from,
            unexpected,
            expected,
            key,
        } => {
            let key = key.unwrap_or_default();
            // A number too large for its field (`email_port = 70000`): the
            // range in words, not the integer type's name.
            if let Some(max) = unsigned_maximum(expected) {
                // The library does not say where the number came from: the
                // environment wins over the files, so its variable if set.
                let wanted = format!("{VARIABLE_PREFIX}{}", key.replace('.', "__"));
                let variable = env
                    .keys()
                    .find(|name| name.eq_ignore_ascii_case(&wanted))
                    .cloned();
                let (origin, hint) = match variable {
                    Some(variable) => (
                        format!("environment variable {variable}"),
                        format!("set {variable} to a number from 0 to {max}"),
                    ),
                    None => (
                        origin(from),
                        format!(
                            "write a number from 0 to {max}; {SETTINGS_REFERENCE} gives the default of `{key}`"
                        ),
                    ),
                };
                return SettingsError::WrongType {
                    origin,
                    hint,
                    key,
                    expected: format!("a whole number from 0 to {max}"),
                    // "64-bit unsigned integer `70000`": the number alone.
                    found: {
                        let shown = unexpected.to_string();
                        shown.split('`').nth(1).unwrap_or(&shown).to_string()
                    },
                };
            }
            SettingsError::WrongType {
                origin: origin(from),
                hint: format!("{SETTINGS_REFERENCE} gives the type and default of `{key}`"),
                key,
                expected: expected.to_string(),
                found: unexpected.to_string(),
            }
        }
        ConfigError::At {
            error,
            origin: from,
            key,
        } => {
            let key = key.unwrap_or_default();
            SettingsError::InvalidValue {
                origin: origin(from),
                hint: format!("{SETTINGS_REFERENCE} gives the values `{key}` takes"),
                key,
                message: error.to_string(),
            }
        }
        other => SettingsError::Merge {
            path: path.to_path_buf(),
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::StaticfilesStorage;
    use std::fs;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, text).unwrap();
        path
    }

    fn load(path: &Path, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        SettingsLoader::new(path)
            .env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .load()
    }

    #[test]
    fn a_device_a_pipe_or_a_huge_file_is_refused_naming_it_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("settings.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let huge = dir.path().join("huge.toml");
        let line = "# a comment of a settings file far too long to be one\n";
        fs::write(
            &huge,
            line.repeat(MAX_SETTINGS_FILE as usize / line.len() + 1),
        )
        .unwrap();
        for (path, says) in [
            (
                Path::new("/dev/zero"),
                "not a regular file (a character device)",
            ),
            (fifo.as_path(), "not a regular file (a named pipe)"),
            (huge.as_path(), "over the 1024 KiB a settings file may have"),
        ] {
            let error = load(path, &[]).unwrap_err();
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains(says), "{message}");
            let hint = error.hint().unwrap();
            assert!(hint.contains("--settings FILE"), "{hint}");
            assert!(hint.contains("regular file under 1024 KiB"), "{hint}");
        }
        // Named by `extends`: the hint names the file to fix.
        let child = write(dir.path(), "child.toml", "extends = \"/dev/zero\"\n");
        let error = load(&child, &[]).unwrap_err();
        assert!(error.to_string().contains("/dev/zero"), "{error}");
        assert!(error.hint().unwrap().contains("child.toml"));
        // A file at the limit is read.
        let fits = write(dir.path(), "fits.toml", "debug = true\n");
        assert!(load(&fits, &[]).unwrap().debug);
    }

    #[test]
    fn selection_order_is_flag_then_variable_then_default() {
        let (cwd, project) = (Path::new("/w"), Path::new("/p"));
        let select = |flag: Option<&str>, variable: Option<&str>| {
            let selected = select_in(
                flag.map(Path::new),
                variable.map(str::to_string),
                Path::new("settings.toml"),
                project,
                cwd,
            )
            .unwrap();
            (selected.path, selected.origin)
        };
        assert_eq!(
            select(Some("a.toml"), Some("b.toml")),
            ("a.toml".into(), SettingsOrigin::Flag)
        );
        assert_eq!(
            select(None, Some("b.toml")),
            (
                "/p/b.toml".into(),
                SettingsOrigin::Variable("b.toml".into())
            )
        );
        assert_eq!(
            select(None, None),
            ("/p/settings.toml".into(), SettingsOrigin::Default)
        );
    }

    /// From a subfolder of the project (`src/`), a relative NUAGES_SETTINGS
    /// is found in the project's folder as the default is; `--settings` is
    /// relative to the working directory only. Missing, the error says
    /// where the name came from and the places looked.
    #[test]
    fn a_relative_variable_is_looked_for_in_the_working_directory_then_the_project() {
        let project = tempfile::tempdir().unwrap();
        let src = project.path().join("src");
        std::fs::create_dir(&src).unwrap();
        write(
            project.path(),
            "settings.production.toml",
            "debug = false\n",
        );
        write(&src, "local.toml", "");
        let select = |flag: Option<&str>, variable: &str| {
            select_in(
                flag.map(Path::new),
                Some(variable.to_string()),
                Path::new("settings.toml"),
                project.path(),
                &src,
            )
            .unwrap()
        };
        let production = project.path().join("settings.production.toml");
        let selected = select(None, "settings.production.toml");
        assert_eq!(selected.path, production);
        assert!(load(&selected.path, &[]).is_ok());
        // The working directory's file wins.
        write(&src, "settings.production.toml", "");
        assert_eq!(
            select(None, "settings.production.toml").path,
            Path::new("settings.production.toml")
        );
        assert_eq!(select(None, "local.toml").path, Path::new("local.toml"));

        let missing = select(None, "settings.staging.toml");
        let error = missing.explain(load(&missing.path, &[]).unwrap_err());
        assert_eq!(
            error.to_string(),
            format!(
                "cannot find the settings file named by NUAGES_SETTINGS=settings.staging.toml: looked for {} and {}",
                src.join("settings.staging.toml").display(),
                project.path().join("settings.staging.toml").display()
            )
        );
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("set NUAGES_SETTINGS to an existing file (a relative name is looked for in the working directory, then in the project's folder)"),
            "{:?}",
            error.hint()
        );

        // --settings: the working directory only.
        let flagged = select(Some("settings.staging.toml"), "ignored.toml");
        assert_eq!(flagged.path, Path::new("settings.staging.toml"));
        assert_eq!(flagged.looked, [src.join("settings.staging.toml")]);
        let error = flagged.explain(SettingsError::Read {
            path: flagged.path.clone(),
            extended_by: None,
            source: std::io::ErrorKind::NotFound.into(),
        });
        assert_eq!(
            error.to_string(),
            format!(
                "cannot find the settings file named by --settings: looked for {}",
                src.join("settings.staging.toml").display()
            )
        );
    }

    #[test]
    fn an_empty_variable_is_an_error_with_a_hint() {
        let error = select_in(
            None,
            Some(String::new()),
            Path::new("settings.toml"),
            Path::new("/p"),
            Path::new("/w"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "NUAGES_SETTINGS is set but empty, so it names no settings file"
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "unset it (`unset NUAGES_SETTINGS`) to use the project's default settings file, or name a file: NUAGES_SETTINGS=settings.production.toml"
            )
        );
        // --settings still wins over it.
        assert!(
            select_in(
                Some(Path::new("a.toml")),
                Some(String::new()),
                Path::new("settings.toml"),
                Path::new("/p"),
                Path::new("/w"),
            )
            .is_ok()
        );
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", "");
        let settings = load(&path, &[]).unwrap();
        let defaults = Settings::defaults_in(dir.path());
        assert_eq!(settings.debug, defaults.debug);
        assert_eq!(settings.middleware, defaults.middleware);
        assert_eq!(settings.template_dirs, defaults.template_dirs);
    }

    #[test]
    fn the_file_beats_defaults_and_the_environment_beats_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "settings.toml",
            "debug = true\nallowed_hosts = [\"a.example\"]\nsession_cookie_age = 60\n",
        );
        let settings = load(&path, &[]).unwrap();
        assert!(settings.debug);
        assert_eq!(settings.session_cookie_age, 60);
        let settings = load(
            &path,
            &[
                ("NUAGES_DEBUG", "false"),
                ("NUAGES_ALLOWED_HOSTS", "x.example, .y.example"),
                ("NUAGES_SESSION_COOKIE_AGE", "120"),
            ],
        )
        .unwrap();
        assert!(!settings.debug);
        assert_eq!(settings.allowed_hosts, ["x.example", ".y.example"]);
        assert_eq!(settings.session_cookie_age, 120);
    }

    /// A `NUAGES_*` list was split on every comma: a regular expression
    /// `^a{1,3}/$` became two, a name with a comma two admins. A TOML
    /// array keeps them whole; the comma form still works.
    #[test]
    fn a_list_variable_may_be_a_toml_array_for_items_with_commas() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", "");
        let settings = load(
            &path,
            &[
                ("NUAGES_SECURE_REDIRECT_EXEMPT", r#" ['^a{1,3}/$', "^b/"] "#),
                ("NUAGES_ADMINS", r#"["Doe, John <j@example.com>"]"#),
                ("NUAGES_ALLOWED_HOSTS", "[]"),
                ("NUAGES_MANAGERS", "a@example.com, b@example.com"),
            ],
        )
        .unwrap();
        assert_eq!(settings.secure_redirect_exempt, ["^a{1,3}/$", "^b/"]);
        assert_eq!(settings.admins, ["Doe, John <j@example.com>"]);
        assert!(settings.allowed_hosts.is_empty());
        assert_eq!(settings.managers, ["a@example.com", "b@example.com"]);
        // An array that does not parse, or holds a non-string, says why.
        for (text, why) in [
            (r#"["a", "b""#, "it starts with [ but is not a TOML array: "),
            ("[a-z]+/$,^b/", "it starts with [ but is not a TOML array: "),
            (
                r#"["a", 2]"#,
                "its item 2 is a TOML integer, not a string in quotes",
            ),
        ] {
            let error = load(&path, &[("NUAGES_ADMINS", text)]).unwrap_err();
            let message = error.to_string();
            assert!(message.contains("NUAGES_ADMINS"), "{message}");
            assert!(message.contains(why), "{text}: {message}");
            let hint = error.hint().unwrap();
            assert!(
                hint.contains(r#"write a TOML array, e.g. NUAGES_ADMINS='["a, b", "c"]'"#),
                "{hint}"
            );
        }
        // A list of secrets that does not parse is named, never shown.
        let error = load(
            &path,
            &[("NUAGES_SECRET_KEY_FALLBACKS", r#"["old-secret-123"#)],
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("NUAGES_SECRET_KEY_FALLBACKS"), "{error}");
        assert!(error.contains("not shown: a secret"), "{error}");
        assert!(!error.contains("old-secret-123"), "{error}");
    }

    #[test]
    fn nested_database_keys_come_from_double_underscores() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", "");
        let settings = load(
            &path,
            &[(
                "NUAGES_DATABASES__DEFAULT__URL",
                "postgres://db.internal/site",
            )],
        )
        .unwrap();
        assert_eq!(
            settings.databases["default"].url,
            "postgres://db.internal/site"
        );
        assert_eq!(settings.databases["default"].busy_timeout_ms, 5_000);
    }

    #[test]
    fn extends_chains_layer_base_first_and_resolve_relative_to_each_file() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "base.toml",
            "debug = true\nsecret_key = \"base-key\"\nallowed_hosts = [\"base.example\"]\n",
        );
        write(
            dir.path(),
            "conf/middle.toml",
            "extends = \"../base.toml\"\nallowed_hosts = [\"middle.example\"]\nserver_email = \"m@x\"\n",
        );
        let top = write(
            dir.path(),
            "conf/prod/settings.toml",
            "extends = \"../middle.toml\"\ndebug = false\n",
        );
        let settings = load(&top, &[]).unwrap();
        assert!(!settings.debug);
        assert_eq!(settings.secret_key.as_deref(), Some("base-key"));
        assert_eq!(settings.allowed_hosts, ["middle.example"]);
        assert_eq!(settings.server_email, "m@x");
        // base_dir is the selected file's folder, not the base file's.
        assert_eq!(settings.base_dir, dir.path().join("conf/prod"));
    }

    #[test]
    fn an_extends_cycle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.toml", "extends = \"b.toml\"\n");
        let b = write(dir.path(), "b.toml", "extends = \"a.toml\"\n");
        let err = load(&b, &[]).unwrap_err();
        assert!(matches!(err, SettingsError::ExtendsCycle { .. }), "{err}");
    }

    #[test]
    fn a_missing_base_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "s.toml", "extends = \"nope.toml\"\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.to_string().contains("nope.toml"), "{err}");
    }

    #[test]
    fn variables_are_interpolated_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "settings.toml",
            "secret_key = \"${SECRET_KEY}\"\ndebug = \"${DEBUG:-false}\"\nallowed_hosts = [\"${HOST:-localhost}\"]\n",
        );
        let settings = load(&path, &[("SECRET_KEY", "k3y"), ("DEBUG", "true")]).unwrap();
        assert_eq!(settings.secret_key.as_deref(), Some("k3y"));
        assert!(settings.debug);
        assert_eq!(settings.allowed_hosts, ["localhost"]);
    }

    #[test]
    fn an_unset_variable_names_file_key_and_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "settings.toml",
            "secret_key = \"${SECRET_KEY}\"\n",
        );
        let err = load(&path, &[]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("settings.toml"), "{text}");
        assert!(text.contains("secret_key"), "{text}");
        assert!(text.contains("SECRET_KEY"), "{text}");
        assert!(err.hint().unwrap().contains("export SECRET_KEY"));
    }

    /// A secret written with the wrong type is named, its value never
    /// shown: the error goes to the terminal and to CI logs.
    #[test]
    fn a_secret_of_the_wrong_type_is_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        for line in [
            "email_host_password = 123456789",
            "secret_key = 987654321987654321",
        ] {
            let path = write(dir.path(), "settings.toml", &format!("{line}\n"));
            let text = load(&path, &[]).unwrap_err().to_string();
            assert!(text.contains("a number"), "{text}");
            assert!(
                !text.contains("123456789") && !text.contains("987654321"),
                "{text}"
            );
        }
        let path = write(dir.path(), "settings.toml", "email_port = true\n");
        let text = load(&path, &[]).unwrap_err().to_string();
        assert!(text.contains("the boolean true"), "{text}");
    }

    /// A syntax error quotes its line, but not a line that may hold a
    /// secret: a terminal or a journal is no place for the key.
    #[test]
    fn a_syntax_error_on_a_secret_s_line_does_not_show_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, line) in [
            ("debug = false\nsecret_key = \"Sup3rSecretValue-abc\n", 2),
            (
                "[databases.default]\nurl = \"postgres://site:Sup3rSecretValue@db/site\n",
                2,
            ),
            ("email_host_password = Sup3rSecretValue\n", 1),
            // A value over several lines: the parser quotes a later line.
            (
                "debug = false\nsecret_key_fallbacks = [\n  \"Sup3rSecretValue-old\"\n  \"Sup3rSecretValue\",\n]\n",
                4,
            ),
            ("secret_key = \"\"\"\nSup3rSecretValue\n", 3),
        ] {
            let path = write(dir.path(), "settings.toml", text);
            let error = load(&path, &[]).unwrap_err();
            let message = error.to_string();
            assert!(!message.contains("Sup3rSecretValue"), "{message}");
            assert!(error.hint().unwrap().starts_with("fix that line: "));
            assert!(
                message.contains(&format!("line {line}, column "))
                    && message.ends_with("(the line is not shown: it may hold a secret)"),
                "{message}"
            );
        }
        // Another line is quoted, as the parser writes it.
        let path = write(dir.path(), "settings.toml", "debug = maybe\n");
        let message = load(&path, &[]).unwrap_err().to_string();
        assert!(message.contains("debug = maybe"), "{message}");
    }

    /// A `${VAR}` is read only where its value wins: a key that a
    /// `NUAGES_<KEY>` variable or a later file sets whole needs no VAR; a
    /// key nothing replaces still does.
    #[test]
    fn a_variable_of_a_replaced_value_need_not_be_set() {
        let dir = tempfile::tempdir().unwrap();
        let base = write(
            dir.path(),
            "base.toml",
            "secret_key = \"${SECRET_KEY}\"\nemail_host_password = \"${EMAIL_PW}\"\n",
        );
        let settings = load(
            &base,
            &[
                ("NUAGES_SECRET_KEY", "from-the-platform"),
                ("EMAIL_PW", "pw"),
            ],
        )
        .unwrap();
        assert_eq!(settings.secret_key.as_deref(), Some("from-the-platform"));
        let extending = write(
            dir.path(),
            "settings.toml",
            "extends = \"base.toml\"\nemail_host_password = \"here\"\n",
        );
        let settings = load(&extending, &[("SECRET_KEY", "k")]).unwrap();
        assert_eq!(settings.email_host_password, "here");
        let err = load(&extending, &[]).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
    }

    /// The same for a key of a table: `databases.default.url` with a
    /// `${DB_PASSWORD}`, replaced by `NUAGES_DATABASES__DEFAULT__URL` or by
    /// a file that extends it, needs no DB_PASSWORD; the table's other keys
    /// still need theirs.
    #[test]
    fn a_variable_of_a_replaced_key_of_a_table_need_not_be_set() {
        let dir = tempfile::tempdir().unwrap();
        let base = write(
            dir.path(),
            "base.toml",
            "[databases.default]\nurl = \"postgres://site:${DB_PASSWORD}@db/site\"\n\
             [caches.default]\nbackend = \"redis\"\n\
             location = \"redis://:${REDIS_PASSWORD}@cache:6379/0\"\n",
        );
        let settings = load(
            &base,
            &[
                (
                    "NUAGES_DATABASES__DEFAULT__URL",
                    "sqlite://from-env.sqlite3",
                ),
                ("NUAGES_CACHES__DEFAULT__LOCATION", "redis://cache:6379/1"),
            ],
        )
        .unwrap();
        // (A relative SQLite path is resolved against the settings' folder.)
        assert!(
            settings.databases["default"]
                .url
                .ends_with("/from-env.sqlite3")
        );
        assert_eq!(settings.caches["default"].location, "redis://cache:6379/1");
        let extending = write(
            dir.path(),
            "settings.toml",
            "extends = \"base.toml\"\n[databases.default]\nurl = \"sqlite://here.sqlite3\"\n",
        );
        let settings = load(&extending, &[("REDIS_PASSWORD", "pw")]).unwrap();
        assert!(settings.databases["default"].url.ends_with("/here.sqlite3"));
        // The cache's location is not replaced: its variable is required.
        let err = load(&extending, &[]).unwrap_err().to_string();
        assert!(
            err.contains("caches.default.location") && err.contains("REDIS_PASSWORD"),
            "{err}"
        );
    }

    /// Django writes `ADMINS = [("Ann", "ann@example.com")]`; the error
    /// for those pairs shows how Nuages writes an entry, as it does for the
    /// other lists whose items have a form of their own.
    #[test]
    fn a_list_written_wrong_gets_an_example_of_its_own_items() {
        let dir = tempfile::tempdir().unwrap();
        for (line, example) in [
            (
                "admins = [[\"Ann\", \"ann@example.com\"]]",
                "`admins = [\"Ann <ann@example.com>\", \"bob@example.com\"]`",
            ),
            (
                "secure_proxy_ssl_header = \"X-Forwarded-Proto\"",
                "`secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]`",
            ),
            (
                "allowed_hosts = \"example.com\"",
                "`allowed_hosts = [\"example.com\", \"www.example.com\"]`",
            ),
        ] {
            let path = write(dir.path(), "settings.toml", &format!("{line}\n"));
            let err = load(&path, &[]).unwrap_err();
            let hint = err.hint().unwrap();
            assert!(hint.ends_with(example), "{line}: {hint}");
            // And the example is a value the loader takes.
            let value = example.trim_matches('`');
            let path = write(dir.path(), "settings.toml", &format!("{value}\n"));
            load(&path, &[]).unwrap();
        }
        // Every list's example is a value the loader takes.
        for (key, kind) in keys::KNOWN_KEYS {
            if *kind != Kind::List {
                continue;
            }
            let hint = kind.file_example(key);
            let value = hint.split('`').nth(1).unwrap();
            let path = write(dir.path(), "settings.toml", &format!("{value}\n"));
            load(&path, &[("OLD_SECRET_KEY", "an-old-key")])
                .unwrap_or_else(|e| panic!("{value}: {e}"));
        }
    }

    /// `extends` names its file as written: a `${VAR}` in it is refused
    /// with the way to choose a file from the environment, not reported
    /// as a file called `${BASE:-settings.toml}` that cannot be read.
    #[test]
    fn extends_with_a_variable_is_refused_with_the_way_to_choose_a_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "settings.toml", "debug = true\n");
        let path = write(
            dir.path(),
            "prod.toml",
            "extends = \"${BASE:-settings.toml}\"\n",
        );
        let err = load(&path, &[("BASE", "settings.toml")]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("setting `extends` in ") && text.contains("prod.toml"),
            "{text}"
        );
        assert!(text.contains("reads an environment variable"), "{text}");
        assert!(err.hint().unwrap().contains("NUAGES_SETTINGS"), "{err:?}");
    }

    /// `extend = "settings.toml"` is a typo of `extends`, which the
    /// suggestion finds as it finds a setting's.
    #[test]
    fn a_misspelt_extends_suggests_extends() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "settings.toml", "debug = true\n");
        let path = write(dir.path(), "prod.toml", "extend = \"settings.toml\"\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.to_string().contains("`extend`"), "{err}");
        assert_eq!(err.hint().unwrap(), "did you mean `extends`?");
    }

    #[test]
    fn an_unknown_key_suggests_the_closest() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", "debgu = true\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.to_string().contains("`debgu`"), "{err}");
        assert!(err.to_string().contains("settings.toml"), "{err}");
        assert_eq!(err.hint().unwrap(), "did you mean `debug`?");
    }

    #[test]
    fn caches_come_from_tables_and_double_underscores() {
        use crate::conf::CacheBackend;
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "settings.toml",
            "[caches.default]\nbackend = \"redis\"\nlocation = \"redis://${REDIS_HOST}/0\"\n\n[caches.pages]\nbackend = \"dummy\"\n",
        );
        let settings = load(
            &path,
            &[
                ("REDIS_HOST", "127.0.0.1:6390"),
                ("NUAGES_CACHES__DEFAULT__TIMEOUT", "60"),
                ("NUAGES_CACHES__LOCAL__MAX_ENTRIES", "5"),
            ],
        )
        .unwrap();
        let default = &settings.caches["default"];
        assert_eq!(default.backend, CacheBackend::Redis);
        assert_eq!(default.location, "redis://127.0.0.1:6390/0");
        assert_eq!(default.timeout, 60);
        assert_eq!(settings.caches["pages"].backend, CacheBackend::Dummy);
        assert_eq!(settings.caches["local"].backend, CacheBackend::Locmem);
        assert_eq!(settings.caches["local"].max_entries, 5);

        let err = load(
            &path,
            &[
                ("REDIS_HOST", "h"),
                ("NUAGES_CACHES__DEFAULT__BACKEND", "memcached"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("caches.default.backend"), "{err}");
        let err = load(
            &path,
            &[("REDIS_HOST", "h"), ("NUAGES_CACHES__DEFAULT__TIMOUT", "1")],
        )
        .unwrap_err();
        assert_eq!(
            err.hint().unwrap(),
            "did you mean NUAGES_CACHES__DEFAULT__TIMEOUT?"
        );
        let bad = write(
            dir.path(),
            "bad.toml",
            "[caches.default]\nbackned = \"redis\"\n",
        );
        let err = load(&bad, &[]).unwrap_err();
        assert_eq!(
            err.hint().unwrap(),
            "did you mean `caches.default.backend`?"
        );
    }

    /// A top-level setting written below a `[table]` line (as appended at
    /// the end of a file) is read by TOML as a key of that table: the hint
    /// says so, and where the line goes, rather than "correct its name".
    #[test]
    fn a_top_level_setting_below_a_table_says_to_move_it_up() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key, table, field) in [
            (
                "[databases.default]\nurl = \"sqlite://db.sqlite3\"\n\ndebug = false\n",
                "databases.default.debug",
                "databases.default",
                "debug",
            ),
            (
                "[caches.default]\nbackend = \"locmem\"\n\nsession_engine = \"cache\"\n",
                "caches.default.session_engine",
                "caches.default",
                "session_engine",
            ),
        ] {
            let path = write(dir.path(), "s.toml", text);
            let err = load(&path, &[]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("unknown setting `{key}` in {}", path.display())
            );
            assert_eq!(
                err.hint().unwrap(),
                format!(
                    "`{field}` is a top-level setting, but in TOML every key written after a \
                     [{table}] line belongs to that table: move `{field} = …` above the file's \
                     first [table] line"
                )
            );
        }
    }

    #[test]
    fn an_unknown_database_key_is_named_in_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "s.toml", "[databases.default]\nurll = \"x\"\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.to_string().contains("databases.default.urll"), "{err}");
        assert_eq!(err.hint().unwrap(), "did you mean `databases.default.url`?");
    }

    #[test]
    fn an_unknown_environment_variable_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", "");
        let err = load(&path, &[("NUAGES_DEBGU", "1")]).unwrap_err();
        assert!(err.to_string().contains("NUAGES_DEBGU"), "{err}");
        assert_eq!(err.hint().unwrap(), "did you mean NUAGES_DEBUG?");
        // NUAGES_SETTINGS selects the file and is not a setting.
        assert!(load(&path, &[("NUAGES_SETTINGS", "x")]).is_ok());
    }

    #[test]
    fn wrong_types_name_the_key_and_the_expected_type() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key, expected) in [
            ("debug = 3\n", "debug", "a boolean"),
            (
                "allowed_hosts = \"x\"\n",
                "allowed_hosts",
                "a list of strings",
            ),
            (
                "session_cookie_age = \"soon\"\n",
                "session_cookie_age",
                "a whole number",
            ),
            ("static_url = 5\n", "static_url", "a string"),
        ] {
            let path = write(dir.path(), "settings.toml", text);
            let err = load(&path, &[]).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(&format!("`{key}`")), "{message}");
            assert!(message.contains(expected), "{message}");
            assert!(message.contains("settings.toml"), "{message}");
        }
        let path = write(dir.path(), "settings.toml", "");
        let err = load(&path, &[("NUAGES_DEBUG", "maybe")]).unwrap_err();
        assert!(err.to_string().contains("NUAGES_DEBUG"), "{err}");
        assert!(err.to_string().contains("a boolean"), "{err}");
    }

    /// A prefix holding `..` sent a folder's files outside static_root
    /// (`../up=static` wrote `www2/up/css/site.css`).
    #[test]
    fn a_static_prefix_that_leaves_static_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for prefix in ["../up", "a/../../b", "./x", "a//b", "a\\\\b"] {
            let text = format!("staticfiles_dirs = [\"{prefix}=static\"]\n");
            let path = write(dir.path(), "s.toml", &text);
            let error = Settings::load(&path).unwrap_err().to_string();
            assert!(error.contains("staticfiles_dirs"), "{prefix}: {error}");
            assert!(error.contains("is not a plain path"), "{prefix}: {error}");
        }
        for fine in ["vendor", "/lib/", "a/b", "v1.2"] {
            let text = format!("staticfiles_dirs = [\"{fine}=static\"]\n");
            let path = write(dir.path(), "s.toml", &text);
            assert!(Settings::load(&path).is_ok(), "{fine}");
        }
    }

    #[test]
    fn invalid_choices_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "s.toml", "staticfiles_storage = \"fancy\"\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(err.to_string().contains("staticfiles_storage"), "{err}");
        let path = write(dir.path(), "s.toml", "staticfiles_storage = \"manifest\"\n");
        assert_eq!(
            load(&path, &[]).unwrap().staticfiles_storage,
            StaticfilesStorage::Manifest
        );
        let path = write(dir.path(), "s.toml", "static_url = \"/static\"\n");
        assert!(
            load(&path, &[])
                .unwrap_err()
                .to_string()
                .contains("must end with /")
        );
        let path = write(dir.path(), "s.toml", "static_url = \"/\"\n");
        let SettingsError::InvalidValue {
            key, message, hint, ..
        } = load(&path, &[]).unwrap_err()
        else {
            panic!("not an invalid value")
        };
        assert_eq!(key, "static_url");
        assert!(message.contains("\"/\" is the site's root"), "{message}");
        assert!(hint.contains("static_url = \"/static/\""), "{hint}");
    }

    /// `session_cookie_age = 0` made every login vanish at once: refused,
    /// from the file or the environment, naming the key and the fix.
    #[test]
    fn a_session_cookie_age_of_zero_is_refused() {
        for (text, env, hint) in [
            (
                "session_cookie_age = 0\n",
                vec![],
                "`session_cookie_age = 1209600`",
            ),
            (
                "",
                vec![("NUAGES_SESSION_COOKIE_AGE", "0")],
                "set NUAGES_SESSION_COOKIE_AGE=1209600",
            ),
        ] {
            let SettingsError::InvalidValue {
                key,
                message,
                hint: given,
                ..
            } = error_of(text, &env)
            else {
                panic!("not an invalid value: {text}{env:?}")
            };
            assert_eq!(key, "session_cookie_age");
            assert!(
                message.starts_with("is 0: every session would expire"),
                "{message}"
            );
            assert!(given.contains(hint), "{given}");
        }
    }

    /// The error of loading `text` as `settings.toml` with `env`.
    fn error_of(text: &str, env: &[(&str, &str)]) -> SettingsError {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", text);
        load(&path, env).unwrap_err()
    }

    #[test]
    fn every_error_names_where_and_which_key_and_has_a_hint() {
        for (text, env, origin, key) in [
            ("degub = true\n", vec![], "settings.toml", "degub"),
            ("debug = \"yes\"\n", vec![], "settings.toml", "debug"),
            (
                "log_level = \"loud\"\n",
                vec![],
                "settings.toml",
                "log_level",
            ),
            (
                "static_url = \"static\"\n",
                vec![],
                "settings.toml",
                "static_url",
            ),
            (
                "serve_socket_mode = \"rw\"\n",
                vec![],
                "settings.toml",
                "serve_socket_mode",
            ),
            (
                "secure_proxy_ssl_header = [\"X\"]\n",
                vec![],
                "settings.toml",
                "secure_proxy_ssl_header",
            ),
            (
                "secret_key = \"${NOPE}\"\n",
                vec![],
                "settings.toml",
                "secret_key",
            ),
            (
                "secret_key = \"${A B}\"\n",
                vec![],
                "settings.toml",
                "secret_key",
            ),
            (
                "session_cookie_age = -5\n",
                vec![],
                "settings.toml",
                "session_cookie_age",
            ),
            (
                "[databases.default]\nmax_connections = \"8\"\n",
                vec![],
                "settings.toml",
                "databases.default.max_connections",
            ),
            ("extends = 3\n", vec![], "settings.toml", "extends"),
            ("", vec![("NUAGES_DEBUG", "maybe")], "NUAGES_DEBUG", "debug"),
            (
                "",
                vec![("NUAGES_LOG_LEVEL", "loud")],
                "NUAGES_LOG_LEVEL",
                "log_level",
            ),
            (
                "",
                vec![("NUAGES_SESSION_COOKIE_AGE", "-1")],
                "NUAGES_SESSION_COOKIE_AGE",
                "session_cookie_age",
            ),
            (
                "",
                vec![("NUAGES_DATABASES__DEFAULT__MAX_CONNECTIONS", "many")],
                "NUAGES_DATABASES__DEFAULT__MAX_CONNECTIONS",
                "databases.default.max_connections",
            ),
        ] {
            let error = error_of(text, &env);
            let message = error.to_string();
            assert!(message.contains(origin), "{text}{env:?}: {message}");
            assert!(
                message.contains(&format!("`{key}`")),
                "{text}{env:?}: {message}"
            );
            let hint = error.hint().unwrap_or_default();
            assert!(!hint.is_empty(), "{text}{env:?}: no hint for {message}");
        }
    }

    /// A value that parses but cannot work is blamed on where it was set:
    /// its NUAGES_* variable (with the fix in the variable's syntax), or
    /// the file of the chain that writes it, not the selected file.
    #[test]
    fn an_invalid_value_names_the_variable_or_the_file_that_set_it() {
        for (variable, value, hint) in [
            (
                "NUAGES_SECURE_PROXY_SSL_HEADER",
                "X-Forwarded-Proto",
                "set NUAGES_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto,https",
            ),
            (
                "NUAGES_SERVE_SOCKET_MODE",
                "999",
                "set NUAGES_SERVE_SOCKET_MODE=660",
            ),
            (
                "NUAGES_STATIC_URL",
                "/assets",
                "set NUAGES_STATIC_URL=/assets/",
            ),
        ] {
            let error = error_of("debug = false\n", &[(variable, value)]);
            let message = error.to_string();
            assert!(
                message.contains(&format!(" in environment variable {variable} is invalid: ")),
                "{message}"
            );
            assert!(!message.contains("settings.toml"), "{message}");
            let shown = error.hint().unwrap_or_default();
            assert!(shown.starts_with(hint), "{shown}");
        }
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "base.toml", "serve_socket_mode = \"rw\"\n");
        let production = write(dir.path(), "prod.toml", "extends = \"base.toml\"\n");
        let error = load(&production, &[]).unwrap_err();
        assert!(
            error.to_string().contains("base.toml is invalid"),
            "{error}"
        );
        assert!(
            error
                .hint()
                .unwrap()
                .contains("`serve_socket_mode = \"660\"`"),
            "{error}"
        );
    }

    #[test]
    fn errors_without_a_key_still_name_the_file_and_hint() {
        let dir = tempfile::tempdir().unwrap();
        let syntax = write(dir.path(), "broken.toml", "debug = \n");
        let missing_base = write(dir.path(), "prod.toml", "extends = \"base.toml\"\n");
        for (path, file) in [(&syntax, "broken.toml"), (&missing_base, "base.toml")] {
            let error = load(path, &[]).unwrap_err();
            assert!(error.to_string().contains(file), "{error}");
            assert!(error.hint().is_some_and(|h| !h.is_empty()), "{error}");
        }
        let error = load(&missing_base, &[]).unwrap_err();
        assert!(error.to_string().contains("`extends` in"), "{error}");
        assert!(error.to_string().contains("prod.toml"), "{error}");
        assert!(
            error.hint().unwrap().contains("`extends` key of"),
            "{error}"
        );
        let empty = write(dir.path(), "settings.toml", "");
        let error = load(&empty, &[]).unwrap().require_secret_key().unwrap_err();
        assert!(error.to_string().contains("settings.toml"), "{error}");
    }

    #[test]
    fn enum_settings_list_their_values_and_the_closest() {
        let all_levels = "\"trace\", \"debug\", \"info\", \"warn\" or \"error\"";
        for (value, closest) in [("INFO", "info"), ("warning", "warn"), ("degub", "debug")] {
            let error = error_of(&format!("log_level = \"{value}\"\n"), &[]);
            assert!(error.to_string().contains(all_levels), "{error}");
            assert_eq!(
                error.hint().unwrap(),
                format!("did you mean `log_level = \"{closest}\"`?")
            );
        }
        let error = error_of("log_level = \"loud\"\n", &[]);
        assert_eq!(error.hint().unwrap(), format!("use one of {all_levels}"));
        let error = error_of("log_level = 3\n", &[]);
        assert!(error.to_string().contains(all_levels), "{error}");
        let error = error_of("staticfiles_storage = \"manifests\"\n", &[]);
        assert!(
            error.to_string().contains("\"plain\" or \"manifest\""),
            "{error}"
        );
        assert_eq!(
            error.hint().unwrap(),
            "did you mean `staticfiles_storage = \"manifest\"`?"
        );
        let error = error_of("", &[("NUAGES_LOG_LEVEL", "debg")]);
        assert!(error.to_string().contains("NUAGES_LOG_LEVEL"), "{error}");
        assert!(error.to_string().contains(all_levels), "{error}");
        assert_eq!(
            error.hint().unwrap(),
            "did you mean NUAGES_LOG_LEVEL=debug?"
        );
    }

    #[test]
    fn booleans_and_numbers_in_a_file_are_not_strings() {
        for (text, key) in [
            ("debug = \"yes\"\n", "debug"),
            ("debug = \"true\"\n", "debug"),
            ("secure_ssl_redirect = \"on\"\n", "secure_ssl_redirect"),
            ("session_cookie_age = \"60\"\n", "session_cookie_age"),
        ] {
            let error = error_of(text, &[]);
            let message = error.to_string();
            assert!(message.contains(&format!("`{key}`")), "{message}");
            assert!(message.contains("found the string"), "{message}");
            assert!(
                error.hint().unwrap().contains("without quotes"),
                "{error:?}"
            );
        }
        let error = error_of("debug = \"yes\"\n", &[]);
        assert_eq!(
            error.hint().unwrap(),
            "write `debug = true` or `debug = false`, without quotes"
        );
        // The environment keeps its spellings, and so does a ${VAR} in the file.
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", "");
        assert!(load(&path, &[("NUAGES_DEBUG", "yes")]).unwrap().debug);
        assert!(!load(&path, &[("NUAGES_DEBUG", "off")]).unwrap().debug);
        let path = write(dir.path(), "settings.toml", "debug = \"${DEBUG}\"\n");
        assert!(load(&path, &[("DEBUG", "on")]).unwrap().debug);
        let error = error_of("", &[("NUAGES_DEBUG", "maybe")]);
        assert!(error.hint().unwrap().contains("yes/no"), "{error:?}");
    }

    #[test]
    fn a_short_typo_gets_its_suggestion() {
        assert_eq!(
            error_of("degub = true\n", &[]).hint().unwrap(),
            "did you mean `debug`?"
        );
        assert_eq!(
            error_of("", &[("NUAGES_DEGUB", "1")]).hint().unwrap(),
            "did you mean NUAGES_DEBUG?"
        );
        assert_eq!(
            error_of("admnis = []\n", &[]).hint().unwrap(),
            "did you mean `admins`?"
        );
        let hint = error_of("zzzzzz = 1\n", &[]).hint().unwrap();
        assert!(hint.contains("docs/settings.md"), "{hint}");
    }

    #[test]
    fn syntax_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "settings.toml",
            "debug = true\nallowed_hosts = [\n",
        );
        let err = load(&path, &[]).unwrap_err();
        assert!(matches!(err, SettingsError::Syntax { .. }));
        assert!(err.to_string().contains("settings.toml"), "{err}");
        assert!(err.to_string().contains("line"), "{err}");
    }

    #[test]
    fn a_number_too_large_for_its_setting_names_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "settings.toml", "email_port = 70000\n");
        let err = load(&path, &[]).unwrap_err();
        assert!(matches!(err, SettingsError::WrongType { .. }), "{err}");
        assert!(
            err.to_string()
                .ends_with("must be a whole number from 0 to 65535, found 70000"),
            "{err}"
        );
        let hint = err.hint().unwrap();
        assert!(
            hint.starts_with("write a number from 0 to 65535;"),
            "{hint}"
        );
        let env = [("NUAGES_EMAIL_PORT", "70000")];
        let path = write(dir.path(), "settings.toml", "email_port = 25\n");
        let err = load(&path, &env).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "setting `email_port` in environment variable NUAGES_EMAIL_PORT must be a whole number from 0 to 65535"
            ),
            "{err}"
        );
        assert_eq!(
            err.hint().unwrap(),
            "set NUAGES_EMAIL_PORT to a number from 0 to 65535"
        );
        let path = write(
            dir.path(),
            "settings.toml",
            "argon2_time_cost = 99999999999\n",
        );
        let err = load(&path, &[]).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("must be a whole number from 0 to 4294967295, found 99999999999"),
            "{err}"
        );
    }

    #[test]
    fn a_key_or_table_written_twice_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "debug = false\ndebug = true\n",
            "[databases.default]\nurl = \"sqlite://a.db\"\n[databases.default]\nurl = \"sqlite://b.db\"\n",
        ] {
            let path = write(dir.path(), "settings.toml", text);
            let err = load(&path, &[]).unwrap_err();
            assert!(matches!(err, SettingsError::Syntax { .. }), "{err}");
            let hint = err.hint().unwrap();
            assert!(
                hint.starts_with("the key or table on the line shown is already set earlier"),
                "{hint}"
            );
        }
        let path = write(
            dir.path(),
            "settings.toml",
            "debug = true\nallowed_hosts = [\n",
        );
        let hint = load(&path, &[]).unwrap_err().hint().unwrap();
        assert!(
            hint.starts_with("fix the line shown: strings are quoted"),
            "{hint}"
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_settings_folder_whatever_the_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "site/settings.toml",
            "static_root = \"www/static\"\nstaticfiles_dirs = [\"static\", \"vendor=third\"]\nlog_file = \"logs/site.log\"\n",
        );
        let settings = load(&path, &[]).unwrap();
        let site = dir.path().join("site");
        assert_eq!(settings.static_root, Some(site.join("www/static")));
        assert_eq!(settings.log_file, Some(site.join("logs/site.log")));
        assert_eq!(settings.template_dirs, [site.join("templates")]);
        let dirs = settings.static_dirs();
        assert_eq!(dirs[0].path, site.join("static"));
        assert_eq!(dirs[1].path, site.join("third"));
        assert_eq!(
            settings.databases["default"].url,
            format!("sqlite://{}", site.join("db/db.sqlite3").display())
        );
    }
}
