//! `manage check` in a generated project: Django's report and exit codes,
//! JSON, tags, silencing, file permissions for the production `serve_user`
//! and for another user, a production configuration that passes
//! `--deploy`, `runserver` refusing to start on a check error, and `check`
//! failing on every setting the application refuses, in its words.

use std::io::Read;

use nuages::conf::SettingsLoader;
use nuages::{Application, Project};
use nuages_e2e::{GeneratedProject, Json, free_port, manage_env, parse_json};

/// A strong random key: 60 characters from /dev/urandom.
fn random_key() -> String {
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@%^*(-_=+)";
    let mut bytes = [0u8; 60];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The last line of Django's report.
fn summary(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| l.starts_with("System check identified "))
        .unwrap_or_else(|| panic!("no summary in: {text}"))
}

/// What `collectstatic` with manifest storage leaves in `static_root`.
fn write_collected_static(project: &GeneratedProject) {
    let css = std::fs::read_to_string(project.dir.join("static/css/site.css")).unwrap();
    // FNV-1a, 12 hex digits: the shape of a content hash in a hashed name.
    let hash = css.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let hashed = format!("css/site.{:012x}.css", hash & 0xffff_ffff_ffff);
    project.write("www_dir/static/css/site.css", &css);
    project.write(&format!("www_dir/static/{hashed}"), &css);
    project.write(
        "www_dir/static/staticfiles.json",
        &format!("{{\"paths\": {{\"css/site.css\": \"{hashed}\"}}, \"version\": \"1.1\"}}"),
    );
}

#[test]
fn check_reports_as_django_and_a_prepared_production_passes_deploy() {
    let project = GeneratedProject::new("checked_site");

    // Development settings, without --deploy: nothing to say, on stdout.
    let (output, stdout, stderr) = project.manage(&["check"]);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout, "System check identified no issues (0 silenced).\n",
        "{stderr}"
    );

    // With --deploy: serve would refuse debug, an error (exit 1); the
    // warnings on stderr, grouped, each with its hint.
    let (output, stdout, stderr) = project.manage(&["check", "--deploy"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with(
            "SystemCheckError: System check identified some issues:\n\nERRORS:\n?: (nuages.E017) "
        ),
        "{stderr}"
    );
    assert!(stderr.contains("\n\nWARNINGS:\n?: ("), "{stderr}");
    for id in [
        "nuages.E017",
        "security.W004",
        "security.W008",
        "security.W009",
        "security.W012",
        "security.W016",
        "security.W018",
        "security.W020",
        "nuages.W001",
        // Logins in signed-cookie sessions (the development settings).
        "nuages.W041",
    ] {
        let line = stderr
            .lines()
            .position(|l| l.starts_with(&format!("?: ({id}) ")))
            .unwrap_or_else(|| panic!("{id} missing: {stderr}"));
        let hint = stderr.lines().nth(line + 1).unwrap();
        assert!(
            hint.starts_with("\tHINT: "),
            "{id} has no hint line: {hint:?}"
        );
    }
    let count = stderr.lines().filter(|l| l.starts_with("?: (")).count();
    assert_eq!(
        summary(&stderr),
        format!("System check identified {count} issues (0 silenced).")
    );
    assert!(
        stderr.contains(&format!("\n\nSystem check identified {count} issues")),
        "a blank line before the summary"
    );

    // At --fail-level WARNING the warnings alone fail too, as Django says.
    let (output, _, stderr) = project.manage(&["check", "--deploy", "--fail-level", "WARNING"]);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("SystemCheckError: System check identified some issues:"),
        "{stderr}"
    );

    // JSON: one array of {id, level, message, hint}.
    let (output, stdout, stderr) = project.manage(&["check", "--deploy", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "the E017 error: {stderr}");
    let messages = parse_json(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let Json::Array(messages) = messages else {
        panic!("not an array: {stdout}")
    };
    assert_eq!(messages.len(), count);
    for message in &messages {
        let Json::Object(members) = message else {
            panic!("not an object: {message:?}")
        };
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["id", "level", "message", "hint"], "{message:?}");
        assert!(
            message.get("message").and_then(Json::as_str).is_some(),
            "{message:?}"
        );
    }
    assert!(messages.iter().any(|m| {
        m.get("id").and_then(Json::as_str) == Some("security.W018")
            && m.get("level").and_then(Json::as_str) == Some("WARNING")
    }));
    assert!(messages.iter().any(|m| {
        m.get("id").and_then(Json::as_str) == Some("nuages.E017")
            && m.get("level").and_then(Json::as_str) == Some("ERROR")
    }));

    // Silenced ids are counted, not shown.
    let (_, _, stderr) = manage_env(
        &project,
        &["check", "--deploy"],
        &[(
            "NUAGES_SILENCED_SYSTEM_CHECKS",
            "security.W018,security.W004",
        )],
    );
    assert!(
        !stderr.contains("security.W018") && !stderr.contains("security.W004"),
        "{stderr}"
    );
    assert_eq!(
        summary(&stderr),
        format!("System check identified {} issues (2 silenced).", count - 2)
    );
    // A mistyped id silences nothing, and says so with the id it meant.
    let (_, _, stderr) = manage_env(
        &project,
        &["check", "--deploy"],
        &[(
            "NUAGES_SILENCED_SYSTEM_CHECKS",
            "security.W018,security.W04",
        )],
    );
    assert!(
        stderr.contains(
            "?: (nuages.W040) silenced_system_checks names 'security.W04', which is no \
             check's id: it silences nothing\n\tHINT: did you mean 'security.W004'?"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("(security.W004)"), "{stderr}");
    assert_eq!(
        summary(&stderr),
        format!("System check identified {count} issues (1 silenced).")
    );
    // Silencing what serve refuses anyway (debug is on) does not make a
    // passing check: the id is named.
    let (_, _, stderr) = manage_env(
        &project,
        &["check", "--deploy"],
        &[("NUAGES_SILENCED_SYSTEM_CHECKS", "nuages.E017,security.W018")],
    );
    assert!(
        stderr.contains(
            "?: (nuages.W046) silencing nuages.E017 hides it from check, but serve still \
             refuses to start on it\n\tHINT: remove 'nuages.E017' from silenced_system_checks"
        ),
        "{stderr}"
    );
    assert_eq!(
        summary(&stderr),
        format!("System check identified {} issues (2 silenced).", count - 1)
    );

    // Tags.
    let (output, stdout, _) = project.manage(&["check", "--deploy", "--list-tags"]);
    assert!(output.status.success());
    assert!(
        stdout.lines().any(|l| l == "security") && stdout.lines().any(|l| l == "staticfiles"),
        "{stdout}"
    );
    let (output, _, stderr) = project.manage(&["check", "--deploy", "--tag", "staticfiles"]);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("(nuages.W003)") && !stderr.contains("security."),
        "{stderr}"
    );
    let (output, _, stderr) = project.manage(&["check", "--tag", "nope"]);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: there is no system check with the \"nope\" tag"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  hint: the tags are: ") && stderr.contains("staticfiles"),
        "{stderr}"
    );

    // Production: secret and hosts from the environment, the database
    // created, the static files collected: not a single issue.
    let key = random_key();
    let env = [
        ("SECRET_KEY", key.as_str()),
        ("NUAGES_ALLOWED_HOSTS", "example.com,www.example.com"),
    ];
    // The production settings name the account serve runs as; on this
    // machine it does not exist yet: an error with the command that makes it.
    let (output, _, stderr) = manage_env(
        &project,
        &[
            "check",
            "--deploy",
            "--settings",
            "settings.production.toml",
        ],
        &env,
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "?: (nuages.E012) serve_user: there is no user 'checked_site' on this system"
        ) && stderr
            .contains("\tHINT: create the account: useradd --system --no-create-home checked_site"),
        "{stderr}"
    );

    // Judged for the user running the tests, as if it ran the server.
    let me = nuages::checks::files::Identity::current()
        .name
        .expect("the test user has a name");
    let production = [
        "check",
        "--deploy",
        "--settings",
        "settings.production.toml",
        "--user",
        me.as_str(),
    ];
    let (output, _, stderr) = manage_env(&project, &production, &env);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("(nuages.W003)"),
        "not collected yet: {stderr}"
    );
    std::fs::create_dir_all(project.dir.join("db")).unwrap();
    let database = project.dir.join("db/db.sqlite3");
    std::fs::File::create(&database).unwrap();
    write_collected_static(&project);
    // Made by hand, every user may read it: a warning with the fix.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (output, _, stderr) = manage_env(&project, &production, &env);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "?: (nuages.W042) The SQLite database {} (databases.default.url) can be read by every \
             user of this machine (mode 0644)",
            database.display()
        )) && stderr.contains(&format!("chmod o-r {}*", database.display())),
        "{stderr}"
    );
    // As the server creates it.
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (output, stdout, stderr) = manage_env(&project, &production, &env);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout, "System check identified no issues (0 silenced).\n",
        "{stderr}"
    );
    assert!(!stderr.contains("System check"), "{stderr}");
    // Its write-ahead log holds the same rows: judged as the database.
    let wal = project.dir.join("db/db.sqlite3-wal");
    std::fs::write(&wal, "").unwrap();
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (output, _, stderr) = manage_env(&project, &production, &env);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "?: (nuages.W042) The SQLite journal file {} (databases.default.url) can be read by \
             every user of this machine (mode 0644)",
            wal.display()
        )),
        "{stderr}"
    );
    std::fs::remove_file(&wal).unwrap();
    // HTTPS asked for, but no way to see it behind the web server: every
    // page would redirect to itself.
    project.write(
        "settings.noproxy.toml",
        &std::fs::read_to_string(project.dir.join("settings.production.toml"))
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with("secure_proxy_ssl_header"))
            .map(|line| format!("{line}\n"))
            .collect::<String>(),
    );
    let mut noproxy = production.to_vec();
    noproxy[3] = "settings.noproxy.toml";
    let (output, _, stderr) = manage_env(&project, &noproxy, &env);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let hint = hint_of(
        &stderr,
        "nuages.W047",
        "secure_ssl_redirect and secure_hsts_seconds are set but secure_proxy_ssl_header is not",
    );
    assert!(
        hint.starts_with("add secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"] to "),
        "{hint}"
    );
    assert_eq!(
        summary(&stderr),
        "System check identified 1 issue (0 silenced).",
        "{stderr}"
    );

    // The same files, for a server running as `nobody`: it cannot write them.
    let mut with_user = production[..4].to_vec();
    with_user.extend(["--user", "nobody"]);
    let (output, _, stderr) = manage_env(&project, &with_user, &env);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\nERRORS:\n?: (nuages.E001) The user 'nobody' cannot write"),
        "{stderr}"
    );
    assert!(
        stderr.contains("(nuages.E002)"),
        "the log folder cannot be created: {stderr}"
    );

    // An error stops runserver before it listens.
    project.write("templates/broken.html", "{% extends \"base.html\" %}{% block content %}{{ url(name=\"nowhere\") }}{% endblock content %}");
    let port = free_port().to_string();
    let (output, stdout, stderr) = project.manage(&["runserver", "--noreload", &port]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("Performing system checks...\n\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("Starting development server"), "{stdout}");
    assert!(
        stderr.contains(
            "SystemCheckError: System check identified some issues:\n\nERRORS:\n?: (nuages.E004)"
        ),
        "{stderr}"
    );
    assert_eq!(
        summary(&stderr),
        "System check identified 1 issue (0 silenced)."
    );
}

/// Every setting that makes the application refuse to start makes `check`
/// (and `check --deploy`) fail with an error of its id, whose message and
/// hint are those `Application::new` refuses with: a checklist that passes
/// gives a server that starts.
#[test]
fn check_fails_on_what_the_application_refuses_in_its_words() {
    let project = GeneratedProject::new("agreeing_site");
    let (output, _, stderr) = project.manage(&["check"]);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    let cases = [
        (
            "NUAGES_X_FRAME_OPTIONS",
            "ALLOW-FROM https://example.com",
            "nuages.E007",
        ),
        (
            "NUAGES_MIDDLEWARE",
            "security,session,common,csrf,xframe,gzip",
            "nuages.E006",
        ),
        ("NUAGES_CSRF_TRUSTED_ORIGINS", "example.com", "4_0.E001"),
        (
            "NUAGES_SECURE_REDIRECT_EXEMPT",
            "^healthz/$,^(api/",
            "nuages.E008",
        ),
        (
            "NUAGES_SECURE_PROXY_SSL_HEADER",
            "HTTP_X_FORWARDED_PROTO,https",
            "nuages.E009",
        ),
        (
            "NUAGES_DATABASES__DEFAULT__URL",
            "mysql://db.internal/agreeing_site",
            "nuages.E011",
        ),
    ];
    for (variable, value, id) in cases {
        let settings = SettingsLoader::new(project.dir.join("settings.toml"))
            .env([(variable, value)])
            .load()
            .unwrap_or_else(|e| panic!("{variable}={value}: {e}"));
        let error = Application::new(Project::new(&project.name, &project.dir), settings)
            .expect_err(&format!("Application::new accepts {variable}={value}"));
        let hint = error
            .hint()
            .unwrap_or_else(|| panic!("{error} has no hint"));
        let expected = format!("?: ({id}) {error}\n\tHINT: {hint}\n");
        for args in [&["check"][..], &["check", "--deploy"][..]] {
            let (output, stdout, stderr) = manage_env(&project, args, &[(variable, value)]);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{args:?} with {variable}={value}: {stdout}{stderr}"
            );
            assert!(
                stderr.starts_with(
                    "SystemCheckError: System check identified some issues:\n\nERRORS:\n"
                ),
                "{stderr}"
            );
            assert!(
                stderr.contains(&expected),
                "{args:?} with {variable}={value}: expected\n{expected}in\n{stderr}"
            );
        }
    }
}

#[test]
fn check_deploy_reports_a_redis_cache_reachable_from_outside() {
    let project = GeneratedProject::new("cached_site");
    project.write(
        "settings.cache.toml",
        "extends = \"settings.toml\"\n\n[caches.default]\nbackend = \"redis\"\n\
         location = \"redis://:hunter2@203.0.113.7:6379/0\"\n",
    );
    let (output, stdout, stderr) =
        project.manage(&["check", "--deploy", "--settings", "settings.cache.toml"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    for (id, says) in [
        (
            "nuages.W013",
            "The cache 'default' is on the network address 203.0.113.7",
        ),
        (
            "nuages.W014",
            "The password of the cache 'default' is written in",
        ),
        (
            "nuages.W015",
            "The cache 'default' is on the public address 203.0.113.7",
        ),
    ] {
        hint_of(&stderr, id, says);
    }
    assert!(!stderr.contains("hunter2"), "never the password: {stderr}");
}

#[test]
fn check_reports_a_cache_the_application_would_refuse_naming_the_key() {
    let project = GeneratedProject::new("tls_cached_site");
    project.write(
        "settings.cache.toml",
        "extends = \"settings.toml\"\n\n[caches.default]\nbackend = \"redis\"\n\
         location = \"rediss://10.0.0.5:6380/0\"\ntls_ca_file = \"certs/missing-ca.pem\"\n",
    );
    let (output, stdout, stderr) = project.manage(&["check", "--settings", "settings.cache.toml"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let line = stderr
        .lines()
        .position(|l| l.starts_with("?: (nuages.E024) caches.default.tls_ca_file cannot be read"))
        .unwrap_or_else(|| panic!("E024 missing: {stderr}"));
    assert!(
        stderr
            .lines()
            .nth(line + 1)
            .unwrap()
            .starts_with("\tHINT: set caches.default.tls_ca_file to a PEM file")
    );

    // rediss:// with a readable authority: no E024, and no W013 (it is TLS).
    std::fs::create_dir_all(project.dir.join("certs")).unwrap();
    let (ca, _) =
        nuages_e2e::redis::certificate_authority(&project.dir.join("certs"), "missing-ca");
    assert!(ca.ends_with("certs/missing-ca.pem"));
    let (_, stdout, stderr) =
        project.manage(&["check", "--deploy", "--settings", "settings.cache.toml"]);
    assert!(
        stderr.contains("nuages.W"),
        "the deploy checks ran: {stdout}{stderr}"
    );
    assert!(!stderr.contains("nuages.E024"), "{stdout}{stderr}");
    assert!(!stderr.contains("nuages.W013"), "{stdout}{stderr}");

    // A Redis URL under a forgotten `backend = "redis"`: refused, not a
    // cache of each process's own.
    project.write(
        "settings.forgotten.toml",
        "extends = \"settings.toml\"\n\n[caches.default]\nlocation = \"redis://10.0.0.5:6379/0\"\n",
    );
    let (output, stdout, stderr) =
        project.manage(&["check", "--settings", "settings.forgotten.toml"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let hint = hint_of(
        &stderr,
        "nuages.E024",
        "caches.default.location is set, but the locmem backend reads no location",
    );
    assert!(
        hint.starts_with(
            "to use the server at caches.default.location, set caches.default.backend = \"redis\""
        ),
        "{hint}"
    );
}

/// The hint of the finding `?: (id) says…` in a report; fails without one.
fn hint_of<'a>(report: &'a str, id: &str, says: &str) -> &'a str {
    let line = report
        .lines()
        .position(|l| l.starts_with(&format!("?: ({id}) {says}")))
        .unwrap_or_else(|| panic!("{id} missing: {report}"));
    let hint = report.lines().nth(line + 1).unwrap();
    hint.strip_prefix("\tHINT: ")
        .unwrap_or_else(|| panic!("{id} has no hint: {hint:?}"))
}

#[test]
fn check_deploy_reports_uploads_mixed_with_static_files_or_sources() {
    let project = GeneratedProject::new("media_site");
    project.write(
        "settings.media.toml",
        "extends = \"settings.toml\"\nstatic_root = \"www_dir/static\"\n\
         media_root = \"www_dir/static/uploads\"\nmedia_url = \"/static/\"\n",
    );
    project.write(
        "settings.media2.toml",
        "extends = \"settings.toml\"\nmedia_root = \"src/uploads\"\nmedia_url = \"media\"\n",
    );
    let (output, stdout, stderr) =
        project.manage(&["check", "--deploy", "--settings", "settings.media.toml"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let hint = hint_of(&stderr, "nuages.E030", "media_root ");
    assert!(hint.contains("media_root = \"www_dir/media\""), "{hint}");
    let hint = hint_of(
        &stderr,
        "nuages.E032",
        "media_url \"/static/\" is the same as static_url",
    );
    assert!(hint.contains("media_url = \"/media/\""), "{hint}");

    let (output, stdout, stderr) =
        project.manage(&["check", "--deploy", "--settings", "settings.media2.toml"]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    hint_of(&stderr, "nuages.E031", "media_root ");
    let hint = hint_of(&stderr, "nuages.E033", "media_url \"media\"");
    assert_eq!(hint, "write media_url = \"/media/\"");
}

/// `allowed_hosts` written as URLs or with a port (`https://example.com`,
/// `localhost:8000`, a Django user's common slip) matches no request, whose
/// port is never compared: every request got 400 and `check` said nothing.
/// `nuages.W038` names each such entry, without `--deploy` too.
#[test]
fn check_names_allowed_hosts_entries_that_no_host_can_match() {
    let example = nuages_e2e::Example::new();
    let settings = example.settings_extending(
        &example.settings,
        "hosts",
        "allowed_hosts = [\"https://example.com\", \"localhost:8000\", \".example.org\", \"[::1]\"]\n",
    );
    let (output, stdout, stderr) = nuages_e2e::run(example.command_with(&settings).arg("check"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "warnings only: {stdout}{stderr}"
    );
    let hint = "\tHINT: write the host name alone, without scheme, port or path: \"example.com\" \
                (\".example.com\" also matches its subdomains)\n";
    for (entry, reason) in [
        (
            "https://example.com",
            "it is a URL, and a host has no scheme",
        ),
        (
            "localhost:8000",
            "it has a port, and a request's port is never compared",
        ),
    ] {
        assert!(
            stderr.contains(&format!(
                "?: (nuages.W038) allowed_hosts holds \"{entry}\", which no request's host can \
                 match ({reason}): the requests meant for it get 400 Bad Request.\n{hint}"
            )),
            "{entry}: {stderr}"
        );
    }
    assert_eq!(stderr.matches("nuages.W038").count(), 2, "{stderr}");
}
