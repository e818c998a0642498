//! What several test files share: an application on a real loopback
//! socket, and responses as they came off the wire.

#![allow(dead_code)] // each test file uses a part

use std::io::{Read, Write};
use std::time::Duration;

use nuages::Application;

/// An application answering on a real loopback socket, for raw requests
/// that no client normalises; stopped when dropped.
pub struct Listening {
    addr: std::net::SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Listening {
    pub fn start(application: Application) -> Listening {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = runtime.spawn(nuages::server::serve_tcp(listener, application, async {
            let _ = stopped.await;
        }));
        Listening {
            addr,
            runtime,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// `GET path` with these extra header lines, on a new connection.
    pub fn get(&self, path: &str, headers: &str) -> RawResponse {
        self.send(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n")
                .as_bytes(),
        )
    }

    /// Send these bytes on a new connection and read the response to the end.
    pub fn send(&self, request: &[u8]) -> RawResponse {
        self.send_pieces(std::iter::once(request.to_vec()))
    }

    /// Send these pieces, made one after the other (a large body need not
    /// be in memory whole), on a new connection, and read the response.
    pub fn send_pieces(&self, pieces: impl IntoIterator<Item = Vec<u8>>) -> RawResponse {
        let mut stream = std::net::TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        for piece in pieces {
            stream.write_all(&piece).unwrap();
        }
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        RawResponse::parse(raw)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server).unwrap().unwrap();
        }
    }
}

/// A response as it came off the wire.
pub struct RawResponse {
    pub raw: Vec<u8>,
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn parse(raw: Vec<u8>) -> RawResponse {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(raw.len(), |p| p + 4);
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        RawResponse {
            body: raw[split..].to_vec(),
            raw,
            status,
            head,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// Whether the bytes on the wire hold `needle` anywhere.
    pub fn holds(&self, needle: &[u8]) -> bool {
        self.raw.windows(needle.len()).any(|w| w == needle)
    }
}

/// What tracing writes, kept to be read back (see [`capture_logs`]).
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What this thread logs from now until the guard drops.
pub fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// A mail server on a loopback port that takes connections and never says
/// a word (a hung server): its port, and how many connections it took.
pub fn silent_mail_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let smtp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = smtp.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in smtp.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (port, connections)
}
