//! Django's deployment checks (`security.*`), with Django's ids, conditions
//! and messages in Nuages's setting names, and the Nuages checks of secrets
//! written in settings files, `serve` listening everywhere and `*` hosts.
//! All run only with `--deploy`, but `nuages.W038` (an `allowed_hosts`
//! entry no host can match), which the development server needs too.

use super::raw::{raw_setting, variable_for, with_defaults_used};
use super::{Check, CheckContext, CheckMessage};
use crate::conf::{SECRET_KEY_INSECURE_PREFIX, Settings};
/// The shortest secret key that passes `security.W009`.
pub const SECRET_KEY_MIN_LENGTH: usize = 50;
/// The fewest distinct characters of a key that passes `security.W009`.
pub const SECRET_KEY_MIN_UNIQUE_CHARACTERS: usize = 5;

const TAGS: &[&str] = &["security"];

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    let check = |name, run| Check {
        name,
        tags: TAGS,
        deploy: true,
        run,
    };
    vec![
        check("security_middleware", check_security_middleware),
        check("xframe_options_middleware", check_xframe_options_middleware),
        check("csrf_middleware", check_csrf_middleware),
        check("sts", check_sts),
        check("sts_include_subdomains", check_sts_include_subdomains),
        check("sts_preload", check_sts_preload),
        check("content_type_nosniff", check_content_type_nosniff),
        check("ssl_redirect", check_ssl_redirect),
        check("https_detection", check_https_detection),
        check("secret_key", check_secret_key),
        check("secret_key_fallbacks", check_secret_key_fallbacks),
        check("session_cookie_secure", check_session_cookie_secure),
        check("session_cookie_httponly", check_session_cookie_httponly),
        check("csrf_cookie_secure", check_csrf_cookie_secure),
        check("debug", check_debug),
        check("xframe_deny", check_xframe_deny),
        check("allowed_hosts", check_allowed_hosts),
        check("referrer_policy", check_referrer_policy),
        check("serve_secret_key", check_serve_secret_key),
        check("serve_allowed_hosts", check_serve_allowed_hosts),
        check("serve_debug", check_serve_debug),
        check("secret_key_in_file", check_secret_key_in_file),
        check("serve_bind", check_serve_bind),
        check("serve_socket_mode", check_serve_socket_mode),
        check("allowed_hosts_wildcard", check_allowed_hosts_wildcard),
        // Not deploy-only (the development server refuses such hosts too),
        // so not `security`, whose checks Django runs with --deploy only.
        Check {
            deploy: false,
            tags: &["settings"],
            ..check("allowed_hosts_entries", check_allowed_hosts_entries)
        },
    ]
}

fn has_middleware(settings: &Settings, name: &str) -> bool {
    settings.middleware.iter().any(|m| m == name)
}

fn security_middleware(settings: &Settings) -> bool {
    has_middleware(settings, "security")
}

fn settings_file(settings: &Settings) -> String {
    settings
        .settings_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the settings file".into())
}

fn one(condition: bool, message: impl FnOnce() -> CheckMessage) -> Vec<CheckMessage> {
    if condition { vec![message()] } else { vec![] }
}

/// `security.W001`: no `"security"` middleware.
pub fn check_security_middleware(ctx: &CheckContext) -> Vec<CheckMessage> {
    one(!security_middleware(ctx.settings), || {
        CheckMessage::warning(
            "security.W001",
            "You do not have \"security\" in your middleware so the secure_hsts_seconds, \
             secure_content_type_nosniff, secure_referrer_policy, secure_cross_origin_opener_policy, \
             and secure_ssl_redirect settings will have no effect.",
            format!(
                "add \"security\" first in the middleware list of {}",
                settings_file(ctx.settings)
            ),
        )
    })
}

/// `security.W002`: no `"xframe"` middleware.
pub fn check_xframe_options_middleware(ctx: &CheckContext) -> Vec<CheckMessage> {
    one(!has_middleware(ctx.settings, "xframe"), || {
        CheckMessage::warning(
            "security.W002",
            "You do not have \"xframe\" in your middleware, so your pages will not be served with an \
             'x-frame-options' header. Unless there is a good reason for your site to be served in a \
             frame, you should consider enabling this header to help prevent clickjacking attacks.",
            format!(
                "add \"xframe\" to the middleware list of {}",
                settings_file(ctx.settings)
            ),
        )
    })
}

/// `security.W003`: no `"csrf"` middleware.
pub fn check_csrf_middleware(ctx: &CheckContext) -> Vec<CheckMessage> {
    one(!has_middleware(ctx.settings, "csrf"), || {
        CheckMessage::warning(
            "security.W003",
            "You don't appear to be using Nuages's built-in cross-site request forgery protection via \
             the middleware (\"csrf\" is not in your middleware). Enabling the middleware is the safest \
             approach to ensure you don't leave any holes.",
            format!(
                "add \"csrf\" to the middleware list of {}",
                settings_file(ctx.settings)
            ),
        )
    })
}

/// `security.W004`: HSTS off.
pub fn check_sts(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(security_middleware(s) && s.secure_hsts_seconds == 0, || {
        CheckMessage::warning(
            "security.W004",
            "You have not set a value for the secure_hsts_seconds setting. If your entire site is served \
             only over SSL, you may want to consider setting a value and enabling HTTP Strict Transport \
             Security. Be sure to read the documentation first; enabling HSTS carelessly can cause \
             serious, irreversible problems.",
            "set secure_hsts_seconds = 3600 in the production settings file once the site works over \
             HTTPS, then raise it to 31536000 (a year)",
        )
    })
}

/// `security.W005`: HSTS without subdomains.
pub fn check_sts_include_subdomains(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(
        security_middleware(s) && s.secure_hsts_seconds > 0 && !s.secure_hsts_include_subdomains,
        || {
            CheckMessage::warning(
                "security.W005",
                "You have not set the secure_hsts_include_subdomains setting to true. Without this, your \
                 site is potentially vulnerable to attack via an insecure connection to a subdomain. Only \
                 set this to true if you are certain that all subdomains of your domain should be served \
                 exclusively via SSL.",
                "set secure_hsts_include_subdomains = true in the production settings file",
            )
        },
    )
}

/// `security.W021`: HSTS without preload.
pub fn check_sts_preload(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(
        security_middleware(s) && s.secure_hsts_seconds > 0 && !s.secure_hsts_preload,
        || {
            CheckMessage::warning(
                "security.W021",
                "You have not set the secure_hsts_preload setting to true. Without this, your site cannot \
                 be submitted to the browser preload list.",
                "set secure_hsts_preload = true in the production settings file",
            )
        },
    )
}

/// `security.W006`: nosniff off.
pub fn check_content_type_nosniff(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(
        security_middleware(s) && !s.secure_content_type_nosniff,
        || {
            CheckMessage::warning(
                "security.W006",
                "Your secure_content_type_nosniff setting is not set to true, so your pages will not be \
             served with an 'X-Content-Type-Options: nosniff' header. You should consider enabling this \
             header to prevent the browser from identifying content types incorrectly.",
                "set secure_content_type_nosniff = true (the default) in the production settings file",
            )
        },
    )
}

/// `security.W008`: no redirect to HTTPS.
pub fn check_ssl_redirect(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(security_middleware(s) && !s.secure_ssl_redirect, || {
        CheckMessage::warning(
            "security.W008",
            "Your secure_ssl_redirect setting is not set to true. Unless your site should be available \
             over both SSL and non-SSL connections, you may want to either set this setting true or \
             configure a load balancer or reverse-proxy server to redirect all connections to HTTPS.",
            "set secure_ssl_redirect = true in the production settings file (with \
             secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"] behind nginx or Apache)",
        )
    })
}

/// `nuages.W047`: `secure_ssl_redirect` or HSTS without
/// `secure_proxy_ssl_header`. `serve` speaks plain HTTP to the web server
/// in front, so the application sees an HTTPS request as HTTPS only by the
/// header that server sets: without it every page would redirect to
/// itself, and no `Strict-Transport-Security` would be sent. (`deployconfig`
/// refuses the redirect's case; an application hosted over TLS by a server
/// of the project's own can say so per request, hence a warning.)
pub fn check_https_detection(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    let wants_https = s.secure_ssl_redirect || s.secure_hsts_seconds > 0;
    one(
        security_middleware(s) && wants_https && s.secure_proxy_ssl_header.is_none(),
        || {
            let what = match (s.secure_ssl_redirect, s.secure_hsts_seconds > 0) {
                (true, true) => "secure_ssl_redirect and secure_hsts_seconds are",
                (true, false) => "secure_ssl_redirect is",
                _ => "secure_hsts_seconds is",
            };
            CheckMessage::warning(
                "nuages.W047",
                format!(
                    "{what} set but secure_proxy_ssl_header is not: `serve` speaks plain HTTP \
                     to the web server in front, so the application would take every request \
                     for plain HTTP: with secure_ssl_redirect every page answers with a \
                     redirect to itself, and no Strict-Transport-Security header is sent."
                ),
                format!(
                    "add secure_proxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"] to {} \
                     (the configurations of `deployconfig` set that header)",
                    settings_file(s)
                ),
            )
        },
    )
}

/// Whether `key` passes `security.W009`: 50 characters or more, 5 distinct
/// characters or more, and not the `startproject` development key.
pub fn is_strong_secret(key: &str) -> bool {
    let distinct: std::collections::BTreeSet<char> = key.chars().collect();
    key.chars().count() >= SECRET_KEY_MIN_LENGTH
        && distinct.len() >= SECRET_KEY_MIN_UNIQUE_CHARACTERS
        && !key.starts_with(SECRET_KEY_INSECURE_PREFIX)
}

fn weak_secret_message(setting: &str) -> String {
    format!(
        "Your {setting} has less than {SECRET_KEY_MIN_LENGTH} characters, less than \
         {SECRET_KEY_MIN_UNIQUE_CHARACTERS} unique characters, or it's prefixed with \
         '{SECRET_KEY_INSECURE_PREFIX}' indicating that it was generated automatically by Nuages. \
         Please generate a long and random value, otherwise many of Nuages's security-critical \
         features will be vulnerable to attack."
    )
}

/// How to get a strong secret key: in the production file from the
/// environment, or, when `NUAGES_SECRET_KEY` sets it (`env_sets_it`) over
/// every file, in that variable.
pub(crate) fn new_secret_hint(env_sets_it: bool) -> &'static str {
    if env_sets_it {
        "NUAGES_SECRET_KEY in the environment sets the key over the settings files: give it 50 or \
         more random characters (`openssl rand -base64 48`), or unset it and write secret_key = \
         \"${SECRET_KEY}\" in the production settings file"
    } else {
        "generate one with `openssl rand -base64 48`, export it as SECRET_KEY in the server's \
         environment, and write secret_key = \"${SECRET_KEY}\" in the production settings file"
    }
}

/// [`new_secret_hint`] for the settings `ctx` checks.
fn secret_hint(ctx: &CheckContext) -> &'static str {
    new_secret_hint(ctx.env_overrides(&variable_for(&["secret_key"])))
}

/// How to turn debug off: in `fix`'s words, unless `NUAGES_DEBUG` turns it
/// on over every file, which no file can undo.
fn debug_hint(ctx: &CheckContext, fix: String) -> String {
    match ctx.env.get(&variable_for(&["debug"])) {
        Some(value) => format!(
            "NUAGES_DEBUG={value} in the environment turns debug on over {}: unset it",
            settings_file(ctx.settings)
        ),
        None => fix,
    }
}

/// `security.W009`: a missing or weak secret key.
pub fn check_secret_key(ctx: &CheckContext) -> Vec<CheckMessage> {
    let strong = ctx
        .settings
        .secret_key
        .as_deref()
        .is_some_and(is_strong_secret);
    one(!strong, || {
        CheckMessage::warning(
            "security.W009",
            weak_secret_message("secret_key"),
            secret_hint(ctx),
        )
    })
}

/// `security.W025`: a weak fallback key, one message per entry.
pub fn check_secret_key_fallbacks(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.settings
        .secret_key_fallbacks
        .iter()
        .enumerate()
        .filter(|(_, key)| !is_strong_secret(key))
        .map(|(index, _)| {
            CheckMessage::warning(
                "security.W025",
                weak_secret_message(&format!("secret_key_fallbacks[{index}]")),
                format!(
                    "remove entry {index} from secret_key_fallbacks once the sessions it signed have \
                     expired; a fallback only needs to be the previous secret_key"
                ),
            )
        })
        .collect()
}

/// `security.W012`: the session cookie goes over plain HTTP. Sessions are
/// part of Nuages and run in the `"session"` middleware, Django's "app and
/// middleware" case.
pub fn check_session_cookie_secure(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(
        has_middleware(s, "session") && !s.session_cookie_secure,
        || {
            CheckMessage::warning(
                "security.W012",
                "session_cookie_secure is not set to true. Using a secure-only session cookie makes it more \
             difficult for network traffic sniffers to hijack user sessions.",
                "set session_cookie_secure = true in the production settings file",
            )
        },
    )
}

/// `security.W015`: the session cookie is readable by JavaScript.
pub fn check_session_cookie_httponly(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(
        has_middleware(s, "session") && !s.session_cookie_httponly,
        || {
            CheckMessage::warning(
                "security.W015",
                "session_cookie_httponly is not set to true. Using an HttpOnly session cookie makes it more \
             difficult for cross-site scripting attacks to hijack user sessions.",
                "set session_cookie_httponly = true (the default) in the production settings file",
            )
        },
    )
}

/// `security.W016`: the CSRF cookie goes over plain HTTP.
pub fn check_csrf_cookie_secure(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(has_middleware(s, "csrf") && !s.csrf_cookie_secure, || {
        CheckMessage::warning(
            "security.W016",
            "You have \"csrf\" in your middleware, but you have not set csrf_cookie_secure to true. Using \
             a secure-only CSRF cookie makes it more difficult for network traffic sniffers to steal the \
             CSRF token.",
            "set csrf_cookie_secure = true in the production settings file",
        )
    })
}

/// `security.W018`: debug on.
pub fn check_debug(ctx: &CheckContext) -> Vec<CheckMessage> {
    one(ctx.settings.debug, || {
        CheckMessage::warning(
            "security.W018",
            "You should not have debug set to true in deployment.",
            debug_hint(
                ctx,
                format!(
                    "set debug = false in {} (or NUAGES_DEBUG=false); settings.production.toml does",
                    settings_file(ctx.settings)
                ),
            ),
        )
    })
}

/// `security.W019`: frames allowed while the xframe middleware runs.
pub fn check_xframe_deny(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(
        has_middleware(s, "xframe") && !s.x_frame_options.eq_ignore_ascii_case("DENY"),
        || {
            CheckMessage::warning(
                "security.W019",
                "You have \"xframe\" in your middleware, but x_frame_options is not set to 'DENY'. Unless \
                 there is a good reason for your site to serve other parts of itself in a frame, you should \
                 change it to 'DENY'.",
                "set x_frame_options = \"DENY\" (the default) in the production settings file",
            )
        },
    )
}

/// `security.W020`: no allowed hosts.
pub fn check_allowed_hosts(ctx: &CheckContext) -> Vec<CheckMessage> {
    one(ctx.settings.allowed_hosts.is_empty(), || {
        CheckMessage::warning(
            "security.W020",
            "allowed_hosts must not be empty in deployment.",
            "list the site's host names: export NUAGES_ALLOWED_HOSTS=example.com,www.example.com, or \
             allowed_hosts = [\"example.com\"] in the production settings file",
        )
    })
}

/// `security.W022`: no referrer policy. An unknown value is
/// `security.E023`, reported with every `check` since the application
/// refuses it (see [`startup`](super::startup)).
pub fn check_referrer_policy(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    let unset = s
        .secure_referrer_policy
        .split(',')
        .all(|v| v.trim().is_empty());
    one(security_middleware(s) && unset, || {
        CheckMessage::warning(
            "security.W022",
            "You have not set the secure_referrer_policy setting. Without this, your site will not send a \
             Referrer-Policy header. You should consider enabling this header to protect user privacy.",
            "set secure_referrer_policy = \"same-origin\" (the default) in the production settings file",
        )
    })
}

/// `nuages.E013`: `serve` refuses a weak `secret_key` (as `security.W009`
/// judges it) while `debug` is off.
pub fn check_serve_secret_key(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    let weak = s
        .secret_key
        .as_deref()
        .is_some_and(|key| !key.trim().is_empty() && !is_strong_secret(key));
    one(!s.debug && weak, || {
        CheckMessage::error(
            "nuages.E013",
            "serve refuses to start with this secret_key while debug is off: it is shorter than 50 \
             characters, has fewer than 5 different ones, or is a generated development key.",
            secret_hint(ctx),
        )
    })
}

/// `nuages.E017`: `serve` refuses `debug = true` (unless `serve
/// --allow-debug`, which silences this check for itself).
pub fn check_serve_debug(ctx: &CheckContext) -> Vec<CheckMessage> {
    one(ctx.settings.debug, || {
        CheckMessage::error(
            "nuages.E017",
            "serve refuses to start with debug on: error pages would show code and settings.",
            debug_hint(
                ctx,
                format!(
                    "select the production settings (NUAGES_SETTINGS=settings.production.toml or \
                     --settings), or set debug = false in {}",
                    settings_file(ctx.settings)
                ),
            ),
        )
    })
}

/// `nuages.E014`: `serve` refuses an empty `allowed_hosts` while `debug` is
/// off, since every request would be refused.
pub fn check_serve_allowed_hosts(ctx: &CheckContext) -> Vec<CheckMessage> {
    let s = ctx.settings;
    one(!s.debug && s.allowed_hosts.is_empty(), || {
        CheckMessage::error(
            "nuages.E014",
            "serve refuses to start with an empty allowed_hosts while debug is off: every request \
             would be refused.",
            "set allowed_hosts, or NUAGES_ALLOWED_HOSTS=example.com,www.example.com in the server's \
             environment",
        )
    })
}

/// `nuages.W001`: the secret key (or a fallback) is written in a settings
/// file instead of read from the environment, even when it is strong: the
/// file ends up in version control and backups.
pub fn check_secret_key_in_file(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(selected) = &ctx.settings.settings_file else {
        return vec![];
    };
    let mut messages = Vec::new();
    for (key, example) in [
        ("secret_key", "secret_key = \"${SECRET_KEY}\""),
        (
            "secret_key_fallbacks",
            "secret_key_fallbacks = [\"${OLD_SECRET_KEY}\"]",
        ),
    ] {
        if ctx.env_overrides(&variable_for(&[key])) {
            continue;
        }
        // The loader already read this chain; if it cannot be read again, the
        // settings in memory did not come from it and there is nothing to say.
        let Ok(Some(raw)) = raw_setting(selected, &[key]) else {
            continue;
        };
        // `${SECRET_KEY:-…}` with SECRET_KEY unset uses the default, the
        // text written in the file.
        let written_out = |text: &str| {
            let used = with_defaults_used(text, &ctx.env);
            !used.is_empty() && !used.contains("${")
        };
        let written = match &raw.value {
            toml::Value::String(text) => written_out(text),
            toml::Value::Array(items) => items
                .iter()
                .any(|item| item.as_str().is_some_and(written_out)),
            _ => false,
        };
        if written {
            messages.push(CheckMessage::warning(
                "nuages.W001",
                format!(
                    "{key} is written in {} instead of being read from the environment: anyone who reads \
                     the file, its backups or its version history can sign sessions and CSRF tokens.",
                    raw.file.display()
                ),
                format!(
                    "write {example} in {} and export the value in the server's environment (generate a \
                     new key: this one has been seen)",
                    selected.display()
                ),
            ));
        }
    }
    messages
}

/// `nuages.W044` and `nuages.W045`: who may connect to `serve`'s unix
/// socket (`serve_socket_mode`, which `serve` and the socket unit of
/// `deployconfig systemd` give it; connecting takes write permission).
/// Every account (`o+w`): around the web server's TLS and limits, and, when
/// `trusted_proxies` trusts the socket, with any `X-Forwarded-For`. Only
/// serve's own account: not the web server's, so every page is a 502.
pub fn check_serve_socket_mode(ctx: &CheckContext) -> Vec<CheckMessage> {
    let listen = ctx.listen();
    let s = ctx.settings;
    let Ok(mode) = u32::from_str_radix(&s.serve_socket_mode, 8) else {
        return vec![];
    };
    if !listen.value.trim().starts_with("unix:") {
        return vec![];
    }
    let fix = "set serve_socket_mode = \"660\" (serve's account and its group) and add the web \
               server's account to that group (Debian and Ubuntu: usermod -aG GROUP www-data)";
    if mode & 0o002 != 0 {
        let trusted = if s.trusted_proxies.iter().any(|proxy| proxy == "unix") {
            ", and, since trusted_proxies has \"unix\", claim any client address through \
             X-Forwarded-For (the failed-login throttle counts it)"
        } else {
            ""
        };
        return vec![CheckMessage::warning(
            "nuages.W044",
            format!(
                "serve_socket_mode = \"{}\" lets every account on this machine connect to serve's socket \
                 ({listen}), around the web server's TLS and limits{trusted}.",
                s.serve_socket_mode
            ),
            fix,
        )];
    }
    one(mode & 0o020 == 0, || {
        CheckMessage::warning(
            "nuages.W045",
            format!(
                "serve_socket_mode = \"{}\" lets no account but serve's own connect to its socket \
                 ({listen}): the web server's cannot, and every page would be a 502.",
                s.serve_socket_mode
            ),
            fix,
        )
    })
}

/// Whether a `serve_bind` value listens on every interface.
pub fn binds_all_interfaces(bind: &str) -> bool {
    let bind = bind.trim();
    if bind.starts_with("unix:") {
        return false;
    }
    let host = if let Some(rest) = bind.strip_prefix('[') {
        rest.split_once(']').map(|(host, _)| host).unwrap_or(rest)
    } else {
        match bind.rsplit_once(':') {
            Some((host, _)) => host,
            None => bind,
        }
    };
    match host {
        "" | "0" | "*" => true,
        host => host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified()),
    }
}

/// `nuages.W009`: `serve` would listen on every interface.
pub fn check_serve_bind(ctx: &CheckContext) -> Vec<CheckMessage> {
    let listen = ctx.listen();
    one(binds_all_interfaces(listen.value), || {
        let name = ctx.project.name();
        let fix = match listen.from_flag {
            true => format!(
                "pass --bind 127.0.0.1:8000 (the web server proxies to it) or --bind \
                 unix:/run/{name}/{name}.sock"
            ),
            false => format!(
                "set serve_bind = \"127.0.0.1:8000\" (the web server proxies to it) or serve_bind = \
                 \"unix:/run/{name}/{name}.sock\" in the production settings file"
            ),
        };
        CheckMessage::warning(
            "nuages.W009",
            format!(
                "{listen}: serve listens on every network interface, so clients can reach \
                 the application server directly, around the web server's TLS, static files and limits."
            ),
            fix,
        )
    })
}

/// `nuages.W010`: `*` in allowed_hosts accepts any Host header.
pub fn check_allowed_hosts_wildcard(ctx: &CheckContext) -> Vec<CheckMessage> {
    one(
        ctx.settings.allowed_hosts.iter().any(|h| h.trim() == "*"),
        || {
            CheckMessage::warning(
                "nuages.W010",
                "allowed_hosts contains '*': every Host header is accepted, so links the site builds from it \
             (password resets, redirects) can point to an attacker's domain.",
                "replace '*' with the site's host names: NUAGES_ALLOWED_HOSTS=example.com,www.example.com, or \
             '.example.com' for a domain and its subdomains",
            )
        },
    )
}

/// `nuages.W038`: an `allowed_hosts` entry that no request's host can
/// match (a URL, a port, a path, a space): the host check compares the
/// host name alone, so the requests meant for it all get 400.
pub fn check_allowed_hosts_entries(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.settings
        .allowed_hosts
        .iter()
        .filter_map(|entry| {
            let pattern = entry.trim();
            if pattern == "*" {
                return None;
            }
            let name = pattern.strip_prefix('.').unwrap_or(pattern);
            let reason = match crate::middleware::hosts::parse_host(name) {
                Ok(host) if host.port.is_none() => return None,
                _ if name.contains("://") => "it is a URL, and a host has no scheme".to_string(),
                Ok(_) => "it has a port, and a request's port is never compared".to_string(),
                Err(error) => error.to_string(),
            };
            Some(CheckMessage::warning(
                "nuages.W038",
                format!(
                    "allowed_hosts holds {entry:?}, which no request's host can match ({reason}): \
                     the requests meant for it get 400 Bad Request."
                ),
                "write the host name alone, without scheme, port or path: \"example.com\" \
                 (\".example.com\" also matches its subdomains)",
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::project::Project;

    const STRONG: &str = "k3Jx9vQm2Lw7Rt5Yp1Zs8Nd4Hf6Gb0Xc3Vb7Nm1Qw5Er9Ty2Ui4Op6As8Df0Gh";

    /// Settings that pass every check of this file.
    fn hardened(dir: &std::path::Path) -> Settings {
        Settings {
            secret_key: Some(STRONG.into()),
            allowed_hosts: vec!["example.com".into()],
            secure_hsts_seconds: 31_536_000,
            secure_hsts_include_subdomains: true,
            secure_hsts_preload: true,
            secure_ssl_redirect: true,
            secure_proxy_ssl_header: Some(vec!["X-Forwarded-Proto".into(), "https".into()]),
            session_cookie_secure: true,
            csrf_cookie_secure: true,
            ..settings_in(dir)
        }
    }

    fn run(
        settings: &Settings,
        project: &Project,
        check: fn(&CheckContext) -> Vec<CheckMessage>,
    ) -> Vec<String> {
        let ctx = CheckContext::new(settings, project)
            .with_deploy(true)
            .with_env([("PATH", "/bin")]);
        check(&ctx).into_iter().map(|m| m.id).collect()
    }

    /// The check fires on `bad` settings and stays quiet on the hardened ones.
    fn fires(
        check: fn(&CheckContext) -> Vec<CheckMessage>,
        id: &str,
        bad: impl FnOnce(&mut Settings),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let good = hardened(dir.path());
        assert_eq!(
            run(&good, &project, check),
            Vec::<String>::new(),
            "{id} fires on hardened settings"
        );
        let mut settings = good.clone();
        bad(&mut settings);
        assert_eq!(
            run(&settings, &project, check),
            [id],
            "{id} is quiet on bad settings"
        );
    }

    fn without(settings: &mut Settings, name: &str) {
        settings.middleware.retain(|m| m != name);
    }

    #[test]
    fn middleware_checks() {
        fires(check_security_middleware, "security.W001", |s| {
            without(s, "security")
        });
        fires(check_xframe_options_middleware, "security.W002", |s| {
            without(s, "xframe")
        });
        fires(check_csrf_middleware, "security.W003", |s| {
            without(s, "csrf")
        });
    }

    #[test]
    fn hsts_checks() {
        fires(check_sts, "security.W004", |s| s.secure_hsts_seconds = 0);
        fires(check_sts_include_subdomains, "security.W005", |s| {
            s.secure_hsts_include_subdomains = false
        });
        fires(check_sts_preload, "security.W021", |s| {
            s.secure_hsts_preload = false
        });
        // Without HSTS, its options are not reported; without the middleware, neither is HSTS.
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut s = hardened(dir.path());
        s.secure_hsts_seconds = 0;
        s.secure_hsts_include_subdomains = false;
        s.secure_hsts_preload = false;
        assert!(run(&s, &project, check_sts_include_subdomains).is_empty());
        assert!(run(&s, &project, check_sts_preload).is_empty());
        without(&mut s, "security");
        assert!(run(&s, &project, check_sts).is_empty());
    }

    #[test]
    fn header_and_redirect_checks() {
        fires(check_content_type_nosniff, "security.W006", |s| {
            s.secure_content_type_nosniff = false
        });
        fires(check_ssl_redirect, "security.W008", |s| {
            s.secure_ssl_redirect = false
        });
        fires(check_https_detection, "nuages.W047", |s| {
            s.secure_proxy_ssl_header = None
        });
        fires(check_https_detection, "nuages.W047", |s| {
            s.secure_proxy_ssl_header = None;
            s.secure_ssl_redirect = false
        });
        fires(check_xframe_deny, "security.W019", |s| {
            s.x_frame_options = "SAMEORIGIN".into()
        });
        fires(check_referrer_policy, "security.W022", |s| {
            s.secure_referrer_policy = " ".into()
        });
        // security.E023 and E024 moved to the startup checks (they run without --deploy).
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut s = hardened(dir.path());
        s.secure_referrer_policy = "no-referrer, strict-origin-when-cross-origin".into();
        s.secure_cross_origin_opener_policy = String::new();
        assert!(
            run(&s, &project, check_referrer_policy).is_empty(),
            "a fallback list is valid"
        );
    }

    #[test]
    fn secret_key_checks() {
        fires(check_secret_key, "security.W009", |s| s.secret_key = None);
        fires(check_secret_key, "security.W009", |s| {
            s.secret_key = Some("too-short".into())
        });
        fires(check_secret_key, "security.W009", |s| {
            s.secret_key = Some("abcd".repeat(20))
        });
        fires(check_secret_key, "security.W009", |s| {
            s.secret_key = Some(format!("{SECRET_KEY_INSECURE_PREFIX}{STRONG}"))
        });
        fires(check_secret_key_fallbacks, "security.W025", |s| {
            s.secret_key_fallbacks = vec![STRONG.into(), "old".into()]
        });
        let dir = tempfile::tempdir().unwrap();
        let mut s = hardened(dir.path());
        s.secret_key_fallbacks = vec!["a".into(), "b".into()];
        let messages = check_secret_key_fallbacks(&CheckContext::new(&s, &project_in(dir.path())));
        assert_eq!(messages.len(), 2);
        assert!(
            messages[1].message.contains("secret_key_fallbacks[1]"),
            "{}",
            messages[1].message
        );
    }

    #[test]
    fn cookie_and_debug_and_host_checks() {
        fires(check_session_cookie_secure, "security.W012", |s| {
            s.session_cookie_secure = false
        });
        fires(check_session_cookie_httponly, "security.W015", |s| {
            s.session_cookie_httponly = false
        });
        fires(check_csrf_cookie_secure, "security.W016", |s| {
            s.csrf_cookie_secure = false
        });
        fires(check_debug, "security.W018", |s| s.debug = true);
        fires(check_allowed_hosts, "security.W020", |s| {
            s.allowed_hosts.clear()
        });
        fires(check_allowed_hosts_wildcard, "nuages.W010", |s| {
            s.allowed_hosts.push("*".into())
        });
        fires(check_serve_bind, "nuages.W009", |s| {
            s.serve_bind = "0.0.0.0:8000".into()
        });
        fires(check_serve_bind, "nuages.W009", |s| {
            s.serve_bind = "[::]:8000".into()
        });
        for (mode, id) in [
            ("666", "nuages.W044"),
            ("777", "nuages.W044"),
            ("600", "nuages.W045"),
            ("0", "nuages.W045"),
        ] {
            fires(check_serve_socket_mode, id, |s| {
                s.serve_bind = "unix:/run/site/site.sock".into();
                s.serve_socket_mode = mode.into();
            });
        }
        // Without their middleware, cookies are never set.
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut s = settings_in(dir.path());
        without(&mut s, "session");
        without(&mut s, "csrf");
        assert!(run(&s, &project, check_session_cookie_secure).is_empty());
        assert!(run(&s, &project, check_csrf_cookie_secure).is_empty());
        s.serve_bind = "unix:/run/site/site.sock".into();
        assert!(run(&s, &project, check_serve_bind).is_empty());
    }

    /// A setting an environment variable sets over every file: the hint
    /// names the variable, not a file that already says the right thing.
    #[test]
    fn hints_name_the_variable_that_sets_debug_or_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = hardened(dir.path());
        settings.debug = true;
        settings.secret_key = Some("short".into());
        let hints = |env: &[(&str, &str)]| -> Vec<String> {
            let ctx = CheckContext::new(&settings, &project)
                .with_deploy(true)
                .with_env(env.iter().copied());
            [check_serve_debug, check_debug, check_secret_key]
                .iter()
                .flat_map(|check| check(&ctx))
                .map(|message| message.hint.clone().unwrap_or_default())
                .collect()
        };
        let from_file = hints(&[]);
        assert!(
            from_file[0].contains("or set debug = false in"),
            "{from_file:?}"
        );
        assert!(
            from_file[2].starts_with("generate one with"),
            "{from_file:?}"
        );
        let from_env = hints(&[("NUAGES_DEBUG", "true"), ("NUAGES_SECRET_KEY", "short")]);
        for hint in &from_env[..2] {
            assert!(
                hint.starts_with("NUAGES_DEBUG=true in the environment turns debug on over ")
                    && hint.ends_with(": unset it"),
                "{hint}"
            );
        }
        assert!(
            from_env[2].starts_with(
                "NUAGES_SECRET_KEY in the environment sets the key over the settings files"
            ),
            "{from_env:?}"
        );
    }

    #[test]
    fn what_serve_refuses_is_an_error() {
        fires(check_serve_secret_key, "nuages.E013", |s| {
            s.secret_key = Some("too-short".into())
        });
        fires(check_serve_secret_key, "nuages.E013", |s| {
            s.secret_key = Some(format!("{SECRET_KEY_INSECURE_PREFIX}{STRONG}"))
        });
        fires(check_serve_allowed_hosts, "nuages.E014", |s| {
            s.allowed_hosts.clear()
        });
        fires(check_serve_debug, "nuages.E017", |s| s.debug = true);
        // With debug on serve refuses debug itself (nuages.E017), not the key
        // or the hosts; a missing key is nuages.E010.
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut s = hardened(dir.path());
        s.debug = true;
        s.secret_key = Some("too-short".into());
        s.allowed_hosts.clear();
        assert!(run(&s, &project, check_serve_secret_key).is_empty());
        assert!(run(&s, &project, check_serve_allowed_hosts).is_empty());
        s.debug = false;
        s.secret_key = None;
        assert!(run(&s, &project, check_serve_secret_key).is_empty());
    }

    fn settings_file_with(dir: &std::path::Path, base: &str, prod: &str) -> Settings {
        std::fs::write(dir.join("settings.toml"), base).unwrap();
        let path = dir.join("settings.production.toml");
        std::fs::write(&path, prod).unwrap();
        Settings {
            settings_file: Some(path),
            ..hardened(dir)
        }
    }

    #[test]
    fn a_secret_written_in_the_file_is_reported_even_when_strong() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let written = format!("secret_key = \"{STRONG}\"\n");
        let settings = settings_file_with(
            dir.path(),
            &written,
            "extends = \"settings.toml\"\ndebug = false\n",
        );
        let ctx = CheckContext::new(&settings, &project).with_env([("PATH", "/bin")]);
        let messages = check_secret_key_in_file(&ctx);
        assert_eq!(ids(&messages), ["nuages.W001"]);
        assert!(
            messages[0].message.contains("settings.toml"),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("${SECRET_KEY}")
        );

        // Read from the environment by the file, or overridden by NUAGES_SECRET_KEY: quiet.
        let settings = settings_file_with(
            dir.path(),
            &written,
            "extends = \"settings.toml\"\nsecret_key = \"${SECRET_KEY}\"\n",
        );
        let ctx = CheckContext::new(&settings, &project).with_env([("SECRET_KEY", STRONG)]);
        assert!(check_secret_key_in_file(&ctx).is_empty());
        let settings = settings_file_with(dir.path(), &written, "extends = \"settings.toml\"\n");
        let ctx = CheckContext::new(&settings, &project).with_env([("NUAGES_SECRET_KEY", STRONG)]);
        assert!(check_secret_key_in_file(&ctx).is_empty());
    }

    /// Django's `SECRET_KEY = os.environ.get("SECRET_KEY", "…")`: the
    /// default of `${SECRET_KEY:-…}` is the key in use while SECRET_KEY is
    /// unset, and it is written in the file.
    #[test]
    fn a_secret_from_a_default_written_in_the_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let settings = settings_file_with(
            dir.path(),
            "",
            &format!(
                "secret_key = \"${{SECRET_KEY:-{STRONG}}}\"\n\
                 secret_key_fallbacks = [\"${{OLD_SECRET_KEY:-{STRONG}}}\"]\n"
            ),
        );
        let ctx = CheckContext::new(&settings, &project).with_env([("PATH", "/bin")]);
        let messages = check_secret_key_in_file(&ctx);
        assert_eq!(ids(&messages), ["nuages.W001", "nuages.W001"]);
        assert!(messages[0].message.starts_with("secret_key is written"));
        assert!(messages[1].message.starts_with("secret_key_fallbacks"));
        let ctx = CheckContext::new(&settings, &project)
            .with_env([("SECRET_KEY", STRONG), ("OLD_SECRET_KEY", STRONG)]);
        assert!(check_secret_key_in_file(&ctx).is_empty());
    }

    #[test]
    fn fallbacks_written_in_the_file_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let settings = settings_file_with(
            dir.path(),
            "",
            "secret_key = \"${SECRET_KEY}\"\nsecret_key_fallbacks = [\"${OLD}\", \"plain-old-key\"]\n",
        );
        let messages = check_secret_key_in_file(
            &CheckContext::new(&settings, &project).with_env([("A", "b")]),
        );
        assert_eq!(ids(&messages), ["nuages.W001"]);
        assert!(
            messages[0].message.starts_with("secret_key_fallbacks"),
            "{}",
            messages[0].message
        );
    }

    #[test]
    fn binds_all_interfaces_knows_the_wildcard_addresses() {
        assert!(binds_all_interfaces("0.0.0.0:8000"));
        assert!(binds_all_interfaces("[::]:8000"));
        assert!(binds_all_interfaces("0:8000"));
        assert!(!binds_all_interfaces("127.0.0.1:8000"));
        assert!(!binds_all_interfaces("unix:/run/site/site.sock"));
    }

    #[test]
    fn a_strong_secret_is_long_and_varied() {
        assert!(!is_strong_secret("short"));
        assert!(!is_strong_secret(&"a".repeat(60)));
        assert!(is_strong_secret(
            "1nJ6mX0vW8qZ3rT5yB7cD9eF2gH4iK6lM8nO0pQ2rS4tU6vW8xY0z"
        ));
    }
}
