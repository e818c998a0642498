//! The project's own middleware, registered in src/wsgi.rs and placed by
//! the `middleware` setting.

use nuages::prelude::*;

/// `timing`: how long the rest of the request path took, as a
/// `Server-Timing` header the browser's developer tools show.
pub async fn timing(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let took = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = format!("app;dur={took:.2}").parse() {
        response.headers_mut().insert("server-timing", value);
    }
    response
}
