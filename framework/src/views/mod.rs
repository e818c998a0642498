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
/// As Django's `HttpResponseRedirect` refuses (`DisallowedRedirect`, a
/// 400) a URL whose scheme is not `http`, `https` or `ftp`, so does this:
/// `redirect("javascript:alert(1)")` or a `data:` URL answers 400 Bad
/// Request, the error naming the scheme (a page that redirects to a
/// visitor's `next` must not run their script).
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

/// The schemes a redirect may name, as Django's
/// `HttpResponseRedirectBase.allowed_schemes`.
const ALLOWED_SCHEMES: [&str; 3] = ["http", "https", "ftp"];

/// The scheme of a URI (`javascript` of `javascript:alert(1)`), by RFC
/// 3986's grammar: a letter, then letters, digits, `+`, `-` or `.`, up to a
/// `:` that comes before any `/`, `?` or `#`.
fn scheme_of(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(scheme)
}

fn redirect_with(status: StatusCode, to: &str) -> Response {
    let location = percent_encoding::utf8_percent_encode(to, KEPT_IN_A_URI).to_string();
    // A name is a token of these characters; a path, a URL or a query has a
    // `/`, `.`, `?` or `#` (Django tries only what has no `/` or `.`).
    let could_be_a_name = !to.is_empty()
        && to
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':'));
    // A name (`polls:index`) is reversed later, or is an error there (or
    // checked as a URL there, when no route has it and its first part is
    // no namespace: `javascript:alert`).
    if !could_be_a_name && let Some(refused) = refuse_unsafe_scheme(&location) {
        return refused;
    }
    let mut response = (status, [(LOCATION, location)]).into_response();
    if could_be_a_name {
        response
            .extensions_mut()
            .insert(RedirectTarget(to.to_string()));
    }
    response
}

/// The 400 for a redirect to `location` when its scheme is not one a
/// redirect may name (`javascript:`, `data:`), as Django's
/// `DisallowedRedirect`.
pub(crate) fn refuse_unsafe_scheme(location: &str) -> Option<Response> {
    let scheme = scheme_of(location)?;
    if ALLOWED_SCHEMES
        .iter()
        .any(|allowed| scheme.eq_ignore_ascii_case(allowed))
    {
        return None;
    }
    Some(
        crate::error::Error::BadRequest(format!(
            "unsafe redirect to a URL with the scheme '{scheme}' refused: redirect() takes a \
             path, or an http, https or ftp URL (check where the address came from, e.g. a \
             `next` parameter)"
        ))
        .into_response(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_to_schemes_other_than_http_https_ftp_are_refused() {
        for unsafe_url in [
            "javascript:alert(1)",
            "JavaScript:alert(document.cookie)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "file:///etc/passwd",
        ] {
            for response in [redirect(unsafe_url), redirect_permanent(unsafe_url)] {
                assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{unsafe_url}");
                assert!(response.headers().get(LOCATION).is_none(), "{unsafe_url}");
                let report = response
                    .extensions()
                    .get::<crate::error::ErrorReport>()
                    .expect("an error report");
                let scheme = unsafe_url.split(':').next().unwrap();
                assert!(
                    report.chain[0].contains(&format!("'{scheme}'")),
                    "{:?}",
                    report.chain
                );
            }
        }
        for safe in [
            "/polls/",
            "https://example.com/a:b",
            "HTTP://example.com/",
            "ftp://files.example.com/x",
            "//example.com/",
            "?page=2:3",
            "results/a:b",
            " javascript:alert(1)",
            "polls:index",
        ] {
            let response = redirect(safe);
            assert_eq!(response.status(), StatusCode::FOUND, "{safe}");
        }
    }
}
