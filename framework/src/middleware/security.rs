//! `security`: Django's `SecurityMiddleware`.
//!
//! - `X-Content-Type-Options: nosniff` (`secure_content_type_nosniff`),
//!   `Referrer-Policy` (`secure_referrer_policy`) and
//!   `Cross-Origin-Opener-Policy` (`secure_cross_origin_opener_policy`) on
//!   every response; an empty policy sends no header;
//! - `Strict-Transport-Security` on secure requests when
//!   `secure_hsts_seconds > 0` (with `includeSubDomains` and `preload` when
//!   asked);
//! - with `secure_ssl_redirect`, a 301 from `http://` to the same URL on
//!   `https://`, except for paths matched by a `secure_redirect_exempt`
//!   regular expression (searched in the path without its leading slash).
//!
//! The redirect runs where `security` stands in the `middleware` setting;
//! the headers are set by the response-headers layer,
//! outermost in the request path, so that the responses the framework makes
//! before or around the middleware (a refused host, 413, error pages) carry
//! them too, as Django's do. A header a view already set is left alone.
//!
//! A request is secure when, and only when, the
//! server marked the connection with [`ConnectionInfo`], or
//! `secure_proxy_ssl_header` matches. The scheme of the request target
//! (`GET https://host/ HTTP/1.1` over plain TCP) is the client's say, and
//! never makes a request secure.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::{LOCATION, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use regex::Regex;

use super::RequestHead;
use super::hosts::RequestHost;
use crate::conf::Settings;
use crate::error::{Error, Problem, Result};
use crate::state::AppState;

/// What the server knows about the connection a request came on. A server
/// that terminates TLS itself inserts it in the request's extensions so
/// the framework can tell (https redirect, secure cookies, CSRF's referer
/// check); `nuages::server::serve` never terminates TLS,
/// so its connections are plain.
///
/// Hosting the application behind an in-process TLS acceptor:
///
/// ```
/// use axum::extract::Request;
/// use nuages::middleware::security::ConnectionInfo;
/// # fn wrap(application: nuages::Application) -> axum::Router {
/// // Every request this router gets came over TLS.
/// axum::Router::new()
///     .fallback_service(application)
///     .layer(axum::middleware::map_request(|mut request: Request| async move {
///         request.extensions_mut().insert(ConnectionInfo { secure: true });
///         request
///     }))
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The connection is encrypted (TLS).
    pub secure: bool,
}

const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");

/// The `Referrer-Policy` values browsers know.
pub(crate) const REFERRER_POLICIES: &[&str] = &[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// The `Cross-Origin-Opener-Policy` values browsers know.
pub(crate) const OPENER_POLICIES: &[&str] = &[
    "same-origin",
    "same-origin-allow-popups",
    "noopener-allow-popups",
    "unsafe-none",
];

/// Whether the request came over HTTPS: a [`ConnectionInfo`] says the
/// connection is secure, or the `secure_proxy_ssl_header = [name, value]`
/// header's first value is exactly `value` (only behind a proxy that sets or
/// strips that header). The one place that decides it: the headers, the
/// https redirect and CSRF's origin checks all ask here.
///
/// The scheme of the request target is not looked at: a client may write
/// `GET https://example.com/ HTTP/1.1` (or an HTTP/2 `:scheme` of https) on
/// a plain connection.
pub(crate) fn is_secure(request: &impl RequestHead, settings: &Settings) -> bool {
    if request
        .extensions()
        .get::<ConnectionInfo>()
        .is_some_and(|info| info.secure)
    {
        return true;
    }
    match settings.secure_proxy_ssl_header.as_deref() {
        Some([name, expected]) => proxy_says_secure(request.headers(), name, expected),
        _ => false,
    }
}

/// Django reads the first of several comma-separated values: the one the
/// proxy nearest the client wrote.
fn proxy_says_secure(headers: &HeaderMap, name: &str, expected: &str) -> bool {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|first| first.trim() == expected)
}

/// The `Strict-Transport-Security` value of the `secure_hsts_*` settings, if
/// HSTS is on; the web server configs of `deployconfig` send the same.
pub(crate) fn hsts_value(settings: &Settings) -> Option<String> {
    (settings.secure_hsts_seconds > 0).then(|| {
        let mut value = format!("max-age={}", settings.secure_hsts_seconds);
        if settings.secure_hsts_include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if settings.secure_hsts_preload {
            value.push_str("; preload");
        }
        value
    })
}

/// Check `secure_proxy_ssl_header` once, when a middleware that reads it is
/// built: a setting that can never match must not fail silently.
pub(crate) fn check_proxy_ssl_header(settings: &Settings) -> Result<()> {
    let Some(pair) = &settings.secure_proxy_ssl_header else {
        return Ok(());
    };
    let invalid = |why: String| {
        Error::Config(Problem::new(format!("secure_proxy_ssl_header {pair:?} is invalid: {why}")).with_hint("write it as [\"X-Forwarded-Proto\", \"https\"]: the header your proxy sets, and the value it sets on HTTPS requests"))
    };
    let [name, value] = pair.as_slice() else {
        return Err(invalid(format!("it has {} items instead of 2", pair.len())));
    };
    if name.to_ascii_uppercase().starts_with("HTTP_") {
        return Err(invalid(format!(
            "'{name}' is a Django META key; write the header as sent, like '{}'",
            name[5..].replace('_', "-")
        )));
    }
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(invalid(format!("'{name}' is not a header name")));
    }
    if value.is_empty() || HeaderValue::from_str(value).is_err() {
        return Err(invalid(format!("{value:?} is not a header value")));
    }
    Ok(())
}

/// The headers of the `security` middleware, from the settings, checked
/// once; the response-headers layer sets them on every response.
#[derive(Debug, Clone)]
pub(crate) struct SecurityHeaders {
    nosniff: bool,
    referrer_policy: Option<HeaderValue>,
    opener_policy: Option<HeaderValue>,
    hsts: Option<HeaderValue>,
}

impl SecurityHeaders {
    /// Compile the settings; an invalid policy is an error naming it.
    pub fn new(settings: &Settings) -> Result<SecurityHeaders> {
        let referrer_policy = referrer_policy(settings)?;
        let opener_policy = opener_policy(settings)?;
        let hsts = hsts_value(settings).map(|value| {
            HeaderValue::from_str(&value).expect("digits and ASCII words are a valid header value")
        });
        Ok(SecurityHeaders {
            nosniff: settings.secure_content_type_nosniff,
            referrer_policy,
            opener_policy,
            hsts,
        })
    }

    /// Add the headers `headers` lacks; HSTS only on a `secure` request.
    pub fn add_to(&self, headers: &mut HeaderMap, secure: bool) {
        if let Some(hsts) = &self.hsts
            && secure
        {
            headers
                .entry(STRICT_TRANSPORT_SECURITY)
                .or_insert_with(|| hsts.clone());
        }
        if self.nosniff {
            headers
                .entry(X_CONTENT_TYPE_OPTIONS)
                .or_insert_with(|| HeaderValue::from_static("nosniff"));
        }
        if let Some(policy) = &self.referrer_policy {
            headers
                .entry(REFERRER_POLICY)
                .or_insert_with(|| policy.clone());
        }
        if let Some(policy) = &self.opener_policy {
            headers.entry(COOP).or_insert_with(|| policy.clone());
        }
    }
}

/// The `security` middleware's redirect settings, checked and compiled once.
#[derive(Debug)]
pub(crate) struct SecurityConfig {
    app: Arc<AppState>,
    ssl_redirect: bool,
    redirect_exempt: Vec<Regex>,
}

impl SecurityConfig {
    /// Compile the settings of `app`; an invalid value is an error naming it.
    pub fn new(app: Arc<AppState>) -> Result<SecurityConfig> {
        let settings = &app.settings;
        check_proxy_ssl_header(settings)?;
        let redirect_exempt = settings
            .secure_redirect_exempt
            .iter()
            .map(|pattern| redirect_exempt_pattern(pattern))
            .collect::<Result<Vec<_>>>()?;
        Ok(SecurityConfig {
            ssl_redirect: settings.secure_ssl_redirect,
            redirect_exempt,
            app,
        })
    }

    /// Whether `secure_ssl_redirect` is on: without it the middleware has
    /// nothing to do at its place in the stack.
    pub fn redirects(&self) -> bool {
        self.ssl_redirect
    }

    /// Whether `path` (with its leading slash) is exempt from the HTTPS redirect.
    pub fn redirect_exempt(&self, path: &str) -> bool {
        let relative = path.strip_prefix('/').unwrap_or(path);
        self.redirect_exempt.iter().any(|re| re.is_match(relative))
    }
}

/// One `secure_redirect_exempt` entry, compiled; an invalid regular
/// expression is the error `check` reports as `nuages.E008`.
pub(crate) fn redirect_exempt_pattern(pattern: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|error| Error::Config(Problem::new(format!(
            "secure_redirect_exempt has an invalid regular expression '{pattern}': {error}"
        )).with_hint("entries are regular expressions searched in the path without its leading slash, like \"^healthz/$\"")))
}

/// `Referrer-Policy` from `secure_referrer_policy` (a comma-separated
/// fallback list); an unknown value is `security.E023`.
pub(crate) fn referrer_policy(settings: &Settings) -> Result<Option<HeaderValue>> {
    policy(
        "secure_referrer_policy",
        &settings.secure_referrer_policy,
        REFERRER_POLICIES,
        true,
    )
}

/// `Cross-Origin-Opener-Policy` from `secure_cross_origin_opener_policy`;
/// an unknown value is `security.E024`.
pub(crate) fn opener_policy(settings: &Settings) -> Result<Option<HeaderValue>> {
    policy(
        "secure_cross_origin_opener_policy",
        &settings.secure_cross_origin_opener_policy,
        OPENER_POLICIES,
        false,
    )
}

/// A policy setting: empty means no header; otherwise every comma-separated
/// value must be one browsers know, or the header would be ignored (and the
/// site silently unprotected).
fn policy(
    key: &str,
    value: &str,
    known: &[&'static str],
    list: bool,
) -> Result<Option<HeaderValue>> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let values: Vec<&str> = if list {
        value.split(',').map(str::trim).collect()
    } else {
        vec![value]
    };
    if let Some(bad) = values.iter().find(|v| !known.contains(v)) {
        return Err(Error::Config(
            Problem::new(format!("{key} has an unknown value '{bad}'")).with_hint(format!(
                "{}use one of: {} (or \"\" to send no header)",
                super::did_you_mean(bad, known),
                known.join(", ")
            )),
        ));
    }
    // One known value (the usual case) is the list's own static text: a
    // static `HeaderValue` is copied onto every response without touching a
    // reference count that the server's threads would share.
    if let [one] = values.as_slice()
        && let Some(known) = known.iter().find(|known| **known == *one)
    {
        return Ok(Some(HeaderValue::from_static(known)));
    }
    Ok(Some(HeaderValue::from_str(&values.join(", ")).map_err(
        |_| Error::Config(Problem::new(format!("{key} is not a valid header value"))),
    )?))
}

/// The `security` middleware at its place in the stack: the redirect of a
/// plain-http request to https when `secure_ssl_redirect` asks for it.
pub(crate) fn process_request(config: &SecurityConfig, request: &Request) -> Option<Response> {
    let redirect = config.ssl_redirect
        && !is_secure(request, &config.app.settings)
        && !config.redirect_exempt(request.uri().path());
    redirect.then(|| https_redirect(request, &config.app.settings))
}

/// 301 to the same host, path and query on https. The host is the one the
/// hosts check validated, so the redirect cannot be pointed elsewhere.
fn https_redirect(request: &Request, settings: &Settings) -> Response {
    let host = match RequestHost::of(request.extensions()) {
        Some(host) => host.host.clone(),
        None => match super::hosts::validate(request, settings) {
            Ok(host) => host.host,
            Err(refusal) => {
                return crate::error::ErrorReport::response(
                    StatusCode::BAD_REQUEST,
                    refusal.report(),
                );
            }
        },
    };
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    // An asterisk-form target (`OPTIONS * HTTP/1.1`) has no leading slash;
    // its path is `/*`, as Django's request path makes of it, so the URL
    // never runs on from the host (`https://example.com*`).
    let slash = if target.starts_with('/') { "" } else { "/" };
    let location = format!("https://{host}{slash}{target}");
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::MOVED_PERMANENTLY, [(LOCATION, location)]).into_response(),
        Err(_) => Error::BadRequest("the URL cannot be redirected to https".into()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_by_marker_or_proxy_header_never_by_the_target() {
        let mut settings = Settings::default();
        let plain = http::Request::builder().uri("/").body(()).unwrap();
        assert!(!is_secure(&plain, &settings));
        let https = http::Request::builder()
            .uri("https://example.com/")
            .body(())
            .unwrap();
        assert!(!is_secure(&https, &settings));
        let mut marked = http::Request::builder().uri("/").body(()).unwrap();
        marked
            .extensions_mut()
            .insert(ConnectionInfo { secure: true });
        assert!(is_secure(&marked, &settings));

        let proxied = |value: &str| {
            http::Request::builder()
                .uri("/")
                .header("x-forwarded-proto", value)
                .body(())
                .unwrap()
        };
        assert!(!is_secure(&proxied("https"), &settings));
        settings.secure_proxy_ssl_header = Some(vec!["X-Forwarded-Proto".into(), "https".into()]);
        assert!(is_secure(&proxied("https"), &settings));
        assert!(is_secure(&proxied("https, http"), &settings));
        assert!(!is_secure(&proxied("http, https"), &settings));
        assert!(!is_secure(&proxied("HTTPS"), &settings));
        assert!(!is_secure(&proxied("httpsx"), &settings));
        assert!(!is_secure(&plain, &settings));
    }

    #[test]
    fn the_proxy_header_setting_is_checked() {
        let mut settings = Settings::default();
        assert!(check_proxy_ssl_header(&settings).is_ok());
        for (pair, needle) in [
            (vec!["X-Forwarded-Proto"], "1 items"),
            (vec!["HTTP_X_FORWARDED_PROTO", "https"], "X-FORWARDED-PROTO"),
            (vec!["bad header", "https"], "not a header name"),
            (vec!["X-Forwarded-Proto", ""], "not a header value"),
        ] {
            settings.secure_proxy_ssl_header = Some(pair.iter().map(|s| s.to_string()).collect());
            let error = check_proxy_ssl_header(&settings).unwrap_err();
            assert!(error.to_string().contains(needle), "{error}");
        }
    }

    #[test]
    fn policies_are_validated() {
        assert_eq!(
            policy("k", "same-origin", REFERRER_POLICIES, true).unwrap(),
            Some(HeaderValue::from_static("same-origin"))
        );
        assert_eq!(
            policy("k", "no-referrer,strict-origin", REFERRER_POLICIES, true).unwrap(),
            Some(HeaderValue::from_static("no-referrer, strict-origin"))
        );
        assert_eq!(policy("k", "", REFERRER_POLICIES, true).unwrap(), None);
        let error = policy(
            "secure_referrer_policy",
            "same-origni",
            REFERRER_POLICIES,
            true,
        )
        .unwrap_err();
        assert!(error.to_string().contains("same-origni"));
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("did you mean \"same-origin\"? use one of:"),
            "{error:?}"
        );
        assert!(policy("k", "same-origin, unsafe-none", OPENER_POLICIES, false).is_err());
    }

    #[test]
    fn a_connection_the_server_marks_secure_is_secure() {
        let mut request = http::Request::new(());
        request
            .extensions_mut()
            .insert(ConnectionInfo { secure: true });
        assert!(is_secure(&request, &Settings::default()));
    }
}
