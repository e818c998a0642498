//! Logging with `tracing`: one line per request, and the subscriber that
//! writes to stderr and, with `log_file`, appends to a file.
//!
//! The request line is an event like any other under a project's own
//! subscriber (target `nuages::request`). The subscriber [`init`] installs
//! writes it with [`RequestLines`], which format just that line, in the
//! format of the general-purpose formatter (`2026-01-31T12:00:00.123456Z
//!  INFO "GET / HTTP/1.1" 200 1.2ms`), into a reused buffer; a request
//! finds them in that subscriber and hands them its line directly, without
//! the event, which nothing else there would write.
//!
//! How the lines reach the file or the terminal: on the runtime of the
//! management commands (`serve`, `runserver`), each worker thread gathers
//! its request lines and writes them with one `write` when it has nothing
//! left to do (tokio's park hook, which also runs when the runtime stops),
//! before any other event it logs, and whenever 4 KiB are waiting. A quiet
//! server writes each line as its response goes out; a busy one writes a
//! few dozen at a time instead of paying a system call per request. So
//! nothing is lost on a clean shutdown (`SIGTERM`, Ctrl-C) or when a view
//! panics; a crash of the process (`SIGKILL`, an abort) loses the lines of
//! requests answered in its last moments, at most 4 KiB per worker. On any
//! other thread (an application served by another runtime, a test client)
//! each line is written as soon as it is made, as the general-purpose
//! formatter writes its events. A write is always whole lines, at most
//! 4 KiB, which the system never interleaves with another writer's.

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::conf::{LogLevel, Settings};
use crate::error::{Error, Problem, Result};

/// A request line begun, logged as `"GET /path HTTP/1.1" 200 1.2ms` at
/// info, at warn for 4xx and error for 5xx.
pub(crate) struct RequestLine {
    started: Instant,
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    written: bool,
}

/// The status a request's line shows when its client closed the connection
/// before the response (nginx's 499): the request was read, maybe acted
/// on, and is in the log all the same.
const CLIENT_CLOSED_REQUEST: u16 = 499;

impl RequestLine {
    /// Begin the line of `request` (its target is read when the line is written).
    pub(crate) fn start(request: &Request) -> RequestLine {
        RequestLine {
            started: Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            written: false,
        }
    }

    /// The request's method.
    pub(crate) fn method(&self) -> &http::Method {
        &self.method
    }

    /// The request's URI.
    pub(crate) fn uri(&self) -> &http::Uri {
        &self.uri
    }

    /// Log the line for a response with `status`.
    pub(crate) fn finish(mut self, status: http::StatusCode) {
        self.write(status);
    }

    fn write(&mut self, status: http::StatusCode) {
        self.written = true;
        let target = shown_target(&self.uri);
        let line = AccessMessage {
            method: &self.method,
            target: &target,
            version: self.version,
            status,
            elapsed: self.started.elapsed(),
        };
        let level = match status.as_u16() {
            500.. => Level::ERROR,
            // The client went away: nothing wrong on this side.
            CLIENT_CLOSED_REQUEST => Level::INFO,
            400..=499 => Level::WARN,
            _ => Level::INFO,
        };
        // Under the subscriber `init` installs, the event would reach only
        // its request-line writers: they get the line at once. (Not from
        // inside `get_default`: an event made there would find no subscriber.)
        let written = tracing::dispatcher::get_default(|dispatch| {
            let lines = dispatch.downcast_ref::<RequestLines>()?;
            if level <= lines.max_level {
                lines.write(level, |text| line.push_to(text));
            }
            Some(())
        });
        if written.is_none() && level <= tracing::level_filters::LevelFilter::current() {
            let mut message = String::new();
            line.push_to(&mut message);
            match level {
                Level::ERROR => {
                    tracing::error!(name: ACCESS_EVENT, target: ACCESS_TARGET, "{message}")
                }
                Level::WARN => {
                    tracing::warn!(name: ACCESS_EVENT, target: ACCESS_TARGET, "{message}")
                }
                _ => tracing::info!(name: ACCESS_EVENT, target: ACCESS_TARGET, "{message}"),
            }
        }
    }
}

impl Drop for RequestLine {
    /// A request whose response never came (the server dropped it when the
    /// client closed the connection) is logged as 499.
    fn drop(&mut self) {
        if !self.written
            && let Ok(status) = http::StatusCode::from_u16(CLIENT_CLOSED_REQUEST)
        {
            self.write(status);
        }
    }
}

/// What the request line percent-encodes in a target, besides every byte
/// that is not ASCII: HTTP parsers let `"` and UTF-8 through, and written
/// as they came a `"` would end the line's quoted request early, and a
/// U+0085 or U+2028 (line ends to some readers), a U+009B (a terminal's
/// escape) or a U+202E (reversed text) would change what the log shows.
const NOT_SHOWN_AS_IS: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'"');

/// The request's target as its line shows it: an absolute target without
/// a path (`http://host?q=1`) shows the path `/` (`/?q=1`), a target in
/// authority form (`CONNECT host:443`, refused) the authority as sent; a
/// `"` and what is not printable ASCII are percent-encoded, as the URL
/// they stand for.
fn shown_target(uri: &http::Uri) -> std::borrow::Cow<'_, str> {
    let target = match (uri.path_and_query(), uri.scheme(), uri.authority()) {
        (Some(path_and_query), _, _) => path_and_query.as_str(),
        (None, None, Some(authority)) => authority.as_str(),
        (None, _, _) => "/",
    };
    // Nearly every target is printable ASCII without a `"`: shown as sent,
    // without the encoder's byte-by-byte lookups.
    let shown = match target.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        true => std::borrow::Cow::Borrowed(target),
        false => percent_encoding::utf8_percent_encode(target, NOT_SHOWN_AS_IS).into(),
    };
    match (target.starts_with('?'), shown) {
        (true, shown) => format!("/{shown}").into(),
        (false, shown) => shown,
    }
}

/// The message of a request line, `"GET /path HTTP/1.1" 200 1.2ms`,
/// written piece by piece: the general formatting of a float and of the
/// version's `Debug` cost more than the rest of the line.
struct AccessMessage<'a> {
    method: &'a http::Method,
    target: &'a str,
    version: http::Version,
    status: http::StatusCode,
    elapsed: std::time::Duration,
}

impl AccessMessage<'_> {
    /// Append the message to `text`.
    fn push_to(&self, text: &mut String) {
        let version = match self.version {
            http::Version::HTTP_09 => "HTTP/0.9",
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_11 => "HTTP/1.1",
            http::Version::HTTP_2 => "HTTP/2.0",
            http::Version::HTTP_3 => "HTTP/3.0",
            _ => "HTTP/?",
        };
        // Milliseconds with one decimal, rounded half up, in 64 bits (a
        // 128-bit division of `as_nanos` costs more than the rest).
        let tenths = (self.elapsed.as_secs().saturating_mul(10_000))
            .saturating_add(u64::from(self.elapsed.subsec_nanos() + 50_000) / 100_000);
        text.push('"');
        text.push_str(self.method.as_str());
        text.push(' ');
        text.push_str(self.target);
        text.push(' ');
        text.push_str(version);
        text.push_str("\" ");
        text.push_str(self.status.as_str());
        text.push(' ');
        push_number(text, tenths / 10, 1);
        text.push('.');
        text.push(char::from(b'0' + (tenths % 10) as u8));
        text.push_str("ms");
    }
}

/// Append `n` in decimal, with leading zeros up to `width` digits, without
/// the general formatter.
fn push_number(text: &mut String, n: u64, width: usize) {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    for _ in digits.len()..width {
        text.push('0');
    }
    text.push_str(digits);
}

/// Appends the time as the general-purpose formatter writes it
/// (`2026-01-31T12:00:00.123456Z`, UTC). The part up to the seconds is
/// formatted once a second per thread.
fn push_timestamp(line: &mut String, now: std::time::SystemTime) {
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let Ok(since_epoch) = now.duration_since(std::time::UNIX_EPOCH) else {
        line.push_str("<unknown time>");
        return;
    };
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != seconds {
            *text = match i64::try_from(seconds)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
            {
                Some(time) => time.format("%Y-%m-%dT%H:%M:%S").to_string(),
                None => "<unknown time>".to_string(),
            };
            *cached = seconds;
        }
        line.push_str(text);
    });
    line.push('.');
    push_number(line, u64::from(since_epoch.subsec_micros()), 6);
    line.push('Z');
}

/// The level for `-v/--verbosity` (0 quiet … 3 everything), or the setting.
pub fn level_for(settings: &Settings, verbosity: Option<u8>) -> Level {
    match verbosity {
        Some(0) => Level::ERROR,
        Some(2) => Level::DEBUG,
        Some(3..) => Level::TRACE,
        _ => match settings.log_level {
            LogLevel::Trace => Level::TRACE,
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Info => Level::INFO,
            LogLevel::Warn => Level::WARN,
            LogLevel::Error => Level::ERROR,
        },
    }
}

/// Install the process's subscriber: stderr, plus `log_file` when set (its
/// folder is created), which it returns, for a server to reopen after log
/// rotation. Does nothing if one is already installed (and returns `None`).
pub fn init(settings: &Settings, verbosity: Option<u8>) -> Result<Option<LogFile>> {
    let level = level_for(settings, verbosity);
    // The general-purpose formatter writes every event but the request
    // lines, which `RequestLines` writes in the same format. One filter for
    // all the layers, so that every layer wants what the filter lets
    // through and tracing decides once per call site, not per event.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = WithoutRequestLines(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(ansi)
            .with_target(false),
    );
    let mut request_lines = RequestLines {
        writers: vec![AccessLine {
            destination: Destination::stderr(),
            ansi,
            with_target: false,
        }],
        max_level: level,
    };
    let mut log_file = None;
    let file_layer = match &settings.log_file {
        Some(path) => {
            let file = Arc::new(open_log_file(path)?);
            log_file = Some(LogFile {
                path: path.clone(),
                file: file.clone(),
            });
            let layer = WithoutRequestLines(
                tracing_subscriber::fmt::layer()
                    .with_writer(file.clone())
                    .with_ansi(false),
            );
            request_lines.writers.push(AccessLine {
                destination: Destination::File(file),
                ansi: false,
                with_target: true,
            });
            Some(layer)
        }
        None => None,
    };
    // A fixed list of targets, not an `EnvFilter`: that one compiles
    // regular expressions to parse its directives, code and memory that
    // every process would keep for a filter known in advance. (No
    // environment variable of its own: a `NUAGES_*` variable that names no
    // setting is refused by the settings' loader.)
    let filter = Targets::new()
        .with_default(level)
        .with_targets(["sqlx", "tower_http", "hyper"].map(|target| (target, Level::WARN)));
    // The request-line layers inside the formatters: each sees an event
    // first, and writes its waiting lines before the formatter writes it.
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(request_lines)
        .with(stderr)
        .with(file_layer)
        .try_init();
    Ok(log_file.filter(|_| installed.is_ok()))
}

/// The `log_file` the subscriber of [`init`] writes to.
#[derive(Debug, Clone)]
pub struct LogFile {
    path: std::path::PathBuf,
    file: Arc<std::fs::File>,
}

impl LogFile {
    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the file again at its path, after logrotate (or a hand) moved
    /// it away, and write there from now on. The new file takes the place
    /// of the old one under the same descriptor (`dup2`), so every writer
    /// holding it goes on into the new file, without a lock on the way of
    /// each line. `serve` calls it on SIGUSR1, as gunicorn and nginx reopen
    /// their logs.
    pub fn reopen(&self) -> Result<()> {
        use std::os::fd::AsRawFd;
        let (path, file) = (&self.path, &self.file);
        // This thread's waiting lines belong to the old file.
        flush_batches();
        let reopened = open_log_file(path)?;
        // SAFETY: both descriptors are open files of this process; `dup2`
        // replaces what `file`'s descriptor refers to, atomically.
        if unsafe { libc::dup2(reopened.as_raw_fd(), file.as_raw_fd()) } < 0 {
            let error = std::io::Error::last_os_error();
            return Err(Error::Config(
                Problem::new(format!(
                    "cannot reopen the log_file {}: {error}",
                    path.display()
                ))
                .with_hint(
                    "make the folder writable by the user running the server, or change log_file",
                ),
            ));
        }
        Ok(())
    }
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
    // A new log is not readable by other users: its request lines hold
    // the paths of password-reset links (check --deploy: nuages.W043).
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| fail("open the file", e))
}

/// A layer that sees every event but the request lines: the
/// general-purpose formatter, beside [`RequestLines`]. (A per-layer filter
/// would do the same, but makes tracing ask every filter about every
/// event, since the layers then want different events.)
struct WithoutRequestLines<L>(L);

impl<S: Subscriber, L: tracing_subscriber::Layer<S>> tracing_subscriber::Layer<S>
    for WithoutRequestLines<L>
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }
    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.0.register_callsite(metadata)
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.0.enabled(metadata, ctx)
    }
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }
    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        self.0.on_record(span, values, ctx);
    }
    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_follows_from(span, follows, ctx);
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().name() != ACCESS_EVENT {
            self.0.on_event(event, ctx);
        }
    }
    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }
    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }
    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_close(id, ctx);
    }
    fn on_id_change(&self, old: &tracing::span::Id, new: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_id_change(old, new, ctx);
    }
}

/// The name of the request-line events, which [`RequestLines`] writes.
const ACCESS_EVENT: &str = "nuages.access";

/// The target of the request-line events.
const ACCESS_TARGET: &str = "nuages::request";

/// The size up to which a `write` to a pipe is never split (POSIX's minimum
/// `PIPE_BUF`, Linux's value).
const PIPE_BUF: usize = 4096;

/// Where an [`AccessLine`] writes.
enum Destination {
    /// Through the standard library's stderr (and its lock).
    Stderr,
    /// Stderr through a descriptor of its own: no lock that the workers
    /// would queue on (and sleep and wake each other for) once per
    /// request; each line is still one `write`, which the system keeps whole.
    StderrFile(Arc<std::fs::File>),
    File(Arc<std::fs::File>),
}

impl Destination {
    /// Stderr, on a duplicate of its descriptor when one can be had.
    fn stderr() -> Destination {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
                return Destination::StderrFile(Arc::new(std::fs::File::from(fd)));
            }
        }
        Destination::Stderr
    }
}

/// The request-line writers of the subscriber [`init`] installs (stderr,
/// and the log file when set) and the most verbose level its filter lets
/// through. A layer, for request-line events made elsewhere; and what
/// [`RequestLine::finish`] writes to directly when it finds it in the
/// current subscriber, where the event would reach nothing else (the
/// formatters skip it) and its dispatch would cost more than the line.
struct RequestLines {
    writers: Vec<AccessLine>,
    max_level: Level,
}

impl RequestLines {
    /// Write a request line at `level` with the message `message` appends,
    /// straight into each writer's line (a level the filter lets through:
    /// the caller looks at `max_level` first, so as not to make the message
    /// of a line not written).
    fn write(&self, level: Level, message: impl Fn(&mut String)) {
        for writer in &self.writers {
            writer.write(level, ACCESS_TARGET, &message);
        }
    }
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for RequestLines {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if meta.name() != ACCESS_EVENT {
            // Another event, about to be written by the general-purpose
            // formatter (a layer outside this one): the request lines
            // before it go first.
            for file in self.writers.iter().filter_map(|w| w.destination.file()) {
                let _ = BATCHES.try_with(|batches| batches.borrow_mut().flush(Some(file)));
            }
            return;
        }
        for writer in &self.writers {
            writer.write(*meta.level(), meta.target(), |line| {
                event.record(&mut Message(line))
            });
        }
    }
}

/// What writes the request lines to one destination: what the
/// general-purpose formatter would write for them (timestamp, level, the
/// target when `with_target`, the message), without its general machinery.
struct AccessLine {
    destination: Destination,
    ansi: bool,
    with_target: bool,
}

thread_local! {
    /// The line being written, reused from request to request.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl AccessLine {
    /// Write the line of a request-line event at `level` from `target`,
    /// whose message `message` appends.
    fn write(&self, level: Level, target: &str, message: impl FnOnce(&mut String)) {
        LINE.with_borrow_mut(|line| {
            line.clear();
            self.format(line, level, target, message);
            self.destination.write_line(line.as_bytes());
        });
    }
}

impl Destination {
    /// Write one request line: into this thread's batch when it keeps one,
    /// else at once, with one `write` (a line is never split).
    fn write_line(&self, line: &[u8]) {
        let file = match self {
            // A pipe keeps a write of up to 4 KiB whole; a longer line
            // (a long URL) takes the lock the other stderr writers take.
            Destination::StderrFile(file) | Destination::File(file) if line.len() <= PIPE_BUF => {
                file
            }
            Destination::File(file) => {
                write_out(file, line);
                return;
            }
            Destination::Stderr | Destination::StderrFile(_) => {
                flush_batches();
                let _ = std::io::stderr().lock().write_all(line);
                return;
            }
        };
        let batched = BATCHES
            .try_with(|batches| batches.borrow_mut().add(file, line))
            .unwrap_or(false);
        if !batched {
            write_out(file, line);
        }
    }

    /// The file this destination writes to, when it has one of its own.
    fn file(&self) -> Option<&Arc<std::fs::File>> {
        match self {
            Destination::StderrFile(file) | Destination::File(file) => Some(file),
            Destination::Stderr => None,
        }
    }
}

fn write_out(file: &std::fs::File, bytes: &[u8]) {
    let _ = (&*file).write_all(bytes);
}

/// A thread's request lines not yet written, one batch per destination.
#[derive(Default)]
struct Batches {
    /// Set on the first call of [`flush_request_lines`]: this thread is a
    /// worker that calls it whenever it goes idle.
    enabled: bool,
    pending: Vec<(Arc<std::fs::File>, Vec<u8>)>,
}

impl Batches {
    /// Add `line` to the batch for `file`, writing the batch first when the
    /// line would take it past 4 KiB; `false` when this thread keeps none.
    fn add(&mut self, file: &Arc<std::fs::File>, line: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        let index = match self.pending.iter().position(|(f, _)| Arc::ptr_eq(f, file)) {
            Some(index) => index,
            None => {
                self.pending
                    .push((file.clone(), Vec::with_capacity(PIPE_BUF)));
                self.pending.len() - 1
            }
        };
        let (file, batch) = &mut self.pending[index];
        if batch.len() + line.len() > PIPE_BUF {
            write_out(file, batch);
            batch.clear();
        }
        batch.extend_from_slice(line);
        true
    }

    /// Write the batch for `file` (every batch when `None`).
    fn flush(&mut self, only: Option<&Arc<std::fs::File>>) {
        for (file, batch) in &mut self.pending {
            if !batch.is_empty() && only.is_none_or(|only| Arc::ptr_eq(only, file)) {
                write_out(file, batch);
                batch.clear();
            }
        }
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        self.flush(None);
    }
}

thread_local! {
    static BATCHES: RefCell<Batches> = RefCell::new(Batches::default());
}

fn flush_batches() {
    let _ = BATCHES.try_with(|batches| batches.borrow_mut().flush(None));
}

/// Write the request lines this thread has gathered, and gather its next
/// ones until the next call. For the command runtime's park and stop hooks:
/// a worker that calls it each time it goes idle never keeps a line longer
/// than the work it is busy with.
pub(crate) fn flush_request_lines() {
    let _ = BATCHES.try_with(|batches| {
        let mut batches = batches.borrow_mut();
        batches.enabled = true;
        batches.flush(None);
    });
}

impl AccessLine {
    /// The line, as `tracing_subscriber`'s `Full` format writes it, with
    /// the message that `message` appends.
    fn format(
        &self,
        line: &mut String,
        level: Level,
        target: &str,
        message: impl FnOnce(&mut String),
    ) {
        const DIM: &str = "\x1b[2m";
        const RESET: &str = "\x1b[0m";
        if self.ansi {
            line.push_str(DIM);
        }
        push_timestamp(line, std::time::SystemTime::now());
        if self.ansi {
            line.push_str(RESET);
        }
        line.push(' ');
        let (name, color) = match level {
            Level::ERROR => ("ERROR", "\x1b[31m"),
            Level::WARN => (" WARN", "\x1b[33m"),
            Level::INFO => (" INFO", "\x1b[32m"),
            Level::DEBUG => ("DEBUG", "\x1b[34m"),
            Level::TRACE => ("TRACE", "\x1b[35m"),
        };
        let pieces: &[&str] = match (self.ansi, self.with_target) {
            (true, true) => &[
                color, name, RESET, " ", DIM, target, RESET, DIM, ":", RESET, " ",
            ],
            (true, false) => &[color, name, RESET, " "],
            (false, true) => &[name, " ", target, ": "],
            (false, false) => &[name, " "],
        };
        for piece in pieces {
            line.push_str(piece);
        }
        message(line);
        line.push('\n');
    }
}

/// Writes the event's `message` field.
struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

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
        use std::os::unix::fs::MetadataExt;
        let mode = std::fs::metadata(&path).unwrap().mode();
        assert_eq!(mode & 0o004, 0, "others may not read a new log: {mode:o}");
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
    fn a_target_without_a_path_shows_the_root_or_its_authority() {
        let shown = |uri: &str| shown_target(&uri.parse().unwrap()).into_owned();
        assert_eq!(shown("http://example.com?x=1"), "/?x=1");
        assert_eq!(shown("http://example.com"), "/");
        assert_eq!(shown("/polls/?page=2"), "/polls/?page=2");
        assert_eq!(shown("*"), "*");
        // Authority form (CONNECT's): the host and port, not a made-up `/`.
        assert_eq!(shown("example.com:443"), "example.com:443");
    }

    /// The request line as the general-purpose formatter writes it and as
    /// `AccessLine` does, timestamps aside: with and without colours and
    /// target, at each level.
    #[test]
    fn access_lines_are_written_as_the_formatter_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        for (ansi, with_target) in [(false, true), (false, false), (true, true), (true, false)] {
            let ours = dir.path().join(format!("ours-{ansi}-{with_target}.log"));
            let theirs = dir.path().join(format!("theirs-{ansi}-{with_target}.log"));
            let access = AccessLine {
                destination: Destination::File(Arc::new(open_log_file(&ours).unwrap())),
                ansi,
                with_target,
            };
            let formatter = tracing_subscriber::fmt::layer()
                .with_writer(Arc::new(open_log_file(&theirs).unwrap()))
                .with_ansi(ansi)
                .with_target(with_target);
            let emit = || {
                let (status, elapsed) = (200, 1.25);
                tracing::info!(name: ACCESS_EVENT, target: "nuages::request", "\"GET /x?y=1 HTTP/1.1\" {status} {elapsed:.1}ms");
                tracing::warn!(name: ACCESS_EVENT, target: "nuages::request", "\"GET /nope/ HTTP/1.1\" 404 0.1ms");
                tracing::error!(name: ACCESS_EVENT, target: "nuages::request", "\"POST /boom/ HTTP/1.1\" 500 2.0ms");
            };
            let lines = RequestLines {
                writers: vec![access],
                max_level: Level::TRACE,
            };
            tracing::subscriber::with_default(tracing_subscriber::registry().with(lines), emit);
            tracing::subscriber::with_default(tracing_subscriber::registry().with(formatter), emit);
            // The timestamp: 2026-01-31T12:00:00.123456Z, 27 characters.
            let strip = |path: &Path| -> Vec<String> {
                let text = std::fs::read_to_string(path).unwrap();
                text.lines()
                    .map(|line| {
                        let end = line.find('Z').unwrap() + 1;
                        format!("{}{}", &line[..end - 27], &line[end..])
                    })
                    .collect()
            };
            let (ours, theirs) = (strip(&ours), strip(&theirs));
            assert_eq!(ours.len(), 3, "{ours:?}");
            assert_eq!(ours, theirs, "ansi {ansi}, target {with_target}");
        }
        let plain = std::fs::read_to_string(dir.path().join("ours-false-true.log")).unwrap();
        let first = plain.lines().next().unwrap();
        assert!(
            first.ends_with(" INFO nuages::request: \"GET /x?y=1 HTTP/1.1\" 200 1.2ms"),
            "{first}"
        );
    }

    /// A worker (a thread that called `flush_request_lines`) keeps its
    /// request lines until it calls it again, logs another event, gathers
    /// 4 KiB, or ends; every write is whole lines, in order.
    #[test]
    fn a_worker_writes_its_request_lines_when_idle_in_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.log");
        let file = Arc::new(open_log_file(&path).unwrap());
        fn lines(path: &Path) -> String {
            std::fs::read_to_string(path).unwrap()
        }
        fn access(n: usize) {
            tracing::info!(name: ACCESS_EVENT, target: "nuages::request", "\"GET /{n}/ HTTP/1.1\" 200 0.1ms");
        }
        // As `init` layers them: the formatter outside, for other events.
        fn subscriber(file: &Arc<std::fs::File>) -> impl Subscriber + Send + Sync {
            tracing_subscriber::registry()
                .with(RequestLines {
                    writers: vec![AccessLine {
                        destination: Destination::File(file.clone()),
                        ansi: false,
                        with_target: true,
                    }],
                    max_level: Level::TRACE,
                })
                .with(WithoutRequestLines(
                    tracing_subscriber::fmt::layer()
                        .with_writer(file.clone())
                        .with_ansi(false),
                ))
        }
        // Any other thread writes each line at once.
        tracing::subscriber::with_default(subscriber(&file), || access(0));
        assert_eq!(lines(&path).lines().count(), 1);
        let worker = {
            let (file, path) = (file.clone(), path.clone());
            std::thread::spawn(move || {
                tracing::subscriber::with_default(subscriber(&file), || {
                    flush_request_lines();
                    access(1);
                    access(2);
                    assert_eq!(lines(&path).lines().count(), 1, "written before idle");
                    tracing::warn!(target: "nuages::server", "something else");
                    let text = lines(&path);
                    assert_eq!(text.lines().count(), 4, "kept past another event");
                    assert!(
                        text.lines().nth(3).unwrap().ends_with("something else"),
                        "{text}"
                    );
                    access(3);
                    flush_request_lines();
                    assert_eq!(lines(&path).lines().count(), 5, "kept past idle");
                    for n in 4..200 {
                        access(n);
                        let text = lines(&path);
                        assert!(text.ends_with('\n'), "a line cut: {text:?}");
                    }
                    let waiting = 201 - lines(&path).lines().count();
                    assert!(
                        (1..=4096 / 40).contains(&waiting),
                        "{waiting} lines waiting"
                    );
                    access(200);
                });
            })
        };
        // Joined: the thread has ended, its thread-locals dropped.
        worker.join().unwrap();
        // The thread's end wrote the rest.
        let text = lines(&path);
        let numbers: Vec<usize> = text
            .lines()
            .filter(|line| line.contains("GET"))
            .map(|line| line.split('/').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(numbers, (0..=200).collect::<Vec<_>>());
    }

    /// Under the subscriber `init` installs, a request's line goes to its
    /// writers without an event, as the event would have written it, when
    /// the level lets it through; under any other subscriber it is an
    /// event, which that subscriber sees.
    #[test]
    fn request_lines_go_straight_to_the_writers_of_the_installed_subscriber() {
        let dir = tempfile::tempdir().unwrap();
        let request = |target: &str| {
            axum::extract::Request::builder()
                .method(http::Method::POST)
                .uri(target)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let log = |max_level| {
            let path = dir.path().join(format!("{max_level}.log"));
            let lines = RequestLines {
                writers: vec![AccessLine {
                    destination: Destination::File(Arc::new(open_log_file(&path).unwrap())),
                    ansi: false,
                    with_target: true,
                }],
                max_level,
            };
            tracing::subscriber::with_default(tracing_subscriber::registry().with(lines), || {
                RequestLine::start(&request("/a/?b=1")).finish(http::StatusCode::OK);
                RequestLine::start(&request("/gone/")).finish(http::StatusCode::NOT_FOUND);
                RequestLine::start(&request("/boom/")).finish(http::StatusCode::BAD_GATEWAY);
                // Its response never came: the client left.
                drop(RequestLine::start(&request("/left/")));
            });
            let text = std::fs::read_to_string(&path).unwrap();
            text.lines()
                .map(|line| line[line.find('Z').unwrap() + 1..].to_string())
                .map(|line| line[..line.rfind(' ').unwrap()].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            log(Level::INFO),
            [
                "  INFO nuages::request: \"POST /a/?b=1 HTTP/1.1\" 200",
                "  WARN nuages::request: \"POST /gone/ HTTP/1.1\" 404",
                " ERROR nuages::request: \"POST /boom/ HTTP/1.1\" 502",
                "  INFO nuages::request: \"POST /left/ HTTP/1.1\" 499",
            ]
        );
        assert_eq!(
            log(Level::WARN),
            [
                "  WARN nuages::request: \"POST /gone/ HTTP/1.1\" 404",
                " ERROR nuages::request: \"POST /boom/ HTTP/1.1\" 502",
            ]
        );
        // Another subscriber: the event, with its message.
        let theirs = dir.path().join("theirs.log");
        let formatter = tracing_subscriber::fmt::layer()
            .with_writer(Arc::new(open_log_file(&theirs).unwrap()))
            .with_ansi(false);
        tracing::subscriber::with_default(tracing_subscriber::registry().with(formatter), || {
            RequestLine::start(&request("/x/")).finish(http::StatusCode::OK);
        });
        let text = std::fs::read_to_string(&theirs).unwrap();
        assert!(
            text.contains(" INFO nuages::request: \"POST /x/ HTTP/1.1\" 200 "),
            "{text}"
        );
    }

    /// The timestamp as the general-purpose formatter writes it.
    #[test]
    fn timestamps_are_written_as_the_formatter_writes_them() {
        use tracing_subscriber::fmt::time::FormatTime;
        let at = |secs: u64, micros: u32| {
            std::time::UNIX_EPOCH + std::time::Duration::new(secs, micros * 1000)
        };
        for (now, expected) in [
            (at(0, 0), "1970-01-01T00:00:00.000000Z"),
            (at(1_769_860_800, 123_456), "2026-01-31T12:00:00.123456Z"),
            (at(1_769_860_859, 7), "2026-01-31T12:00:59.000007Z"),
            (at(1_769_860_860, 999_999), "2026-01-31T12:01:00.999999Z"),
        ] {
            let mut ours = String::new();
            push_timestamp(&mut ours, now);
            assert_eq!(ours, expected);
        }
        // The formatter's own, for the current time: the same shape.
        let mut theirs = String::new();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(
                &mut theirs,
            ))
            .unwrap();
        let mut ours = String::new();
        push_timestamp(&mut ours, std::time::SystemTime::now());
        assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
        assert_eq!(ours[..16], theirs[..16], "{ours} / {theirs}");
    }

    /// The request line's message: the method, the target as sent, the
    /// version, the status and the time in milliseconds with one decimal.
    #[test]
    fn request_line_messages_name_the_request_and_its_time() {
        let method = http::Method::POST;
        let message = |status, elapsed| {
            let mut text = String::new();
            AccessMessage {
                method: &method,
                target: "/polls/1/vote/?next=%2F",
                version: http::Version::HTTP_11,
                status: http::StatusCode::from_u16(status).unwrap(),
                elapsed,
            }
            .push_to(&mut text);
            text
        };
        for (status, micros, end) in [
            (302, 1_234, "302 1.2ms"),
            (200, 0, "200 0.0ms"),
            (500, 96, "500 0.1ms"),
            (404, 12_345_678, "404 12345.7ms"),
            // Rounded up across a second: the seconds and the rest add up.
            (200, 1_999_950, "200 2000.0ms"),
            (200, 1_000_049, "200 1000.0ms"),
        ] {
            assert_eq!(
                message(status, std::time::Duration::from_micros(micros)),
                format!("\"POST /polls/1/vote/?next=%2F HTTP/1.1\" {end}")
            );
        }
    }

    #[test]
    fn verbosity_overrides_the_level() {
        let settings = Settings::default();
        assert_eq!(level_for(&settings, None), Level::INFO);
        assert_eq!(level_for(&settings, Some(0)), Level::ERROR);
        assert_eq!(level_for(&settings, Some(3)), Level::TRACE);
        let warn = Settings {
            log_level: LogLevel::Warn,
            ..Settings::default()
        };
        assert_eq!(level_for(&warn, None), Level::WARN, "log_level");
        assert_eq!(level_for(&warn, Some(1)), Level::WARN, "-v 1 keeps it");
        assert_eq!(level_for(&warn, Some(2)), Level::DEBUG);
    }
}
