//! Allowed hosts: every request's host is checked against `allowed_hosts`
//! before any middleware or view sees it, so that nothing builds a URL, a
//! redirect or a password-reset link from a host an attacker chose.
//!
//! The rules (Django's): exact match, case-insensitive, port ignored, one
//! trailing dot ignored; `.example.com` matches `example.com` and its
//! subdomains; `*` matches all. With `debug = true` and an empty list:
//! `localhost`, `.localhost`, `127.0.0.1` and `[::1]`. A malformed host is
//! always refused.
//!
//! Which host a request names:
//!
//! - with `use_x_forwarded_host = true`, `X-Forwarded-Host` when present,
//!   validated whole as Django does: a list (`a, b`, or the header repeated)
//!   is malformed, so a client cannot pick the host by putting it first;
//! - else the authority of an absolute-form target (`GET http://host/path`,
//!   RFC 9112 §3.2.2; HTTP/2's `:authority`), userinfo such as `a@b` refused;
//! - else the `Host` header.
//!
//! Whichever is used, a request with two `Host` lines (whatever their values,
//! RFC 9112 §3.2) or whose target's authority disagrees with `Host` is
//! refused.

use std::borrow::Cow;
use std::net::Ipv6Addr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::response::Response;
use http::StatusCode;
use http::header::HOST;
use http::request::Parts;

use super::RequestHead;
use crate::conf::Settings;
use crate::error::{Error, ErrorReport, Problem, quoted};

/// What `allowed_hosts` means when it is empty and `debug = true`.
pub(crate) const DEBUG_HOSTS: &[&str] = &["localhost", ".localhost", "127.0.0.1", "[::1]"];

/// The longest host name DNS allows (RFC 1035, without the trailing dot).
const MAX_NAME: usize = 253;
/// The longest label DNS allows.
const MAX_LABEL: usize = 63;

/// A well-formed host, as the allowed-hosts check parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Lowercase, without the port and without one trailing dot; an IPv6
    /// address keeps its brackets (`[::1]`), as `allowed_hosts` writes it.
    pub domain: String,
    /// The port, when one was given.
    pub port: Option<u16>,
}

/// Why a host is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum HostError {
    /// No host at all.
    #[error("the host is empty")]
    Empty,
    /// A byte outside ASCII (host names are ASCII; IDNs travel as punycode).
    #[error("the host is not ASCII")]
    NotAscii,
    /// A character no host name has (a space, `@`, `#`, `/`, `_`…).
    #[error("the host contains {0:?}, which a host name cannot contain")]
    InvalidCharacter(char),
    /// `[` without `]`, or brackets around something else than the whole address.
    #[error("the host has an unbalanced or misplaced bracket")]
    BadBrackets,
    /// Brackets around something that is not an IPv6 address.
    #[error("the host's brackets do not hold an IPv6 address")]
    BadIpv6,
    /// A port that is empty, not a number, or over 65535.
    #[error("the port is not a number from 0 to 65535")]
    BadPort,
    /// Two dots in a row, or a leading dot.
    #[error("the host has an empty label")]
    EmptyLabel,
    /// A label over 63 characters.
    #[error("a label of the host is longer than 63 characters")]
    LabelTooLong,
    /// A name over 253 characters.
    #[error("the host is longer than 253 characters")]
    NameTooLong,
}

/// Parse a `Host` header value (`name[:port]` or `[ipv6][:port]`).
///
/// The name is lowercased and one trailing dot removed. Only the letters,
/// digits, `-` and `.` of RFC 1034/1035 names are accepted, as Django does:
/// anything else is more likely an attack on a URL built from the host than
/// a real name.
pub(crate) fn parse_host(raw: &str) -> Result<Host, HostError> {
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    if !raw.is_ascii() {
        return Err(HostError::NotAscii);
    }
    let lower = raw.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(HostError::BadBrackets)?;
        if inside.parse::<Ipv6Addr>().is_err() {
            return Err(HostError::BadIpv6);
        }
        let port = match after {
            "" => None,
            _ => Some(parse_port(
                after.strip_prefix(':').ok_or(HostError::BadBrackets)?,
            )?),
        };
        return Ok(Host {
            domain: format!("[{inside}]"),
            port,
        });
    }
    if lower.contains(['[', ']']) {
        return Err(HostError::BadBrackets);
    }
    let (name, port) = match lower.rsplit_once(':') {
        Some((name, port)) => (name, Some(parse_port(port)?)),
        None => (lower.as_str(), None),
    };
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(HostError::InvalidCharacter(bad));
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if name.len() > MAX_NAME {
        return Err(HostError::NameTooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(HostError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(HostError::LabelTooLong);
        }
    }
    Ok(Host {
        domain: name.to_string(),
        port,
    })
}

fn parse_port(text: &str) -> Result<u16, HostError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::BadPort);
    }
    text.parse().map_err(|_| HostError::BadPort)
}

/// Whether `host` (a lowercase name without port, as in [`Host::domain`], or
/// a `host:port` pair when both sides have ports) is `pattern` or, when
/// `pattern` starts with a dot, `pattern` without the dot or one of its
/// subdomains. Django's `is_same_domain`.
pub(crate) fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    // Compared without lowercased copies: this runs for every request.
    let ends_with = |suffix: &str| {
        host.len() >= suffix.len()
            && host.as_bytes()[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    match pattern.strip_prefix('.') {
        Some(domain) => host.eq_ignore_ascii_case(domain) || ends_with(pattern),
        None => host.eq_ignore_ascii_case(pattern),
    }
}

/// Whether `domain` (from [`parse_host`]) is accepted by the `allowed`
/// patterns: exact (case-insensitive, one trailing dot ignored),
/// `.example.com` for a domain and its subdomains, or `*`.
pub(crate) fn host_allowed<S: AsRef<str>>(domain: &str, allowed: &[S]) -> bool {
    allowed.iter().any(|pattern| {
        let pattern = pattern.as_ref().trim();
        if pattern == "*" {
            return true;
        }
        let pattern = match pattern.strip_suffix('.') {
            Some(stripped) if !stripped.is_empty() => stripped,
            _ => pattern,
        };
        is_same_domain(domain, pattern)
    })
}

/// The patterns in force: `allowed_hosts`, or [`DEBUG_HOSTS`] when it is
/// empty and `debug = true`.
pub(crate) fn effective_allowed_hosts(settings: &Settings) -> Cow<'_, [String]> {
    if settings.allowed_hosts.is_empty() && settings.debug {
        Cow::Owned(DEBUG_HOSTS.iter().map(|h| h.to_string()).collect())
    } else {
        Cow::Borrowed(&settings.allowed_hosts)
    }
}

/// The host the request names, unvalidated (see the [module docs](self)
/// for which one), or why it names none or more than one. Bytes that are
/// not UTF-8 are replaced, so [`parse_host`] refuses them.
pub(crate) fn raw_host(
    request: &impl RequestHead,
    use_x_forwarded_host: bool,
) -> Result<String, HostRefusal> {
    let headers = request.headers();
    let text = |value: &http::HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
    let mut host_lines = headers.get_all(HOST).iter();
    let header = host_lines.next().map(text);
    if host_lines.next().is_some() {
        return Err(HostRefusal::DuplicateHost);
    }
    let target = request.uri().authority().map(|a| a.as_str().to_string());
    if let Some(target) = &target
        && request.uri().scheme().is_none()
    {
        return Err(HostRefusal::AuthorityForm {
            target: target.clone(),
        });
    }
    // HTTP/1.1 requires the header even with the host in the target
    // (RFC 9112, 3.2); HTTP/2 names it in the target alone.
    if header.is_none() && request.version() == http::Version::HTTP_11 {
        return Err(HostRefusal::Missing);
    }
    if let (Some(target), Some(header)) = (&target, &header)
        && !target.eq_ignore_ascii_case(header)
    {
        return Err(HostRefusal::TargetDisagrees {
            target: target.clone(),
            header: header.clone(),
        });
    }
    if use_x_forwarded_host {
        let forwarded: Vec<String> = headers
            .get_all("x-forwarded-host")
            .iter()
            .map(text)
            .collect();
        if !forwarded.is_empty() {
            // Joined as a WSGI server joins a repeated header: the whole
            // list is the value, and no list is a host.
            return Ok(forwarded.join(", "));
        }
    }
    target.or(header).ok_or(HostRefusal::Missing)
}

/// The validated host of the request, put in its extensions by the hosts
/// check: views can extract it to build absolute URLs safely.
///
/// ```
/// use nuages::middleware::hosts::RequestHost;
/// async fn share(host: RequestHost) -> String {
///     format!("https://{}/polls/", host.host)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHost {
    /// The host as the client sent it, port included (`Example.com:8000`).
    pub host: String,
    /// The parsed host.
    pub parsed: Host,
}

impl RequestHost {
    /// The host of a request the request path admitted, by its extensions.
    pub(crate) fn of(extensions: &http::Extensions) -> Option<&RequestHost> {
        extensions
            .get::<crate::state::Admitted>()
            .map(|admitted| &*admitted.host)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestHost {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        RequestHost::of(&parts.extensions).cloned().ok_or_else(|| {
            Error::Config(
                Problem::new("this request did not go through the allowed-hosts check")
                    .with_hint("serve the router through nuages::get_wsgi_application()"),
            )
        })
    }
}

/// Why a host was refused, with what the debug page and the log say.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum HostRefusal {
    /// The request names no host at all.
    Missing,
    /// Two `Host` header lines, whatever their values (RFC 9112 §3.2).
    DuplicateHost,
    /// A target in authority form (`GET example.com:443`), which only a
    /// proxy's CONNECT uses (RFC 9112 §3.2.3): this site is no proxy.
    AuthorityForm {
        /// The request target.
        target: String,
    },
    /// An absolute-form target whose authority is not the `Host` header's
    /// value (RFC 9112 §3.2.2).
    TargetDisagrees {
        /// The authority of the request target.
        target: String,
        /// The `Host` header.
        header: String,
    },
    /// The host is malformed.
    Malformed {
        /// The host as sent.
        raw: String,
        /// What is wrong with it.
        error: HostError,
    },
    /// A well-formed host that `allowed_hosts` does not accept.
    NotAllowed {
        /// The host as sent.
        raw: String,
        /// The domain to add to `allowed_hosts`.
        domain: String,
    },
}

impl HostRefusal {
    /// The 400 response, whose debug page explains the fix.
    pub fn report(&self) -> ErrorReport {
        match self {
            HostRefusal::Missing => ErrorReport {
                chain: vec![
                    "Invalid HTTP_HOST header: ''. The request names no host.".into(),
                ],
                hint: Some(
                    "the client sent neither a Host header nor an absolute URI; a proxy in front must pass the Host header through"
                        .into(),
                ),
            },
            HostRefusal::DuplicateHost => ErrorReport {
                chain: vec![
                    "Invalid HTTP_HOST header: the request has more than one Host header line.".into(),
                ],
                hint: Some(
                    "a request names one host (RFC 9112 §3.2); a proxy in front must pass the client's Host header through, not add another"
                        .into(),
                ),
            },
            HostRefusal::AuthorityForm { target } => ErrorReport {
                chain: vec![format!(
                    "The request target {} is a host alone (authority form), used only by a proxy's CONNECT, which this server does not serve.",
                    quoted(target)
                )],
                hint: Some(
                    "this site is no proxy: a request names a path (GET /path) or an absolute URL (GET http://host/path)"
                        .into(),
                ),
            },
            HostRefusal::TargetDisagrees { target, header } => ErrorReport {
                chain: vec![format!(
                    "Invalid HTTP_HOST header: the request target names {} but its Host header is {}.",
                    quoted(target),
                    quoted(header)
                )],
                hint: Some(
                    "a request whose target is an absolute URL (GET http://host/path) names its host there, and its Host header must agree; a proxy in front should send the path only (GET /path)"
                        .into(),
                ),
            },
            HostRefusal::Malformed { raw, error } => ErrorReport {
                chain: vec![
                    format!(
                        "Invalid HTTP_HOST header: {}. The domain name provided is not valid according to RFC 1034/1035.",
                        quoted(raw)
                    ),
                    error.to_string(),
                ],
                hint: Some(
                    "no allowed_hosts entry can accept a malformed host; check that the proxy in front passes the client's Host header unchanged"
                        .into(),
                ),
            },
            HostRefusal::NotAllowed { raw, domain } => ErrorReport {
                chain: vec![format!(
                    "Invalid HTTP_HOST header: {}. You may need to add {} to allowed_hosts.",
                    quoted(raw),
                    quoted(domain)
                )],
                hint: Some(format!(
                    "allowed_hosts lists the host names this site answers to: write allowed_hosts = [\"{domain}\"] in the settings file (\".{domain}\" also matches its subdomains)"
                )),
            },
        }
    }

    fn log(&self) {
        match self {
            HostRefusal::Missing => tracing::warn!(
                target: "nuages::security::disallowed_host",
                "Invalid HTTP_HOST header: the request names no host"
            ),
            HostRefusal::DuplicateHost => tracing::warn!(
                target: "nuages::security::disallowed_host",
                "Invalid HTTP_HOST header: the request has more than one Host header line"
            ),
            HostRefusal::AuthorityForm { target } => tracing::warn!(
                target: "nuages::security::disallowed_host",
                "Invalid request target: {target:?} is in authority form, used only by CONNECT, \
                 which this server (no proxy) does not serve"
            ),
            HostRefusal::TargetDisagrees { target, header } => tracing::warn!(
                target: "nuages::security::disallowed_host",
                host = ?header,
                "Invalid HTTP_HOST header: the request target names {target:?} but its Host header is {header:?}"
            ),
            HostRefusal::Malformed { raw, error } => tracing::warn!(
                target: "nuages::security::disallowed_host",
                host = ?raw,
                "Invalid HTTP_HOST header: {raw:?}: {error}"
            ),
            HostRefusal::NotAllowed { raw, domain } => tracing::warn!(
                target: "nuages::security::disallowed_host",
                host = ?raw,
                "Invalid HTTP_HOST header: {raw:?}. You may need to add {domain:?} to allowed_hosts."
            ),
        }
    }
}

/// Check the request's host against the settings.
pub(crate) fn validate(
    request: &impl RequestHead,
    settings: &Settings,
) -> Result<RequestHost, HostRefusal> {
    let raw = raw_host(request, settings.use_x_forwarded_host)?;
    let parsed = parse_host(&raw).map_err(|error| HostRefusal::Malformed {
        raw: raw.clone(),
        error,
    })?;
    if !host_allowed(&parsed.domain, &effective_allowed_hosts(settings)) {
        return Err(HostRefusal::NotAllowed {
            domain: parsed.domain,
            raw,
        });
    }
    Ok(RequestHost { host: raw, parsed })
}

/// The check the request path always runs first: the validated host, which
/// the request path puts in the request's extensions (see
/// [`Admitted`](crate::state::Admitted)), or the 400 that refuses a request
/// whose host is malformed or not allowed, with a warning naming the host.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the response the request path answers with at once"
)]
pub(crate) fn admit(
    request: &Request,
    settings: &Settings,
    accepted: &AcceptedHosts,
) -> Result<Arc<RequestHost>, Response> {
    let header = AcceptedHosts::plain_header(request, settings);
    if let Some(host) = header.and_then(|header| accepted.find(header)) {
        return Ok(host);
    }
    match validate(request, settings) {
        Ok(host) => {
            let host = Arc::new(host);
            if header.is_some() {
                accepted.remember(&host);
            }
            Ok(host)
        }
        Err(refusal) => {
            refusal.log();
            Err(ErrorReport::response(
                StatusCode::BAD_REQUEST,
                refusal.report(),
            ))
        }
    }
}

/// The first hosts the check accepted, by the exact `Host` header that
/// named them: a request that names its host only by that one header
/// (not in its target, no `X-Forwarded-Host` in use) is accepted again
/// without parsing it again, since the answer depends on those bytes and
/// the settings alone. Only accepted hosts are kept, and only the first
/// few (a site is served under a handful of names): nothing a client sends
/// can grow it or push a host out.
#[derive(Debug, Default)]
pub(crate) struct AcceptedHosts([std::sync::OnceLock<Arc<RequestHost>>; 4]);

impl AcceptedHosts {
    /// The request's one `Host` header, when it alone names the host.
    fn plain_header<'r>(
        request: &'r Request,
        settings: &Settings,
    ) -> Option<&'r http::HeaderValue> {
        let headers = request.headers();
        if request.uri().authority().is_some()
            || (settings.use_x_forwarded_host && headers.contains_key("x-forwarded-host"))
        {
            return None;
        }
        let mut hosts = headers.get_all(HOST).iter();
        let header = hosts.next()?;
        hosts.next().is_none().then_some(header)
    }

    fn find(&self, header: &http::HeaderValue) -> Option<Arc<RequestHost>> {
        self.0
            .iter()
            .map_while(std::sync::OnceLock::get)
            .find(|host| host.host.as_bytes() == header.as_bytes())
            .cloned()
    }

    fn remember(&self, host: &Arc<RequestHost>) {
        for slot in &self.0 {
            match slot.get() {
                Some(kept) if kept == host => return,
                Some(_) => continue,
                None => {
                    if slot.set(host.clone()).is_ok() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host accepted once is accepted again with the same answer; a
    /// refused one is refused every time; a host named otherwise (in the
    /// target, twice) is checked in full; only a few are kept.
    #[test]
    fn accepted_hosts_are_remembered_by_their_exact_header() {
        let settings = Settings {
            allowed_hosts: vec![".example.com".into()],
            ..Settings::default()
        };
        let accepted = AcceptedHosts::default();
        let admit_host = |host: &str| {
            let request = http::Request::builder()
                .uri("/")
                .header(HOST, host)
                .body(axum::body::Body::empty())
                .unwrap();
            match admit(&request, &settings, &accepted) {
                Ok(host) => (None, Some(RequestHost::clone(&host))),
                Err(refused) => (Some(refused.status()), None),
            }
        };
        let (refused, first) = admit_host("WWW.Example.com:8000");
        assert_eq!(refused, None);
        let first = first.unwrap();
        assert_eq!(first.parsed.domain, "www.example.com");
        assert_eq!(admit_host("WWW.Example.com:8000").1, Some(first.clone()));
        // Another spelling is checked on its own.
        let other = admit_host("www.example.com").1.unwrap();
        assert_eq!(other.host, "www.example.com");
        assert_eq!(other.parsed.port, None);
        for _ in 0..2 {
            assert_eq!(admit_host("evil.org").0, Some(StatusCode::BAD_REQUEST));
        }
        for n in 0..10 {
            let host = format!("h{n}.example.com");
            assert_eq!(admit_host(&host).1.unwrap().host, host);
        }
        assert!(accepted.0.iter().all(|slot| slot.get().is_some()));
        assert!(
            accepted
                .0
                .iter()
                .all(|slot| !slot.get().unwrap().host.contains("evil"))
        );
        // Two Host headers: refused, whatever is kept.
        let request = http::Request::builder()
            .uri("/")
            .header(HOST, "WWW.Example.com:8000")
            .header(HOST, "evil.org")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(admit(&request, &settings, &accepted).is_err());
        // A target naming another host than the header: refused.
        let request = http::Request::builder()
            .uri("http://evil.org/")
            .header(HOST, "WWW.Example.com:8000")
            .body(axum::body::Body::empty())
            .unwrap();
        assert!(admit(&request, &settings, &accepted).is_err());
    }

    /// (host header, allowed_hosts, accepted?)
    const CASES: &[(&str, &[&str], bool)] = &[
        ("example.com", &["example.com"], true),
        ("EXAMPLE.com", &["example.com"], true),
        ("example.com", &["Example.COM"], true),
        ("example.com:8000", &["example.com"], true),
        ("example.com.", &["example.com"], true),
        ("example.com.:443", &["example.com"], true),
        ("example.com", &["example.com."], true),
        ("example.com..", &["example.com"], false),
        ("www.example.com", &["example.com"], false),
        ("www.example.com", &[".example.com"], true),
        ("a.b.example.com", &[".example.com"], true),
        ("example.com", &[".example.com"], true),
        ("evilexample.com", &[".example.com"], false),
        ("example.com.evil.org", &[".example.com"], false),
        ("example.com.evil.org", &["example.com"], false),
        ("localhost.evil.example", &["localhost"], false),
        ("localhost.evil.example", &[".localhost"], false),
        ("evil.example#.example.com", &[".example.com"], false),
        ("evil.example/.example.com", &[".example.com"], false),
        ("example.com@evil.org", &["*"], false),
        ("user@example.com", &["example.com"], false),
        ("exa mple.com", &["*"], false),
        (" example.com", &["example.com"], false),
        ("example.com ", &["example.com"], false),
        ("anything.test", &["*"], true),
        ("anything.test:1", &["*"], true),
        ("[::1]", &["[::1]"], true),
        ("[::1]:8000", &["[::1]"], true),
        ("[::1", &["*"], false),
        ("::1]", &["*"], false),
        ("[::1]x", &["*"], false),
        ("[::1]]", &["*"], false),
        ("[zz::1]", &["*"], false),
        ("[127.0.0.1]", &["*"], false),
        ("::1", &["*"], false),
        ("127.0.0.1", &["127.0.0.1"], true),
        ("127.0.0.1:80", &["127.0.0.1"], true),
        ("127.0.0.2", &["127.0.0.1"], false),
        ("", &["*"], false),
        (".", &["*"], false),
        (":80", &["*"], false),
        ("example.com:", &["*"], false),
        ("example.com:65536", &["*"], false),
        ("example.com:-1", &["*"], false),
        ("example.com:80:80", &["*"], false),
        ("ex_ample.com", &["*"], false),
        ("exämple.com", &["*"], false),
        ("xn--exmple-cua.com", &["xn--exmple-cua.com"], true),
        (".example.com", &["*"], false),
        ("a..example.com", &["*"], false),
        ("example.com", &[], false),
        ("example.com", &["example.org", "example.com"], true),
        ("example.com", &["."], false),
    ];

    #[test]
    fn host_table() {
        assert!(CASES.len() >= 30);
        for (raw, allowed, expected) in CASES {
            let accepted = parse_host(raw)
                .map(|host| host_allowed(&host.domain, allowed))
                .unwrap_or(false);
            assert_eq!(accepted, *expected, "host {raw:?} with {allowed:?}");
        }
    }

    #[test]
    fn lengths_are_limited() {
        let label = "a".repeat(63);
        assert!(parse_host(&format!("{label}.com")).is_ok());
        assert_eq!(
            parse_host(&format!("a{label}.com")),
            Err(HostError::LabelTooLong)
        );
        let name = vec!["a".repeat(49); 5].join(".");
        assert_eq!(name.len(), 249);
        assert!(parse_host(&name).is_ok());
        assert!(parse_host(&format!("{name}.")).is_ok());
        let long = vec!["a".repeat(50); 5].join(".");
        assert_eq!(parse_host(&long), Err(HostError::NameTooLong));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(parse_host(""), Err(HostError::Empty));
        assert_eq!(parse_host("é.com"), Err(HostError::NotAscii));
        assert_eq!(parse_host("a b"), Err(HostError::InvalidCharacter(' ')));
        assert_eq!(parse_host("a@b"), Err(HostError::InvalidCharacter('@')));
        assert_eq!(parse_host("[::1"), Err(HostError::BadBrackets));
        assert_eq!(parse_host("a]b"), Err(HostError::BadBrackets));
        assert_eq!(parse_host("[x]"), Err(HostError::BadIpv6));
        assert_eq!(parse_host("a:b"), Err(HostError::BadPort));
        assert_eq!(parse_host("a..b"), Err(HostError::EmptyLabel));
        assert_eq!(
            parse_host("Example.COM.:8080"),
            Ok(Host {
                domain: "example.com".into(),
                port: Some(8080)
            })
        );
        assert_eq!(
            parse_host("[::FFFF:1]:1"),
            Ok(Host {
                domain: "[::ffff:1]".into(),
                port: Some(1)
            })
        );
    }

    #[test]
    fn debug_allows_local_names_only_when_the_list_is_empty() {
        let mut settings = Settings {
            debug: true,
            ..Settings::default()
        };
        for host in ["localhost", "api.localhost", "127.0.0.1", "[::1]"] {
            let domain = parse_host(host).unwrap().domain;
            assert!(
                host_allowed(&domain, &effective_allowed_hosts(&settings)),
                "{host}"
            );
        }
        assert!(!host_allowed(
            "example.com",
            &effective_allowed_hosts(&settings)
        ));
        settings.allowed_hosts = vec!["example.com".into()];
        assert!(!host_allowed(
            "localhost",
            &effective_allowed_hosts(&settings)
        ));
        settings.allowed_hosts.clear();
        settings.debug = false;
        assert!(!host_allowed(
            "localhost",
            &effective_allowed_hosts(&settings)
        ));
    }

    fn request(headers: &[(&str, &str)], uri: &str) -> http::Request<()> {
        let mut builder = http::Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_host_comes_from_the_target_then_host() {
        let r = request(&[("host", "a.test")], "/x");
        assert_eq!(raw_host(&r, false).as_deref(), Ok("a.test"));
        // HTTP/2 names the host in the target alone; HTTP/1.1 must send
        // the header too (RFC 9112, 3.2), HTTP/1.0 need not.
        let over = |version, uri| {
            let mut r = request(&[], uri);
            *r.version_mut() = version;
            r
        };
        let r = over(http::Version::HTTP_2, "http://b.test:81/x");
        assert_eq!(raw_host(&r, false).as_deref(), Ok("b.test:81"));
        let r = over(http::Version::HTTP_10, "http://b.test:81/x");
        assert_eq!(raw_host(&r, false).as_deref(), Ok("b.test:81"));
        let r = request(&[], "http://b.test:81/x");
        assert_eq!(raw_host(&r, false), Err(HostRefusal::Missing));
        let r = request(&[("host", "B.Test:81")], "http://b.test:81/x");
        assert_eq!(raw_host(&r, false).as_deref(), Ok("b.test:81"));
        let r = over(http::Version::HTTP_2, "http://user@b.test/x");
        let raw = raw_host(&r, false).unwrap();
        assert!(parse_host(&raw).is_err(), "{raw}");
        let r = request(&[], "/x");
        assert_eq!(raw_host(&r, false), Err(HostRefusal::Missing));
    }

    #[test]
    fn a_target_that_disagrees_with_host_is_refused() {
        for (host, target) in [
            ("a.test", "http://b.test/"),
            ("b.test", "http://b.test:80/"),
            ("b.test", "http://user@b.test/"),
        ] {
            let r = request(&[("host", host)], target);
            assert_eq!(
                raw_host(&r, false),
                Err(HostRefusal::TargetDisagrees {
                    target: target["http://".len()..target.len() - 1].into(),
                    header: host.into(),
                }),
                "{host} {target}"
            );
        }
    }

    #[test]
    fn two_host_lines_are_refused() {
        for second in ["a.test", "b.test"] {
            let r = request(&[("host", "a.test"), ("host", second)], "/");
            assert_eq!(raw_host(&r, false), Err(HostRefusal::DuplicateHost));
            assert_eq!(raw_host(&r, true), Err(HostRefusal::DuplicateHost));
        }
    }

    #[test]
    fn x_forwarded_host_is_used_only_when_configured() {
        let r = request(
            &[("host", "proxy.internal"), ("x-forwarded-host", "a.test")],
            "/",
        );
        assert_eq!(raw_host(&r, false).as_deref(), Ok("proxy.internal"));
        assert_eq!(raw_host(&r, true).as_deref(), Ok("a.test"));
        let r = request(&[("host", "proxy.internal")], "/");
        assert_eq!(raw_host(&r, true).as_deref(), Ok("proxy.internal"));
    }

    #[test]
    fn a_forwarded_host_list_is_one_malformed_host() {
        for headers in [
            &[("x-forwarded-host", "a.test, b.test")][..],
            &[
                ("x-forwarded-host", "a.test"),
                ("x-forwarded-host", "b.test"),
            ][..],
        ] {
            let mut all = vec![("host", "proxy.internal")];
            all.extend_from_slice(headers);
            let r = request(&all, "/");
            let raw = raw_host(&r, true).unwrap();
            assert_eq!(raw, "a.test, b.test");
            assert_eq!(parse_host(&raw), Err(HostError::InvalidCharacter(',')));
        }
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever the header holds, parsing returns (never panics), and
            /// an accepted host is a clean lowercase name that matches itself.
            #[test]
            fn any_input_parses_or_is_refused(raw in "\\PC{0,80}|[a-zA-Z0-9.:\\[\\]@ _-]{0,80}") {
                if let Ok(host) = parse_host(&raw) {
                    prop_assert!(!host.domain.is_empty());
                    prop_assert!(host.domain.len() <= MAX_NAME || host.domain.starts_with('['));
                    prop_assert!(host.domain.is_ascii());
                    prop_assert_eq!(host.domain.to_ascii_lowercase(), host.domain.clone());
                    prop_assert!(!host.domain.ends_with('.'));
                    prop_assert!(!host.domain.contains(['@', ' ', '/', '#']));
                    prop_assert!(host_allowed(&host.domain, &[host.domain.as_str()]));
                    prop_assert!(host_allowed(&host.domain, &["*"]));
                }
            }

            /// Well-formed names with any case, port and trailing dot parse
            /// back to the lowercase name.
            #[test]
            fn valid_names_round_trip(
                labels in prop::collection::vec("[a-zA-Z0-9-]{1,20}", 1..5),
                dot in any::<bool>(),
                port in prop::option::of(any::<u16>()),
            ) {
                let name = labels.join(".");
                let mut raw = name.clone();
                if dot { raw.push('.'); }
                if let Some(port) = port { raw.push_str(&format!(":{port}")); }
                let host = parse_host(&raw).unwrap();
                prop_assert_eq!(&host.domain, &name.to_ascii_lowercase());
                prop_assert_eq!(host.port, port);
            }

            /// `.example.com` accepts exactly the domain and its subdomains.
            #[test]
            fn subdomain_patterns_match_only_subdomains(domain in "[a-z0-9.-]{1,40}") {
                if let Ok(host) = parse_host(&domain) {
                    let accepted = host_allowed(&host.domain, &[".example.com"]);
                    let expected = host.domain == "example.com" || host.domain.ends_with(".example.com");
                    prop_assert_eq!(accepted, expected);
                }
            }
        }
    }

    #[test]
    fn validate_names_the_domain_to_add() {
        let settings = Settings {
            allowed_hosts: vec!["example.com".into()],
            ..Settings::default()
        };
        let r = request(&[("host", "Evil.test:8000")], "/");
        let refusal = validate(&r, &settings).unwrap_err();
        let report = refusal.report();
        assert_eq!(
            report.chain[0],
            "Invalid HTTP_HOST header: 'Evil.test:8000'. You may need to add 'evil.test' to allowed_hosts."
        );
        assert!(report.hint.unwrap().contains("allowed_hosts"));
        let r = request(&[("host", "EXAMPLE.com:8000")], "/");
        let host = validate(&r, &settings).unwrap();
        assert_eq!(host.host, "EXAMPLE.com:8000");
        assert_eq!(host.parsed.domain, "example.com");
        assert_eq!(
            validate(&request(&[], "/"), &settings),
            Err(HostRefusal::Missing)
        );
    }

    #[test]
    fn hosts_are_normalised_then_matched_as_django_does() {
        let host = parse_host("WWW.Example.com.:8000").unwrap();
        assert_eq!(host.domain, "www.example.com");
        assert!(host_allowed(&host.domain, &[".example.com"]));
        assert!(!host_allowed("example.com.evil.org", &[".example.com"]));
        assert!(parse_host("example.com@evil.org").is_err());
    }
}
