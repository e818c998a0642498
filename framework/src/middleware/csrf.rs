//! `csrf`: Django's `CsrfViewMiddleware`, protection against cross-site
//! request forgery.
//!
//! A client gets a random 32-character secret in the `csrftoken` cookie
//! (`SameSite=Lax`, one year, `Secure` per `csrf_cookie_secure`, readable by
//! JavaScript) when a page first needs it. A request that asks for the token
//! gets a fresh 64-character *masked* token derived from it — a random mask
//! followed by the secret enciphered with the mask — so the token in a page
//! changes on every render and does not leak the secret through compression
//! attacks (BREACH). Templates put it in forms with `{{ csrf_input() }}`
//! (or `csrf_token()`, `render_form(form=…)`); views get it with
//! [`CsrfToken`].
//!
//! As Django's `get_token`, the secret and the token are made lazily: a
//! request whose template never calls `csrf_input()` or `render_form()`
//! nor names `csrf_token`, and whose view does not take [`CsrfToken`],
//! costs no random draw and gets no cookie. A response sets
//! the cookie when the request had no valid one and the token was asked
//! for, or when the request was refused with 403 (so that reloading the
//! form and posting again works).
//!
//! POST, PUT, PATCH and DELETE must then carry the token: the form field
//! `csrfmiddlewaretoken` (urlencoded or multipart bodies) or the
//! `X-CSRFToken` header (the masked token, or the cookie's value as is).
//! Also:
//!
//! - a request with an `Origin` header must come from the request's own
//!   origin or from `csrf_trusted_origins` (`https://example.com`,
//!   `https://*.example.com`);
//! - a secure request without `Origin` must have a `Referer` on https whose
//!   host is the request's host or that of a trusted origin;
//! - `Sec-Fetch-Site: cross-site` is refused unless the `Origin` is trusted.
//!
//! A failure is a 403 whose debug page gives the reason
//! ("CSRF token missing.", "CSRF cookie not set.", …) and a warning in the
//! log. Safe methods (GET, HEAD, OPTIONS, TRACE) are never checked: views
//! must not change anything on them.
//!
//! A view that must accept posts from anywhere (a webhook with its own
//! authentication) opts out with [`csrf_exempt`]:
//!
//! ```
//! use nuages::middleware::csrf::csrf_exempt;
//! use nuages::urls::{UrlConf, post};
//!
//! async fn payment_webhook(body: String) -> &'static str { "ok" }
//!
//! fn urlpatterns() -> UrlConf {
//!     UrlConf::new().path("hooks/payment/", csrf_exempt(post(payment_webhook)), "payment-hook")
//! }
//! ```

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use http::header::{CONTENT_TYPE, ORIGIN, REFERER, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use rand::TryRng;
use rand::rngs::SysRng;
use subtle::ConstantTimeEq;

use super::hosts::{RequestHost, is_same_domain};
use super::security::is_secure;
use crate::error::{Error, ErrorReport, Problem, Result};
use crate::state::AppState;

/// The CSRF cookie's name (Django's `CSRF_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "csrftoken";
/// The form field that carries the token.
pub const FORM_FIELD: &str = "csrfmiddlewaretoken";
/// The header that carries the token (Django's `CSRF_HEADER_NAME`).
pub const HEADER_NAME: &str = "x-csrftoken";
/// The cookie lasts a year (Django's `CSRF_COOKIE_AGE`), so that a form
/// left open for days still posts.
pub(crate) const COOKIE_AGE: i64 = 60 * 60 * 24 * 7 * 52;
/// Length of the secret in the cookie.
pub(crate) const SECRET_LENGTH: usize = 32;
/// Length of a masked token.
pub(crate) const TOKEN_LENGTH: usize = 2 * SECRET_LENGTH;

/// Django's `CSRF_ALLOWED_CHARS`, in its order (`ascii_letters + digits`),
/// so tokens are interchangeable with Django's.
const CHARS: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The first message of every CSRF failure page.
pub(crate) const FAILURE: &str = "CSRF verification failed. Request aborted.";

/// What is wrong with a token's or a cookie's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenFormatError {
    /// Neither 32 nor 64 characters.
    #[error("has incorrect length")]
    Length,
    /// A character that is not an ASCII letter or digit.
    #[error("has invalid characters")]
    Characters,
}

/// Why a request failed the CSRF check: the second line of its 403 page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CsrfFailure {
    /// No `csrftoken` cookie came with the request.
    #[error("CSRF cookie not set.")]
    NoCookie,
    /// The cookie is not a secret we could have set.
    #[error("CSRF cookie {0}.")]
    BadCookie(TokenFormatError),
    /// Neither the form field nor the header has a token.
    #[error("CSRF token missing.")]
    TokenMissing,
    /// The token is not shaped like one.
    #[error("CSRF token {0}.")]
    BadToken(TokenFormatError),
    /// The token does not belong to the cookie's secret.
    #[error("CSRF token incorrect.")]
    TokenIncorrect,
    /// `Origin` is neither this site nor a trusted origin.
    #[error("Origin checking failed - {0} does not match any trusted origins.")]
    BadOrigin(String),
    /// A secure request with neither `Origin` nor `Referer`.
    #[error("Referer checking failed - no Referer.")]
    NoReferer,
    /// A `Referer` that is not a URL.
    #[error("Referer checking failed - Referer is malformed.")]
    MalformedReferer,
    /// An `http://` `Referer` on a secure request.
    #[error("Referer checking failed - Referer is insecure while host is secure.")]
    InsecureReferer,
    /// `Referer` is neither this site nor a trusted origin.
    #[error("Referer checking failed - {0} does not match any trusted origins.")]
    BadReferer(String),
    /// The browser says the request comes from another site.
    #[error("Sec-Fetch-Site is cross-site: the request comes from another site.")]
    CrossSite,
}

impl CsrfFailure {
    /// How to fix it, for the debug page.
    pub fn hint(&self) -> String {
        match self {
            CsrfFailure::NoCookie | CsrfFailure::BadCookie(_) => {
                "a page that renders the token (csrf_input(), csrf_token(), render_form() or the CsrfToken extractor) sets the csrftoken cookie, and so does this refusal: load the form's page first, and check that cookies are enabled (with csrf_cookie_secure = true the cookie only travels over HTTPS)".into()
            }
            CsrfFailure::TokenMissing | CsrfFailure::BadToken(_) | CsrfFailure::TokenIncorrect => {
                "put {{ csrf_input() }} inside the <form> of a template rendered with the Templates extractor, or send the csrftoken cookie's value in the X-CSRFToken header; a view that must accept posts from other sites can use nuages::middleware::csrf::csrf_exempt".into()
            }
            CsrfFailure::BadOrigin(_)
            | CsrfFailure::NoReferer
            | CsrfFailure::MalformedReferer
            | CsrfFailure::InsecureReferer
            | CsrfFailure::BadReferer(_)
            | CsrfFailure::CrossSite => {
                "list the other origin in csrf_trusted_origins, like \"https://example.com\" or \"https://*.example.com\"; behind a TLS proxy, set secure_proxy_ssl_header so requests are seen as secure".into()
            }
        }
    }

    /// The production 403 page, as Django's `csrf_failure` view without
    /// `DEBUG`: that the check failed, and what a visitor can do about a
    /// missing cookie or `Referer`; nothing of the request or the settings.
    fn production_response(&self) -> Response {
        const COOKIE: &str = "<p>You are seeing this message because this site requires a CSRF cookie when submitting forms. This cookie is required for security reasons, to ensure that your browser is not being hijacked by third parties.</p>\n<p>If you have configured your browser to disable cookies, please re-enable them, at least for this site, or for \u{201c}same-origin\u{201d} requests.</p>\n";
        const REFERER: &str = "<p>You are seeing this message because this HTTPS site requires a \u{201c}Referer header\u{201d} to be sent by your web browser, but none was sent. This header is required for security reasons, to ensure that your browser is not being hijacked by third parties.</p>\n<p>If you have configured your browser to disable \u{201c}Referer\u{201d} headers, please re-enable them, at least for this site, or for HTTPS connections, or for \u{201c}same-origin\u{201d} requests.</p>\n";
        let why = match self {
            CsrfFailure::NoCookie | CsrfFailure::BadCookie(_) => COOKIE,
            CsrfFailure::NoReferer => REFERER,
            _ => "",
        };
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><title>403 Forbidden</title></head><body>\
             <h1>Forbidden (403)</h1>\n<p>CSRF verification failed. Request aborted.</p>\n{why}\
             <p><small>More information is available with debug = true.</small></p></body></html>\n"
        );
        (
            StatusCode::FORBIDDEN,
            [(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page,
        )
            .into_response()
    }

    /// The 403 response.
    pub fn response(&self) -> Response {
        ErrorReport::response(
            StatusCode::FORBIDDEN,
            ErrorReport {
                chain: vec![FAILURE.to_string(), self.to_string()],
                hint: Some(self.hint()),
            },
        )
    }
}

/// The OS random number generator failed: no secret can be made safely.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub(crate) struct RandomError(#[from] rand::rngs::SysError);

/// `n` characters of [`CHARS`], uniformly, from the OS random generator.
pub(crate) fn random_string(n: usize) -> Result<String, RandomError> {
    let mut out = String::with_capacity(n);
    let mut buffer = [0u8; 64];
    while out.len() < n {
        SysRng.try_fill_bytes(&mut buffer)?;
        // 248 = 4 × 62: keeping only bytes below it makes `% 62` uniform.
        for byte in buffer.iter().filter(|b| **b < 248) {
            if out.len() == n {
                break;
            }
            out.push(CHARS[usize::from(byte % 62)] as char);
        }
    }
    Ok(out)
}

fn char_index(c: u8) -> Option<usize> {
    match c {
        b'a'..=b'z' => Some(usize::from(c - b'a')),
        b'A'..=b'Z' => Some(usize::from(c - b'A') + 26),
        b'0'..=b'9' => Some(usize::from(c - b'0') + 52),
        _ => None,
    }
}

/// A new random secret for the cookie.
pub(crate) fn new_secret() -> Result<String, RandomError> {
    random_string(SECRET_LENGTH)
}

/// Check a token or cookie value: 32 or 64 ASCII letters and digits.
pub(crate) fn check_format(token: &str) -> Result<(), TokenFormatError> {
    if token.len() != SECRET_LENGTH && token.len() != TOKEN_LENGTH {
        return Err(TokenFormatError::Length);
    }
    if !token.bytes().all(|b| char_index(b).is_some()) {
        return Err(TokenFormatError::Characters);
    }
    Ok(())
}

/// `mask + cipher`, where each cipher character is the secret's shifted by
/// the mask's (Django's `_mask_cipher_secret`). `secret` and `mask` must be
/// [`SECRET_LENGTH`] valid characters.
fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| {
            let (s, m) = (char_index(s).unwrap_or(0), char_index(m).unwrap_or(0));
            CHARS[(s + m) % CHARS.len()] as char
        })
        .collect();
    format!("{mask}{cipher}")
}

/// A fresh masked token for `secret`.
pub(crate) fn mask_secret(secret: &str) -> Result<String, RandomError> {
    Ok(mask_with(secret, &random_string(SECRET_LENGTH)?))
}

/// The secret a well-formed token stands for: a 64-character token is
/// unmasked, a 32-character one is the secret itself (what JavaScript copies
/// from the cookie).
pub(crate) fn unmask(token: &str) -> Result<String, TokenFormatError> {
    check_format(token)?;
    if token.len() == SECRET_LENGTH {
        return Ok(token.to_string());
    }
    let (mask, cipher) = token.split_at(SECRET_LENGTH);
    Ok(cipher
        .bytes()
        .zip(mask.bytes())
        .map(|(c, m)| {
            let (c, m) = (char_index(c).unwrap_or(0), char_index(m).unwrap_or(0));
            CHARS[(c + CHARS.len() - m) % CHARS.len()] as char
        })
        .collect())
}

/// Whether `token` stands for `secret`, compared in constant time.
pub(crate) fn token_matches(token: &str, secret: &str) -> Result<bool, TokenFormatError> {
    let unmasked = unmask(token)?;
    Ok(unmasked.as_bytes().ct_eq(secret.as_bytes()).into())
}

/// The masked token of this request: an extractor for views that send it
/// themselves (in a JSON answer for a single-page app, say). It needs the
/// `csrf` middleware.
///
/// ```
/// use nuages::middleware::csrf::CsrfToken;
/// async fn token(token: CsrfToken) -> String {
///     token.as_str().to_string()
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The token, 64 ASCII letters and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let state = parts.extensions.get::<CsrfState>().ok_or_else(|| {
            Error::Config(
                Problem::new("the CsrfToken extractor needs the \"csrf\" middleware")
                    .with_hint("add \"csrf\" to the middleware setting"),
            )
        })?;
        Ok(CsrfToken(state.token().map_err(Error::other)?))
    }
}

/// The CSRF secret and masked token of one request, made when first asked
/// for (Django's `get_token`): the `csrf` middleware puts it in the
/// request's extensions; templates that name the token and the
/// [`CsrfToken`] extractor ask it. Its clones share one state.
#[derive(Debug, Clone, Default)]
pub(crate) struct CsrfState(Arc<Mutex<LazyToken>>);

#[derive(Debug, Default)]
struct LazyToken {
    /// The secret of the request's valid `csrftoken` cookie.
    from_cookie: Option<String>,
    /// A secret made for this request, which the response's cookie carries.
    made: Option<String>,
    /// The masked token of this request, once asked for.
    token: Option<String>,
}

impl CsrfState {
    fn with_cookie(from_cookie: Option<String>) -> CsrfState {
        CsrfState(Arc::new(Mutex::new(LazyToken {
            from_cookie,
            ..LazyToken::default()
        })))
    }

    fn lock(&self) -> MutexGuard<'_, LazyToken> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The masked token of this request; the first call makes it, and a
    /// secret too when the request had no valid cookie.
    pub(crate) fn token(&self) -> Result<String, RandomError> {
        let mut lazy = self.lock();
        if let Some(token) = &lazy.token {
            return Ok(token.clone());
        }
        let token = mask_secret(&lazy.secret()?)?;
        lazy.token = Some(token.clone());
        Ok(token)
    }

    /// Whether the token was asked for (a template that shows it, the
    /// [`CsrfToken`] extractor): the page then holds the visitor's token,
    /// which the page cache must not give another visitor (as Django's
    /// `CSRF_COOKIE_USED` makes the response vary on `Cookie`).
    pub(crate) fn token_asked(&self) -> bool {
        self.lock().token.is_some()
    }

    /// A new secret in place of the cookie's, which the response's cookie
    /// carries (Django's `rotate_token`, which `login` calls): a token a
    /// page showed before, or a cookie planted before, is no good after.
    pub(crate) fn rotate(&self) -> Result<(), RandomError> {
        let secret = new_secret()?;
        let mut lazy = self.lock();
        lazy.from_cookie = None;
        lazy.made = Some(secret);
        lazy.token = None;
        Ok(())
    }

    /// A secret for a refused request without a valid cookie, so that its
    /// 403 sets one.
    fn ensure_secret(&self) -> Result<(), RandomError> {
        self.lock().secret().map(drop)
    }

    /// The secret made for this request, which a cookie must carry; and
    /// whether the masked token was asked for (a page or a view holds it).
    fn made_and_asked(&self) -> (Option<String>, bool) {
        let lazy = self.lock();
        (lazy.made.clone(), lazy.token.is_some())
    }
}

impl LazyToken {
    /// The cookie's secret, or the one made for this request (made now if
    /// need be).
    fn secret(&mut self) -> Result<String, RandomError> {
        if let Some(secret) = self.from_cookie.as_ref().or(self.made.as_ref()) {
            return Ok(secret.clone());
        }
        let secret = new_secret()?;
        self.made = Some(secret.clone());
        Ok(secret)
    }
}

/// A view exempt from the CSRF check: Django's `@csrf_exempt`. Build it with
/// [`csrf_exempt`] and route it as any view; the exemption is a property of
/// the route, so it holds wherever the application is mounted.
#[derive(Debug, Clone)]
pub struct CsrfExempt<V>(V);

/// Exempt `view` (a handler function or [`Methods`](crate::urls::Methods)
/// such as `post(view)`) from the CSRF check; see the [module
/// example](self). The cookie and token are still provided, only the check
/// is skipped.
pub fn csrf_exempt<V>(view: V) -> CsrfExempt<V> {
    CsrfExempt(view)
}

impl<V> CsrfExempt<V> {
    /// The view it wraps.
    pub(crate) fn into_inner(self) -> V {
        self.0
    }
}

/// A `csrf_trusted_origins` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TrustedOrigin {
    /// `https://example.com[:port]`, compared as a whole.
    Exact(String),
    /// `https://*.example.com`: the scheme, and `.example.com`.
    Subdomains { scheme: String, domain: String },
}

impl TrustedOrigin {
    fn parse(entry: &str) -> Result<TrustedOrigin> {
        let invalid = |why: &str| {
            Error::Config(Problem::new(format!("csrf_trusted_origins entry '{entry}' {why}")).with_hint("entries are origins with their scheme: \"https://example.com\", \"https://example.com:8443\" or \"https://*.example.com\""))
        };
        if !entry.contains("://") {
            // What Django 4.0 started to refuse (4_0.E001): a bare host name.
            let host = entry.trim().trim_end_matches('/');
            return Err(Error::Config(Problem::new(format!(
                    "csrf_trusted_origins entry '{entry}' has no scheme: entries are origins, which start with a scheme"
                )).with_hint(format!(
                    "write \"https://{host}\" (or \"http://{host}\" for a site served without TLS)"
                ))));
        }
        let lower = entry.trim().to_ascii_lowercase();
        let lower = lower.strip_suffix('/').unwrap_or(&lower);
        let (scheme, netloc) = split_origin(lower).ok_or_else(|| invalid("has no scheme"))?;
        let whole = lower.split_once("://").map_or("", |(_, rest)| rest);
        if netloc.is_empty() || whole != netloc || netloc.contains('@') {
            return Err(invalid("is not an origin (scheme://host[:port])"));
        }
        if let Some(domain) = netloc.strip_prefix("*.") {
            if domain.is_empty() || domain.contains('*') {
                return Err(invalid("has a misplaced '*'"));
            }
            return Ok(TrustedOrigin::Subdomains {
                scheme: scheme.to_string(),
                domain: format!(".{domain}"),
            });
        }
        if netloc.contains('*') {
            return Err(invalid("has a misplaced '*' (write https://*.example.com)"));
        }
        Ok(TrustedOrigin::Exact(format!("{scheme}://{netloc}")))
    }

    fn accepts_origin(&self, scheme: &str, netloc: &str) -> bool {
        match self {
            TrustedOrigin::Exact(origin) => *origin == format!("{scheme}://{netloc}"),
            TrustedOrigin::Subdomains {
                scheme: trusted,
                domain,
            } => trusted == scheme && is_same_domain(netloc, domain),
        }
    }

    /// For `Referer` checks the scheme is already known to be https (Django
    /// compares hosts only).
    fn accepts_referer_host(&self, netloc: &str) -> bool {
        match self {
            TrustedOrigin::Exact(origin) => {
                split_origin(origin).is_some_and(|(_, host)| is_same_domain(netloc, host))
            }
            TrustedOrigin::Subdomains { domain, .. } => is_same_domain(netloc, domain),
        }
    }
}

/// Check one `csrf_trusted_origins` entry as the `csrf` middleware reads
/// it: the error is what [`Application::new`](crate::Application::new)
/// fails with and `check` reports (`4_0.E001`).
pub(crate) fn check_trusted_origin(entry: &str) -> Result<()> {
    TrustedOrigin::parse(entry).map(drop)
}

/// `scheme://netloc…` → lowercase (scheme, netloc); `None` without a scheme.
fn split_origin(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let valid_scheme = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end]))
}

/// The `csrf` middleware's settings, checked once.
#[derive(Debug)]
pub(crate) struct CsrfConfig {
    app: Arc<AppState>,
    trusted: Vec<TrustedOrigin>,
    cookie_secure: bool,
    body_limit: usize,
}

impl CsrfConfig {
    /// A new, unlinked temporary file for a multipart body: in
    /// `media_root/.incoming` (made if need be), where uploads go, else in
    /// the system's temporary folder.
    fn spool_file(&self) -> std::io::Result<std::fs::File> {
        match &self.app.settings.media_root {
            Some(root) => {
                let incoming = root.join(crate::forms::INCOMING);
                std::fs::create_dir_all(&incoming)?;
                tempfile::tempfile_in(incoming)
            }
            None => tempfile::tempfile(),
        }
    }

    /// Refuses to build without `secret_key` (what protects sessions and
    /// forms needs one), or with a malformed trusted origin.
    pub fn new(app: Arc<AppState>) -> Result<CsrfConfig> {
        let settings = &app.settings;
        settings.require_secret_key()?;
        super::security::check_proxy_ssl_header(settings)?;
        let trusted = settings
            .csrf_trusted_origins
            .iter()
            .map(|entry| TrustedOrigin::parse(entry))
            .collect::<Result<Vec<_>>>()?;
        Ok(CsrfConfig {
            cookie_secure: settings.csrf_cookie_secure,
            body_limit: settings.data_upload_max_memory_size,
            trusted,
            app,
        })
    }

    /// Whether the route that will serve `request` is [`CsrfExempt`].
    fn is_exempt(&self, request: &Request) -> bool {
        self.app
            .urls
            .resolve(request.uri().path())
            .is_some_and(|route| route.is_csrf_exempt())
    }

    fn cookie(&self, secret: &str) -> Cookie<'static> {
        Cookie::build((COOKIE_NAME, secret.to_string()))
            .path("/")
            .same_site(SameSite::Lax)
            .secure(self.cookie_secure)
            .max_age(cookie::time::Duration::seconds(COOKIE_AGE))
            .build()
    }
}

/// The secret the cookie holds, or why it cannot be used. Of several
/// `csrftoken` cookies the last usable one counts, as Django's cookie
/// parser keeps the last: a browser sends this site's own cookie, set
/// later (at login), after one planted earlier for a parent domain.
fn cookie_secret(request: &Request) -> Result<String, CsrfFailure> {
    let values = super::request_cookies(request.headers(), COOKIE_NAME);
    let mut problem = CsrfFailure::NoCookie;
    for value in values.into_iter().rev() {
        // The secret itself, or a masked token as Django ≤ 4.0 stored it.
        match unmask(&value) {
            Ok(secret) => return Ok(secret),
            Err(error) => problem = CsrfFailure::BadCookie(error),
        }
    }
    Err(problem)
}

fn header_text<'r>(request: &'r Request, name: &http::HeaderName) -> Option<&'r str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A header value as a refusal names it (in the warning and on the page):
/// a client's bytes that are not printable ASCII percent-encoded, so that
/// none reaches the log as it came (a U+2028 is a line end to some
/// readers, a U+202E reverses the text shown).
fn shown(value: &HeaderValue) -> String {
    percent_encoding::percent_encode(value.as_bytes(), percent_encoding::CONTROLS).to_string()
}

/// The `Origin`, `Referer` and `Sec-Fetch-Site` checks.
fn check_origin(config: &CsrfConfig, request: &Request, secure: bool) -> Result<(), CsrfFailure> {
    let host = RequestHost::of(request.extensions()).map(|h| h.host.to_ascii_lowercase());
    let mut trusted_origin = false;
    if let Some(origin) = request.headers().get(ORIGIN) {
        let lower = String::from_utf8_lossy(origin.as_bytes()).to_ascii_lowercase();
        let own = host.as_ref().is_some_and(|host| {
            lower == format!("{}://{host}", if secure { "https" } else { "http" })
        });
        if !own {
            trusted_origin = split_origin(&lower).is_some_and(|(scheme, netloc)| {
                config
                    .trusted
                    .iter()
                    .any(|t| t.accepts_origin(scheme, netloc))
            });
            if !trusted_origin {
                return Err(CsrfFailure::BadOrigin(shown(origin)));
            }
        }
    } else if secure {
        // Without Origin, a secure request proves where it comes from with
        // Referer: a man in the middle on plain http must not post to https.
        let referer = request
            .headers()
            .get(REFERER)
            .ok_or(CsrfFailure::NoReferer)?;
        let lower = String::from_utf8_lossy(referer.as_bytes()).to_ascii_lowercase();
        let (scheme, netloc) = split_origin(&lower)
            .filter(|(_, netloc)| !netloc.is_empty())
            .ok_or(CsrfFailure::MalformedReferer)?;
        if scheme != "https" {
            return Err(CsrfFailure::InsecureReferer);
        }
        let own = host
            .as_ref()
            .is_some_and(|host| is_same_domain(netloc, host));
        if !own
            && !config
                .trusted
                .iter()
                .any(|t| t.accepts_referer_host(netloc))
        {
            return Err(CsrfFailure::BadReferer(shown(referer)));
        }
    }
    let cross_site = header_text(request, &http::HeaderName::from_static("sec-fetch-site"))
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cross-site"));
    if cross_site && !trusted_origin {
        return Err(CsrfFailure::CrossSite);
    }
    Ok(())
}

/// The media type of a form body, if the request has one.
enum FormKind {
    UrlEncoded,
    Multipart(String),
}

/// A multipart body without a boundary cannot be read at all: a bad
/// request (400), as Django's `request.POST` raises in its CSRF check and as
/// the view's [`FormData`](crate::forms::FormData) would answer, not a
/// missing token.
fn form_kind(request: &Request) -> Result<Option<FormKind>> {
    let Some(content_type) = header_text(request, &CONTENT_TYPE) else {
        return Ok(None);
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    Ok(match essence.as_str() {
        "application/x-www-form-urlencoded" => Some(FormKind::UrlEncoded),
        "multipart/form-data" => Some(FormKind::Multipart(crate::forms::multipart_boundary(
            content_type,
        )?)),
        _ => None,
    })
}

/// Read the form body (up to `data_upload_max_memory_size`), find the token
/// field, and give the body back for the view. A multipart body past
/// [`IN_MEMORY`] goes to an unlinked temporary file ([`Spooled`]), so an
/// upload is never held in memory, here any more than in the view's
/// [`FormData`](crate::forms::FormData).
async fn token_from_form(
    config: &CsrfConfig,
    request: Request,
) -> Result<(Request, Option<String>), Response> {
    let Some(kind) = form_kind(&request).map_err(IntoResponse::into_response)? else {
        return Ok((request, None));
    };
    let (parts, body) = request.into_parts();
    // The last field of the name, as Django's `request.POST.get` and
    // `FormData::get` read it: the token checked is the one the view sees.
    match kind {
        FormKind::UrlEncoded => {
            let bytes = axum::body::to_bytes(body, config.body_limit)
                .await
                .map_err(|error| unreadable_body(config, &error))?;
            let token = form_urlencoded::parse(&bytes)
                .filter(|(name, _)| name == FORM_FIELD)
                .last()
                .map(|(_, value)| value.into_owned());
            Ok((Request::from_parts(parts, Body::from(bytes)), token))
        }
        FormKind::Multipart(boundary) => {
            let spooled = Spooled::read(body, config).await?;
            let mut multipart = multer::Multipart::new(
                spooled.body().map_err(stored_badly)?.into_data_stream(),
                boundary,
            );
            let mut found = None;
            // A malformed body has no token; the view will see the error.
            while let Ok(Some(field)) = multipart.next_field().await {
                // A file part is an upload, not a field: as Django, whose
                // token comes from `request.POST`. A file is told as the
                // form does (`filename*`, any case), so that the token is
                // never one the view then drops as a file.
                if field.name() == Some(FORM_FIELD)
                    && matches!(crate::forms::part_file_name(&field), Ok(None))
                {
                    found = field.text().await.ok();
                }
            }
            drop(multipart);
            let body = spooled.body().map_err(stored_badly)?;
            Ok((Request::from_parts(parts, body), found))
        }
    }
}

/// The 413 of a form body over `data_upload_max_memory_size`, or the 400 of
/// one that could not be read.
fn unreadable_body(config: &CsrfConfig, error: &(dyn std::error::Error + 'static)) -> Response {
    if super::limits::is_over_limit(error) {
        over_the_limit(config)
    } else {
        Error::BadRequest(format!("the request body could not be read: {error}")).into_response()
    }
}

/// The 413 of a form body over `data_upload_max_memory_size`.
fn over_the_limit(config: &CsrfConfig) -> Response {
    ErrorReport::response(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorReport {
            chain: vec![format!(
                "the request body is over data_upload_max_memory_size ({})",
                config.body_limit
            )],
            hint: Some(
                "raise data_upload_max_memory_size in the settings if such bodies are expected"
                    .into(),
            ),
        },
    )
}

/// The 500 of a multipart body that could not be put in its temporary
/// file (the error and its fix are logged).
fn stored_badly(error: std::io::Error) -> Response {
    Error::Io(error).into_response()
}

/// How much of a multipart body the CSRF check keeps in memory; past it,
/// the body goes to a temporary file.
const IN_MEMORY: usize = 256 * 1024;

/// A multipart body as read for its token: in memory when small, else in
/// an unlinked temporary file (in `media_root/.incoming`, where uploads
/// go, or the system's temporary folder), gone when its last reader is.
enum Spooled {
    Memory(axum::body::Bytes),
    File(std::fs::File),
}

impl Spooled {
    /// Read `body`, up to the configured limit.
    async fn read(body: Body, config: &CsrfConfig) -> Result<Spooled, Response> {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let mut stream = body.into_data_stream();
        let mut memory = Vec::new();
        let mut file: Option<tokio::fs::File> = None;
        let mut total = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| unreadable_body(config, &error))?;
            total += chunk.len();
            if total > config.body_limit {
                return Err(over_the_limit(config));
            }
            if file.is_none() && memory.len() + chunk.len() > IN_MEMORY {
                let mut spool =
                    tokio::fs::File::from_std(config.spool_file().map_err(stored_badly)?);
                spool.write_all(&memory).await.map_err(stored_badly)?;
                memory = Vec::new();
                file = Some(spool);
            }
            match &mut file {
                Some(spool) => spool.write_all(&chunk).await.map_err(stored_badly)?,
                None => memory.extend_from_slice(&chunk),
            }
        }
        Ok(match file {
            Some(mut file) => {
                file.flush().await.map_err(stored_badly)?;
                Spooled::File(file.into_std().await)
            }
            None => Spooled::Memory(memory.into()),
        })
    }

    /// The whole body, from its start, as a new body.
    fn body(&self) -> std::io::Result<Body> {
        match self {
            Spooled::Memory(bytes) => Ok(Body::from(bytes.clone())),
            Spooled::File(file) => Ok(Body::from_stream(read_chunks(file.try_clone()?))),
        }
    }
}

/// The bytes of `file` from its start, in chunks of 64 KiB, each read at
/// its own offset (`pread`): a clone of a file shares its offset, and a
/// read of an earlier reader still under way when that reader was dropped
/// could move it past bytes this one had yet to read.
fn read_chunks(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> {
    let file = std::sync::Arc::new(file);
    futures_util::stream::unfold(Some(0u64), move |offset| {
        let file = file.clone();
        async move {
            let offset = offset?;
            let read = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut chunk = vec![0; 64 * 1024];
                let read = file.read_at(&mut chunk, offset)?;
                chunk.truncate(read);
                Ok::<_, std::io::Error>(chunk)
            })
            .await
            .unwrap_or_else(|error| Err(std::io::Error::other(error)));
            match read {
                Ok(chunk) if chunk.is_empty() => None,
                Ok(chunk) => {
                    let next = offset + chunk.len() as u64;
                    Some((Ok(chunk.into()), Some(next)))
                }
                Err(error) => Some((Err(error), None)),
            }
        }
    })
}

/// The token check proper: the request's token against the cookie's secret.
async fn check_token(
    config: &CsrfConfig,
    request: Request,
    secret: Result<&str, CsrfFailure>,
) -> Result<Request, Response> {
    let secret = match secret {
        Ok(secret) => secret,
        Err(failure) => return Err(reject(config, &request, failure)),
    };
    let (request, form_token) = token_from_form(config, request).await?;
    let token = match form_token.filter(|t| !t.is_empty()) {
        Some(token) => token,
        None => match header_text(&request, &http::HeaderName::from_static(HEADER_NAME)) {
            Some(token) if !token.is_empty() => token.to_string(),
            _ => return Err(reject(config, &request, CsrfFailure::TokenMissing)),
        },
    };
    match token_matches(&token, secret) {
        Ok(true) => Ok(request),
        Ok(false) => Err(reject(config, &request, CsrfFailure::TokenIncorrect)),
        Err(error) => Err(reject(config, &request, CsrfFailure::BadToken(error))),
    }
}

fn reject(config: &CsrfConfig, request: &Request, failure: CsrfFailure) -> Response {
    tracing::warn!(
        target: "nuages::security::csrf",
        method = %request.method(),
        path = request.uri().path(),
        "Forbidden ({failure})"
    );
    if config.app.settings.debug {
        failure.response()
    } else {
        failure.production_response()
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// What the `csrf` middleware keeps between the request and the response.
pub(crate) struct Pending {
    /// The request had no usable `csrftoken` cookie.
    without_cookie: bool,
    state: CsrfState,
}

/// The `csrf` middleware on the way in: the request's token state in its
/// extensions, and an unsafe request checked (the 403 of one refused).
pub(crate) async fn process_request(
    config: &CsrfConfig,
    request: &mut Request,
) -> (Option<Response>, Pending) {
    let from_cookie = cookie_secret(request);
    let state = CsrfState::with_cookie(from_cookie.as_ref().ok().cloned());
    request.extensions_mut().insert(state.clone());
    let pending = Pending {
        without_cookie: from_cookie.is_err(),
        state,
    };
    if !is_unsafe(request.method()) || config.is_exempt(request) {
        return (None, pending);
    }
    let secure = is_secure(request, &config.app.settings);
    let refused = match check_origin(config, request, secure) {
        Err(failure) => Some(reject(config, request, failure)),
        Ok(()) => {
            let known = from_cookie.as_deref().map_err(Clone::clone);
            // Reading the form takes the request (its body); it is given
            // back when the token matches. Boxed: a large future, for
            // unsafe requests only.
            match Box::pin(check_token(config, std::mem::take(request), known)).await {
                Ok(checked) => {
                    *request = checked;
                    None
                }
                Err(refusal) => Some(refusal),
            }
        }
    };
    (refused, pending)
}

/// The `csrf` middleware on the way out: a new client (or one with a
/// broken cookie) gets its secret when the token was rendered or asked for,
/// or with a 403, so that reloading the form and posting again works. The
/// secret is letters and digits, so the cookie is always a valid value.
pub(crate) fn process_response(config: &CsrfConfig, pending: Pending, response: &mut Response) {
    let Pending {
        without_cookie,
        state,
    } = pending;
    if response.status() == http::StatusCode::FORBIDDEN
        && without_cookie
        && let Err(error) = state.ensure_secret()
    {
        *response = Error::other(error).into_response();
        return;
    }
    let (made, asked) = state.made_and_asked();
    if let Some(secret) = made
        && let Ok(value) = HeaderValue::from_str(&config.cookie(&secret).to_string())
    {
        response.headers_mut().append(SET_COOKIE, value);
        super::patch_vary(response.headers_mut(), "Cookie");
    } else if asked {
        // The page holds a token of the visitor's cookie: a shared cache
        // must keep it per cookie (Django varies on Cookie whenever
        // `get_token` was called), or hand one visitor's token to all.
        super::patch_vary(response.headers_mut(), "Cookie");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_alphanumeric() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_eq!(a.len(), SECRET_LENGTH);
        assert!(check_format(&a).is_ok());
        assert_ne!(a, b);
    }

    #[test]
    fn masked_tokens_differ_and_unmask_to_the_secret() {
        let secret = new_secret().unwrap();
        let one = mask_secret(&secret).unwrap();
        let two = mask_secret(&secret).unwrap();
        assert_eq!(one.len(), TOKEN_LENGTH);
        assert_ne!(one, two);
        assert!(!one.contains(&secret));
        assert_eq!(unmask(&one).unwrap(), secret);
        assert_eq!(unmask(&two).unwrap(), secret);
        assert!(token_matches(&one, &secret).unwrap());
        assert!(token_matches(&secret, &secret).unwrap());
        assert!(!token_matches(&one, &new_secret().unwrap()).unwrap());
    }

    #[test]
    fn the_cipher_adds_indexes_modulo_62() {
        // As Django's _mask_cipher_secret: 'a'(0)+'b'(1) = 'b'; '9'(61)+'1'(53) = 114 % 62 = 52 = '0'.
        let secret = "a".repeat(31) + "9";
        let mask = "b".repeat(31) + "1";
        let token = mask_with(&secret, &mask);
        assert_eq!(&token[..32], mask);
        assert_eq!(token[32..], "b".repeat(31) + "0");
        assert_eq!(unmask(&token).unwrap(), secret);
    }

    #[test]
    fn formats_are_checked() {
        assert_eq!(check_format("abc"), Err(TokenFormatError::Length));
        assert_eq!(
            check_format(&"a-".repeat(16)),
            Err(TokenFormatError::Characters)
        );
        assert_eq!(
            check_format(&"é".repeat(16)),
            Err(TokenFormatError::Characters)
        );
        assert!(check_format(&"Z9".repeat(32)).is_ok());
    }

    #[test]
    fn trusted_origins_parse() {
        assert_eq!(
            TrustedOrigin::parse("https://Example.com/").unwrap(),
            TrustedOrigin::Exact("https://example.com".into())
        );
        let sub = TrustedOrigin::parse("https://*.example.com").unwrap();
        assert!(sub.accepts_origin("https", "a.example.com"));
        assert!(sub.accepts_origin("https", "example.com"));
        assert!(!sub.accepts_origin("http", "a.example.com"));
        assert!(!sub.accepts_origin("https", "evilexample.com"));
        assert!(sub.accepts_referer_host("b.a.example.com"));
        for bad in [
            "example.com",
            "https://",
            "https://a.*.com",
            "https://x/y",
            "*.example.com",
        ] {
            assert!(TrustedOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn split_origin_takes_the_netloc() {
        assert_eq!(
            split_origin("https://a.test:8443/x?y#z"),
            Some(("https", "a.test:8443"))
        );
        assert_eq!(split_origin("a.test"), None);
        assert_eq!(split_origin("://a.test"), None);
        assert_eq!(split_origin("null"), None);
    }
}
