//! `/hello/{name}/` behind the protections Nuages runs by default, assembled
//! by hand from the axum ecosystem as a user who wanted them would:
//!
//! - a request log line per response at `info` (tower-http's `TraceLayer`
//!   through `tracing-subscriber`'s formatter, to stderr, which the harness
//!   sends to a file, as it does for Nuages);
//! - the security headers Nuages sends on this page (`X-Content-Type-Options`,
//!   `Referrer-Policy`, `Cross-Origin-Opener-Policy`, `X-Frame-Options`);
//! - a request body limit (2.5 MiB, Nuages' and Django's default);
//! - allowed-host validation (400 for any other `Host`);
//! - sessions in signed cookies (tower-sessions, in memory);
//! - CSRF protection (axum_csrf: a token per request from its cookie, a
//!   cookie only when a page renders the token, unsafe methods refused
//!   without a valid `X-CSRFToken` header);
//! - the page rendered from the same Tera template file.
//!
//! Run as `axum-stack PORT TEMPLATE_DIR`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum_csrf::{CsrfConfig, CsrfLayer, CsrfToken};
use tera::{Context, Tera};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::Key;
use tower_sessions::{MemoryStore, SessionManagerLayer};
use tracing::Level;

/// The hosts this site answers for, as Nuages' `allowed_hosts` in the harness.
const ALLOWED_HOSTS: &[&str] = &["127.0.0.1", "localhost"];

/// Django's and Nuages' default upload limit.
const BODY_LIMIT: usize = 2_621_440;

async fn hello(State(tera): State<Arc<Tera>>, Path(name): Path<String>) -> Response {
    let mut context = Context::new();
    context.insert("name", &name);
    match tera.render("hello.html", &context) {
        Ok(page) => Html(page).into_response(),
        Err(error) => {
            tracing::error!("{error}");
            (StatusCode::INTERNAL_SERVER_ERROR, "Server Error (500)").into_response()
        }
    }
}

/// 400 unless the `Host` header (without its port) is an allowed host.
async fn validate_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(|host| host.rsplit_once(':').map_or(host, |(name, _)| name));
    match host {
        Some(host) if ALLOWED_HOSTS.contains(&host) => next.run(request).await,
        _ => (StatusCode::BAD_REQUEST, "Bad Request (400)").into_response(),
    }
}

/// Unsafe methods need the token the page rendered, sent back in a header.
async fn enforce_csrf(token: CsrfToken, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if !safe {
        let sent = request
            .headers()
            .get("x-csrftoken")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if token.verify(sent).is_err() {
            return (StatusCode::FORBIDDEN, "CSRF verification failed").into_response();
        }
    }
    next.run(request).await
}

fn header_layer(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().expect("a port");
    let mut tera = Tera::new();
    tera.add_template_file(format!("{}/hello.html", args[2]), Some("hello.html"))
        .expect("the template loads");
    tracing_subscriber::fmt()
        .with_max_level(Level::INFO)
        .with_writer(std::io::stderr)
        // Plain lines, as in a log file.
        .with_ansi(false)
        .init();

    let sessions = SessionManagerLayer::new(MemoryStore::default())
        .with_secure(false)
        .with_signed(Key::generate());
    let csrf = CsrfConfig::default().with_key(Some(axum_csrf::Key::generate()));
    let app = Router::new()
        .route("/hello/{name}/", get(hello))
        .with_state(Arc::new(tera))
        // Innermost: the `from_fn` middleware take axum's own body type, which
        // this layer changes (axum's routes convert it back).
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // Outermost first, as Nuages orders them.
        .layer(
            ServiceBuilder::new()
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(header_layer("x-content-type-options", "nosniff"))
                .layer(header_layer("referrer-policy", "same-origin"))
                .layer(header_layer("cross-origin-opener-policy", "same-origin"))
                .layer(header_layer("x-frame-options", "DENY"))
                .layer(middleware::from_fn(validate_host))
                .layer(sessions)
                .layer(CsrfLayer::new(csrf))
                .layer(middleware::from_fn(enforce_csrf)),
        );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("the port is free");
        axum::serve(listener, app).await.expect("serving");
    });
}
