//! Passwords: hashers and validators the application can build, and
//! failed-login throttle settings it accepts (every `check`); for
//! deployment, a first hasher strong enough to store new passwords and
//! login/logout URL settings that lead somewhere (`check --deploy`).

use super::startup::refused;
use super::{Check, CheckContext, CheckMessage};
use crate::auth::hashers::{PBKDF2_MIN_ITERATIONS, argon2_meets_owasp};
use crate::auth::{Hasher, PasswordHashers, PasswordValidators};

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "password_settings",
            tags: &["settings", "auth"],
            deploy: false,
            run: check_password_settings,
        },
        Check {
            name: "password_hasher_strength",
            tags: &["auth"],
            deploy: true,
            run: check_password_hasher_strength,
        },
        Check {
            name: "login_throttle_settings",
            tags: &["settings", "auth"],
            deploy: false,
            run: check_login_throttle_settings,
        },
        Check {
            name: "login_throttle_sees_clients",
            tags: &["auth", "security"],
            deploy: true,
            run: check_login_throttle_sees_clients,
        },
        Check {
            name: "login_urls_resolve",
            tags: &["auth", "urls"],
            deploy: true,
            run: check_login_urls_resolve,
        },
    ]
}

/// `nuages.E047`: the failed-login throttle's settings (its cache alias,
/// window) or `trusted_proxies` are unusable; the application refuses to
/// start with the same message.
pub fn check_login_throttle_settings(ctx: &CheckContext) -> Vec<CheckMessage> {
    crate::auth::throttle::validate(ctx.settings)
        .err()
        .map(|error| refused("nuages.E047", error))
        .into_iter()
        .collect()
}

/// `nuages.W036`: the failed-login throttle would see the web server, not
/// the clients. Either `serve_bind` is a TCP address other machines reach
/// (a web server elsewhere: "Scaling out") while `trusted_proxies` names
/// only this machine; or it is a loopback address, which only a web server
/// on this machine reaches, while `trusted_proxies` does not name the
/// address that web server connects from (127.0.0.1 to an IPv4 bind, ::1
/// to `[::1]`). Every client then has the web server's address, so the
/// throttle counts them all as one and, after
/// `login_throttle_address_limit` failures from anybody, refuses every
/// login. A `serve_bind` that does not parse is `nuages.E052`'s.
pub fn check_login_throttle_sees_clients(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    if settings.login_throttle_address_limit == 0 {
        return vec![];
    }
    let listen = ctx.listen();
    let bind = match crate::server::parse_bind(listen.value, &settings.base_dir) {
        Ok(crate::server::Bind::Tcp(bind)) => bind,
        Ok(crate::server::Bind::Unix(_)) => return unix_socket_peers_unknown(settings, listen),
        Err(_) => return vec![],
    };
    let limit = settings.login_throttle_address_limit;
    let consequence = format!(
        "every client has that server's address, so the failed-login throttle counts them all as \
         one client and refuses every login after login_throttle_address_limit ({limit}) \
         failures from anybody"
    );
    let bind_ip = bind.ip().to_canonical();
    if bind_ip.is_loopback() {
        // The web server connects from the loopback address of the
        // family it connects to: 127.0.0.1 to an IPv4 one, ::1 to ::1.
        let peer = match bind_ip {
            std::net::IpAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            std::net::IpAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        };
        if trusted_addresses(settings).any(|address| address == peer) {
            return vec![];
        }
        return vec![CheckMessage::warning(
            "nuages.W036",
            format!(
                "{listen} is reached only by a web server on this machine, which connects \
                 from {peer}, and trusted_proxies does not name it: behind that web server \
                 {consequence}"
            ),
            "trust the web server on this machine, whose X-Forwarded-For names the client: \
             trusted_proxies = [\"127.0.0.1\", \"::1\"], as a generated project's \
             settings.production.toml has it",
        )];
    }
    if trusted_addresses(settings).any(|address| !address.is_loopback()) {
        return vec![];
    }
    vec![CheckMessage::warning(
        "nuages.W036",
        format!(
            "{listen} is reached from other machines, and trusted_proxies names none \
             of them: behind a web server on another machine {consequence}"
        ),
        "add the web server's address to trusted_proxies (e.g. trusted_proxies = \
         [\"10.0.0.10\"]); with the web server on this machine, bind serve to 127.0.0.1:PORT or \
         a unix socket",
    )]
}

/// The IP addresses `trusted_proxies` names (IPv4 mapped into IPv6 as
/// IPv4), its other entries left out.
fn trusted_addresses(
    settings: &crate::conf::Settings,
) -> impl Iterator<Item = std::net::IpAddr> + '_ {
    settings
        .trusted_proxies
        .iter()
        .filter_map(|entry| entry.trim().parse::<std::net::IpAddr>().ok())
        .map(|address| address.to_canonical())
}

/// `nuages.W036` for a unix socket: its peer has no address, so without
/// `"unix"` in `trusted_proxies` (which lets the web server's
/// `X-Forwarded-For` name the client) no client has one either, and the
/// throttle cannot count failed logins by address at all.
fn unix_socket_peers_unknown(
    settings: &crate::conf::Settings,
    listen: crate::checks::Listen,
) -> Vec<CheckMessage> {
    let trusted = settings
        .trusted_proxies
        .iter()
        .any(|entry| entry == crate::client_address::UNIX_PEER);
    if trusted {
        return vec![];
    }
    vec![CheckMessage::warning(
        "nuages.W036",
        format!(
            "{listen} is a unix socket, and trusted_proxies does not name \"unix\": \
             a client on the socket has no address, so the failed-login throttle cannot count \
             failures by address (login_throttle_address_limit = {} does nothing) and only the \
             per-username limit holds",
            settings.login_throttle_address_limit
        ),
        "trust the web server on the socket, whose X-Forwarded-For names the client: add \
         \"unix\" to trusted_proxies, as a generated project's settings.production.toml has it",
    )]
}

/// `nuages.E046`: `login_url` names no route or is a path no route
/// matches (every required login would end on a 404 or a 500), or
/// `login_redirect_url` / `logout_redirect_url` names no route (the login
/// or logout would answer 500). The redirect settings' paths are not
/// judged: `"/"`, their default, may be served by the web server or
/// another application, as may any path; nor is an absolute URL (another
/// site, e.g. a single sign-on server), nor an empty `logout_redirect_url`
/// (which shows `registration/logged_out.html`). `nuages.W030` instead of
/// E046 when `login_url` is the default and the site has no login page.
pub fn check_login_urls_resolve(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Ok(resolver) = ctx.project.urlconf().resolver() else {
        // A broken URL configuration is reported by its own check.
        return vec![];
    };
    let settings = ctx.settings;
    [
        ("login_url", &settings.login_url),
        ("login_redirect_url", &settings.login_redirect_url),
        ("logout_redirect_url", &settings.logout_redirect_url),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        let problem = if value.is_empty() {
            if key == "logout_redirect_url" {
                return None;
            }
            "is empty"
        } else if value.contains("://") {
            return None;
        } else if value.contains('/') {
            if key != "login_url" {
                return None;
            }
            let path = value.split(['?', '#']).next().unwrap_or_default();
            if resolver.resolve(path).is_some() {
                return None;
            }
            "is a path no route matches"
        } else {
            if resolver.reverse(value, &[]).is_ok() {
                return None;
            }
            "is not the name of a route"
        };
        // The default left in place by a site without accounts is only a
        // warning: that site may require no login at all. A value someone
        // wrote that leads nowhere is a mistake.
        if key == "login_url" && *value == crate::conf::Settings::default().login_url {
            return Some(CheckMessage::warning(
                "nuages.W030",
                format!(
                    "login_url is the default \"{value}\", and no route matches it: a view that \
                     requires a login would send visitors to a page that does not exist"
                ),
                "include nuages::auth::urls() under \"accounts/\" in the project's urls, or set \
                 login_url to your own login page; a site where no view requires a login may \
                 silence nuages.W030",
            ));
        }
        Some(CheckMessage::error(
            "nuages.E046",
            format!("{key} = \"{value}\" {problem}: visitors sent there would find nothing"),
            format!(
                "set {key} to a path your URLs serve (e.g. \"/accounts/login/\") or a route name \
                 (e.g. \"login\"), and include nuages::auth::urls() under \"accounts/\" in the \
                 project's urls"
            ),
        ))
    })
    .collect()
}

/// `nuages.E040`: `password_hashers` empty, naming an unknown hasher, or
/// with Argon2 parameters Argon2 refuses; `nuages.E044`:
/// `auth_password_validators` naming an unknown validator; `nuages.E048`:
/// a `password_reset_timeout` of 0. The application refuses to start with
/// any of them, with the same message.
pub fn check_password_settings(ctx: &CheckContext) -> Vec<CheckMessage> {
    let hashers = PasswordHashers::from_settings(ctx.settings)
        .err()
        .map(|error| refused("nuages.E040", error));
    let validators = PasswordValidators::from_settings(ctx.settings)
        .err()
        .map(|error| refused("nuages.E044", error));
    let reset_timeout = crate::auth::password_reset::check_timeout(ctx.settings)
        .err()
        .map(|error| refused("nuages.E048", error));
    hashers
        .into_iter()
        .chain(validators)
        .chain(reset_timeout)
        .collect()
}

/// `nuages.E041`: the first hasher is `md5`; `nuages.E042`: it is `argon2`
/// with less than OWASP's minimum cost; `nuages.E043`: it is
/// `pbkdf2_sha256` with fewer rounds than Django's.
pub fn check_password_hasher_strength(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    let Some(first) = settings.password_hashers.first() else {
        return vec![];
    };
    let message = match Hasher::named(first, settings) {
        Some(Hasher::Md5) => CheckMessage::error(
            "nuages.E041",
            "password_hashers starts with \"md5\": new passwords would be stored as salted MD5, \
             which a stolen database gives up in seconds",
            "put \"argon2\" first: password_hashers = [\"argon2\", \"pbkdf2_sha256\"] (the default); \
             keep \"md5\" after it only while old MD5 hashes remain to be upgraded",
        ),
        Some(Hasher::Argon2 {
            memory_cost,
            time_cost,
            ..
        }) if !argon2_meets_owasp(memory_cost, time_cost) => CheckMessage::error(
            "nuages.E042",
            format!(
                "argon2_memory_cost = {memory_cost} with argon2_time_cost = {time_cost} is weaker \
                 than OWASP's minimum for Argon2id (KiB of memory for passes: 47104 for 1, \
                 19456 for 2, 12288 for 3, 9216 for 4, 7168 for 5)"
            ),
            "remove argon2_memory_cost and argon2_time_cost to use the defaults (19456 and 2), \
             or raise them to at least one of OWASP's pairs",
        ),
        Some(Hasher::Pbkdf2Sha256 { iterations }) if iterations < PBKDF2_MIN_ITERATIONS => {
            CheckMessage::error(
                "nuages.E043",
                format!(
                    "pbkdf2_iterations = {iterations} is below Django's {PBKDF2_MIN_ITERATIONS} \
                     while \"pbkdf2_sha256\" hashes new passwords"
                ),
                format!(
                    "remove pbkdf2_iterations (the default is {PBKDF2_MIN_ITERATIONS}), or put \
                     \"argon2\" first in password_hashers"
                ),
            )
        }
        _ => return vec![],
    };
    vec![message]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::conf::Settings;

    fn run(settings: &Settings, deploy: bool) -> Vec<CheckMessage> {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let ctx = CheckContext::new(settings, &project).with_deploy(deploy);
        let mut messages = check_password_settings(&ctx);
        if deploy {
            messages.extend(check_password_hasher_strength(&ctx));
        }
        messages
    }

    #[test]
    fn the_defaults_pass() {
        assert!(run(&Settings::default(), true).is_empty());
    }

    #[test]
    fn unknown_names_are_errors_with_the_closest_name() {
        let settings = Settings {
            password_hashers: vec!["argon".into()],
            auth_password_validators: vec!["comon".into()],
            ..Settings::default()
        };
        let messages = run(&settings, false);
        assert_eq!(ids(&messages), ["nuages.E040", "nuages.E044"]);
        assert_eq!(
            messages[0].message,
            "password_hashers names an unknown hasher \"argon\""
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean \"argon2\"?")
        );
        assert!(
            messages[1]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean \"common\"?")
        );
    }

    #[test]
    fn a_zero_password_reset_timeout_is_an_error() {
        let settings = Settings {
            password_reset_timeout: 0,
            ..Settings::default()
        };
        let messages = run(&settings, false);
        assert_eq!(ids(&messages), ["nuages.E048"]);
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("259200 seconds"),
            "{messages:?}"
        );
    }

    #[test]
    fn weak_first_hashers_are_deploy_errors() {
        let md5_first = Settings {
            password_hashers: vec!["md5".into(), "argon2".into()],
            ..Settings::default()
        };
        assert!(run(&md5_first, false).is_empty(), "tests may use md5");
        let messages = run(&md5_first, true);
        assert_eq!(ids(&messages), ["nuages.E041"]);
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("put \"argon2\" first")
        );

        let md5_second = Settings {
            password_hashers: vec!["argon2".into(), "md5".into()],
            ..Settings::default()
        };
        assert!(
            run(&md5_second, true).is_empty(),
            "md5 may verify old hashes"
        );

        let weak_argon2 = Settings {
            argon2_memory_cost: 4096,
            ..Settings::default()
        };
        assert_eq!(ids(&run(&weak_argon2, true)), ["nuages.E042"]);
        // Each of OWASP's equally strong pairs passes; less of either fails.
        let passes_and_fails: [((u32, u32), &[&str]); 12] = [
            ((47_104, 1), &[]),
            ((19_456, 2), &[]),
            ((12_288, 3), &[]),
            ((9_216, 4), &[]),
            ((7_168, 5), &[]),
            ((7_168, 9), &[]),
            ((47_103, 1), &["nuages.E042"]),
            ((40_000, 1), &["nuages.E042"]),
            ((19_455, 2), &["nuages.E042"]),
            ((12_288, 2), &["nuages.E042"]),
            ((9_215, 4), &["nuages.E042"]),
            ((7_167, 9), &["nuages.E042"]),
        ];
        for ((memory, passes), expected) in passes_and_fails {
            let settings = Settings {
                argon2_memory_cost: memory,
                argon2_time_cost: passes,
                ..Settings::default()
            };
            assert_eq!(
                ids(&run(&settings, true)),
                expected,
                "{memory} KiB, {passes} passes"
            );
        }

        let few_rounds = Settings {
            password_hashers: vec!["pbkdf2_sha256".into()],
            pbkdf2_iterations: 600_000,
            ..Settings::default()
        };
        let messages = run(&few_rounds, true);
        assert_eq!(ids(&messages), ["nuages.E043"]);
        assert!(
            messages[0]
                .message
                .starts_with("pbkdf2_iterations = 600000 is below Django's 1000000")
        );
        let few_rounds_second = Settings {
            pbkdf2_iterations: 600_000,
            ..Settings::default()
        };
        assert!(
            run(&few_rounds_second, true).is_empty(),
            "only the first hashes new passwords"
        );
    }
}

#[cfg(test)]
mod url_and_throttle_tests {
    use super::super::test_support::*;
    use super::*;
    use crate::conf::Settings;
    use crate::urls::{UrlConf, get};

    fn accounts() -> UrlConf {
        UrlConf::new()
            .path("", get(|| async { "home" }), "home")
            .include("accounts/", crate::auth::urls())
    }

    fn login_urls(settings: &Settings) -> Vec<CheckMessage> {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path()).urls(accounts);
        check_login_urls_resolve(&CheckContext::new(settings, &project).with_deploy(true))
    }

    #[test]
    fn login_urls_must_lead_to_a_route() {
        assert!(login_urls(&Settings::default()).is_empty(), "the defaults");
        let dir = tempfile::tempdir().unwrap();
        let without_accounts = project_in(dir.path())
            .urls(|| UrlConf::new().path("", get(|| async { "home" }), "home"));
        let settings = Settings::default();
        let messages = check_login_urls_resolve(
            &CheckContext::new(&settings, &without_accounts).with_deploy(true),
        );
        assert_eq!(ids(&messages), ["nuages.W030"], "a site without accounts");
        let by_name = Settings {
            login_url: "login".into(),
            login_redirect_url: "/?from=login".into(),
            logout_redirect_url: String::new(),
            ..Settings::default()
        };
        assert!(login_urls(&by_name).is_empty());
        let sso = Settings {
            login_url: "https://sso.example.com/login".into(),
            ..Settings::default()
        };
        assert!(login_urls(&sso).is_empty(), "another site is not judged");

        let elsewhere = Settings {
            login_redirect_url: "/served/by/nginx/".into(),
            ..Settings::default()
        };
        assert!(
            login_urls(&elsewhere).is_empty(),
            "a redirect path is not judged"
        );

        let wrong = Settings {
            login_url: "/account/login/".into(),
            login_redirect_url: "profile".into(),
            logout_redirect_url: "goodbye".into(),
            ..Settings::default()
        };
        let messages = login_urls(&wrong);
        assert_eq!(ids(&messages), ["nuages.E046"; 3]);
        assert_eq!(
            messages[0].message,
            "login_url = \"/account/login/\" is a path no route matches: visitors sent there \
             would find nothing"
        );
        assert!(messages[1].message.contains("is not the name of a route"));
        assert!(messages[2].message.starts_with("logout_redirect_url"));
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("set login_url to a path")
        );
    }

    /// Scaling out: serve on a private address behind an nginx elsewhere,
    /// with the generated `trusted_proxies` (this machine only).
    #[test]
    fn a_serve_reached_from_elsewhere_needs_that_proxy_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let run = |settings: &Settings| {
            check_login_throttle_sees_clients(&CheckContext::new(settings, &project))
        };
        let mut settings = Settings {
            serve_bind: "10.0.0.11:8000".into(),
            trusted_proxies: vec!["127.0.0.1".into(), "::1".into(), "unix".into()],
            ..Settings::default()
        };
        let messages = run(&settings);
        assert_eq!(ids(&messages), ["nuages.W036"]);
        assert_warning_says(
            &messages[0],
            "serve_bind = \"10.0.0.11:8000\" is reached from other machines",
            "after login_throttle_address_limit (20) failures from anybody",
            "trusted_proxies = [\"10.0.0.10\"]",
        );
        settings.serve_bind = "0.0.0.0:8000".into();
        assert_eq!(ids(&run(&settings)), ["nuages.W036"]);
        settings.trusted_proxies.push("10.0.0.10".into());
        assert!(run(&settings).is_empty(), "the web server is trusted");
        settings.trusted_proxies = vec!["127.0.0.1".into()];
        settings.serve_bind = "127.0.0.1:8000".into();
        assert!(run(&settings).is_empty(), "nginx on this machine, trusted");
        settings.trusted_proxies = vec!["unix".into()];
        settings.serve_bind = "unix:/run/site/site.sock".into();
        assert!(run(&settings).is_empty(), "nginx on the socket, trusted");
        settings.trusted_proxies.clear();
        settings.serve_bind = "10.0.0.11:8000".into();
        settings.login_throttle_address_limit = 0;
        assert!(
            run(&settings).is_empty(),
            "no address limit, nothing to lock"
        );
    }

    /// `message` starts with `starts`, ends with `ends`, and its hint holds `hint`.
    fn assert_warning_says(message: &CheckMessage, starts: &str, ends: &str, hint: &str) {
        let text = &message.message;
        assert!(text.starts_with(starts) && text.ends_with(ends), "{text}");
        let given = message.hint.as_deref().unwrap_or_default();
        assert!(given.contains(hint), "{given}");
    }

    /// nginx on this machine and `trusted_proxies` left empty (its
    /// default): every client is 127.0.0.1 to the throttle, and twenty
    /// failed logins from anybody locked everyone out.
    #[test]
    fn a_serve_on_loopback_needs_the_local_web_server_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let run = |settings: &Settings| {
            check_login_throttle_sees_clients(&CheckContext::new(settings, &project))
        };
        let mut settings = Settings::default();
        assert_eq!(settings.serve_bind, "127.0.0.1:8000");
        let messages = run(&settings);
        assert_eq!(ids(&messages), ["nuages.W036"]);
        assert_warning_says(
            &messages[0],
            "serve_bind = \"127.0.0.1:8000\" is reached only by a web server on this \
                 machine, which connects from 127.0.0.1, and trusted_proxies does not name it",
            "after login_throttle_address_limit (20) failures from anybody",
            "trusted_proxies = [\"127.0.0.1\", \"::1\"]",
        );
        settings.serve_bind = "[::1]:8000".into();
        assert_eq!(ids(&run(&settings)), ["nuages.W036"]);
        settings.trusted_proxies = vec!["10.0.0.10".into(), "unix".into()];
        assert_eq!(ids(&run(&settings)), ["nuages.W036"], "none on loopback");
        settings.trusted_proxies.push("::1".into());
        assert!(run(&settings).is_empty());
        // A loopback address of the other family: the web server's
        // connections do not come from it.
        settings.serve_bind = "127.0.0.1:8000".into();
        assert_eq!(ids(&run(&settings)), ["nuages.W036"], "::1 for 127.0.0.1");
        settings.trusted_proxies = vec!["127.0.0.1".into()];
        assert!(run(&settings).is_empty());
        settings.serve_bind = "[::1]:8000".into();
        assert_eq!(ids(&run(&settings)), ["nuages.W036"], "127.0.0.1 for ::1");
        // A web server connecting to 127.0.0.2 comes from 127.0.0.1.
        settings.serve_bind = "127.0.0.2:8000".into();
        settings.trusted_proxies = vec!["127.0.0.2".into()];
        assert_eq!(ids(&run(&settings)), ["nuages.W036"], "127.0.0.2 trusted");
        settings.trusted_proxies.clear();
        settings.login_throttle_address_limit = 0;
        assert!(run(&settings).is_empty(), "no address limit");
    }

    /// A unix socket's peer has no address: without `"unix"` trusted, the
    /// address limit counts nobody, and nothing said so.
    #[test]
    fn a_serve_on_a_unix_socket_needs_the_socket_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let run = |settings: &Settings| {
            check_login_throttle_sees_clients(&CheckContext::new(settings, &project))
        };
        let mut settings = Settings {
            serve_bind: "unix:/run/site/site.sock".into(),
            trusted_proxies: vec!["127.0.0.1".into(), "::1".into()],
            ..Settings::default()
        };
        let messages = run(&settings);
        assert_eq!(ids(&messages), ["nuages.W036"]);
        assert_warning_says(
            &messages[0],
            "serve_bind = \"unix:/run/site/site.sock\" is a unix socket, and trusted_proxies does \
             not name \"unix\"",
            "(login_throttle_address_limit = 20 does nothing) and only the per-username limit holds",
            "add \"unix\" to trusted_proxies",
        );
        settings.trusted_proxies.push("unix".into());
        assert!(run(&settings).is_empty());
        settings.trusted_proxies.clear();
        settings.login_throttle_address_limit = 0;
        assert!(run(&settings).is_empty(), "no address limit");
    }

    #[test]
    fn throttle_settings_are_refused_as_the_application_refuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let settings = Settings {
            login_throttle_cache_alias: "throttle".into(),
            ..Settings::default()
        };
        let messages = check_login_throttle_settings(&CheckContext::new(&settings, &project));
        assert_eq!(ids(&messages), ["nuages.E047"]);
        let refused = crate::auth::throttle::validate(&settings).unwrap_err();
        assert_eq!(messages[0].message, refused.to_string());
        let proxies = Settings {
            trusted_proxies: vec!["nginx".into()],
            ..Settings::default()
        };
        let messages = check_login_throttle_settings(&CheckContext::new(&proxies, &project));
        assert_eq!(ids(&messages), ["nuages.E047"]);
        assert!(messages[0].message.contains("\"nginx\""));
        assert!(
            check_login_throttle_settings(&CheckContext::new(&Settings::default(), &project))
                .is_empty()
        );
    }
}
