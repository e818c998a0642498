//! The middleware stack, assembled from the `middleware` setting: one file
//! per middleware. A built-in one is a request step and a response step
//! (`builtin.rs`, which runs consecutive built-ins as one level); a
//! project's own is a function of the request and the next handler
//! ([`Next`]).
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

pub(crate) mod builtin;
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
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::header::{COOKIE, VARY};
use http::{Extensions, HeaderMap, HeaderValue, Uri};
use tower::{Layer, Service, ServiceExt};

use crate::conf::{DEFAULT_MIDDLEWARE, Settings};
use crate::error::{Error, Problem, Result};
use crate::state::AppState;
use crate::views::errors::{Panicked, panic_response};
use builtin::Builtins;

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
                // The project's own error says what is wrong; which
                // middleware it stops is said here.
                let middleware = build(settings).map_err(|error| {
                    let Problem { message, hint } = error.problem();
                    Error::Config(Problem::maybe_hinted(
                        format!(
                            "the middleware '{name}' cannot be built from the settings: {message}"
                        ),
                        hint.as_deref(),
                    ))
                })?;
                // Its panic is its 500, before or in its future: the
                // levels around it still see a response.
                Ok(Arc::new(move |request, next| {
                    let guarded =
                        move |payload| panic_response(Panicked::Middleware(name), payload);
                    match std::panic::catch_unwind(AssertUnwindSafe(|| middleware(request, next))) {
                        Ok(future) => Box::pin(
                            AssertUnwindSafe(future)
                                .catch_unwind()
                                .map(move |outcome| outcome.unwrap_or_else(guarded)),
                        ) as BoxResponse,
                        Err(payload) => Box::pin(std::future::ready(guarded(payload))),
                    }
                }) as Wrap)
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

/// The `middleware` setting's `names` around `stack`: a project's own
/// middleware one level each, consecutive built-ins one level for the run
/// ([`builtin`]). The outermost run of built-ins is returned rather than
/// wrapped, for the request-path level to run it in its own future.
pub(crate) fn apply(
    names: &[String],
    mut stack: Stack,
    state: &Arc<AppState>,
    registered: &[Registered],
) -> Result<(Builtins, Stack)> {
    if let Some(own) = registered
        .iter()
        .find(|m| DEFAULT_MIDDLEWARE.contains(&m.name))
    {
        return Err(builtin_name_taken(own.name));
    }
    if let Some(error) = listed_twice(names) {
        return Err(error);
    }
    let mut run: Vec<&str> = Vec::new();
    // Innermost first, as the stack is built.
    for name in names.iter().rev() {
        if DEFAULT_MIDDLEWARE.contains(&name.as_str()) {
            run.push(name);
            continue;
        }
        let Some(own) = registered.iter().find(|m| m.name == name) else {
            let names: Vec<&str> = registered.iter().map(Registered::name).collect();
            return Err(unknown_middleware(name, &names));
        };
        let builtins = builtins(&std::mem::take(&mut run), state)?;
        if !builtins.is_empty() {
            let builtins = Arc::new(builtins);
            stack = stack
                .wrap_level(move |inner| builtin::BuiltinLevel::around(builtins.clone(), inner));
        }
        stack = stack.wrap((own.build)(&state.settings)?);
    }
    Ok((builtins(&run, state)?, stack))
}

/// The built-ins of `innermost_first`, outermost first.
fn builtins(innermost_first: &[&str], state: &Arc<AppState>) -> Result<Builtins> {
    let mut builtins = Builtins::default();
    for name in innermost_first.iter().rev() {
        builtins.push(name, state)?;
    }
    Ok(builtins)
}

/// The error for a middleware a project or an app registered under the
/// name of a built-in one: the setting's entry always means the built-in,
/// so the registered one would never run. What
/// [`Application::new`](crate::Application::new) fails with and `check`
/// reports (`nuages.E015`).
pub(crate) fn builtin_name_taken(name: &str) -> Error {
    Error::Config(
        Problem::new(format!(
            "a middleware is registered as '{name}', the name of a built-in middleware: \
             the `middleware` setting's \"{name}\" means the built-in one, and the registered one would never run"
        ))
        .with_hint(format!(
            "register it under a name of its own, e.g. .middleware(\"my_{name}\", …) in src/wsgi.rs, \
             and list that name in the `middleware` setting (the built-in names are: {})",
            DEFAULT_MIDDLEWARE.join(", ")
        )),
    )
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
        .with_hint(format!(
            "{}the middleware names are: {names}; a middleware of the project's own is \
             registered in src/wsgi.rs with .middleware(\"{name}\", an async fn(Request, Next) -> Response)",
            crate::conf::closest_name(name, known.iter().copied())
                .map(|s| format!("did you mean '{s}'? "))
                .unwrap_or_default()
        )),
    )
}

/// The error for a `middleware` setting that lists a name twice (it would
/// run twice on every request: a second session or CSRF check, a header
/// counted twice), `nuages.E006` in `check`; `None` when each is listed once.
pub(crate) fn listed_twice(names: &[String]) -> Option<Error> {
    let twice = names
        .iter()
        .enumerate()
        .find_map(|(at, name)| names[..at].contains(name).then_some(name))?;
    Some(Error::Config(
        Problem::new(format!(
            "the `middleware` setting lists '{twice}' twice, and it would run twice on every request"
        ))
        .with_hint(format!(
            "keep one '{twice}' in the `middleware` setting, where it should run"
        )),
    ))
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
        self.run_boxed(request)
    }

    /// [`Self::run`], its future named.
    pub(crate) fn run_boxed(self, request: Request) -> BoxResponse {
        (self.inner.0)(request)
    }
}

impl std::fmt::Debug for Next {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next").finish_non_exhaustive()
    }
}

/// The whole request path around the route table: the layers, innermost
/// first, made one service by [`Stack::around`].
///
/// Why not one `Router::layer(axum::middleware::from_fn(..))` per
/// middleware: axum boxes each layered route, and each `from_fn` level
/// clones the service it wraps on every request, so with a dozen layers a
/// request cloned (and allocated) the rest of the chain again at every
/// level. Here each level is a [`Shared`] function, cloned by bumping a
/// reference count, and a middleware costs one boxed future per request.
/// The first layer added is the innermost, as with `Router::layer`; the
/// route table ([`crate::urls::Resolver`]) is inside them all, served
/// without an axum router around it (each route keeps its own, for its
/// path parameters and its 405).
#[derive(Clone, Default)]
pub(crate) struct Stack {
    layers: Vec<Arc<dyn Fn(Shared) -> Shared + Send + Sync>>,
}

impl Stack {
    /// Wrap everything added so far in the level `around` makes of it.
    pub(crate) fn wrap_level(
        mut self,
        around: impl Fn(Shared) -> Shared + Send + Sync + 'static,
    ) -> Stack {
        self.layers.push(Arc::new(around));
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

impl Stack {
    /// The layers around `core`, the innermost service.
    pub(crate) fn around(&self, core: Shared) -> Shared {
        self.layers.iter().fold(core, |inner, wrap| wrap(inner))
    }
}

pub(crate) type BoxResponse = Pin<Box<dyn Future<Output = Response> + Send>>;

/// One level of a [`Stack`]: its clones share one copy.
#[derive(Clone)]
pub(crate) struct Shared(Arc<dyn Fn(Request) -> BoxResponse + Send + Sync>);

impl Shared {
    /// The service of a function that boxes its futures itself: one that
    /// answers with futures of different types, each boxed alone rather
    /// than all in one future the size of the largest.
    pub(crate) fn boxed<F>(f: F) -> Shared
    where
        F: Fn(Request) -> BoxResponse + Send + Sync + 'static,
    {
        Shared(Arc::new(f))
    }

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
    /// The HTTP version.
    fn version(&self) -> http::Version;
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
    fn version(&self) -> http::Version {
        self.version
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
    fn version(&self) -> http::Version {
        self.version()
    }
}

/// The values of every cookie called `name` in the request, in order. A
/// browser may send several (set for different paths or domains), so callers
/// try each rather than trusting the first.
pub(crate) fn request_cookies(headers: &HeaderMap, name: &str) -> Vec<String> {
    let mut lines = headers.get_all(COOKIE).iter().peekable();
    // A first visit's request has none: no parsing machinery for it.
    if lines.peek().is_none() {
        return Vec::new();
    }
    // The `name=value` pairs between `;`, each trimmed and not decoded, as
    // the `cookie` crate's `split_parse` reads them, but without making a
    // `Cookie` of every pair: three built-ins read the header of every
    // request a browser sends, whose analytics cookies made this cost
    // nearly a quarter of a page (README, issue #17). Read as bytes: a
    // browser sends another cookie's UTF-8 value (`city=München`) in the
    // same line, which must not hide the others.
    lines
        .flat_map(|line| line.as_bytes().split(|&byte| byte == b';'))
        .filter_map(|pair| {
            let at = pair.iter().position(|&byte| byte == b'=')?;
            let (key, value) = (&pair[..at], &pair[at + 1..]);
            (key.trim_ascii() == name.as_bytes())
                .then(|| String::from_utf8_lossy(value.trim_ascii()).into_owned())
        })
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

    /// The pairs are read as the `cookie` crate's `split_parse` reads them
    /// (what this function used before), odd headers included.
    #[test]
    fn cookies_are_read_as_the_cookie_crate_reads_them() {
        let lines = [
            "a=1; sessionid=x",
            " sessionid = spaced ;;; sessionid=\"quoted\" ",
            "sessionid=a=b=c; sessionid=; =sessionid; sessionid",
            "\tsessionid\t=\ttab\t;sessionid=last",
            ";;;",
            "other=1;sessionid=%C3%A9t%C3%A9; SESSIONID=case",
        ];
        for line in lines {
            let mut headers = HeaderMap::new();
            headers.append(COOKIE, HeaderValue::from_str(line).unwrap());
            let crate_reads: Vec<String> = cookie::Cookie::split_parse(line)
                .filter_map(|cookie| cookie.ok())
                .filter(|cookie| cookie.name() == "sessionid")
                .map(|cookie| cookie.value().to_string())
                .collect();
            assert_eq!(
                request_cookies(&headers, "sessionid"),
                crate_reads,
                "{line:?}"
            );
        }
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
