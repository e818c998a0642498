//! The request target, the host and the headers every response carries,
//! over a real socket: each request is written as raw bytes to
//! `nuages::server::serve` on loopback, so no client normalises it, and the
//! assertions are on the status line and the header lines that come back.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::routing::post;
use nuages::middleware::security::ConnectionInfo;
use nuages::server::{Listener, ServeOptions};
use nuages::{Application, Project};

const SECRET: &str = "a-very-secret-key-that-must-never-appear-in-a-page-1234567890";

/// A CSRF secret: sent as the cookie and, as is, as the `X-CSRFToken` header.
const CSRF_SECRET: &str = "abcdefghijklmnopqrstuvwxyzABCDEF";

async fn home() -> &'static str {
    "home"
}

async fn api(body: String) -> String {
    format!("got {} bytes", body.len())
}

async fn panics() -> String {
    panic!("the view blew up")
}

fn urlpatterns() -> nuages::urls::UrlConf {
    nuages::urls::UrlConf::new()
        .path("home/", home, "home")
        .path("api/", post(api), "api")
        .path("panic/", panics, "panic")
        .path("<str:user>/profile/", home, "profile")
}

/// A project folder with `settings` (plus a secret key) and a static file.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(settings: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("static/css")).unwrap();
        std::fs::write(dir.path().join("static/css/site.css"), "body{}").unwrap();
        std::fs::write(
            dir.path().join("settings.toml"),
            format!(
                "secret_key = \"{SECRET}\"\nstaticfiles_dirs = [\"static\"]\n\
                 data_upload_max_memory_size = 1000\n{settings}"
            ),
        )
        .unwrap();
        Site { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn application(&self) -> Application {
        let settings = nuages::conf::SettingsLoader::new(self.path().join("settings.toml"))
            .env(Vec::<(String, String)>::new())
            .load()
            .unwrap();
        Application::new(
            Project::new("wire", self.path()).urls(urlpatterns),
            settings,
        )
        .unwrap()
    }

    fn serve(&self) -> Server {
        Server::start(self.application())
    }
}

/// `nuages::server::serve` on a loopback port, stopped when dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: tokio::runtime::Runtime,
    task: Option<tokio::task::JoinHandle<std::io::Result<nuages::server::Stopped>>>,
}

impl Server {
    fn start(application: Application) -> Server {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(nuages::server::serve(
            Listener::Tcp(listener),
            application,
            ServeOptions::default(),
            async {
                let _ = stopped.await;
            },
        ));
        Server {
            addr,
            stop: Some(stop),
            runtime,
            task: Some(task),
        }
    }

    /// Write `head` (the request line and header lines, each ending in
    /// CRLF, without the blank line) and read the whole answer.
    fn send(&self, head: &str) -> Reply {
        send(self.addr, head)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.runtime.block_on(task);
        }
    }
}

/// The head of an answer read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Header lines, names lowercased, in order.
    headers: Vec<(String, String)>,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn send(addr: SocketAddr, head: &str) -> Reply {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(stream, "{head}Connection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let head_end = text.find("\r\n\r\n").unwrap_or(text.len());
    let mut lines = text[..head_end].split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer to {head:?}: {text:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        text,
    }
}

// ------------------------------------------------------------ the host

#[test]
fn two_host_lines_are_refused_whatever_their_values() {
    let site = Site::new("allowed_hosts = [\"localhost\", \"example.com\"]\n");
    let server = site.serve();
    assert_eq!(
        server
            .send("GET /home/ HTTP/1.1\r\nHost: localhost\r\n")
            .status,
        200
    );
    for hosts in [
        "Host: localhost\r\nHost: localhost\r\n",
        "Host: localhost\r\nHost: example.com\r\n",
        "Host: localhost\r\nHost: evil.example\r\n",
        "Host: evil.example\r\nHost: localhost\r\n",
    ] {
        let reply = server.send(&format!("GET /home/ HTTP/1.1\r\n{hosts}"));
        assert_eq!(reply.status, 400, "{hosts:?}: {}", reply.text);
        assert!(!reply.text.ends_with("home"), "{hosts:?}");
    }
}

#[test]
fn an_absolute_form_target_names_the_host() {
    let site = Site::new("allowed_hosts = [\"localhost\", \"example.com\"]\n");
    let server = site.serve();
    // The target's authority is the host: allowed, and agreeing with Host.
    let reply = server.send("GET http://localhost/home/ HTTP/1.1\r\nHost: localhost\r\n");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.text.ends_with("home"));
    let reply = server.send("GET http://LocalHost:80/home/ HTTP/1.1\r\nHost: localhost:80\r\n");
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Not allowed: refused, whatever the Host header says.
    for target in [
        "http://evil.example/home/",
        "http://evil.example:80/home/",
        "https://evil.example/home/",
    ] {
        let reply = server.send(&format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n"));
        assert_eq!(reply.status, 400, "{target}: {}", reply.text);
    }
    // Userinfo is no part of a host.
    for target in [
        "http://a@localhost/home/",
        "http://localhost@localhost/home/",
        "http://user:pw@localhost/home/",
    ] {
        let reply = server.send(&format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n"));
        assert_eq!(reply.status, 400, "{target}: {}", reply.text);
    }
    // Two allowed hosts that disagree: which one did the client mean?
    let reply = server.send("GET http://example.com/home/ HTTP/1.1\r\nHost: localhost\r\n");
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = server.send("GET http://localhost/home/ HTTP/1.1\r\nHost: example.com\r\n");
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = server.send("GET http://localhost:8000/home/ HTTP/1.1\r\nHost: localhost:9000\r\n");
    assert_eq!(reply.status, 400, "{}", reply.text);
}

/// A host alone as the target (authority form) is a proxy's CONNECT
/// (RFC 9112 §3.2.3): this site is no proxy, whatever the method.
#[test]
fn an_authority_form_target_is_refused() {
    let site = Site::new("debug = true\nallowed_hosts = [\"localhost\", \"example.com\"]\n");
    let server = site.serve();
    for method in ["GET", "POST", "CONNECT", "OPTIONS"] {
        let reply = server.send(&format!(
            "{method} example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nAccept: text/plain\r\nContent-Length: 0\r\n"
        ));
        assert_eq!(reply.status, 400, "{method}: {}", reply.text);
        assert!(
            reply.text.contains("authority form"),
            "{method}: {}",
            reply.text
        );
    }
}

#[test]
fn a_refused_target_is_explained_in_debug() {
    let site = Site::new("debug = true\nallowed_hosts = [\"localhost\", \"example.com\"]\n");
    let server = site.serve();
    let reply = server
        .send("GET http://example.com/home/ HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n");
    assert_eq!(reply.status, 400);
    assert!(
        reply.text.contains("'example.com'") && reply.text.contains("'localhost'"),
        "{}",
        reply.text
    );
    let reply = server.send(
        "GET /home/ HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\nAccept: text/plain\r\n",
    );
    assert_eq!(reply.status, 400);
    assert!(reply.text.contains("Host header"), "{}", reply.text);
}

#[test]
fn forwarded_host_lists_are_refused_whole() {
    let site = Site::new(
        "allowed_hosts = [\"localhost\", \"proxy.internal\"]\nuse_x_forwarded_host = true\n",
    );
    let server = site.serve();
    let reply = server
        .send("GET /home/ HTTP/1.1\r\nHost: proxy.internal\r\nX-Forwarded-Host: localhost\r\n");
    assert_eq!(reply.status, 200, "{}", reply.text);
    for forwarded in [
        "X-Forwarded-Host: localhost, evil.example\r\n",
        "X-Forwarded-Host: localhost,proxy.internal\r\n",
        "X-Forwarded-Host: localhost\r\nX-Forwarded-Host: evil.example\r\n",
        "X-Forwarded-Host: localhost\r\nX-Forwarded-Host: localhost\r\n",
    ] {
        let reply = server.send(&format!(
            "GET /home/ HTTP/1.1\r\nHost: proxy.internal\r\n{forwarded}"
        ));
        assert_eq!(reply.status, 400, "{forwarded:?}: {}", reply.text);
    }
}

// ------------------------------------------------------------ secure requests

#[test]
fn the_target_scheme_never_makes_a_request_secure() {
    let site = Site::new(
        "allowed_hosts = [\"localhost\"]\nsecure_ssl_redirect = true\nsecure_hsts_seconds = 3600\n\
         secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\n",
    );
    let server = site.serve();
    for target in [
        "https://localhost/home/",
        "HTTPS://localhost/home/",
        "/home/",
    ] {
        let reply = server.send(&format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n"));
        assert_eq!(reply.status, 301, "{target}: {}", reply.text);
        assert_eq!(reply.header("location"), Some("https://localhost/home/"));
        assert_eq!(reply.header("strict-transport-security"), None, "{target}");
    }
    // What does make it secure: the proxy's header, as configured...
    let reply = server.send(
        "GET https://localhost/home/ HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-Proto: https\r\n",
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=3600")
    );
    // ...or the server that terminated TLS, with ConnectionInfo.
    let tls = axum::Router::new()
        .fallback_service(site.application())
        .layer(axum::middleware::map_request(
            |mut request: axum::extract::Request| async move {
                request
                    .extensions_mut()
                    .insert(ConnectionInfo { secure: true });
                request
            },
        ));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, tls).await });
    let reply = send(addr, "GET /home/ HTTP/1.1\r\nHost: localhost\r\n");
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("strict-transport-security"),
        Some("max-age=3600")
    );
}

/// The https redirect of an asterisk-form target (`OPTIONS * HTTP/1.1`, or
/// `GET *`) is a well-formed URL on the validated host, its path `/*` as
/// Django's request path makes of it: never `https://localhost*`, which a
/// client reads as another host.
#[test]
fn the_https_redirect_of_an_asterisk_target_stays_on_the_host() {
    let site = Site::new("allowed_hosts = [\"localhost\"]\nsecure_ssl_redirect = true\n");
    let server = site.serve();
    for method in ["OPTIONS", "GET"] {
        let reply = server.send(&format!("{method} * HTTP/1.1\r\nHost: localhost\r\n"));
        assert_eq!(reply.status, 301, "{method}: {}", reply.text);
        assert_eq!(
            reply.header("location"),
            Some("https://localhost/*"),
            "{method}"
        );
    }
}

#[test]
fn csrf_sees_the_same_secure_decision() {
    let site = Site::new("allowed_hosts = [\"localhost\"]\n");
    let server = site.serve();
    let post = |target: &str, origin: &str| {
        server.send(&format!(
            "POST {target} HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\n\
             Cookie: csrftoken={CSRF_SECRET}\r\nX-CSRFToken: {CSRF_SECRET}\r\nContent-Length: 0\r\n"
        ))
    };
    // Over plain TCP the request's origin is http://localhost.
    let reply = post("/api/", "http://localhost");
    assert_eq!(reply.status, 200, "{}", reply.text);
    for target in ["/api/", "https://localhost/api/"] {
        let reply = post(target, "https://localhost");
        assert_eq!(reply.status, 403, "{target}: {}", reply.text);
    }
    let reply = post("https://localhost/api/", "http://localhost");
    assert_eq!(reply.status, 200, "{}", reply.text);
}

// ------------------------------------------------------------ headers on every response

/// The headers of the default settings, plus HSTS on secure requests.
fn assert_security_headers(reply: &Reply, secure: bool, what: &str) {
    let expected = [
        ("x-content-type-options", Some("nosniff")),
        ("referrer-policy", Some("same-origin")),
        ("cross-origin-opener-policy", Some("same-origin")),
        ("x-frame-options", Some("DENY")),
        (
            "strict-transport-security",
            secure.then_some("max-age=3600"),
        ),
    ];
    for (name, value) in expected {
        assert_eq!(
            reply.header(name),
            value,
            "{name} on {what} ({}): {}",
            reply.status,
            reply.text
        );
        assert!(
            reply.headers.iter().filter(|(k, _)| k == name).count() <= 1,
            "{name} once on {what}"
        );
    }
}

/// Every kind of response the framework makes, each with its status.
const RESPONSES: &[(&str, &str, u16)] = &[
    ("a page", "GET /home/ HTTP/1.1\r\nHost: localhost\r\n", 200),
    (
        "a disallowed host",
        "GET /home/ HTTP/1.1\r\nHost: evil.example\r\n",
        400,
    ),
    (
        "two Host lines",
        "GET /home/ HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n",
        400,
    ),
    (
        "a body over the limit",
        "POST /api/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n",
        413,
    ),
    (
        "a post without a CSRF token",
        "POST /api/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n",
        403,
    ),
    (
        "a missing page",
        "GET /nowhere/ HTTP/1.1\r\nHost: localhost\r\n",
        404,
    ),
    (
        "a panicking view",
        "GET /panic/ HTTP/1.1\r\nHost: localhost\r\n",
        500,
    ),
    (
        "the APPEND_SLASH redirect",
        "GET /home HTTP/1.1\r\nHost: localhost\r\n",
        301,
    ),
];

/// `common`'s redirect to the path with a slash never leads off the site:
/// browsers read a backslash in `Location` as a slash, so `/\\evil.example/…`
/// would send the visitor to `evil.example`, as `//evil.example/…` would.
/// A path with a backslash is not redirected (404), as `//evil.example/…`
/// is not, and as a `next` parameter with one is not followed.
#[test]
fn the_slash_redirect_never_sends_a_backslash_that_leads_off_the_site() {
    let server = Site::new("debug = false\nallowed_hosts = [\"localhost\"]\n").serve();
    let ordinary = server.send("GET /alice/profile HTTP/1.1\r\nHost: localhost\r\n");
    assert_eq!(ordinary.status, 301, "{}", ordinary.text);
    assert_eq!(ordinary.header("location"), Some("/alice/profile/"));
    let redirected: Vec<String> = [
        "/\\evil.example/profile",
        "/\\\\evil.example/profile",
        "/a\\b/profile",
    ]
    .into_iter()
    .map(|path| {
        (
            path,
            server.send(&format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n")),
        )
    })
    .filter(|(_, reply)| reply.status != 404 || reply.header("location").is_some())
    .map(|(path, reply)| format!("{path}: {}", reply.text))
    .collect();
    assert!(redirected.is_empty(), "not a plain 404: {redirected:#?}");
}

#[test]
fn every_response_carries_the_security_headers() {
    for debug in [false, true] {
        let site = Site::new(&format!(
            "debug = {debug}\nallowed_hosts = [\"localhost\"]\nsecure_hsts_seconds = 3600\n\
             secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\n"
        ));
        let server = site.serve();
        for (what, head, status) in RESPONSES {
            for secure in [false, true] {
                let head = match secure {
                    true => format!("{head}X-Forwarded-Proto: https\r\n"),
                    false => head.to_string(),
                };
                let reply = server.send(&head);
                assert_eq!(reply.status, *status, "{what}: {}", reply.text);
                assert_security_headers(&reply, secure, &format!("{what}, debug = {debug}"));
            }
        }
        if debug {
            // Static files served by the application, found or not.
            let reply = server.send("GET /static/css/site.css HTTP/1.1\r\nHost: localhost\r\n");
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert_security_headers(&reply, false, "a static file");
            let reply = server.send("GET /static/css/none.css HTTP/1.1\r\nHost: localhost\r\n");
            assert_eq!(reply.status, 404, "{}", reply.text);
            assert_security_headers(&reply, false, "a missing static file");
        }
    }
}

#[test]
fn the_https_redirect_carries_the_security_headers() {
    let site = Site::new(
        "allowed_hosts = [\"localhost\"]\nsecure_ssl_redirect = true\nsecure_hsts_seconds = 3600\n",
    );
    let server = site.serve();
    let reply = server.send("GET /home/?a=1 HTTP/1.1\r\nHost: localhost\r\n");
    assert_eq!(reply.status, 301, "{}", reply.text);
    assert_eq!(
        reply.header("location"),
        Some("https://localhost/home/?a=1")
    );
    assert_security_headers(&reply, false, "the https redirect");
}

#[test]
fn the_headers_follow_the_middleware_setting() {
    // Without "security" and "xframe", no response carries their headers...
    let site = Site::new(
        "allowed_hosts = [\"localhost\"]\nsecure_hsts_seconds = 3600\n\
         middleware = [\"session\", \"common\", \"csrf\"]\n",
    );
    let server = site.serve();
    for (what, head, status) in RESPONSES {
        let reply = server.send(head);
        assert_eq!(reply.status, *status, "{what}: {}", reply.text);
        for name in [
            "x-content-type-options",
            "referrer-policy",
            "cross-origin-opener-policy",
            "x-frame-options",
        ] {
            assert_eq!(reply.header(name), None, "{name} on {what}");
        }
    }
    // ...and with one of them, that one's headers are on every response.
    let site = Site::new(
        "allowed_hosts = [\"localhost\"]\nx_frame_options = \"SAMEORIGIN\"\n\
         middleware = [\"session\", \"common\", \"csrf\", \"xframe\"]\n",
    );
    let server = site.serve();
    for (what, head, status) in RESPONSES {
        let reply = server.send(head);
        assert_eq!(reply.status, *status, "{what}: {}", reply.text);
        assert_eq!(
            reply.header("x-frame-options"),
            Some("SAMEORIGIN"),
            "{what}"
        );
        assert_eq!(reply.header("x-content-type-options"), None, "{what}");
    }
}
