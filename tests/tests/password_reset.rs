//! Password reset by email, end to end: the example site served by `serve`
//! (debug off, sessions in its SQLite file) mails its links through a real
//! SMTP server (aiosmtpd) started by the test; a superuser made with
//! `createsuperuser --noinput` forgets the password, follows the link once,
//! sets a new password and logs in with it. Unknown or passwordless
//! addresses get the same answer and no mail; a used, superseded or expired
//! link shows the "invalid link" page; a forged `Host` never reaches a mail.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nuages::sqlx;
use nuages_e2e::browser::Browser;
use nuages_e2e::smtp::{ReceivedMail, SmtpOptions, SmtpServer, require_aiosmtpd};
use nuages_e2e::{Example, http, run, run_with_input};

const SECRET: &str = "reset-test-secret-5b7f0c1e9d2a4f6b8c3e1a7d9f2b4c6e8a0d2f4b6c8e";
const FIRST_PASSWORD: &str = "plum-violin-orbit-42";
const NEW_PASSWORD: &str = "ochre-lantern-basin-7";
const INVALID_LINK: &str = "The password reset link was invalid";

/// A settings file in the example's folder: production-like (debug off,
/// `allowed_hosts`), sessions in the database, mail to `smtp_port`, and
/// `extra` lines.
fn settings(example: &Example, name: &str, smtp_port: u16, extra: &str) -> PathBuf {
    let lines = format!(
        "debug = false\nsecret_key = \"{SECRET}\"\nallowed_hosts = [\"localhost\"]\n\
         session_engine = \"db\"\nemail_backend = \"smtp\"\nemail_host = \"127.0.0.1\"\n\
         email_port = {smtp_port}\nemail_timeout = 10\ndefault_from_email = \"accounts@mysite.test\"\n{extra}"
    );
    example.settings_extending(&example.settings, name, &lines)
}

/// `args` of the example with `settings`, `input` on stdin; must succeed.
fn command(example: &Example, settings: &Path, args: &[&str], input: &str) {
    let (status, _, stderr) = run_with_input(example.command_with(settings).args(args), input);
    assert!(status.success(), "{args:?}: {stderr}");
}

/// The example with a migrated database holding the superuser `admin`
/// (`admin@mysite.test`, made by `createsuperuser --noinput`), an SMTP
/// server, and settings that mail to it with `extra` lines.
fn site(name: &str, extra: &str) -> (Example, SmtpServer, PathBuf) {
    site_mailing_to(SmtpOptions::default(), name, extra)
}

/// [`site`], with an SMTP server started as `options` say.
fn site_mailing_to(
    options: SmtpOptions,
    name: &str,
    extra: &str,
) -> (Example, SmtpServer, PathBuf) {
    let example = Example::new();
    let smtp = SmtpServer::start_with(options);
    let settings = settings(&example, name, smtp.port, extra);
    command(&example, &settings, &["migrate"], "");
    example.create_superuser(&settings, "admin", "admin@mysite.test", FIRST_PASSWORD);
    (example, smtp, settings)
}

/// A visitor of `addr` that names the host with its port, as browsers do.
fn visitor(addr: SocketAddr) -> Browser {
    let mut browser = Browser::new(addr);
    browser.host = format!("localhost:{}", addr.port());
    browser
}

/// One number from the example's database.
fn count(example: &Example, sql: &str) -> i64 {
    let settings = mysite::wsgi::project()
        .settings_loader(&example.settings)
        .env(Vec::<(String, String)>::new())
        .load()
        .unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = nuages::db::Databases::new(&settings)
            .get("default")
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&pool)
            .await
            .unwrap();
        n
    })
}

/// The reset link in a mail's body.
fn link_in(mail: &ReceivedMail) -> String {
    let body = mail.body();
    let at = body
        .find("http://")
        .unwrap_or_else(|| panic!("no link in {body}"));
    body[at..].split_whitespace().next().unwrap().to_string()
}

/// Ask for a reset of `email`: always the redirect to the done page.
fn ask_reset(browser: &mut Browser, email: &str) {
    let response = browser.submit("/accounts/password_reset/", &[("email", email)]);
    assert_eq!(response.status, 302, "{response:?}");
    assert_eq!(
        response.header("location"),
        Some("/accounts/password_reset/done/")
    );
}

/// Ask for a reset of `email`: the one mail it sends (taken out of the
/// mailbox, which is empty before and after), and its link.
fn reset_link(browser: &mut Browser, smtp: &SmtpServer, email: &str) -> (String, ReceivedMail) {
    ask_reset(browser, email);
    let mut mails = smtp.wait_for_mail(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1, "one mail for {email}: {mails:#?}");
    for entry in std::fs::read_dir(&smtp.mailbox).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let mail = mails.remove(0);
    (link_in(&mail), mail)
}

/// The path of a link to `addr`.
fn path_of(link: &str, addr: SocketAddr) -> String {
    let origin = format!("http://localhost:{}", addr.port());
    link.strip_prefix(&origin)
        .unwrap_or_else(|| panic!("{link} is not on {origin}"))
        .to_string()
}

/// Open the link: a valid one moves the token to the session and redirects
/// to `set-password`; the path of that page.
fn open_valid_link(browser: &mut Browser, path: &str) -> String {
    let response = browser.get(path);
    assert_eq!(response.status, 302, "{path}: {response:?}");
    let location = response.header("location").unwrap().to_string();
    assert!(location.ends_with("/set-password/"), "{location}");
    assert!(
        response
            .header("cache-control")
            .is_some_and(|value| value.contains("no-store")),
        "{response:?}"
    );
    location
}

fn shows_invalid_link(browser: &mut Browser, path: &str) {
    let response = browser.get(path);
    assert_eq!(response.status, 200, "{path}: {response:?}");
    assert!(response.body.contains(INVALID_LINK), "{}", response.body);
    assert!(
        !response.body.contains("new_password1"),
        "{}",
        response.body
    );
}

/// Log in through the login view: whether the pair was accepted.
fn logs_in(addr: SocketAddr, password: &str) -> bool {
    let mut browser = visitor(addr);
    let response = browser.submit(
        "/accounts/login/",
        &[("username", "admin"), ("password", password), ("next", "")],
    );
    match response.status {
        302 => true,
        200 => {
            assert!(
                response
                    .body
                    .contains("Please enter a correct username and password"),
                "{}",
                response.body
            );
            false
        }
        _ => panic!("{response:?}"),
    }
}

#[test]
fn a_forgotten_password_is_reset_once_through_the_mailed_link() {
    if !require_aiosmtpd() {
        return;
    }
    // This walk asks admin's address again and again, each time for a
    // new link: without password_reset_cooldown, which would merge them.
    let (example, smtp, settings) = site("reset", "password_reset_cooldown = 0\n");
    // An account without a usable password gets no mail.
    let keyless = [
        "createsuperuser",
        "--noinput",
        "--username",
        "keyless",
        "--email",
        "keyless@mysite.test",
    ];
    command(&example, &settings, &keyless, "");
    let (server, addr) = example.serve_with(&settings, "serve", "localhost");

    // The login page links to the reset form.
    let mut browser = visitor(addr);
    let login = browser.get("/accounts/login/");
    assert!(
        login
            .body
            .contains("<a href=\"/accounts/password_reset/\">Forgotten your password?</a>"),
        "{}",
        login.body
    );

    // Logged in elsewhere with the old password: a session on the server.
    let mut elsewhere = visitor(addr);
    let response = elsewhere.submit(
        "/accounts/login/",
        &[("username", "admin"), ("password", FIRST_PASSWORD)],
    );
    assert_eq!(response.status, 302, "{response:?}");
    let admin_sessions = "SELECT COUNT(*) FROM nuages_session WHERE user_key = \
                          (SELECT CAST(id AS TEXT) FROM auth_user WHERE username = 'admin')";
    assert_eq!(count(&example, admin_sessions), 1);
    assert!(elsewhere.get("/").body.contains("Logged in as admin"));

    // A malformed address is refused in the form; an unknown one and a
    // passwordless account's get the same redirect as a known one.
    let response = browser.submit("/accounts/password_reset/", &[("email", "not-an-email")]);
    assert_eq!(response.status, 200);
    assert!(
        response.body.contains("Enter a valid email address."),
        "{}",
        response.body
    );
    ask_reset(&mut browser, "nobody@mysite.test");
    ask_reset(&mut browser, "keyless@mysite.test");
    let done = browser.get("/accounts/password_reset/done/");
    assert_eq!(done.status, 200);
    assert!(done.body.contains("if an account exists"), "{}", done.body);

    // A forged Host is refused before any view; a forwarded host is not
    // trusted (use_x_forwarded_host is off): the link names the real host.
    let forged = http(
        addr,
        "POST",
        "/accounts/password_reset/",
        &[
            ("Host", "evil.example"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "email=admin%40mysite.test",
    )
    .unwrap();
    assert_eq!(forged.status, 400, "{forged:?}");
    browser.headers = vec![("X-Forwarded-Host".into(), "evil.example".into())];

    // The known address, in other case: one mail (none for the unknown or
    // passwordless addresses, asked for first), to the stored address.
    let (link, mail) = reset_link(&mut browser, &smtp, "ADMIN@mysite.test");
    browser.headers.clear();
    assert_eq!(mail.recipients(), ["admin@mysite.test"]);
    assert_eq!(mail.header("To"), Some("admin@mysite.test"));
    assert_eq!(mail.header("From"), Some("accounts@mysite.test"));
    assert_eq!(
        mail.header("Subject"),
        Some(format!("Password reset on localhost:{}", addr.port()).as_str())
    );
    assert!(
        mail.body()
            .contains("Your username, in case you've forgotten: admin"),
        "{}",
        mail.body()
    );
    let path = path_of(&link, addr);
    assert!(path.starts_with("/accounts/reset/MQ/"), "{link}");
    assert!(!link.contains("evil"), "{link}");

    // The link: the token moves to the session, the form's URL hides it.
    let form_path = open_valid_link(&mut browser, &path);
    assert_eq!(form_path, "/accounts/reset/MQ/set-password/");
    let token = path.trim_end_matches('/').rsplit('/').next().unwrap();
    let form = browser.get(&form_path);
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Enter new password"), "{}", form.body);
    assert!(!form.body.contains(token), "the page holds the token");

    // Mismatched, weak or missing passwords: errors in the form, nothing set.
    let mismatch = browser.submit(
        &form_path,
        &[
            ("new_password1", NEW_PASSWORD),
            ("new_password2", "ochre-lantern-basin-8"),
        ],
    );
    assert_eq!(mismatch.status, 200);
    assert!(
        mismatch
            .body
            .contains("The two password fields didn’t match."),
        "{}",
        mismatch.body
    );
    let weak = browser.submit(
        &form_path,
        &[("new_password1", "12345"), ("new_password2", "12345")],
    );
    for said in [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ] {
        assert!(weak.body.contains(said), "{said}: {}", weak.body);
    }
    let empty = browser.submit(&form_path, &[("new_password1", ""), ("new_password2", "")]);
    assert_eq!(empty.body.matches("This field is required.").count(), 2);
    // last_login is kept to the second: this login must not share the
    // second of the one above for the token to see it.
    std::thread::sleep(Duration::from_millis(1100));
    assert!(logs_in(addr, FIRST_PASSWORD), "nothing changed yet");
    // That login changed last_login, which a token covers: a new link.
    let (link, _) = reset_link(&mut browser, &smtp, "admin@mysite.test");
    shows_invalid_link(&mut browser, &path);
    let path = path_of(&link, addr);
    let form_path = open_valid_link(&mut browser, &path);

    // The new password is set; the other sessions end.
    let response = browser.submit(
        &form_path,
        &[
            ("new_password1", NEW_PASSWORD),
            ("new_password2", NEW_PASSWORD),
        ],
    );
    assert_eq!(response.status, 302, "{response:?}");
    assert_eq!(response.header("location"), Some("/accounts/reset/done/"));
    let complete = browser.get("/accounts/reset/done/");
    assert!(
        complete.body.contains("Your password has been set.")
            && complete.body.contains("href=\"/accounts/login/\""),
        "{}",
        complete.body
    );
    assert_eq!(count(&example, admin_sessions), 0);
    assert!(elsewhere.get("/").body.contains("Log in"));
    assert!(logs_in(addr, NEW_PASSWORD));
    assert!(!logs_in(addr, FIRST_PASSWORD));

    // Used: the link, and its set-password page, are dead.
    shows_invalid_link(&mut browser, &path);
    shows_invalid_link(&mut browser, &form_path);
    shows_invalid_link(&mut visitor(addr), &form_path);
    shows_invalid_link(&mut browser, "/accounts/reset/MQ/not-a-token/");
    shows_invalid_link(&mut browser, "/accounts/reset/OTk5/1-abc/");

    // A link made before `changepassword` dies with the old password.
    let (link, _) = reset_link(&mut browser, &smtp, "admin@mysite.test");
    command(
        &example,
        &settings,
        &["changepassword", "admin", "--password-stdin"],
        "velvet-quarry-88",
    );
    shows_invalid_link(&mut browser, &path_of(&link, addr));
    // And one made before another reset dies with that reset.
    let (first, _) = reset_link(&mut browser, &smtp, "admin@mysite.test");
    // A token of the same second for the same user is the same token.
    std::thread::sleep(Duration::from_millis(1100));
    let (second, _) = reset_link(&mut browser, &smtp, "admin@mysite.test");
    assert_ne!(first, second);
    let form_path = open_valid_link(&mut browser, &path_of(&second, addr));
    let response = browser.submit(
        &form_path,
        &[
            ("new_password1", NEW_PASSWORD),
            ("new_password2", NEW_PASSWORD),
        ],
    );
    assert_eq!(response.status, 302, "{response:?}");
    shows_invalid_link(&mut visitor(addr), &path_of(&first, addr));
    drop(server);
}

#[test]
fn a_link_expires_after_password_reset_timeout() {
    if !require_aiosmtpd() {
        return;
    }
    let timeout = 8;
    let (example, smtp, settings) =
        site("expiry", &format!("password_reset_timeout = {timeout}\n"));
    let (_server, addr) = example.serve_with(&settings, "serve", "localhost");
    let mut browser = visitor(addr);
    let asked = Instant::now();
    let (link, _) = reset_link(&mut browser, &smtp, "admin@mysite.test");
    let path = path_of(&link, addr);
    let form_path = open_valid_link(&mut browser, &path);
    assert!(
        asked.elapsed() < Duration::from_secs(timeout),
        "too slow to see the link valid"
    );
    std::thread::sleep(Duration::from_secs(timeout + 2).saturating_sub(asked.elapsed()));
    shows_invalid_link(&mut browser, &form_path);
    shows_invalid_link(&mut browser, &path);

    // A timeout of 0 would kill every link: `check` refuses it.
    let zero = example.settings_extending(&settings, "zero", "password_reset_timeout = 0\n");
    let (output, stdout, stderr) = run(example.command_with(&zero).arg("check"));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let report = format!("{stdout}{stderr}");
    assert!(
        report.contains("(nuages.E048) password_reset_timeout is 0"),
        "{report}"
    );
}

/// A client posting the form for one address in a loop, against a mail
/// server that takes a second over each message (a real relay's pace),
/// makes one mail: its requests are merged into the first for
/// `password_reset_cooldown` (5 minutes); and another visitor's reset,
/// asked for meanwhile, is mailed.
#[test]
fn a_client_asking_again_and_again_never_stops_another_visitors_mail() {
    if !require_aiosmtpd() {
        return;
    }
    let slow = SmtpOptions {
        delay: Some(Duration::from_secs(1)),
        ..SmtpOptions::default()
    };
    let (example, smtp, settings) = site_mailing_to(slow, "flood", "");
    example.create_superuser(&settings, "jose", "jose@mysite.test", NEW_PASSWORD);
    let (_server, addr) = example.serve_with(&settings, "serve", "localhost");

    let mut flooder = visitor(addr);
    for _ in 0..30 {
        ask_reset(&mut flooder, "admin@mysite.test");
    }
    ask_reset(&mut visitor(addr), "jose@mysite.test");
    let to_jose = |mails: &[ReceivedMail]| {
        mails
            .iter()
            .filter(|mail| mail.recipients() == ["jose@mysite.test"])
            .count()
    };
    let mails = nuages_e2e::wait_for(Duration::from_secs(20), || {
        let mails = smtp.received();
        (to_jose(&mails) == 1).then_some(mails)
    })
    .unwrap_or_else(|| panic!("no mail to jose: {:#?}", smtp.received()));
    // Time for any other mail to admin to arrive.
    std::thread::sleep(Duration::from_secs(3));
    let to_admin = smtp.received().len() - to_jose(&mails);
    assert_eq!(
        to_admin, 1,
        "30 requests for admin's address: {to_admin} mails"
    );
}

/// Two `serve` processes whose cache is one Redis server share the
/// password reset cooldown, as they share the failed-login counts: a reset
/// asked of one, then of the other, for the same address makes one mail.
#[test]
fn serve_processes_sharing_redis_share_the_password_reset_cooldown() {
    if !require_aiosmtpd() || !nuages_e2e::require(nuages_e2e::redis::REDIS_SERVER) {
        return;
    }
    let redis = nuages_e2e::redis::RedisServer::start();
    let extra = format!(
        "[caches.default]\nbackend = \"redis\"\nlocation = \"{}\"\n",
        redis.url()
    );
    let (example, smtp, settings) = site("shared", &extra);
    example.create_superuser(&settings, "jose", "jose@mysite.test", NEW_PASSWORD);
    let (_one, first) = example.serve_with(&settings, "serve", "localhost");
    let (_two, second) = example.serve_with(&settings, "serve", "localhost");
    ask_reset(&mut visitor(first), "admin@mysite.test");
    smtp.wait_for_mail(1, Duration::from_secs(15));
    ask_reset(&mut visitor(second), "ADMIN@mysite.test");
    ask_reset(&mut visitor(second), "jose@mysite.test");
    smtp.wait_for_mail(2, Duration::from_secs(15));
    // Time for any other mail to arrive.
    std::thread::sleep(Duration::from_secs(2));
    let mails = smtp.received();
    let mut to: Vec<Vec<&str>> = mails.iter().map(|mail| mail.recipients()).collect();
    to.sort();
    assert_eq!(to, [["admin@mysite.test"], ["jose@mysite.test"]]);
}

/// Failed logins that locked the account out end with a reset through the
/// mailed link: the new password logs in at once.
#[test]
fn a_reset_password_logs_in_even_after_the_throttle_refused_the_old_one() {
    if !require_aiosmtpd() {
        return;
    }
    let (example, smtp, settings) = site("throttled", "login_throttle_username_limit = 3\n");
    let (_server, addr) = example.serve_with(&settings, "serve", "localhost");
    let attempt = |password: &str| {
        visitor(addr)
            .submit(
                "/accounts/login/",
                &[("username", "admin"), ("password", password), ("next", "")],
            )
            .status
    };
    let statuses: Vec<u16> = (0..4).map(|_| attempt("not-the-password")).collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    assert_eq!(attempt(FIRST_PASSWORD), 429, "the account is locked out");

    let mut browser = visitor(addr);
    let (link, _) = reset_link(&mut browser, &smtp, "admin@mysite.test");
    let form_path = open_valid_link(&mut browser, &path_of(&link, addr));
    let set = browser.submit(
        &form_path,
        &[
            ("new_password1", NEW_PASSWORD),
            ("new_password2", NEW_PASSWORD),
        ],
    );
    assert_eq!(set.status, 302, "{set:?}");
    assert_eq!(set.header("location"), Some("/accounts/reset/done/"));
    assert_eq!(attempt(NEW_PASSWORD), 302);
}
