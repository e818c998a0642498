//! The framework's own levels around the settings' middleware, run as one:
//! the application state in the request, the request log, the response
//! headers of `security` and `xframe`, the error pages, the panic guard,
//! the allowed-hosts check and the body size limits; then, in the same
//! future, the built-in middleware that the setting lists first
//! ([`Builtins`]).
//!
//! They were one [`Stack`](super::Stack) level each, a boxed future and a
//! move of the request and the response per level; here they are the
//! steps of one function, in the same order (outermost first), with one
//! future for all of them. Each step is split into what it does on the way
//! in and on the way out ([`RequestLine`], [`ErrorPageRequest`]…).

use std::convert::Infallible;
use std::future::Ready;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::response::Response;
use futures_util::FutureExt;
use tower::{Layer, Service};

use super::builtin::Builtins;
use super::headers::ResponseHeaders;
use crate::error::Result;
use crate::logging::RequestLine;
use crate::middleware::Next;
use crate::state::AppState;
use crate::views::errors::{ErrorPageRequest, panic_response};

/// The fused levels, built once from the settings.
pub(crate) struct RequestPath {
    state: Arc<AppState>,
    headers: Option<ResponseHeaders>,
    body_limit: DefaultBodyLimit,
    /// The outermost built-in middleware of the `middleware` setting.
    builtins: Builtins,
    accepted_hosts: super::hosts::AcceptedHosts,
}

impl RequestPath {
    /// Check and prepare what the levels need: an invalid header setting
    /// is an error naming it.
    pub(crate) fn new(state: &Arc<AppState>, builtins: Builtins) -> Result<RequestPath> {
        Ok(RequestPath {
            builtins,
            accepted_hosts: Default::default(),
            headers: ResponseHeaders::new(state)?,
            body_limit: DefaultBodyLimit::max(state.settings.data_upload_max_memory_size),
            state: state.clone(),
        })
    }

    /// The host check and the body limits: the request to pass on, marked
    /// with the body limit, or the answer that refuses it.
    fn admit(&self, mut request: Request) -> Admission {
        if let Some(refused) =
            super::hosts::admit(&mut request, &self.state.settings, &self.accepted_hosts)
        {
            return Admission::Refused(refused);
        }
        let limit = self.state.settings.data_upload_max_memory_size;
        if let Some(refused) = super::limits::oversized(&request, limit) {
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
}

/// What the host check and the body limits make of a request.
enum Admission {
    Passed(Request),
    Refused(Response),
}

/// The whole fused level.
pub(crate) async fn middleware(
    State(path): State<Arc<RequestPath>>,
    mut request: Request,
    next: Next,
) -> Response {
    let state = &path.state;
    let head = request.method() == http::Method::HEAD;
    request.extensions_mut().insert(state.clone());
    let line = RequestLine::start(&request);
    let secure = path
        .headers
        .as_ref()
        .is_some_and(|headers| headers.is_secure(&request));
    let asked = ErrorPageRequest::of(state, &request);
    // Inside the panic guard: the host check and the body limits (run
    // before the future is made, so that it carries no copy of the
    // request), then the settings' middleware (the outermost built-ins in
    // this future) and the view.
    let admitted = std::panic::catch_unwind(AssertUnwindSafe(|| path.admit(request)));
    let response = match admitted {
        Ok(Admission::Passed(request)) => {
            match AssertUnwindSafe(path.builtins.run(request, next))
                .catch_unwind()
                .await
            {
                Ok(response) => response,
                Err(payload) => panic_response(payload),
            }
        }
        Ok(Admission::Refused(refused)) => refused,
        Err(payload) => panic_response(payload),
    };
    let mut response = asked
        .respond(state, line.method(), line.uri(), response)
        .await;
    if let Some(headers) = &path.headers {
        headers.add_to(&mut response, secure);
    }
    line.finish(response.status());
    if head {
        response = without_body(response);
    }
    response
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
