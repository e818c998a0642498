//! Settings sections of a project's or an app's own: a table `[name]` of the
//! settings files, read into the project's struct with the same layers and
//! the same errors as the built-in settings.
//!
//! The struct's `Default` is the section's schema: its keys are the keys the
//! table may have, and the type of each default value (boolean, whole
//! number, string — also for an `Option` that defaults to `None` —, list of
//! strings) is the type the file and the `NUAGES_NAME__KEY` variables must
//! give.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::Kind;

type Loaded = Arc<dyn Any + Send + Sync>;

/// A declared section: its table's name, its keys with their types, and how
/// its merged table becomes the project's struct.
#[derive(Clone)]
pub struct Section {
    name: &'static str,
    type_name: &'static str,
    defaults: serde_json::Map<String, serde_json::Value>,
    load: fn(serde_json::Value) -> Result<Loaded, String>,
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Section")
            .field("name", &self.name)
            .field("type", &self.type_name)
            .finish_non_exhaustive()
    }
}

fn load_as<T: DeserializeOwned + Send + Sync + 'static>(
    value: serde_json::Value,
) -> Result<Loaded, String> {
    T::deserialize(value)
        .map(|loaded| Arc::new(loaded) as Loaded)
        .map_err(|error| error.to_string())
}

impl Section {
    /// The section `[name]`, read into `T`.
    pub(crate) fn new<T>(name: &'static str) -> Section
    where
        T: Serialize + DeserializeOwned + Default + Send + Sync + 'static,
    {
        let defaults = match serde_json::to_value(T::default()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        Section {
            name,
            type_name: std::any::type_name::<T>(),
            defaults,
            load: load_as::<T>,
        }
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The keys of the section.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.defaults.keys().map(String::as_str)
    }

    /// The type a key's value must have, `None` for an unknown key.
    pub(crate) fn kind_of(&self, key: &str) -> Option<Kind> {
        Some(match self.defaults.get(key)? {
            serde_json::Value::Bool(_) => Kind::Bool,
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Integer,
            serde_json::Value::Array(_) => Kind::List,
            _ => Kind::String,
        })
    }

    /// Read the merged table (missing keys keep their defaults).
    pub(crate) fn load(
        &self,
        table: serde_json::Map<String, serde_json::Value>,
    ) -> Result<LoadedSection, String> {
        let mut merged = self.defaults.clone();
        merged.extend(table);
        let value = (self.load)(serde_json::Value::Object(merged.clone()))?;
        Ok(LoadedSection {
            type_name: self.type_name,
            table: merged,
            defaults: self.defaults.clone(),
            value,
        })
    }
}

/// One section as loaded: the struct, and its table for `diffsettings`.
#[derive(Clone)]
pub(crate) struct LoadedSection {
    type_name: &'static str,
    table: serde_json::Map<String, serde_json::Value>,
    defaults: serde_json::Map<String, serde_json::Value>,
    value: Loaded,
}

/// The loaded sections of the project and its apps, by name.
#[derive(Clone, Default)]
pub struct Sections {
    loaded: BTreeMap<&'static str, LoadedSection>,
}

impl Sections {
    pub(crate) fn insert(&mut self, name: &'static str, section: LoadedSection) {
        self.loaded.insert(name, section);
    }

    /// The section read into `T`, if one was declared with that type.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.loaded
            .values()
            .find_map(|s| s.value.clone().downcast::<T>().ok())
    }

    /// The string values of keys whose name looks secret (`payments.api_key`,
    /// as `diffsettings` masks them): what the error mails mask too.
    pub(crate) fn secret_values(&self) -> Vec<String> {
        self.loaded
            .iter()
            .flat_map(|(name, section)| {
                section.table.iter().filter_map(move |(key, value)| {
                    let secret = crate::mail::report::names_a_secret(&format!("{name}.{key}"));
                    match value {
                        serde_json::Value::String(text) if secret => Some(text.clone()),
                        _ => None,
                    }
                })
            })
            .collect()
    }

    /// Whether a section of the type named `type_name` was declared.
    pub(crate) fn has_type_named(&self, type_name: &str) -> bool {
        self.loaded.values().any(|s| s.type_name == type_name)
    }

    /// `(name.key, value, default)` of every key, values as TOML text.
    pub fn entries(&self) -> Vec<(String, String, String)> {
        let text = |value: Option<&serde_json::Value>| match value {
            None | Some(serde_json::Value::Null) => "(unset)".to_string(),
            Some(value) => {
                toml::Value::try_from(value).map_or_else(|_| value.to_string(), |v| v.to_string())
            }
        };
        self.loaded
            .iter()
            .flat_map(|(name, section)| {
                section.table.iter().map(move |(key, value)| {
                    (
                        format!("{name}.{key}"),
                        text(Some(value)),
                        text(section.defaults.get(key)),
                    )
                })
            })
            .collect()
    }
}

impl fmt::Debug for Sections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.loaded.iter().map(|(name, s)| (name, &s.table)))
            .finish()
    }
}

impl PartialEq for Sections {
    fn eq(&self, other: &Self) -> bool {
        self.loaded.len() == other.loaded.len()
            && self
                .loaded
                .iter()
                .zip(&other.loaded)
                .all(|((a, x), (b, y))| a == b && x.table == y.table)
    }
}
