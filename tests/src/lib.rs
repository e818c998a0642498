//! Helpers for the end-to-end tests: the built `manage`, generated projects
//! that share one target folder and the workspace's Cargo.lock, free ports,
//! and a small HTTP client for real servers on loopback; [`postgres`]
//! starts throwaway PostgreSQL servers.

pub mod browser;
pub mod logs;
pub mod postgres;

pub mod redis;
pub mod smtp;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The target folder these tests were built in (shared with generated projects).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // target/debug/deps/<test binary>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// `cargo`, as the one running these tests.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.env("CARGO_TARGET_DIR", target_dir());
    without_test_binary_env(&mut command);
    command
}

/// Remove what cargo sets for the test binary running this: build scripts
/// that watch them (ring's `rerun-if-env-changed=CARGO_MANIFEST_DIR`) would
/// otherwise rebuild half the tree in a nested cargo, and again at the next
/// `cargo test`; and two nested builds that differ in them rebuild each other.
fn without_test_binary_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
            ]
            .contains(&key.as_ref())
        {
            command.env_remove(key.as_ref());
        }
    }
}

/// The `manage` binary, built once per test run.
pub fn manage_path() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = cargo()
            .args(["build", "--quiet", "-p", "nuages-cli"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building manage failed");
        target_dir().join("debug/manage")
    })
}

/// The example project's binary (`mysite`), built once per test run.
pub fn example_path() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = cargo()
            .args(["build", "--quiet", "-p", "mysite"])
            .current_dir(workspace_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example failed");
        target_dir().join("debug/mysite")
    })
}

/// `manage` with the environment of a new user: no NUAGES_* variables.
pub fn manage(dir: &Path) -> Command {
    let mut command = Command::new(manage_path());
    command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir());
    // `manage` runs cargo: the same environment as `cargo()`'s builds.
    without_test_binary_env(&mut command);
    for (key, _) in std::env::vars() {
        if key.starts_with("NUAGES_") {
            command.env_remove(key);
        }
    }
    command
}

/// The account running the tests, which stands in for the service account.
pub fn test_user() -> String {
    nuages::checks::files::Identity::current()
        .name
        .expect("the test user has a name")
}

/// The primary group of `user` on this machine, or (`None`) the group the
/// tests run as, by its name: what `id -gn` prints.
pub fn group_of(user: Option<&str>) -> String {
    let output = Command::new("id")
        .arg("-gn")
        .args(user)
        .output()
        .expect("id runs");
    assert!(output.status.success(), "id -gn {user:?}: {output:?}");
    String::from_utf8(output.stdout)
        .expect("a group name in UTF-8")
        .trim()
        .to_string()
}

/// `command`, a `serve` whose production settings name the site's own
/// account in `serve_user` (there is no such account here), serving as the
/// account running the tests: `serve` refuses to run as root for another
/// account, and CI runs the tests as root.
pub fn as_serve_user(command: &mut Command) -> &mut Command {
    command.env("NUAGES_SERVE_USER", test_user())
}

/// Run with `input` on stdin (a pipe, not a terminal) and capture; the
/// exit status, stdout and stderr as text.
pub fn run_with_input(
    command: &mut Command,
    input: &str,
) -> (std::process::ExitStatus, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    // A command that refuses before it reads its input exits and closes the
    // pipe: its status and output are the result, not a failure to write.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(error) = written
        && error.kind() != std::io::ErrorKind::BrokenPipe
    {
        panic!("writing the command's input: {error}");
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Run and capture; stdout and stderr as text.
pub fn run(command: &mut Command) -> (Output, String, String) {
    let output = command.output().expect("the command starts");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output, stdout, stderr)
}

/// Run and capture, as [`run`], for a command that must not wait on
/// anything: one still running after `limit` is killed (with whatever it
/// started) and fails the test, instead of hanging the test run.
pub fn run_within(
    command: &mut Command,
    limit: Duration,
) -> (std::process::ExitStatus, String, String) {
    use std::os::unix::process::CommandExt;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("the command starts");
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let status = wait_for(limit, || child.try_wait().ok().flatten());
    if status.is_none() {
        // SAFETY: the process group of our own child.
        unsafe {
            libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = child.wait();
    }
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    match status {
        Some(status) => (status, stdout, stderr),
        None => panic!("{command:?} still ran after {limit:?}, and was killed: {stdout}{stderr}"),
    }
}

/// A project generated by `manage startproject NAME` in a temporary folder.
pub struct GeneratedProject {
    /// Keeps the folder alive.
    pub temp: tempfile::TempDir,
    /// The project folder.
    pub dir: PathBuf,
    /// Its name.
    pub name: String,
}

impl GeneratedProject {
    /// Generate `name`. `manage` built from this checkout writes the
    /// checkout's Cargo.lock into the project, so builds reuse artifacts and
    /// need no registry index (`cargo` below runs `--offline`).
    pub fn new(name: &str) -> GeneratedProject {
        let temp = tempfile::tempdir().unwrap();
        let (output, stdout, stderr) = run(manage(temp.path()).args(["startproject", name]));
        assert!(
            output.status.success(),
            "startproject failed: {stdout}{stderr}"
        );
        let dir = temp.path().join(name);
        GeneratedProject {
            temp,
            dir,
            name: name.to_string(),
        }
    }

    /// `manage ARGS` inside the project.
    pub fn manage(&self, args: &[&str]) -> (Output, String, String) {
        run(manage(&self.dir).args(args))
    }

    /// `cargo ARGS` inside the project, offline, sharing the target folder.
    pub fn cargo(&self, args: &[&str]) -> (Output, String, String) {
        run(cargo().args(args).arg("--offline").current_dir(&self.dir))
    }

    /// Write a file of the project.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768–60999 by default): a port
    // the kernel hands out for ":0" is also the kind outgoing connections
    // (to PostgreSQL, Redis, the servers) take as their local port, so it
    // could be gone by the time a server binds it; down here only another
    // listener can take it. Each call of a test binary tries its own
    // sequence, from an offset of the process id.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    let offset = std::process::id().wrapping_mul(7_919);
    for _ in 0..COUNT {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (FIRST + offset.wrapping_add(n.wrapping_mul(97)) % COUNT) as u16;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A response read off the wire.
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
    /// The body's bytes, de-chunked.
    pub bytes: Vec<u8>,
    /// Everything received, as it came off the wire.
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for HttpResponse {
    // The text, not the bytes: what a reader of a failed test wants.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl HttpResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the bytes received hold `needle` anywhere (head or body).
    pub fn holds(&self, needle: &[u8]) -> bool {
        self.raw.windows(needle.len()).any(|w| w == needle)
    }
}

/// One HTTP/1.1 request on a new connection.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<HttpResponse> {
    http_within(addr, method, path, headers, body, Duration::from_secs(30))
}

/// The same, failing when a read waits longer than `limit` (for servers
/// that must answer at once).
pub fn http_within(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    limit: Duration,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(limit))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        request.push_str("Host: localhost\r\n");
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::other(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&raw)
        ))
    })
}

/// Read one response off a keep-alive connection: the head, then as many
/// body bytes as `Content-Length` says.
pub fn read_response(stream: &mut impl Read) -> std::io::Result<HttpResponse> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.push(byte[0]);
    }
    let head = parse_response(&raw).ok_or_else(|| {
        std::io::Error::other(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&raw)
        ))
    })?;
    let length = head
        .header("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    Ok(HttpResponse {
        body: String::from_utf8_lossy(&body).into_owned(),
        ..head
    })
}

/// GET `path`.
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    http(addr, "GET", path, &[], "")
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let (status, headers) = parse_head(&String::from_utf8_lossy(&raw[..split]))?;
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body)?;
    }
    Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
        bytes: body,
        raw: raw.to_vec(),
    })
}

/// The status and the headers (names lowercased) of a response head.
fn parse_head(head: &str) -> Option<(u16, Vec<(String, String)>)> {
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((status, headers))
}

/// The dot paths the generated nginx configuration answers itself, 404,
/// never passing them to serve (RFC 8615's `/.well-known/` passes, a dot
/// below it does not): `get` asks nginx for one.
pub fn assert_nginx_refuses_dot_paths(get: impl Fn(&str) -> HttpResponse) {
    for dotted in ["/.env", "/.git/config", "/.well-known/.git/config"] {
        let response = get(dotted);
        assert_eq!(response.status, 404, "{dotted}: {response:?}");
        assert!(
            response.body.contains("<center>nginx</center>"),
            "{dotted}: {response:?}"
        );
    }
}

/// GET `https://HOST:PORT/PATH` with curl, HOST resolved to 127.0.0.1 (as
/// a browser would send it: SNI and Host are HOST) and any certificate
/// accepted; the response and the HTTP version curl used (`2`, `1.1`).
pub fn curl_https(host: &str, port: u16, path: &str) -> std::io::Result<(HttpResponse, String)> {
    let temp = tempfile::tempdir()?;
    let head = temp.path().join("head");
    let body = temp.path().join("body");
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--insecure", "--max-time", "30"])
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg("--dump-header")
        .arg(&head)
        .arg("--output")
        .arg(&body)
        .args(["--write-out", "%{http_version}"])
        .arg(format!("https://{host}:{port}{path}"))
        .output()?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!(
            "curl: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let head_text = std::fs::read_to_string(&head)?;
    let (status, headers) = parse_head(&head_text)
        .ok_or_else(|| std::io::Error::other(format!("not a response head: {head_text:?}")))?;
    let bytes = std::fs::read(&body)?;
    let mut raw = head_text.clone().into_bytes();
    raw.extend_from_slice(&bytes);
    let response = HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).to_string(),
        bytes,
        raw,
    };
    Ok((
        response,
        String::from_utf8_lossy(&output.stdout).to_string(),
    ))
}

/// A self-signed certificate for `host` and its key, made by `openssl req
/// -x509` in `dir`: (certificate, key). It is a server's certificate, not a
/// CA's (`CA:FALSE`), so that a client that trusts it as its own root
/// (rustls, through `SSL_CERT_FILE`) accepts it.
pub fn self_signed_certificate(dir: &Path, host: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{host}.pem"));
    let key = dir.join(format!("{host}.key"));
    let (output, stdout, stderr) = run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .arg("-subj")
        .arg(format!("/CN={host}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{host}"))
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert!(output.status.success(), "openssl req: {stdout}{stderr}");
    (cert, key)
}

/// Whether `tool` (an absolute path) is installed. In CI (`CI` set) a
/// missing tool fails the test, as `.ci/run` installs them; elsewhere the
/// test is skipped with a message.
pub fn require(tool: &str) -> bool {
    if Path::new(tool).exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is missing: .ci/run must install it");
    }
    eprintln!("SKIPPED: {tool} is not installed");
    false
}

/// An nginx main configuration that runs unprivileged-style in `dir` (its
/// prefix: pid, logs and temporary files there, in the foreground) and
/// `deployconfig nginx` (plain HTTP on a free loopback port, for
/// example.test, and `extra` flags) written to `work/site.conf`: the file and
/// what the command printed on stderr, and the address nginx will answer on.
pub fn deployconfig_nginx(
    command: &mut Command,
    work: &Path,
    extra: &[&str],
) -> (std::path::PathBuf, String, SocketAddr) {
    let port = free_port();
    let site = work.join("site.conf");
    let (output, stdout, stderr) = run(command
        .args([
            "deployconfig",
            "nginx",
            // Plain HTTP on loopback in these tests (tests/tests/deploy_tls.rs has TLS).
            "--plain-http",
            "--listen",
            &port.to_string(),
            "--server-name",
            "example.test",
            "-o",
            site.to_str().unwrap(),
        ])
        .args(extra));
    assert!(output.status.success(), "{stdout}{stderr}");
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    (site, stderr, addr)
}

/// `nginx -t` of a main configuration in `work` that includes the generated
/// `site`, written to `work/nginx.conf`.
pub fn nginx_syntax_ok(work: &Path, site: &Path) {
    let main = work.join("nginx.conf");
    std::fs::write(&main, nginx_config(work, site)).unwrap();
    let (output, stdout, stderr) = run(Command::new("/usr/sbin/nginx")
        .arg("-t")
        .arg("-p")
        .arg(work)
        .arg("-c")
        .arg(&main));
    assert!(output.status.success(), "nginx -t: {stdout}{stderr}");
}

/// nginx run from `work` with the `site` configuration, once `nginx -t`
/// accepts it, answering on `addr`.
pub fn start_nginx(work: &Path, site: &Path, addr: SocketAddr) -> Server {
    nginx_syntax_ok(work, site);
    let main = work.join("nginx.conf");
    let nginx = Server::start(
        Command::new("/usr/sbin/nginx")
            .arg("-p")
            .arg(work)
            .arg("-c")
            .arg(&main),
        work,
        "nginx",
    );
    wait_for(Duration::from_secs(20), || {
        http(addr, "GET", "/", &[("Host", "example.test")], "").ok()
    })
    .unwrap_or_else(|| panic!("nginx did not start: {}", nginx.output()));
    nginx
}

/// The `csrftoken` cookie and the form's CSRF token, from a GET of the
/// form page at `path` (with these request headers).
pub fn form_credentials(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, String) {
    let page = http(addr, "GET", path, headers, "").unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .find_map(|(_, v)| {
            v.strip_prefix("csrftoken=")
                .map(|rest| rest.split(';').next().unwrap().to_string())
        })
        .expect("a csrftoken cookie");
    let token = browser::csrf_field(&page.body).expect("a CSRF field");
    (cookie, token)
}

/// `sessionid=KEY`, from the response that started the session.
pub fn session_cookie(response: &HttpResponse) -> String {
    response
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .find_map(|(_, v)| v.strip_prefix("sessionid="))
        .map(|rest| format!("sessionid={}", rest.split(';').next().unwrap()))
        .expect("the response starts a session")
}

/// includes the `site` configuration written by `deployconfig nginx`.
pub fn nginx_config(dir: &Path, site: &Path) -> String {
    let d = dir.display();
    format!(
        "user root;\nworker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nevents {{}}\nhttp {{\n  include /etc/nginx/mime.types;\n  access_log {d}/nginx-access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {};\n}}\n",
        site.display()
    )
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end])
                .split(';')
                .next()?
                .trim(),
            16,
        )
        .ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// That none of `paths` reached the application `server` answers at
/// `app`: a page asked of it directly (with `host`) is waited for in its
/// access log, which is written in order, so a line of theirs would be
/// there by then.
pub fn assert_reached_none(server: &Server, app: SocketAddr, host: &str, paths: &[&str]) {
    let marker = "/?reached-none-marker";
    let _ = http(app, "GET", marker, &[("Host", host)], "");
    let log = wait_for(Duration::from_secs(10), || {
        let log = server.output();
        log.contains(marker).then_some(log)
    })
    .unwrap_or_else(|| panic!("no access line for {marker}: {}", server.output()));
    for path in paths {
        assert!(!log.contains(path), "{path} reached the application: {log}");
    }
}

/// Poll `check` until it returns Some or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(value) = check() {
            return Some(value);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// A background process that is stopped (SIGTERM, then SIGKILL) when dropped,
/// with its output collected in files.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Where its stdout goes.
    pub stdout: PathBuf,
    /// Where its stderr goes.
    pub stderr: PathBuf,
}

impl Server {
    /// Start `command` with output to files in `logs`.
    pub fn start(command: &mut Command, logs: &Path, name: &str) -> Server {
        let stdout = logs.join(format!("{name}.out"));
        let stderr = logs.join(format!("{name}.err"));
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("the server starts");
        Server {
            child,
            stdout,
            stderr,
        }
    }

    /// What it printed so far, stdout then stderr.
    pub fn output(&self) -> String {
        format!(
            "{}{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Send a signal.
    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// SIGTERM and wait (up to `limit`); the exit status.
    pub fn stop(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        wait_for(limit, || self.child.try_wait().ok().flatten())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGTERM);
            if wait_for(Duration::from_secs(5), || {
                self.child.try_wait().ok().flatten()
            })
            .is_none()
            {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// `manage ARGS` inside `project` with extra environment variables (set
/// after the NUAGES_* ones are cleared, so they count).
pub fn manage_env(
    project: &GeneratedProject,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, String, String) {
    let mut command = manage(&project.dir);
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    run(&mut command)
}

/// A JSON value, for tests that check a command's JSON output without a
/// JSON library.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in their order.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }
}

/// Parse one JSON document (RFC 8259); the error names the byte offset.
pub fn parse_json(text: &str) -> Result<Json, String> {
    let mut parser = JsonParser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = parser.value()?;
    parser.space();
    if parser.at != parser.bytes.len() {
        return Err(format!("trailing text at byte {}", parser.at));
    }
    Ok(value)
}

struct JsonParser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl JsonParser<'_> {
    fn space(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            self.error("unexpected text")
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.space();
        match self.bytes.get(self.at) {
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return self.error("expected , or ]"),
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut members = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.space();
                    if self.bytes.get(self.at) != Some(&b'"') {
                        return self.error("expected a key");
                    }
                    let key = self.string()?;
                    self.space();
                    if self.bytes.get(self.at) != Some(&b':') {
                        return self.error("expected :");
                    }
                    self.at += 1;
                    members.push((key, self.value()?));
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return self.error("expected , or }"),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while matches!(
                    self.bytes.get(self.at),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap();
                text.parse()
                    .map(Json::Number)
                    .or_else(|_| self.error("invalid number"))
            }
            _ => self.error("expected a value"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let start = self.at;
            while !matches!(self.bytes.get(self.at), Some(b'"' | b'\\') | None) {
                if self.bytes[self.at] < 0x20 {
                    return self.error("control character in a string");
                }
                self.at += 1;
            }
            out.push_str(
                std::str::from_utf8(&self.bytes[start..self.at]).map_err(|e| e.to_string())?,
            );
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape = *self.bytes.get(self.at + 1).ok_or("unfinished escape")?;
                    self.at += 2;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code)
                                && self.bytes[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let low = self.hex4()?;
                                code = 0x10000
                                    + ((code - 0xd800) << 10)
                                    + (low.wrapping_sub(0xdc00) & 0x3ff);
                            }
                            out.push(char::from_u32(code).ok_or("invalid \\u escape")?);
                        }
                        _ => return self.error("invalid escape"),
                    }
                }
                _ => return self.error("unterminated string"),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or("short \\u escape")?;
        self.at += 4;
        u32::from_str_radix(std::str::from_utf8(digits).map_err(|e| e.to_string())?, 16)
            .map_err(|e| e.to_string())
    }
}

/// The example project's binary (`mysite`), built once, migrated and
/// seeded against a database of its own (`db/example.sqlite3` in `dir`).
pub struct Example {
    /// The temporary folder of its settings file and database.
    pub dir: tempfile::TempDir,
    /// Its settings file, which extends the example's.
    pub settings: PathBuf,
    /// The built binary.
    pub bin: PathBuf,
}

impl Example {
    /// Build the example, write its settings, run `migrate` and `seed`,
    /// on SQLite.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Example {
        Example::on(postgres::Backend::Sqlite).expect("SQLite is always there")
    }

    /// [`Example::new`] on a new database of `backend`; `None` when that
    /// database is not installed (outside CI).
    pub fn on(backend: postgres::Backend) -> Option<Example> {
        let url = backend.url("sqlite://db/example.sqlite3")?;
        let bin = example_path().to_path_buf();
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("settings.toml");
        let base = workspace_root().join("example_project/settings.toml");
        std::fs::write(
            &settings,
            format!(
                "extends = {:?}\ntemplate_dirs = [\"{project}/templates\"]\nstaticfiles_dirs = [\"{project}/static\"]\n[databases.default]\nurl = \"{url}\"\n",
                base.display().to_string(),
                project = workspace_root().join("example_project").display()
            ),
        )
        .unwrap();
        let example = Example { dir, settings, bin };
        for command in ["migrate", "seed"] {
            let output = example.command().arg(command).output().unwrap();
            assert!(
                output.status.success(),
                "{command}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Some(example)
    }

    /// `NAME.toml` in the example's folder: `extends` the settings file
    /// `base`, then `lines`. Its path.
    pub fn settings_extending(&self, base: &Path, name: &str, lines: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.toml"));
        let text = format!("extends = {:?}\n{lines}", base.display().to_string());
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `createsuperuser --noinput --username USERNAME --email EMAIL
    /// --password-stdin` with `settings`, `password` on stdin; it must
    /// succeed.
    pub fn create_superuser(&self, settings: &Path, username: &str, email: &str, password: &str) {
        let args = [
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            email,
            "--password-stdin",
        ];
        let (status, stdout, stderr) = run_with_input(
            self.command_with(settings).args(args),
            &format!("{password}\n"),
        );
        assert!(status.success(), "{stdout}{stderr}");
    }

    /// `serve` of the example with `settings` on a free loopback port,
    /// once it answers `GET /polls/` for `host`; its output in files named
    /// after `name`.
    pub fn serve_with(&self, settings: &Path, name: &str, host: &str) -> (Server, SocketAddr) {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let server = Server::start(
            self.command_with(settings)
                .args(["serve", "--bind", &addr.to_string()]),
            self.dir.path(),
            name,
        );
        wait_for(Duration::from_secs(30), || {
            http(addr, "GET", "/polls/", &[("Host", host)], "").ok()
        })
        .unwrap_or_else(|| panic!("{name} did not start: {}", server.output()));
        (server, addr)
    }

    /// The binary with `--settings` and no `NUAGES_*` variables.
    pub fn command(&self) -> Command {
        self.command_with(&self.settings)
    }

    /// Run the binary with `args` and `input` on stdin (a pipe, not a
    /// terminal): its exit status, stdout and stderr.
    pub fn piped(&self, args: &[&str], input: &str) -> (std::process::ExitStatus, String, String) {
        run_with_input(self.command().args(args), input)
    }

    /// The binary with these settings and no `NUAGES_*` variables.
    pub fn command_with(&self, settings: &Path) -> Command {
        let mut command = Command::new(&self.bin);
        command.arg("--settings").arg(settings);
        for (key, _) in std::env::vars() {
            if key.starts_with("NUAGES_") {
                command.env_remove(key);
            }
        }
        command
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn json_documents_parse_and_bad_ones_do_not() {
        let value = parse_json(
            r#" [{"id": "a.W001", "hint": null, "n": -1.5e2, "ok": true, "s": "t\"\u00e9\n"}] "#,
        )
        .unwrap();
        let Json::Array(items) = &value else {
            panic!("{value:?}")
        };
        assert_eq!(items[0].get("id").and_then(Json::as_str), Some("a.W001"));
        assert_eq!(items[0].get("hint"), Some(&Json::Null));
        assert_eq!(items[0].get("n"), Some(&Json::Number(-150.0)));
        assert_eq!(items[0].get("s").and_then(Json::as_str), Some("t\"é\n"));
        assert_eq!(parse_json("[]").unwrap(), Json::Array(vec![]));
        for bad in [
            "",
            "[",
            "[1,]",
            "{\"a\" 1}",
            "\"open",
            "[] x",
            "nul",
            "{1: 2}",
        ] {
            assert!(parse_json(bad).is_err(), "{bad:?} parsed");
        }
    }
}
