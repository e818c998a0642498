//! Which names `startproject` and `startapp` accept, and what to suggest
//! instead of one they refuse.

use crate::error::Problem;

/// Rust's keywords, strict, reserved and weak ones that cannot name a crate or module.
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "try",
    "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield",
];

/// Crates of the standard distribution.
const STD_CRATES: &[&str] = &["std", "core", "alloc", "proc_macro", "test"];

/// Names cargo refuses for a package with a binary: its build folders under
/// `target/debug/` (cargo's `restricted_names::is_conflicting_artifact_name`).
const CARGO_BUILD_FOLDERS: &[&str] = &["build", "deps", "examples", "incremental"];

/// Names Windows reserves for devices, whatever the extension; cargo refuses
/// them there, and a checkout with such a file or folder fails.
const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// Crates a generated project depends on, directly or through nuages.
const DEPENDENCIES: &[&str] = &[
    "nuages",
    "axum",
    "tokio",
    "serde",
    "serde_json",
    "tera",
    "sqlx",
    "http",
    "hyper",
    "tower",
    "tower_http",
    "config",
    "clap",
    "tracing",
    "thiserror",
    "anyhow",
    "bytes",
    "cookie",
    "rand",
    "regex",
    "toml",
];

/// Labels of the framework's own migrations, which an app cannot take
/// (`nuages.E049`).
const FRAMEWORK_LABELS: &[&str] = &["auth", "sessions"];

/// Module names a project already uses, which an app cannot take.
const PROJECT_MODULES: &[&str] = &["urls", "wsgi", "main", "lib", "tests", "installed_apps"];

/// The longest name accepted, in characters. Rust sets no limit, but the
/// name becomes file and folder names (at most 255 bytes, with extensions
/// and hashes added by cargo) and a package name, which crates.io caps at 64.
pub const MAX_NAME_LEN: usize = 64;

/// What is being named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// `startproject NAME`.
    Project,
    /// `startapp NAME`.
    App,
}

impl NameKind {
    fn word(self) -> &'static str {
        match self {
            NameKind::Project => "project",
            NameKind::App => "app",
        }
    }
}

/// A refused name: which rule failed, and a name that would pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{name}' is not a valid {kind} name: {rule}")]
pub struct NameError {
    /// The name given.
    pub name: String,
    /// "project" or "app".
    pub kind: &'static str,
    /// The rule it breaks.
    pub rule: String,
    /// A name that passes every rule.
    pub suggestion: String,
}

impl NameError {
    /// The refusal, with the suggestion as its hint (`try 'my_site'`).
    pub fn problem(&self) -> Problem {
        Problem::new(self.to_string()).with_hint(format!("try '{}'", self.suggestion))
    }
}

/// Check `name` for a project or an app.
///
/// ```
/// use nuages::management::names::{validate, NameKind};
/// assert!(validate("my_site", NameKind::Project).is_ok());
/// let err = validate("my-site", NameKind::Project).unwrap_err();
/// assert_eq!(err.suggestion, "my_site");
/// ```
pub fn validate(name: &str, kind: NameKind) -> Result<(), NameError> {
    check(name, kind).map_err(|rule| NameError {
        name: name.to_string(),
        kind: kind.word(),
        rule,
        suggestion: suggest(name, kind),
    })
}

/// The rule `name` breaks, if any.
fn check(name: &str, kind: NameKind) -> Result<(), String> {
    let refuse = |rule: String| rule;
    if name.is_empty() {
        return Err(refuse("it is empty".into()));
    }
    let length = name.chars().count();
    if length > MAX_NAME_LEN {
        return Err(refuse(format!(
            "it is {length} characters long; at most {MAX_NAME_LEN} are allowed, as on crates.io (the name becomes names of files and folders, which have limits)"
        )));
    }
    if name == "_" {
        return Err(refuse("'_' alone is not an identifier".into()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(refuse(format!(
            "it must be a Rust identifier and crate name (ASCII letters, digits and _), and '{bad}' is not allowed"
        )));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(refuse("it must not start with a digit".into()));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(refuse(
            "module and crate names are lowercase (snake_case)".into(),
        ));
    }
    if KEYWORDS.contains(&name) {
        return Err(refuse("it is a Rust keyword".into()));
    }
    if STD_CRATES.contains(&name) {
        return Err(refuse("it is the name of a standard crate".into()));
    }
    if kind == NameKind::Project && CARGO_BUILD_FOLDERS.contains(&name) {
        return Err(refuse(
            "cargo refuses it for a binary: it is the name of one of its build folders (build, deps, examples, incremental)"
                .into(),
        ));
    }
    if WINDOWS_RESERVED.contains(&name) {
        return Err(refuse(
            "it is a device name Windows reserves, so the project could not be checked out there"
                .into(),
        ));
    }
    if DEPENDENCIES.contains(&name) {
        return Err(refuse(
            "it is the name of a crate the project depends on".into(),
        ));
    }
    if kind == NameKind::App && PROJECT_MODULES.contains(&name) {
        return Err(refuse(
            "the project already has a module of that name".into(),
        ));
    }
    if kind == NameKind::App && FRAMEWORK_LABELS.contains(&name) {
        return Err(refuse(format!(
            "the framework's {name} migrations use that label"
        )));
    }
    Ok(())
}

/// A name close to `name` that passes every rule.
pub(crate) fn suggest(name: &str, kind: NameKind) -> String {
    let mut cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    while cleaned.contains("__") {
        cleaned = cleaned.replace("__", "_");
    }
    cleaned = shortened(&cleaned, MAX_NAME_LEN);
    let fallback = match kind {
        NameKind::Project => "my_site",
        NameKind::App => "my_app",
    };
    if cleaned.is_empty() {
        return fallback.to_string();
    }
    // Each prefix or suffix shortens the name first, to stay within the limit.
    if cleaned.starts_with(|c: char| c.is_ascii_digit()) {
        let prefix = format!("{}_", kind.word());
        cleaned = prefix.clone() + &shortened(&cleaned, MAX_NAME_LEN - prefix.len());
    }
    if check(&cleaned, kind).is_err() {
        cleaned = match kind {
            NameKind::Project => format!("my_{}", shortened(&cleaned, MAX_NAME_LEN - 3)),
            NameKind::App => format!("{}_app", shortened(&cleaned, MAX_NAME_LEN - 4)),
        };
    }
    if check(&cleaned, kind).is_err() {
        return fallback.to_string();
    }
    cleaned
}

/// `name` (ASCII) cut to at most `max` characters, without `_` at either end.
fn shortened(name: &str, max: usize) -> String {
    name[..name.len().min(max)].trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for name in ["mysite", "my_site", "site2", "_private", "polls"] {
            assert!(validate(name, NameKind::Project).is_ok(), "{name}");
        }
        // An app is a module, not a binary: cargo's folder names are fine.
        assert!(validate("build", NameKind::App).is_ok());
    }

    #[test]
    fn each_rule_refuses_with_a_passing_suggestion() {
        for (name, kind, rule, suggestion) in [
            ("my-site", NameKind::Project, "identifier", "my_site"),
            ("1abc", NameKind::Project, "digit", "project_1abc"),
            ("fn", NameKind::Project, "keyword", "my_fn"),
            ("Self", NameKind::Project, "lowercase", "my_self"),
            ("self", NameKind::Project, "keyword", "my_self"),
            ("async", NameKind::Project, "keyword", "my_async"),
            ("std", NameKind::Project, "standard crate", "my_std"),
            (
                "proc_macro",
                NameKind::Project,
                "standard crate",
                "my_proc_macro",
            ),
            ("nuages", NameKind::Project, "depends on", "my_nuages"),
            ("tokio", NameKind::Project, "depends on", "my_tokio"),
            ("MySite", NameKind::Project, "lowercase", "mysite"),
            ("", NameKind::Project, "empty", "my_site"),
            ("urls", NameKind::App, "already has a module", "urls_app"),
            ("build", NameKind::Project, "build folders", "my_build"),
            ("deps", NameKind::Project, "build folders", "my_deps"),
            (
                "examples",
                NameKind::Project,
                "build folders",
                "my_examples",
            ),
            (
                "incremental",
                NameKind::Project,
                "build folders",
                "my_incremental",
            ),
            ("con", NameKind::Project, "Windows reserves", "my_con"),
            ("lpt1", NameKind::Project, "Windows reserves", "my_lpt1"),
            ("nul", NameKind::App, "Windows reserves", "nul_app"),
            ("my app", NameKind::App, "identifier", "my_app"),
        ] {
            let err = validate(name, kind).unwrap_err();
            assert!(err.rule.contains(rule), "{name}: {}", err.rule);
            assert_eq!(err.suggestion, suggestion, "{name}");
            assert!(validate(&err.suggestion, kind).is_ok(), "{name}");
        }
    }

    #[test]
    fn long_names_are_refused_with_a_suggestion_within_the_limit() {
        let longest = "a".repeat(MAX_NAME_LEN);
        assert!(validate(&longest, NameKind::Project).is_ok());
        for (name, kind, suggestion) in [
            ("a".repeat(300), NameKind::Project, longest.clone()),
            ("a".repeat(65), NameKind::App, longest.clone()),
            // Cut where a `_` would end the name: it is dropped.
            (
                format!("{}_bc", "a".repeat(63)),
                NameKind::Project,
                "a".repeat(63),
            ),
            (
                "1".repeat(300),
                NameKind::Project,
                format!("project_{}", "1".repeat(56)),
            ),
            (
                format!("urls{}", "-".repeat(300)),
                NameKind::App,
                "urls_app".into(),
            ),
            (
                format!("my-{}", "x".repeat(70)),
                NameKind::App,
                format!("my_{}", "x".repeat(61)),
            ),
        ] {
            let err = validate(&name, kind).unwrap_err();
            assert_eq!(err.suggestion, suggestion, "{name}");
            assert!(validate(&err.suggestion, kind).is_ok(), "{name}");
        }
        let err = validate(&"a".repeat(300), NameKind::App).unwrap_err();
        assert_eq!(
            err.rule,
            "it is 300 characters long; at most 64 are allowed, as on crates.io (the name becomes names of files and folders, which have limits)"
        );
    }
}
