//! Database servers for deployment: on a network address their traffic must
//! be encrypted (`nuages.W006`), and their passwords belong in the
//! environment, not in a settings file (`nuages.W007`).
//!
//! [`server_url_problem`] judges any server URL, so a cache setting can use
//! it as well (`rediss://` is Redis over TLS).

use std::net::IpAddr;
use std::ops::Range;

use super::raw::{raw_setting, variable_for, with_defaults_used};
use super::{Check, CheckContext, CheckMessage};
use crate::error::Problem;

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "database_tls",
            tags: &["database", "security"],
            deploy: true,
            run: check_database_tls,
        },
        Check {
            name: "database_password_in_file",
            tags: &["database", "security"],
            deploy: true,
            run: check_database_password_in_file,
        },
    ]
}

/// The parts of a server URL these checks look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// `postgres`, `mysql`, `redis`, …
    pub scheme: String,
    /// The password in the user information, else in the query (see
    /// [`PASSWORD_PARAMS`]), if any.
    pub password: Option<String>,
    /// The host as written (without brackets), empty when there is none.
    pub host: String,
    /// `key=value` pairs of the query.
    pub query: Vec<(String, String)>,
}

impl ServerUrl {
    /// Split `scheme://[user[:password]@]host[:port][/path][?query]`; `None`
    /// for SQLite and text that is not such a URL.
    pub fn parse(url: &str) -> Option<ServerUrl> {
        let (scheme, rest) = url.split_once("://")?;
        if scheme.is_empty() || scheme.starts_with("sqlite") {
            return None;
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((before, query)) => (before, query),
            None => (rest, ""),
        };
        let authority = before_query.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let password = userinfo
            .and_then(|u| u.split_once(':'))
            .map(|(_, password)| decode(password))
            .filter(|p| !p.is_empty());
        let host = if let Some(bracketed) = hostport.strip_prefix('[') {
            bracketed.split(']').next().unwrap_or_default().to_string()
        } else {
            let host = hostport.split(',').next().unwrap_or_default();
            host.rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(host)
                .to_string()
        };
        let query: Vec<(String, String)> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(pair), String::new()),
            })
            .collect();
        let password = password.or_else(|| {
            query
                .iter()
                .find(|(key, value)| is_password_param(key) && !value.is_empty())
                .map(|(_, value)| value.clone())
        });
        Some(ServerUrl {
            scheme: scheme.to_ascii_lowercase(),
            password,
            host: decode(&host),
            query,
        })
    }

    /// The value of the last of the parameters `names`, spelled exactly as
    /// the driver reads them (it ignores `SSLMODE`), the last one being the
    /// one it applies.
    fn param(&self, names: &[&str]) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection stays on this machine: no host or a socket
    /// path (also in PostgreSQL's `host=` parameter), `localhost`, or a
    /// loopback address.
    pub fn is_local(&self) -> bool {
        let host = self.param(&["host", "hostaddr"]).unwrap_or(&self.host);
        let host = host.trim_end_matches('.');
        host.is_empty()
            || host.starts_with('/')
            || host.eq_ignore_ascii_case("localhost")
            || host.to_ascii_lowercase().ends_with(".localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The host, when it is an IP address reachable from the internet (not
    /// loopback, private, shared, link-local or unspecified). A name is not
    /// judged: only DNS knows where it points.
    pub fn public_ip(&self) -> Option<IpAddr> {
        let ip: IpAddr = self.host.parse().ok()?;
        let internal = match ip {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                v4.is_private()
                    || v4.is_loopback()
                    || v4.is_link_local()
                    || v4.is_unspecified()
                    || (a == 100 && (64..128).contains(&b))
            }
            IpAddr::V6(v6) => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        };
        (!internal).then_some(ip)
    }

    /// Whether the connection requires TLS: `rediss://`, PostgreSQL's
    /// `sslmode=require|verify-ca|verify-full`, MySQL's
    /// `ssl-mode=REQUIRED|VERIFY_CA|VERIFY_IDENTITY`.
    pub fn requires_tls(&self) -> bool {
        if self.scheme == "rediss" {
            return true;
        }
        let mode = self
            .param(&["sslmode", "ssl-mode"])
            .unwrap_or_default()
            .to_ascii_lowercase()
            .replace('_', "-");
        matches!(
            mode.as_str(),
            "require" | "required" | "verify-ca" | "verify-full" | "verify-identity"
        )
    }
}

/// The query parameters that carry a password: PostgreSQL's `password` and
/// `sslpassword`, Redis' `pass`.
pub const PASSWORD_PARAMS: [&str; 3] = ["password", "pass", "sslpassword"];

/// Whether the query parameter `name` (decoded) carries a password.
pub fn is_password_param(name: &str) -> bool {
    PASSWORD_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p))
}

/// The character of `url`'s password (in its user information) that has to
/// be percent-encoded and is not, if any:
///
/// - a `/`, `?` or `#`: a URL reads the server's address as ending there,
///   so the rest of the password becomes a port, a host or a path. A
///   password from the environment (`${DB_PASSWORD}`, one of `openssl rand
///   -base64`) easily holds one. Read as the user meant it (see
///   [`meant_userinfo_end`]), when the URL as read has no user information
///   of its own (so that an `@` in a query's value is not taken for its
///   end), with or without a path after the server (a Redis URL often has
///   none).
/// - a `%` not followed by two hex digits (`pa%zz`), which no driver can
///   decode (one that does, `%41`, is read as the character it encodes:
///   see [`password_has_unneeded_escape`]).
pub fn password_delimiter(url: &str) -> Option<char> {
    cutting_character(url).or_else(|| {
        let password = &url[shown_password(url)?];
        let bytes = password.as_bytes();
        let lone = bytes.iter().enumerate().any(|(at, &byte)| {
            byte == b'%'
                && !(bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit))
        });
        lone.then_some('%')
    })
}

/// The `/`, `?` or `#` of [`password_delimiter`]. When the URL as read
/// has user information of its own (a password holding an `@` first:
/// `p@ss#word@host`), the `@` meant as its end is taken as such only when
/// what lies between reads as no query (no `=` nor `&`): an `@` in a
/// query's value (`?sslcert=/home/a@corp.example/c.crt`) ends nothing, and
/// a valid URL is never refused (a password such as `p@ss?x=y` then goes
/// unnamed).
fn cutting_character(url: &str) -> Option<char> {
    let (_, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = meant_userinfo_end(rest)?;
    if at < authority_end
        || (rest[..authority_end].contains('@') && rest[authority_end..at].contains(['=', '&']))
    {
        return None;
    }
    let (_, password) = rest[..at].split_once(':')?;
    password.chars().find(|c| matches!(c, '/' | '?' | '#'))
}

/// Whether the password in `url`'s user information holds a `%` and two
/// hex digits that encode a character no URL needs encoded (a letter, a
/// digit, `-`, `.`, `_`, `~`: `pa%41ss`), which the driver reads as that
/// character (`paAss`): what a password meant with a literal `%` becomes
/// unless that `%` is written `%25`. The escapes a password is written
/// with (`%2F`, `%23`, `%25`, `%40`, a space's `%20`…) are taken as meant.
pub(crate) fn password_has_unneeded_escape(url: &str) -> bool {
    shown_password(url).is_some_and(|range| {
        url[range].as_bytes().windows(3).any(|w| {
            let hex = std::str::from_utf8(&w[1..]).ok();
            w[0] == b'%'
                && hex
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .is_some_and(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
        })
    })
}

/// Where the user information of `rest`, a URL after its `://`, ends as its
/// writer meant it: at the last `@`, so that a password holding `/`, `?`,
/// `#` or `@` unencoded is read whole; unless what follows that `@` is a
/// query's `name=a@b` rather than a server.
fn meant_userinfo_end(rest: &str) -> Option<usize> {
    let at = rest.rfind('@')?;
    let server_name = rest[at + 1..].split(['/', '?']).next().unwrap_or_default();
    (!server_name.contains(['=', '&'])).then_some(at)
}

/// Where the password of `url`'s user information lies, as a byte range of
/// `url`: as a URL reads it (the user information ends before the first `/`,
/// `?` or `#`) and as its writer meant it ([`meant_userinfo_end`]). The two
/// differ only for a password holding one of those characters unencoded
/// (which [`password_delimiter`] refuses) or a query holding an `@`.
fn userinfo_passwords(url: &str) -> [Option<Range<usize>>; 2] {
    let Some(start) = url.find("://").map(|at| at + 3) else {
        return [None, None];
    };
    let rest = &url[start..];
    let password_before = |at: usize| {
        let colon = rest[..at].find(':')?;
        Some(start + colon + 1..start + at)
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let as_read = authority.rfind('@').and_then(password_before);
    let as_meant = meant_userinfo_end(rest).and_then(password_before);
    [as_read, as_meant]
}

/// The password of `url`'s user information to hide when showing it: as
/// its writer meant it where it is read otherwise (a `/` in it), else as
/// read, so that a query holding an `@` is not taken for part of it.
pub(crate) fn shown_password(url: &str) -> Option<Range<usize>> {
    match userinfo_passwords(url) {
        [None, meant] => meant,
        [Some(read), Some(meant)] if meant != read => {
            let after = url.get(meant.end + 1..).unwrap_or_default();
            Some(if after.contains('/') { meant } else { read })
        }
        [read, _] => read,
    }
}

/// The error for a URL setting `key` whose password holds `delimiter`
/// unencoded (see [`password_delimiter`]), never showing the password.
pub fn password_delimiter_problem(key: &str, delimiter: char) -> Problem {
    if delimiter == '%' {
        return Problem::new(format!(
            "{key}: the password holds a '%' not followed by two hex digits, which a URL reads \
             as the start of a percent-encoded character"
        ))
        .with_hint(format!(
            "percent-encode the password in {key}: % as %25 (and / as %2F, ? as %3F, # as %23), \
             for example in the variable it comes from"
        ));
    }
    Problem::new(format!(
        "{key}: the password holds '{delimiter}', which a URL reads as the end of the server's \
         address, so the password is cut there and the rest taken for the server"
    ))
    .with_hint(format!(
        "percent-encode the password in {key}: / as %2F, ? as %3F, # as %23 (and % as %25), \
         for example in the variable it comes from"
    ))
}

/// Every password `url` holds (in its user information or its query), as
/// written and decoded: text that quotes the URL may hold either.
pub fn url_passwords(url: &str) -> Vec<String> {
    let Some((_, rest)) = url.split_once("://") else {
        return Vec::new();
    };
    // Both readings of the user information: scrubbing one that is not the
    // password costs nothing, missing the password would show it.
    let in_userinfo = userinfo_passwords(url)
        .into_iter()
        .flatten()
        .map(|range| &url[range]);
    let query = rest.split_once('?').map_or("", |(_, query)| query);
    let in_query = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| is_password_param(&decode(key)))
        .map(|(_, value)| value);
    let mut found = Vec::new();
    for raw in in_userinfo.chain(in_query).filter(|p| !p.is_empty()) {
        found.push(raw.to_string());
        found.push(decode(raw));
    }
    found.sort();
    found.dedup();
    found
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// What in the server URL `location` keeps it from parsing as a URL,
/// named (never the password); `None` when it parses, and the driver's own
/// reason applies (the redis crate says only "Redis URL did not parse",
/// sqlx "invalid port number").
pub(crate) fn unparsable_part(location: &str) -> Option<String> {
    let error = url::Url::parse(location).err()?;
    let after_scheme = location
        .split_once("://")
        .map_or(location, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // A port follows the last `:`, but for one inside an IPv6 `[...]`.
    let (host, port) = match host_port.rfind(':') {
        Some(at) if host_port.starts_with('[') == host_port[..at].ends_with(']') => {
            (&host_port[..at], Some(&host_port[at + 1..]))
        }
        _ => (host_port, None),
    };
    Some(match error {
        // Digits are shown; anything else may be a password whose `@HOST`
        // is missing (`postgres://site:Secretpw9/site`): never shown.
        url::ParseError::InvalidPort => match port.unwrap_or_default() {
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
                format!("its port {digits:?} is not a port number (1 to 65535)")
            }
            _ => "the part after the host's ':' is not a port number (if it is \
                  USER:PASSWORD, the @HOST after it is missing)"
                .to_string(),
        },
        // `postgres://USER:PW@/NAME?host=/run/postgresql`, libpq's form,
        // which a URL parser refuses: a user needs a host.
        url::ParseError::EmptyHost => "it names no host (a URL with a user or password needs \
                                       one: for PostgreSQL's unix socket, write localhost and \
                                       the socket's folder as ?host=/run/postgresql)"
            .to_string(),
        url::ParseError::InvalidIpv4Address
        | url::ParseError::InvalidIpv6Address
        | url::ParseError::InvalidDomainCharacter
        | url::ParseError::IdnaError => {
            format!("its host {host:?} is not a host name or an IP address ({error})")
        }
        url::ParseError::RelativeUrlWithoutBase => {
            "it is not a URL (no scheme such as redis://)".to_string()
        }
        other => other.to_string(),
    })
}

/// A query parameter of the URL of `key` that its `driver` does not read
/// (`known`, or what `also_read` accepts): it would connect as if the
/// parameter were not there. Named with the closest one it reads; never
/// its value, which may be a password.
pub(crate) fn unknown_url_parameter(
    key: &str,
    url: &str,
    driver: &str,
    known: &[&str],
    also_read: impl Fn(&str) -> bool,
) -> Option<Problem> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    let names: Vec<_> = form_urlencoded::parse(query.as_bytes())
        .map(|(name, _)| name)
        .collect();
    let at = names
        .iter()
        .position(|name| !known.contains(&name.as_ref()) && !also_read(name))?;
    if at > 0 && is_password_param(&names[at - 1]) {
        // `?pass=ab&cd`: the "parameter" is the rest of a password holding
        // an `&`, not to be shown.
        return Some(
            Problem::new(format!(
                "{key}: the password of its '{}' parameter holds an '&' not percent-encoded, \
                 so the rest of it reads as another parameter",
                names[at - 1]
            ))
            .with_hint(format!("write each '&' of the password as %26 in {key}")),
        );
    }
    let name = &names[at];
    let closest = match crate::conf::closest_name(name, known.iter().copied()) {
        Some(close) if close.eq_ignore_ascii_case(name) => {
            format!("write it '{close}' (the names are case-sensitive), or ")
        }
        Some(close) => format!("did you mean '{close}'? Or "),
        None => String::new(),
    };
    let read = match known {
        [] => "it reads none".to_string(),
        known => format!("the parameters read are {}", known.join(", ")),
    };
    Some(
        Problem::new(format!(
            "{key} has the parameter '{name}', which the {driver} does not read: it would \
             connect as if it were not there"
        ))
        .with_hint(format!("{closest}remove it from {key}; {read}")),
    )
}

/// The message `id` (W006 for databases) for the server `url` of `what`
/// (`the database 'default'`), set by `setting`, when it is on a network
/// address without TLS.
pub fn server_url_problem(id: &str, what: &str, setting: &str, url: &str) -> Option<CheckMessage> {
    let parsed = ServerUrl::parse(url)?;
    if parsed.is_local() || parsed.requires_tls() {
        return None;
    }
    let fix = match parsed.scheme.as_str() {
        "redis" => "write rediss://HOST:PORT/DB (Redis over TLS; a private certificate authority \
                    goes in tls_ca_file, next to location)"
            .to_string(),
        "mysql" | "mariadb" => "add ?ssl-mode=VERIFY_IDENTITY".to_string(),
        _ => "add ?sslmode=verify-full (or sslmode=require)".to_string(),
    };
    Some(CheckMessage::warning(
        id,
        format!(
            "{} is on the network address {} and its connection is not encrypted: passwords and data cross \
             the network in clear.",
            capitalize(what),
            parsed.param(&["host", "hostaddr"]).unwrap_or(&parsed.host)
        ),
        format!("{fix} in {setting}, or connect through localhost or a unix socket"),
    ))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `nuages.W006` for every database.
pub fn check_database_tls(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.settings
        .databases
        .iter()
        .filter_map(|(alias, db)| {
            server_url_problem(
                "nuages.W006",
                &format!("the database '{alias}'"),
                &format!("databases.{alias}.url"),
                &db.url,
            )
        })
        .collect()
}

/// `nuages.W007`: a database URL whose password is written in a settings
/// file (the `${VAR}` of `postgres://site:${DATABASE_PASSWORD}@db/site` or a
/// `NUAGES_DATABASES__<ALIAS>__URL` variable keep it out).
pub fn check_database_password_in_file(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(selected) = &ctx.settings.settings_file else {
        return vec![];
    };
    let mut messages = Vec::new();
    for (alias, db) in &ctx.settings.databases {
        let key = ["databases", alias.as_str(), "url"];
        if let Some(file) = password_written_in(ctx, selected, &key, &db.url) {
            let upper = alias.to_ascii_uppercase();
            messages.push(CheckMessage::warning(
                "nuages.W007",
                format!(
                    "The password of the database '{alias}' is written in {}: anyone who reads the file, its \
                     backups or its version history can connect to the database.",
                    file.display()
                ),
                format!(
                    "write it as ${{{upper}_DATABASE_PASSWORD}} in databases.{alias}.url (\
                     postgres://user:${{{upper}_DATABASE_PASSWORD}}@host/name) and export it in the server's \
                     environment, or set NUAGES_DATABASES__{upper}__URL there instead; then change the password"
                ),
            ));
        }
    }
    messages
}

/// The settings file that holds the password of the server `url` set by
/// `key` (`["caches", "default", "location"]`) written out, rather than
/// read from a `${VARIABLE}` or set by a `NUAGES_…` variable.
pub(crate) fn password_written_in(
    ctx: &CheckContext,
    selected: &std::path::Path,
    key: &[&str],
    url: &str,
) -> Option<std::path::PathBuf> {
    if ServerUrl::parse(url).is_none_or(|url| url.password.is_none()) {
        return None;
    }
    secret_written_in(ctx, selected, key, |raw| ServerUrl::parse(raw)?.password)
}

/// The settings file that writes out the secret of `key`, the part
/// `secret_of` finds in the value as written, rather than reading it from a
/// `${VARIABLE}`; `None` as well when a `NUAGES_…` variable sets the key.
pub(crate) fn secret_written_in(
    ctx: &CheckContext,
    selected: &std::path::Path,
    key: &[&str],
    secret_of: impl Fn(&str) -> Option<String>,
) -> Option<std::path::PathBuf> {
    if ctx.env_overrides(&variable_for(key)) {
        return None;
    }
    let raw = raw_setting(selected, key).ok()??;
    raw.as_str()
        .map(|text| with_defaults_used(text, &ctx.env))
        .and_then(|text| secret_of(&text))
        .is_some_and(|secret| !secret.is_empty() && !secret.contains("${"))
        .then(|| raw.file.clone())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::conf::{DatabaseSettings, Settings};

    /// What an error report scrubs: the password however the URL is
    /// read, one holding `/` or `?` unencoded included.
    #[test]
    fn url_passwords_finds_a_password_holding_url_delimiters() {
        for (url, password) in [
            ("postgres://site:ab/cdLEAK@db/site", "ab/cdLEAK"),
            ("postgres://site:ab?cdLEAK@db/site", "ab?cdLEAK"),
            ("postgres://u:pwLEAK@h/d?application_name=a@b", "pwLEAK"),
            ("postgres://u:p%2FwLEAK@h/d", "p/wLEAK"),
        ] {
            assert!(
                url_passwords(url).iter().any(|p| p == password),
                "{url}: {:?}",
                url_passwords(url)
            );
        }
    }

    #[test]
    fn urls_split_into_what_matters() {
        let url =
            ServerUrl::parse("postgres://site:p%40ss@db.example.com:5432/site?sslmode=require&x")
                .unwrap();
        assert_eq!(url.scheme, "postgres");
        assert_eq!(url.password.as_deref(), Some("p@ss"));
        assert_eq!(url.host, "db.example.com");
        assert!(url.requires_tls() && !url.is_local());
        let v6 = ServerUrl::parse("mysql://u@[::1]:3306/x").unwrap();
        assert_eq!(v6.host, "::1");
        assert!(v6.is_local() && v6.password.is_none());
        // A password in the query counts (W007 finds it written in a file).
        let query = ServerUrl::parse("postgres://app@db/site?Password=x%40y").unwrap();
        assert_eq!(query.password.as_deref(), Some("x@y"));
        let redis = ServerUrl::parse("redis+unix:///run/r.sock?db=1&pass=z").unwrap();
        assert_eq!(redis.password.as_deref(), Some("z"));
        assert!(ServerUrl::parse("sqlite:///srv/db.sqlite3").is_none());
        assert!(
            ServerUrl::parse("postgres:///site?host=/var/run/postgresql")
                .unwrap()
                .is_local()
        );
        assert!(
            ServerUrl::parse("postgres://%2Fvar%2Frun%2Fpostgresql/site")
                .unwrap()
                .is_local()
        );
        assert!(
            ServerUrl::parse("postgres://127.0.0.2/site")
                .unwrap()
                .is_local()
        );
        assert!(
            !ServerUrl::parse("postgres://10.1.2.3/site")
                .unwrap()
                .is_local()
        );
        assert!(
            ServerUrl::parse("mysql://h/x?ssl-mode=VERIFY_IDENTITY")
                .unwrap()
                .requires_tls()
        );
        assert!(
            !ServerUrl::parse("postgres://h/x?sslmode=prefer")
                .unwrap()
                .requires_tls()
        );
    }

    fn with_url(dir: &std::path::Path, file_text: &str) -> Settings {
        let path = dir.join("settings.toml");
        std::fs::write(&path, file_text).unwrap();
        let mut settings = settings_in(dir);
        settings.settings_file = Some(path);
        settings
    }

    fn set_url(settings: &mut Settings, url: &str) {
        settings.databases.insert(
            "default".into(),
            DatabaseSettings {
                url: url.into(),
                ..DatabaseSettings::default()
            },
        );
    }

    #[test]
    fn w006_fires_for_a_network_server_without_tls() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = settings_in(dir.path());
        let run = |s: &Settings| check_database_tls(&CheckContext::new(s, &project));
        assert!(run(&settings).is_empty(), "SQLite is local");
        set_url(&mut settings, "postgres://site@db.example.com/site");
        let messages = run(&settings);
        assert_eq!(ids(&messages), ["nuages.W006"]);
        assert!(
            messages[0]
                .message
                .starts_with("The database 'default' is on the network address db.example.com")
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("sslmode=verify-full")
        );
        set_url(
            &mut settings,
            "postgres://site@db.example.com/site?sslmode=verify-full",
        );
        assert!(run(&settings).is_empty());
        set_url(&mut settings, "postgres://site@localhost/site");
        assert!(run(&settings).is_empty());
    }

    #[test]
    fn w007_fires_for_a_password_written_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let written = "postgres://site:hunter2@localhost/site";
        let mut settings = with_url(
            dir.path(),
            &format!("[databases.default]\nurl = \"{written}\"\n"),
        );
        set_url(&mut settings, written);
        let ctx = |s: &Settings, env: &[(&str, &str)]| {
            check_database_password_in_file(
                &CheckContext::new(s, &project).with_env(env.iter().copied()),
            )
        };
        let messages = ctx(&settings, &[]);
        assert_eq!(ids(&messages), ["nuages.W007"]);
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("${DEFAULT_DATABASE_PASSWORD}")
        );
        // The environment variable beats the file.
        assert!(ctx(&settings, &[("NUAGES_DATABASES__DEFAULT__URL", written)]).is_empty());
        // A password read from a variable.
        let mut settings = with_url(
            dir.path(),
            "[databases.default]\nurl = \"postgres://site:${DB_PASSWORD}@localhost/site\"\n",
        );
        set_url(&mut settings, written);
        assert!(ctx(&settings, &[]).is_empty());
        // No password at all.
        let mut settings = with_url(
            dir.path(),
            "[databases.default]\nurl = \"postgres://site@localhost/site\"\n",
        );
        set_url(&mut settings, "postgres://site@localhost/site");
        assert!(ctx(&settings, &[]).is_empty());
    }

    #[test]
    fn a_server_url_is_a_problem_without_tls_unless_local() {
        assert!(
            server_url_problem("x.W1", "the cache", "cache_url", "redis://10.0.0.5:6379/0")
                .is_some()
        );
        assert!(
            server_url_problem("x.W1", "the cache", "cache_url", "rediss://10.0.0.5:6379/0")
                .is_none()
        );
        assert!(
            server_url_problem(
                "x.W1",
                "the database",
                "url",
                "postgres://db.example.com/site?sslmode=verify-full"
            )
            .is_none()
        );
        assert!(
            server_url_problem("x.W1", "the database", "url", "postgres://localhost/site")
                .is_none()
        );
    }
}
