//! Error pages. With `debug = true`: the error, its causes, a hint and, for
//! 404, the patterns tried. Otherwise: a plain page (or the project's
//! `404.html`, `500.html`, `400.html`, `403.html`) that never shows a detail,
//! a path, a setting or a secret.

use std::any::Any;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};

use crate::error::{Error, ErrorReport};
use crate::handler::AppState;
use crate::middleware::Next;
use crate::views::escape_html;

/// Largest error body read back to show in a debug page.
const DETAIL_LIMIT: usize = 16 * 1024;

/// The production text for `status`: nothing about the request.
pub fn plain_message(status: StatusCode) -> String {
    match status.as_u16() {
        404 => "Not Found".to_string(),
        500 => "Server Error (500)".to_string(),
        400 => "Bad Request (400)".to_string(),
        403 => "Forbidden (403)".to_string(),
        code => format!("{} ({code})", status.canonical_reason().unwrap_or("Error")),
    }
}

fn plain_page(status: StatusCode) -> String {
    let title = plain_message(status);
    let body = match status.as_u16() {
        404 => "<p>The requested resource was not found on this server.</p>",
        _ => "",
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>\n"
    )
}

/// What answers a path no pattern matches: the welcome page at `/` of a
/// fresh project in debug, else 404.
pub(crate) async fn not_found(request: Request) -> Response {
    let path = request.uri().path();
    if path == "/"
        && let Some(state) = request.extensions().get::<Arc<AppState>>()
        && state.settings.debug
    {
        return crate::views::welcome::page(&state.project).into_response();
    }
    Error::NotFound(format!("no URL pattern matches {path}")).into_response()
}

/// A panic in a view or middleware becomes a logged 500.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    ErrorReport::response(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorReport {
            chain: vec![format!("the view panicked: {message}")],
            hint: None,
        },
    )
}

/// Middleware: render error responses for debug or production, and log them.
pub async fn error_pages(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let wants_html = request
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|accept| accept.contains("text/html") || accept.contains("*/*"));
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let report = response.extensions().get::<ErrorReport>().cloned();
    let is_plain_text = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    // A view's own error page (HTML, JSON…) is left alone.
    if report.is_none() && !is_plain_text && response.headers().contains_key(CONTENT_TYPE) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let report = match report {
        Some(report) => report,
        None => {
            let bytes = axum::body::to_bytes(body, DETAIL_LIMIT)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            ErrorReport {
                chain: if text.is_empty() {
                    vec![plain_message(status)]
                } else {
                    vec![text]
                },
                hint: None,
            }
        }
    };
    log_error(status, &method, &path, &report);

    let (content_type, page) = if state.settings.debug {
        if wants_html {
            (
                "text/html; charset=utf-8",
                debug_html(&state, status, &method, &path, &report),
            )
        } else {
            (
                "text/plain; charset=utf-8",
                debug_text(&state, status, &method, &path, &report),
            )
        }
    } else {
        ("text/html; charset=utf-8", production_page(&state, status))
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.extensions.remove::<ErrorReport>();
    Response::from_parts(parts, Body::from(page))
}

fn log_error(status: StatusCode, method: &Method, path: &str, report: &ErrorReport) {
    let causes = report.chain.join(": caused by: ");
    if status.is_server_error() {
        tracing::error!(target: "nuages::request", %method, path, status = status.as_u16(), "{causes}");
    } else {
        tracing::debug!(target: "nuages::request", %method, path, status = status.as_u16(), "{causes}");
    }
}

fn production_page(state: &AppState, status: StatusCode) -> String {
    let template = format!("{}.html", status.as_u16());
    if state.templates.contains(&template) {
        let context = crate::context! { "status_code" => &status.as_u16() };
        match state.templates.render(&template, &context) {
            Ok(page) => return page,
            Err(error) => {
                let chain = Error::from(error).chain().join(": caused by: ");
                tracing::error!(target: "nuages::request", "error page {template} failed: {chain}");
            }
        }
    }
    plain_page(status)
}

fn tried_patterns(state: &AppState) -> Vec<String> {
    state
        .urls
        .routes()
        .iter()
        .map(|route| route.to_string())
        .collect()
}

fn debug_html(
    state: &AppState,
    status: StatusCode,
    method: &Method,
    path: &str,
    report: &ErrorReport,
) -> String {
    let title = match status.as_u16() {
        404 => "Page not found (404)".to_string(),
        code => format!("{} ({code})", status.canonical_reason().unwrap_or("Error")),
    };
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:0;color:#222}}header{{background:#ffc;padding:1rem 2rem;border-bottom:1px solid #ddd}}\
main{{padding:1rem 2rem}}code,pre{{background:#f4f4f4;padding:.2em .4em}}li{{margin:.3em 0}}.hint{{background:#e7f3ff;padding:.6rem 1rem}}</style></head>\
<body><header><h1>{title}</h1><p>Request: <code>{} {}</code></p></header><main>",
        escape_html(method.as_str()),
        escape_html(path)
    );
    if let Some((first, causes)) = report.chain.split_first() {
        html.push_str(&format!("<h2>{}</h2>", escape_html(first)));
        if !causes.is_empty() {
            html.push_str("<h3>Caused by</h3><ol class=\"causes\">");
            for cause in causes {
                html.push_str(&format!("<li><pre>{}</pre></li>", escape_html(cause)));
            }
            html.push_str("</ol>");
        }
    }
    if let Some(hint) = &report.hint {
        html.push_str(&format!(
            "<p class=\"hint\">Hint: {}</p>",
            escape_html(hint)
        ));
    }
    if status == StatusCode::NOT_FOUND {
        html.push_str(&format!(
            "<p>Using the URL patterns of <code>{}</code>, Nuages tried these, in this order:</p><ol class=\"patterns\">",
            escape_html(&state.project)
        ));
        for pattern in tried_patterns(state) {
            html.push_str(&format!("<li><code>{}</code></li>", escape_html(&pattern)));
        }
        html.push_str(&format!(
            "</ol><p>The current path, <code>{}</code>, didn't match any of these.</p>",
            escape_html(path.trim_start_matches('/'))
        ));
    }
    html.push_str(
        "<p><small>You're seeing this error because you have <code>debug = true</code> in your settings file. \
Change that to <code>false</code>, and Nuages will display a standard page.</small></p></main></body></html>\n",
    );
    html
}

fn debug_text(
    state: &AppState,
    status: StatusCode,
    method: &Method,
    path: &str,
    report: &ErrorReport,
) -> String {
    let mut text = format!(
        "{} {}\nRequest: {method} {path}\n\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    for (index, message) in report.chain.iter().enumerate() {
        if index == 0 {
            text.push_str(&format!("{message}\n"));
        } else {
            text.push_str(&format!("  caused by: {message}\n"));
        }
    }
    if let Some(hint) = &report.hint {
        text.push_str(&format!("hint: {hint}\n"));
    }
    if status == StatusCode::NOT_FOUND {
        text.push_str("\nURL patterns tried, in order:\n");
        for pattern in tried_patterns(state) {
            text.push_str(&format!("  {pattern}\n"));
        }
    }
    text.push_str("\nYou're seeing this because debug = true in your settings file.\n");
    text
}
