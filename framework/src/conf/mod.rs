//! Settings: every default in one documented place, and the loader that layers
//! them (defaults < the `extends` chain < the selected file < `NUAGES_*`).
//!
//! ```
//! let settings = nuages::conf::Settings::default();
//! assert!(!settings.debug);
//! assert_eq!(settings.static_url, "/static/");
//! ```

mod error;
pub(crate) mod interpolate;
pub(crate) mod keys;
mod loader;
pub(crate) mod secrets;
mod section;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::SettingsError;
pub use keys::{CACHE_KEYS, DATABASE_KEYS, KNOWN_KEYS, Kind, closest as closest_name};
pub use loader::{SETTINGS_VARIABLE, SelectedSettings, SettingsLoader, SettingsOrigin};
pub(crate) use loader::{read_settings_file, select_settings_file};
pub use section::{Section, Sections};

/// The prefix `startproject` gives the development `secret_key`; the
/// deployment checks (`security.W009`) and `serve` refuse a key that has it.
pub const SECRET_KEY_INSECURE_PREFIX: &str = "nuages-insecure-";

/// The names the `middleware` setting lists by default, outermost first.
/// Every built-in middleware is on by default, so these are also the
/// built-in names the setting accepts (besides the ones a project registers).
pub const DEFAULT_MIDDLEWARE: &[&str] = &[
    "security", "session", "auth", "common", "csrf", "messages", "xframe",
];

/// A project's settings, as loaded from its TOML file.
///
/// Relative paths in the file are resolved against [`Settings::base_dir`] by
/// the loader, so every path field holds an absolute path after loading.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Detailed error pages, template reloading, static serving. Never in production.
    pub debug: bool,
    /// Signs sessions and CSRF tokens. No default: read it from the environment.
    pub secret_key: Option<String>,
    /// Older keys still accepted when verifying signatures (key rotation).
    pub secret_key_fallbacks: Vec<String>,
    /// Host names this site answers to (`.example.com` for subdomains, `*` for all).
    pub allowed_hosts: Vec<String>,
    /// Built-in middleware names, outermost first.
    pub middleware: Vec<String>,
    /// Project template folders, searched before each app's `templates/`.
    pub template_dirs: Vec<PathBuf>,
    /// URL prefix of static files.
    pub static_url: String,
    /// Where `collectstatic` gathers static files for the web server.
    pub static_root: Option<PathBuf>,
    /// URL prefix of uploaded files (`media_root`).
    pub media_url: String,
    /// Where uploaded files are stored; unset: a form with a file field
    /// refuses to bind, and files sent to other forms are dropped.
    pub media_root: Option<PathBuf>,
    /// Extra static source folders, each `"path"` or `"prefix=path"`.
    pub staticfiles_dirs: Vec<String>,
    /// `plain`, or `manifest` for content-hashed names.
    pub staticfiles_storage: StaticfilesStorage,
    /// Whether `collectstatic` writes `.gz`/`.br` siblings; unset: when
    /// `debug` is off (see [`Settings::precompresses_static_files`]).
    pub staticfiles_precompress: Option<bool>,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub log_level: LogLevel,
    /// Append log lines to this file as well as stderr.
    pub log_file: Option<PathBuf>,
    /// Sender of error mails to the admins.
    pub server_email: String,
    /// Sender of other mails.
    pub default_from_email: String,
    /// People who get error mails, `"Name <email>"`.
    pub admins: Vec<String>,
    /// People who get `mail_managers`, `"Name <email>"`.
    pub managers: Vec<String>,
    /// How mail leaves: `smtp`, `console`, `file`, `memory` or `dummy`.
    pub email_backend: EmailBackend,
    /// The SMTP server's host name or address.
    pub email_host: String,
    /// The SMTP server's port.
    pub email_port: u16,
    /// The SMTP user name; empty: no authentication.
    pub email_host_user: String,
    /// The SMTP password; write it as `${VARIABLE}`, never literally.
    pub email_host_password: String,
    /// Require STARTTLS on the SMTP connection.
    pub email_use_tls: bool,
    /// Speak SMTP inside TLS from the first byte (implicit TLS, port 465).
    pub email_use_ssl: bool,
    /// Seconds one SMTP send may take, connection included; unset: 60.
    pub email_timeout: Option<u64>,
    /// Put before the subject of `mail_admins` and `mail_managers` mails.
    pub email_subject_prefix: String,
    /// The folder the `file` backend writes one `.eml` file per message into.
    pub email_file_path: Option<PathBuf>,
    /// `Strict-Transport-Security` max-age on secure requests; 0 disables it.
    pub secure_hsts_seconds: u64,
    /// Add `includeSubDomains` to HSTS.
    pub secure_hsts_include_subdomains: bool,
    /// Add `preload` to HSTS.
    pub secure_hsts_preload: bool,
    /// Send `X-Content-Type-Options: nosniff`.
    pub secure_content_type_nosniff: bool,
    /// Redirect plain HTTP requests to HTTPS.
    pub secure_ssl_redirect: bool,
    /// Path patterns (regular expressions, no leading slash) never redirected to HTTPS.
    pub secure_redirect_exempt: Vec<String>,
    /// `[header, value]` that marks a request as secure behind a proxy.
    pub secure_proxy_ssl_header: Option<Vec<String>>,
    /// `Referrer-Policy` header value.
    pub secure_referrer_policy: String,
    /// `Cross-Origin-Opener-Policy` header value.
    pub secure_cross_origin_opener_policy: String,
    /// Send the session cookie over HTTPS only.
    pub session_cookie_secure: bool,
    /// Hide the session cookie from JavaScript.
    pub session_cookie_httponly: bool,
    /// Session cookie lifetime in seconds.
    pub session_cookie_age: u64,
    /// Where sessions live: in the signed cookie, a cache or the database.
    pub session_engine: SessionEngine,
    /// The cache alias sessions use with `session_engine = "cache"`.
    pub session_cache_alias: String,
    /// Where a view that requires a login sends an anonymous visitor (with
    /// `?next=`): a path, or the name of a route.
    pub login_url: String,
    /// Where the login view sends a user who logged in without a same-site
    /// `next`: a path, or the name of a route.
    pub login_redirect_url: String,
    /// Where the logout view sends a user who logged out: a path, the name
    /// of a route, or empty to show `registration/logged_out.html`.
    pub logout_redirect_url: String,
    /// Failed logins for one username, within `login_throttle_window`,
    /// after which its logins are refused; 0: no limit.
    pub login_throttle_username_limit: u64,
    /// Failed logins from one client address, within
    /// `login_throttle_window`, after which its logins are refused; 0: no limit.
    pub login_throttle_address_limit: u64,
    /// Seconds failed logins are counted for, from the first one.
    pub login_throttle_window: u64,
    /// The cache alias that keeps the failed-login counts.
    pub login_throttle_cache_alias: String,
    /// The addresses of the proxies (the web server) whose
    /// `X-Forwarded-For` gives the client's address; `"unix"` for one on
    /// `serve`'s unix socket. Empty: the header is never read.
    pub trusted_proxies: Vec<String>,
    /// Send the CSRF cookie over HTTPS only.
    pub csrf_cookie_secure: bool,
    /// Origins (`https://example.com`) trusted for unsafe requests.
    pub csrf_trusted_origins: Vec<String>,
    /// `X-Frame-Options` header value.
    pub x_frame_options: String,
    /// Largest request body accepted, in bytes; larger gets 413.
    pub data_upload_max_memory_size: usize,
    /// Most fields a form (query string or body) may send; more gets 400.
    /// 0: no limit.
    pub data_upload_max_number_fields: usize,
    /// Most files a multipart form may send; more gets 400. 0: no limit.
    pub data_upload_max_number_files: usize,
    /// Trust `X-Forwarded-Host` (only behind a proxy that sets it).
    pub use_x_forwarded_host: bool,
    /// System check ids to silence.
    pub silenced_system_checks: Vec<String>,
    /// Where `serve` listens: `HOST:PORT` or `unix:PATH`.
    pub serve_bind: String,
    /// Octal mode of the unix socket `serve` creates.
    pub serve_socket_mode: String,
    /// Seconds `serve` waits for requests in flight at shutdown.
    pub serve_graceful_timeout: u64,
    /// The account `serve` runs as in production: `deployconfig systemd`
    /// writes it as the unit's `User=`, and `check` judges the database, log
    /// and socket permissions for it. Unset: the user running `check`.
    pub serve_user: Option<String>,
    /// Password hashers by name, as Django's `PASSWORD_HASHERS`: the first
    /// hashes new passwords, all of them verify (see [`crate::auth::hashers`]).
    pub password_hashers: Vec<String>,
    /// KiB of memory per Argon2 hash.
    pub argon2_memory_cost: u32,
    /// Passes of Argon2 over its memory.
    pub argon2_time_cost: u32,
    /// Lanes of Argon2.
    pub argon2_parallelism: u32,
    /// Rounds of PBKDF2 for `pbkdf2_sha256` hashes.
    pub pbkdf2_iterations: u32,
    /// Password validators by name, as Django's `AUTH_PASSWORD_VALIDATORS`
    /// (see [`crate::auth::validators`]).
    pub auth_password_validators: Vec<String>,
    /// The fewest characters `minimum_length` accepts.
    pub password_min_length: usize,
    /// Seconds a password reset link stays valid (Django's
    /// `PASSWORD_RESET_TIMEOUT`).
    pub password_reset_timeout: u64,
    /// Seconds after a password reset is asked for an address during which
    /// further requests for it are merged into that one (no mail); 0: none.
    /// Counted in the cache of `login_throttle_cache_alias`.
    pub password_reset_cooldown: u64,
    /// Database connections by alias; `default` is the one views get.
    pub databases: BTreeMap<String, DatabaseSettings>,
    /// Caches by alias; `default` is the one views get.
    pub caches: BTreeMap<String, CacheSettings>,
    /// Where the `messages` middleware keeps messages between requests.
    pub message_storage: MessageStorage,

    /// The folder of the selected settings file; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The settings file that was selected, when loaded from a file.
    #[serde(skip)]
    pub settings_file: Option<PathBuf>,
    /// The project's and its apps' own sections (`[mysite]`), as declared
    /// with [`Project::settings_section`](crate::Project::settings_section).
    #[serde(skip)]
    pub sections: Sections,
}

/// The settings as TOML, their secrets masked: a project that logs its
/// settings logs no secret key or password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match toml::Table::try_from(self.masked()) {
            Ok(table) => f.debug_tuple("Settings").field(&table).finish(),
            Err(_) => f.write_str("Settings { .. }"),
        }
    }
}

/// One entry of `[databases]`; its `Debug` masks the URL's password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` (relative to `base_dir`) or a server URL.
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// Milliseconds SQLite waits for a lock before failing.
    pub busy_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://db/db.sqlite3".into(),
            max_connections: 8,
            busy_timeout_ms: 5_000,
        }
    }
}

/// One entry of `[caches]`; its `Debug` masks the URL's password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// Where entries live.
    pub backend: CacheBackend,
    /// The server's URL for `redis` (`redis://127.0.0.1:6379/0`,
    /// `redis+unix:///run/redis.sock`); unused by the others.
    pub location: String,
    /// Seconds an entry lives when `set` is given no timeout.
    pub timeout: u64,
    /// Most entries `locmem` keeps; the least used go first.
    pub max_entries: u64,
    /// PEM file of the certificate authorities a `rediss://` server's
    /// certificate must be signed by, instead of the system's (a private
    /// CA); relative to `base_dir`.
    pub tls_ca_file: Option<PathBuf>,
    /// Put before every key as `<key_prefix>:<key>` (Django's
    /// `KEY_PREFIX`), so that sites sharing one Redis database keep apart
    /// (and `clear()` removes only this prefix's keys); empty: none.
    pub key_prefix: String,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            backend: CacheBackend::Locmem,
            location: String::new(),
            timeout: 300,
            max_entries: 300,
            tls_ca_file: None,
            key_prefix: String::new(),
        }
    }
}

/// The `backend` of a `[caches.<alias>]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheBackend {
    /// In this process, bounded, lost at restart.
    #[default]
    Locmem,
    /// A Redis server, shared by every process that uses it.
    Redis,
    /// Caches nothing: every get is a miss.
    Dummy,
}

impl CacheBackend {
    /// The values the setting takes, as written in the settings file.
    pub const NAMES: &'static [&'static str] = &["locmem", "redis", "dummy"];

    /// The name of the backend, as written in the settings file.
    pub fn name(self) -> &'static str {
        match self {
            CacheBackend::Locmem => "locmem",
            CacheBackend::Redis => "redis",
            CacheBackend::Dummy => "dummy",
        }
    }
}

/// The `session_engine` setting: where a session's data lives (Django's
/// `SESSION_ENGINE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEngine {
    /// In the client's cookie, signed with `secret_key`: nothing on the
    /// server, so a session cannot be ended anywhere but in that browser.
    #[default]
    SignedCookies,
    /// In the cache `session_cache_alias`; the cookie holds a random key.
    Cache,
    /// In the `nuages_session` table of the default database (created by
    /// `migrate`); the cookie holds a random key.
    Db,
}

impl SessionEngine {
    /// The values the setting takes, as written in the settings file.
    pub const NAMES: &'static [&'static str] = &["signed_cookies", "cache", "db"];

    /// The name as written in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEngine::SignedCookies => "signed_cookies",
            SessionEngine::Cache => "cache",
            SessionEngine::Db => "db",
        }
    }

    /// Whether the data lives on the server (the cookie holds only a key).
    pub fn is_server_side(self) -> bool {
        self != SessionEngine::SignedCookies
    }
}

/// The `email_backend` setting: where sent mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailBackend {
    /// An SMTP server (`email_host`, `email_port`).
    #[default]
    Smtp,
    /// Printed on standard output (development).
    Console,
    /// One `.eml` file per message in `email_file_path` (development).
    File,
    /// Kept in memory, readable through the mailer (tests).
    Memory,
    /// Thrown away.
    Dummy,
}

impl EmailBackend {
    /// The values the setting takes, as written in the settings file.
    pub const NAMES: &'static [&'static str] = &["smtp", "console", "file", "memory", "dummy"];

    /// The name as written in the settings file.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// The `message_storage` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStorage {
    /// In the session (the `session` middleware must come first).
    #[default]
    Session,
    /// In a `messages` cookie signed with `secret_key`.
    Cookie,
}

impl MessageStorage {
    /// The values the setting takes, as written in the settings file.
    pub const NAMES: &'static [&'static str] = &["session", "cookie"];
}

/// How `collectstatic` names files and `static()` builds URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaticfilesStorage {
    /// Files keep their names.
    #[default]
    Plain,
    /// Files get a content hash in their names and a `staticfiles.json` manifest.
    Manifest,
}

impl StaticfilesStorage {
    /// The values the setting takes, as written in the settings file.
    pub const NAMES: &'static [&'static str] = &["plain", "manifest"];
}

/// The `log_level` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum LogLevel {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    /// The values the setting takes, least serious first.
    pub const NAMES: &'static [&'static str] = &["trace", "debug", "info", "warn", "error"];

    /// The name as written in the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl Default for Settings {
    /// Django's defaults where Django has the setting; `docs/settings.md`
    /// lists them all.
    fn default() -> Self {
        Settings {
            debug: false,
            secret_key: None,
            secret_key_fallbacks: vec![],
            allowed_hosts: vec![],
            middleware: DEFAULT_MIDDLEWARE.iter().map(|m| m.to_string()).collect(),
            template_dirs: vec![PathBuf::from("templates")],
            static_url: "/static/".into(),
            static_root: None,
            media_url: "/media/".into(),
            media_root: None,
            staticfiles_dirs: vec![],
            staticfiles_storage: StaticfilesStorage::Plain,
            staticfiles_precompress: None,
            log_level: LogLevel::Info,
            log_file: None,
            server_email: "root@localhost".into(),
            default_from_email: "webmaster@localhost".into(),
            admins: vec![],
            managers: vec![],
            email_backend: EmailBackend::Smtp,
            email_host: "localhost".into(),
            email_port: 25,
            email_host_user: String::new(),
            email_host_password: String::new(),
            email_use_tls: false,
            email_use_ssl: false,
            email_timeout: None,
            email_subject_prefix: "[Nuages] ".into(),
            email_file_path: None,
            secure_hsts_seconds: 0,
            secure_hsts_include_subdomains: false,
            secure_hsts_preload: false,
            secure_content_type_nosniff: true,
            secure_ssl_redirect: false,
            secure_redirect_exempt: vec![],
            secure_proxy_ssl_header: None,
            secure_referrer_policy: "same-origin".into(),
            secure_cross_origin_opener_policy: "same-origin".into(),
            session_cookie_secure: false,
            session_cookie_httponly: true,
            session_cookie_age: 1_209_600,
            session_engine: SessionEngine::SignedCookies,
            session_cache_alias: "default".into(),
            login_url: "/accounts/login/".into(),
            login_redirect_url: "/".into(),
            logout_redirect_url: "/".into(),
            login_throttle_username_limit: 5,
            login_throttle_address_limit: 20,
            login_throttle_window: 900,
            login_throttle_cache_alias: "default".into(),
            trusted_proxies: vec![],
            csrf_cookie_secure: false,
            csrf_trusted_origins: vec![],
            x_frame_options: "DENY".into(),
            data_upload_max_memory_size: 2_621_440,
            data_upload_max_number_fields: 1000,
            data_upload_max_number_files: 100,
            use_x_forwarded_host: false,
            silenced_system_checks: vec![],
            serve_bind: "127.0.0.1:8000".into(),
            serve_socket_mode: "660".into(),
            serve_graceful_timeout: 30,
            serve_user: None,
            password_hashers: vec!["argon2".into(), "pbkdf2_sha256".into()],
            argon2_memory_cost: 19_456,
            argon2_time_cost: 2,
            argon2_parallelism: 1,
            pbkdf2_iterations: 1_000_000,
            auth_password_validators: crate::auth::PasswordValidator::NAMES
                .iter()
                .map(|name| name.to_string())
                .collect(),
            password_min_length: 8,
            password_reset_timeout: 259_200,
            password_reset_cooldown: 300,
            databases: BTreeMap::from([("default".to_string(), DatabaseSettings::default())]),
            caches: BTreeMap::from([("default".to_string(), CacheSettings::default())]),
            message_storage: MessageStorage::Session,
            base_dir: PathBuf::from("."),
            settings_file: None,
            sections: Sections::default(),
        }
    }
}

/// A static source folder from `staticfiles_dirs`, with its optional URL prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticDir {
    /// Files of this folder appear under `static_url` + `prefix/`.
    pub prefix: Option<String>,
    /// The folder, absolute after loading.
    pub path: PathBuf,
}

/// A folder where the server writes files no visitor may read: a SQLite
/// database's or the log file's (see [`Settings::data_folders`]).
pub(crate) struct DataFolder {
    pub folder: PathBuf,
    /// The setting that puts it there: `databases` or `log_file`.
    pub setting: &'static str,
    /// What it holds, as a message names it ("log_file").
    pub of: String,
}

impl Settings {
    /// The folder of each SQLite database, then of `log_file`: what the
    /// server writes and never serves.
    pub(crate) fn data_folders(&self) -> Vec<DataFolder> {
        let databases = self.databases.iter().filter_map(|(alias, database)| {
            Some(DataFolder {
                folder: crate::db::sqlite_file(&database.url)?
                    .parent()?
                    .to_path_buf(),
                setting: "databases",
                of: format!("the SQLite database of databases.{alias}.url"),
            })
        });
        let log = self
            .log_file
            .as_deref()
            .and_then(Path::parent)
            .map(|folder| DataFolder {
                folder: folder.to_path_buf(),
                setting: "log_file",
                of: "log_file".to_string(),
            });
        databases.chain(log).collect()
    }

    /// Load the settings file at `path` with this process's environment.
    ///
    /// See [`SettingsLoader`] for the layering rules.
    pub fn load(path: impl AsRef<Path>) -> Result<Settings, SettingsError> {
        SettingsLoader::new(path.as_ref()).load()
    }

    /// Defaults only, with relative paths resolved against `base_dir`.
    pub fn defaults_in(base_dir: &Path) -> Settings {
        let mut settings = Settings {
            base_dir: base_dir.to_path_buf(),
            ..Settings::default()
        };
        settings.resolve_paths();
        settings
    }

    /// Whether `collectstatic` gives compressible files `.gz` and `.br`
    /// siblings: `staticfiles_precompress` when set, else when `debug` is
    /// off. A development project (`debug = true`, as `startproject` makes
    /// it) serves its static files from the sources and needs none, so its
    /// collectstatic only copies, as Django's does; production settings
    /// (`debug = false`) get them without asking.
    pub fn precompresses_static_files(&self) -> bool {
        self.staticfiles_precompress.unwrap_or(!self.debug)
    }

    /// `staticfiles_dirs` parsed into prefix and folder.
    pub fn static_dirs(&self) -> Vec<StaticDir> {
        self.staticfiles_dirs
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((prefix, path)) => StaticDir {
                    prefix: Some(prefix.trim_matches('/').to_string()),
                    path: PathBuf::from(path),
                },
                None => StaticDir {
                    prefix: None,
                    path: PathBuf::from(entry),
                },
            })
            .collect()
    }

    /// The secret key, refusing a missing or blank one (whatever signs must
    /// not run with a key an attacker can guess), with an error that says
    /// how to set one.
    pub fn require_secret_key(&self) -> Result<&str, SettingsError> {
        match self.secret_key.as_deref() {
            Some(key) if !key.trim().is_empty() => Ok(key),
            Some(_) => Err(self.empty_secret_key()),
            None => Err(SettingsError::MissingSecretKey {
                path: self.settings_file.clone(),
            }),
        }
    }

    /// Why `secret_key` is blank: `NUAGES_SECRET_KEY` set to nothing, or
    /// the variable of the `${VAR}` the settings file reads it from; else
    /// (`secret_key = ""` written in a file) that it is not set.
    fn empty_secret_key(&self) -> SettingsError {
        let variable = "NUAGES_SECRET_KEY";
        if std::env::var_os(variable).is_some() {
            return SettingsError::EmptySecretKey {
                variable: variable.into(),
                read_by: None,
            };
        }
        let raw = self
            .settings_file
            .as_deref()
            .and_then(|file| crate::checks::raw::raw_setting(file, &["secret_key"]).ok()?);
        // The variables the written value reads that are set (an unset one
        // with an empty default, `${SECRET_KEY:-}`, is a key not set).
        let read = std::cell::RefCell::new(Vec::new());
        if let Some(toml::Value::String(text)) = raw.as_ref().map(|raw| &raw.value) {
            let _ = interpolate::interpolate(text, |name| {
                let value = std::env::var(name).ok();
                if value.is_some() {
                    read.borrow_mut().push(name.to_string());
                }
                value
            });
        }
        match (read.into_inner().pop(), raw) {
            (Some(variable), Some(raw)) => SettingsError::EmptySecretKey {
                variable,
                read_by: Some(raw.file),
            },
            _ => SettingsError::MissingSecretKey {
                path: self.settings_file.clone(),
            },
        }
    }

    /// Make every relative path absolute against `base_dir`.
    pub(crate) fn resolve_paths(&mut self) {
        let base = self.base_dir.clone();
        let absolute = |path: &Path| -> PathBuf {
            if path.is_absolute() {
                path.to_path_buf()
            } else {
                base.join(path)
            }
        };
        for dir in &mut self.template_dirs {
            *dir = absolute(dir);
        }
        if let Some(root) = &mut self.static_root {
            *root = absolute(root);
        }
        if let Some(root) = &mut self.media_root {
            *root = absolute(root);
        }
        if let Some(file) = &mut self.log_file {
            *file = absolute(file);
        }
        if let Some(folder) = &mut self.email_file_path {
            *folder = absolute(folder);
        }
        for entry in &mut self.staticfiles_dirs {
            *entry = match entry.split_once('=') {
                Some((prefix, path)) => {
                    format!("{prefix}={}", absolute(Path::new(path)).display())
                }
                None => absolute(Path::new(entry.as_str())).display().to_string(),
            };
        }
        for database in self.databases.values_mut() {
            database.url = resolve_sqlite_url(&database.url, &base);
        }
        for cache in self.caches.values_mut() {
            if let Some(file) = &mut cache.tls_ca_file {
                *file = absolute(file);
            }
        }
    }
}

/// `sqlite://db/x.sqlite3` → `sqlite:///<base>/db/x.sqlite3`; other URLs unchanged.
fn resolve_sqlite_url(url: &str, base: &Path) -> String {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return url.to_string();
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" || Path::new(path).is_absolute() {
        return url.to_string();
    }
    let mut resolved = format!("sqlite://{}", base.join(path).display());
    if let Some(query) = query {
        resolved.push('?');
        resolved.push_str(query);
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settings path that names a folder, or a file that is not UTF-8
    /// text, exists: the hint says what is wrong with it, not to pass an
    /// existing file.
    #[test]
    fn a_folder_or_a_file_not_in_utf8_gets_the_fix_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = Settings::load(dir.path()).unwrap_err();
        assert!(
            error.to_string().starts_with(&format!(
                "cannot read settings file {}: ",
                dir.path().display()
            )),
            "{error}"
        );
        assert_eq!(
            error.hint().unwrap(),
            format!(
                "name the settings file, not the folder that holds it (such as {}), with \
                 --settings FILE or the NUAGES_SETTINGS variable",
                dir.path().join("settings.toml").display()
            )
        );
        let latin1 = dir.path().join("settings.toml");
        std::fs::write(&latin1, b"# caf\xe9\ndebug = true\n").unwrap();
        let error = Settings::load(&latin1).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read settings file {}: stream did not contain valid UTF-8",
                latin1.display()
            )
        );
        assert_eq!(
            error.hint().unwrap(),
            "save it as UTF-8 text, the encoding of TOML files, or pass another file with \
             --settings FILE or the NUAGES_SETTINGS variable"
        );
    }

    #[test]
    fn defaults_match_the_design() {
        let s = Settings::default();
        assert!(!s.debug);
        assert_eq!(s.secret_key, None);
        assert_eq!(
            s.middleware,
            [
                "security", "session", "auth", "common", "csrf", "messages", "xframe"
            ]
        );
        assert_eq!(s.x_frame_options, "DENY");
        assert_eq!(s.session_cookie_age, 1_209_600);
        assert_eq!(s.data_upload_max_memory_size, 2_621_440);
        assert_eq!(s.databases["default"].url, "sqlite://db/db.sqlite3");
        assert_eq!(s.serve_bind, "127.0.0.1:8000");
    }

    #[test]
    fn sqlite_urls_resolve_against_base_dir() {
        let base = Path::new("/srv/site");
        assert_eq!(
            resolve_sqlite_url("sqlite://db/db.sqlite3", base),
            "sqlite:///srv/site/db/db.sqlite3"
        );
        assert_eq!(
            resolve_sqlite_url("sqlite:db.sqlite3?mode=rwc", base),
            "sqlite:///srv/site/db.sqlite3?mode=rwc"
        );
        assert_eq!(
            resolve_sqlite_url("sqlite:///var/db.sqlite3", base),
            "sqlite:///var/db.sqlite3"
        );
        assert_eq!(
            resolve_sqlite_url("sqlite::memory:", base),
            "sqlite::memory:"
        );
        assert_eq!(
            resolve_sqlite_url("postgres://u@db/x", base),
            "postgres://u@db/x"
        );
    }

    #[test]
    fn static_dirs_parse_prefixes() {
        let s = Settings {
            staticfiles_dirs: vec!["static".into(), "vendor=/opt/vendor".into()],
            ..Settings::default()
        };
        let dirs = s.static_dirs();
        assert_eq!(dirs[0].prefix, None);
        assert_eq!(dirs[1].prefix.as_deref(), Some("vendor"));
        assert_eq!(dirs[1].path, PathBuf::from("/opt/vendor"));
    }

    #[test]
    fn missing_secret_key_says_how_to_set_it() {
        let err = Settings::default().require_secret_key().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("secret_key"), "{text}");
        assert!(err.hint().unwrap().contains("SECRET_KEY"));
    }

    #[test]
    fn a_blank_secret_key_is_missing() {
        let mut settings = Settings::default();
        assert!(settings.require_secret_key().is_err());
        settings.secret_key = Some("  ".into());
        assert!(settings.require_secret_key().is_err());
        settings.secret_key = Some("k".into());
        assert_eq!(settings.require_secret_key().unwrap(), "k");
    }
}
