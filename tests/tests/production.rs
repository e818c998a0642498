//! Production as the deployment guide has it: `migrate`, `collectstatic`,
//! `serve` on a unix socket, nginx configured by `deployconfig` in front;
//! graceful shutdown, the socket's mode, socket activation, the refusal to
//! start without a secret key; Apache's and systemd's configs verified.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nuages_e2e::{
    GeneratedProject, Server, as_serve_user, deployconfig_nginx, free_port, get, http, manage,
    nginx_syntax_ok, read_response, require, run, self_signed_certificate, start_nginx, wait_for,
};

const SECRET: &str = "k8Qz1vX9mN2bL7cR4tY6uI0oP3aS5dF8gH1jK4lZ7xC0vB3nM6qW9eR2tY5uI8oP";

const URLS: &str = r#"use nuages::urls::UrlConf;
async fn home() -> &'static str { "hello from the app" }
async fn whoami() -> String {
    format!("serve {}", std::env::var("SERVE_NAME").unwrap_or_default())
}
async fn security_txt() -> &'static str { "Contact: mailto:security@example.test" }
async fn slow() -> &'static str {
    nuages::tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    "slow and done"
}
pub fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("", home, "home")
        .path("slow/", slow, "slow")
        .path("whoami/", whoami, "whoami")
        .path(".well-known/security.txt", security_txt, "security_txt")
        .include("accounts/", nuages::auth::urls())
}
"#;

/// A generated project prepared for production: built, migrated, collected.
fn production_project(name: &str) -> GeneratedProject {
    production_project_with(name, URLS)
}

/// The same, with `urls` as its `src/urls.rs`.
fn production_project_with(name: &str, urls: &str) -> GeneratedProject {
    let project = GeneratedProject::new(name);
    project.write("src/urls.rs", urls);
    // Big enough to be precompressed.
    project.write(
        "static/css/big.css",
        &"body { margin: 0; padding: 0; color: #123456; }\n".repeat(100),
    );
    let (output, stdout, stderr) = project.cargo(&["build", "--quiet"]);
    assert!(output.status.success(), "{stdout}{stderr}");
    for args in [&["migrate"][..], &["collectstatic", "--noinput"][..]] {
        let (output, stdout, stderr) = run(production(&project).args(args));
        assert!(output.status.success(), "{args:?}: {stdout}{stderr}");
    }
    project
}

/// `manage` with the production settings and their environment.
fn production(project: &GeneratedProject) -> Command {
    let mut command = manage(&project.dir);
    command
        .env("NUAGES_SETTINGS", "settings.production.toml")
        .env("SECRET_KEY", SECRET)
        .env("NUAGES_ALLOWED_HOSTS", "example.test,localhost")
        // Plain HTTP on loopback in this test: no redirect to https.
        .env("NUAGES_SECURE_SSL_REDIRECT", "false");
    command
}

#[test]
fn nginx_serves_static_files_and_proxies_pages_to_serve() {
    if !require("/usr/sbin/nginx") {
        return;
    }
    let project = production_project("deployed");
    let work = project.temp.path();
    let socket = work.join("run/deployed.sock");
    // serve_bind tells both serve and deployconfig where the application listens.
    let bind = format!("unix:{}", socket.display());
    // Uploads go to media_root (relative to the project's folder).
    let media = project.dir.join("www_dir/media");
    let server = Server::start(
        as_serve_user(&mut production(&project))
            .env("NUAGES_SERVE_BIND", &bind)
            .env("NUAGES_MEDIA_ROOT", "www_dir/media")
            .arg("serve"),
        work,
        "serve",
    );
    // The socket is there from the start; serve says it serves on it once
    // its start-up reports are done.
    let serving = format!("on unix:{}", socket.display());
    assert!(
        wait_for(Duration::from_secs(60), || (socket.exists()
            && server.output().contains(&serving))
        .then_some(()))
        .is_some(),
        "serve did not serve on its socket: {}",
        server.output()
    );
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "serve_socket_mode");

    let (site, stderr, addr) = deployconfig_nginx(
        production(&project)
            .env("NUAGES_SERVE_BIND", &bind)
            .env("NUAGES_MEDIA_ROOT", "www_dir/media"),
        work,
        &[],
    );
    // Behind a TLS-terminating proxy: its X-Forwarded-Proto goes on, and the
    // command names the setting that makes the application believe it.
    assert!(
        std::fs::read_to_string(&site)
            .unwrap()
            .contains("proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;")
    );
    assert!(
        stderr.contains(r#"secure_proxy_ssl_header = ["X-Forwarded-Proto", "https"]"#),
        "{stderr}"
    );
    let nginx = start_nginx(work, &site, addr);
    let host = [("Host", "example.test")];

    // Pages: through nginx to the application.
    let page = http(addr, "GET", "/", &host, "").unwrap();
    assert_eq!(
        page.status,
        200,
        "{page:?}\nnginx: {}\nserve: {}",
        std::fs::read_to_string(work.join("nginx-error.log")).unwrap_or_default(),
        server.output()
    );
    assert_eq!(page.body, "hello from the app");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));

    // Static files: by nginx, from static_root, never reaching the app.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.dir.join("www_dir/static/staticfiles.json")).unwrap(),
    )
    .unwrap();
    let hashed = manifest["paths"]["css/big.css"]
        .as_str()
        .expect("big.css in the manifest")
        .to_string();
    let css = http(addr, "GET", "/static/css/big.css", &host, "").unwrap();
    assert_eq!(css.status, 200);
    assert!(
        css.header("content-type").unwrap().starts_with("text/css"),
        "{css:?}"
    );
    let gzipped = http(
        addr,
        "GET",
        &format!("/static/{hashed}"),
        &[("Host", "example.test"), ("Accept-Encoding", "gzip")],
        "",
    )
    .unwrap();
    assert_eq!(gzipped.status, 200);
    assert_eq!(
        gzipped.header("content-encoding"),
        Some("gzip"),
        "{gzipped:?}"
    );
    assert!(
        gzipped
            .header("cache-control")
            .unwrap()
            .contains("immutable"),
        "{gzipped:?}"
    );
    // Both copies say they vary with Accept-Encoding, so that a cache in
    // front (a CDN, a proxy) never hands the gzipped one to a client that
    // did not ask for it, nor keeps the plain one for all.
    let plain = http(addr, "GET", &format!("/static/{hashed}"), &host, "").unwrap();
    assert_eq!(plain.header("content-encoding"), None, "{plain:?}");
    for response in [&gzipped, &plain] {
        assert_eq!(
            response.header("vary"),
            Some("Accept-Encoding"),
            "{response:?}"
        );
    }
    // A hashed name not collected here yet (a page of a newer deploy names
    // it): a 404 no cache keeps, as serve --static answers it.
    for missing in [
        "/static/css/big.0123456789ab.css",
        "/static/css/missing.css",
    ] {
        let response = http(addr, "GET", missing, &host, "").unwrap();
        assert_eq!(response.status, 404, "{missing}: {response:?}");
        assert_eq!(
            response.header("cache-control"),
            None,
            "{missing}: {response:?}"
        );
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    }
    assert_eq!(
        http(addr, "GET", "/static/.hidden", &host, "")
            .unwrap()
            .status,
        404
    );
    assert_eq!(
        http(addr, "GET", "/static/css/", &host, "").unwrap().status,
        403,
        "no directory listing"
    );
    // Uploaded files: by nginx, from media_root, as inert content.
    std::fs::create_dir_all(media.join("avatars")).unwrap();
    std::fs::create_dir_all(media.join(".incoming")).unwrap();
    std::fs::write(
        media.join("avatars/0123abcd.html"),
        "<script>alert(1)</script>",
    )
    .unwrap();
    std::fs::write(media.join(".incoming/upload-waiting"), "not yet saved").unwrap();
    let upload = http(addr, "GET", "/media/avatars/0123abcd.html", &host, "").unwrap();
    assert_eq!(upload.status, 200, "{upload:?}");
    assert_eq!(upload.body, "<script>alert(1)</script>");
    assert_eq!(
        upload.header("content-security-policy"),
        Some("default-src 'none'; sandbox"),
        "{upload:?}"
    );
    assert_eq!(upload.header("x-content-type-options"), Some("nosniff"));
    for hidden in [
        "/media/.incoming/upload-waiting",
        "/media/../settings.production.toml",
    ] {
        assert_eq!(
            http(addr, "GET", hidden, &host, "").unwrap().status,
            404,
            "{hidden}"
        );
    }
    // A link in media_root is not followed out of it, as the application
    // refuses it: nginx answers 403.
    std::os::unix::fs::symlink(
        project.dir.join("settings.production.toml"),
        media.join("link"),
    )
    .unwrap();
    let linked = http(addr, "GET", "/media/link", &host, "").unwrap();
    assert_eq!(linked.status, 403, "{linked:?}");
    let app_log = server.output();
    assert!(app_log.contains("\"GET / HTTP/1.1\" 200"), "{app_log}");
    // The same lines go to log_file (logs/deployed.log in the production settings).
    let log_file = project.dir.join("logs/deployed.log");
    let logged = wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&log_file)
            .ok()
            .filter(|text| text.contains(" INFO nuages::request: \"GET / HTTP/1.1\" 200 "))
    });
    assert!(logged.is_some(), "{:?}", std::fs::read_to_string(&log_file));
    // (nginx passes a path with `..` on to the application as it came: 404 there.)
    assert!(
        !app_log.contains("/media/avatars") && !app_log.contains("/media/.incoming"),
        "uploads reached the app: {app_log}"
    );
    assert!(
        !app_log.contains("/static/"),
        "static files reached the app: {app_log}"
    );

    // RFC 8615's /.well-known/ reaches the application (its page, or its own
    // 404); every other dot path is nginx's 404, as is a dot below it.
    let security = http(addr, "GET", "/.well-known/security.txt", &host, "").unwrap();
    assert_eq!(security.status, 200, "{security:?}");
    assert_eq!(security.body, "Contact: mailto:security@example.test");
    let challenge = http(addr, "GET", "/.well-known/acme-challenge/t0k3n", &host, "").unwrap();
    assert_eq!(challenge.status, 404, "{challenge:?}");
    nuages_e2e::assert_nginx_refuses_dot_paths(|dotted| {
        http(addr, "GET", dotted, &host, "").unwrap()
    });
    let app_log = server.output();
    for reached in [
        "GET /.well-known/security.txt HTTP/1.1\" 200",
        "GET /.well-known/acme-challenge/t0k3n HTTP/1.1\" 404",
    ] {
        assert!(app_log.contains(reached), "{reached}: {app_log}");
    }
    for refused in ["/.env", "/.git", "/.well-known/.git"] {
        assert!(
            !app_log.contains(&format!("GET {refused}")),
            "{refused}: {app_log}"
        );
    }

    // A disallowed host is refused by the application with 400.
    let evil = http(addr, "GET", "/", &[("Host", "evil.test")], "").unwrap();
    assert_eq!(evil.status, 400);
    assert!(
        !evil.body.contains("allowed_hosts"),
        "production hides the fix: {}",
        evil.body
    );
    drop(nginx);
    drop(server);
    assert!(!socket.exists(), "the socket is removed at exit");
}

#[test]
fn nginx_balances_between_two_serve_processes_and_skips_one_that_is_gone() {
    if !require("/usr/sbin/nginx") {
        return;
    }
    let project = production_project("balanced");
    let work = project.temp.path();
    let mut servers = vec![];
    let mut upstreams = vec![];
    for name in ["a", "b"] {
        let socket = work.join(format!("run/{name}.sock"));
        let bind = format!("unix:{}", socket.display());
        let server = Server::start(
            as_serve_user(&mut production(&project))
                .env("SERVE_NAME", name)
                .args(["serve", "--bind", &bind]),
            work,
            &format!("serve-{name}"),
        );
        assert!(
            wait_for(Duration::from_secs(60), || socket.exists().then_some(())).is_some(),
            "serve {name} did not create its socket: {}",
            server.output()
        );
        servers.push(server);
        upstreams.extend(["--upstream".to_string(), bind]);
    }
    let upstreams: Vec<&str> = upstreams.iter().map(String::as_str).collect();
    // Only nginx balances: Apache's and systemd's configurations take one upstream.
    for kind in [&["apache", "--plain-http"][..], &["systemd"]] {
        let (output, _, stderr) = run(production(&project)
            .arg("deployconfig")
            .args(kind)
            .args(&upstreams));
        assert_eq!(output.status.code(), Some(2), "{kind:?}: {stderr}");
        assert!(
            stderr.contains("--upstream is given 2 times, and only `deployconfig nginx` balances"),
            "{kind:?}: {stderr}"
        );
    }
    let (site, _, addr) = deployconfig_nginx(&mut production(&project), work, &upstreams);
    let text = std::fs::read_to_string(&site).unwrap();
    assert!(
        text.contains("proxy_next_upstream error timeout;"),
        "{text}"
    );
    let nginx = start_nginx(work, &site, addr);
    let host = [("Host", "example.test")];
    let who = || {
        let page = http(addr, "GET", "/whoami/", &host, "").unwrap();
        assert_eq!(page.status, 200, "{page:?}\nnginx: {}", nginx.output());
        page.body
    };

    // Both answer, in turn.
    let mut answers = std::collections::BTreeMap::new();
    for _ in 0..20 {
        *answers.entry(who()).or_insert(0) += 1;
    }
    assert_eq!(
        answers,
        [("serve a".to_string(), 10), ("serve b".to_string(), 10)].into(),
        "{answers:?}"
    );

    // One is killed (no graceful shutdown): every request still succeeds,
    // answered by the other.
    servers[0].child.kill().unwrap();
    servers[0].child.wait().unwrap();
    for _ in 0..20 {
        assert_eq!(who(), "serve b");
    }
}

/// A page answered before its request's body was read (the CSRF check
/// refuses an upload it never reads) reaches the client through nginx:
/// serve reads the rest of the body after its answer. It closed the
/// connection with the body still arriving, which reset it under nginx, and
/// nginx, still writing, answered 502 to a third of such requests.
#[test]
fn nginx_passes_on_an_answer_given_before_the_body_was_read() {
    if !require("/usr/sbin/nginx") {
        return;
    }
    let project = production_project("early");
    let work = project.temp.path();
    let socket = work.join("run/early.sock");
    let bind = format!("unix:{}", socket.display());
    let server = Server::start(
        as_serve_user(&mut production(&project)).args(["serve", "--bind", &bind]),
        work,
        "serve",
    );
    assert!(
        wait_for(Duration::from_secs(60), || socket.exists().then_some(())).is_some(),
        "serve did not create its socket: {}",
        server.output()
    );
    let (site, _, addr) =
        deployconfig_nginx(&mut production(&project), work, &["--upstream", &bind]);
    let nginx = start_nginx(work, &site, addr);
    let body = "x".repeat(1_500_000);
    let headers = [
        ("Host", "example.test"),
        ("Content-Type", "application/octet-stream"),
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..30 {
        let response = http(addr, "POST", "/", &headers, &body).unwrap();
        *statuses.entry(response.status).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        [(403, 30)].into(),
        "nginx: {}\nserve: {}",
        nginx.output(),
        server.output()
    );
}

const MESSAGES_URLS: &str = r#"use nuages::prelude::*;
async fn add(messages: Messages) -> Response {
    messages.success("Saved <script>alert(1)</script>");
    messages.warning("Second");
    redirect("/page/")
}
async fn page(templates: Templates) -> Result<Html<String>> {
    templates.render("page.html", context! {})
}
pub fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("add/", add, "add")
        .path("page/", page, "page")
        .include("accounts/", nuages::auth::urls())
}
"#;

/// The `Set-Cookie` of `name` in `response`, as `name=value`.
fn cookie_pair(response: &nuages_e2e::HttpResponse, name: &str) -> Option<String> {
    response
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .find_map(|(_, v)| {
            v.starts_with(&format!("{name}="))
                .then(|| v.split(';').next().unwrap().to_string())
        })
}

#[test]
fn serve_shows_a_message_once_on_the_next_page_of_the_generated_base_template() {
    let project = production_project_with("messaged", MESSAGES_URLS);
    project.write(
        "templates/page.html",
        "{% extends \"base.html\" %}{% block content %}<p>the page</p>{% endblock content %}",
    );
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let server = Server::start(
        as_serve_user(&mut production(&project)).args(["serve", "--bind", &addr.to_string()]),
        project.temp.path(),
        "serve",
    );
    let host = [("Host", "localhost")];
    wait_for(Duration::from_secs(60), || {
        http(addr, "GET", "/page/", &host, "").ok()
    })
    .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));

    let added = http(addr, "GET", "/add/", &host, "").unwrap();
    assert_eq!(added.status, 302, "{added:?}");
    assert_eq!(added.header("location"), Some("/page/"));
    let session = cookie_pair(&added, "sessionid").expect("the messages wait in the session");
    let with_session = [("Host", "localhost"), ("Cookie", session.as_str())];

    let page = http(addr, "GET", "/page/", &with_session, "").unwrap();
    assert_eq!(page.status, 200);
    let list = "<ul class=\"messages\">";
    let success = "<li class=\"success\">Saved &lt;script&gt;alert(1)&lt;/script&gt;</li>";
    let warning = "<li class=\"warning\">Second</li>";
    let (at_success, at_warning) = (page.body.find(success), page.body.find(warning));
    assert!(
        page.body.contains(list) && at_success.is_some() && at_success < at_warning,
        "both, in order, escaped: {}",
        page.body
    );
    assert!(!page.body.contains("<script>"));
    assert!(page.body.contains("<p>the page</p>"));
    // The session no longer holds them: the cookie is removed.
    let removed = page
        .headers
        .iter()
        .any(|(k, v)| k == "set-cookie" && v.starts_with("sessionid=;"));
    assert!(removed, "{page:?}");

    // Reloading with the old cookie would replay it: a browser has dropped it.
    let reload = http(addr, "GET", "/page/", &host, "").unwrap();
    assert_eq!(reload.status, 200);
    assert!(!reload.body.contains(list), "{}", reload.body);
    assert!(reload.body.contains("<p>the page</p>"));
}

/// `serve` of `project` on a free loopback port, once it answers `/`.
fn serve_on_loopback(project: &GeneratedProject) -> (Server, std::net::SocketAddr) {
    serve_on_loopback_with(project, &[])
}

/// The same, with the environment variables `env` besides the production ones.
fn serve_on_loopback_with(
    project: &GeneratedProject,
    env: &[(&str, &str)],
) -> (Server, std::net::SocketAddr) {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let server = Server::start(
        as_serve_user(&mut production(project))
            .envs(env.iter().copied())
            .args(["serve", "--bind", &addr.to_string()]),
        project.temp.path(),
        "serve",
    );
    wait_for(Duration::from_secs(60), || get(addr, "/").ok())
        .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));
    (server, addr)
}

#[test]
fn serve_finishes_requests_in_flight_on_sigterm_and_refuses_new_ones() {
    let project = production_project("graceful");
    let (mut server, addr) = serve_on_loopback(&project);
    // A keep-alive connection left idle after its answer.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut idle).unwrap().status, 200);
    let slow = std::thread::spawn(move || get(addr, "/slow/"));
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    let refused = wait_for(Duration::from_secs(5), || {
        std::net::TcpStream::connect(addr).is_err().then_some(())
    });
    assert!(
        refused.is_some(),
        "new connections are still accepted after SIGTERM"
    );
    let response = slow.join().unwrap().expect("the slow request completes");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "slow and done");
    // The idle connection is closed, not kept until serve_graceful_timeout.
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    let read = std::io::Read::read(&mut idle, &mut byte);
    assert!(
        matches!(read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset),
        "{read:?}"
    );
    let status = wait_for(Duration::from_secs(10), || {
        server.child.try_wait().ok().flatten()
    })
    .expect("serve exits");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?} after SIGTERM",
        signalled.elapsed()
    );
    assert!(status.success(), "{status:?}: {}", server.output());
    assert!(
        server.output().contains("Shut down cleanly."),
        "{}",
        server.output()
    );
}

/// A request still running `serve_graceful_timeout` seconds after SIGTERM
/// is cut off unanswered, and its line is in the log all the same, with
/// nginx's status 499.
#[test]
fn serve_logs_a_request_cut_off_at_shutdown_as_499() {
    let project = production_project("cutoff");
    let (mut server, addr) =
        serve_on_loopback_with(&project, &[("NUAGES_SERVE_GRACEFUL_TIMEOUT", "1")]);
    // `/slow/` answers after 2 seconds: one more than the shutdown waits.
    let slow = std::thread::spawn(move || get(addr, "/slow/"));
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    let answer = slow.join().unwrap();
    assert!(
        answer.as_ref().is_err(),
        "the request was answered: {answer:?}"
    );
    let status = wait_for(Duration::from_secs(10), || {
        server.child.try_wait().ok().flatten()
    })
    .expect("serve exits");
    let output = server.output();
    assert!(status.success(), "{status:?}: {output}");
    assert!(output.contains(r#""GET /slow/ HTTP/1.1" 499 "#), "{output}");
    assert!(
        !output.contains(r#""GET /slow/ HTTP/1.1" 200 "#),
        "{output}"
    );
}

/// SIGHUP (gunicorn's "reload", a closed terminal) neither drops the
/// request in flight nor stops `serve`, which systemd would then not
/// restart: it says it does not reload and how to restart, and serves on.
#[test]
fn serve_outlives_sighup_and_says_how_to_restart() {
    let project = production_project("hangup");
    let (mut server, addr) = serve_on_loopback(&project);
    let slow = std::thread::spawn(move || get(addr, "/slow/"));
    std::thread::sleep(Duration::from_millis(500));
    server.signal(libc::SIGHUP);
    let response = slow.join().unwrap().expect("the slow request completes");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "slow and done");
    assert_eq!(get(addr, "/").expect("serve still answers").status, 200);
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "{}",
        server.output()
    );
    let said = wait_for(Duration::from_secs(10), || {
        let output = server.output();
        output
            .contains("SIGHUP received and ignored")
            .then_some(output)
    })
    .unwrap_or_else(|| server.output());
    assert!(
        said.contains("serve does not reload its code or settings")
            && said.contains("systemctl restart hangup"),
        "{said}"
    );
    let status = server
        .stop(Duration::from_secs(20))
        .expect("SIGTERM still stops it");
    assert!(status.success(), "{status:?}: {}", server.output());
}

/// One request of a load client: when it was written, and when its answer
/// came or why none did.
struct Exchange {
    path: &'static str,
    sent: Instant,
    answered: Result<Instant, String>,
}

/// Once ready, `serve` gives back the pages of code that only its start-up
/// ran (the settings, the checks, the templates, the migrations' check):
/// they are no longer resident, the requests take back what they run, and
/// the site answers as before.
#[test]
fn serve_gives_back_the_code_only_its_start_up_ran() {
    let project = production_project("pages");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut server = Server::start(
        as_serve_user(&mut production(&project)).args(["serve", "--bind", &addr.to_string()]),
        project.temp.path(),
        "serve",
    );
    // "Serving pages on http://… (Nuages …, process PID, settings …)"
    let pid: u32 = wait_for(Duration::from_secs(60), || {
        let output = server.output();
        let (_, after) = output.split_once(", process ")?;
        after.split_once(',')?.0.parse().ok()
    })
    .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));
    let at_start = resident_code_kib(pid);
    // Measured on this debug build: 23 MiB of its code stay resident after
    // the start-up when nothing is given back, 6 MiB when it is.
    assert!(
        at_start < 12 * 1024,
        "{at_start} KiB of the executable's code resident before any request"
    );
    for path in ["/", "/missing/"] {
        let response = get(addr, path).unwrap();
        assert_eq!(response.status, if path == "/" { 200 } else { 404 });
    }
    assert_eq!(get(addr, "/").unwrap().body, "hello from the app");
    assert!(
        resident_code_kib(pid) > at_start,
        "the requests' code comes back"
    );
    assert!(
        server
            .stop(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    assert!(
        server.output().contains("Shut down cleanly."),
        "{}",
        server.output()
    );
}

/// How much of `pid`'s executable's code is resident, in KiB.
fn resident_code_kib(pid: u32) -> u64 {
    let executable = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    let executable = executable.to_str().unwrap();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut ours = false;
    let mut total = 0;
    for line in smaps.lines() {
        if let Some(rss) = line.strip_prefix("Rss:") {
            if ours {
                total += rss
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap();
            }
        } else if let Some((range, rest)) = line.split_once(' ') {
            // A mapping's first line: "START-END PERMS OFFSET DEVICE INODE PATH".
            if range.contains('-') && range.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                ours = rest.starts_with("r-xp ") && rest.trim_end().ends_with(executable);
            }
        }
    }
    total
}

/// Send requests for `path` one after the other, on one keep-alive
/// connection or a new connection each, until a connection is refused.
fn load_client(addr: SocketAddr, path: &'static str, keep_alive: bool) -> Vec<Exchange> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    );
    let started = Instant::now();
    let mut exchanges = Vec::new();
    let mut open: Option<TcpStream> = None;
    while started.elapsed() < Duration::from_secs(120) {
        let mut stream = match open.take() {
            Some(stream) => stream,
            None => match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(stream) => stream,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                Err(e) => panic!("connecting to {addr}: {e}"),
            },
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let written = stream.write_all(request.as_bytes());
        let sent = Instant::now();
        let answered = written
            .and_then(|()| read_response(&mut stream))
            .map_err(|e| e.to_string())
            .and_then(|response| {
                if response.status != 200 {
                    return Err(format!("status {}", response.status));
                }
                if keep_alive && response.header("connection") != Some("close") {
                    open = Some(stream);
                }
                Ok(Instant::now())
            });
        exchanges.push(Exchange {
            path,
            sent,
            answered,
        });
    }
    exchanges
}

/// Connect to `addr` from 127.0.0.2, an address the load clients never
/// use: a port that collides with one of the server's TIME_WAIT sockets
/// (left by the load's closed connections) would delay the answer by a
/// SYN retransmission, 1 s, whatever the server does.
///
/// On loopback a connection is accepted or refused within microseconds; the
/// one attempt that can get neither is a SYN that crosses the listening
/// socket's close, which the kernel drops (the client would retry 1 s
/// later and be refused): that attempt times out after 200 ms.
fn connect_from_elsewhere(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
) -> std::io::Result<()> {
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.2:0".parse().unwrap())?;
        match tokio::time::timeout(Duration::from_millis(200), socket.connect(addr)).await {
            Ok(connected) => connected.map(drop),
            Err(_) => Err(ErrorKind::TimedOut.into()),
        }
    })
}

#[test]
fn sigterm_under_load_answers_every_request_sent_before_it_and_refuses_new_connections_at_once() {
    let project = production_project("underload");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut server = Server::start(
        as_serve_user(&mut production(&project)).args(["serve", "--bind", &addr.to_string()]),
        project.temp.path(),
        "serve",
    );
    wait_for(Duration::from_secs(60), || get(addr, "/").ok())
        .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));
    // 20 clients: slow requests in flight, keep-alive connections, new connections.
    let clients: Vec<_> = (0..20)
        .map(|n| {
            let (path, keep_alive) = match n % 4 {
                0 => ("/slow/", false),
                1 => ("/", true),
                _ => ("/", false),
            };
            std::thread::spawn(move || load_client(addr, path, keep_alive))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    // The listening socket closes at once: the first attempt not accepted
    // starts within 100 ms of the signal (refused, lost in the close, or
    // reset by it: see `connect_from_elsewhere` and below), and every later
    // one is refused.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let refused = |attempt: &std::io::Result<()>| matches!(attempt, Err(e) if e.kind() == ErrorKind::ConnectionRefused);
    let first_not_accepted = loop {
        let started = signalled.elapsed();
        match connect_from_elsewhere(&runtime, addr) {
            Ok(()) => {}
            // Reset: the kernel completed the handshake into the listening
            // socket's queue just before the close, which resets what the
            // server never accepted (seen once in CI): not accepted either.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::TimedOut | ErrorKind::ConnectionReset
                ) =>
            {
                break started;
            }
            Err(e) => panic!("connecting after SIGTERM: {e}"),
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "still accepting 10 s after SIGTERM: {}",
            server.output()
        );
    };
    let probing = Instant::now();
    let mut attempts = 0;
    while probing.elapsed() < Duration::from_millis(500) {
        let attempt = connect_from_elsewhere(&runtime, addr);
        assert!(
            refused(&attempt),
            "attempt {attempts} after the first one not accepted: {attempt:?}"
        );
        attempts += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        first_not_accepted <= Duration::from_millis(100),
        "the first connection not accepted was tried {first_not_accepted:?} after SIGTERM"
    );

    let exchanges: Vec<Exchange> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    let before: Vec<&Exchange> = exchanges.iter().filter(|e| e.sent < signalled).collect();
    let failed: Vec<String> = before
        .iter()
        .filter_map(|e| {
            let why = e.answered.as_ref().err()?;
            Some(format!(
                "{} sent {:?} before the signal: {why}",
                e.path,
                signalled - e.sent
            ))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests sent before SIGTERM failed:\n{}\n{}",
        failed.len(),
        before.len(),
        failed.join("\n"),
        server.output()
    );
    eprintln!(
        "{} requests sent before SIGTERM, {} after; first connection not accepted tried {first_not_accepted:?} after it, then {attempts} refused",
        before.len(),
        exchanges.len() - before.len()
    );
    assert!(before.len() >= 50, "too little load: {}", before.len());
    let slow_in_flight = before
        .iter()
        .filter(|e| e.path == "/slow/" && matches!(e.answered, Ok(at) if at > signalled))
        .count();
    assert!(slow_in_flight >= 1, "no slow request was in flight");
    let status = wait_for(Duration::from_secs(10), || {
        server.child.try_wait().ok().flatten()
    })
    .expect("serve exits");
    assert!(status.success(), "{status:?}: {}", server.output());
    let log = server.output();
    assert!(log.contains("Shut down cleanly."), "{log}");
    // Every request answered has its line in the log: the workers wrote
    // the lines they had gathered before the process exited.
    for path in ["/", "/slow/"] {
        let answered = exchanges
            .iter()
            .filter(|e| e.path == path && e.answered.is_ok())
            .count();
        let logged = log
            .matches(&format!("\"GET {path} HTTP/1.1\" 200 "))
            .count();
        assert!(
            logged >= answered,
            "{answered} requests for {path} answered, {logged} logged"
        );
    }
}

/// Run `command`, a `serve` on `addr` that must refuse to start: it exits 1
/// and nothing answers there. Its stderr.
fn refused(
    project: &GeneratedProject,
    addr: SocketAddr,
    command: &mut Command,
    name: &str,
) -> String {
    let mut server = Server::start(command, project.temp.path(), name);
    let status = wait_for(Duration::from_secs(60), || {
        server.child.try_wait().ok().flatten()
    })
    .unwrap_or_else(|| panic!("{name}: serve started: {}", server.output()));
    assert_eq!(status.code(), Some(1), "{name}: {}", server.output());
    assert!(get(addr, "/").is_err(), "{name}: something answers");
    std::fs::read_to_string(&server.stderr).unwrap()
}

#[test]
fn serve_refuses_debug_settings_unless_allowed() {
    let project = GeneratedProject::new("debugging");
    let (output, stdout, stderr) = project.cargo(&["build", "--quiet"]);
    assert!(output.status.success(), "{stdout}{stderr}");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let bind = addr.to_string();
    let refused = |command: &mut Command, name: &str| refused(&project, addr, command, name);
    // The development settings, as a forgotten NUAGES_SETTINGS leaves them.
    // Named in full: the error goes to a journal, far from the project's folder.
    let folder = project.dir.canonicalize().unwrap();
    let development = folder.join("settings.toml");
    let stderr = refused(
        manage(&project.dir).args(["serve", "--bind", &bind]),
        "development",
    );
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "error: debug is on (serve loaded {}): serve is the production server, and debug pages show code and settings to every visitor",
                development.display()
            )
            .as_str(),
            "  hint: select the production settings with NUAGES_SETTINGS=settings.production.toml or --settings settings.production.toml; to serve with debug on anyway, pass --allow-debug",
        ],
        "{stderr}"
    );
    // The production settings, with debug turned on from the environment.
    let stderr = refused(
        production(&project)
            .env("NUAGES_DEBUG", "true")
            .args(["serve", "--bind", &bind]),
        "environment",
    );
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            format!(
                "error: debug is on (NUAGES_DEBUG=true in the environment turns it on over {}): serve is the production server, and debug pages show code and settings to every visitor",
                folder.join("settings.production.toml").display()
            )
            .as_str(),
            "  hint: unset NUAGES_DEBUG; to serve with debug on anyway, pass --allow-debug",
        ],
        "{stderr}"
    );
    // Asked for explicitly: it serves.
    let server = Server::start(
        manage(&project.dir).args(["serve", "--allow-debug", "--bind", &bind]),
        project.temp.path(),
        "allowed",
    );
    let response = wait_for(Duration::from_secs(60), || get(addr, "/").ok())
        .unwrap_or_else(|| panic!("serve --allow-debug did not start: {}", server.output()));
    assert_eq!(response.status, 200, "{response:?}\n{}", server.output());
    assert!(
        server.output().contains("settings settings.toml)"),
        "{}",
        server.output()
    );
}

#[test]
fn serve_refuses_to_run_as_root_when_serve_user_names_another_account() {
    if nuages::checks::files::Identity::current().uid != 0 {
        // CI runs the tests as root; elsewhere this is not root's refusal to see.
        println!(
            "skipped: serve as root is refused only to root, and the tests do not run as root"
        );
        return;
    }
    let project = GeneratedProject::new("rootserved");
    let (output, stdout, stderr) = project.cargo(&["build", "--quiet"]);
    assert!(output.status.success(), "{stdout}{stderr}");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    // `sudo manage --release serve` to try the site: the generated
    // production settings name the service account, serve_user = "rootserved".
    let stderr = refused(
        &project,
        addr,
        production(&project).args(["serve", "--bind", &addr.to_string()]),
        "root",
    );
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "error: serve is running as root while serve_user names \"rootserved\": the files it \
             writes would belong to root, and every view would run as root",
            // No account of that name on a test machine: the hint says to make it.
            "  hint: there is no user 'rootserved' on this system: create it first with \
             useradd --system --no-create-home rootserved, then start it as rootserved: \
             sudo -u rootserved …, or the unit deployconfig systemd writes (its User= is rootserved); if root is meant, set serve_user = \"root\" \
             (or NUAGES_SERVE_USER=root)",
        ],
        "{stderr}"
    );
    // Root meant, serve_user = "root": the other serve tests here, which set
    // NUAGES_SERVE_USER to the account running them (root in CI).
}

#[test]
fn serve_takes_a_socket_passed_by_systemd() {
    let project = production_project("activated");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    // systemd runs the binary itself (deployconfig's ExecStart), not cargo.
    let mut via_manage = production(&project);
    as_serve_user(&mut via_manage);
    let binary = nuages_e2e::target_dir().join("debug/activated");
    let mut command = {
        let mut direct = Command::new(binary);
        direct.current_dir(&project.dir);
        for (key, value) in via_manage.get_envs() {
            match value {
                Some(value) => direct.env(key, value),
                None => direct.env_remove(key),
            };
        }
        direct
    };
    command
        .args(["serve", "--static", "--bind", "127.0.0.1:1"])
        .env("LISTEN_FDS", "1")
        .env_remove("LISTEN_PID");
    // SAFETY: dup2 only, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec: clear it instead.
            let result = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if result < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut server = Server::start(&mut command, project.temp.path(), "serve");
    let response = wait_for(Duration::from_secs(60), || get(addr, "/").ok()).unwrap_or_else(|| {
        panic!(
            "serve did not answer on the passed socket: {}",
            server.output()
        )
    });
    assert_eq!(response.body, "hello from the app");
    // `--static`: the application serves static_root itself, hashed names for a year.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.dir.join("www_dir/static/staticfiles.json")).unwrap(),
    )
    .unwrap();
    let hashed = manifest["paths"]["css/big.css"]
        .as_str()
        .unwrap()
        .to_string();
    let css = get(addr, &format!("/static/{hashed}")).unwrap();
    assert_eq!(css.status, 200, "{css:?}\n{}", server.output());
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    // At exit serve closes its copy of the socket, not systemd's: a new
    // connection waits in systemd's backlog for the next start.
    let status = server.stop(Duration::from_secs(10)).expect("serve exits");
    assert!(status.success(), "{status:?}: {}", server.output());
    let waiting = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert!(waiting.is_ok(), "{waiting:?}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_ok(),
        "the connection waits for the next start"
    );
}

#[test]
fn serve_static_never_sends_a_sibling_that_leads_out() {
    let project = production_project("siblings");
    let root = project.dir.join("www_dir/static");
    let secret = b"TOP-SECRET-OF-THE-PROJECT";
    std::fs::write(project.dir.join("secret.txt"), secret).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let server = Server::start(
        as_serve_user(&mut production(&project)).args([
            "serve",
            "--static",
            "--bind",
            &addr.to_string(),
        ]),
        project.temp.path(),
        "serve",
    );
    wait_for(Duration::from_secs(60), || get(addr, "/").ok())
        .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("staticfiles.json")).unwrap())
            .unwrap();
    let hashed = manifest["paths"]["css/big.css"]
        .as_str()
        .unwrap()
        .to_string();
    let accepting = |path: &str, accept: &str| {
        http(
            addr,
            "GET",
            &format!("/static/{path}"),
            &[("Accept-Encoding", accept)],
            "",
        )
        .unwrap()
    };

    // The siblings collectstatic wrote are sent.
    let legit = accepting(&hashed, "gzip, br");
    assert_eq!(legit.status, 200, "{legit:?}\n{}", server.output());
    assert_eq!(legit.header("content-encoding"), Some("br"));
    assert_eq!(
        legit.bytes,
        std::fs::read(root.join(format!("{hashed}.br"))).unwrap()
    );

    // Links to a file outside static_root in their place: never followed.
    for name in ["css/big.css", hashed.as_str()] {
        let file = root.join(name);
        for (suffix, target) in [
            (".gz", Path::new("../../../secret.txt").to_path_buf()),
            (".br", project.dir.join("secret.txt")),
        ] {
            let sibling = format!("{}{suffix}", file.display());
            std::fs::remove_file(&sibling).unwrap();
            std::os::unix::fs::symlink(&target, &sibling).unwrap();
            assert_eq!(std::fs::read(&sibling).unwrap(), secret);
        }
        for accept in ["gzip, br", "gzip", "br"] {
            let response = accepting(name, accept);
            assert_eq!(response.status, 200, "{name} {accept}: {response:?}");
            assert!(!response.holds(secret), "{name} {accept}: {response:?}");
            assert_eq!(response.header("content-encoding"), None, "{name} {accept}");
            assert_eq!(
                response.bytes,
                std::fs::read(&file).unwrap(),
                "{name} {accept}"
            );
        }
    }
}

/// `serve --static` (and `runserver --insecure`) with `static_url` on
/// another host said "Serving https://cdn.example.com/static/ from …" and
/// answered 404 for every file: no request for them reaches this site.
/// Refused, naming static_url and the fix, before anything starts.
#[test]
fn serving_static_files_refuses_a_static_url_on_another_host() {
    let project = GeneratedProject::new("cdn_site");
    let hint = |flag: &str| {
        format!(
            "  hint: with static_url on another host the static files are served there: drop \
             {flag}; or, to serve them from this site, set static_url = \"/static/\"\n"
        )
    };
    for url in [
        "https://cdn.example.com/static/",
        "//cdn.example.com/static/",
    ] {
        let (output, stdout, stderr) = run(as_serve_user(&mut production(&project))
            .args(["serve", "--static", "--bind", "127.0.0.1:1"])
            .env("NUAGES_STATIC_URL", url));
        assert_eq!(output.status.code(), Some(1), "{url}: {stdout}\n{stderr}");
        assert!(
            stderr.ends_with(&format!(
                "error: --static serves static_url as a path of this site, and static_url \
                 \"{url}\" is on another host\n{}",
                hint("--static")
            )),
            "{url}: {stderr}"
        );
        assert!(!stdout.contains("Serving"), "{url}: {stdout}");
    }
    let port = free_port().to_string();
    for reload in [&["--noreload"][..], &[][..]] {
        let (output, stdout, stderr) = run(manage(&project.dir)
            .args(["runserver", "--insecure", &port])
            .args(reload)
            .env("NUAGES_STATIC_URL", "https://cdn.example.com/static/"));
        assert_eq!(
            output.status.code(),
            Some(1),
            "{reload:?}: {stdout}\n{stderr}"
        );
        assert!(
            stderr.ends_with(&format!(
                "error: --insecure serves static_url as a path of this site, and static_url \
                 \"https://cdn.example.com/static/\" is on another host\n{}",
                hint("--insecure")
            )),
            "{reload:?}: {stderr}"
        );
        assert!(!stdout.contains("Starting development server"), "{stdout}");
    }
}

#[test]
fn serve_refuses_to_start_without_a_secret_key() {
    let project = GeneratedProject::new("keyless");
    let (output, _, stderr) = run(manage(&project.dir)
        .args(["serve", "--settings", "settings.production.toml"])
        .env("NUAGES_ALLOWED_HOSTS", "example.test")
        .env_remove("SECRET_KEY"));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SECRET_KEY"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    // The development key is refused with debug off.
    let (output, _, stderr) = run(manage(&project.dir)
        .args(["serve"])
        .env("NUAGES_DEBUG", "false")
        .env("NUAGES_ALLOWED_HOSTS", "example.test"));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("secret_key"), "{stderr}");
}

/// `secret_key = "${SECRET_KEY}"` with SECRET_KEY exported empty (an
/// EnvironmentFile line `SECRET_KEY=`, a `$(cat …)` of a missing file):
/// serve refuses, naming the variable that is empty and the file that reads
/// it, not "not set" with a hint to write the line the file already has;
/// and so for NUAGES_SECRET_KEY set to nothing.
#[test]
fn serve_names_the_variable_that_gave_an_empty_secret_key() {
    let example = nuages_e2e::Example::new();
    let settings = example.settings_extending(
        &example.settings,
        "empty_key",
        "debug = false\nallowed_hosts = [\"localhost\"]\nsecret_key = \"${SECRET_KEY}\"\n",
    );
    let serve = || {
        let mut command = example.command_with(&settings);
        command.args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())]);
        command
    };
    let (output, stdout, stderr) = run(serve().env("SECRET_KEY", ""));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: the `secret_key` setting is empty: SECRET_KEY, which {} reads it from, is set \
             to an empty value; signing (sessions, CSRF) and `serve` need a key\n  hint: give \
             SECRET_KEY 50 or more random characters where the server's environment is set (for \
             systemd, the service's EnvironmentFile)\n",
            settings.display()
        )
    );
    let (output, stdout, stderr) = run(serve()
        .env(
            "SECRET_KEY",
            "a-long-and-random-key-7f3a9c2e5b8d1f4a6c0e9b2d5f8a1c3e",
        )
        .env("NUAGES_SECRET_KEY", ""));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        "error: the `secret_key` setting is empty: NUAGES_SECRET_KEY, which replaces the settings \
         files' secret_key, is set to an empty value; signing (sessions, CSRF) and `serve` need a \
         key\n  hint: give NUAGES_SECRET_KEY 50 or more random characters, or unset it to use the \
         settings file's secret_key\n"
    );
}

#[test]
fn apache_and_systemd_configs_verify() {
    let project = GeneratedProject::new("configured");
    let work = project.temp.path();
    if require("/usr/sbin/apache2ctl") && require("/usr/bin/openssl") {
        // Behind a TLS-terminating proxy, and terminating TLS itself.
        let (cert, key) = self_signed_certificate(work, "example.test");
        let tls = [
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--listen",
            "127.0.0.1:8443",
            "--listen-http",
            "8081",
        ];
        for front in [&["--plain-http", "--listen", "8081"][..], &tls[..]] {
            let site = work.join("site.conf");
            let (output, stdout, stderr) = run(production(&project)
                .args(["deployconfig", "apache"])
                .args(front)
                .args([
                    "--upstream",
                    "unix:/run/configured/configured.sock",
                    "-o",
                    site.to_str().unwrap(),
                ]));
            assert!(output.status.success(), "{front:?}: {stdout}{stderr}");
            let text = std::fs::read_to_string(&site).unwrap();
            if front == tls {
                assert!(text.contains("<VirtualHost 127.0.0.1:8443>"), "{text}");
                assert!(text.contains("SSLEngine on"), "{text}");
                assert!(text.contains("[R=301,L]"), "{text}");
            } else {
                assert!(text.contains("<VirtualHost *:8081>"), "{text}");
                assert!(stderr.contains("secure_proxy_ssl_header"), "{stderr}");
            }
            apache_syntax_ok(work, &site);
        }
        // static_url on a CDN: the site still gets its TLS, redirect and
        // proxy, with no static Alias; Apache and nginx accept the files.
        for kind in ["apache", "nginx"] {
            let cdn = work.join(format!("cdn-{kind}.conf"));
            let (output, stdout, stderr) = run(production(&project)
                .env("NUAGES_STATIC_URL", "https://cdn.example.test/static/")
                .args(["deployconfig", kind])
                .args(tls)
                .args(["--upstream", "unix:/run/configured/configured.sock", "-o"])
                .arg(&cdn));
            assert!(output.status.success(), "{kind}: {stdout}{stderr}");
            assert!(
                stderr.contains(&format!(
                    "note: static_url = \"https://cdn.example.test/static/\" is another host: the \
                     static files are served there, so this {kind} configuration has no location \
                     for them (put collectstatic's files on that host)\n"
                )),
                "{kind}: {stderr}"
            );
            let text = std::fs::read_to_string(&cdn).unwrap();
            assert!(
                text.contains(
                    "    # Static files: static_url = \"https://cdn.example.test/static/\" is another \
                     host, which serves them;\n"
                ) && !text.contains("static_root")
                    && !text.contains("/static/ "),
                "{kind}: {text}"
            );
            if kind == "apache" {
                apache_syntax_ok(work, &cdn);
            } else if require("/usr/sbin/nginx") {
                nginx_syntax_ok(work, &cdn);
            }
        }
        // No certificate and no --plain-http: stop, naming the flags.
        let (output, _, stderr) = run(production(&project).args(["deployconfig", "apache"]));
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("--tls-cert")
                && stderr.contains("--tls-key")
                && stderr.contains("--plain-http"),
            "{stderr}"
        );
    }
    // systemd runs the release build, and there is none yet.
    let (output, _, stderr) = run(production(&project).args(["deployconfig", "systemd"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("release/configured") && stderr.contains("cargo build --release"),
        "{stderr}"
    );
    let units = work.join("units");
    std::fs::create_dir_all(&units).unwrap();
    let exec = work.join("configured-bin");
    std::fs::write(&exec, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&exec, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (output, stdout, stderr) = run(production(&project).args([
        "deployconfig",
        "systemd",
        "--upstream",
        "unix:/run/configured/configured.sock",
        "--exec",
        exec.to_str().unwrap(),
        "-o",
        units.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{stdout}{stderr}");
    let service = std::fs::read_to_string(units.join("configured.service")).unwrap();
    assert!(service.contains("ExecStart="));
    // systemd would make the socket root's: the web server could not connect.
    let socket = std::fs::read_to_string(units.join("configured.socket")).unwrap();
    assert!(
        socket.contains("\nSocketUser=configured\nSocketGroup=configured\n"),
        "{socket}"
    );
    assert!(
        stderr.contains(
            "note: /run/configured/configured.sock belongs to the account configured and its \
             group, mode 660 (serve_socket_mode): the web server's account must be in the group \
             configured to connect"
        ) && stderr.contains("usermod -aG configured www-data"),
        "{stderr}"
    );
    assert!(service.contains("NoNewPrivileges=true") && service.contains("ProtectSystem=strict"));
    assert!(service.contains("EnvironmentFile=/etc/configured/env"));
    // That file is the operator's to write: the note says what it holds.
    assert!(
        stderr.contains(
            "the service reads its environment from /etc/configured/env, which this command does \
             not write"
        ) && stderr.contains("NUAGES_SETTINGS="),
        "{stderr}"
    );
    // A unit written by hand is left alone (and its sibling not written),
    // unless --force; deployconfig's own files are replaced without asking.
    let mine = work.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let hand_written = "[Unit]\nDescription=my own\n";
    std::fs::write(mine.join("configured.service"), hand_written).unwrap();
    let systemd_into = |extra: &[&str]| {
        run(production(&project)
            .args(["deployconfig", "systemd", "--exec", exec.to_str().unwrap()])
            .args(["-o", mine.to_str().unwrap()])
            .args(extra))
    };
    let (output, _, stderr) = systemd_into(&[]);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not written by deployconfig") && stderr.contains("--force"),
        "{stderr}"
    );
    let kept = std::fs::read_to_string(mine.join("configured.service")).unwrap();
    assert_eq!(kept, hand_written);
    assert!(!mine.join("configured.socket").exists());
    for extra in [&["--force"][..], &[]] {
        let (output, stdout, stderr) = systemd_into(extra);
        assert!(output.status.success(), "{extra:?}: {stdout}{stderr}");
        let replaced = std::fs::read_to_string(mine.join("configured.service")).unwrap();
        assert!(replaced.contains("ExecStart="), "{replaced}");
    }
    // An nginx configuration mistyped onto the unit deployconfig wrote: a
    // file of another kind, left as it is.
    let unit = units.join("configured.service");
    let (output, stdout, stderr) = run(production(&project).args([
        "deployconfig",
        "nginx",
        "--plain-http",
        "-o",
        unit.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: {} was written by deployconfig as its systemd service, not as this nginx \
             configuration: it is left as it is\n  hint: choose another path with -o, or add --force to replace it",
            unit.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&unit).unwrap(), service);
    // Another project's nginx configuration (two sites on one machine, the
    // path of the other one's given): left as it is, naming both projects.
    let nginx_into = |path: &Path, extra: &[&str]| {
        run(production(&project)
            .args(["deployconfig", "nginx", "--plain-http", "-o"])
            .arg(path)
            .args(extra))
    };
    let blog = work.join("blog.conf");
    let (output, stdout, stderr) = nginx_into(&blog, &[]);
    assert!(output.status.success(), "{stdout}{stderr}");
    let blogs = std::fs::read_to_string(&blog)
        .unwrap()
        .replacen("for configured", "for blog", 1);
    std::fs::write(&blog, &blogs).unwrap();
    let (output, stdout, stderr) = nginx_into(&blog, &[]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: {} was written by deployconfig as the nginx configuration for the project \
             blog, not for this project configured: it is left as it is\n  hint: choose another \
             path with -o for configured's nginx configuration, or add --force to replace blog's \
             file\n",
            blog.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&blog).unwrap(), blogs);
    let (output, stdout, stderr) = nginx_into(&blog, &["--force"]);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        std::fs::read_to_string(&blog)
            .unwrap()
            .starts_with("# nginx configuration for configured,")
    );
    // A folder that does not exist (sites-enabled before nginx is
    // installed): the error names the folder to create.
    let absent = work.join("no-nginx/sites-enabled");
    let (output, stdout, stderr) = run(production(&project).args([
        "deployconfig",
        "nginx",
        "--plain-http",
        "-o",
        absent.join("configured").to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "\n  hint: create the folder first (mkdir -p {}), or choose another path with -o\n",
            absent.display()
        )),
        "{stderr}"
    );
    assert!(!work.join("no-nginx").exists());
    // A folder that exists (`-o /etc/nginx/sites-enabled/`): the error says
    // -o names a file and gives one in it; nothing is written there or
    // beside it, --force or not.
    let sites = work.join("sites-enabled");
    std::fs::create_dir_all(&sites).unwrap();
    for extra in [&[][..], &["--force"]] {
        let (output, stdout, stderr) = run(production(&project)
            .args(["deployconfig", "nginx", "--plain-http", "-o"])
            .arg(format!("{}/", sites.display()))
            .args(extra));
        assert_eq!(output.status.code(), Some(1), "{extra:?}: {stdout}{stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: {dir}/ is a folder: -o names the file to write\n  hint: name a file in it: -o {dir}/configured.conf\n",
                dir = sites.display()
            ),
            "{extra:?}"
        );
        assert_eq!(std::fs::read_dir(&sites).unwrap().count(), 0);
    }
    let mut beside: Vec<_> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.contains(".tmp"))
        .collect();
    beside.sort();
    assert_eq!(beside, Vec::<String>::new());
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let (output, stdout, stderr) = run(Command::new("/usr/bin/systemd-analyze")
            .arg("verify")
            .arg(units.join("configured.socket"))
            .arg(units.join("configured.service")));
        // verify exits non-zero for problems in the units; a missing user on
        // this machine is reported but is not a problem of the unit itself.
        let problems: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.contains("User") && !l.contains("Group") && !l.trim().is_empty())
            .filter(|l| l.contains("configured."))
            .collect();
        assert!(
            problems.is_empty(),
            "systemd-analyze verify: {stdout}{stderr} ({:?})",
            output.status
        );
    }
}

/// `apache2ctl -t` of a main configuration that loads the modules the
/// generated `site` needs, listening on its ports.
fn apache_syntax_ok(work: &Path, site: &Path) {
    let modules = "/usr/lib/apache2/modules";
    let main = work.join("apache.conf");
    std::fs::write(
        &main,
        format!(
            "ServerRoot /etc/apache2\nPidFile {w}/apache.pid\nMutex file:{w}\nErrorLog {w}/apache-error.log\nListen 8081\nListen 127.0.0.1:8443\n\
LoadModule mpm_event_module {modules}/mod_mpm_event.so\nLoadModule authz_core_module {modules}/mod_authz_core.so\n\
LoadModule alias_module {modules}/mod_alias.so\nLoadModule headers_module {modules}/mod_headers.so\n\
LoadModule proxy_module {modules}/mod_proxy.so\nLoadModule proxy_http_module {modules}/mod_proxy_http.so\n\
LoadModule ssl_module {modules}/mod_ssl.so\nLoadModule socache_shmcb_module {modules}/mod_socache_shmcb.so\n\
LoadModule rewrite_module {modules}/mod_rewrite.so\nLoadModule http2_module {modules}/mod_http2.so\nInclude {site}\n",
            w = work.display(),
            site = site.display()
        ),
    )
    .unwrap();
    let (output, stdout, stderr) = run(Command::new("/usr/sbin/apache2ctl")
        .arg("-t")
        .arg("-f")
        .arg(&main));
    assert!(output.status.success(), "apache2ctl -t: {stdout}{stderr}");
    assert!(
        stderr.contains("Syntax OK") || stdout.contains("Syntax OK"),
        "{stdout}{stderr}"
    );
}

/// The generated hints say `NUAGES_SETTINGS=settings.production.toml`: the
/// name is found from any folder of the project, as the default
/// `settings.toml` is (the working directory, then the project's folder).
/// A missing one says it came from NUAGES_SETTINGS and where it was looked
/// for; an empty one is an error; `--settings` is relative to the working
/// directory, as a path typed on a command line is.
#[test]
fn nuages_settings_names_a_file_of_the_project_from_any_of_its_folders() {
    let project = GeneratedProject::new("selected");
    let src = project.dir.join("src").canonicalize().unwrap();
    let in_src = |args: &[&str], variable: Option<&str>| {
        let mut command = manage(&src);
        command
            .arg("diffsettings")
            .args(args)
            .env("SECRET_KEY", "k".repeat(50));
        if let Some(value) = variable {
            command.env("NUAGES_SETTINGS", value);
        }
        run(&mut command)
    };
    // The last two lines: the first run builds the project before them.
    let report = |stderr: &str| -> Vec<String> {
        let mut lines: Vec<String> = stderr.lines().rev().take(2).map(String::from).collect();
        lines.reverse();
        lines
    };

    let (output, stdout, stderr) = in_src(&[], Some("settings.production.toml"));
    assert!(output.status.success(), "{stdout}{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("# /"), "{stdout}");
    assert!(
        first.ends_with("/selected/settings.production.toml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nsecure_ssl_redirect = true\n"),
        "{stdout}"
    );

    let (output, stdout, stderr) = in_src(&[], Some("settings.staging.toml"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let lines = report(&stderr);
    let looked_in_src = format!(
        "error: cannot find the settings file named by NUAGES_SETTINGS=settings.staging.toml: looked for {}/settings.staging.toml and /",
        src.display()
    );
    assert!(lines[0].starts_with(&looked_in_src), "{stderr}");
    assert!(
        lines[0].ends_with("/selected/settings.staging.toml"),
        "{stderr}"
    );
    assert_eq!(
        lines[1],
        "  hint: set NUAGES_SETTINGS to an existing file (a relative name is looked for in the working \
         directory, then in the project's folder), or unset it to use the project's default settings file"
    );

    let (output, stdout, stderr) = in_src(&[], Some(""));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        report(&stderr),
        [
            "error: NUAGES_SETTINGS is set but empty, so it names no settings file",
            "  hint: unset it (`unset NUAGES_SETTINGS`) to use the project's default settings file, or \
             name a file: NUAGES_SETTINGS=settings.production.toml",
        ],
        "{stderr}"
    );

    let (output, stdout, stderr) = in_src(&["--settings", "settings.production.toml"], None);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        report(&stderr),
        [
            format!(
                "error: cannot find the settings file named by --settings: looked for {}/settings.production.toml",
                src.display()
            )
            .as_str(),
            "  hint: pass an existing file to --settings: its path is relative to the working directory, \
             as other paths on a command line",
        ],
        "{stderr}"
    );
    let (output, stdout, stderr) = in_src(&["--settings", "../settings.production.toml"], None);
    assert!(output.status.success(), "{stdout}{stderr}");
}
