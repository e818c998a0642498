//! `runserver`'s reloader as a user meets it: a server that cannot start
//! (a template in Django's syntax, a broken settings file) is reported in
//! the terminal and answered at once with its error until the fix is saved;
//! the server child never outlives its reloader; Ctrl-C during a rebuild is
//! no build failure.

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use nuages_e2e::{GeneratedProject, Server, free_port, get, http_within, manage, wait_for};

const DID_NOT_START: &str = "The server did not start";

fn runserver(project: &GeneratedProject, name: &str) -> (Server, SocketAddr) {
    let port = free_port();
    let mut command = manage(&project.dir);
    // Its own process group, as in a terminal: Ctrl-C reaches every process of it.
    command
        .args(["runserver", &port.to_string()])
        .process_group(0);
    let server = Server::start(&mut command, project.temp.path(), name);
    (server, format!("127.0.0.1:{port}").parse().unwrap())
}

/// Wait until `addr` answers `/` with `status`.
fn wait_for_status(server: &Server, addr: SocketAddr, status: u16) {
    let answered = wait_for(Duration::from_secs(180), || {
        get(addr, "/").ok().filter(|r| r.status == status)
    });
    assert!(
        answered.is_some(),
        "no {status} at {addr}: {}",
        server.output()
    );
}

/// Wait until the output says `text` `times` times; a reloader that exits,
/// or whose server exits, instead of saying it fails at once.
fn wait_for_said(server: &mut Server, text: &str, times: usize) {
    let said = wait_for(Duration::from_secs(180), || {
        let output = server.output();
        let gone = output.contains("The server exited")
            || server.child.try_wait().ok().flatten().is_some();
        (output.matches(text).count() >= times || gone).then_some(())
    });
    assert!(said.is_some(), "never said {text:?}: {}", server.output());
    assert!(
        server.output().matches(text).count() >= times,
        "{}",
        server.output()
    );
}

/// GET `/` on a fresh connection, which must be answered within 2 s.
fn get_at_once(server: &Server, addr: SocketAddr) -> nuages_e2e::HttpResponse {
    let start = Instant::now();
    let response = http_within(addr, "GET", "/", &[], "", Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("no answer within 2 s ({e}): {}", server.output()));
    assert!(start.elapsed() < Duration::from_secs(2));
    response
}

/// The output after the last occurrence of `marker`.
fn after(output: &str, marker: &str) -> String {
    output
        .rfind(marker)
        .map(|at| output[at..].to_string())
        .unwrap_or_default()
}

#[test]
fn a_server_that_cannot_start_is_reported_and_answered_at_once_until_fixed() {
    let project = GeneratedProject::new("startup_site");
    let broken = "{% extends \"base.html\" %}{% block content %}<form method=\"post\">{% csrf_token %}</form>{% endblock content %}";
    let fixed = "{% extends \"base.html\" %}{% block content %}<form method=\"post\">{{ csrf_input() }}</form>{% endblock content %}";
    project.write("templates/form.html", broken);
    let (mut server, addr) = runserver(&project, "startup");

    // The reloader says so, with the cause and the Nuages spelling.
    wait_for_said(&mut server, DID_NOT_START, 1);
    let output = server.output();
    assert!(
        output.contains("Starting development server at"),
        "{output}"
    );
    assert!(
        output.contains("form.html") && output.contains("Unknown tag"),
        "{output}"
    );
    assert!(
        output.contains("Nuages writes `{{ csrf_input() }}`"),
        "{output}"
    );

    // Every request is answered at once: a 500 page with the error, escaped.
    let response = get_at_once(&server, addr);
    assert_eq!(response.status, 500, "{}", response.body);
    assert_eq!(response.header("connection"), Some("close"));
    let body = &response.body;
    assert!(
        body.contains("The development server did not start"),
        "{body}"
    );
    assert!(
        body.contains("Unknown tag") && body.contains("form.html"),
        "{body}"
    );
    assert!(body.contains("{{ csrf_input() }}"), "{body}");
    assert!(
        body.contains("&lt;form method=&quot;post&quot;&gt;"),
        "{body}"
    );
    assert!(!body.contains("<form method=\"post\">{%"), "{body}");
    // A host the settings do not allow sees no detail.
    let response = http_within(
        addr,
        "GET",
        "/",
        &[("Host", "attacker.example")],
        "",
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(response.status, 500);
    assert!(!response.body.contains("Unknown tag"), "{}", response.body);

    // Saving the fixed template starts the server.
    project.write("templates/form.html", fixed);
    wait_for_status(&server, addr, 200);
    assert!(
        server
            .output()
            .contains("templates/form.html changed, starting the server again"),
        "{}",
        server.output()
    );

    // A rebuilt server that cannot start is not said to answer.
    project.write("templates/form.html", "{% load static %}");
    project.write(
        "src/urls.rs",
        "use nuages::urls::UrlConf;\nasync fn home() -> &'static str { \"version two\" }\npub fn urlpatterns() -> UrlConf { UrlConf::new().path(\"\", home, \"home\") }\n",
    );
    wait_for_said(&mut server, DID_NOT_START, 2);
    let rebuild = after(&server.output(), "src/urls.rs changed, rebuilding");
    assert!(
        !rebuild.contains("the new server is answering"),
        "{rebuild}"
    );
    assert!(rebuild.contains("{% load static %}"), "{rebuild}");
    let response = get_at_once(&server, addr);
    assert_eq!(response.status, 500);
    assert!(
        response.body.contains("{% load static %}"),
        "{}",
        response.body
    );
    project.write("templates/form.html", fixed);
    let answered = wait_for(Duration::from_secs(60), || {
        get(addr, "/").ok().filter(|r| r.body == "version two")
    });
    assert!(answered.is_some(), "{}", server.output());

    // A settings error: said, answered, and retried when the file is saved.
    let settings = std::fs::read_to_string(project.dir.join("settings.toml")).unwrap();
    project.write("settings.toml", &format!("{settings}\nthis is not toml\n"));
    wait_for_said(&mut server, DID_NOT_START, 3);
    assert!(
        after(
            &server.output(),
            "settings.toml changed, restarting the server"
        )
        .contains("settings.toml"),
        "{}",
        server.output()
    );
    let response = get_at_once(&server, addr);
    assert_eq!(response.status, 500);
    assert!(response.body.contains("settings.toml"), "{}", response.body);
    project.write("settings.toml", &settings);
    let answered = wait_for(Duration::from_secs(60), || {
        get(addr, "/").ok().filter(|r| r.status == 200)
    });
    assert!(answered.is_some(), "{}", server.output());
    assert!(
        server
            .output()
            .contains("Restarted; the new server is answering."),
        "{}",
        server.output()
    );

    // Debug turned off, then the settings broken: the page follows the
    // last settings that loaded, so it shows no detail.
    let production = settings
        .replace("debug = true", "debug = false")
        .replace("allowed_hosts = []", "allowed_hosts = [\"127.0.0.1\"]");
    assert_ne!(production, settings);
    let restarted = "Restarted; the new server is answering.";
    let before = server.output().matches(restarted).count();
    project.write("settings.toml", &production);
    wait_for_said(&mut server, restarted, before + 1);
    project.write(
        "settings.toml",
        &format!("{production}\nthis is not toml\n"),
    );
    wait_for_said(&mut server, DID_NOT_START, 4);
    let response = get_at_once(&server, addr);
    assert_eq!(response.status, 500);
    assert!(
        !response.body.contains("settings.toml") && !response.body.contains("not toml"),
        "{}",
        response.body
    );
}

/// The page that answers while no server is up carries the headers of the
/// `security` and `xframe` middleware, as every page of the server does: it
/// shows the project's error text, and went out without `nosniff` or
/// `X-Frame-Options`, framable by any site.
#[test]
fn the_page_of_a_server_that_cannot_start_has_the_security_headers() {
    let project = GeneratedProject::new("standin_headers");
    project.write(
        "templates/form.html",
        "{% extends \"base.html\" %}{% block content %}{% csrf_token %}{% endblock content %}",
    );
    let (mut server, addr) = runserver(&project, "standin-headers");
    wait_for_said(&mut server, DID_NOT_START, 1);
    let response = get_at_once(&server, addr);
    assert_eq!(response.status, 500, "{}", response.body);
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    ] {
        assert_eq!(response.header(name), Some(value), "{name}: {response:?}");
    }
}

/// Whether nothing listens on `addr` any more: connections are refused and
/// the port can be bound again.
fn port_is_free(addr: SocketAddr) -> bool {
    get(addr, "/").is_err() && std::net::TcpListener::bind(addr).is_ok()
}

#[test]
fn the_server_stops_with_its_reloader_and_ctrl_c_is_no_build_failure() {
    let project = GeneratedProject::new("orphan_site");

    // The reloader is killed outright: its server child exits too.
    let (mut server, addr) = runserver(&project, "killed");
    wait_for_status(&server, addr, 200);
    server.signal(libc::SIGKILL);
    let _ = server.child.wait();
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(addr).then_some(())).is_some(),
        "a server still holds {addr} after its reloader was killed"
    );

    // The terminal closes (SIGHUP): the reloader stops its server and exits.
    let (mut server, addr) = runserver(&project, "hangup");
    wait_for_status(&server, addr, 200);
    server.signal(libc::SIGHUP);
    let status = wait_for(Duration::from_secs(15), || {
        server.child.try_wait().ok().flatten()
    });
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {}",
        server.output()
    );
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(addr).then_some(())).is_some(),
        "a server still holds {addr} after SIGHUP"
    );

    // Ctrl-C while cargo rebuilds: everything stops, and no build failed.
    let (mut server, addr) = runserver(&project, "interrupted");
    wait_for_status(&server, addr, 200);
    project.write(
        "src/urls.rs",
        "use nuages::urls::UrlConf;\nasync fn home() -> &'static str { \"edited\" }\npub fn urlpatterns() -> UrlConf { UrlConf::new().path(\"\", home, \"home\") }\n",
    );
    let rebuilding = wait_for(Duration::from_secs(30), || {
        server
            .output()
            .contains("changed, rebuilding")
            .then_some(())
    });
    assert!(rebuilding.is_some(), "{}", server.output());
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: signalling the process group the test created.
    unsafe {
        libc::kill(-(server.child.id() as libc::pid_t), libc::SIGINT);
    }
    let status = wait_for(Duration::from_secs(20), || {
        server.child.try_wait().ok().flatten()
    });
    assert!(status.is_some(), "still running: {}", server.output());
    let output = server.output();
    assert!(
        !output.contains("the new server is answering"),
        "the build ended before Ctrl-C: {output}"
    );
    assert!(!output.contains("build failed"), "{output}");
    assert!(!output.contains("interrupted"), "{output}");
    assert!(
        wait_for(Duration::from_secs(5), || port_is_free(addr).then_some(())).is_some(),
        "a server still holds {addr} after Ctrl-C"
    );
}
