//! Settings sections of a project's or an app's own: a table `[name]` of the
//! settings files, read into the project's struct with the same layers and
//! the same errors as the built-in settings.
//!
//! The struct's `Default` is the section's schema: its keys are the keys the
//! table may have. A key takes whatever the struct's field takes (serde
//! decides: a negative `i64`, an `f64`, an `Option<u32>` that defaults to
//! `None`, a list of numbers, a table), and a value it refuses is an error
//! naming the file or variable and the key. A `NUAGES_NAME__KEY` variable
//! is read as the type of the key's default (`yes`/`no` for a boolean,
//! commas between the items of a list); for a key whose default says
//! nothing (`None`), as a number or a boolean where the field takes one,
//! else as text.
//!
//! A field whose default is a table of named fields (a struct of the
//! project's) is checked the same way, key by key, at every depth
//! (`[name.sub]`, `NUAGES_NAME__SUB__KEY`). A table whose keys are the
//! user's own (a `HashMap` field, empty by default, or one that keeps any
//! key it is given) takes any key.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

type Loaded = Arc<dyn Any + Send + Sync>;
type Json = serde_json::Value;
type Table = serde_json::Map<String, Json>;

/// A declared section: its table's name, its keys with their types, and how
/// its merged table becomes the project's struct.
#[derive(Clone)]
pub struct Section {
    name: &'static str,
    type_id: std::any::TypeId,
    type_name: &'static str,
    defaults: serde_json::Map<String, serde_json::Value>,
    load: fn(serde_json::Value) -> Result<Loaded, String>,
    roundtrip: fn(serde_json::Value) -> Result<serde_json::Value, String>,
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

/// `value` read into `T` and written back: a key that survives is one `T`
/// keeps (a map's), one that does not is one it ignores (a struct's).
fn roundtrip_as<T: DeserializeOwned + Serialize>(value: Json) -> Result<Json, String> {
    let loaded = T::deserialize(value).map_err(|error| error.to_string())?;
    serde_json::to_value(loaded).map_err(|error| error.to_string())
}

/// The table at `path` below `table`, if every key on the way is a table.
fn table_at_mut<'t>(mut table: &'t mut Table, path: &[&str]) -> Option<&'t mut Table> {
    for key in path {
        table = table.get_mut(*key)?.as_object_mut()?;
    }
    Some(table)
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
            type_id: std::any::TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
            defaults,
            load: load_as::<T>,
            roundtrip: roundtrip_as::<T>,
        }
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The known keys of the table at `path` (`[]` for the section's own,
    /// `["api"]` for `[name.api]`): `None` when a key on the way is
    /// unknown, or is not a table of named fields (its keys are the user's
    /// own, as a `HashMap`'s, or its default says nothing of them).
    pub(crate) fn keys_at(&self, path: &[&str]) -> Option<&Table> {
        let mut table = &self.defaults;
        for (depth, key) in path.iter().enumerate() {
            match table.get(*key) {
                Some(Json::Object(inner)) if self.has_named_fields(&path[..=depth], inner) => {
                    table = inner
                }
                _ => return None,
            }
        }
        Some(table)
    }

    /// Whether the table at `path`, whose default is `default`, has named
    /// fields: it has keys by default, and an extra key given to it is
    /// dropped when the struct is read and written back (a map keeps it).
    fn has_named_fields(&self, path: &[&str], default: &Table) -> bool {
        const PROBE: &str = "\u{0}nuages-probe";
        let Some(sample) = default.values().next().cloned() else {
            return false;
        };
        let mut root = self.defaults.clone();
        let Some(table) = table_at_mut(&mut root, path) else {
            return false;
        };
        table.insert(PROBE.into(), sample);
        match (self.roundtrip)(Json::Object(root)) {
            Ok(Json::Object(mut back)) => {
                table_at_mut(&mut back, path).is_none_or(|table| !table.contains_key(PROBE))
            }
            _ => true,
        }
    }

    /// What the key at `path` takes, from the type of its default; `None`
    /// for an unknown key.
    pub(crate) fn field(&self, path: &[&str]) -> Option<Field> {
        let (last, parent) = path.split_last()?;
        Some(match self.keys_at(parent)?.get(*last)? {
            Json::Bool(_) => Field::Bool,
            Json::Number(n) if n.is_i64() || n.is_u64() => Field::Integer,
            Json::Number(_) => Field::Float,
            Json::String(_) => Field::String,
            Json::Array(_) => Field::List,
            Json::Object(inner) if self.has_named_fields(path, inner) => Field::Table,
            Json::Null | Json::Object(_) => Field::Other,
        })
    }

    /// Whether the struct takes `value` for the key at `path` (the other
    /// keys at their defaults); if not, serde's reason.
    pub(crate) fn accepts(&self, path: &[&str], value: &Json) -> Result<(), String> {
        let (last, parent) = path.split_last().ok_or("no key")?;
        let mut merged = self.defaults.clone();
        table_at_mut(&mut merged, parent)
            .ok_or("no such table")?
            .insert(last.to_string(), value.clone());
        (self.load)(Json::Object(merged)).map(|_| ())
    }

    /// `table` over `defaults` (the table at `path`): a table of named
    /// fields merged key by key, its missing keys at the struct's
    /// defaults; anything else replaced whole.
    fn merge(&self, defaults: &mut Table, table: Table, path: &mut Vec<String>) {
        for (key, value) in table {
            path.push(key);
            let key = path.last().expect("pushed").clone();
            match (defaults.get_mut(&key), value) {
                (Some(Json::Object(inner)), Json::Object(value))
                    if self
                        .keys_at(&path.iter().map(String::as_str).collect::<Vec<_>>())
                        .is_some() =>
                {
                    self.merge(inner, value, path)
                }
                (_, value) => {
                    defaults.insert(key, value);
                }
            }
            path.pop();
        }
    }

    /// Whether the section is read into the same type as `other`.
    pub(crate) fn same_type_as(&self, other: &Section) -> bool {
        self.type_id == other.type_id
    }

    /// The name of the struct the section is read into.
    pub(crate) fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// Read the merged table (missing keys keep their defaults).
    pub(crate) fn load(
        &self,
        table: serde_json::Map<String, serde_json::Value>,
    ) -> Result<LoadedSection, String> {
        let mut merged = self.defaults.clone();
        self.merge(&mut merged, table, &mut Vec::new());
        let value = (self.load)(serde_json::Value::Object(merged.clone()))?;
        Ok(LoadedSection {
            type_name: self.type_name,
            table: merged,
            defaults: self.defaults.clone(),
            value,
        })
    }
}

/// What a key of a section takes, as the type of its default tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `true` / `false`.
    Bool,
    /// A whole number (negative too, if the field's type takes it).
    Integer,
    /// A number with a fraction.
    Float,
    /// Text.
    String,
    /// A list, of whatever the field's items take.
    List,
    /// A table of named fields (a struct), its keys checked one by one.
    Table,
    /// A default that says nothing of the type (`None`), or a table whose
    /// keys are the user's own (a map).
    Other,
}

impl Field {
    /// How the type is named in error messages; `key` is dotted below the
    /// section (`api.timeout`).
    pub(crate) fn describe(self, section: &Section, key: &str) -> String {
        match self {
            Field::Bool => "a boolean (true or false)".into(),
            Field::Integer => "a whole number".into(),
            Field::Float => "a number".into(),
            Field::String => "a string".into(),
            Field::List => "a list".into(),
            Field::Table => format!("a table ([{}.{key}])", section.name()),
            Field::Other => format!(
                "a value that the field `{key}` of {} takes",
                section.type_name()
            ),
        }
    }

    /// How to write a value of this type for `key` in a settings file.
    pub(crate) fn file_example(self, section: &Section, key: &str) -> String {
        let full = format!("{}.{key}", section.name());
        match self {
            Field::Bool => format!("write `{full} = true` or `{full} = false`, without quotes"),
            Field::Integer => format!("write a whole number without quotes, e.g. `{full} = 30`"),
            Field::Float => format!("write a number without quotes, e.g. `{full} = 0.5`"),
            Field::String => format!("write the value in quotes, e.g. `{full} = \"…\"`"),
            Field::List => format!(
                "write a list of what the field `{key}` of {} holds, e.g. `{full} = [\"a\", \"b\"]` or `[1, 2]`",
                section.type_name()
            ),
            Field::Table => {
                format!("write its keys under a [{full}] line, or `{full} = {{ key = … }}`")
            }
            Field::Other => format!(
                "write a value of the type of the field `{key}` of {} (a number or a boolean without quotes, text in quotes)",
                section.type_name()
            ),
        }
    }

    /// How to set a value of this type with `variable`.
    pub(crate) fn env_example(self, variable: &str) -> String {
        match self {
            Field::Bool => {
                format!("set {variable} to true or false (yes/no, on/off and 1/0 work too)")
            }
            Field::Integer => format!("set {variable} to a whole number, e.g. {variable}=30"),
            Field::Float => format!("set {variable} to a number, e.g. {variable}=0.5"),
            Field::List => super::keys::list_env_example(variable),
            Field::Table => format!("set its keys one by one, {variable}__<KEY>"),
            Field::String | Field::Other => format!("set {variable} to the value, unquoted"),
        }
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
    /// A table's keys count at any depth (`[payments.credentials]
    /// password`), and every string a secret key holds (the items of
    /// `api_keys = [...]`), as Django's `cleanse_setting` hides them.
    pub(crate) fn secret_values(&self) -> Vec<String> {
        fn walk(value: &serde_json::Value, secret: bool, out: &mut Vec<String>) {
            match value {
                serde_json::Value::String(text) if secret => out.push(text.clone()),
                serde_json::Value::Array(items) => {
                    items.iter().for_each(|item| walk(item, secret, out))
                }
                serde_json::Value::Object(table) => table.iter().for_each(|(key, value)| {
                    walk(
                        value,
                        secret || crate::mail::report::names_a_secret(key),
                        out,
                    )
                }),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (name, section) in &self.loaded {
            for (key, value) in &section.table {
                let secret = crate::mail::report::names_a_secret(&format!("{name}.{key}"));
                walk(value, secret, &mut out);
            }
        }
        out
    }

    /// `(name.key, value as shown, whether it differs from the default)` of
    /// every key: the value as TOML text, masked as Django's
    /// `cleanse_setting` does, a key whose name looks secret (`api_token`,
    /// also inside a table, or a table in a list) shown as a mask whatever
    /// its value.
    pub(crate) fn masked_entries(&self) -> Vec<(String, String, bool)> {
        fn cleansed(key: &str, value: &serde_json::Value) -> serde_json::Value {
            match value {
                _ if crate::mail::report::names_a_secret(key) => {
                    serde_json::Value::String(super::secrets::MASK.into())
                }
                serde_json::Value::Object(table) => serde_json::Value::Object(
                    table
                        .iter()
                        .map(|(key, value)| (key.clone(), cleansed(key, value)))
                        .collect(),
                ),
                serde_json::Value::Array(items) => {
                    serde_json::Value::Array(items.iter().map(|item| cleansed("", item)).collect())
                }
                other => other.clone(),
            }
        }
        self.loaded
            .iter()
            .flat_map(|(name, section)| {
                section.table.iter().map(move |(key, value)| {
                    let full = format!("{name}.{key}");
                    let shown = match value {
                        serde_json::Value::Null if !crate::mail::report::names_a_secret(&full) => {
                            "(unset)".to_string()
                        }
                        value => {
                            let value = cleansed(&full, value);
                            toml::Value::try_from(&value)
                                .map_or_else(|_| value.to_string(), |v| v.to_string())
                        }
                    };
                    let differs = section.defaults.get(key) != Some(value);
                    (full, shown, differs)
                })
            })
            .collect()
    }

    /// Whether a section of the type named `type_name` was declared.
    pub(crate) fn has_type_named(&self, type_name: &str) -> bool {
        self.loaded.values().any(|s| s.type_name == type_name)
    }
}

/// The keys and values as `diffsettings` shows them: a project that logs
/// its settings logs no secret.
impl fmt::Debug for Sections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.masked_entries()
                    .into_iter()
                    .map(|(key, shown, _)| (key, shown)),
            )
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
