//! The schema of the settings file: which keys exist and what they hold.
//!
//! The loader uses it to reject unknown keys (with the closest known one) and
//! to give `NUAGES_*` environment values their type.

/// What a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `true` / `false`.
    Bool,
    /// A whole number.
    Integer,
    /// A string (paths included).
    String,
    /// A list of strings; comma-separated in the environment.
    List,
    /// `[databases.<alias>]` tables.
    Databases,
}

impl Kind {
    /// How the type is named in error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Bool => "a boolean (true or false)",
            Kind::Integer => "a whole number",
            Kind::String => "a string",
            Kind::List => "a list of strings",
            Kind::Databases => "a table of databases",
        }
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
    ("staticfiles_dirs", Kind::List),
    ("staticfiles_storage", Kind::String),
    ("log_level", Kind::String),
    ("log_file", Kind::String),
    ("server_email", Kind::String),
    ("default_from_email", Kind::String),
    ("admins", Kind::List),
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
    ("csrf_cookie_secure", Kind::Bool),
    ("csrf_trusted_origins", Kind::List),
    ("x_frame_options", Kind::String),
    ("data_upload_max_memory_size", Kind::Integer),
    ("use_x_forwarded_host", Kind::Bool),
    ("silenced_system_checks", Kind::List),
    ("serve_bind", Kind::String),
    ("serve_socket_mode", Kind::String),
    ("serve_graceful_timeout", Kind::Integer),
    ("serve_user", Kind::String),
    ("databases", Kind::Databases),
];

/// Keys of one `[databases.<alias>]` table.
pub const DATABASE_KEYS: &[(&str, Kind)] = &[
    ("url", Kind::String),
    ("max_connections", Kind::Integer),
    ("busy_timeout_ms", Kind::Integer),
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

/// The kind of a key inside a database table, if it exists.
pub fn database_kind_of(key: &str) -> Option<Kind> {
    DATABASE_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, kind)| *kind)
}

/// The known name closest to `unknown`, when one is close enough to be a typo.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(unknown, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
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
            log_file: Some("l".into()),
            secure_proxy_ssl_header: Some(vec![]),
            serve_user: Some("u".into()),
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
}
