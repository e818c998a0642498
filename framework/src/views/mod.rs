//! The framework's own views: error pages (debug and production) and the
//! welcome page of a fresh project.

pub(crate) mod errors;
pub(crate) mod welcome;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::LOCATION;

/// A 302 to `to`, as Django's `redirect()` / `HttpResponseRedirect`.
///
/// ```
/// let response = nuages::views::redirect("/polls/1/results/");
/// assert_eq!(response.status(), 302);
/// ```
pub fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(LOCATION, to.to_string())]).into_response()
}

/// A 301 to `to`, as Django's `HttpResponsePermanentRedirect`.
pub fn redirect_permanent(to: &str) -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(LOCATION, to.to_string())]).into_response()
}

/// Escape text for HTML (`&`, `<`, `>`, `"`, `'`).
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}
