//! The README's "Deploying" section, line by line, on a generated project:
//! the release build, `manage --release` migrate, collectstatic, check
//! --deploy, nginx from `deployconfig nginx` terminating TLS with a
//! self-signed certificate in front of `serve` with the generated production
//! settings, and the systemd unit naming the binary that really runs.
//!
//! Where the README says `systemctl`, the test starts nginx itself on
//! loopback ports with a fresh prefix, and runs `manage --release serve`,
//! checking that it is the binary of the unit's `ExecStart`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nuages_e2e::{
    GeneratedProject, Server, curl_https, free_port, get, http, manage, nginx_config, require, run,
    self_signed_certificate, target_dir, test_user, wait_for,
};

const SECRET: &str = "Zq3vX9mN2bL7cR4tY6uI0oP3aS5dF8gH1jK4lZ7xC0vB3nM6qW9eR2tY5uI8oPk8";

/// The host name the site is deployed under (resolved to 127.0.0.1).
const HOST: &str = "example.test";

/// A page, as a new project's first view.
const URLS: &str = r#"use nuages::urls::UrlConf;
async fn home() -> &'static str { "hello over TLS" }
pub fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("", home, "home")
        .include("accounts/", nuages::auth::urls())
}
"#;

/// `manage --release ARGS` with the environment the README exports.
fn deployed(project: &GeneratedProject, serve_bind: &str) -> Command {
    let mut command = manage(&project.dir);
    command
        .arg("--release")
        .env("NUAGES_SETTINGS", "settings.production.toml")
        .env("SECRET_KEY", SECRET)
        .env("NUAGES_ALLOWED_HOSTS", HOST)
        // The README keeps serve_bind's default; a free port here.
        .env("NUAGES_SERVE_BIND", serve_bind)
        // The README creates the service account; the test runs as itself.
        .env("NUAGES_SERVE_USER", test_user());
    command
}

/// The program of a unit's `ExecStart=PROGRAM serve`.
fn exec_start(service: &str) -> PathBuf {
    let line = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_else(|| panic!("no ExecStart in {service}"));
    let program = line
        .strip_suffix(" serve")
        .unwrap_or_else(|| panic!("ExecStart does not run serve: {line}"));
    PathBuf::from(program)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_deploying_section_serves_the_site_over_tls_from_the_release_build() {
    if !require("/usr/sbin/nginx") || !require("/usr/bin/openssl") || !require("/usr/bin/curl") {
        return;
    }
    let project = GeneratedProject::new("tlssite");
    project.write("src/urls.rs", URLS);
    let work = project.temp.path();
    let (cert, key) = self_signed_certificate(work, HOST);
    let app: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let bind = app.to_string();

    // cargo build --release
    let (output, stdout, stderr) = project.cargo(&["build", "--release", "--quiet"]);
    assert!(output.status.success(), "{stdout}{stderr}");
    let release = target_dir().join("release/tlssite");

    // manage --release migrate / collectstatic --noinput / check --deploy
    for args in [
        &["migrate"][..],
        &["collectstatic", "--noinput"][..],
        &["check", "--deploy"][..],
    ] {
        let (output, stdout, stderr) = run(deployed(&project, &bind).args(args));
        assert!(output.status.success(), "{args:?}: {stdout}{stderr}");
        if args[0] == "check" {
            assert!(
                format!("{stdout}{stderr}").contains("System check identified no issues"),
                "{stdout}{stderr}"
            );
        }
    }

    // manage --release deployconfig nginx --tls-cert … --tls-key … -o …
    let https_port = free_port();
    let http_port = free_port();
    let site = work.join("tlssite.conf");
    let write_nginx_site = |more: &[&str]| {
        let (output, stdout, stderr) = run(deployed(&project, &bind)
            .args(["deployconfig", "nginx", "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .args(["--listen", &format!("127.0.0.1:{https_port}")])
            .args(["--listen-http", &format!("127.0.0.1:{http_port}")])
            .args(more)
            .arg("-o")
            .arg(&site));
        assert!(output.status.success(), "{stdout}{stderr}");
    };
    write_nginx_site(&[]);
    // Without a certificate it stops and names the flags, unless asked for plain HTTP.
    let (output, _, stderr) = run(deployed(&project, &bind).args(["deployconfig", "nginx"]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for flag in ["--tls-cert", "--tls-key", "--plain-http"] {
        assert!(stderr.contains(flag), "{flag} not named: {stderr}");
    }

    // Settings that would not believe nginx's X-Forwarded-Proto would
    // redirect every page to itself: refused, naming the line to add.
    let (output, _, stderr) = run(deployed(&project, &bind)
        .env("NUAGES_SECURE_PROXY_SSL_HEADER", "X-Forwarded-Protocol,ssl")
        .args([
            "deployconfig",
            "nginx",
            "--tls-cert",
            "a.pem",
            "--tls-key",
            "a.key",
        ]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("redirect to itself"), "{stderr}");
    assert!(
        stderr.contains(r#"secure_proxy_ssl_header = ["X-Forwarded-Proto", "https"]"#),
        "{stderr}"
    );

    // nginx -t && systemctl reload nginx: here, nginx with a fresh prefix.
    let main = work.join("nginx.conf");
    std::fs::write(&main, nginx_config(work, &site)).unwrap();
    let with_prefix = |command: &mut Command| {
        command.arg("-p").arg(work).arg("-c").arg(&main);
    };
    let mut test = Command::new("/usr/sbin/nginx");
    with_prefix(test.arg("-t"));
    let (output, _, stderr) = run(&mut test);
    assert!(output.status.success(), "nginx -t: {stderr}");
    let mut start = Command::new("/usr/sbin/nginx");
    with_prefix(&mut start);
    let nginx = Server::start(&mut start, work, "nginx");

    // manage --release deployconfig systemd --user tlssite -o …: the unit
    // runs the release build.
    let units = work.join("units");
    std::fs::create_dir_all(&units).unwrap();
    let (output, stdout, stderr) = run(deployed(&project, &bind).args([
        "deployconfig",
        "systemd",
        "--user",
        "tlssite",
        "-o",
        units.to_str().unwrap(),
    ]));
    assert!(output.status.success(), "{stdout}{stderr}");
    let service = std::fs::read_to_string(units.join("tlssite.service")).unwrap();
    let program = exec_start(&service);
    assert_eq!(canonical(&program), canonical(&release), "{service}");
    assert!(!service.contains("target/debug"), "{service}");

    // systemctl enable --now tlssite.socket: here, what its ExecStart runs.
    // ACME's HTTP-01 challenges come over plain HTTP: the application
    // answers them there rather than redirect them (the README's line).
    let server = Server::start(
        deployed(&project, &bind)
            .env(
                "NUAGES_SECURE_REDIRECT_EXEMPT",
                r"^\.well-known/acme-challenge/",
            )
            .arg("serve"),
        work,
        "serve",
    );
    wait_for(Duration::from_secs(60), || get(app, "/").ok())
        .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));
    let running = std::fs::read_link(format!("/proc/{}/exe", server.child.id())).unwrap();
    assert_eq!(
        running,
        canonical(&release),
        "manage --release runs the release build"
    );

    // https://: the page, from the application, with HSTS, over HTTP/2.
    let (page, version) = wait_for(Duration::from_secs(20), || {
        curl_https(HOST, https_port, "/").ok()
    })
    .unwrap_or_else(|| {
        panic!(
            "no answer over https: {}\n{}",
            curl_https(HOST, https_port, "/").unwrap_err(),
            nginx.output()
        )
    });
    assert_eq!(
        page.status,
        200,
        "{page:?}\nnginx: {}\nserve: {}",
        std::fs::read_to_string(work.join("nginx-error.log")).unwrap_or_default(),
        server.output()
    );
    assert_eq!(page.body, "hello over TLS");
    assert_eq!(version, "2", "HTTP/2");
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains; preload"),
        "{page:?}"
    );

    // http://: a 301 to the same URL over https, from nginx.
    let http_addr: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let redirect = http(http_addr, "GET", "/polls/?page=2", &[("Host", HOST)], "").unwrap();
    assert_eq!(redirect.status, 301, "{redirect:?}");
    assert_eq!(
        redirect.header("location"),
        Some(format!("https://{HOST}:{https_port}/polls/?page=2").as_str())
    );
    // But an ACME challenge: to the application over plain HTTP, without a
    // redirect (here its 404: the project answers no challenge). Another
    // /.well-known/ path is redirected, and answered by the application
    // over https; any other dot path is nginx's 404 there.
    let challenge = http(
        http_addr,
        "GET",
        "/.well-known/acme-challenge/t0k3n",
        &[("Host", HOST)],
        "",
    )
    .unwrap();
    assert_eq!(
        challenge.status,
        404,
        "{challenge:?}\nserve: {}",
        server.output()
    );
    assert_eq!(challenge.header("location"), None, "{challenge:?}");
    let security = http(
        http_addr,
        "GET",
        "/.well-known/security.txt",
        &[("Host", HOST)],
        "",
    )
    .unwrap();
    assert_eq!(security.status, 301, "{security:?}");
    let (security, _) = curl_https(HOST, https_port, "/.well-known/security.txt").unwrap();
    assert_eq!(security.status, 404, "{security:?}");
    nuages_e2e::assert_nginx_refuses_dot_paths(|dotted| {
        curl_https(HOST, https_port, dotted).unwrap().0
    });
    let app_log = server.output();
    for reached in [
        "GET /.well-known/acme-challenge/t0k3n HTTP/1.1\" 404",
        "GET /.well-known/security.txt HTTP/1.1\" 404",
    ] {
        assert!(app_log.contains(reached), "{reached}: {app_log}");
    }
    assert!(
        !app_log.contains("GET /.env") && !app_log.contains("GET /.git"),
        "{app_log}"
    );
    // Another host gets no redirect (nginx closes the connection, 444):
    // https://evil.example/ would be a redirect a cache could keep.
    let other = http(http_addr, "GET", "/", &[("Host", "evil.example")], "");
    assert!(other.is_err(), "{other:?}");

    // A static file: by nginx from static_root, hashed names cached for a year.
    let (css, _) = curl_https(HOST, https_port, "/static/css/site.css").unwrap();
    assert_eq!(css.status, 200, "{css:?}");
    assert!(
        css.header("content-type").unwrap().starts_with("text/css"),
        "{css:?}"
    );
    assert_eq!(
        css.body,
        std::fs::read_to_string(project.dir.join("static/css/site.css")).unwrap()
    );
    assert!(css.header("strict-transport-security").is_some(), "{css:?}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.dir.join("www_dir/static/staticfiles.json")).unwrap(),
    )
    .unwrap();
    let hashed = manifest["paths"]["css/site.css"].as_str().unwrap();
    let (css, _) = curl_https(HOST, https_port, &format!("/static/{hashed}")).unwrap();
    assert_eq!(css.status, 200, "{css:?}");
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    let app_log = server.output();
    assert!(app_log.contains("\"GET / HTTP/1.1\" 200"), "{app_log}");
    assert!(
        !app_log.contains("/static/") && !app_log.contains("/polls/"),
        "static files or the redirect reached the application: {app_log}"
    );

    // certbot certonly --webroot -w ACME: deployconfig … --acme-webroot ACME
    // -o … again (over its own file), nginx -s reload; the challenge is
    // then certbot's file, from nginx, and never reaches the application.
    let acme = work.join("acme");
    let challenges = acme.join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).unwrap();
    std::fs::write(challenges.join("t0k3n"), "t0k3n.thumbprint").unwrap();
    std::fs::write(challenges.join(".hidden"), "not served").unwrap();
    write_nginx_site(&["--acme-webroot", acme.to_str().unwrap()]);
    // nginx -t && systemctl reload nginx: here nginx stopped and started
    // again on the new file, so that no worker of the old one (which a
    // reload lets finish, taking connections meanwhile) answers below.
    let mut test = Command::new("/usr/sbin/nginx");
    with_prefix(test.arg("-t"));
    let (output, _, stderr) = run(&mut test);
    assert!(output.status.success(), "nginx -t: {stderr}");
    drop(nginx);
    let mut start = Command::new("/usr/sbin/nginx");
    with_prefix(&mut start);
    let nginx = Server::start(&mut start, work, "nginx-acme");
    let get_challenge = |path: &str| http(http_addr, "GET", path, &[("Host", HOST)], "").ok();
    let answered = wait_for(Duration::from_secs(20), || {
        get_challenge("/.well-known/acme-challenge/t0k3n").filter(|r| r.status == 200)
    })
    .unwrap_or_else(|| panic!("no challenge file: {}", nginx.output()));
    assert_eq!(answered.body, "t0k3n.thumbprint");
    assert_eq!(answered.header("content-type"), Some("text/plain"));
    let unserved = [
        "/.well-known/acme-challenge/.hidden",
        "/.well-known/acme-challenge/other",
    ];
    for path in unserved {
        let response = get_challenge(path).unwrap();
        assert_eq!(response.status, 404, "{path}: {response:?}");
    }
    nuages_e2e::assert_reached_none(&server, app, HOST, &unserved);
}
