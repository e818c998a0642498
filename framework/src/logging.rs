//! Logging with `tracing`: one line per request, and the subscriber that
//! writes to stderr and, with `log_file`, appends to a file.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::conf::Settings;
use crate::error::{Error, Problem, Result};
use crate::middleware::Next;

/// Middleware: log `"GET /path HTTP/1.1" 200 1.2ms`, at warn for 4xx and
/// error for 5xx.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let version = request.version();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    match status {
        500.. => {
            tracing::error!(target: "nuages::request", "\"{method} {target} {version:?}\" {status} {elapsed:.1}ms")
        }
        400..=499 => {
            tracing::warn!(target: "nuages::request", "\"{method} {target} {version:?}\" {status} {elapsed:.1}ms")
        }
        _ => {
            tracing::info!(target: "nuages::request", "\"{method} {target} {version:?}\" {status} {elapsed:.1}ms")
        }
    }
    response
}

/// The level for `-v/--verbosity` (0 quiet … 3 everything), or the setting.
pub fn level_for(settings: &Settings, verbosity: Option<u8>) -> &'static str {
    match verbosity {
        Some(0) => "error",
        Some(2) => "debug",
        Some(3..) => "trace",
        _ => settings.log_level.as_str(),
    }
}

/// Install the process's subscriber: stderr, plus `log_file` when set (its
/// folder is created). Does nothing if one is already installed.
pub fn init(settings: &Settings, verbosity: Option<u8>) -> Result<()> {
    let level = level_for(settings, verbosity);
    let filter = || {
        EnvFilter::try_from_env("NUAGES_LOG").unwrap_or_else(|_| {
            EnvFilter::new(format!("{level},sqlx=warn,tower_http=warn,hyper=warn"))
        })
    };
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_filter_fmt(filter());
    let file_layer = match &settings.log_file {
        Some(path) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(Arc::new(open_log_file(path)?))
                .with_ansi(false)
                .with_filter_fmt(filter()),
        ),
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
    Ok(())
}

/// Open `path` for appending, creating its folder, or say why it cannot be.
pub fn open_log_file(path: &Path) -> Result<std::fs::File> {
    let fail = |what: &str, source: std::io::Error| {
        Error::Config(
            Problem::new(format!(
                "cannot {what} for the log_file setting {}: {source}",
                path.display()
            ))
            .with_hint(
                "make the folder writable by the user running the server, or change log_file",
            ),
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("create the folder", e))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| fail("open the file", e))
}

/// `.with_filter(EnvFilter)` under a name that reads well above.
trait WithFilterFmt<S>: tracing_subscriber::Layer<S> + Sized
where
    S: tracing::Subscriber,
{
    fn with_filter_fmt(
        self,
        filter: EnvFilter,
    ) -> tracing_subscriber::filter::Filtered<Self, EnvFilter, S> {
        tracing_subscriber::Layer::with_filter(self, filter)
    }
}

impl<S: tracing::Subscriber, L: tracing_subscriber::Layer<S>> WithFilterFmt<S> for L {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_file_folders_are_created_and_files_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/site.log");
        use std::io::Write;
        writeln!(open_log_file(&path).unwrap(), "one").unwrap();
        writeln!(open_log_file(&path).unwrap(), "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn an_unwritable_log_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let err = open_log_file(&blocker.join("site.log")).unwrap_err();
        assert!(err.to_string().contains("log_file"), "{err}");
        assert!(err.hint().is_some());
    }

    #[test]
    fn verbosity_overrides_the_level() {
        let settings = Settings::default();
        assert_eq!(level_for(&settings, None), "info");
        assert_eq!(level_for(&settings, Some(0)), "error");
        assert_eq!(level_for(&settings, Some(3)), "trace");
    }
}
