//! The per-view page cache, as Django's `cache_page`: a whole response kept
//! in the `default` cache, keyed on the method, the full URL (scheme and
//! host included) and the request headers the response's `Vary` names.
//!
//! Only `GET` and `HEAD` answered 200 are kept, and never a streamed body
//! (no exact length, as Django's `StreamingHttpResponse`) nor a response that
//! sets a cookie, varies on `Cookie` (or `*`), read the session or the
//! visitor's messages, or showed the visitor's CSRF token (a template that
//! renders it, the `CsrfToken` extractor): those depend on who asked. As Django's, a view's own
//! `Cache-Control` has the last word: `private` or `max-age=0` is not kept,
//! another `max-age` is kept that long; and a kept page tells browsers and
//! proxies how long it is good for (`Cache-Control: max-age`, `Expires`).

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::header::{CACHE_CONTROL, EXPIRES, HOST, SET_COOKIE, VARY};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Cache, DEFAULT_ALIAS};
use crate::messages::Messages;
use crate::middleware::csrf::CsrfState;
use crate::middleware::hosts::RequestHost;
use crate::middleware::session::Session;
use crate::state::AppState;
use crate::urls::View;
use crate::urls::sealed::{ByCachePage, RouteView};

/// `view`, with its responses kept `seconds` in the `default` cache, keyed
/// on the method, the full URL and the headers the response's `Vary` names
/// (only a `GET` or `HEAD` answered 200 that sets no cookie, does not vary
/// on `Cookie`, read no session nor the visitor's messages and showed no
/// CSRF token, and whose own `Cache-Control` is not `private`, `no-store`
/// or `max-age=0`; a `max-age` of its own is the time kept); a kept page
/// is sent with `Cache-Control: max-age` and `Expires`. Wraps a handler
/// function or [`get`](crate::urls::get) and friends:
/// `.path("", cache_page(60, index), "index")`.
pub fn cache_page<V>(seconds: u64, view: V) -> CachePage<V> {
    CachePage {
        view,
        timeout: Duration::from_secs(seconds),
    }
}

/// A view whose pages are cached; made by [`cache_page`].
#[derive(Debug)]
pub struct CachePage<V> {
    view: V,
    timeout: Duration,
}

impl<V, M> View<(ByCachePage, M)> for CachePage<V>
where
    V: View<M>,
{
    fn into_route_view(self) -> RouteView {
        let inner = self.view.into_route_view();
        let timeout = self.timeout;
        RouteView {
            router: inner
                .router
                .layer(axum::middleware::from_fn(move |request, next| {
                    serve_cached(timeout, request, next)
                })),
            ..inner
        }
    }
}

/// A kept response.
#[derive(Serialize, Deserialize)]
struct Page {
    status: u16,
    headers: Vec<(String, String)>,
    /// Base64, so that any bytes survive JSON.
    body: String,
}

async fn serve_cached(timeout: Duration, request: Request, next: Next) -> Response {
    let cache = AppState::of(request.extensions())
        .and_then(|state| state.caches.get(DEFAULT_ALIAS).cloned());
    let (Some(cache), true) = (
        cache,
        matches!(*request.method(), Method::GET | Method::HEAD),
    ) else {
        return next.run(request).await;
    };
    let method = request.method().to_string();
    let url = full_url(&request);
    let request_headers = request.headers().clone();
    let vary_key = format!("nuages.page.vary.{method}.{url}");
    if let Some(vary) = cache.get::<Vec<String>>(&vary_key).await
        && let Some(page) = cache
            .get::<Page>(&page_key(&method, &url, &vary, &request_headers))
            .await
        && let Some(response) = page.into_response()
    {
        return response;
    }

    let session = request.extensions().get::<Session>().cloned();
    let csrf = request.extensions().get::<CsrfState>().cloned();
    // With `message_storage = "cookie"` reading them reads no session.
    let messages = request.extensions().get::<Messages>().cloned();
    let mut response = next.run(request).await;
    let personal = session.is_some_and(|s| s.accessed())
        || csrf.is_some_and(|csrf| csrf.token_asked())
        || messages.is_some_and(|m| m.accessed());
    let vary = vary_names(response.headers());
    // A streamed body (no exact length: an export, a download) is passed
    // on as it comes, as Django skips a streaming response: keeping it
    // would read all of it into memory first.
    let streamed = http_body::Body::size_hint(response.body())
        .exact()
        .is_none();
    if personal
        || streamed
        || response.status() != StatusCode::OK
        || response.headers().contains_key(SET_COOKIE)
        || vary.iter().any(|name| name == "cookie" || name == "*")
    {
        return response;
    }
    let Some(timeout) = lifetime(&mut response, timeout) else {
        return response;
    };
    store(&cache, timeout, response, &vary_key, |vary| {
        page_key(&method, &url, vary, &request_headers)
    })
    .await
}

/// The furthest `Expires` is set ahead: a year, past which HTTP/1.1 asks
/// servers not to date a response.
const LONGEST_EXPIRES: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// How long `response` may be kept, as Django's cache middleware reads it:
/// the view's own `max-age` if it set one, else `timeout`; `None` for a
/// response to keep nowhere (`private`, `max-age=0`). A kept response
/// then says so to browsers and proxies, as Django's
/// `patch_response_headers`: `Cache-Control` gains `max-age` (the view's
/// other directives kept) and, unless the view set one, `Expires`.
fn lifetime(response: &mut Response, timeout: Duration) -> Option<Duration> {
    let directives: Vec<String> = response
        .headers()
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|directive| directive.trim().to_string())
        .filter(|directive| !directive.is_empty())
        .collect();
    let mut max_age = None;
    for directive in &directives {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "private" | "no-store" => return None,
            "max-age" => max_age = Some(value.trim().trim_matches('"').parse::<u64>().ok()?),
            _ => {}
        }
    }
    let timeout = match max_age {
        Some(0) => return None,
        Some(seconds) => Duration::from_secs(seconds),
        None => timeout,
    };
    if max_age.is_none() {
        let mut value = directives.join(", ");
        if !value.is_empty() {
            value.push_str(", ");
        }
        value.push_str(&format!("max-age={}", timeout.as_secs()));
        let value = HeaderValue::try_from(value).ok()?;
        response.headers_mut().insert(CACHE_CONTROL, value);
    }
    if !response.headers().contains_key(EXPIRES) {
        // At most a year ahead, as HTTP/1.1 advises: a page kept for good
        // (`cache_page(u64::MAX, …)`) overflowed the calendar and panicked.
        let expires = chrono::Utc::now() + timeout.min(LONGEST_EXPIRES);
        let date = expires.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let value = HeaderValue::try_from(date).expect("an HTTP date is ASCII");
        response.headers_mut().insert(EXPIRES, value);
    }
    Some(timeout)
}

/// Keeps `response` (when its headers are text) and gives it back.
async fn store(
    cache: &Cache,
    timeout: Duration,
    response: Response,
    vary_key: &str,
    key: impl FnOnce(&[String]) -> String,
) -> Response {
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let headers: Option<Vec<(String, String)>> = parts
        .headers
        .iter()
        .map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    if let Some(headers) = headers {
        let vary = vary_names(&parts.headers);
        let page = Page {
            status: parts.status.as_u16(),
            headers,
            body: base64::engine::general_purpose::STANDARD.encode(&bytes),
        };
        if cache.set_for(vary_key, &vary, timeout).await {
            cache.set_for(&key(&vary), &page, timeout).await;
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

impl Page {
    fn into_response(self) -> Option<Response> {
        let body = base64::engine::general_purpose::STANDARD
            .decode(self.body)
            .ok()?;
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::from_u16(self.status).ok()?;
        for (name, value) in self.headers {
            response.headers_mut().append(
                HeaderName::try_from(name).ok()?,
                HeaderValue::try_from(value).ok()?,
            );
        }
        Some(response)
    }
}

/// The header names of `Vary`, lowercase, in order.
fn vary_names(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// `scheme://host/path?query`, as Django's key (`build_absolute_uri`): a
/// page made for `http` (its absolute links, say) is not served over
/// `https`, and the host is part of the key, as several sites may share a
/// cache. The host is the one the hosts check accepted (Django's
/// `get_host()`): behind a proxy, with `use_x_forwarded_host`, that is
/// `X-Forwarded-Host`, not the `Host` header the proxy sent; the scheme is
/// what `secure_proxy_ssl_header` says behind one.
fn full_url(request: &Request) -> String {
    let validated = RequestHost::of(request.extensions()).map(|host| host.host.as_str());
    let host = validated
        .or_else(|| request.headers().get(HOST).and_then(|h| h.to_str().ok()))
        .unwrap_or("");
    let secure = AppState::of(request.extensions())
        .is_some_and(|state| crate::middleware::security::is_secure(request, &state.settings));
    let scheme = if secure { "https" } else { "http" };
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    format!("{scheme}://{host}{path}")
}

/// The key of the page for these request headers: a hash, as URLs and
/// header values may be long or hold anything.
fn page_key(method: &str, url: &str, vary: &[String], headers: &HeaderMap) -> String {
    let mut hash = Sha256::new();
    hash.update(url.as_bytes());
    for name in vary {
        hash.update(b"\n");
        hash.update(name.as_bytes());
        hash.update(b":");
        for value in headers.get_all(name.as_str()) {
            hash.update(value.as_bytes());
            hash.update(b",");
        }
    }
    let digest = crate::hex::encode(&hash.finalize());
    format!("nuages.page.{method}.{digest}")
}
