//! While no server child is up because the last one could not start, the
//! reloader answers on the socket itself: every request gets a 500 at once,
//! whose debug page shows why (never a connection left waiting in the
//! backlog). Each answer closes its connection, so a browser reconnects and
//! reaches the next server as soon as one is up.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

use crate::conf::Settings;
use crate::error::ErrorReport;

/// Why no server is up, and the settings the answer follows (`debug`,
/// `allowed_hosts`).
#[derive(Debug)]
pub(super) struct Failure {
    /// What the error page says, outermost first.
    pub(super) report: ErrorReport,
    /// The last settings that loaded.
    pub(super) settings: Settings,
}

/// The reloader's own answers; dropped with the reloader.
#[derive(Debug)]
pub(super) struct StandIn {
    shown: watch::Sender<Option<Arc<Failure>>>,
}

impl StandIn {
    /// Prepare to answer on `listener` (a second handle on the socket the
    /// children serve); silent until [`answer_with`](StandIn::answer_with).
    pub(super) fn start(listener: &std::net::TcpListener) -> std::io::Result<StandIn> {
        let listener = listener.try_clone()?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (shown, watching) = watch::channel(None);
        tokio::spawn(accept_while_shown(listener, watching));
        Ok(StandIn { shown })
    }

    /// Answer every request with `failure` until told to stop.
    pub(super) fn answer_with(&self, failure: Failure) {
        self.shown.send_replace(Some(Arc::new(failure)));
    }

    /// Leave the socket to the server that is up.
    pub(super) fn stop_answering(&self) {
        self.shown.send_replace(None);
    }
}

async fn accept_while_shown(
    listener: tokio::net::TcpListener,
    mut shown: watch::Receiver<Option<Arc<Failure>>>,
) {
    loop {
        let current = shown.borrow_and_update().clone();
        let Some(failure) = current else {
            if shown.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            changed = shown.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer_connection(stream, failure));
                }
                // Out of file descriptors and the like: wait, don't spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

async fn answer_connection(stream: tokio::net::TcpStream, failure: Arc<Failure>) {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let failure = failure.clone();
        async move { Ok::<_, Infallible>(answer(request, &failure)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(crate::server::HEADER_READ_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The 500 page of `failure`, with the headers of the `security` and
/// `xframe` middleware that the last settings list, as the server's pages.
fn answer(request: Request<Incoming>, failure: &Failure) -> Response<Body> {
    let (parts, _) = request.into_parts();
    let (content_type, page) =
        crate::views::errors::startup_failure_page(&failure.settings, &parts, &failure.report);
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    crate::middleware::headers::add_listed(&failure.settings, &parts, &mut response);
    response
}
