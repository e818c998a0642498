//! An invalid `serve_bind` on the example site: `check --deploy` reports
//! it as `nuages.E052` with its value, where it was set and the forms it
//! takes; `serve` refuses it in the same words and never blames `--bind`;
//! `serve --bind` replaces it and serves.

use std::path::PathBuf;
use std::time::Duration;

use nuages_e2e::{Example, Server, free_port, get, run, wait_for};

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
fn an_invalid_serve_bind_is_reported_by_check_and_serve_naming_the_setting() {
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
    let mut server = Server::start(
        example
            .command_with(&settings)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("NUAGES_SERVE_BIND", "abc"),
        example.dir.path(),
        "serve-bind",
    );
    let answered = wait_for(Duration::from_secs(30), || {
        get(([127, 0, 0, 1], port).into(), "/polls/").ok()
    });
    assert!(
        answered.is_some(),
        "serve did not start: {}",
        server.output()
    );
    server.stop(Duration::from_secs(10));
}
