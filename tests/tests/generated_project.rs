//! A generated project as a user drives it: it builds, its tests pass, its
//! commands answer, `runserver` serves and reloads, and plain `axum::serve`
//! can host its application. One project, built once, for every step.

use std::time::Duration;

use nuages_e2e::{GeneratedProject, Server, free_port, get, manage, wait_for};

const PLAIN_AXUM: &str = r#"//! Serve the application with nothing but axum.
#[tokio::main]
async fn main() {
    let application = plain_site::wsgi::application().expect("the application builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    nuages::axum::serve(listener, application).await.unwrap();
}
"#;

#[test]
fn a_generated_project_builds_passes_its_tests_and_serves() {
    let project = GeneratedProject::new("plain_site");
    project.write("src/bin/plain.rs", PLAIN_AXUM);

    let (output, stdout, stderr) = project.cargo(&["test", "--quiet"]);
    assert!(
        output.status.success(),
        "the generated project's tests fail:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{stdout}");

    // Its own commands, through manage.
    let (output, stdout, stderr) = project.manage(&["help"]);
    assert!(output.status.success(), "{stderr}");
    for command in ["runserver", "diffsettings", "showurls", "startapp"] {
        assert!(stdout.contains(command), "help lacks {command}: {stdout}");
    }
    let (output, _, stderr) = project.manage(&["runservr"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains("error: unknown command 'runservr'"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean 'runserver'"), "{stderr}");
    let (output, stdout, stderr) = project.manage(&["diffsettings"]);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("debug = true"), "{stdout}");
    assert!(
        stdout.contains("secret_key = \"********************\""),
        "{stdout}"
    );
    assert!(
        !stdout.contains("nuages-insecure-"),
        "the key leaked: {stdout}"
    );
    let (output, _, stderr) = project.manage(&["diffsettings", "--settings", "missing.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("missing.toml") && stderr.contains("hint:"),
        "{stderr}"
    );

    // runserver refuses production settings without hosts.
    let (output, _, stderr) = project.manage(&[
        "runserver",
        "--noreload",
        "--settings",
        "settings.production.toml",
    ]);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let (output, _, stderr) = project.manage(&["runserver", "abc:"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("'abc:' is not a valid port number or address:port pair"),
        "{stderr}"
    );

    // Plain axum::serve hosts the application.
    let logs = project.temp.path();
    let plain = Server::start(
        nuages_e2e::cargo()
            .args(["run", "--quiet", "--offline", "--bin", "plain"])
            .current_dir(&project.dir),
        logs,
        "plain",
    );
    let addr: std::net::SocketAddr = wait_for(Duration::from_secs(120), || {
        plain.output().lines().find_map(|l| {
            l.strip_prefix("listening on ")
                .and_then(|a| a.trim().parse().ok())
        })
    })
    .unwrap_or_else(|| panic!("the plain server did not start: {}", plain.output()));
    let response = get(addr, "/").unwrap();
    assert_eq!(response.status, 200);
    assert!(response.body.contains("plain_site"), "{}", response.body);
    drop(plain);

    // runserver: banner, answers, one log line per request, stops cleanly.
    let port = free_port();
    let mut server = Server::start(
        manage(&project.dir).args(["runserver", &port.to_string()]),
        logs,
        "runserver",
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let response = wait_for(Duration::from_secs(120), || get(addr, "/").ok())
        .unwrap_or_else(|| panic!("runserver did not answer: {}", server.output()));
    assert_eq!(response.status, 200);
    assert!(
        response.body.contains("plain_site") && response.body.contains("Nuages"),
        "{}",
        response.body
    );
    // As Django's: the first server's checks, then the migrations not
    // applied yet, then where it listens.
    wait_for(Duration::from_secs(5), || {
        server
            .output()
            .contains("Quit the server with CONTROL-C.")
            .then_some(())
    });
    let stdout = std::fs::read_to_string(&server.stdout).unwrap();
    let at = |text: &str| {
        stdout
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} in {stdout}"))
    };
    assert!(
        at("Performing system checks...") < at("System check identified no issues")
            && at("System check identified no issues") < at("unapplied migration(s)")
            && at("unapplied migration(s)") < at("Nuages version")
            && at("Nuages version") < at("Quit the server with CONTROL-C."),
        "{stdout}"
    );
    let output = server.output();
    assert!(
        output.contains(&format!(
            "Starting development server at http://127.0.0.1:{port}/"
        )),
        "{output}"
    );
    assert!(output.contains("settings.toml"), "{output}");
    assert!(
        wait_for(Duration::from_secs(5), || server
            .output()
            .contains("\"GET / HTTP/1.1\" 200")
            .then_some(()))
        .is_some(),
        "{}",
        server.output()
    );

    // Reload: an edit changes what is served.
    project.write(
        "src/urls.rs",
        "use nuages::urls::UrlConf;\nasync fn home() -> &'static str { \"version two\" }\npub fn urlpatterns() -> UrlConf { UrlConf::new().path(\"\", home, \"home\") }\n",
    );
    let body = wait_for(Duration::from_secs(180), || {
        get(addr, "/")
            .ok()
            .filter(|r| r.body == "version two")
            .map(|r| r.body)
    });
    assert!(
        body.is_some(),
        "the edit was not picked up: {}",
        server.output()
    );

    // A broken edit: the compiler's errors are printed, the old server keeps answering.
    project.write("src/urls.rs", "this is not rust\n");
    let failed = wait_for(Duration::from_secs(180), || {
        server.output().contains("The build failed").then_some(())
    });
    assert!(
        failed.is_some(),
        "no build failure reported: {}",
        server.output()
    );
    assert!(server.output().contains("error"), "{}", server.output());
    assert_eq!(get(addr, "/").unwrap().body, "version two");

    // The fix is picked up.
    project.write(
        "src/urls.rs",
        "use nuages::urls::UrlConf;\nasync fn home() -> &'static str { \"version three\" }\npub fn urlpatterns() -> UrlConf { UrlConf::new().path(\"\", home, \"home\") }\n",
    );
    let body = wait_for(Duration::from_secs(180), || {
        get(addr, "/")
            .ok()
            .filter(|r| r.body == "version three")
            .map(|r| r.body)
    });
    assert!(
        body.is_some(),
        "the fix was not picked up: {}",
        server.output()
    );

    let status = server
        .stop(Duration::from_secs(20))
        .expect("runserver stops on SIGTERM");
    assert!(
        status.success(),
        "runserver exit: {status:?}\n{}",
        server.output()
    );
    assert!(
        get(addr, "/").is_err(),
        "the port is still answering after stop"
    );
}
