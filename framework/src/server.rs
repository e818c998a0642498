//! Listeners and serving: TCP or unix sockets, sockets passed by a parent
//! (systemd's `LISTEN_FDS`, or the development reloader), hyper with
//! HTTP/1.1 keep-alive and HTTP/2 over cleartext, limits against slow and
//! silent clients, and a shutdown that refuses new connections at once and
//! answers every request already sent.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use crate::handler::Application;

mod body_timeout;
mod connection;
mod header_timer;
mod send_timeout;
mod startup_pages;

pub(crate) use startup_pages::release_code_pages;

use body_timeout::BodyRules;
use connection::{NoticeRequests, Phase, RoomForExtensions};
use send_timeout::SendTimeout;

/// How long a client may take to send a request's headers, counted from the
/// accept for a new connection (one that sends nothing included); it also
/// bounds how long an idle HTTP/1.1 keep-alive connection is kept.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may pause while sending a request's body.
pub(crate) const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may read nothing of a response the server is sending.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a failing `accept` (no descriptor left) is logged at most.
const ACCEPT_WARNING_INTERVAL: Duration = Duration::from_secs(10);
/// Largest buffer for a request's head: oversized headers are cut off.
pub(crate) const MAX_HEADER_BUFFER: usize = 64 * 1024;

/// Where to listen: `HOST:PORT` or `unix:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bind {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix socket path.
    Unix(PathBuf),
}

impl std::fmt::Display for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bind::Tcp(addr) => write!(f, "http://{addr}"),
            Bind::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The forms [`parse_bind`] takes, for messages.
pub(crate) const BIND_FORMS: &str = "HOST:PORT, [IPv6]:PORT or unix:/path";

/// Parse `HOST:PORT`, `[IPV6]:PORT` or `unix:PATH` (relative paths against
/// `base`). The error says what is wrong with `text`, to follow it in a
/// message (`'abc' is not HOST:PORT, …`).
pub(crate) fn parse_bind(text: &str, base: &Path) -> Result<Bind, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            return Err("has no path after unix:".into());
        }
        return Ok(Bind::Unix(base.join(path)));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(Bind::Tcp(addr));
    }
    if let Some(port) = text.strip_prefix("0:")
        && let Ok(port) = port.parse::<u16>()
    {
        return Ok(Bind::Tcp(SocketAddr::from(([0, 0, 0, 0], port))));
    }
    use std::net::ToSocketAddrs;
    let named = text
        .rsplit_once(':')
        .filter(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    match (named, text.to_socket_addrs()) {
        (Some(_), Ok(mut addrs)) => addrs
            .next()
            .map(Bind::Tcp)
            .ok_or_else(|| "names a host with no address".to_string()),
        (Some((host, _)), Err(error)) => Err(format!(
            "names the host '{host}', which does not resolve ({error})"
        )),
        (None, _) => Err(format!("is not {BIND_FORMS}")),
    }
}

/// The `serve_bind` setting as a [`Bind`], or the error `serve` fails with
/// and `check --deploy` reports (`nuages.E052`): the setting, its value,
/// where it was set (the variable `NUAGES_SERVE_BIND` when `from_variable`,
/// else the settings file that writes it) and the forms it takes.
pub(crate) fn serve_bind_setting(
    settings: &crate::conf::Settings,
    project: &str,
    from_variable: bool,
) -> crate::Result<Bind> {
    let value = &settings.serve_bind;
    parse_bind(value, &settings.base_dir).map_err(|reason| {
        let origin = if from_variable {
            " (set by NUAGES_SERVE_BIND)".to_string()
        } else {
            settings
                .settings_file
                .as_deref()
                .and_then(|selected| {
                    crate::checks::raw::raw_setting(selected, &["serve_bind"]).ok()?
                })
                .map(|raw| format!(" (in {})", raw.file.display()))
                .unwrap_or_default()
        };
        crate::Error::Config(
            crate::Problem::new(format!("serve_bind {value:?}{origin} {reason}")).with_hint(
                format!(
                    "write serve_bind as {BIND_FORMS}: \"127.0.0.1:8000\", \"[::1]:8000\" or \
                     \"unix:/run/{project}/{project}.sock\""
                ),
            ),
        )
    })
}

/// A bound listener, ready to serve.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(tokio::net::TcpListener),
    /// A unix socket; the path is removed when serving ends, if we created it.
    Unix(tokio::net::UnixListener, Option<PathBuf>),
}

impl Listener {
    /// Where it listens, for the log line.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(listener) => match listener.local_addr() {
                Ok(addr) => format!("http://{addr}"),
                Err(_) => "a TCP socket".into(),
            },
            Listener::Unix(listener, path) => match (path, listener.local_addr()) {
                (Some(path), _) => format!("unix:{}", path.display()),
                (None, Ok(addr)) => match addr.as_pathname() {
                    Some(path) => {
                        format!("unix:{} (passed by the service manager)", path.display())
                    }
                    None => "a unix socket passed by the service manager".into(),
                },
                (None, Err(_)) => "a unix socket".into(),
            },
        }
    }
}

/// A socket passed by the parent process as `LISTEN_FDS` (systemd socket
/// activation, or `runserver`'s reloader), TCP or unix, made non-blocking.
pub(crate) fn inherited_listener() -> io::Result<Option<Listener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    if let Ok(Some(listener)) = fds.take_tcp_listener(0) {
        listener.set_nonblocking(true)?;
        return Ok(Some(Listener::Tcp(tokio::net::TcpListener::from_std(
            listener,
        )?)));
    }
    match fds.take_unix_listener(0)? {
        Some(listener) => {
            listener.set_nonblocking(true)?;
            Ok(Some(Listener::Unix(
                tokio::net::UnixListener::from_std(listener)?,
                None,
            )))
        }
        None => Ok(None),
    }
}

/// A TCP listener passed by the parent process, for `runserver`.
pub(crate) fn inherited_tcp_listener() -> io::Result<Option<std::net::TcpListener>> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let listener = fds.take_tcp_listener(0)?;
    if let Some(listener) = &listener {
        listener.set_nonblocking(true)?;
    }
    Ok(listener)
}

/// Bind `addr` for serving (non-blocking).
pub(crate) fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The longest path a unix socket can have, in bytes: the kernel keeps it
/// in `sockaddr_un.sun_path`, 108 bytes with the final NUL.
pub(crate) const SOCKET_PATH_MAX: usize = 107;

/// Bind a unix socket at `path` with `mode` (octal, e.g. 0o660). A stale
/// socket file (nothing listens) is replaced; a live one (a server answers)
/// is an error, and so is a socket it cannot tell is unused (another user's,
/// a datagram socket), any other kind of file, and a path longer than
/// [`SOCKET_PATH_MAX`] (refused before its folder is made).
pub(crate) fn bind_unix(path: &Path, mode: u32) -> io::Result<Listener> {
    use std::os::unix::fs::FileTypeExt;
    // Refused before any folder is made for it.
    let length = path.as_os_str().len();
    if length > SOCKET_PATH_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the path has {length} bytes, and a unix socket's path has at most {SOCKET_PATH_MAX}"
            ),
        ));
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("a server already listens on {}", path.display()),
                ));
            }
            // Nothing listens: a socket a stopped server left behind.
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
                std::fs::remove_file(path)?
            }
            // Another user's socket, another program's datagram socket
            // (`/dev/log`): kept, whatever it is.
            Err(error) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "{} is a socket this server cannot tell is unused ({error}): it is left as it is",
                        path.display()
                    ),
                ));
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    listener.set_nonblocking(true)?;
    Ok(Listener::Unix(
        tokio::net::UnixListener::from_std(listener)?,
        Some(path.to_path_buf()),
    ))
}

/// Raise the process's soft limit on open files to its hard limit, as Go's
/// runtime does when it starts, and return the limit in effect. systemd
/// starts a service with a soft limit of 1024 (kept low for programs that
/// wait with `select`) and every connection holds a descriptor: a thousand
/// idle or slow clients would leave none, and a new client's connection
/// would wait unaccepted (`accept` failing with "Too many open files") until
/// one of theirs timed out. hyper waits with epoll, which has no such bound.
pub(crate) fn raise_open_files_limit() -> io::Result<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the call to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

/// Resolves when the process gets SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}

/// [`shutdown_signal`] for the production server, which also outlives
/// SIGHUP: it logs a warning that names `restart` and keeps serving; and
/// SIGUSR1, which reopens `log_file` (after logrotate moved it away), as
/// gunicorn and nginx do, instead of ending the process.
///
/// SIGHUP is gunicorn's and uWSGI's "reload", and what a closed terminal
/// sends. Its default action ends the process at once, dropping the
/// requests in flight; and systemd takes an exit by SIGHUP for a clean one,
/// so `Restart=on-failure` would leave the site down. `serve` cannot reload
/// in place. The handlers are installed by this call, not on first poll,
/// so no signal slips in before the server waits for it.
pub(crate) fn shutdown_signal_surviving_hangup(
    restart: String,
    log_file: Option<crate::logging::LogFile>,
) -> impl Future<Output = ()> + Send {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    let mut hangup = signal(SignalKind::hangup()).expect("a SIGHUP handler");
    let mut reopen = signal(SignalKind::user_defined1()).expect("a SIGUSR1 handler");
    async move {
        loop {
            tokio::select! {
                _ = terminate.recv() => return,
                _ = interrupt.recv() => return,
                _ = reopen.recv() => match log_file.as_ref().map(|file| (file, file.reopen())) {
                    Some((file, Ok(()))) => tracing::info!(
                        target: "nuages::server",
                        "SIGUSR1 received: log_file {} reopened", file.path().display()
                    ),
                    None => tracing::info!(
                        target: "nuages::server",
                        "SIGUSR1 received: no log_file to reopen (the log goes to stderr only)"
                    ),
                    Some((_, Err(error))) => tracing::error!(
                        target: "nuages::server",
                        "SIGUSR1 received: {error}; the log goes on into the file it had open"
                    ),
                },
                _ = hangup.recv() => tracing::warn!(
                    target: "nuages::server",
                    "SIGHUP received and ignored: serve does not reload its code or settings \
                     and keeps serving; to load a new build or new settings, {restart}"
                ),
            }
        }
    }
}

/// How connections are served.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// How long a client may take to send a request's headers, counted from
    /// the accept for a new connection; it also bounds how long an idle
    /// HTTP/1.1 keep-alive connection is kept, and how long an HTTP/2
    /// connection may start no request before it is told to go away (its
    /// requests in flight finish). 30 seconds by default.
    pub header_read_timeout: Duration,
    /// How long a client may send nothing while it sends a request's body
    /// (each pause, not the whole body: a client that keeps sending is
    /// read to the body limit): past it the body ends in an error, what
    /// reads it answers 400 (403 for the CSRF check), and the connection
    /// closes. 30 seconds by default; zero cuts off any body that pauses.
    pub body_read_timeout: Duration,
    /// How long the server may be unable to send anything of a response
    /// because the client reads nothing (each stall, not the whole
    /// response, as nginx's `send_timeout`): past it the connection is
    /// closed. 30 seconds by default.
    pub send_timeout: Duration,
    /// How long requests in flight may take to finish after shutdown starts.
    pub graceful_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            send_timeout: SEND_TIMEOUT,
            graceful_timeout: Duration::from_secs(30),
        }
    }
}

trait Connection: AsyncRead + AsyncWrite + AsRawFd + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + AsRawFd + Unpin + Send + 'static> Connection for T {}

/// Serve `application` on `listener` until `shutdown` resolves. Then close
/// the listening socket at once (new connections are refused; a unix
/// socket's file is removed), after taking the connections already queued
/// in its backlog; answer every request clients had sent, for up to
/// `options.graceful_timeout`; close idle keep-alive connections; and return
/// whether every request was answered ([`Stopped`]).
///
/// A socket passed by systemd (`LISTEN_FDS`) stays open in systemd, which
/// holds its own copy: new connections wait in its backlog for the next
/// start of the service instead of being refused.
pub async fn serve(
    listener: Listener,
    application: Application,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<Stopped> {
    let builder = connection_builder();
    let body_rules = BodyRules {
        timeout: options.body_read_timeout,
        drain_limit: application.settings().data_upload_max_memory_size as u64,
    };
    let service = TowerToHyperService::new(application);
    let (phase, _) = watch::channel(Phase::Serving);
    let room = Arc::new(RoomForExtensions::default());
    let start = |(stream, peer): Accepted| {
        let (service, activity) = NoticeRequests::new(
            service.clone(),
            peer,
            room.clone(),
            body_rules,
            phase.subscribe(),
        );
        let fd = stream.as_raw_fd();
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(SendTimeout::new(stream, options.send_timeout)),
                service,
            )
            .into_owned();
        tokio::spawn(connection::drive(
            connection,
            fd,
            peer,
            activity,
            connection::Timeouts {
                header: options.header_read_timeout,
                send: options.send_timeout,
            },
            phase.subscribe(),
        ));
    };
    let mut shutdown = std::pin::pin!(shutdown);
    // Failed accepts since the last warning, and when it was written: one
    // warning per ACCEPT_WARNING_INTERVAL, not one per retry (20 a second
    // while the descriptors are all taken, into log_file).
    let mut unreported = 0u64;
    let mut warned: Option<tokio::time::Instant> = None;
    loop {
        let accepted: io::Result<Accepted> = tokio::select! {
            _ = &mut shutdown => break,
            accepted = accept(&listener) => accepted,
        };
        match accepted {
            Ok(stream) => start(stream),
            Err(error) => {
                if warned.is_none_or(|at| at.elapsed() >= ACCEPT_WARNING_INTERVAL) {
                    let more = match unreported {
                        0 => String::new(),
                        n => format!(" ({n} more failed since the last warning)"),
                    };
                    tracing::warn!(target: "nuages::server", "accept failed: {error}{more}");
                    warned = Some(tokio::time::Instant::now());
                    unreported = 0;
                } else {
                    unreported += 1;
                }
                // Out of file descriptors and the like: wait, don't spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    for stream in close_after_backlog(listener) {
        start(stream);
    }
    phase.send_replace(Phase::Draining);
    tokio::select! {
        _ = phase.closed() => Ok(Stopped::Drained),
        _ = tokio::time::sleep(options.graceful_timeout) => {
            tracing::warn!(
                target: "nuages::server",
                "requests still running after {}s (serve_graceful_timeout); closing them",
                options.graceful_timeout.as_secs()
            );
            phase.send_replace(Phase::Closing);
            phase.closed().await;
            Ok(Stopped::CutOff)
        }
    }
}

/// How [`serve`] ended, once its shutdown future resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request clients had sent was answered.
    Drained,
    /// Requests still running after `graceful_timeout` were cut off,
    /// unanswered.
    CutOff,
}

/// hyper for one connection: HTTP/1.1 with keep-alive, or HTTP/2 with prior
/// knowledge.
fn connection_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header timeout is the connection task's (see `header_timer`).
    builder
        .http1()
        .header_read_timeout(None)
        // A client that ends its side once its request is sent is answered
        // (hyper would drop the request at the end of its input).
        .half_close(true)
        .keep_alive(true)
        .max_buf_size(MAX_HEADER_BUFFER);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(256);
    builder
}

/// An accepted connection, and the peer's address over TCP (`None` over a
/// unix socket, whose peer is a process of this machine).
type Accepted = (Box<dyn Connection>, Option<SocketAddr>);

async fn accept(listener: &Listener) -> io::Result<Accepted> {
    Ok(match listener {
        Listener::Tcp(listener) => {
            let (stream, peer) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            (Box::new(stream), Some(peer))
        }
        Listener::Unix(listener, _) => (Box::new(listener.accept().await?.0), None),
    })
}

/// Stop listening: remove the socket file we created (no new client finds
/// it), take every connection already queued in the backlog without
/// waiting, and close the socket, so that later connections are refused.
fn close_after_backlog(listener: Listener) -> Vec<Accepted> {
    // Accepted sockets do not inherit O_NONBLOCK, which tokio needs.
    match listener {
        Listener::Tcp(listener) => match listener.into_std() {
            Ok(listener) => take_backlog(|| {
                let (stream, peer) = listener.accept()?;
                stream.set_nonblocking(true)?;
                let _ = stream.set_nodelay(true);
                Ok((
                    Box::new(tokio::net::TcpStream::from_std(stream)?),
                    Some(peer),
                ))
            }),
            Err(error) => backlog_lost(error),
        },
        Listener::Unix(listener, socket_file) => {
            if let Some(path) = socket_file {
                let _ = std::fs::remove_file(path);
            }
            match listener.into_std() {
                Ok(listener) => take_backlog(|| {
                    let (stream, _) = listener.accept()?;
                    stream.set_nonblocking(true)?;
                    Ok((Box::new(tokio::net::UnixStream::from_std(stream)?), None))
                }),
                Err(error) => backlog_lost(error),
            }
        }
    }
}

/// Call `accept_now` (on a non-blocking listener) until the backlog is empty.
fn take_backlog(mut accept_now: impl FnMut() -> io::Result<Accepted>) -> Vec<Accepted> {
    let mut queued = Vec::new();
    loop {
        match accept_now() {
            Ok(stream) => queued.push(stream),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return queued,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(error) => {
                tracing::warn!(
                    target: "nuages::server",
                    "taking the queued connections at shutdown failed: {error}"
                );
                return queued;
            }
        }
    }
}

fn backlog_lost(error: io::Error) -> Vec<Accepted> {
    tracing::warn!(
        target: "nuages::server",
        "taking the queued connections at shutdown failed: {error}"
    );
    Vec::new()
}

/// Serve `application` on a TCP listener with the default options (the
/// development server).
pub async fn serve_tcp(
    listener: std::net::TcpListener,
    application: Application,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let listener = Listener::Tcp(tokio::net::TcpListener::from_std(listener)?);
    let options = ServeOptions {
        graceful_timeout: Duration::from_secs(5),
        ..ServeOptions::default()
    };
    serve(listener, application, options, shutdown)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An application for `Host: localhost` answering "ok" at `/`, after
    /// 2.5 seconds at `/slow/`, and ten chunks a quarter of a second apart
    /// at `/trickle/`; and its folder.
    fn test_application() -> (tempfile::TempDir, Application) {
        fn urls() -> crate::urls::UrlConf {
            async fn home() -> &'static str {
                "ok"
            }
            async fn slow() -> &'static str {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                "slow but ok"
            }
            async fn trickle() -> axum::body::Body {
                let chunks = futures_util::stream::unfold(0, |n| async move {
                    if n == 10 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    Some((Ok::<_, io::Error>(format!("chunk {n}\n")), n + 1))
                });
                axum::body::Body::from_stream(chunks)
            }
            async fn big() -> Vec<u8> {
                vec![b'x'; BIG_BODY]
            }
            crate::urls::UrlConf::new()
                .path("", home, "home")
                .path("slow/", slow, "slow")
                .path("trickle/", trickle, "trickle")
                .path("big/", big, "big")
        }
        let site = tempfile::tempdir().unwrap();
        let mut settings = crate::conf::Settings::defaults_in(site.path());
        settings.secret_key = Some("a-test-key-that-is-only-used-on-loopback".into());
        settings.allowed_hosts = vec!["localhost".into()];
        let application =
            Application::new(crate::Project::new("t", site.path()).urls(urls), settings).unwrap();
        (site, application)
    }

    /// The length of the body at `/big/`: more than the kernel buffers on
    /// both sides of a loopback connection hold.
    const BIG_BODY: usize = 64 << 20;

    /// A server on loopback with `header_read_timeout`, stopped when dropped.
    struct TestServer {
        addr: SocketAddr,
        _stop: tokio::sync::oneshot::Sender<()>,
        _runtime: tokio::runtime::Runtime,
        _site: tempfile::TempDir,
    }

    impl TestServer {
        fn start(header_read_timeout: Duration) -> TestServer {
            let (site, application) = test_application();
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let options = ServeOptions {
                header_read_timeout,
                body_read_timeout: header_read_timeout,
                send_timeout: header_read_timeout,
                graceful_timeout: Duration::from_secs(5),
            };
            runtime.spawn(async move {
                let listener = Listener::Tcp(tokio::net::TcpListener::from_std(listener).unwrap());
                serve(listener, application, options, async {
                    let _ = stopped.await;
                })
                .await
            });
            TestServer {
                addr,
                _stop: stop,
                _runtime: runtime,
                _site: site,
            }
        }
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

    /// Read one response off `stream` (headers, then Content-Length bytes).
    fn read_response(stream: &mut impl std::io::Read) -> io::Result<String> {
        let mut raw = Vec::new();
        let mut byte = [0u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            raw.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().unwrap());
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body)?;
        raw.extend_from_slice(&body);
        Ok(String::from_utf8_lossy(&raw).into_owned())
    }

    #[test]
    fn requests_queued_in_the_backlog_at_shutdown_are_answered_and_later_ones_refused() {
        use std::io::Write;
        let (_site, application) = test_application();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let addr = tcp.local_addr().unwrap();
        let unix_dir = tempfile::tempdir().unwrap();
        let socket = unix_dir.path().join("site.sock");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let unix = {
            let _guard = runtime.enter();
            bind_unix(&socket, 0o660).unwrap()
        };
        // Clients whose connection the server has not accepted yet, their
        // request sent, when the signal comes (here: before serving starts).
        let mut clients: Vec<Box<dyn std::io::Read>> = Vec::new();
        for _ in 0..4 {
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            stream.write_all(GET).unwrap();
            clients.push(Box::new(stream));
            let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
            stream.write_all(GET).unwrap();
            clients.push(Box::new(stream));
        }
        let options = ServeOptions {
            header_read_timeout: Duration::from_secs(5),
            graceful_timeout: Duration::from_secs(5),
            ..ServeOptions::default()
        };
        runtime.block_on(async {
            let tcp = Listener::Tcp(tokio::net::TcpListener::from_std(tcp).unwrap());
            let served = tokio::join!(
                serve(tcp, application.clone(), options.clone(), async {}),
                serve(unix, application, options, async {}),
            );
            served.0.unwrap();
            served.1.unwrap();
        });
        for (n, client) in clients.iter_mut().enumerate() {
            let response = read_response(client).unwrap_or_else(|e| panic!("client {n}: {e}"));
            assert!(
                response.starts_with("HTTP/1.1 200"),
                "client {n}: {response}"
            );
            assert!(response.ends_with("ok"), "client {n}: {response}");
        }
        let refused = std::net::TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        assert!(!socket.exists(), "the socket file is removed");
    }

    /// A request still running `graceful_timeout` (`serve_graceful_timeout`)
    /// after shutdown began is cut off: `serve` returns then, not when the
    /// request would have finished, and its client gets no answer.
    #[test]
    fn requests_still_running_after_the_graceful_timeout_are_closed() {
        use std::io::{Read, Write};
        let (_site, application) = test_application();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let addr = tcp.local_addr().unwrap();
        // `/slow/` answers after 2.5 seconds.
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client
            .write_all(b"GET /slow/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let options = ServeOptions {
            graceful_timeout: Duration::from_secs(1),
            ..ServeOptions::default()
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let started = std::time::Instant::now();
        runtime.block_on(async {
            let tcp = Listener::Tcp(tokio::net::TcpListener::from_std(tcp).unwrap());
            let shutdown = tokio::time::sleep(Duration::from_millis(300));
            let stopped = serve(tcp, application, options, shutdown).await.unwrap();
            assert_eq!(stopped, Stopped::CutOff);
        });
        let stopped = started.elapsed();
        assert!(
            stopped >= Duration::from_millis(1300) && stopped < Duration::from_millis(2300),
            "serve returned after {stopped:?}, not 1 s after shutdown began"
        );
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut received = Vec::new();
        let _ = client.read_to_end(&mut received);
        assert_eq!(String::from_utf8_lossy(&received), "", "no answer");
    }

    /// A body answered unread whose client then trickles it does not hold
    /// the shutdown for the body timeout: once shutting down, the reading
    /// after the answer gives up after a second of silence, and `serve`
    /// returns with every request answered.
    #[test]
    fn a_body_trickled_after_its_answer_does_not_hold_the_shutdown() {
        use std::io::Write;
        let (_site, application) = test_application();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let addr = tcp.local_addr().unwrap();
        let options = ServeOptions {
            body_read_timeout: Duration::from_secs(30),
            graceful_timeout: Duration::from_secs(10),
            ..ServeOptions::default()
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(async move {
            let tcp = Listener::Tcp(tokio::net::TcpListener::from_std(tcp).unwrap());
            serve(tcp, application, options, async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
        });
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client
            .write_all(
                b"POST / HTTP/1.1\r\nHost: localhost\r\n\
                  Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nxx",
            )
            .unwrap();
        let refused = read_response(&mut client).unwrap();
        assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
        let asked = std::time::Instant::now();
        stop.send(()).unwrap();
        let outcome = runtime.block_on(server).unwrap();
        let took = asked.elapsed();
        assert_eq!(outcome, Stopped::Drained);
        assert!(
            took < Duration::from_secs(3),
            "serve returned {took:?} after the shutdown began"
        );
        drop(client);
    }

    /// Connect, send `bytes`, go silent; how long until the server closes
    /// the connection (None: still open after `limit`). Whatever the server
    /// sends before closing is returned too.
    fn silent_after(
        addr: SocketAddr,
        bytes: &[u8],
        limit: Duration,
    ) -> (Option<Duration>, Vec<u8>) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(bytes).unwrap();
        let start = std::time::Instant::now();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return (None, received);
            }
            stream.set_read_timeout(Some(left)).unwrap();
            match stream.read(&mut buffer) {
                Ok(0) => return (Some(start.elapsed()), received),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return (Some(start.elapsed()), received);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return (None, received);
                }
                Err(e) => panic!("reading: {e}"),
            }
        }
    }

    #[test]
    fn connections_that_go_silent_are_closed_after_the_header_timeout() {
        let timeout = Duration::from_secs(2);
        let server = TestServer::start(timeout);
        let addr = server.addr;
        let preface: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("nothing at all", vec![]),
            ("part of a request line", b"GET / HT".to_vec()),
            (
                "part of the headers",
                b"GET / HTTP/1.1\r\nHost: localhost\r\n".to_vec(),
            ),
            ("part of the HTTP/2 preface", preface[..16].to_vec()),
            ("the whole HTTP/2 preface", preface.to_vec()),
            ("a request, then an idle keep-alive", GET.to_vec()),
            (
                "a request, then part of the next one",
                [GET, &b"GET / HTTP/1.1\r\nHost: local"[..]].concat(),
            ),
        ];
        let clients: Vec<_> = cases
            .into_iter()
            .map(|(what, bytes)| {
                std::thread::spawn(move || (what, silent_after(addr, &bytes, timeout * 4)))
            })
            .collect();
        let mut problems = Vec::new();
        for client in clients {
            let (what, (closed_after, received)) = client.join().unwrap();
            match closed_after {
                None => problems.push(format!("{what}: still open after {:?}", timeout * 4)),
                Some(after) if after < timeout - Duration::from_millis(500) => {
                    problems.push(format!("{what}: closed too early, after {after:?}"))
                }
                Some(_) => {}
            }
            if what.starts_with("a request") {
                let text = String::from_utf8_lossy(&received);
                assert!(text.starts_with("HTTP/1.1 200"), "{what}: {text}");
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
        // A client that is merely slow, within the limit, is answered.
        let (_, received) = {
            use std::io::Write;
            let mut stream = std::net::TcpStream::connect(addr).unwrap();
            std::thread::sleep(timeout / 4);
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut received = Vec::new();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            std::io::Read::read_to_end(&mut stream, &mut received).unwrap();
            ((), received)
        };
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.ends_with("ok"), "{text}");
    }

    /// A body answered before it was read (the CSRF check refuses the
    /// upload without reading it) is read to its end after the answer: the
    /// client's whole body goes in, and the connection takes the next
    /// request. hyper closed it with the body's bytes still arriving, which
    /// reset it under a proxy still writing them (nginx answered 502).
    #[test]
    fn a_body_answered_unread_is_read_and_the_connection_kept() {
        use std::io::Write;
        let server = TestServer::start(Duration::from_secs(5));
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let size = 1_500_000;
        let head = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
        );
        let mut writer = stream.try_clone().unwrap();
        let sending = std::thread::spawn(move || {
            writer.write_all(head.as_bytes())?;
            writer.write_all(&vec![b'x'; size])
        });
        let refused = read_response(&mut stream).unwrap();
        assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
        sending
            .join()
            .unwrap()
            .expect("the whole body was taken in");
        stream.write_all(GET).unwrap();
        let next = read_response(&mut stream).unwrap();
        assert!(next.starts_with("HTTP/1.1 200"), "{next}");
        assert!(next.ends_with("ok"), "{next}");
    }

    /// A client that stops sending a body something reads (here the CSRF
    /// check, which looks for its token in a posted form) is answered and
    /// closed once it has been silent for the body timeout.
    #[test]
    fn a_body_that_goes_silent_is_cut_off_after_the_body_timeout() {
        use std::io::Write;
        let timeout = Duration::from_secs(1);
        let server = TestServer::start(timeout);
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        let secret = "a".repeat(32);
        let head = format!(
            "POST / HTTP/1.1\r\nHost: localhost\r\nCookie: csrftoken={secret}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\na=b"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let started = std::time::Instant::now();
        stream.set_read_timeout(Some(timeout * 10)).unwrap();
        let mut received = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut received).unwrap();
        let after = started.elapsed();
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 4"), "{text}");
        assert!(
            after >= timeout - Duration::from_millis(200) && after < timeout * 5,
            "answered and closed {after:?} after the last byte, for a timeout of {timeout:?}"
        );
    }

    /// The header timeout bounds the wait for a request, not its answer: a
    /// view that takes longer, and a body sent over longer, reach the
    /// client whole on a keep-alive connection, which is then timed from
    /// the end of that response.
    #[test]
    fn answers_that_take_longer_than_the_header_timeout_are_sent_whole() {
        use std::io::{Read, Write};
        let timeout = Duration::from_secs(1);
        let server = TestServer::start(timeout);
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /slow/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let response = read_response(&mut stream).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("slow but ok"), "{response}");
        // The same connection, still open: a body of ten chunks over 2.5 s.
        stream
            .write_all(b"GET /trickle/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).unwrap();
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            text.contains("chunk 0\n") && text.contains("chunk 9\n"),
            "{text}"
        );
        // Timed from its end: idle after it, the connection closes after
        // about a timeout.
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream
            .write_all(b"GET /trickle/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        while !String::from_utf8_lossy(&received).contains("chunk 9\n") {
            let n = stream.read(&mut buffer).unwrap();
            assert!(
                n > 0,
                "closed mid-body: {}",
                String::from_utf8_lossy(&received)
            );
            received.extend_from_slice(&buffer[..n]);
        }
        let last = std::time::Instant::now();
        let rest = stream.read(&mut buffer);
        let after = last.elapsed();
        // The chunked body's last piece (`0\r\n\r\n`) may come on its own.
        let closed = match rest {
            Ok(n) if n > 0 && buffer[..n].ends_with(b"0\r\n\r\n") => stream.read(&mut buffer),
            other => other,
        };
        assert!(
            matches!(closed, Ok(0))
                || closed.is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset),
            "still open {after:?} after the last chunk"
        );
        let after = last.elapsed();
        assert!(
            after >= timeout - Duration::from_millis(300) && after < timeout * 4,
            "closed {after:?} after the last chunk, for a timeout of {timeout:?}"
        );
    }

    /// A client that asks for a large response and then reads none of it
    /// (a "slow read") has its connection closed once the server has been
    /// unable to send for the send timeout, rather than holding a socket
    /// and a task for as long as it likes.
    #[test]
    fn a_client_that_reads_nothing_of_its_response_is_closed_after_the_send_timeout() {
        use std::io::{Read, Write};
        let timeout = Duration::from_secs(1);
        let server = TestServer::start(timeout);
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream
            .write_all(b"GET /big/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        // Read nothing for a while: the server fills the buffers, then stalls.
        std::thread::sleep(timeout * 4);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut received = 0;
        let mut buffer = vec![0u8; 1 << 20];
        let ended = loop {
            match stream.read(&mut buffer) {
                Ok(0) => break "closed",
                Ok(n) => received += n,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break "closed",
                Err(_) => break "still open",
            }
        };
        assert_eq!(ended, "closed", "after {received} bytes");
        assert!(
            received < BIG_BODY,
            "the whole body ({received} bytes) was sent to a client that read nothing for {:?}",
            timeout * 4
        );
    }

    /// What HTTP/1.1 requires and this server cannot do is refused: a
    /// request without its `Host` header (400, even with the host in an
    /// absolute target; HTTP/1.0 has no such header), and a body in a
    /// transfer coding other than `chunked` (501: its bytes would be
    /// taken for the body).
    #[test]
    fn requests_http_1_1_refuses_are_refused() {
        use std::io::{Read, Write};
        let server = TestServer::start(Duration::from_secs(5));
        let answer = |request: &[u8]| {
            let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
            stream.write_all(request).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut answer = vec![0u8; 4096];
            let n = stream.read(&mut answer).unwrap();
            String::from_utf8_lossy(&answer[..n]).into_owned()
        };
        for (request, status) in [
            (&b"GET http://localhost/ HTTP/1.1\r\n\r\n"[..], "400"),
            (b"GET http://localhost/ HTTP/1.0\r\n\r\n", "200"),
            (
                b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                "501",
            ),
            (
                b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: x-custom\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "501",
            ),
            (
                b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
                "501",
            ),
        ] {
            let answer = answer(request);
            let status_line = answer.lines().next().unwrap_or_default();
            assert!(
                status_line.starts_with("HTTP/1.") && status_line[8..].starts_with(&format!(" {status} ")),
                "{}: {answer}",
                String::from_utf8_lossy(request)
            );
        }
    }

    /// A client may end its side of the connection once its request is
    /// sent (`printf … | nc -N`, health checks): the request is answered,
    /// as nginx and gunicorn answer it, not dropped unanswered.
    #[test]
    fn a_request_whose_client_ended_its_side_at_once_is_answered() {
        use std::io::{Read, Write};
        let server = TestServer::start(Duration::from_secs(5));
        // A view that takes its time: hyper reads the end of the client's
        // side while the answer is being made.
        for request in [
            &b"GET /slow/ HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
            b"GET /slow/ HTTP/1.0\r\nHost: localhost\r\n\r\n",
        ] {
            let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
            stream.write_all(request).unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            assert!(answer.starts_with("HTTP/1."), "{answer:?}");
            assert!(answer.contains(" 200 OK\r\n"), "{answer:?}");
            assert!(answer.ends_with("\r\n\r\nslow but ok"), "{answer:?}");
        }
    }

    /// An HTTP/2 connection that has made its requests and then sends no
    /// other for the header timeout is closed (a GOAWAY, then the end), as
    /// an idle HTTP/1.1 keep-alive connection is: the keep-alive pings only
    /// tell that the client is there, and a client that answers them could
    /// otherwise hold the connection for ever.
    #[test]
    fn an_idle_http2_connection_is_closed_after_the_header_timeout() {
        let timeout = Duration::from_secs(1);
        let server = TestServer::start(timeout);
        let talk = Http2Talk::with(&server, &[], timeout * 5);
        let answered = talk.answered.expect("the request was answered");
        let after = talk.ended_at.map(|ended| ended - answered);
        assert!(
            after.is_some() && talk.goaway,
            "an idle HTTP/2 connection still open after its answer: {talk:?}"
        );
        let after = after.unwrap();
        assert!(
            after >= timeout - Duration::from_millis(300) && after < timeout * 3,
            "closed {after:?} after the answer, for a timeout of {timeout:?}"
        );
    }

    /// A client that answers pings but never opens its flow-control window
    /// (`SETTINGS_INITIAL_WINDOW_SIZE` 0) would hold its response, and the
    /// file or rows behind it, for ever: the socket stays writable, so the
    /// send timeout never sees a stalled write. The connection is closed
    /// once the response has waited for the window for the send timeout.
    #[test]
    fn an_http2_client_that_never_opens_its_window_is_closed_after_the_send_timeout() {
        let timeout = Duration::from_secs(1);
        let server = TestServer::start(timeout);
        // SETTINGS_INITIAL_WINDOW_SIZE (4) = 0.
        let talk = Http2Talk::with(&server, &[0, 4, 0, 0, 0, 0], timeout * 8);
        assert_eq!(talk.answered, None, "no window, yet answered: {talk:?}");
        let ended = talk
            .ended_at
            .unwrap_or_else(|| panic!("a stalled HTTP/2 connection still open: {talk:?}"));
        let after = ended - talk.started;
        assert!(
            after < timeout * 4,
            "closed {after:?} after the request, for timeouts of {timeout:?}"
        );
    }

    /// What a raw HTTP/2 client saw of `GET /` on a connection it opened
    /// with `settings` (a SETTINGS payload), acknowledging the server's
    /// settings and answering its pings until the connection ended or
    /// `wait` passed without a frame.
    #[derive(Debug)]
    struct Http2Talk {
        started: std::time::Instant,
        /// When the response's last frame came.
        answered: Option<std::time::Instant>,
        /// When the server closed the connection.
        ended_at: Option<std::time::Instant>,
        goaway: bool,
    }

    impl Http2Talk {
        fn with(server: &TestServer, settings: &[u8], wait: Duration) -> Http2Talk {
            use std::io::{Read, Write};
            /// A frame: length, type, flags, stream, payload.
            fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
                let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
                frame.extend([kind, flags]);
                frame.extend(stream.to_be_bytes());
                frame.extend(payload);
                frame
            }
            const HEADERS: u8 = 1;
            const SETTINGS: u8 = 4;
            const PING: u8 = 6;
            const GOAWAY: u8 = 7;
            const END_STREAM: u8 = 1;
            const END_HEADERS: u8 = 4;
            let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
            // GET / (HPACK: :method GET, :path /, :scheme http from the
            // static table; :authority localhost as a literal of the static
            // name).
            let mut block = vec![0x82, 0x84, 0x86, 0x01, 9];
            block.extend(b"localhost");
            let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            hello.extend(frame(SETTINGS, 0, 0, settings));
            hello.extend(frame(HEADERS, END_STREAM | END_HEADERS, 1, &block));
            let mut talk = Http2Talk {
                started: std::time::Instant::now(),
                answered: None,
                ended_at: None,
                goaway: false,
            };
            stream.write_all(&hello).unwrap();
            stream.set_read_timeout(Some(wait)).unwrap();
            // Frames until the answer's end, then until the connection's.
            let mut received = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                while received.len() >= 9 {
                    let length =
                        u32::from_be_bytes([0, received[0], received[1], received[2]]) as usize;
                    if received.len() < 9 + length {
                        break;
                    }
                    let (kind, flags) = (received[3], received[4]);
                    let id = u32::from_be_bytes(received[5..9].try_into().unwrap()) & 0x7fff_ffff;
                    if id == 1 && flags & END_STREAM != 0 {
                        talk.answered = Some(std::time::Instant::now());
                    }
                    // A client acknowledges settings and answers pings.
                    if kind == SETTINGS && flags & 1 == 0 {
                        stream.write_all(&frame(SETTINGS, 1, 0, &[])).unwrap();
                    }
                    if kind == PING && flags & 1 == 0 {
                        let ack = frame(PING, 1, 0, &received[9..9 + length]);
                        stream.write_all(&ack).unwrap();
                    }
                    talk.goaway |= kind == GOAWAY;
                    received.drain(..9 + length);
                }
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => received.extend(&buffer[..n]),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                    Err(_) => return talk,
                }
            }
            talk.ended_at = Some(std::time::Instant::now());
            talk
        }
    }

    /// A keep-alive connection's deadline moves with each response: one
    /// that sends a second request half a timeout after the first, then
    /// nothing, is closed a timeout after the second answer, not at the
    /// first answer's deadline (when the connection's timer goes off early
    /// and must be set again).
    #[test]
    fn the_header_timeout_of_a_keep_alive_connection_counts_from_its_last_response() {
        use std::io::Write;
        let timeout = Duration::from_secs(2);
        let server = TestServer::start(timeout);
        let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(GET).unwrap();
        let response = read_response(&mut stream).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        std::thread::sleep(timeout / 2);
        stream.write_all(GET).unwrap();
        let response = read_response(&mut stream).unwrap();
        let last = std::time::Instant::now();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let mut byte = [0u8; 1];
        stream.set_read_timeout(Some(timeout * 4)).unwrap();
        let read = std::io::Read::read(&mut stream, &mut byte);
        let after = last.elapsed();
        assert!(
            matches!(read, Ok(0))
                || read.is_err_and(|e| e.kind() == io::ErrorKind::ConnectionReset),
            "still open {after:?} after the last answer"
        );
        assert!(
            after >= timeout - Duration::from_millis(300) && after < timeout * 3,
            "closed {after:?} after the last answer, for a timeout of {timeout:?}"
        );
    }

    #[test]
    fn binds_parse() {
        let base = Path::new("/srv/site");
        assert_eq!(
            parse_bind("0:9000", base).unwrap(),
            Bind::Tcp("0.0.0.0:9000".parse().unwrap())
        );
        assert_eq!(
            parse_bind("[::1]:80", base).unwrap(),
            Bind::Tcp("[::1]:80".parse().unwrap())
        );
        assert_eq!(
            parse_bind("unix:run/s.sock", base).unwrap(),
            Bind::Unix("/srv/site/run/s.sock".into())
        );
        assert!(parse_bind("unix:", base).is_err());
        assert!(parse_bind("8000", base).is_err());
    }

    #[test]
    fn a_stale_socket_is_replaced_and_other_files_are_refused() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _guard = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "a stale socket file");
        let listener = bind_unix(&path, 0o660).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // A live socket is not taken over.
        let err = bind_unix(&path, 0o660).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(listener);
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(bind_unix(&file, 0o660).is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
        // A socket that refuses a stream otherwise than "nobody listens"
        // (another program's datagram socket, as `/dev/log`) is not removed.
        let datagram_path = dir.path().join("log.sock");
        let datagram = std::os::unix::net::UnixDatagram::bind(&datagram_path).unwrap();
        let err = bind_unix(&datagram_path, 0o660).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().contains("left as it is"), "{err}");
        assert!(datagram_path.exists());
        drop(datagram);
    }

    #[test]
    fn parse_bind_takes_an_address_or_a_unix_socket() {
        assert_eq!(
            parse_bind("127.0.0.1:8000", "/".as_ref()).unwrap(),
            Bind::Tcp("127.0.0.1:8000".parse().unwrap())
        );
        assert!(matches!(
            parse_bind("unix:/run/site.sock", "/".as_ref()).unwrap(),
            Bind::Unix(_)
        ));
        assert_eq!(
            parse_bind("localhost", "/".as_ref()).unwrap_err(),
            "is not HOST:PORT, [IPv6]:PORT or unix:/path"
        );
        assert_eq!(
            parse_bind("unix:", "/".as_ref()).unwrap_err(),
            "has no path after unix:"
        );
        assert!(
            parse_bind("no-such-host.invalid:8000", "/".as_ref())
                .unwrap_err()
                .starts_with("names the host 'no-such-host.invalid', which does not resolve")
        );
        assert!(matches!(
            parse_bind("[::1]:8000", "/".as_ref()).unwrap(),
            Bind::Tcp(addr) if addr.is_ipv6()
        ));
    }

    /// An invalid `serve_bind` names the setting, its value, where it was
    /// set and the forms it takes; never `--bind`.
    #[test]
    fn an_invalid_serve_bind_names_the_setting_and_where_it_was_set() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("settings.toml");
        std::fs::write(&file, "serve_bind = \"abc\"\n").unwrap();
        let settings = crate::conf::Settings::load(&file).unwrap();
        let error = serve_bind_setting(&settings, "mysite", false).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "serve_bind \"abc\" (in {}) is not HOST:PORT, [IPv6]:PORT or unix:/path",
                file.display()
            )
        );
        assert_eq!(
            error.hint().as_deref(),
            Some(
                "write serve_bind as HOST:PORT, [IPv6]:PORT or unix:/path: \"127.0.0.1:8000\", \
                 \"[::1]:8000\" or \"unix:/run/mysite/mysite.sock\""
            )
        );
        let error = serve_bind_setting(&settings, "mysite", true).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("serve_bind \"abc\" (set by NUAGES_SERVE_BIND) is not"),
            "{error}"
        );
        std::fs::write(&file, "serve_bind = \"unix:run/site.sock\"\n").unwrap();
        let settings = crate::conf::Settings::load(&file).unwrap();
        assert_eq!(
            serve_bind_setting(&settings, "mysite", false).unwrap(),
            Bind::Unix(dir.path().join("run/site.sock"))
        );
    }
}
