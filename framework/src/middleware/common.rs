//! `common`: Django's APPEND_SLASH. A GET or HEAD for `/polls` that matches no
//! route is redirected (301) to `/polls/` when that path does match one.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::Method;

use crate::middleware::Next;
use crate::state::AppState;

/// The `common` middleware.
pub async fn middleware(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let wants_slash = matches!(*request.method(), Method::GET | Method::HEAD)
        && !path.ends_with('/')
        && state.urls.resolve(path).is_none()
        && state.urls.resolve(&format!("{path}/")).is_some();
    if !wants_slash {
        return next.run(request).await;
    }
    let target = match request.uri().query() {
        Some(query) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    };
    // Only a path of this site: `//evil.example` must not become a redirect off-site.
    if target.starts_with("//") {
        return next.run(request).await;
    }
    crate::views::redirect_permanent(&target)
}
