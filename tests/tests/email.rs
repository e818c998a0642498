//! Email against a real SMTP server (aiosmtpd, started by the tests on a
//! free loopback port, writing what it receives to a folder): `manage
//! sendtestemail` (addresses, `--admins`, `--managers`, a login, STARTTLS),
//! `send_mail` from a view of a project served by `serve`, the report the
//! admins get of a production 500 (and what it never holds), a dead or
//! silent mail server, and `check --deploy` on the email settings.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nuages::conf::Settings;
use nuages::mail::Mailer;
use nuages::prelude::*;
use nuages::test::Client;
use nuages::{Application, Project};
use nuages_e2e::smtp::{ReceivedMail, SmtpOptions, SmtpServer, require_aiosmtpd};
use nuages_e2e::{
    GeneratedProject, Server, free_port, http, manage_env, self_signed_certificate, wait_for,
};

const SECRET: &str = "k8Qz1vX9mN2bL7cR4tY6uI0oP3aS5dF8gH1jK4lZ7xC0vB3nM6qW9eR2tY5uI8oP";

/// The views of the project: one sends a mail, one fails with an error
/// whose text holds the site's secrets (as a careless library's might).
const URLS: &str = r#"use std::collections::HashMap;

use nuages::mail::Mailer;
use nuages::prelude::*;

async fn home() -> &'static str {
    "hello"
}

async fn contact(mailer: Mailer, Query(query): Query<HashMap<String, String>>) -> Result<&'static str> {
    let to = query.get("to").map(String::as_str).unwrap_or_default();
    mailer.send_mail("Thanks for writing", "We got your message.", None, &[to]).await?;
    Ok("sent")
}

async fn letter(mailer: Mailer) -> Result<&'static str> {
    let message = nuages::mail::EmailMessage::new("A letter", "Dear reader.", ["to@mail.test"])
        .cc(["cc@mail.test"])
        .bcc(["bcc@mail.test"])
        .reply_to(["replies@mail.test"]);
    mailer.send(&message).await?;
    Ok("sent")
}

/// The project's own `[payments]` settings.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub struct Payments {
    pub api_key: String,
}

async fn boom(settings: SettingsRef, payments: Config<Payments>) -> Result<&'static str> {
    Err(Error::other(format!(
        "the payment API refused key {} (mail password {}, cache {}, payments key {})",
        settings.secret_key.as_deref().unwrap_or_default(),
        settings.email_host_password,
        settings.caches["other"].location,
        payments.0.api_key,
    )))
}

pub fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("", home, "home")
        .path("contact/", contact, "contact")
        .path("letter/", letter, "letter")
        .path("boom/", boom, "boom")
        .include("accounts/", nuages::auth::urls())
}
"#;

/// A generated project with the views above, built.
fn mail_project(name: &str) -> GeneratedProject {
    let project = GeneratedProject::new(name);
    project.write("src/urls.rs", URLS);
    let wsgi = std::fs::read_to_string(project.dir.join("src/wsgi.rs")).unwrap();
    let urls = ".urls(crate::urls::urlpatterns)";
    assert!(wsgi.contains(urls), "{wsgi}");
    project.write(
        "src/wsgi.rs",
        &wsgi.replace(
            urls,
            &format!("{urls}.settings_section::<crate::urls::Payments>(\"payments\")"),
        ),
    );
    let (output, stdout, stderr) = project.cargo(&["build", "--quiet"]);
    assert!(output.status.success(), "{stdout}{stderr}");
    project
}

/// `settings.NAME.toml` in the project: the development settings and `lines`.
fn settings_file(project: &GeneratedProject, name: &str, lines: &str) -> String {
    let file = format!("settings.{name}.toml");
    project.write(&file, &format!("extends = \"settings.toml\"\n{lines}"));
    file
}

/// Settings lines that send mail to `port` on loopback, with the senders,
/// admins and managers the tests look for (and a timeout that fails a stuck
/// test in seconds).
fn smtp_lines(host: &str, port: u16) -> String {
    format!(
        "email_host = \"{host}\"\nemail_port = {port}\nemail_timeout = 10\nserver_email = \"errors@mail.test\"\n\
         default_from_email = \"hello@mail.test\"\nadmins = [\"Ops <ops@mail.test>\"]\n\
         managers = [\"Boss <boss@mail.test>\"]\nemail_subject_prefix = \"[Mailsite] \"\n"
    )
}

fn sendtestemail(
    project: &GeneratedProject,
    settings: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Output, String, String) {
    let mut all = vec!["sendtestemail", "--settings", settings];
    all.extend_from_slice(args);
    manage_env(project, &all, env)
}

/// The one mail sent to `recipient` (an envelope recipient).
fn mail_to<'a>(mails: &'a [ReceivedMail], recipient: &str) -> &'a ReceivedMail {
    let found: Vec<&ReceivedMail> = mails
        .iter()
        .filter(|m| m.recipients().contains(&recipient))
        .collect();
    assert_eq!(found.len(), 1, "one mail to {recipient}: {mails:#?}");
    found[0]
}

/// A server started with `options`, and `settings.NAME.toml` that sends
/// to it (at `host`) with the settings lines `extra`.
fn server_and_settings(
    project: &GeneratedProject,
    name: &str,
    host: &str,
    options: SmtpOptions,
    extra: &str,
) -> (SmtpServer, String) {
    let server = SmtpServer::start_with(options);
    let lines = format!("{}{extra}", smtp_lines(host, server.port));
    (server, settings_file(project, name, &lines))
}

/// `sendtestemail a@mail.test` through `server`, which must receive it.
fn sent_one(
    project: &GeneratedProject,
    server: &SmtpServer,
    settings: &str,
    env: &[(&str, &str)],
) -> ReceivedMail {
    let (output, stdout, stderr) = sendtestemail(project, settings, &["a@mail.test"], env);
    assert!(output.status.success(), "{stdout}{stderr}");
    let mails = server.wait_for_mail(1, Duration::from_secs(10));
    assert_eq!(mails.len(), 1, "{mails:#?}");
    mails[0].clone()
}

#[test]
fn sendtestemail_reaches_a_real_smtp_server_with_login_and_starttls() {
    if !require_aiosmtpd() {
        return;
    }
    let project = mail_project("mailcmd");

    // Addresses, the admins and the managers.
    let smtp = SmtpServer::start();
    let plain = settings_file(&project, "plain", &smtp_lines("127.0.0.1", smtp.port));
    let (output, stdout, stderr) = sendtestemail(
        &project,
        &plain,
        &["a@mail.test", "b@mail.test", "--admins", "--managers"],
        &[],
    );
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("Sent a test email to a@mail.test, b@mail.test."),
        "{stdout}"
    );
    let mails = smtp.wait_for_mail(3, Duration::from_secs(10));
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let to_addresses = mail_to(&mails, "a@mail.test");
    assert_eq!(to_addresses.recipients(), ["a@mail.test", "b@mail.test"]);
    assert_eq!(to_addresses.envelope_from(), "hello@mail.test");
    assert_eq!(to_addresses.header("From"), Some("hello@mail.test"));
    assert_eq!(to_addresses.header("To"), Some("a@mail.test, b@mail.test"));
    let subject = to_addresses.header("Subject").unwrap();
    assert!(subject.starts_with("Test email from "), "{subject}");
    assert_eq!(
        to_addresses.body().trim_end(),
        "If you're reading this, it was successful."
    );
    for (recipient, header, words) in [
        ("ops@mail.test", "Ops <ops@mail.test>", "site admins"),
        ("boss@mail.test", "Boss <boss@mail.test>", "site managers"),
    ] {
        let mail = mail_to(&mails, recipient);
        assert_eq!(mail.header("From"), Some("errors@mail.test"));
        assert_eq!(mail.envelope_from(), "errors@mail.test");
        assert_eq!(mail.header("To"), Some(header));
        assert_eq!(
            mail.header("Subject").unwrap(),
            format!("[Mailsite] {subject}")
        );
        assert!(mail.body().contains(words), "{}", mail.body());
    }

    // No recipient at all is a usage error.
    let (output, _, stderr) = sendtestemail(&project, &plain, &[], &[]);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: no recipient"), "{stderr}");

    // --admins or --managers with nobody in the setting: exit 1 naming the
    // setting and how to fill it, before any mail goes out.
    let lines = smtp_lines("127.0.0.1", smtp.port);
    let nobody = settings_file(
        &project,
        "nobody",
        &lines
            .replace("[\"Ops <ops@mail.test>\"]", "[]")
            .replace("[\"Boss <boss@mail.test>\"]", "[]"),
    );
    for key in ["admins", "managers"] {
        let flag = format!("--{key}");
        let (output, stdout, stderr) =
            sendtestemail(&project, &nobody, &["a@mail.test", &flag], &[]);
        assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: --{key} was given and the {key} setting is empty: nobody to send to\n  \
                 hint: set {key} = [\"Name <name@example.com>\"] in the settings file\n"
            )
        );
        assert_eq!(stdout, "");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(smtp.received().len(), 3, "no mail went out");

    // A login (AUTH PLAIN/LOGIN over the plain connection), the password
    // read from the environment.
    let (login, with_login) = server_and_settings(
        &project,
        "login",
        "127.0.0.1",
        SmtpOptions {
            login: Some(("site".into(), "s3cret-pw".into())),
            ..SmtpOptions::default()
        },
        "email_host_user = \"site\"\nemail_host_password = \"${SMTP_PASSWORD}\"\n",
    );
    let (output, stdout, stderr) = sendtestemail(
        &project,
        &with_login,
        &["a@mail.test"],
        &[("SMTP_PASSWORD", "wrong")],
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("email_host_password"), "{stderr}");
    assert!(!stderr.contains("wrong"), "never the password: {stderr}");
    let mail = sent_one(
        &project,
        &login,
        &with_login,
        &[("SMTP_PASSWORD", "s3cret-pw")],
    );
    assert_eq!(mail.login(), Some("site"));
    assert!(!mail.over_tls());

    // STARTTLS required, with a certificate this machine is told to trust.
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_certificate(certs.path(), "localhost");
    let trusted = [("SSL_CERT_FILE", cert.to_str().unwrap())];
    let tls_options = SmtpOptions {
        tls: Some((cert.clone(), key)),
        ..SmtpOptions::default()
    };
    let (tls, with_tls) = server_and_settings(
        &project,
        "tls",
        "localhost",
        tls_options.clone(),
        "email_use_tls = true\n",
    );
    let (output, stdout, stderr) = sendtestemail(&project, &with_tls, &["a@mail.test"], &[]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "an untrusted certificate is refused: {stdout}{stderr}"
    );
    assert!(stderr.contains("STARTTLS (email_use_tls)"), "{stderr}");
    assert!(stderr.contains("hint: check email_use_tls"), "{stderr}");
    assert!(sent_one(&project, &tls, &with_tls, &trusted).over_tls());

    // TLS from the first byte (email_use_ssl), the same certificate.
    let (implicit, with_ssl) = server_and_settings(
        &project,
        "ssl",
        "localhost",
        SmtpOptions {
            implicit_tls: true,
            ..tls_options
        },
        "email_use_ssl = true\n",
    );
    assert!(sent_one(&project, &implicit, &with_ssl, &trusted).over_tls());
    // A plain server where TLS is expected: a TLS failure, at once.
    let ssl_to_plain = settings_file(
        &project,
        "ssl_to_plain",
        &format!(
            "{}email_use_ssl = true\n",
            smtp_lines("localhost", smtp.port)
        ),
    );
    let started = Instant::now();
    let (output, stdout, stderr) = sendtestemail(&project, &ssl_to_plain, &["a@mail.test"], &[]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("TLS (email_use_ssl)"), "{stderr}");
    assert!(stderr.contains("hint: check email_use_tls"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );

    // The console backend prints the message as a server would receive it.
    let console = settings_file(&project, "console", "email_backend = \"console\"\n");
    let (output, stdout, stderr) = sendtestemail(&project, &console, &["a@mail.test"], &[]);
    assert!(output.status.success(), "{stdout}{stderr}");
    for line in [
        "From: webmaster@localhost",
        "To: a@mail.test",
        "Subject: Test email from ",
        "If you're reading this, it was successful.",
        &"-".repeat(79),
    ] {
        assert!(stdout.contains(line), "{line:?} not in {stdout}");
    }

    // A login where the server offers none (no AUTH on a plain
    // connection, as most servers before STARTTLS): the hint names the TLS
    // settings and email_host_user, not a server that does not listen.
    let login_to_plain = settings_file(
        &project,
        "login_to_plain",
        &format!(
            "{}email_host_user = \"site\"\nemail_host_password = \"${{SMTP_PASSWORD}}\"\n",
            smtp_lines("127.0.0.1", smtp.port)
        ),
    );
    let (output, stdout, stderr) = sendtestemail(
        &project,
        &login_to_plain,
        &["a@mail.test"],
        &[("SMTP_PASSWORD", "s3cret-pw")],
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "hint: the server offers no login on this plain connection (most offer AUTH only after \
             STARTTLS): set email_use_tls = true"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret-pw"),
        "never the password: {stderr}"
    );

    // A server that is gone: exit 1, naming the settings to look at.
    let port = smtp.port;
    drop(smtp);
    let (output, stdout, stderr) = sendtestemail(&project, &plain, &["a@mail.test"], &[]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: sending mail through the SMTP server 127.0.0.1:{port} (email_host, email_port"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: check that an SMTP server listens at email_host and email_port"),
        "{stderr}"
    );
}

#[test]
fn check_deploy_reports_a_console_backend_and_a_written_smtp_password() {
    let project = GeneratedProject::new("mailcheck");
    let console = settings_file(
        &project,
        "console",
        "debug = false\nemail_backend = \"console\"\nemail_host_password = \"hunter2-literal\"\n",
    );
    let (output, stdout, stderr) = manage_env(
        &project,
        &["check", "--deploy", "--settings", &console],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "?: (nuages.E018) email_backend is \"console\" while debug is off: mail is printed on the \
             server's standard output, never delivered"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("HINT: set email_backend = \"smtp\" with email_host and email_port"),
        "{stderr}"
    );
    assert!(
        stderr.contains("?: (nuages.W020) email_host_password is written in "),
        "{stderr}"
    );
    assert!(
        stderr.contains("HINT: write email_host_password = \"${EMAIL_HOST_PASSWORD}\""),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2-literal"), "{stderr}");

    // Both TLS flags: every check refuses them, as the application does.
    let both = settings_file(
        &project,
        "both",
        "email_use_tls = true\nemail_use_ssl = true\n",
    );
    let (output, stdout, stderr) = manage_env(&project, &["check", "--settings", &both], &[]);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("?: (nuages.E019) email_use_tls and email_use_ssl are both true"),
        "{stderr}"
    );
}

/// `serve` of `project` with `settings` on a free port, answering.
fn serve(project: &GeneratedProject, settings: &str, env: &[(&str, &str)]) -> (Server, SocketAddr) {
    let port = free_port();
    let mut command = nuages_e2e::manage(&project.dir);
    command
        .args(["serve", "--settings", settings])
        .env("SECRET_KEY", SECRET)
        .env("NUAGES_SERVE_BIND", format!("127.0.0.1:{port}"));
    for (key, value) in env {
        command.env(key, value);
    }
    let server = Server::start(&mut command, project.temp.path(), "serve");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for(Duration::from_secs(60), || {
        http(addr, "GET", "/", &[], "").ok()
    })
    .unwrap_or_else(|| panic!("serve did not start: {}", server.output()));
    (server, addr)
}

#[test]
fn a_production_site_mails_from_views_and_reports_500s_to_the_admins_without_secrets() {
    if !require_aiosmtpd() {
        return;
    }
    let project = mail_project("mailsite");
    let smtp = SmtpServer::start();
    let settings = settings_file(
        &project,
        "live",
        &format!(
            "debug = false\nsecret_key = \"${{SECRET_KEY}}\"\nallowed_hosts = [\"localhost\"]\n\
             email_host_password = \"${{SMTP_PASSWORD}}\"\n{}\
             [caches.default]\nbackend = \"locmem\"\n\
             [caches.other]\nbackend = \"redis\"\nlocation = \"redis://:${{CACHE_PASSWORD}}@127.0.0.1:6390/0\"\n\
             [payments]\napi_key = \"${{PAYMENTS_KEY}}\"\n",
            smtp_lines("127.0.0.1", smtp.port)
        ),
    );
    let env = [
        ("SMTP_PASSWORD", "smtp-secret-pw"),
        ("CACHE_PASSWORD", "cache-secret-pw"),
        ("PAYMENTS_KEY", "sk-live-payments-77"),
    ];
    let (server, addr) = serve(&project, &settings, &env);

    // send_mail from a view.
    let response = http(addr, "GET", "/contact/?to=visitor@mail.test", &[], "").unwrap();
    assert_eq!((response.status, response.body.as_str()), (200, "sent"));
    let mails = smtp.wait_for_mail(1, Duration::from_secs(10));
    let thanks = mail_to(&mails, "visitor@mail.test");
    assert_eq!(thanks.header("From"), Some("hello@mail.test"));
    assert_eq!(thanks.header("Subject"), Some("Thanks for writing"));
    assert_eq!(thanks.body().trim_end(), "We got your message.");

    // send of an EmailMessage: to, cc, bcc (seen by no other recipient)
    // and reply-to.
    let response = http(addr, "GET", "/letter/", &[], "").unwrap();
    assert_eq!((response.status, response.body.as_str()), (200, "sent"));
    let mails = smtp.wait_for_mail(2, Duration::from_secs(10));
    let letter = mail_to(&mails, "to@mail.test");
    let mut recipients = letter.recipients();
    recipients.sort();
    assert_eq!(
        recipients,
        ["bcc@mail.test", "cc@mail.test", "to@mail.test"]
    );
    assert_eq!(letter.header("To"), Some("to@mail.test"));
    assert_eq!(letter.header("Cc"), Some("cc@mail.test"));
    assert_eq!(letter.header("Reply-To"), Some("replies@mail.test"));
    assert!(!letter.raw().contains("bcc@"), "{}", letter.raw());

    // A 500: the visitor sees the plain page; the admins get the report.
    let visitor = [
        ("User-Agent", "MailTest/1.0 (e2e)"),
        (
            "Cookie",
            "sessionid=cookie-value-xyz; csrftoken=csrf-value-abc",
        ),
        ("Authorization", "Bearer auth-value-123"),
    ];
    let started = Instant::now();
    let response = http(
        addr,
        "GET",
        "/boom/?page=2&token=tok-123&p%61ss+word=pw-encoded-name",
        &visitor,
        "",
    )
    .unwrap();
    assert_eq!(response.status, 500);
    assert!(
        response.body.contains("Server Error (500)"),
        "{}",
        response.body
    );
    assert!(!response.body.contains("payment"), "{}", response.body);
    assert!(started.elapsed() < Duration::from_secs(5));
    let mails = smtp.wait_for_mail(3, Duration::from_secs(10));
    let report = mail_to(&mails, "ops@mail.test");
    assert_eq!(report.header("From"), Some("errors@mail.test"));
    assert_eq!(
        report.header("Subject"),
        Some("[Mailsite] ERROR: Internal Server Error: /boom/")
    );
    let body = report.body();
    for expected in [
        "GET /boom/?page=2&token=********************&p%61ss+word=********************",
        "User-Agent: MailTest/1.0 (e2e)",
        "the payment API refused key ********************",
    ] {
        assert!(body.contains(expected), "{expected:?} not in {body}");
    }
    for secret in [
        SECRET,
        "cookie-value-xyz",
        "csrf-value-abc",
        "auth-value-123",
        "tok-123",
        "pw-encoded-name",
        "smtp-secret-pw",
        "cache-secret-pw",
        "sk-live-payments-77",
    ] {
        assert!(
            !report.raw().contains(secret),
            "{secret} in {}",
            report.raw()
        );
    }
    assert!(
        !mails
            .iter()
            .any(|m| m.recipients().contains(&"boss@mail.test")),
        "managers get no error report"
    );

    // The mail server goes away: the 500 stays the same page, and the log
    // says why no report went out.
    let port = smtp.port;
    drop(smtp);
    let again = http(addr, "GET", "/boom/", &visitor, "").unwrap();
    assert_eq!(again.status, 500);
    assert_eq!(again.body, response.body);
    let logged = wait_for(Duration::from_secs(10), || {
        let output = server.output();
        output
            .contains("the error report to the admins was not sent")
            .then_some(output)
    })
    .unwrap_or_else(|| panic!("no log line: {}", server.output()));
    assert!(
        logged.contains(&format!("127.0.0.1:{port} (email_host, email_port")),
        "{logged}"
    );
    let failure = logged
        .lines()
        .find(|line| line.contains("the error report to the admins was not sent"))
        .unwrap();
    assert!(!failure.contains("smtp-secret-pw"), "{failure}");
}

/// A server that accepts connections and never says a word: the real
/// failure of a hung mail server.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (port, task)
}

fn silent_settings(port: u16, timeout: u64) -> Settings {
    Settings {
        email_host: "127.0.0.1".into(),
        email_port: port,
        email_timeout: Some(timeout),
        admins: vec!["ops@mail.test".into()],
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(SECRET.into()),
        ..Settings::default()
    }
}

#[tokio::test]
async fn email_timeout_bounds_a_server_that_never_answers() {
    let (port, task) = silent_server().await;
    let mailer = Mailer::new(&silent_settings(port, 1)).unwrap();
    let started = Instant::now();
    let sent = tokio::time::timeout(
        Duration::from_secs(30),
        mailer.send_mail("Hi", "Body", None, &["a@mail.test"]),
    )
    .await
    .expect("the send never hangs");
    let elapsed = started.elapsed();
    let error = sent.unwrap_err();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(
        error
            .to_string()
            .contains("did not finish the send within 1 s (email_timeout)"),
        "{error}"
    );
    task.abort();
}

async fn boom() -> Result<&'static str> {
    Err(Error::other("broken"))
}

#[tokio::test]
async fn a_hung_mail_server_never_delays_the_500() {
    let (port, task) = silent_server().await;
    let dir = env!("CARGO_MANIFEST_DIR");
    let urls = || UrlConf::new().path("boom/", boom, "boom");
    let application = Application::new(
        Project::new("mailsite", dir).urls(urls),
        silent_settings(port, 30),
    )
    .unwrap();
    let client = Client::new(application);
    let started = Instant::now();
    let response = client.get("/boom/").await;
    assert_eq!(response.status, 500);
    assert!(response.text().contains("Server Error (500)"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the report goes out in the background: {:?}",
        started.elapsed()
    );
    task.abort();
}

/// `email_use_tls` requires STARTTLS: a server that does not offer it (or
/// a machine in the middle that strips it from the EHLO answer) gets
/// nothing in plain text; the send fails, naming the setting. The same
/// server takes the mail without `email_use_tls`: it is the requirement
/// that stopped the first send.
#[tokio::test]
async fn email_use_tls_sends_nothing_to_a_server_that_offers_no_starttls() {
    if !require_aiosmtpd() {
        return;
    }
    // Offers no STARTTLS.
    let smtp = SmtpServer::start();
    let settings = |email_use_tls| Settings {
        email_host: "localhost".into(),
        email_port: smtp.port,
        email_use_tls,
        email_timeout: Some(10),
        ..Settings::default()
    };
    let required = Mailer::new(&settings(true)).unwrap();
    let error = required
        .send_mail("Over TLS", "Body", None, &["tls@mail.test"])
        .await
        .expect_err("STARTTLS is required, and the server offers none");
    assert!(
        error.to_string().contains("STARTTLS (email_use_tls)"),
        "{error}"
    );
    let plain = Mailer::new(&settings(false)).unwrap();
    plain
        .send_mail("In plain text", "Body", None, &["plain@mail.test"])
        .await
        .unwrap();
    let mails = smtp.wait_for_mail(1, Duration::from_secs(10));
    let recipients: Vec<&str> = mails.iter().flat_map(|m| m.recipients()).collect();
    assert_eq!(recipients, ["plain@mail.test"], "{mails:#?}");
}

async fn plain_500() -> Response {
    (
        nuages::axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "the backend failed",
    )
        .into_response()
}

async fn panics() -> &'static str {
    panic!("a bug")
}

async fn maintenance() -> Response {
    (
        nuages::axum::http::StatusCode::SERVICE_UNAVAILABLE,
        Html("<p>Back soon</p>"),
    )
        .into_response()
}

/// What the admins are mailed, as Django's: every server error. A view's
/// error (an `Err`), a panic and a 5xx in plain text get the 500 page; a
/// 5xx page the view renders itself is sent as it is, and mailed too.
#[tokio::test]
async fn the_admins_get_every_server_error() {
    let urls = || {
        UrlConf::new()
            .path("boom/", boom, "boom")
            .path("plain-500/", plain_500, "plain_500")
            .path("panics/", panics, "panics")
            .path("maintenance/", maintenance, "maintenance")
    };
    let settings = Settings {
        email_backend: nuages::conf::EmailBackend::Memory,
        admins: vec!["ops@mail.test".into()],
        allowed_hosts: vec!["localhost".into()],
        secret_key: Some(SECRET.into()),
        ..Settings::default()
    };
    let application = Application::new(
        Project::new("mailsite", env!("CARGO_MANIFEST_DIR")).urls(urls),
        settings,
    )
    .unwrap();
    let client = Client::new(application.clone());
    // The reports go out in the background: wait for them.
    let outbox_after = async |count: usize| {
        for _ in 0..100 {
            if application.mailer().outbox().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        application.mailer().outbox()
    };
    for (path, subject) in [
        (
            "/maintenance/",
            "[Nuages] ERROR: Service Unavailable: /maintenance/",
        ),
        ("/boom/", "[Nuages] ERROR: Internal Server Error: /boom/"),
        (
            "/plain-500/",
            "[Nuages] ERROR: Internal Server Error: /plain-500/",
        ),
        (
            "/panics/",
            "[Nuages] ERROR: Internal Server Error: /panics/",
        ),
    ] {
        let before = application.mailer().outbox().len();
        let response = client.get(path).await;
        if path == "/maintenance/" {
            // The view's own page, as it made it.
            assert_eq!(response.status, 503);
            assert_eq!(response.text(), "<p>Back soon</p>");
        } else {
            assert_eq!(response.status, 500);
            assert!(response.text().contains("Server Error (500)"));
        }
        let outbox = outbox_after(before + 1).await;
        assert_eq!(outbox.len(), before + 1, "{path}: {outbox:#?}");
        assert_eq!(outbox[before].subject, subject);
        assert!(outbox[before].body.contains(&format!("GET {path}")));
    }
    assert_eq!(application.mailer().outbox().len(), 4);
}

/// A real SMTP server, and a mailer that sends to it (`ops@mail.test` its
/// admin).
fn smtp_and_mailer() -> (SmtpServer, Mailer) {
    let smtp = SmtpServer::start();
    let settings = Settings {
        email_host: "localhost".into(),
        email_port: smtp.port,
        email_timeout: Some(10),
        admins: vec!["ops@mail.test".into()],
        ..Settings::default()
    };
    let mailer = Mailer::new(&settings).unwrap();
    (smtp, mailer)
}

/// A subject with a word too long for one header line (the report of a
/// server error at a long URL: `ERROR: Internal Server Error: /search/…`)
/// was written on one line over the 998 characters SMTP allows, and the
/// server refused the mail ("500 Line too long"): it is now folded, and
/// arrives as it was given, as Django's (Python's email folds it).
#[tokio::test]
async fn a_subject_with_a_word_longer_than_a_line_reaches_the_server_whole() {
    if !require_aiosmtpd() {
        return;
    }
    let (smtp, mailer) = smtp_and_mailer();
    let path = format!("/search/{}é/", "a".repeat(1500));
    mailer
        .mail_admins(&format!("ERROR: Internal Server Error: {path}"), "Body")
        .await
        .unwrap();
    let word = "b".repeat(1200);
    mailer
        .send_mail(&format!("Re: {word} end"), "Body", None, &["a@mail.test"])
        .await
        .unwrap();
    let mails = smtp.wait_for_mail(2, Duration::from_secs(10));
    assert_eq!(
        mail_to(&mails, "ops@mail.test").header("Subject"),
        Some(format!("[Nuages] ERROR: Internal Server Error: {path}").as_str())
    );
    assert_eq!(
        mail_to(&mails, "a@mail.test").header("Subject"),
        Some(format!("Re: {word} end").as_str())
    );
    for mail in &mails {
        let longest = mail.raw().split("\r\n").map(str::len).max().unwrap();
        assert!(longest <= 998, "a line of {longest} characters");
    }
}

/// An address at an internationalized domain, which a form's `Email` field
/// accepts as Django's does (`ada@bücher.de`), is sent to the server with
/// its domain in punycode (`xn--bcher-kva.de`), as Django's
/// `sanitize_address` does: lettre sent it as typed, and a server without
/// SMTPUTF8 (most relays) got nothing, the send failing with a hint about
/// a server that does not listen.
#[tokio::test]
async fn an_address_at_an_internationalized_domain_is_sent_in_punycode() {
    if !require_aiosmtpd() {
        return;
    }
    let (smtp, mailer) = smtp_and_mailer();
    mailer
        .send_mail(
            "Willkommen",
            "Body",
            Some("Bücher <shop@bücher.de>"),
            &["ada@bücher.de"],
        )
        .await
        .unwrap();
    let mails = smtp.wait_for_mail(1, Duration::from_secs(10));
    let mail = mail_to(&mails, "ada@xn--bcher-kva.de");
    assert_eq!(mail.envelope_from(), "shop@xn--bcher-kva.de");
    assert_eq!(mail.header("To"), Some("ada@xn--bcher-kva.de"));
    assert_eq!(mail.header("From"), Some("Bücher <shop@xn--bcher-kva.de>"));
}

/// What the server receives of a mail to addresses at IP literals, as a
/// form's `Email` field and `createsuperuser` accept them: every
/// recipient, in the envelope and the headers. Only the recipients after
/// the last literal got the mail (`To: second@example.com`), and a list
/// that ended in one was refused ("missing destination address, invalid
/// envelope"), so `sendtestemail` said it had sent what it had not, and
/// a password reset to `v6@[127.0.0.1]` was never sent.
#[tokio::test]
async fn every_recipient_at_an_ip_literal_or_localhost_reaches_the_server() {
    if !require_aiosmtpd() {
        return;
    }
    let (smtp, mailer) = smtp_and_mailer();
    let to = ["ok@mail.test", "ops@[127.0.0.1]", "second@mail.test"];
    mailer.send_mail("Three", "Body", None, &to).await.unwrap();
    let message = nuages::mail::EmailMessage::new("Two", "Body", ["v6@[IPv6:::1]", "ops@[::1]"])
        .cc(["root@localhost"])
        .bcc(["hidden@[127.0.0.1]"]);
    mailer.send(&message).await.unwrap();
    let mails = smtp.wait_for_mail(2, Duration::from_secs(10));
    let three = mail_to(&mails, "ops@[127.0.0.1]");
    assert_eq!(three.recipients(), to);
    assert_eq!(
        three.header("To"),
        Some("ok@mail.test, ops@[127.0.0.1], second@mail.test")
    );
    let two = mail_to(&mails, "hidden@[127.0.0.1]");
    assert_eq!(
        two.recipients(),
        [
            "v6@[IPv6:::1]",
            "ops@[::1]",
            "root@localhost",
            "hidden@[127.0.0.1]"
        ]
    );
    assert_eq!(two.header("To"), Some("v6@[IPv6:::1], ops@[::1]"));
    assert_eq!(two.header("Cc"), Some("root@localhost"));
    assert_eq!(two.header("Bcc"), None);
}

/// Every mail has a `Message-ID` of its own, as Django's `EmailMessage`
/// gives it (`make_msgid`): lettre adds none unless asked, and a receiving
/// server may refuse a mail without one (Gmail: "Messages missing a valid
/// Message-ID header are not accepted") or file it as spam.
#[tokio::test]
async fn every_mail_has_a_message_id_of_its_own() {
    if !require_aiosmtpd() {
        return;
    }
    let (smtp, mailer) = smtp_and_mailer();
    for to in ["a@mail.test", "b@mail.test"] {
        mailer.send_mail("Hi", "Body", None, &[to]).await.unwrap();
    }
    let mails = smtp.wait_for_mail(2, Duration::from_secs(10));
    let ids: Vec<&str> = ["a@mail.test", "b@mail.test"]
        .iter()
        .map(|to| mail_to(&mails, to).header("Message-ID").unwrap_or_default())
        .collect();
    for id in &ids {
        assert!(
            id.starts_with('<') && id.ends_with('>') && id.contains('@'),
            "{ids:?}"
        );
    }
    assert_ne!(ids[0], ids[1]);
}

/// A body beyond ASCII arrives as written: the mail says it is UTF-8
/// (`Content-Type: text/plain; charset=utf-8`, `MIME-Version: 1.0`), as
/// Django's does. It said nothing, so a mail client read its bytes as
/// US-ASCII, the default of a mail without a type, and showed "CafÃ©".
#[tokio::test]
async fn a_body_beyond_ascii_arrives_as_written() {
    if !require_aiosmtpd() {
        return;
    }
    let (smtp, mailer) = smtp_and_mailer();
    let text = "Café crème, 10 €.\nÀ bientôt !";
    mailer
        .send_mail("Reçu", text, None, &["a@mail.test"])
        .await
        .unwrap();
    let mails = smtp.wait_for_mail(1, Duration::from_secs(10));
    let mail = mail_to(&mails, "a@mail.test");
    // Python's email writes the parameter quoted.
    assert_eq!(
        mail.header("Content-Type"),
        Some("text/plain; charset=\"utf-8\"")
    );
    assert_eq!(mail.header("MIME-Version"), Some("1.0"));
    // The server reads the lines' CRLF as they travel.
    assert_eq!(mail.body().replace("\r\n", "\n").trim_end(), text);
}
