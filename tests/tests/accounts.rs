//! Accounts over a real `serve` of the example on loopback, as a browser
//! sees them: a superuser made with `createsuperuser --noinput` logs in
//! (a new session key; the pre-login one is not logged in), a wrong
//! password gets the form again, an off-site `next` is ignored, a password
//! change keeps this session and ends the others, logout ends the session;
//! the failed-login throttle refuses a username past its limit (a right
//! password too, an unknown username alike) with counts shared by two
//! `serve` processes on one Redis, until its window ends; and the
//! per-address limit counts the connection's real peer, whatever
//! `X-Forwarded-For` a client sends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use nuages_e2e::redis::{REDIS_SERVER, RedisServer};
use nuages_e2e::{Example, HttpResponse, http, require};

const HOST: &str = "example.test";
const PASSWORD: &str = "plum-violin-orbit-42";
const INVALID_LOGIN: &str = "Please enter a correct username and password.";
const THROTTLED: &str = "Too many failed login attempts. Try again later.";

/// A browser: cookies kept between requests; POSTs carry the CSRF cookie's
/// value in `X-CSRFToken`, as a page's script would.
struct Browser {
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            cookies: BTreeMap::new(),
        }
    }

    fn session(&self) -> Option<&str> {
        self.cookies.get("sessionid").map(String::as_str)
    }

    fn send(
        &mut self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> HttpResponse {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let csrf = self.cookies.get("csrftoken").cloned().unwrap_or_default();
        let mut headers = vec![
            ("Host", HOST),
            ("Cookie", cookie.as_str()),
            ("X-CSRFToken", csrf.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        headers.extend_from_slice(extra);
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = http(addr, method, path, &headers, &body).unwrap();
        for (_, set) in response.headers.iter().filter(|(k, _)| k == "set-cookie") {
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let lower = set.to_ascii_lowercase();
            if value.is_empty() || lower.contains("max-age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        response
    }

    fn get(&mut self, addr: SocketAddr, path: &str) -> HttpResponse {
        self.send(addr, "GET", path, &[], &[])
    }

    /// POST `fields` to `path`, after a GET of the login page when the
    /// browser has no CSRF cookie yet.
    fn post(&mut self, addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        if !self.cookies.contains_key("csrftoken") {
            self.get(addr, "/accounts/login/");
        }
        self.send(addr, "POST", path, fields, &[])
    }

    fn log_in(&mut self, addr: SocketAddr, username: &str, password: &str) -> HttpResponse {
        self.post(
            addr,
            "/accounts/login/",
            &[("username", username), ("password", password)],
        )
    }

    /// Who the home page says is logged in.
    fn who(&mut self, addr: SocketAddr) -> Option<String> {
        let page = self.get(addr, "/");
        assert_eq!(page.status, 200, "{}", page.body);
        let at = page.body.find("Logged in as ")? + "Logged in as ".len();
        Some(page.body[at..].split('.').next().unwrap().to_string())
    }
}

/// `text` as a form value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The production settings of these tests (debug off, a strong key, the
/// test host), then `more`.
fn production_lines(more: &str) -> String {
    format!(
        "debug = false\n\
         secret_key = \"accounts-test-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0\"\n\
         allowed_hosts = [\"{HOST}\"]\n\
         {more}"
    )
}

/// A settings file for `serve` in production mode with `more` lines, and
/// the superuser `admin` created by `createsuperuser --noinput`.
fn production_site(example: &Example, more: &str) -> PathBuf {
    let path = example.dir.path().join("settings.accounts.toml");
    std::fs::write(
        &path,
        format!(
            "extends = {:?}\n{}",
            example.settings.display().to_string(),
            production_lines(&format!("session_engine = \"db\"\n{more}\n")),
        ),
    )
    .unwrap();
    // The sessions' table comes with session_engine = "db".
    let migrated = example.command_with(&path).arg("migrate").output().unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    example.create_superuser(&path, "admin", "admin@example.com", PASSWORD);
    path
}

#[test]
fn a_superuser_logs_in_changes_the_password_and_logs_out_over_serve() {
    let example = Example::new();
    // Four failures from one address, then refused: the peer counts, not
    // what the client says in X-Forwarded-For (no proxy is trusted).
    let settings = production_site(
        &example,
        "login_throttle_username_limit = 0\nlogin_throttle_address_limit = 4",
    );
    let (_serve, addr) = example.serve_with(&settings, "serve", HOST);
    let mut browser = Browser::new();

    // A session before the login: the vote's.
    browser.get(addr, "/accounts/login/");
    let vote = browser.post(addr, "/polls/1/vote/", &[("choice", "1")]);
    assert_eq!(vote.status, 302, "{}", vote.body);
    // (Its message is not shown yet, so the session stays.)
    let before = browser.session().expect("a pre-login session").to_string();

    let wrong = browser.log_in(addr, "admin", "not-the-password");
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains(INVALID_LOGIN), "{}", wrong.body);
    assert!(wrong.body.contains("name=\"password\""), "the form again");
    assert_eq!(browser.session(), Some(before.as_str()));
    // An empty password is required, not a wrong one (nor a failure counted).
    let empty = browser.log_in(addr, "admin", "");
    assert_eq!(empty.status, 200);
    assert!(
        empty.body.contains(
            "<ul class=\"errorlist\" id=\"id_password_error\"><li>This field is required.</li></ul>"
        ),
        "{}",
        empty.body
    );
    assert!(!empty.body.contains(INVALID_LOGIN), "{}", empty.body);

    let login = browser.post(
        addr,
        "/accounts/login/",
        &[
            ("username", "admin"),
            ("password", PASSWORD),
            ("next", "https://evil.example/steal"),
        ],
    );
    assert_eq!(login.status, 302, "{}", login.body);
    assert_eq!(login.header("location"), Some("/"), "off-site next ignored");
    let after = browser.session().unwrap().to_string();
    assert_ne!(after, before, "a new session key at login");
    assert_eq!(browser.who(addr).as_deref(), Some("admin"));
    let mut old_copy = Browser::new();
    old_copy.cookies.insert("sessionid".into(), before);
    assert_eq!(
        old_copy.who(addr),
        None,
        "the pre-login key is not logged in"
    );

    let same_site = browser.post(
        addr,
        "/accounts/login/",
        &[
            ("username", "admin"),
            ("password", PASSWORD),
            ("next", "/polls/1/results/"),
        ],
    );
    assert_eq!(same_site.header("location"), Some("/polls/1/results/"));

    // Another browser of the same user, then a password change in the first.
    let mut other = Browser::new();
    assert_eq!(other.log_in(addr, "admin", PASSWORD).status, 302);
    assert_eq!(other.who(addr).as_deref(), Some("admin"));
    let form = browser.get(addr, "/accounts/password_change/");
    assert_eq!(form.status, 200);
    assert!(form.body.contains("name=\"old_password\""));
    let weak = browser.post(
        addr,
        "/accounts/password_change/",
        &[
            ("old_password", PASSWORD),
            ("new_password1", "admin123"),
            ("new_password2", "admin123"),
        ],
    );
    assert_eq!(weak.status, 200);
    assert!(
        weak.body.contains("This password is too common."),
        "{}",
        weak.body
    );
    let new_password = "quartz-lantern-meadow-7";
    let changed = browser.post(
        addr,
        "/accounts/password_change/",
        &[
            ("old_password", PASSWORD),
            ("new_password1", new_password),
            ("new_password2", new_password),
        ],
    );
    assert_eq!(changed.status, 302, "{}", changed.body);
    assert_eq!(
        changed.header("location"),
        Some("/accounts/password_change/done/")
    );
    let done = browser.get(addr, "/accounts/password_change/done/");
    assert_eq!(done.status, 200);
    assert!(done.body.contains("Password change successful"));
    assert_eq!(
        browser.who(addr).as_deref(),
        Some("admin"),
        "still logged in"
    );
    assert_eq!(other.who(addr), None, "the other session ended");
    let mut fresh = Browser::new();
    let old = fresh.log_in(addr, "admin", PASSWORD);
    assert!(old.body.contains(INVALID_LOGIN), "the old password fails");
    assert_eq!(fresh.log_in(addr, "admin", new_password).status, 302);
    assert_eq!(fresh.who(addr).as_deref(), Some("admin"));

    // Logout is a POST; the session is then anonymous.
    let logout = browser.post(addr, "/accounts/logout/", &[]);
    assert_eq!(logout.status, 302);
    assert_eq!(browser.who(addr), None);

    // Two failures so far from 127.0.0.1; two more claiming other addresses.
    let mut spoofer = Browser::new();
    spoofer.get(addr, "/accounts/login/");
    for (username, claimed) in [("ann", "203.0.113.1"), ("bob", "203.0.113.2")] {
        let response = spoofer.send(
            addr,
            "POST",
            "/accounts/login/",
            &[("username", username), ("password", "x")],
            &[("X-Forwarded-For", claimed)],
        );
        assert!(response.body.contains(INVALID_LOGIN), "{}", response.body);
    }
    let refused = fresh.log_in(addr, "admin", new_password);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains(THROTTLED));
}

/// A Redis cache that does not answer as it should does not stop `serve`
/// (a cache outage must not take the site down), and the failed-login
/// throttle counting in it is then off: 25 wrong passwords all got 200
/// while `serve` said nothing. It now logs at start one error per such
/// cache, naming its location, what failed and the fix.
#[test]
fn serve_names_each_redis_cache_that_does_not_answer_at_start() {
    if !require(REDIS_SERVER) {
        return;
    }
    let redis = RedisServer::start_with(&["--requirepass", "s3cret"]);
    let socket = redis.url();
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // Its certificate signed by an authority the system does not trust.
    let tls = RedisServer::start_tls();
    let caches = [
        ("tls", tls.url()),
        ("default", socket.clone()),
        ("wrongpass", format!("{socket}?pass=wrong")),
        ("baddb", format!("{socket}?pass=s3cret&db=99")),
        (
            "refused",
            format!("redis://127.0.0.1:{}/0", nuages_e2e::free_port()),
        ),
        ("hung", format!("redis://{}/0", hung.local_addr().unwrap())),
        ("good", format!("{socket}?pass=s3cret")),
    ];
    let tables: String = caches
        .iter()
        .map(|(alias, location)| {
            format!("[caches.{alias}]\nbackend = \"redis\"\nlocation = {location:?}\n")
        })
        .collect();
    let example = Example::new();
    let settings = production_site(&example, &tables);
    let (serve, addr) = example.serve_with(&settings, "serve", HOST);
    let output = serve.output();
    for (alias, what) in [
        (
            "default",
            "the server wants a password and the URL gives none (NOAUTH)",
        ),
        (
            "wrongpass",
            "the server refuses the URL's password (WRONGPASS)",
        ),
        ("baddb", "(DB index is out of range)"),
        ("refused", "nothing listens there (connection refused)"),
        ("hung", "no answer within 1 s (timed out)"),
        ("tls", "the TLS connection failed"),
    ] {
        let line = output
            .lines()
            .find(|line| line.contains(&format!("(caches.{alias}.location) does not answer")))
            .unwrap_or_else(|| panic!("no line for {alias}: {output}"));
        assert!(line.contains("ERROR"), "{line}");
        // On a loaded machine (the other tests of this file hash passwords
        // on every core) the TLS handshake can outlast the 1 s a ping is
        // given: then the line says so, and names TLS as a cause.
        let slow_handshake = alias == "tls"
            && line.contains("no answer within 1 s (timed out)")
            && line.contains("does not speak TLS on that port");
        assert!(line.contains(what) || slow_handshake, "{alias}: {line}");
        assert!(line.contains("Fix: "), "{line}");
        assert!(!line.contains("s3cret"), "never the password: {line}");
    }
    assert!(
        !output.contains("(caches.good.location) does not answer"),
        "{output}"
    );
    let default = output
        .lines()
        .find(|l| l.contains("caches.default."))
        .unwrap();
    assert!(
        default.contains("the failed-login throttle counts nothing (it is off)"),
        "{default}"
    );
    // The site runs, its throttle off: fail-open, as README says.
    let mut browser = Browser::new();
    for _ in 0..6 {
        assert_eq!(browser.log_in(addr, "admin", "wrong").status, 200);
    }
    assert_eq!(browser.log_in(addr, "admin", PASSWORD).status, 302);
}

/// `session_engine = "db"` on a database without the sessions migration:
/// logins "succeeded" (302) and never stuck, while `serve` said nothing
/// (a warning per request: no such table: nuages_session). `serve` now
/// names the unapplied migration and `manage migrate` at start, and a
/// login whose session cannot be saved is a plain 500, not a redirect
/// that looks like success.
#[test]
fn serve_names_the_missing_sessions_migration_and_a_login_that_cannot_stick_is_a_500() {
    let example = Example::new();
    example.create_superuser(&example.settings, "admin", "admin@example.com", PASSWORD);
    let settings = example.settings_extending(
        &example.settings,
        "unmigrated",
        &production_lines("session_engine = \"db\"\n"),
    );
    let (serve, addr) = example.serve_with(&settings, "serve", HOST);
    let output = serve.output();
    let notice = output
        .lines()
        .find(|line| line.contains("unapplied migration"))
        .unwrap_or_else(|| panic!("no notice: {output}"));
    assert!(notice.contains("ERROR"), "{notice}");
    assert!(
        notice.contains("You have 1 unapplied migration(s)")
            && notice.contains("app(s): sessions."),
        "{notice}"
    );
    assert!(
        output.contains("Run 'manage migrate' to apply them."),
        "{output}"
    );

    let mut browser = Browser::new();
    let response = browser.log_in(addr, "admin", PASSWORD);
    assert_eq!(response.status, 500, "{}", response.body);
    assert!(
        !response.body.contains("nuages_session"),
        "{}",
        response.body
    );
    assert!(response.header("location").is_none());
    assert_eq!(browser.who(addr), None);
}

/// A login while the session store has stopped answering (its Redis
/// paused, with a session cookie from before) cannot keep its session: a
/// 500, not a 302 that looks like success, and the visitor's cookie left
/// as it was. (The login ends the unreadable session and makes a new one,
/// whose creation fails.)
#[test]
fn a_login_whose_session_cannot_be_read_is_an_error_not_a_success() {
    if !require(REDIS_SERVER) {
        return;
    }
    let redis = RedisServer::start();
    let example = Example::new();
    example.create_superuser(&example.settings, "admin", "admin@example.com", PASSWORD);
    let settings = example.settings_extending(
        &example.settings,
        "redis-sessions",
        &production_lines(&format!(
            "session_engine = \"cache\"\n\
             [caches.default]\n\
             backend = \"redis\"\n\
             location = {:?}\n",
            redis.url()
        )),
    );
    let (_serve, addr) = example.serve_with(&settings, "serve", HOST);
    let mut browser = Browser::new();
    assert_eq!(browser.log_in(addr, "admin", PASSWORD).status, 302);
    let session = browser
        .cookies
        .get("sessionid")
        .cloned()
        .expect("a session");
    redis.pause(true);
    let response = browser.log_in(addr, "admin", PASSWORD);
    redis.pause(false);
    assert_eq!(response.status, 500, "{}", response.body);
    assert!(response.header("location").is_none());
    assert_eq!(browser.cookies.get("sessionid"), Some(&session));
}

#[test]
fn the_throttle_counts_across_two_serve_processes_on_one_redis() {
    if !require(REDIS_SERVER) {
        return;
    }
    let redis = RedisServer::start();
    let example = Example::new();
    let settings = production_site(
        &example,
        &format!(
            "login_throttle_username_limit = 3\n\
             login_throttle_address_limit = 0\n\
             login_throttle_window = 3\n\
             [caches.default]\n\
             backend = \"redis\"\n\
             location = {:?}",
            redis.url()
        ),
    );
    let (_serve_a, a) = example.serve_with(&settings, "serve-a", HOST);
    let (_serve_b, b) = example.serve_with(&settings, "serve-b", HOST);
    let mut browser = Browser::new();

    // Three failures, on one process then the other; then the right password.
    for (addr, password) in [(a, "wrong-1"), (b, "wrong-2"), (a, "wrong-3")] {
        let response = browser.log_in(addr, "admin", password);
        assert_eq!(response.status, 200);
        assert!(response.body.contains(INVALID_LOGIN), "{}", response.body);
    }
    let keys = redis.cli(&["KEYS", "nuages:login-failures:*"]);
    assert!(
        keys.starts_with("nuages:login-failures:username:") && !keys.contains("admin"),
        "one count, under a hash of the name: {keys}"
    );
    let refused = browser.log_in(b, "admin", PASSWORD);
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(refused.body.contains(THROTTLED), "{}", refused.body);
    assert!(!refused.body.contains(INVALID_LOGIN));
    assert_eq!(browser.who(b), None);

    // A username nobody has: the same answer, the same way.
    for addr in [b, a, b] {
        browser.log_in(addr, "nobody", "wrong");
    }
    let unknown = browser.log_in(a, "nobody", PASSWORD);
    assert_eq!(unknown.status, 429);
    let page = |response: &HttpResponse, name: &str| {
        let text = response.body.replace(name, "?");
        let at = text.find("csrfmiddlewaretoken\" value=\"").unwrap();
        (text[..at].to_string(), text[at + 100..].to_string())
    };
    assert_eq!(page(&unknown, "nobody"), page(&refused, "admin"));

    // Once the window has passed, the right password logs in.
    std::thread::sleep(Duration::from_millis(3200));
    let allowed = browser.log_in(a, "admin", PASSWORD);
    assert_eq!(allowed.status, 302, "{}", allowed.body);
    assert_eq!(browser.who(b).as_deref(), Some("admin"));
}
