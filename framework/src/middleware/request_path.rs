//! The framework's own levels around the settings' middleware, run as one:
//! the application state in the request, the request log, the response
//! headers of `security` and `xframe`, the error pages, the panic guard,
//! the allowed-hosts check and the body size limits; then the built-in
//! middleware that the setting lists first ([`Builtins`]).
//!
//! They were one [`Stack`](super::Stack) level each, a boxed future and a
//! move of the request and the response per level; here they are the
//! steps of one level, in the same order (outermost first). Each step is
//! split into what it does on the way in, run by [`RequestPath::call`]
//! before any future is made, and on the way out, run by [`PathFuture`]
//! ([`RequestLine`], [`ErrorPageRequest`]…). That future is the
//! [`Application`](crate::Application)'s: it has a name, so the server
//! keeps it in its slot for the connection instead of a box per request.

use std::convert::Infallible;
use std::future::{Future, Ready};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use tower::{Layer, Service};

use super::builtin::{Around, Builtins};
use super::headers::ResponseHeaders;
use super::{BoxResponse, Shared};
use crate::error::Result;
use crate::logging::RequestLine;
use crate::state::{Admitted, AppState};
use crate::views::errors::{ErrorPageRequest, Panicked, panic_response};

/// The fused levels, built once from the settings, around the rest of the
/// request path.
pub(crate) struct RequestPath {
    state: Arc<AppState>,
    headers: Option<ResponseHeaders>,
    body_limit: DefaultBodyLimit,
    /// The outermost built-in middleware of the `middleware` setting.
    builtins: Builtins,
    accepted_hosts: super::hosts::AcceptedHosts,
    /// The levels inside: the settings' other middleware, then the routes.
    inner: Shared,
}

impl RequestPath {
    /// Check and prepare what the levels need: an invalid header setting
    /// is an error naming it.
    pub(crate) fn new(
        state: &Arc<AppState>,
        builtins: Builtins,
        inner: Shared,
    ) -> Result<RequestPath> {
        Ok(RequestPath {
            builtins,
            accepted_hosts: Default::default(),
            headers: ResponseHeaders::new(state)?,
            body_limit: DefaultBodyLimit::max(state.settings.data_upload_max_memory_size),
            state: state.clone(),
            inner,
        })
    }

    /// The host check and the body limits: the request to pass on, marked
    /// with the body limit, or the answer that refuses it.
    fn admit(&self, mut request: Request) -> Admission {
        let host = match super::hosts::admit(&request, &self.state.settings, &self.accepted_hosts) {
            Ok(host) => host,
            Err(refused) => return Admission::Refused(refused),
        };
        request.extensions_mut().insert(Admitted {
            app: self.state.clone(),
            host,
        });
        // A body known to be empty (a GET, a HEAD) has nothing to limit.
        if http_body::Body::is_end_stream(request.body()) {
            return Admission::Passed(request);
        }
        let limit = self.state.settings.data_upload_max_memory_size;
        if let Some(refused) = super::limits::oversized(&request, limit)
            .or_else(|| super::limits::unknown_transfer_coding(&request))
        {
            return Admission::Refused(refused);
        }
        Admission::Passed(self.with_body_limit(request))
    }

    /// `request` marked with axum's body limit, as `DefaultBodyLimit`'s layer
    /// marks it (its mark is private to axum: the layer itself puts it).
    fn with_body_limit(&self, request: Request) -> Request {
        match self.body_limit.layer(Echo).call(request).into_inner() {
            Ok(request) => request,
            Err(never) => match never {},
        }
    }

    /// Take `request` in: the way-in steps, run now, and the future of the
    /// rest.
    pub(crate) fn call(self: &Arc<Self>, request: Request) -> PathFuture {
        let head = request.method() == http::Method::HEAD;
        let line = RequestLine::start(&request);
        let secure = self
            .headers
            .as_ref()
            .is_some_and(|headers| headers.is_secure(&request));
        let asked = ErrorPageRequest::of(&self.state, &request);
        // Inside the panic guard: the host check and the body limits (run
        // here, so that the future carries no copy of the request), then
        // the settings' middleware (the outermost built-ins first) and the
        // view, whose first steps may run here too (without built-ins,
        // the route table's).
        let stage = std::panic::catch_unwind(AssertUnwindSafe(|| match self.admit(request) {
            Admission::Passed(request) => Stage::Inner(match self.builtins.is_empty() {
                true => (self.inner.0)(request),
                false => Box::pin(Builtins::run(self.clone(), request)),
            }),
            Admission::Refused(refused) => Stage::Answered(Some(refused)),
        }))
        .unwrap_or_else(|payload| {
            Stage::Answered(Some(panic_response(Panicked::RequestPath, payload)))
        });
        PathFuture {
            path: self.clone(),
            way_out: Some((asked, WayOut { line, secure, head })),
            stage,
        }
    }
}

impl Around for RequestPath {
    fn builtins(&self) -> &Builtins {
        &self.builtins
    }

    fn inner(&self) -> &Shared {
        &self.inner
    }
}

/// What the host check and the body limits make of a request.
enum Admission {
    Passed(Request),
    Refused(Response),
}

/// What the way out needs, taken on the way in.
struct WayOut {
    line: RequestLine,
    secure: bool,
    head: bool,
}

/// The future of a request through the whole request path.
///
/// Written out rather than an `async fn`, so that it has a name: the
/// [`Application`](crate::Application)'s response future is this one, which
/// the server keeps in its slot for the connection, where an `async fn`'s
/// future (3 KB, with the built-ins' one inside) was a box made and freed
/// per request, too large for the allocator's per-thread cache. What it
/// waits on is boxed: the levels inside (the built-ins' future, under 1 KB),
/// then the error page when one replaces the response.
pub(crate) struct PathFuture {
    path: Arc<RequestPath>,
    /// Taken when the response is there.
    way_out: Option<(ErrorPageRequest, WayOut)>,
    stage: Stage,
}

enum Stage {
    /// The levels inside, under the panic guard.
    Inner(BoxResponse),
    /// An answer made on the way in (a refused host, a body too large).
    Answered(Option<Response>),
    /// The error page that replaces the response, with the request line
    /// it borrowed.
    ErrorPage(Pin<Box<dyn Future<Output = (Response, WayOut)> + Send>>),
}

impl Future for PathFuture {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        // Every field is `Unpin` (what is not is boxed).
        let this = self.get_mut();
        loop {
            let response = match &mut this.stage {
                Stage::Inner(inner) => {
                    match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(response)) => response,
                        Err(payload) => panic_response(Panicked::RequestPath, payload),
                    }
                }
                Stage::Answered(response) => response.take().expect("polled after completion"),
                Stage::ErrorPage(page) => {
                    let (response, way_out) = ready!(page.as_mut().poll(cx));
                    return Poll::Ready(this.path.finish(response, way_out));
                }
            };
            let (asked, way_out) = this.way_out.take().expect("polled after completion");
            // Before the error pages: a name that reverses to nothing is an error.
            let response = this.path.state.urls.reverse_redirect(response);
            if !ErrorPageRequest::replaces(&response) {
                if response.status().is_server_error() {
                    let line = &way_out.line;
                    asked.report_kept(
                        &this.path.state,
                        line.method(),
                        line.uri(),
                        response.status(),
                    );
                }
                return Poll::Ready(this.path.finish(response, way_out));
            }
            let state = this.path.state.clone();
            this.stage = Stage::ErrorPage(Box::pin(async move {
                let line = &way_out.line;
                let response = asked
                    .respond(&state, line.method(), line.uri(), response)
                    .await;
                (response, way_out)
            }));
        }
    }
}

impl RequestPath {
    /// The way-out steps after the error page: the response headers, the
    /// request line, no body for HEAD.
    fn finish(&self, mut response: Response, way_out: WayOut) -> Response {
        if let Some(headers) = &self.headers {
            headers.add_to(&mut response, way_out.secure);
        }
        way_out.line.finish(response.status());
        if way_out.head {
            response = without_body(response);
        }
        response
    }
}

/// The answer to a HEAD request: the headers of the GET answer, its
/// `Content-Length` when the body's size is known, and no body, whatever
/// made the response (a route's own router does this for its views; the
/// error pages, redirects and refusals are made outside it).
fn without_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    if let Some(size) = http_body::Body::size_hint(&body).exact()
        && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
    {
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(size));
    }
    Response::from_parts(parts, axum::body::Body::empty())
}

/// A service that answers with its request: what a layer did to it.
#[derive(Clone, Copy)]
struct Echo;

impl Service<Request> for Echo {
    type Response = Request;
    type Error = Infallible;
    type Future = Ready<Result<Request, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        std::future::ready(Ok(request))
    }
}
