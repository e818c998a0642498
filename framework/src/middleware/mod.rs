//! The middleware stack, assembled from the `middleware` setting: one file
//! per middleware, each a function of the request and the next handler.
//!
//! The names, outermost first by default: `security`, `session`, `auth`
//! ([`crate::auth::login`]), `common`,
//! `csrf`, `messages` ([`crate::messages`]), `xframe`. Allowed-host validation ([`hosts`]) and the body size
//! limit are not optional and always run, before any of them.
//!
//! The headers of `security` and `xframe` are not set at their place in the
//! stack but by one layer outside everything else (error pages, the host
//! check, the body limit), so that every response carries them; listing
//! the middleware is what turns them on. `security`'s https redirect does
//! run at its place.
//!
//! Building a middleware checks its settings once: an invalid regular
//! expression in `secure_redirect_exempt`, a malformed
//! `csrf_trusted_origins` entry or a missing `secret_key` (for `session`
//! and `csrf`) makes [`Application::new`](crate::Application::new) fail
//! instead of the first request, and `check` reports the same errors
//! through the same functions.

pub(crate) mod common;
pub mod csrf;
pub(crate) mod headers;
pub mod hosts;
pub(crate) mod limits;
pub(crate) mod request_path;
pub mod security;
pub mod session;
pub(crate) mod signing;
pub mod xframe;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use http::header::{COOKIE, VARY};
use http::{Extensions, HeaderMap, HeaderValue, Uri};
use tower::{Layer, Service, ServiceExt};

use crate::conf::{DEFAULT_MIDDLEWARE, Settings};
use crate::error::{Error, Problem, Result};
use crate::state::AppState;

/// A middleware that a project or an app registered by name (see
/// [`Project::middleware`](crate::Project::middleware)): built once from the
/// settings when the application is built.
#[derive(Clone)]
pub(crate) struct Registered {
    name: &'static str,
    build: Build,
}

/// A registered middleware, built: the request and the rest of the path.
type Wrap = Arc<dyn Fn(Request, Next) -> BoxResponse + Send + Sync>;
/// How a registered middleware is built from the settings.
type Build = Arc<dyn Fn(&Settings) -> Result<Wrap> + Send + Sync>;

impl Registered {
    pub(crate) fn new<B, F, Fut>(name: &'static str, build: B) -> Registered
    where
        B: Fn(&Settings) -> Result<F> + Send + Sync + 'static,
        F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        Registered {
            name,
            build: Arc::new(move |settings| {
                let middleware = build(settings)?;
                Ok(
                    Arc::new(move |request, next| {
                        Box::pin(middleware(request, next)) as BoxResponse
                    }) as Wrap,
                )
            }),
        }
    }

    /// The name the `middleware` setting lists it by.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Build it with `settings`: what `Application::new` does, and what
    /// `check` reports when it fails.
    pub(crate) fn build(&self, settings: &Settings) -> Result<()> {
        (self.build)(settings).map(|_| ())
    }
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Wrap `stack` in the middleware called `name`: a built-in one, else one
/// of `registered`.
pub(crate) fn apply(
    name: &str,
    stack: Stack,
    state: &Arc<AppState>,
    registered: &[Registered],
) -> Result<Stack> {
    let app = state.clone();
    if !DEFAULT_MIDDLEWARE.contains(&name)
        && let Some(own) = registered.iter().find(|m| m.name == name)
    {
        return Ok(stack.wrap((own.build)(&app.settings)?));
    }
    Ok(match name {
        "common" => stack.middleware(app, common::middleware),
        "security" => {
            let config = security::SecurityConfig::new(app)?;
            match config.redirects() {
                true => stack.middleware(Arc::new(config), security::middleware),
                false => stack,
            }
        }
        "session" => stack.middleware(
            Arc::new(session::SessionConfig::new(app)?),
            session::middleware,
        ),
        "auth" => stack.middleware(
            Arc::new(crate::auth::login::AuthConfig::new(&app.settings)?),
            crate::auth::login::middleware,
        ),
        "csrf" => stack.middleware(Arc::new(csrf::CsrfConfig::new(app)?), csrf::middleware),
        "messages" => stack.middleware(
            Arc::new(crate::messages::MessagesConfig::new(&app.settings)?),
            crate::messages::middleware,
        ),
        // Its header only, set by the response-headers layer.
        "xframe" => stack,
        unknown => {
            let names: Vec<&str> = registered.iter().map(Registered::name).collect();
            return Err(unknown_middleware(unknown, &names));
        }
    })
}

/// The error for a `middleware` entry that names no built-in middleware,
/// with the closest name: what [`Application::new`](crate::Application::new)
/// fails with and `check` reports (`nuages.E006`).
pub(crate) fn unknown_middleware(name: &str, registered: &[&str]) -> Error {
    let known: Vec<&str> = DEFAULT_MIDDLEWARE
        .iter()
        .chain(registered)
        .copied()
        .collect();
    let names = known.join(", ");
    Error::Config(
        Problem::new(format!(
            "unknown middleware '{name}' in the `middleware` setting"
        ))
        .with_hint(
            match crate::conf::closest_name(name, known.iter().copied()) {
                Some(s) => format!("did you mean '{s}'? The middleware names are: {names}"),
                None => format!("the middleware names are: {names}"),
            },
        ),
    )
}

/// The rest of the request path, handed to a middleware: `next.run(request)`
/// calls the middleware inside it (and in the end the view).
///
/// ```
/// use axum::extract::{Request, State};
/// use axum::response::Response;
/// use nuages::middleware::Next;
///
/// async fn stamp(State(name): State<&'static str>, request: Request, next: Next) -> Response {
///     let mut response = next.run(request).await;
///     response.headers_mut().insert("x-served-by", http::HeaderValue::from_static(name));
///     response
/// }
/// ```
pub struct Next {
    inner: Shared,
}

impl Next {
    /// Run the rest of the path on `request`.
    pub fn run(self, request: Request) -> impl Future<Output = Response> + Send + 'static {
        (self.inner.0)(request)
    }
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}

/// The whole request path around each route, installed with one
/// `Router::layer` call: the layers, innermost first.
///
/// Why not one `Router::layer(axum::middleware::from_fn(..))` per
/// middleware: axum boxes each layered route, and each `from_fn` level
/// clones the service it wraps on every request, so with a dozen layers a
/// request cloned (and allocated) the rest of the chain again at every
/// level. Here each level is a [`Shared`] function, cloned by bumping a
/// reference count, and a middleware costs one boxed future per request.
/// The order is that of `Router::layer`: the first layer added is the
/// innermost; the route table ([`crate::urls::Resolver`]) is inside them all.
#[derive(Clone, Default)]
pub(crate) struct Stack {
    layers: Vec<Arc<dyn Fn(Shared) -> Shared + Send + Sync>>,
}

impl Stack {
    /// Wrap everything added so far in the middleware `f` with `state`.
    pub(crate) fn middleware<T, F, Fut>(mut self, state: T, f: F) -> Stack
    where
        T: Clone + Send + Sync + 'static,
        F: Fn(State<T>, Request, Next) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.layers.push(Arc::new(move |inner: Shared| {
            let (state, f) = (state.clone(), f.clone());
            Shared(Arc::new(move |request| {
                let next = Next {
                    inner: inner.clone(),
                };
                Box::pin(f(State(state.clone()), request, next))
            }))
        }));
        self
    }

    /// Wrap everything added so far in a registered middleware.
    pub(crate) fn wrap(mut self, middleware: Wrap) -> Stack {
        self.layers.push(Arc::new(move |inner: Shared| {
            let middleware = middleware.clone();
            Shared(Arc::new(move |request| {
                let next = Next {
                    inner: inner.clone(),
                };
                middleware(request, next)
            }))
        }));
        self
    }

    /// Wrap everything added so far in a tower `layer`.
    pub(crate) fn layer<L>(mut self, layer: L) -> Stack
    where
        L: Layer<Shared> + Send + Sync + 'static,
        L::Service: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        self.layers
            .push(Arc::new(move |inner| Shared::service(layer.layer(inner))));
        self
    }
}

impl Layer<Route> for Stack {
    type Service = Shared;

    fn layer(&self, route: Route) -> Shared {
        self.layers
            .iter()
            .fold(Shared::service(route), |inner, wrap| wrap(inner))
    }
}

type BoxResponse = Pin<Box<dyn Future<Output = Response> + Send>>;

/// One level of a [`Stack`]: its clones share one copy.
#[derive(Clone)]
pub(crate) struct Shared(Arc<dyn Fn(Request) -> BoxResponse + Send + Sync>);

impl Shared {
    fn service<S>(service: S) -> Shared
    where
        S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        Shared(Arc::new(move |request| {
            let response = service.clone().oneshot(request);
            Box::pin(async move {
                match response.await {
                    Ok(response) => response.into_response(),
                    Err(never) => match never {},
                }
            })
        }))
    }
}

impl Service<Request> for Shared {
    type Response = Response;
    type Error = Infallible;
    type Future = SharedFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> SharedFuture {
        SharedFuture((self.0)(request))
    }
}

/// The response future of a [`Shared`] service.
pub(crate) struct SharedFuture(BoxResponse);

impl Future for SharedFuture {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx).map(Ok)
    }
}

/// The head of a request: what [`security::is_secure`] and
/// [`hosts::raw_host`] read, whether the caller holds a whole
/// `http::Request` or the `Parts` an extractor gets.
pub(crate) trait RequestHead {
    /// The request target.
    fn uri(&self) -> &Uri;
    /// The headers.
    fn headers(&self) -> &HeaderMap;
    /// The extensions (where a TLS server puts
    /// [`ConnectionInfo`](security::ConnectionInfo)).
    fn extensions(&self) -> &Extensions;
}

impl RequestHead for http::request::Parts {
    fn uri(&self) -> &Uri {
        &self.uri
    }
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    fn extensions(&self) -> &Extensions {
        &self.extensions
    }
}

impl<B> RequestHead for http::Request<B> {
    fn uri(&self) -> &Uri {
        self.uri()
    }
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
    fn extensions(&self) -> &Extensions {
        self.extensions()
    }
}

/// The values of every cookie called `name` in the request, in order. A
/// browser may send several (set for different paths or domains), so callers
/// try each rather than trusting the first.
pub(crate) fn request_cookies(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| cookie::Cookie::split_parse(text.to_string()))
        .filter_map(|cookie| cookie.ok())
        .filter(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
        .collect()
}

/// Add `field` to the response's `Vary` header unless it is already there (or
/// `Vary: *`), so caches keep one copy per cookie.
pub(crate) fn patch_vary(headers: &mut HeaderMap, field: &'static str) {
    let present = headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|v| v == "*" || v.eq_ignore_ascii_case(field));
    if !present {
        headers.append(VARY, HeaderValue::from_static(field));
    }
}

/// `did you mean "X"? ` when a value of `known` is close to `value`, else
/// nothing: the start of a hint.
pub(crate) fn did_you_mean(value: &str, known: &[&str]) -> String {
    crate::conf::closest_name(value, known.iter().copied())
        .map(|close| format!("did you mean \"{close}\"? "))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_of_a_name_are_all_found() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; sessionid=x"));
        headers.append(COOKIE, HeaderValue::from_static("sessionid=y"));
        assert_eq!(request_cookies(&headers, "sessionid"), ["x", "y"]);
        assert!(request_cookies(&headers, "csrftoken").is_empty());
    }

    #[test]
    fn vary_is_added_once() {
        let mut headers = HeaderMap::new();
        patch_vary(&mut headers, "Cookie");
        patch_vary(&mut headers, "Cookie");
        assert_eq!(headers.get_all(VARY).iter().count(), 1);
        let mut headers = HeaderMap::new();
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding, cookie"));
        patch_vary(&mut headers, "Cookie");
        assert_eq!(headers.get_all(VARY).iter().count(), 1);
    }
}
