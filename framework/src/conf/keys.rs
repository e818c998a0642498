//! The schema of the settings file: which keys exist and what they hold.
//!
//! The loader uses it to reject unknown keys (with the closest known one) and
//! to give `NUAGES_*` environment values their type. `docs/settings.md`
//! documents every key listed here; a test keeps the two in step.

use super::{
    CacheBackend, EmailBackend, LogLevel, MessageStorage, SessionEngine, StaticfilesStorage,
};

/// What a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` / `false`.
    Bool,
    /// A whole number, 0 or more.
    Integer,
    /// A string (paths included).
    String,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// A list of strings; comma-separated in the environment.
    List,
    /// Tables by alias (`[databases.<alias>]`, `[caches.<alias>]`), each
    /// with these keys.
    Tables(&'static [(&'static str, Kind)]),
}

impl Kind {
    /// How the type is named in error messages.
    pub fn describe(self) -> String {
        match self {
            Kind::Bool => "a boolean (true or false)".into(),
            Kind::Integer => "a whole number (0 or more)".into(),
            Kind::String => "a string".into(),
            Kind::Choice(values) => format!("one of {}", quoted_list(values, "or")),
            Kind::List => "a list of strings".into(),
            Kind::Tables(_) => "a table of named tables".into(),
        }
    }

    /// How to write a value of this kind for `key` in a settings file.
    pub fn file_example(self, key: &str) -> String {
        match self {
            Kind::Bool => format!("write `{key} = true` or `{key} = false`, without quotes"),
            Kind::Integer => format!("write a number without quotes, e.g. `{key} = 30`"),
            Kind::String => format!("write the value in quotes, e.g. `{key} = \"…\"`"),
            Kind::Choice(values) => format!(
                "write one of {} in quotes, e.g. `{key} = \"{}\"`",
                quoted_list(values, "or"),
                values[0]
            ),
            Kind::List => format!(
                "write a list of strings, e.g. `{key} = {}`",
                list_example(key)
            ),
            Kind::Tables(fields) => match key {
                "databases" => "write a table per database: `[databases.default]` then `url = \"sqlite://db/db.sqlite3\"`"
                    .into(),
                _ => format!(
                    "write a table per alias: `[{key}.default]` then its keys ({})",
                    fields.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ),
            },
        }
    }

    /// How to set a value of this kind with the environment `variable`.
    pub fn env_example(self, variable: &str) -> String {
        match self {
            Kind::Bool => {
                format!("set {variable} to true or false (yes/no, on/off and 1/0 work too)")
            }
            Kind::Integer => format!("set {variable} to a whole number, e.g. {variable}=30"),
            Kind::List => list_env_example(variable),
            Kind::Choice(values) => {
                format!("set {variable} to one of {}", quoted_list(values, "or"))
            }
            Kind::String | Kind::Tables(_) => format!("set {variable} to the value, unquoted"),
        }
    }
}

/// How to set a list with the environment `variable`: commas between the
/// items, or a TOML array for an item that holds a comma or starts with `[`.
pub(crate) fn list_env_example(variable: &str) -> String {
    format!(
        "separate the items with commas, e.g. {variable}=a,b; for an item that holds a comma \
         or starts with [, write a TOML array, e.g. {variable}='[\"a, b\", \"c\"]'"
    )
}

/// A value of the list setting `key` as a file writes it: what its items
/// look like, where the plain `["a", "b"]` would not say (Django writes
/// `ADMINS` as pairs, Nuages as one string each).
fn list_example(key: &str) -> &'static str {
    match key {
        "allowed_hosts" => "[\"example.com\", \"www.example.com\"]",
        "admins" | "managers" => "[\"Ann <ann@example.com>\", \"bob@example.com\"]",
        "secure_proxy_ssl_header" => "[\"X-Forwarded-Proto\", \"https\"]",
        "csrf_trusted_origins" => "[\"https://example.com\", \"https://*.example.com\"]",
        "middleware" => {
            "[\"security\", \"session\", \"auth\", \"common\", \"csrf\", \"messages\", \"xframe\"]"
        }
        "template_dirs" => "[\"templates\"]",
        "staticfiles_dirs" => "[\"static\", \"vendor=assets/vendor\"]",
        "secret_key_fallbacks" => "[\"${OLD_SECRET_KEY}\"]",
        "trusted_proxies" => "[\"127.0.0.1\", \"::1\"]",
        "silenced_system_checks" => "[\"security.W004\"]",
        "secure_redirect_exempt" => "[\"^healthz/$\"]",
        "password_hashers" => "[\"argon2\", \"pbkdf2_sha256\"]",
        _ => "[\"a\", \"b\"]",
    }
}

/// `"a", "b" or "c"`.
pub fn quoted_list(values: &[&str], last_joiner: &str) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {last_joiner} {last}", rest.join(", ")),
    }
}

/// Every top-level key of the settings file.
pub const KNOWN_KEYS: &[(&str, Kind)] = &[
    ("debug", Kind::Bool),
    ("secret_key", Kind::String),
    ("secret_key_fallbacks", Kind::List),
    ("allowed_hosts", Kind::List),
    ("middleware", Kind::List),
    ("template_dirs", Kind::List),
    ("static_url", Kind::String),
    ("static_root", Kind::String),
    ("media_url", Kind::String),
    ("media_root", Kind::String),
    ("staticfiles_dirs", Kind::List),
    (
        "staticfiles_storage",
        Kind::Choice(StaticfilesStorage::NAMES),
    ),
    ("staticfiles_precompress", Kind::Bool),
    ("log_level", Kind::Choice(LogLevel::NAMES)),
    ("log_file", Kind::String),
    ("server_email", Kind::String),
    ("default_from_email", Kind::String),
    ("admins", Kind::List),
    ("managers", Kind::List),
    ("email_backend", Kind::Choice(EmailBackend::NAMES)),
    ("email_host", Kind::String),
    ("email_port", Kind::Integer),
    ("email_host_user", Kind::String),
    ("email_host_password", Kind::String),
    ("email_use_tls", Kind::Bool),
    ("email_use_ssl", Kind::Bool),
    ("email_timeout", Kind::Integer),
    ("email_subject_prefix", Kind::String),
    ("email_file_path", Kind::String),
    ("secure_hsts_seconds", Kind::Integer),
    ("secure_hsts_include_subdomains", Kind::Bool),
    ("secure_hsts_preload", Kind::Bool),
    ("secure_content_type_nosniff", Kind::Bool),
    ("secure_ssl_redirect", Kind::Bool),
    ("secure_redirect_exempt", Kind::List),
    ("secure_proxy_ssl_header", Kind::List),
    ("secure_referrer_policy", Kind::String),
    ("secure_cross_origin_opener_policy", Kind::String),
    ("session_cookie_secure", Kind::Bool),
    ("session_cookie_httponly", Kind::Bool),
    ("session_cookie_age", Kind::Integer),
    ("session_engine", Kind::Choice(SessionEngine::NAMES)),
    ("session_cache_alias", Kind::String),
    ("login_url", Kind::String),
    ("login_redirect_url", Kind::String),
    ("logout_redirect_url", Kind::String),
    ("login_throttle_username_limit", Kind::Integer),
    ("login_throttle_address_limit", Kind::Integer),
    ("login_throttle_window", Kind::Integer),
    ("login_throttle_cache_alias", Kind::String),
    ("trusted_proxies", Kind::List),
    ("csrf_cookie_secure", Kind::Bool),
    ("csrf_trusted_origins", Kind::List),
    ("x_frame_options", Kind::String),
    ("data_upload_max_memory_size", Kind::Integer),
    ("data_upload_max_number_fields", Kind::Integer),
    ("data_upload_max_number_files", Kind::Integer),
    ("use_x_forwarded_host", Kind::Bool),
    ("silenced_system_checks", Kind::List),
    ("serve_bind", Kind::String),
    ("serve_socket_mode", Kind::String),
    ("serve_graceful_timeout", Kind::Integer),
    ("serve_user", Kind::String),
    ("password_hashers", Kind::List),
    ("argon2_memory_cost", Kind::Integer),
    ("argon2_time_cost", Kind::Integer),
    ("argon2_parallelism", Kind::Integer),
    ("pbkdf2_iterations", Kind::Integer),
    ("auth_password_validators", Kind::List),
    ("password_min_length", Kind::Integer),
    ("password_reset_timeout", Kind::Integer),
    ("password_reset_cooldown", Kind::Integer),
    ("databases", Kind::Tables(DATABASE_KEYS)),
    ("caches", Kind::Tables(CACHE_KEYS)),
    ("message_storage", Kind::Choice(MessageStorage::NAMES)),
];

/// Keys of one `[databases.<alias>]` table.
pub const DATABASE_KEYS: &[(&str, Kind)] = &[
    ("url", Kind::String),
    ("max_connections", Kind::Integer),
    ("busy_timeout_ms", Kind::Integer),
];

/// Keys of one `[caches.<alias>]` table.
pub const CACHE_KEYS: &[(&str, Kind)] = &[
    ("backend", Kind::Choice(CacheBackend::NAMES)),
    ("location", Kind::String),
    ("timeout", Kind::Integer),
    ("max_entries", Kind::Integer),
    ("tls_ca_file", Kind::String),
    ("key_prefix", Kind::String),
];

/// The key that names the settings file this one builds on.
pub const EXTENDS: &str = "extends";

/// The kind of a top-level key, if it exists.
pub fn kind_of(key: &str) -> Option<Kind> {
    KNOWN_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, kind)| *kind)
}

/// The kind of `key` among the keys of a table, if it is one of them.
pub fn field_kind_of(fields: &[(&str, Kind)], key: &str) -> Option<Kind> {
    fields
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, kind)| *kind)
}

/// The known name closest to `unknown`, when one is close enough to be a
/// typo. Case is ignored.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let unknown = unknown.to_lowercase();
    known
        .into_iter()
        .map(|candidate| (similarity(&unknown, &candidate.to_lowercase()), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Jaro-Winkler similarity, except that two letters swapped count as a
/// typo however far apart they are: Jaro-Winkler only pairs letters a place
/// or two apart, so it rates `degub` against `debug` 0.79.
fn similarity(a: &str, b: &str) -> f64 {
    let score = strsim::jaro_winkler(a, b);
    if one_swap_apart(a, b) {
        score.max(0.9)
    } else {
        score
    }
}

/// Whether swapping two letters of `a` (of three or more) gives `b`.
fn one_swap_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len() != b.len() || a.len() < 3 {
        return false;
    }
    let differ: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    matches!(differ.as_slice(), [i, j] if a[*i] == b[*j] && a[*j] == b[*i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::Settings;

    #[test]
    fn the_schema_lists_every_field_of_settings() {
        let serialized = toml::Table::try_from(Settings {
            secret_key: Some("k".into()),
            static_root: Some("s".into()),
            media_root: Some("m".into()),
            log_file: Some("l".into()),
            secure_proxy_ssl_header: Some(vec![]),
            serve_user: Some("u".into()),
            email_timeout: Some(10),
            staticfiles_precompress: Some(true),
            email_file_path: Some("m".into()),
            ..Settings::default()
        })
        .unwrap();
        let mut fields: Vec<&str> = serialized.keys().map(String::as_str).collect();
        let mut known: Vec<&str> = KNOWN_KEYS.iter().map(|(k, _)| *k).collect();
        fields.sort();
        known.sort();
        assert_eq!(fields, known);
    }

    #[test]
    fn typos_find_their_key() {
        let keys = || KNOWN_KEYS.iter().map(|(k, _)| *k);
        assert_eq!(closest("debgu", keys()), Some("debug"));
        assert_eq!(closest("alowed_hosts", keys()), Some("allowed_hosts"));
        assert_eq!(closest("static_roots", keys()), Some("static_root"));
        assert_eq!(closest("zzzzzz", keys()), None);
    }

    #[test]
    fn short_typos_and_other_cases_find_their_key() {
        let keys = || KNOWN_KEYS.iter().map(|(k, _)| *k);
        assert_eq!(closest("degub", keys()), Some("debug"));
        assert_eq!(closest("DEBUG", keys()), Some("debug"));
        assert_eq!(closest("admnis", keys()), Some("admins"));
        assert_eq!(closest("bugde", keys()), None, "an anagram is not a typo");
        assert_eq!(
            closest("ed", ["de"]),
            None,
            "two letters are too few to tell"
        );
        assert_eq!(
            closest("INFO", LogLevel::NAMES.iter().copied()),
            Some("info")
        );
        assert_eq!(
            closest("warning", LogLevel::NAMES.iter().copied()),
            Some("warn")
        );
    }

    #[test]
    fn choices_are_the_names_serde_reads() {
        for (key, kind) in KNOWN_KEYS {
            if let Kind::Choice(values) = kind {
                for value in *values {
                    let table: toml::Table = format!("{key} = \"{value}\"").parse().unwrap();
                    let settings: Result<Settings, _> = table.try_into();
                    assert!(settings.is_ok(), "{key} = {value:?}: {settings:?}");
                }
            }
        }
        assert_eq!(LogLevel::NAMES.len(), 5);
        assert_eq!(StaticfilesStorage::NAMES.len(), 2);
    }
}
