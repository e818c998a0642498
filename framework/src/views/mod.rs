//! The framework's own views: error pages (debug and production) and the
//! welcome page of a fresh project.

pub(crate) mod errors;
pub(crate) mod welcome;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::LOCATION;

/// A 302 to `to`, as Django's `redirect()` / `HttpResponseRedirect`;
/// characters a URI cannot hold (non-ASCII, spaces, controls) are
/// percent-encoded, as Django's `iri_to_uri` does. As in Django, `to` may
/// be the name of a route without parameters (`redirect("polls:index")`):
/// the route table puts its path in `Location`.
///
/// ```
/// let response = nuages::views::redirect("/polls/1/results/");
/// assert_eq!(response.status(), 302);
/// let response = nuages::views::redirect("/café/");
/// assert_eq!(response.headers()["location"], "/caf%C3%A9/");
/// ```
pub fn redirect(to: &str) -> Response {
    redirect_with(StatusCode::FOUND, to)
}

/// A 301 to `to`, as Django's `HttpResponsePermanentRedirect`.
pub fn redirect_permanent(to: &str) -> Response {
    redirect_with(StatusCode::MOVED_PERMANENTLY, to)
}

/// What Django's `iri_to_uri` leaves as it is, besides letters and digits:
/// the unreserved `-._~` and the delimiters of a URI, `%` included (an
/// address already encoded stays as it is).
const KEPT_IN_A_URI: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/')
    .remove(b'#')
    .remove(b'%')
    .remove(b'[')
    .remove(b']')
    .remove(b'=')
    .remove(b':')
    .remove(b';')
    .remove(b'$')
    .remove(b'&')
    .remove(b'(')
    .remove(b')')
    .remove(b'+')
    .remove(b',')
    .remove(b'!')
    .remove(b'?')
    .remove(b'*')
    .remove(b'@')
    .remove(b'\'');

fn redirect_with(status: StatusCode, to: &str) -> Response {
    let location = percent_encoding::utf8_percent_encode(to, KEPT_IN_A_URI).to_string();
    let mut response = (status, [(LOCATION, location)]).into_response();
    // A name is a token of these characters; a path, a URL or a query has a
    // `/`, `.`, `?` or `#` (Django tries only what has no `/` or `.`).
    let could_be_a_name = !to.is_empty()
        && to
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
    if could_be_a_name {
        response
            .extensions_mut()
            .insert(RedirectTarget(to.to_string()));
    }
    response
}

/// What `redirect()` was given when it may be a route's name: the request
/// path reverses it into `Location` ([`Resolver::reverse_redirect`]), so
/// that only such a response costs a lookup.
///
/// [`Resolver::reverse_redirect`]: crate::urls::Resolver::reverse_redirect
#[derive(Clone, Debug)]
pub(crate) struct RedirectTarget(pub(crate) String);

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
