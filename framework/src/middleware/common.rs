//! `common`: Django's APPEND_SLASH. A GET or HEAD for `/polls` that matches no
//! route is redirected (301) to `/polls/` when that path does match one.

use axum::extract::Request;
use axum::response::Response;
use http::Method;

use crate::state::AppState;

/// The `common` middleware: the redirect to the path with a slash, when
/// only that one has a route.
pub(crate) fn process_request(state: &AppState, request: &Request) -> Option<Response> {
    let path = request.uri().path();
    let wants_slash = matches!(*request.method(), Method::GET | Method::HEAD)
        && !path.ends_with('/')
        && state.urls.resolve(path).is_none()
        && state.urls.resolve(&format!("{path}/")).is_some();
    if !wants_slash {
        return None;
    }
    let target = match request.uri().query() {
        Some(query) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    };
    // Only a path of this site: neither `//evil.example` nor
    // `/\evil.example` (a browser reads the backslash as a slash) may become
    // a redirect off-site.
    if !crate::auth::views::is_same_site(&target) {
        return None;
    }
    Some(crate::views::redirect_permanent(&target))
}
