//! Error pages. With `debug = true`: the error, its causes, a hint and, for
//! 404, the patterns tried. Otherwise: a plain page (or the project's
//! `404.html`, `500.html`, `400.html`, `403.html`) that never shows a detail,
//! a path, a setting or a secret.

use std::any::Any;
use std::borrow::Cow;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};

use crate::conf::Settings;
use crate::error::{Error, ErrorReport};
use crate::mail::report::{RequestSummary, error_mail};
use crate::state::AppState;
use crate::views::escape_html;

/// Largest error body read back to show in a debug page.
const DETAIL_LIMIT: usize = 16 * 1024;

/// A plain production page: `$title` as the title and the heading, then
/// `$body`; literals, so that the pages sent most are written at compile
/// time (and `"{title}"` makes a format string of it for the others).
macro_rules! plain_html {
    ($title:literal, $body:literal) => {
        concat!(
            "<!doctype html>\n<html lang=\"en\"><head><title>",
            $title,
            "</title></head><body><h1>",
            $title,
            "</h1>",
            $body,
            "</body></html>\n"
        )
    };
}

/// The title and the whole page of the statuses a production site sends
/// most, made once: a 404 costs no formatting.
fn common_page(status: StatusCode) -> Option<(&'static str, &'static str)> {
    macro_rules! page {
        ($title:literal, $body:literal) => {
            Some(($title, plain_html!($title, $body)))
        };
    }
    match status.as_u16() {
        404 => page!(
            "Not Found",
            "<p>The requested resource was not found on this server.</p>"
        ),
        500 => page!("Server Error (500)", ""),
        400 => page!("Bad Request (400)", ""),
        403 => page!("Forbidden (403)", ""),
        _ => None,
    }
}

/// The production text for `status`: nothing about the request.
pub fn plain_message(status: StatusCode) -> String {
    match common_page(status) {
        Some((title, _)) => title.to_string(),
        None => format!(
            "{} ({})",
            status.canonical_reason().unwrap_or("Error"),
            status.as_u16()
        ),
    }
}

fn plain_page(status: StatusCode) -> Cow<'static, str> {
    match common_page(status) {
        Some((_, page)) => Cow::Borrowed(page),
        None => Cow::Owned(format!(
            plain_html!("{title}", ""),
            title = plain_message(status)
        )),
    }
}

/// What answers a path no pattern matches: the welcome page at `/` of a
/// fresh project in debug, else 404.
pub(crate) fn not_found(request: Request) -> Response {
    let path = request.uri().path();
    let state = AppState::of(request.extensions());
    if let Some(state) = state
        && !state.settings.debug
    {
        // The page the error-page layer would make of the error below,
        // made at once: in production it shows nothing of the error.
        tracing::debug!(target: "nuages::request", method = %request.method(), path, status = 404, "no URL pattern matches {path}");
        let page = production_page(state, StatusCode::NOT_FOUND, path);
        return (
            StatusCode::NOT_FOUND,
            [(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page,
        )
            .into_response();
    }
    if path == "/"
        && let Some(state) = state
    {
        return crate::views::welcome::page(&state.project).into_response();
    }
    let error = Error::NotFound(format!("no URL pattern matches {path}"));
    if let Some(state) = state
        && let Some(hint) = slash_hint(state, request.method(), path)
    {
        return ErrorReport::response(
            StatusCode::NOT_FOUND,
            ErrorReport {
                chain: error.chain(),
                hint: Some(hint),
            },
        );
    }
    error.into_response()
}

/// Django's debug error for a POST to a path without its slash: `common`
/// redirects only a GET or HEAD (a browser would follow a redirect of a
/// POST with a GET, its data lost), so say which path has a route.
fn slash_hint(state: &AppState, method: &Method, path: &str) -> Option<String> {
    let slashed = format!("{path}/");
    let applies = !matches!(*method, Method::GET | Method::HEAD)
        && !path.ends_with('/')
        && state.settings.middleware.iter().any(|m| m == "common")
        && state.urls.resolve(&slashed).is_some();
    applies.then(|| {
        format!(
            "you sent this {method} to {path}, without the trailing slash of the route at {slashed}; \
             the \"common\" middleware redirects only GET and HEAD there, since a redirected \
             {method} would lose its data: send it to {slashed} (change the form's action, or \
             write it with url(name=…))"
        )
    })
}

/// Where a panic happened: it becomes a logged 500 at that level, so that
/// the levels around it (the settings' middleware, the built-ins' response
/// steps) see a 500 response, as Django's exception handling around each
/// middleware gives them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Panicked {
    /// In a view (or its extractors).
    View,
    /// In a middleware of the project or an app.
    Middleware(&'static str),
    /// In the framework's own levels, outside the others.
    RequestPath,
}

/// The 500 of a panic at `place`, which the error pages replace.
pub(crate) fn panic_response(place: Panicked, payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic_message(payload.as_ref());
    let what = match place {
        Panicked::View => "the view panicked".to_string(),
        Panicked::Middleware(name) => format!("the middleware '{name}' panicked"),
        Panicked::RequestPath => "the request path panicked".to_string(),
    };
    ErrorReport::response(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorReport {
            chain: vec![format!("{what}: {message}")],
            hint: None,
        },
    )
}

/// The message a panic was raised with.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

/// Whether the client reads HTML (a browser, curl's `*/*`, no `Accept`).
fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|accept| accept.contains("text/html") || accept.contains("*/*"))
}

/// The page for a request that arrives while the development server cannot
/// start (the reloader answers it): with `debug = true` and an allowed host,
/// the start-up error as HTML (or text for a client that does not read
/// HTML); otherwise the plain 500 page. The content type and the body.
pub fn startup_failure_page(
    settings: &Settings,
    request: &http::request::Parts,
    report: &ErrorReport,
) -> (&'static str, String) {
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    let shows_detail =
        settings.debug && crate::middleware::hosts::validate(request, settings).is_ok();
    if !shows_detail {
        return ("text/html; charset=utf-8", plain_page(status).into_owned());
    }
    let path = request.uri.path();
    if wants_html(&request.headers) {
        (
            "text/html; charset=utf-8",
            debug_html(status, &request.method, path, report, ""),
        )
    } else {
        (
            "text/plain; charset=utf-8",
            debug_text(status, &request.method, path, report, ""),
        )
    }
}

/// Error pages for debug or production, logged: what a page needs of the
/// request, taken before the request goes in (its method and target are
/// the request line's, not copied again); [`Self::respond`] replaces an
/// error response with its page.
pub(crate) struct ErrorPageRequest {
    wants_html: bool,
    summary: Option<RequestSummary>,
}

impl ErrorPageRequest {
    /// Take what the page may need from `request` (cheap: no copy of the
    /// path until a page is made).
    pub(crate) fn of(state: &AppState, request: &Request) -> ErrorPageRequest {
        // Only what the admins' report needs, and only when one may go out.
        let mails_admins = !state.settings.debug && state.mailer.has_admins();
        ErrorPageRequest {
            // Only the debug pages come as text or HTML.
            wants_html: state.settings.debug && wants_html(request.headers()),
            summary: mails_admins.then(|| RequestSummary::of(request)),
        }
    }

    /// Whether an error page replaces `response`: a 4xx or 5xx with an
    /// error report, in plain text, or without a content type. A view's own
    /// error page (HTML, JSON…) is left alone. The others skip
    /// [`Self::respond`] and its future.
    pub(crate) fn replaces(response: &Response) -> bool {
        let status = response.status();
        if !(status.is_client_error() || status.is_server_error()) {
            return false;
        }
        match response.headers().get(CONTENT_TYPE) {
            None => true,
            Some(content_type) => {
                content_type.as_bytes().starts_with(b"text/plain")
                    || response.extensions().get::<ErrorReport>().is_some()
            }
        }
    }

    /// A server error answered with the view's own page (a 503 "back
    /// soon" page): the page stays as it is and, as Django's
    /// `django.request` logger does, the error is logged and mailed to the
    /// admins.
    pub(crate) fn report_kept(
        self,
        state: &AppState,
        method: &Method,
        uri: &http::Uri,
        status: StatusCode,
    ) {
        let report = ErrorReport {
            chain: vec![plain_message(status)],
            hint: None,
        };
        log_error(status, method, uri.path(), &report);
        if let Some(summary) = self.summary {
            mail_admins_in_background(state, status, &summary, &report);
        }
    }

    /// The error page that replaces `response` (one that [`Self::replaces`]
    /// says it replaces), for a request with this `method` and `uri`. Its
    /// future is large: the caller boxes it.
    pub(crate) async fn respond(
        self,
        state: &AppState,
        method: &Method,
        uri: &http::Uri,
        response: Response,
    ) -> Response {
        error_page(
            state,
            method,
            uri.path(),
            self.wants_html,
            self.summary,
            response,
        )
        .await
    }
}

async fn error_page(
    state: &AppState,
    method: &Method,
    path: &str,
    wants_html: bool,
    summary: Option<RequestSummary>,
    response: Response,
) -> Response {
    let status = response.status();
    let report = response.extensions().get::<ErrorReport>().cloned();
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
    let report = ErrorReport {
        hint: report
            .hint
            .map(|hint| crate::db::name_the_database(hint, &[&state.databases])),
        ..report
    };
    log_error(status, method, path, &report);
    if let Some(summary) = summary.filter(|_| status.is_server_error()) {
        mail_admins_in_background(state, status, &summary, &report);
    }

    let (content_type, page) = if state.settings.debug {
        let patterns =
            (status == StatusCode::NOT_FOUND).then(|| PatternsTried::of(state, &parts, path));
        if wants_html {
            let patterns = patterns.map(|p| p.html()).unwrap_or_default();
            (
                "text/html; charset=utf-8",
                Cow::Owned(debug_html(status, method, path, &report, &patterns)),
            )
        } else {
            let patterns = patterns.map(|p| p.text()).unwrap_or_default();
            (
                "text/plain; charset=utf-8",
                Cow::Owned(debug_text(status, method, path, &report, &patterns)),
            )
        }
    } else {
        (
            "text/html; charset=utf-8",
            production_page(state, status, path),
        )
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.extensions.remove::<ErrorReport>();
    parts.extensions.remove::<crate::urls::AnsweredBy>();
    Response::from_parts(parts, Body::from(page))
}

/// Mail the admins the report of a server error without holding the
/// response: the mail goes out in a task of its own, and a failure is logged.
fn mail_admins_in_background(
    state: &AppState,
    status: StatusCode,
    summary: &RequestSummary,
    report: &ErrorReport,
) {
    let (subject, body) = error_mail(&state.settings, status, summary, report);
    // The request is in the log line of the error itself, beside this one.
    state.mailer.report_in_background(
        "the error report to the admins".into(),
        |mailer| async move { mailer.mail_admins(&subject, &body).await },
    );
}

fn log_error(status: StatusCode, method: &Method, path: &str, report: &ErrorReport) {
    // Joined only when the event is enabled (the macros evaluate their
    // arguments then): a 404 is logged at debug, off by default.
    let causes = || report.chain.join(": caused by: ");
    if status.is_server_error() {
        // With the fix: in production the log is the only place an operator
        // reads it (the page says "Server Error (500)", the mail the chain).
        match &report.hint {
            Some(hint) => tracing::error!(
                target: "nuages::request", %method, path, status = status.as_u16(),
                "{} (hint: {hint})", causes()
            ),
            None => tracing::error!(
                target: "nuages::request", %method, path, status = status.as_u16(), "{}", causes()
            ),
        }
    } else if matches!(
        status,
        StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
    ) {
        // A form over a limit or a body that cannot be read: the page says
        // only "Bad Request (400)", so the log names the setting (as
        // Django's `django.security` warnings). Escaped: a cause may quote
        // what the client sent.
        tracing::warn!(
            target: "nuages::request", %method, path, status = status.as_u16(),
            "{}", crate::error::without_controls(&causes())
        );
    } else {
        tracing::debug!(target: "nuages::request", %method, path, status = status.as_u16(), "{}", causes());
    }
}

/// The production page for `status`: the project's `404.html` (…) if it
/// has one and it renders, else the plain page.
fn production_page(state: &AppState, status: StatusCode, path: &str) -> Cow<'static, str> {
    // `404.html`: a status code is always three digits.
    let mut name = *b"000.html";
    name[..3].copy_from_slice(status.as_str().as_bytes());
    let template = std::str::from_utf8(&name).expect("digits and ASCII");
    if state.templates.contains(template) {
        let context = error_page_context(status, path);
        // The project's own filters and functions run here, outside the
        // guard of the views: a panic among them gets the plain page too.
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            state.templates.render(template, &context)
        }));
        match rendered {
            Ok(Ok(page)) => return Cow::Owned(page),
            Ok(Err(error)) => {
                let chain = Error::from(error).chain().join(": caused by: ");
                tracing::error!(target: "nuages::request", "error page {template} failed: {chain}");
            }
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                tracing::error!(target: "nuages::request", "error page {template} panicked: {message}");
            }
        }
    }
    plain_page(status)
}

/// What the project's error templates get: `status_code`, `request_path`
/// for a 404 (as Django's `page_not_found`), and what the site's base
/// template commonly shows, as Django's `500.html` gets it from an empty
/// context: `user` as a visitor who is not logged in, no `perms`, no
/// `messages`, an empty CSRF token (`csrf_input()` writes an empty field).
/// So an error template that extends the base template renders, rather
/// than falling back to the plain page.
fn error_page_context(status: StatusCode, path: &str) -> tera::Context {
    let mut context = crate::context! {
        "status_code" => &status.as_u16(),
        "user" => &crate::auth::login::anonymous_user(),
        "perms" => &serde_json::json!({}),
        "messages" => &[] as &[&str],
        crate::templates::CSRF_TOKEN_KEY => "",
    };
    if status == StatusCode::NOT_FOUND {
        context.insert("request_path", path);
    }
    context
}

/// What the debug 404 page says of the URL patterns, as Django's
/// `technical_404.html`: the patterns tried, in order, and either that the
/// path matched none, or that it matched the last one and which view
/// answered 404.
struct PatternsTried<'a> {
    project: &'a str,
    /// Every route, or those up to and including the one that matched.
    tried: &'a [crate::urls::Route],
    /// The view of the route that matched, when one did.
    raised_by: Option<&'a str>,
    /// The path without its leading slash, as the patterns are written.
    path: &'a str,
}

impl<'a> PatternsTried<'a> {
    /// For a 404 `response` to `path`: marked with the route whose view
    /// answered it, or not (no pattern matched).
    fn of(state: &'a AppState, response: &http::response::Parts, path: &'a str) -> Self {
        let routes = state.urls.routes();
        let matched = response
            .extensions
            .get::<crate::urls::AnsweredBy>()
            .and_then(|answered| routes.get(answered.0).map(|_| answered.0));
        PatternsTried {
            project: &state.project,
            tried: match matched {
                Some(index) => &routes[..=index],
                None => routes,
            },
            raised_by: matched.map(|index| routes[index].view.as_str()),
            path: path.trim_start_matches('/'),
        }
    }

    /// "The current path, `polls/999/`, matched the last one." or "…
    /// didn't match any of these.", the path written by `code`.
    fn conclusion(&self, code: impl Fn(&str) -> String) -> String {
        let subject = match self.path {
            "" => "The empty path".to_string(),
            path => format!("The current path, {},", code(path)),
        };
        match self.raised_by {
            Some(_) => format!("{subject} matched the last one."),
            None => format!("{subject} didn't match any of these."),
        }
    }

    fn html(&self) -> String {
        let mut html = String::new();
        if let Some(view) = self.raised_by {
            html.push_str(&format!(
                "<p>Raised by: <code>{}</code></p>",
                escape_html(view)
            ));
        }
        html.push_str(&format!(
            "<p>Using the URL patterns of <code>{}</code>, Nuages tried these, in this order:</p><ol class=\"patterns\">",
            escape_html(self.project)
        ));
        for route in self.tried {
            html.push_str(&format!(
                "<li><code>{}</code></li>",
                escape_html(&route.to_string())
            ));
        }
        html.push_str(&format!(
            "</ol><p>{}</p>",
            self.conclusion(|path| format!("<code>{}</code>", escape_html(path)))
        ));
        html
    }

    fn text(&self) -> String {
        let mut text = String::new();
        if let Some(view) = self.raised_by {
            text.push_str(&format!("Raised by: {view}\n"));
        }
        text.push_str("\nURL patterns tried, in order:\n");
        for route in self.tried {
            text.push_str(&format!("  {route}\n"));
        }
        text.push_str(&self.conclusion(str::to_string));
        text.push('\n');
        text
    }
}

/// The debug page: the error, its causes, the hint, then `details` (HTML).
fn debug_html(
    status: StatusCode,
    method: &Method,
    path: &str,
    report: &ErrorReport,
    details: &str,
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
    html.push_str(details);
    html.push_str(
        "<p><small>You're seeing this error because you have <code>debug = true</code> in your settings file. \
Change that to <code>false</code>, and Nuages will display a standard page.</small></p></main></body></html>\n",
    );
    html
}

/// The debug page as text, then `details`.
fn debug_text(
    status: StatusCode,
    method: &Method,
    path: &str,
    report: &ErrorReport,
    details: &str,
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
    text.push_str(details);
    text.push_str("\nYou're seeing this because debug = true in your settings file.\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str, accept: &str) -> http::request::Parts {
        http::Request::get("/polls/")
            .header(http::header::HOST, host)
            .header(ACCEPT, accept)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn plain_pages_name_the_status_and_nothing_else() {
        let page = |title: &str, body: &str| {
            format!(
                "<!doctype html>\n<html lang=\"en\"><head><title>{title}</title></head><body>\
                 <h1>{title}</h1>{body}</body></html>\n"
            )
        };
        for (code, title, body) in [
            (
                404,
                "Not Found",
                "<p>The requested resource was not found on this server.</p>",
            ),
            (500, "Server Error (500)", ""),
            (400, "Bad Request (400)", ""),
            (403, "Forbidden (403)", ""),
            (418, "I'm a teapot (418)", ""),
            (503, "Service Unavailable (503)", ""),
        ] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(plain_message(status), title);
            assert_eq!(plain_page(status), page(title, body));
        }
    }

    #[test]
    fn a_startup_failure_shows_its_error_only_in_debug_to_an_allowed_host() {
        let report = ErrorReport {
            chain: vec![
                "The development server did not start".into(),
                "error: <b>broken</b>".into(),
            ],
            hint: Some("fix it".into()),
        };
        let debug = Settings {
            debug: true,
            ..Settings::default()
        };
        let (content_type, page) =
            startup_failure_page(&debug, &request("localhost:8000", "text/html"), &report);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(page.contains("error: &lt;b&gt;broken&lt;/b&gt;"), "{page}");
        assert!(page.contains("Hint: fix it"), "{page}");
        let (content_type, page) =
            startup_failure_page(&debug, &request("localhost", "application/json"), &report);
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert!(
            page.contains("  caused by: error: <b>broken</b>\n"),
            "{page}"
        );

        for (settings, host) in [
            (&debug, "attacker.example"),
            (&Settings::default(), "localhost"),
        ] {
            let (_, page) = startup_failure_page(settings, &request(host, "text/html"), &report);
            assert!(!page.contains("broken"), "{page}");
            assert!(page.contains("Server Error (500)"), "{page}");
        }
    }
}
