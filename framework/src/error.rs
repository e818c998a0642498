//! The framework's error type: what views return and what building an
//! application can fail with; and [`Problem`], the one shape of "what is
//! wrong, and how to fix it" that errors, commands, checks and the CLI share.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

use crate::conf::SettingsError;
use crate::templates::TemplateError;
use crate::urls::ReverseError;

/// What is wrong, and how to fix it: the message and hint of a
/// configuration error, a failed command, a check's finding and the `manage`
/// command line. Shown as its message; [`Problem::report`] gives the
/// `error: …` / `  hint: …` lines a command prints.
///
/// ```
/// let problem = nuages::Problem::new("static_root is not set")
///     .with_hint("set static_root in the settings file");
/// assert_eq!(problem.to_string(), "static_root is not set");
/// assert_eq!(
///     problem.report(),
///     "error: static_root is not set\n  hint: set static_root in the settings file"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Problem {
    /// A problem without a hint.
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            hint: None,
        }
    }

    /// `message`, with `hint` when there is one: what the constructors of
    /// commands' and checks' messages take.
    pub(crate) fn maybe_hinted(message: impl Into<String>, hint: Option<&str>) -> Self {
        Problem {
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// The same problem with `hint` as the way to fix it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `MESSAGE (hint: HINT)`, or the message alone when there is no hint:
    /// what a log line says of it.
    pub(crate) fn in_one_line(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{} (hint: {hint})", self.message),
            None => self.message.clone(),
        }
    }

    /// `error: MESSAGE`, and `  hint: HINT` on a second line when there is
    /// one: what commands print on stderr.
    pub fn report(&self) -> String {
        match &self.hint {
            Some(hint) => format!("error: {}\n  hint: {hint}", self.message),
            None => format!("error: {}", self.message),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

/// Shorthand for results whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Anything that can go wrong in Nuages or in a view.
///
/// As a response it becomes the error page of its status: 404 for
/// [`Error::NotFound`], 400, 403, and 500 for the rest; the detail is shown only
/// with `debug = true`.
///
/// ```
/// async fn detail() -> nuages::Result<String> {
///     Err(nuages::Error::NotFound("no question 7".into()))
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The settings cannot be loaded or used.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The project is misconfigured (routes, middleware, apps): what is
    /// wrong, and how to fix it.
    #[error("{0}")]
    Config(Problem),
    /// A template failed to load or render.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A URL name could not be reversed.
    #[error(transparent)]
    Reverse(#[from] ReverseError),
    /// A database operation failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A file operation failed.
    #[error("I/O error")]
    Io(#[from] std::io::Error),
    /// A mail was not sent.
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    /// 404: what was looked for (shown in debug only).
    #[error("Not Found: {0}")]
    NotFound(String),
    /// 400: what is wrong with the request (shown in debug only).
    #[error("Bad Request: {0}")]
    BadRequest(String),
    /// 413: what was too large (shown in debug only).
    #[error("Payload Too Large: {0}")]
    PayloadTooLarge(String),
    /// 403: why it is refused (shown in debug only).
    #[error("Forbidden: {0}")]
    Forbidden(String),
    /// 429: what is refused for now (shown in debug only); the failed-login
    /// throttle answers with it.
    #[error("Too Many Requests: {0}")]
    TooManyRequests(String),
    /// Any other error, with its causes.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Wrap any error.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Other(error.into())
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// How to fix it, where there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Settings(e) => e.hint(),
            Error::Config(problem) => problem.hint.clone(),
            Error::Mail(error) => error.problem().hint.clone(),
            Error::Template(e) => e.hint(),
            Error::Database(e) => database_hint(e),
            // A database error inside another (a migration's).
            Error::Other(e) => causes(&**e)
                .find_map(|cause| cause.downcast_ref::<sqlx::Error>())
                .and_then(database_hint),
            _ => None,
        }
    }

    /// The messages of this error and each of its causes, outermost first.
    /// A cause the message before it already ends with (`cannot read x: No
    /// such file or directory`) is not repeated, and a PostgreSQL error
    /// loses the " at line N" (of PostgreSQL's own source) sqlx ends it with.
    pub fn chain(&self) -> Vec<String> {
        let source_line = postgres_source_line(self);
        let mut messages: Vec<String> = Vec::new();
        for cause in causes(self) {
            let mut text = cause.to_string();
            if let Some(shorter) = source_line
                .as_deref()
                .and_then(|source_line| text.strip_suffix(source_line))
            {
                text = shorter.to_string();
            }
            if !messages.last().is_some_and(|last| last.ends_with(&text)) {
                messages.push(text);
            }
        }
        messages
    }

    /// The error as a [`Problem`]: its [`chain`](Error::chain) joined by
    /// `: `, and its [`hint`](Error::hint).
    pub fn problem(&self) -> Problem {
        Problem {
            message: self.chain().join(": "),
            hint: self.hint(),
        }
    }
}

/// `error` and its causes, outermost first.
fn causes<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'e (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |error| error.source())
}

/// What sqlx adds to a PostgreSQL error's text among `error`'s causes,
/// " at line N": a line of PostgreSQL's own source code, not of a query.
fn postgres_source_line(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    causes(error)
        .find_map(|cause| match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(database)) => {
                database.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            }
            _ => None,
        })
        .and_then(|postgres| postgres.line())
        .map(|line| format!(" at line {line}"))
}

/// A database error's text, without the " at line N" of PostgreSQL's
/// source that sqlx adds.
pub(crate) fn database_text(error: &sqlx::Error) -> String {
    let text = error.to_string();
    match postgres_source_line(error) {
        Some(source_line) => text
            .strip_suffix(source_line.as_str())
            .map_or(text.clone(), str::to_string),
        None => text,
    }
}

/// The fix for a database error that says a table is missing (SQLite's
/// `no such table`, PostgreSQL's `relation … does not exist`): the
/// migrations not applied yet; and for a pool that timed out, a SQLite
/// database locked or read-only, a PostgreSQL user without a privilege.
/// A `sqlx::Error` does not tell its pool: these say
/// [`crate::db::ALIAS_PLACEHOLDER`], which the error page and the command
/// line replace by the database's key ([`crate::db::name_the_database`]).
fn database_hint(error: &sqlx::Error) -> Option<String> {
    if let sqlx::Error::PoolTimedOut = error {
        return Some(
            "no database connection came free or could be opened in time: check that the \
             database server of databases.<alias>.url runs and this machine reaches it (`manage \
             showmigrations` names what is wrong), or raise databases.<alias>.max_connections if \
             every connection is busy"
                .to_string(),
        );
    }
    match crate::db::sqlite_code(error) {
        Some(8) => return Some(crate::db::READ_ONLY_HINT.to_string()),
        Some(5 | 6) => return Some(crate::db::locked_hint("<alias>")),
        _ => {}
    }
    let sqlx::Error::Database(database) = error else {
        return None;
    };
    if database.code().as_deref() == Some("42501") {
        // PostgreSQL's insufficient_privilege.
        return Some(
            "the database user of databases.<alias>.url may not do this: connect as the user \
             that owns the database and its tables (the one `manage migrate` ran as), or grant \
             this user what it lacks (GRANT USAGE, CREATE ON SCHEMA public TO …; GRANT ALL ON \
             ALL TABLES IN SCHEMA public TO …)"
                .to_string(),
        );
    }
    let message = database.message();
    let missing_table = message.contains("no such table")
        || (message.starts_with("relation ") && message.ends_with("does not exist"));
    missing_table.then(|| {
        "apply the migrations: manage migrate (manage showmigrations lists them)".to_string()
    })
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Error::Config(problem)
    }
}

/// What an error response carries for the error page to show (in debug) and
/// the log to record. Attached to the response's extensions.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    /// The error and its causes, outermost first.
    pub chain: Vec<String>,
    /// How to fix it, shown in debug.
    pub hint: Option<String>,
}

impl ErrorReport {
    /// An error response of `status` carrying `report`, with the production
    /// text as body until the error page middleware renders it.
    pub fn response(status: StatusCode, report: ErrorReport) -> Response {
        let mut response = (status, crate::views::errors::plain_message(status)).into_response();
        response.extensions_mut().insert(report);
        response
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        ErrorReport::response(
            self.status(),
            ErrorReport {
                chain: self.chain(),
                hint: self.hint(),
            },
        )
    }
}

/// `text` to be shown in a message or a log line, its control characters
/// (a line break, an escape) and its invisible formatting ones (a line or
/// paragraph separator, a right-to-left override) written as escapes
/// (`\n`, `\u{1b}`, `\u{202e}`), so that what a client or a settings file
/// holds cannot end the line, drive a terminal or show other text than it
/// holds; the rest, quotes included, as it is.
pub(crate) fn without_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return text.into();
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match is_hidden(c) {
            true => shown.extend(c.escape_default()),
            false => shown.push(c),
        }
    }
    shown.into()
}

/// `text` between single quotes, as Python's `repr` (Django's `%r`) shows a
/// value a client sent: its quotes and backslashes escaped too, so that the
/// value cannot close its quotes and write what follows them.
pub(crate) fn quoted(text: &str) -> String {
    let mut shown = String::with_capacity(text.len() + 2);
    shown.push('\'');
    for c in text.chars() {
        match c {
            '\'' | '\\' => shown.extend(['\\', c]),
            c if is_hidden(c) => shown.extend(c.escape_default()),
            c => shown.push(c),
        }
    }
    shown.push('\'');
    shown
}

/// A control character, or a format or separator one that shows nothing
/// or changes how the text around it shows (Unicode's Cc, Zl, Zp, and the
/// Cf characters of bidirectional text and zero width).
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_shown_escaped_and_quotes_as_they_are() {
        assert_eq!(
            without_controls("\"Ann\" <o'brien@example.com>"),
            "\"Ann\" <o'brien@example.com>"
        );
        assert_eq!(
            without_controls("x\nBcc: y\r\u{1b}[2J"),
            "x\\nBcc: y\\r\\u{1b}[2J"
        );
        // A line separator and a right-to-left override, which would show
        // `1.0.0.721` as `127.0.0.1`.
        assert_eq!(
            without_controls("a\u{2028}\u{202e}1.0.0.721"),
            "a\\u{2028}\\u{202e}1.0.0.721"
        );
        assert_eq!(without_controls("café ünï"), "café ünï");
    }

    /// A log line says the hint only when there is one: no empty
    /// "(hint: )".
    #[test]
    fn a_problem_in_one_line_has_a_hint_only_when_there_is_one() {
        assert_eq!(Problem::new("down").in_one_line(), "down");
        assert_eq!(
            Problem::new("down").with_hint("start it").in_one_line(),
            "down (hint: start it)"
        );
    }

    #[test]
    fn a_quoted_value_cannot_close_its_quotes() {
        assert_eq!(quoted("example.com"), "'example.com'");
        assert_eq!(
            quoted("a' status=200 x='\\\u{202e}"),
            "'a\\' status=200 x=\\'\\\\\\u{202e}'"
        );
    }

    use super::*;

    /// A query of a table the migrations have not made yet says to apply them.
    #[tokio::test]
    async fn a_missing_table_names_the_migrations() {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect("sqlite::memory:").await.unwrap();
        let missing = sqlx::query("SELECT id FROM auth_user")
            .execute(&pool)
            .await
            .unwrap_err();
        let hint = Error::from(missing).hint().unwrap_or_default();
        assert!(hint.contains("manage migrate"), "{hint}");
        let other = sqlx::query("SELEC 1").execute(&pool).await.unwrap_err();
        assert_eq!(Error::from(other).hint(), None);
    }

    #[test]
    fn an_os_error_is_told_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let error = Error::from(crate::conf::Settings::load(&missing).unwrap_err());
        let chain = error.chain().join(": ");
        assert_eq!(
            chain.matches("No such file or directory").count(),
            1,
            "{chain}"
        );
        assert!(chain.contains("missing.toml"), "{chain}");
        let command = crate::management::CommandError::from(error);
        assert_eq!(
            command.to_string().matches("os error 2").count(),
            1,
            "{command}"
        );
    }
}
