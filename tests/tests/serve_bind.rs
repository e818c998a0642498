//! An invalid `serve_bind` on the example site: `check --deploy` reports
//! it as `nuages.E052` with its value, where it was set and the forms it
//! takes; `serve` and `deployconfig` refuse it in the same words, and
//! `serve` never blames `--bind`; `serve --bind` replaces it and serves; a
//! unix socket path it cannot use gets a hint about what is in the way, and
//! the socket it makes gets `serve_socket_mode`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nuages_e2e::{Example, Server, free_port, get, read_response, run, run_within, wait_for};

const HINT: &str = "\tHINT: write serve_bind as HOST:PORT, [IPv6]:PORT or unix:/path: \
                    \"127.0.0.1:8000\", \"[::1]:8000\" or \"unix:/run/mysite/mysite.sock\"\n";

/// Production settings for `serve`, with `more` lines.
fn production(example: &Example, more: &str) -> PathBuf {
    example.settings_extending(
        &example.settings,
        "settings.serve_bind",
        &format!(
            "debug = false\n\
             secret_key = \"serve-bind-test-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\n\
             allowed_hosts = [\"localhost\"]\n{more}\n"
        ),
    )
}

#[test]
fn an_invalid_serve_bind_is_reported_by_check_serve_and_deployconfig_naming_the_setting() {
    let example = Example::new();
    let settings = production(&example, "");
    let from_variable = format!(
        "?: (nuages.E052) serve_bind \"abc\" (set by NUAGES_SERVE_BIND) is not HOST:PORT, \
         [IPv6]:PORT or unix:/path\n{HINT}"
    );

    let (output, stdout, stderr) = run(example
        .command_with(&settings)
        .args(["check", "--deploy"])
        .env("NUAGES_SERVE_BIND", "abc"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains(&from_variable), "{stderr}");

    // serve without --bind: refused by its checks, in the same words.
    let (output, stdout, stderr) = run(example
        .command_with(&settings)
        .arg("serve")
        .env("NUAGES_SERVE_BIND", "abc"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains(&from_variable), "{stderr}");
    assert!(!stderr.contains("--bind"), "{stderr}");

    // deployconfig without --upstream points the web server at serve_bind:
    // refused in the same words.
    let (output, stdout, stderr) = run(example
        .command_with(&settings)
        .args(["deployconfig", "nginx"])
        .env("NUAGES_SERVE_BIND", "abc"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "error: serve_bind \"abc\" (set by NUAGES_SERVE_BIND) is not HOST:PORT, \
             [IPv6]:PORT or unix:/path"
        ),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "no configuration: {stdout}");

    // Written in a file: the file is named.
    let in_file = production(&example, "serve_bind = \"localhost\"");
    let (output, stdout, stderr) = run(example.command_with(&in_file).args(["check", "--deploy"]));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let expected = format!(
        "?: (nuages.E052) serve_bind \"localhost\" (in {}) is not HOST:PORT, [IPv6]:PORT or \
         unix:/path\n{HINT}",
        in_file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");

    // --bind replaces serve_bind: serve starts and answers.
    let port = free_port();
    let mut server = serve_answering(
        example
            .command_with(&settings)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("NUAGES_SERVE_BIND", "abc"),
        example.dir.path(),
        port,
    );
    server.stop(Duration::from_secs(10));
}

/// `command`, a `serve` on `port` of loopback (or of every interface),
/// started with its output in `logs`, once it answers `GET /polls/`.
fn serve_answering(
    command: &mut std::process::Command,
    logs: &std::path::Path,
    port: u16,
) -> Server {
    let server = Server::start(command, logs, &format!("serve-{port}"));
    let answered = wait_for(Duration::from_secs(30), || {
        get(([127, 0, 0, 1], port).into(), "/polls/").ok()
    });
    assert!(
        answered.is_some(),
        "serve did not start: {}",
        server.output()
    );
    server
}

/// A unix socket `serve` cannot make: the hint says what is in the way,
/// not "stop what listens there" (nothing does); a path too long for a
/// socket is said to be, before any folder is made for it.
#[test]
fn serve_says_what_is_in_the_way_of_its_unix_socket() {
    let example = Example::new();
    let settings = production(&example, "");
    let dir = example.dir.path();
    let file = dir.join("not-a-socket");
    std::fs::write(&file, "mine").unwrap();
    let serve_on = |path: &std::path::Path| {
        run(example.command_with(&settings).args([
            "serve",
            "--bind",
            &format!("unix:{}", path.display()),
        ]))
    };

    // A file of the user's where the socket goes: named, left alone.
    let (output, stdout, stderr) = serve_on(&file);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot listen on unix:{0}: {0} exists and is not a socket\n  \
             hint: move that file out of the way",
            file.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");

    // Another program's socket (a datagram socket, as `/dev/log`): a
    // socket, but not one a stopped server left; kept.
    let theirs = dir.join("theirs.sock");
    let datagram = std::os::unix::net::UnixDatagram::bind(&theirs).unwrap();
    let (output, stdout, stderr) = serve_on(&theirs);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot listen on unix:{0}: {0} is a socket this server cannot tell is unused",
            theirs.display()
        )) && stderr.contains(
            "  hint: that socket belongs to another program or user: remove it if nothing uses it"
        ),
        "{stderr}"
    );
    assert!(theirs.exists(), "the socket was removed");
    drop(datagram);

    // A folder that cannot be made (a file stands where it goes).
    let socket = file.join("site.sock");
    let (output, stdout, stderr) = serve_on(&socket);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let user = nuages_e2e::test_user();
    let group = nuages_e2e::group_of(None);
    assert!(
        stderr.contains(&format!(
            "  hint: serve, running as {user}, makes the socket in {0}: create that folder for \
             it (as root: install -d -o {user} -g {group} {0})",
            file.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("stop what listens there"), "{stderr}");

    // A path longer than a unix socket's may be: said so, not taken for a
    // folder to create (none is made for it).
    let missing = dir.join("missing-folder");
    let long = missing.join(format!("{}.sock", "s".repeat(120)));
    let (output, stdout, stderr) = serve_on(&long);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot listen on unix:{}: the path has {} bytes, and a unix socket's path \
             has at most 107\n  \
             hint: choose a shorter path with --bind or serve_bind, such as \
             unix:/run/mysite/mysite.sock (a relative path is joined to the settings file's \
             folder)\n",
            long.display(),
            long.as_os_str().len()
        )),
        "{stderr}"
    );
    assert!(!missing.exists());
}

/// `serve_socket_mode`: the unix socket `serve` makes has the mode the
/// setting gives, not the default 660.
#[test]
fn the_unix_socket_gets_serve_socket_mode() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let example = Example::new();
    let settings = production(&example, "serve_socket_mode = \"600\"");
    let socket = example.dir.path().join("site.sock");
    let mut server = Server::start(
        example.command_with(&settings).args([
            "serve",
            "--bind",
            &format!("unix:{}", socket.display()),
        ]),
        example.dir.path(),
        "serve-socket-mode",
    );
    // Once serve answers on it, the socket has its final mode.
    let answered = wait_for(Duration::from_secs(30), || {
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).ok()?;
        stream
            .write_all(b"GET /polls/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .ok()?;
        read_response(&mut stream).ok()
    });
    assert!(
        answered.is_some_and(|response| response.status == 200),
        "serve did not answer on its socket: {}",
        server.output()
    );
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}: {}", server.output());
    server.stop(Duration::from_secs(10));
}

/// The example project served in production on a free port, started with
/// `soft` open files at most (and `hard`, else the hard limit as it is,
/// which must leave room to raise it), once it answers.
fn serve_with_open_files_limit(
    soft: libc::rlim_t,
    hard: Option<libc::rlim_t>,
    name: &str,
) -> (Example, Server, std::net::SocketAddr) {
    use std::os::unix::process::CommandExt;
    let example = Example::new();
    let settings = production(&example, "");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut command = example.command_with(&settings);
    command.args(["serve", "--bind", &addr.to_string()]);
    // SAFETY: only getrlimit and setrlimit, async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            match hard {
                Some(hard) => limit.rlim_max = hard,
                None if limit.rlim_max <= soft * 4 => {
                    return Err(std::io::Error::other(
                        "the hard limit is too low for this test",
                    ));
                }
                None => {}
            }
            limit.rlim_cur = soft;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let server = Server::start(&mut command, example.dir.path(), name);
    assert!(
        wait_for(Duration::from_secs(30), || get(addr, "/polls/").ok()).is_some(),
        "serve did not start: {}",
        server.output()
    );
    (example, server, addr)
}

/// systemd starts a service with a soft limit of 1024 open files, and each
/// connection holds one: `serve` raises the soft limit to the hard one, so
/// that more idle clients than that low limit still leave room for the
/// next, who is answered at once (not after their header timeout).
#[test]
fn idle_clients_beyond_a_low_open_files_limit_leave_room_for_the_next() {
    use std::io::Write;
    const SOFT: libc::rlim_t = 128;
    let (_example, mut server, addr) = serve_with_open_files_limit(SOFT, None, "serve-open-files");
    // More connections than the soft limit it was started with, each
    // sending nothing (they would be cut off after 30 s).
    let idle: Vec<std::net::TcpStream> = (0..SOFT * 2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /polls/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let response = read_response(&mut stream);
    assert!(
        response
            .as_ref()
            .is_ok_and(|response| response.status == 200),
        "{response:?}: {}",
        server.output()
    );
    assert!(
        !server.output().contains("Too many open files"),
        "{}",
        server.output()
    );
    drop(idle);
    server.stop(Duration::from_secs(10));
}

/// logrotate moves log_file away and sends SIGUSR1 (gunicorn's and nginx's
/// "reopen your logs"): `serve` goes on serving and writes its next lines
/// into a new file at log_file's path, not into the moved one for good.
#[test]
fn sigusr1_reopens_log_file_after_it_was_moved_away() {
    let example = Example::new();
    let logs = example.dir.path().join("logs");
    let log_file = logs.join("site.log");
    let settings = production(&example, &format!("log_file = \"{}\"", log_file.display()));
    let port = free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = Server::start(
        example
            .command_with(&settings)
            .args(["serve", "--bind", &addr.to_string()]),
        example.dir.path(),
        "serve-reopen-log",
    );
    let logged = |file: &std::path::Path, target: &str| {
        wait_for(Duration::from_secs(5), || {
            let text = std::fs::read_to_string(file).ok()?;
            text.contains(&format!("\"GET {target} HTTP/1.1\" 200"))
                .then_some(())
        })
        .is_some()
    };
    assert!(
        wait_for(Duration::from_secs(30), || get(addr, "/polls/?before").ok()).is_some(),
        "serve did not start: {}",
        server.output()
    );
    assert!(logged(&log_file, "/polls/?before"), "{}", server.output());
    let rotated = logs.join("site.log.1");
    std::fs::rename(&log_file, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    assert!(
        wait_for(Duration::from_secs(5), || log_file.exists().then_some(())).is_some(),
        "no new log file: {}",
        server.output()
    );
    let after = get(addr, "/polls/?after");
    assert!(
        after.as_ref().is_ok_and(|response| response.status == 200),
        "serve stopped on SIGUSR1: {after:?} {}",
        server.output()
    );
    assert!(logged(&log_file, "/polls/?after"), "{}", server.output());
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(!old.contains("?after"), "{old}");
    assert!(
        server.output().contains(&format!(
            "SIGUSR1 received: log_file {} reopened",
            log_file.display()
        )),
        "{}",
        server.output()
    );
    assert_eq!(
        server.stop(Duration::from_secs(10)).and_then(|s| s.code()),
        Some(0),
        "{}",
        server.output()
    );
}

/// A secure_proxy_ssl_header the web server's header does not match, set
/// by its variable over the file: deployconfig names the variable and the
/// value to give it, not the settings file, which is not where it is wrong.
#[test]
fn deployconfig_names_the_variable_that_sets_a_wrong_secure_proxy_ssl_header() {
    let example = Example::new();
    let settings = production(
        &example,
        "secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\nsecure_ssl_redirect = true",
    );
    let (output, stdout, stderr) = run(example
        .command_with(&settings)
        .args(["deployconfig", "nginx", "--plain-http"])
        .env("NUAGES_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Protocol,ssl"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "error: secure_proxy_ssl_header is [\"X-Forwarded-Protocol\", \"ssl\"] in \
             NUAGES_SECURE_PROXY_SSL_HEADER in the environment, so the application would not see"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "hint: set NUAGES_SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto,https, or unset it and \
             have secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"] in"
        ),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "no configuration: {stdout}");
}

/// Out of descriptors (the hard limit reached), every retry of `accept`
/// fails: the warning is written once, not twenty times a second into the
/// log, and serve answers again once the idle clients are gone.
#[test]
fn failing_accepts_are_logged_once_not_at_each_retry() {
    const LIMIT: libc::rlim_t = 64;
    let (_example, mut server, addr) =
        serve_with_open_files_limit(LIMIT, Some(LIMIT), "serve-accept-fails");
    let idle: Vec<std::net::TcpStream> = (0..LIMIT * 2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let warnings = server.output().matches("accept failed").count();
    assert_eq!(warnings, 1, "{}", server.output());
    drop(idle);
    assert!(
        wait_for(Duration::from_secs(10), || get(addr, "/polls/")
            .ok()
            .filter(|response| response.status == 200))
        .is_some(),
        "{}",
        server.output()
    );
    server.stop(Duration::from_secs(10));
}

/// A request hyper cannot read (HTTP/1.2, a space before a header's
/// colon) gets hyper's bare 400 and never reaches the request line: it is
/// logged as a warning with the client's address, as nginx logs it.
#[test]
fn a_request_that_cannot_be_read_is_logged_with_its_client() {
    use std::io::{Read, Write};
    let example = Example::new();
    let settings = production(&example, "");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut command = example.command_with(&settings);
    command.args(["serve", "--bind", &addr.to_string()]);
    let mut server = serve_answering(&mut command, example.dir.path(), addr.port());
    for request in [
        &b"GET /polls/ HTTP/1.2\r\nHost: localhost\r\n\r\n"[..],
        b"GET /polls/ HTTP/1.1\r\nHost : localhost\r\n\r\n",
    ] {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    }
    let logged = wait_for(Duration::from_secs(5), || {
        let output = server.output();
        (output.matches("WARN a request from 127.0.0.1:").count() == 2).then_some(output)
    });
    assert!(logged.is_some(), "{}", server.output());
    server.stop(Duration::from_secs(10));
}

/// Without `--server-name`, the names are `allowed_hosts`'; an entry that
/// is no host name (a `;` and directives after it, a line break, a port)
/// would be written into the web server's configuration as it is, where a
/// `;` publishes what the directives after it say: refused, exit 1,
/// nothing written.
#[test]
fn deployconfig_refuses_allowed_hosts_that_are_not_host_names() {
    let example = Example::new();
    let settings = production(&example, "");
    for (kind, hosts, entry, reason) in [
        (
            "nginx",
            "example.com; location /etc/ { alias /etc/; autoindex on; } server_name x",
            "example.com; location /etc/ { alias /etc/; autoindex on; } server_name x",
            "the host contains ';', which a host name cannot contain",
        ),
        (
            "apache",
            "example.com,www.example.com\nAlias /etc /etc",
            "www.example.com\nAlias /etc /etc",
            "the host contains '\\n', which a host name cannot contain",
        ),
        (
            "nginx",
            "example.com:8443",
            "example.com:8443",
            "it has a port, which the web server's listen address gives",
        ),
    ] {
        let (output, stdout, stderr) = run(example
            .command_with(&settings)
            .env("NUAGES_ALLOWED_HOSTS", hosts)
            .args(["deployconfig", kind, "--plain-http"]));
        assert_eq!(output.status.code(), Some(1), "{hosts}: {stdout}{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: allowed_hosts has {entry:?}, which is not a host name: {reason}\n  \
                 hint: write each host of allowed_hosts as a name or an IP address without \
                 scheme or port"
            )),
            "{stderr}"
        );
        assert!(stdout.is_empty(), "no configuration: {stdout}");
    }
}

/// `deployconfig --server-name` takes one host name: a list as
/// `NUAGES_ALLOWED_HOSTS` writes it (`a,b`) would be one name no request
/// has (nginx -t passes it: every request goes to another server block),
/// and a `;` would write directives of its own. Such values are refused,
/// exit 2, and nothing is written; names given one per flag are served.
#[test]
fn deployconfig_refuses_a_server_name_that_is_not_a_host_name() {
    let example = Example::new();
    let settings = production(&example, "");
    let deployconfig = |kind: &str, names: &[&str]| {
        let mut command = example.command_with(&settings);
        command.args(["deployconfig", kind, "--plain-http"]);
        for name in names {
            command.args(["--server-name", name]);
        }
        run(&mut command)
    };
    for (kind, given, reason) in [
        (
            "nginx",
            "example.com,www.example.com",
            "the host contains ',', which a host name cannot contain",
        ),
        (
            "apache",
            "example.com www.example.com",
            "the host contains ' ', which a host name cannot contain",
        ),
        (
            "nginx",
            "example.com; include /etc/shadow",
            "the host contains ';', which a host name cannot contain",
        ),
        (
            "nginx",
            "example.com:443",
            "it has a port, which the web server's listen address gives",
        ),
    ] {
        let (output, stdout, stderr) = deployconfig(kind, &[given]);
        assert_eq!(output.status.code(), Some(2), "{given}: {stdout}{stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: --server-name {given:?} is not a host name: {reason}\n  hint: give one \
                 name per --server-name, without scheme or port: --server-name example.com \
                 --server-name www.example.com (.example.com for the domain and its subdomains)\n"
            )
        );
        assert!(stdout.is_empty(), "no configuration: {stdout}");
    }
    let (output, stdout, stderr) = deployconfig("nginx", &["Example.com", ".example.org", "[::1]"]);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("    server_name example.com example.org *.example.org [::1];"),
        "{stdout}"
    );
    let (output, stdout, stderr) = deployconfig("apache", &["example.com", "www.example.com"]);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("    ServerName example.com\n    ServerAlias www.example.com\n"),
        "{stdout}"
    );
    // Names allowed_hosts refuses: every request for them would be a 400.
    assert!(
        stderr.contains(&format!(
            "note: allowed_hosts = [\"localhost\"] (as loaded for this command) does not accept \
             --server-name example.com, www.example.com: serve answers their requests with 400 \
             Bad Request; add them to allowed_hosts in {} (or NUAGES_ALLOWED_HOSTS in the \
             server's environment)\n",
            settings.display()
        )),
        "{stderr}"
    );
    let (output, _, stderr) = deployconfig("nginx", &["localhost"]);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("allowed_hosts ="), "{stderr}");
}

/// `deployconfig nginx --listen 0` (or `127.0.0.1:0`) wrote `listen 0;`,
/// which nginx -t refuses ("invalid port"); it is refused at once, exit 2,
/// naming the port range.
#[test]
fn deployconfig_refuses_port_zero_for_the_web_server() {
    let example = Example::new();
    let settings = production(&example, "");
    for listen in ["0", "127.0.0.1:0"] {
        let (output, stdout, stderr) = run(example.command_with(&settings).args([
            "deployconfig",
            "nginx",
            "--plain-http",
            "--listen",
            listen,
        ]));
        assert_eq!(output.status.code(), Some(2), "{listen}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "'{listen}' has port 0, which web servers refuse: give a port from 1 to 65535, \
                 like 443"
            )),
            "{stderr}"
        );
        assert!(stdout.is_empty(), "no configuration: {stdout}");
    }
}

/// `deployconfig nginx --listen 8443 --listen-http 8443` (or the same
/// address and port, or a port the other takes on every address) exited 0
/// and wrote two servers on one port, which nginx -t refuses; nginx and
/// apache refuse it, exit 2, naming both flags.
#[test]
fn deployconfig_refuses_https_and_http_on_the_same_port() {
    let example = Example::new();
    let settings = production(&example, "");
    let tls = [
        "--tls-cert",
        "/etc/tls/site.pem",
        "--tls-key",
        "/etc/tls/site.key",
    ];
    let hint = "  hint: give them different ports, as the defaults are: --listen 443 \
                --listen-http 80\n";
    for kind in ["nginx", "apache"] {
        for (flags, said) in [
            (
                &["--listen", "8443", "--listen-http", "8443"][..],
                "--listen 8443 and --listen-http 8443 are the same port 8443 on every address",
            ),
            (
                &[
                    "--listen",
                    "127.0.0.1:8443",
                    "--listen-http",
                    "127.0.0.1:8443",
                ],
                "--listen 127.0.0.1:8443 and --listen-http 127.0.0.1:8443 are the same port \
                 8443 on 127.0.0.1",
            ),
            (
                &["--listen", "[::1]:443", "--listen-http", "[::]:443"],
                "--listen [::1]:443 and --listen-http [::]:443 are the same port 443 on ::1",
            ),
            (
                &["--listen", "80"],
                "--listen 80 and --listen-http (default 80) are the same port 80 on every address",
            ),
            (
                &["--listen-http", "127.0.0.1:443"],
                "--listen (default 443) and --listen-http 127.0.0.1:443 are the same port 443 \
                 on 127.0.0.1",
            ),
        ] {
            let (output, stdout, stderr) = run(example
                .command_with(&settings)
                .args(["deployconfig", kind])
                .args(tls)
                .args(flags));
            assert_eq!(output.status.code(), Some(2), "{flags:?}: {stdout}{stderr}");
            assert_eq!(
                stderr,
                format!(
                    "error: {said}: HTTPS and the plain HTTP redirected to it need a port each\n\
                     {hint}"
                ),
                "{kind} {flags:?}"
            );
            assert!(stdout.is_empty(), "no configuration: {stdout}");
        }
        // Another address of the same port, or another family: two servers.
        for flags in [
            [
                "--listen",
                "127.0.0.1:8443",
                "--listen-http",
                "127.0.0.2:8443",
            ],
            ["--listen", "0.0.0.0:8443", "--listen-http", "[::1]:8443"],
        ] {
            let (output, stdout, stderr) = run(example
                .command_with(&settings)
                .args(["deployconfig", kind])
                .args(tls)
                .args(flags));
            assert!(
                output.status.success(),
                "{kind} {flags:?}: {stdout}{stderr}"
            );
        }
    }
}

/// `-o` naming a FIFO, a device or `/dev/stdout`: deployconfig read what
/// was there to see whether it had written it (a FIFO: waiting forever for
/// a writer; `/dev/stdout`, a pipe: its own output; `/dev/zero`: until the
/// memory ran out), and with `--force` renamed a file over it (as root,
/// `-o /dev/null --force` replaced the system's /dev/null). Anything but a
/// regular file, or a link leading to one, is refused at once, exit 1,
/// `--force` or not, and left as it is.
#[test]
fn deployconfig_refuses_to_write_over_a_fifo_or_a_device() {
    use std::os::unix::fs::FileTypeExt;
    let example = Example::new();
    let settings = production(&example, "");
    let work = example.dir.path();
    let deployconfig = |kind: &[&str], output: &Path, extra: &[&str]| {
        run_within(
            example
                .command_with(&settings)
                .arg("deployconfig")
                .args(kind)
                .arg("-o")
                .arg(output)
                .args(extra),
            Duration::from_secs(30),
        )
    };
    let refused = |path: &Path, is: &str, kind: &str| {
        format!(
            "error: {} {is} {kind}, not a regular file: -o writes a file, and never reads or \
             replaces anything else, even with --force\n  hint: choose a file path with -o, or \
             leave -o out to print to stdout\n",
            path.display()
        )
    };
    let mkfifo = |path: &Path| {
        let (output, _, stderr) = run(std::process::Command::new("mkfifo").arg(path));
        assert!(output.status.success(), "mkfifo: {stderr}");
    };
    let nginx = ["nginx", "--plain-http"];
    let fifo = work.join("site.conf");
    mkfifo(&fifo);
    let link = work.join("enabled.conf");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for extra in [&[][..], &["--force"]] {
        for (path, is) in [(&fifo, "is"), (&link, "leads to")] {
            let (status, stdout, stderr) = deployconfig(&nginx, path, extra);
            assert_eq!(
                status.code(),
                Some(1),
                "{path:?} {extra:?}: {stdout}{stderr}"
            );
            assert_eq!(
                stderr,
                refused(path, is, "a FIFO (named pipe)"),
                "{extra:?}"
            );
            assert!(stdout.is_empty(), "{stdout}");
        }
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }
    // The systemd units: one FIFO among them, and neither is written.
    let units = work.join("units");
    std::fs::create_dir(&units).unwrap();
    let service = units.join("mysite.service");
    mkfifo(&service);
    for extra in [&[][..], &["--force"]] {
        let systemd = ["systemd", "--exec", "/bin/true"];
        let (status, stdout, stderr) = deployconfig(&systemd, &units, extra);
        assert_eq!(status.code(), Some(1), "{extra:?}: {stdout}{stderr}");
        assert_eq!(stderr, refused(&service, "is", "a FIFO (named pipe)"));
        assert!(std::fs::metadata(&service).unwrap().file_type().is_fifo());
        assert!(!units.join("mysite.socket").exists());
    }
    // Its own stdout, a pipe here: print without -o.
    let stdout_path = Path::new("/dev/stdout");
    let (status, stdout, stderr) = deployconfig(&nginx, stdout_path, &[]);
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        refused(stdout_path, "leads to", "a FIFO (named pipe)")
    );
    // A device, even as root with --force.
    let null = Path::new("/dev/null");
    for extra in [&[][..], &["--force"]] {
        let (status, stdout, stderr) = deployconfig(&nginx, null, extra);
        assert_eq!(status.code(), Some(1), "{extra:?}: {stdout}{stderr}");
        assert_eq!(
            stderr,
            refused(null, "is", "a character device"),
            "{extra:?}"
        );
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}

/// A site whose folders have a space in their path (`/srv/My Site`): the
/// systemd unit quotes the binary of `ExecStart=` and each folder of
/// `ReadWritePaths=`, which systemd split at the space (it ran `/srv/My`,
/// and ignored the pieces as relative paths, so serve could write nowhere),
/// and the note's `install -d` command quotes them for the shell.
#[test]
fn deployconfig_systemd_quotes_paths_with_spaces() {
    use std::os::unix::fs::PermissionsExt;
    let example = Example::new();
    let site = example.dir.path().join("my site");
    let exec = site.join("bin/my site");
    std::fs::create_dir_all(exec.parent().unwrap()).unwrap();
    std::fs::write(&exec, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (logs, media) = (site.join("logs"), site.join("media files"));
    let settings = production(
        &example,
        &format!(
            "log_file = {:?}\nmedia_root = {:?}",
            logs.join("serve.log").display().to_string(),
            media.display().to_string()
        ),
    );
    let units = site.join("units");
    std::fs::create_dir_all(&units).unwrap();
    let (output, stdout, stderr) = run(example
        .command_with(&settings)
        .args(["deployconfig", "systemd", "--exec"])
        .arg(&exec)
        .arg("-o")
        .arg(&units));
    assert!(output.status.success(), "{stdout}{stderr}");
    let service = std::fs::read_to_string(units.join("mysite.service")).unwrap();
    assert!(
        service.contains(&format!("\nExecStart=\"{}\" serve\n", exec.display())),
        "{service}"
    );
    let read_write = service
        .lines()
        .find_map(|line| line.strip_prefix("ReadWritePaths="))
        .unwrap_or_else(|| panic!("{service}"));
    for folder in [&logs, &media] {
        assert!(
            read_write.contains(&format!("\"{}\"", folder.display())),
            "{read_write}"
        );
    }
    assert!(
        stderr.contains(&format!(
            "install -d -o mysite -g mysite '{}' '{}')",
            logs.display(),
            media.display()
        )),
        "{stderr}"
    );
    if std::path::Path::new("/usr/bin/systemd-analyze").exists() {
        let (_, stdout, stderr) = run(std::process::Command::new("/usr/bin/systemd-analyze")
            .arg("verify")
            .arg(units.join("mysite.socket"))
            .arg(units.join("mysite.service")));
        let problems: Vec<&str> = stderr
            .lines()
            .filter(|line| line.contains("not absolute") || line.contains("not executable"))
            .collect();
        assert!(
            problems.is_empty(),
            "systemd-analyze verify: {stdout}{stderr}"
        );
    }
}

/// A `static_root` and a `media_root` whose path has a space: the nginx
/// and Apache configurations quote them (and the socket's path), which
/// nginx -t refused unquoted ("invalid number of arguments in alias
/// directive"); nginx then serves the collected files from there.
#[test]
fn deployconfig_nginx_and_apache_quote_folders_with_spaces() {
    let example = Example::new();
    let site = example.dir.path().join("my site");
    let settings = production(
        &example,
        &format!(
            "static_root = {:?}\nmedia_root = {:?}",
            site.join("static root").display().to_string(),
            site.join("media files").display().to_string()
        ),
    );
    let (output, stdout, stderr) = run(example
        .command_with(&settings)
        .args(["collectstatic", "--noinput"]));
    assert!(output.status.success(), "{stdout}{stderr}");
    let (server, serve_addr) = example.serve_with(&settings, "spaced", "localhost");
    let work = example.dir.path();
    let (conf, _, addr) = nuages_e2e::deployconfig_nginx(
        example
            .command_with(&settings)
            .env("NUAGES_ALLOWED_HOSTS", "example.test"),
        work,
        &["--upstream", &serve_addr.to_string()],
    );
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!(
            "alias \"{}/\";  # static_root",
            site.join("static root").display()
        )),
        "{text}"
    );
    let _nginx = nuages_e2e::start_nginx(work, &conf, addr);
    let css = nuages_e2e::http(
        addr,
        "GET",
        "/static/css/site.css",
        &[("Host", "example.test")],
        "",
    )
    .unwrap();
    assert_eq!(css.status, 200, "{css:?}");
    drop(server);
    // Apache reads the same quoting; a unix socket's path too.
    let (output, stdout, stderr) = run(example.command_with(&settings).args([
        "deployconfig",
        "apache",
        "--plain-http",
        "--upstream",
        &format!("unix:{}", site.join("run dir/mysite.sock").display()),
    ]));
    assert!(output.status.success(), "{stdout}{stderr}");
    for line in [
        format!(
            "    <Directory \"{}/\">",
            site.join("static root").display()
        ),
        format!(
            "    Alias /media/ \"{}/\"",
            site.join("media files").display()
        ),
        format!(
            "    ProxyPass / \"unix:{}|http://localhost/\"",
            site.join("run dir/mysite.sock").display()
        ),
    ] {
        assert!(stdout.contains(&format!("{line}\n")), "{line}\n{stdout}");
    }
}

/// `serve --bind` replaces `serve_bind`, and so do the checks serve runs
/// before it starts: `--bind 0.0.0.0:PORT` gets the warning that serve
/// listens on every interface (it got none, as serve_bind was loopback),
/// and `--bind 127.0.0.1:PORT` none about a `serve_bind = "0.0.0.0:8000"`
/// it does not use (it got one, with a hint to edit that setting).
#[test]
fn serve_checks_the_address_of_bind_not_the_serve_bind_it_replaces() {
    let example = Example::new();
    let start = |settings: &std::path::Path, bind: &str, port: u16| {
        let mut server = serve_answering(
            example
                .command_with(settings)
                .args(["serve", "--bind", &format!("{bind}:{port}")]),
            example.dir.path(),
            port,
        );
        server.stop(Duration::from_secs(10));
        server.output()
    };
    let loopback = production(&example, "");
    let port = free_port();
    let output = start(&loopback, "0.0.0.0", port);
    assert!(
        output.contains(&format!(
            "?: (nuages.W009) --bind 0.0.0.0:{port}: serve listens on every network interface, \
             so clients can reach the application server directly, around the web server's TLS, \
             static files and limits.\n\tHINT: pass --bind 127.0.0.1:8000 (the web server \
             proxies to it) or --bind unix:/run/mysite/mysite.sock\n"
        )),
        "{output}"
    );
    let everywhere = example.settings_extending(
        &loopback,
        "settings.everywhere",
        "serve_bind = \"0.0.0.0:8000\"\n",
    );
    let output = start(&everywhere, "127.0.0.1", free_port());
    assert!(!output.contains("nuages.W009"), "{output}");
    assert!(!output.contains("0.0.0.0:8000"), "{output}");
}

/// `deployconfig systemd --user ""` (a deploy script's `--user "$APP_USER"`
/// with the variable unset) wrote `User=`, which makes systemd run serve as
/// root; `--user "bad user"` wrote an account that cannot exist. Both are
/// refused, exit 1, nothing written, and so is such a `serve_user`.
#[test]
fn deployconfig_systemd_refuses_a_user_name_the_service_cannot_run_as() {
    let example = Example::new();
    let units = example.dir.path().join("units");
    std::fs::create_dir_all(&units).unwrap();
    let hint = "  hint: give the name of the service account, as useradd made it: up to 32 \
                letters, digits, _, - and ., starting with a letter or _ (useradd --system \
                --no-create-home NAME)\n";
    let systemd = |settings: &std::path::Path, user: Option<&str>| {
        let mut command = example.command_with(settings);
        command.args(["deployconfig", "systemd", "--exec", "/bin/true", "-o"]);
        command.arg(&units);
        if let Some(user) = user {
            command.args(["--user", user]);
        }
        run(&mut command)
    };
    let settings = production(&example, "");
    for (user, said) in [
        (
            "",
            "error: --user \"\" is not an account name the service can run as (an empty User= \
             runs the service as root)\n",
        ),
        (
            "bad user",
            "error: --user \"bad user\" is not an account name the service can run as\n",
        ),
    ] {
        let (output, stdout, stderr) = systemd(&settings, Some(user));
        assert_eq!(output.status.code(), Some(1), "{user:?}: {stdout}{stderr}");
        assert_eq!(stderr, format!("{said}{hint}"));
    }
    let named = example.settings_extending(&settings, "settings.user", "serve_user = \"x;y\"\n");
    let (output, stdout, stderr) = systemd(&named, None);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!("error: serve_user \"x;y\" is not an account name the service can run as\n{hint}")
    );
    assert_eq!(
        std::fs::read_dir(&units).unwrap().count(),
        0,
        "nothing written"
    );
    let (output, _, stderr) = systemd(&settings, Some("www-mysite"));
    assert!(output.status.success(), "{stderr}");
    let service = std::fs::read_to_string(units.join("mysite.service")).unwrap();
    assert!(service.contains("\nUser=www-mysite\n"), "{service}");
    assert!(!service.contains("Group="), "{service}");
}

/// `deployconfig systemd --user nobody`: Debian's `nobody` is in the group
/// `nogroup`, and there is no group `nobody`. The service unit said
/// `Group=nobody` (systemd: 216/GROUP, the service never started), the
/// socket unit `SocketGroup=nobody`, the notes `usermod -aG nobody` and
/// `install -g nobody`. The service unit now leaves the group to systemd
/// (the account's primary group), and the rest names that group as this
/// machine has it.
#[test]
fn deployconfig_systemd_names_the_primary_group_of_the_service_account() {
    let example = Example::new();
    let logs = example.dir.path().join("logs");
    let settings = production(
        &example,
        &format!(
            "log_file = {:?}",
            logs.join("serve.log").display().to_string()
        ),
    );
    let (output, stdout, stderr) = run(example.command_with(&settings).args([
        "deployconfig",
        "systemd",
        "--exec",
        "/bin/true",
        "--user",
        "nobody",
        "--upstream",
        "unix:/run/mysite/mysite.sock",
    ]));
    assert!(output.status.success(), "{stdout}{stderr}");
    let group = nuages_e2e::group_of(Some("nobody"));
    assert!(stdout.contains("\nUser=nobody\n"), "{stdout}");
    assert!(!stdout.contains("\nGroup="), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "# joins the group to connect: usermod -aG {group} www-data\n\
             SocketUser=nobody\nSocketGroup={group}\n"
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "the web server's account must be in the group {group} to connect, or every page is \
             a 502 (Debian and Ubuntu: usermod -aG {group} www-data, then restart the web server)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "(as root: install -d -o nobody -g {group} {})",
            logs.display()
        )),
        "{stderr}"
    );
}

/// `deployconfig systemd --env-file site.env`, a path relative to where it
/// runs as `--exec` may be: it was written as it is, and systemd ignores a
/// relative `EnvironmentFile=` ("path is not absolute, ignoring"), so serve
/// started without SECRET_KEY. It is made absolute, as `--exec` is.
#[test]
fn deployconfig_systemd_makes_a_relative_env_file_absolute() {
    let example = Example::new();
    let settings = production(&example, "");
    let (output, stdout, stderr) = run(example
        .command_with(&settings)
        .current_dir(example.dir.path())
        .args([
            "deployconfig",
            "systemd",
            "--exec",
            "/bin/true",
            "--env-file",
            "site.env",
        ]));
    assert!(output.status.success(), "{stderr}");
    let absolute = example.dir.path().join("site.env");
    assert!(
        stdout.contains(&format!("\nEnvironmentFile={}\n", absolute.display())),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "reads its environment from {},",
            absolute.display()
        )),
        "{stderr}"
    );
}

/// Uploads are visitors' files: the Apache configuration sends each as a
/// file, whatever its name, even on a server that maps `.cgi` to CGI
/// scripts everywhere (as mod_php maps `.php`): a real Apache, with
/// `AddHandler cgi-script .cgi` and `Options +ExecCGI` at server level,
/// sends an uploaded script's text, and does not run it.
#[test]
fn apache_sends_an_uploaded_script_as_a_file_and_never_runs_it() {
    if !nuages_e2e::require("/usr/sbin/apache2") {
        return;
    }
    let example = Example::new();
    let work = example.dir.path().join("apache");
    let script = work.join("media/upload.cgi");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho RAN\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (apache, addr) = apache_serving_files(
        &example,
        &work,
        &["mime", "cgi"],
        "TypesConfig /etc/mime.types\nAddHandler cgi-script .cgi\n\
         <Directory />\n    Options +ExecCGI\n</Directory>\n",
    );
    let response = get(addr, "/media/upload.cgi");
    drop(apache);
    let response = response.expect("Apache answers");
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response.body.contains("echo RAN"),
        "sent as it is: {}",
        response.body
    );
    assert!(!response.body.starts_with("RAN"), "{}", response.body);
}

/// A dot folder in media_root or static_root is not served, as nginx and
/// the application refuse it: `.incoming` holds uploads not yet checked.
/// Apache's `<FilesMatch "^\.">` saw only the last segment, so
/// `/media/.incoming/upload-Ab12Cd`, its `%2e` form and `/static/.git/config`
/// were 200. A real Apache answers them 404, as nginx does, and a dot file
/// too; the other files are served.
#[test]
fn apache_answers_404_for_dot_files_and_folders_in_media_and_static() {
    if !nuages_e2e::require("/usr/sbin/apache2") {
        return;
    }
    let example = Example::new();
    let work = example.dir.path().join("apache");
    for (path, text) in [
        ("media/.incoming/upload-Ab12Cd", "not yet checked"),
        ("media/avatars/.hidden", "a dot file"),
        ("media/avatars/a.txt", "an upload"),
        ("static/.git/config", "[core]"),
        ("static/css/site.css", "body {}"),
    ] {
        let path = work.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let (apache, addr) = apache_serving_files(&example, &work, &[], "");
    let statuses: Vec<(&str, u16)> = [
        "/media/avatars/a.txt",
        "/static/css/site.css",
        "/media/.incoming/upload-Ab12Cd",
        "/media/%2eincoming/upload-Ab12Cd",
        "/media/%2Eincoming/upload-Ab12Cd",
        "/media//.incoming/upload-Ab12Cd",
        "/media/avatars/.hidden",
        "/static/.git/config",
        "/static/%2egit/config",
    ]
    .into_iter()
    .map(|path| (path, get(addr, path).expect("Apache answers").status))
    .collect();
    drop(apache);
    assert_eq!(
        statuses,
        [
            ("/media/avatars/a.txt", 200),
            ("/static/css/site.css", 200),
            ("/media/.incoming/upload-Ab12Cd", 404),
            ("/media/%2eincoming/upload-Ab12Cd", 404),
            ("/media/%2Eincoming/upload-Ab12Cd", 404),
            ("/media//.incoming/upload-Ab12Cd", 404),
            ("/media/avatars/.hidden", 404),
            ("/static/.git/config", 404),
            ("/static/%2egit/config", 404),
        ]
    );
}

/// Long caching is for hashed static files Apache sends: a hashed name
/// not collected on this machine yet (a page of a newer deploy names it)
/// is a 404 without Cache-Control, which no browser or CDN keeps, as
/// `serve --static` answers it; nosniff goes on every answer.
#[test]
fn apache_caches_only_the_hashed_static_files_it_sends() {
    if !nuages_e2e::require("/usr/sbin/apache2") {
        return;
    }
    let example = Example::new();
    let work = example.dir.path().join("apache");
    for name in ["site.0123456789ab.css", "site.css"] {
        let path = work.join("static/css").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "body {}").unwrap();
    }
    let (apache, addr) = apache_serving_files(&example, &work, &[], "");
    let answers: Vec<(&str, u16, Option<String>, Option<String>)> = [
        "/static/css/site.0123456789ab.css",
        "/static/css/site.css",
        "/static/css/site.fedcba987654.css",
        "/static/css/missing.css",
    ]
    .into_iter()
    .map(|path| {
        let response = get(addr, path).expect("Apache answers");
        let header = |name| response.header(name).map(str::to_string);
        (
            path,
            response.status,
            header("cache-control"),
            header("x-content-type-options"),
        )
    })
    .collect();
    drop(apache);
    let nosniff = || Some("nosniff".to_string());
    assert_eq!(
        answers,
        [
            (
                "/static/css/site.0123456789ab.css",
                200,
                Some("public, max-age=31536000, immutable".to_string()),
                nosniff()
            ),
            (
                "/static/css/site.css",
                200,
                Some("no-cache".to_string()),
                nosniff()
            ),
            ("/static/css/site.fedcba987654.css", 404, None, nosniff()),
            ("/static/css/missing.css", 404, None, nosniff()),
        ]
    );
}

/// A real Apache on the site `deployconfig apache --plain-http` writes for
/// production settings (manifest storage: hashed names cached long) with
/// `work/media` as media_root and `work/static` as static_root, with `modules` more and the `server` lines, answering at
/// the address returned. Its workers (nobody) are let through the test's
/// folders and read every file under `work`.
fn apache_serving_files(
    example: &Example,
    work: &Path,
    modules: &[&str],
    server: &str,
) -> (Apache, std::net::SocketAddr) {
    use std::os::unix::fs::PermissionsExt;
    let (media, statics) = (work.join("media"), work.join("static"));
    for folder in [&media, &statics] {
        std::fs::create_dir_all(folder).unwrap();
    }
    fn readable_by_all(path: &Path) {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        let more = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | more)).unwrap();
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                readable_by_all(&entry.unwrap().path());
            }
        }
    }
    readable_by_all(work);
    let mut folder = work.parent();
    while let Some(path) = folder.filter(|p| p.starts_with(example.dir.path())) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        folder = path.parent();
    }
    let settings = production(example, "staticfiles_storage = \"manifest\"");
    let port = free_port();
    let (output, site, stderr) = run(example
        .command_with(&settings)
        .env("NUAGES_MEDIA_ROOT", &media)
        .env("NUAGES_STATIC_ROOT", &statics)
        .args(["deployconfig", "apache", "--plain-http", "--listen"])
        .arg(port.to_string()));
    assert!(output.status.success(), "{stderr}");
    std::fs::write(work.join("site.conf"), site).unwrap();
    let apache = Apache::start(work, modules, &format!("Listen 127.0.0.1:{port}\n{server}"));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(Duration::from_secs(10), || get(addr, "/media/").ok()).expect("Apache answers");
    (apache, addr)
}

/// `deployconfig apache` with TLS: its plain-HTTP virtual host, the port's
/// first, redirected requests for any Host to https (`Host: evil.com` got
/// `Location: https://evil.com/…`, SERVER_NAME being the client's Host
/// under UseCanonicalName Off), a redirect a shared cache could keep for a
/// host the site does not serve. A real Apache redirects the site's names
/// (any case, with a port, a trailing dot, a subdomain of `.example.org`)
/// and answers another Host 400 Bad Request, without a Location. ACME's
/// HTTP-01 challenges, which a certificate authority asks over plain HTTP,
/// reach the application (a real `serve`) without a redirect.
#[test]
fn apache_redirects_only_the_sites_names_to_https() {
    if !nuages_e2e::require("/usr/sbin/apache2") || !nuages_e2e::require("/usr/bin/openssl") {
        return;
    }
    let example = Example::new();
    let settings = production(&example, "");
    let work = example.dir.path().join("apache");
    std::fs::create_dir_all(&work).unwrap();
    let (cert, key) = nuages_e2e::self_signed_certificate(&work, "example.test");
    let (http_port, https_port, app_port) = (free_port(), free_port(), free_port());
    let hosts = "example.test,.example.org";
    let server = serve_answering(
        example
            .command_with(&settings)
            .env("NUAGES_ALLOWED_HOSTS", hosts)
            .args(["serve", "--bind", &format!("127.0.0.1:{app_port}")]),
        &work,
        app_port,
    );
    let write_apache_site = |more: &[&std::ffi::OsStr]| {
        let (output, site, stderr) = run(example
            .command_with(&settings)
            .env("NUAGES_ALLOWED_HOSTS", hosts)
            .env("NUAGES_SERVE_BIND", format!("127.0.0.1:{app_port}"))
            .args(["deployconfig", "apache", "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .arg("--listen")
            .arg(format!("127.0.0.1:{https_port}"))
            .arg("--listen-http")
            .arg(format!("127.0.0.1:{http_port}"))
            .args(more));
        assert!(output.status.success(), "{stderr}");
        std::fs::write(work.join("site.conf"), &site).unwrap();
    };
    write_apache_site(&[]);
    let apache = Apache::start(
        &work,
        &["ssl", "socache_shmcb", "http2"],
        &format!("Listen 127.0.0.1:{http_port}\nListen 127.0.0.1:{https_port}\n"),
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], http_port));
    let request =
        |host: &str| nuages_e2e::http(addr, "GET", "/polls/?page=2", &[("Host", host)], "");
    wait_for(Duration::from_secs(10), || request("example.test").ok()).expect("Apache answers");
    for (host, name) in [
        ("example.test", "example.test"),
        ("EXAMPLE.test", "example.test"),
        (&format!("example.test:{http_port}")[..], "example.test"),
        ("example.test.", "example.test"),
        ("example.org", "example.org"),
        ("www.Example.org", "www.example.org"),
        ("a.b.example.org", "a.b.example.org"),
    ] {
        let response = request(host).unwrap();
        assert_eq!(response.status, 301, "{host}: {response:?}");
        assert_eq!(
            response.header("location"),
            Some(&format!("https://{name}:{https_port}/polls/?page=2")[..]),
            "{host}"
        );
    }
    for host in [
        "evil.com",
        "example.test.evil.com",
        "evilexample.org",
        "example.test@evil.com",
        "localhost",
    ] {
        let response = request(host).unwrap();
        assert_eq!(response.status, 400, "{host}: {response:?}");
        assert_eq!(response.header("location"), None, "{host}: {response:?}");
    }
    let challenge = "/.well-known/acme-challenge/t0k3n";
    let answer = |path: &str| nuages_e2e::http(addr, "GET", path, &[("Host", "example.test")], "");
    let response = answer(challenge).unwrap();
    assert_eq!(
        response.status,
        404,
        "{response:?}\nserve: {}",
        server.output()
    );
    assert_eq!(response.header("location"), None, "{response:?}");
    // The access line is written once the answer is out: waited for.
    let reached = format!("\"GET {challenge} HTTP/1.1\" 404");
    wait_for(Duration::from_secs(10), || {
        server.output().contains(&reached).then_some(())
    })
    .unwrap_or_else(|| panic!("{}", server.output()));
    // Any other path, /.well-known/ too, is redirected.
    let response = answer("/.well-known/security.txt").unwrap();
    assert_eq!(response.status, 301, "{response:?}");

    // --acme-webroot: the challenge is certbot's file, from Apache (whose
    // workers, nobody, read it), and never reaches the application.
    let acme = tempfile::tempdir().unwrap();
    let challenges = acme.path().join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).unwrap();
    for folder in [acme.path(), &acme.path().join(".well-known"), &challenges] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(challenges.join("t0k3n"), "t0k3n.thumbprint").unwrap();
    std::fs::write(challenges.join(".hidden"), "not served").unwrap();
    write_apache_site(&["--acme-webroot".as_ref(), acme.path().as_os_str()]);
    // Not "graceful": its old children would answer some requests still.
    apache.control("restart");
    let answered = wait_for(Duration::from_secs(20), || {
        answer(challenge).ok().filter(|r| r.status == 200)
    })
    .expect("Apache serves the challenge file");
    assert_eq!(answered.body, "t0k3n.thumbprint");
    let unserved = [
        "/.well-known/acme-challenge/.hidden",
        "/.well-known/acme-challenge/other",
    ];
    for path in unserved {
        let response = answer(path).unwrap();
        assert_eq!(response.status, 404, "{path}: {response:?}");
    }
    let app = std::net::SocketAddr::from(([127, 0, 0, 1], app_port));
    nuages_e2e::assert_reached_none(&server, app, "example.test", &unserved);
}

/// Apache httpd as a daemon on `work/site.conf`, stopped when dropped.
struct Apache {
    main: PathBuf,
}

impl Apache {
    /// Start it with the modules a site of `deployconfig apache` needs,
    /// and `modules` more, its workers running as nobody, with the
    /// `server` lines (its Listen lines among them) before the site.
    fn start(work: &Path, modules: &[&str], server: &str) -> Apache {
        let folder = "/usr/lib/apache2/modules";
        let load = [
            "mpm_event",
            "authz_core",
            "authz_host",
            "alias",
            "headers",
            "proxy",
            "proxy_http",
            "rewrite",
        ]
        .iter()
        .chain(modules)
        .map(|name| format!("LoadModule {name}_module {folder}/mod_{name}.so\n"))
        .collect::<String>();
        let main = work.join("apache.conf");
        std::fs::write(
            &main,
            format!(
                "ServerRoot /etc/apache2\nServerName localhost\nDefaultRuntimeDir {w}\n\
                 PidFile {w}/apache.pid\nMutex file:{w}\nErrorLog {w}/error.log\n\
                 {load}User nobody\nGroup {group}\n{server}Include {w}/site.conf\n",
                w = work.display(),
                group = nuages_e2e::group_of(Some("nobody")),
            ),
        )
        .unwrap();
        let apache = Apache { main };
        apache.control("start");
        apache
    }

    /// `apache2 -k ACTION`, which must succeed.
    fn control(&self, action: &str) {
        let (output, stdout, stderr) = run(std::process::Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(&self.main)
            .args(["-k", action]));
        assert!(
            output.status.success(),
            "apache2 -k {action}: {stdout}{stderr}"
        );
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = std::process::Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(&self.main)
            .args(["-k", "stop"])
            .output();
    }
}
