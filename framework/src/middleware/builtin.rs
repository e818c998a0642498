//! The built-in middleware of the `middleware` setting, run as one level.
//!
//! Each built-in is split, as Django's `MiddlewareMixin` splits a
//! middleware, into what it does to the request (`process_request`, which
//! may answer at once) and what it does to the response
//! (`process_response`). Consecutive built-ins then run in one function:
//! the request steps in the setting's order, the view, and the response
//! steps of every middleware that saw the request in the reverse order,
//! with no boxed future and no `Next` per middleware. A project's own
//! middleware between two built-ins splits them into two such levels, so
//! the order stays the one the setting lists.

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use smallvec::SmallVec;

use super::Shared;
use super::csrf::{self, CsrfConfig};
use super::security::{self, SecurityConfig};
use super::session::{self, SessionConfig};
use crate::error::Result;
use crate::messages::{self, MessagesConfig};
use crate::state::AppState;

/// One built-in middleware, built from the settings.
enum Builtin {
    Security(SecurityConfig),
    Session(Arc<SessionConfig>),
    Common(Arc<AppState>),
    Csrf(Arc<CsrfConfig>),
    Messages(Arc<MessagesConfig>),
}

/// What a built-in keeps for its response step, with its configuration,
/// borrowed from the [`Builtins`] that the request's future holds: no
/// reference count of a configuration that every request shares is bumped.
enum Pending<'a> {
    Session(&'a SessionConfig, session::Pending),
    Csrf(&'a CsrfConfig, csrf::Pending),
    Messages(&'a MessagesConfig, messages::Kept),
}

impl Builtin {
    /// The middleware `name` of `DEFAULT_MIDDLEWARE`, or `None` when it
    /// has nothing to do at its place (`xframe`, whose header the
    /// request-path level sets; `security` without its https redirect;
    /// `auth`, whose [`Auth`](crate::auth::Auth) the request gets when a
    /// view or a template first asks, from the application's state).
    fn new(name: &str, app: &Arc<AppState>) -> Result<Option<Builtin>> {
        let app = app.clone();
        Ok(Some(match name {
            "security" => {
                let config = SecurityConfig::new(app)?;
                if !config.redirects() {
                    return Ok(None);
                }
                Builtin::Security(config)
            }
            "session" => Builtin::Session(Arc::new(SessionConfig::new(app)?)),
            "common" => Builtin::Common(app),
            "csrf" => Builtin::Csrf(Arc::new(CsrfConfig::new(app)?)),
            "messages" => Builtin::Messages(Arc::new(MessagesConfig::new(&app.settings)?)),
            _ => return Ok(None),
        }))
    }

    /// The request step: the response that ends the way in, if any (the
    /// request is then not to be used), and what the response step will
    /// need. The request is worked on in place, not moved from step to step.
    async fn process_request(
        &self,
        request: &mut Request,
    ) -> (Option<Response>, Option<Pending<'_>>) {
        match self {
            Builtin::Security(config) => (security::process_request(config, request), None),
            Builtin::Common(app) => (super::common::process_request(app, request), None),
            Builtin::Session(config) => {
                let pending = session::process_request(config, request).await;
                (None, Some(Pending::Session(config, pending)))
            }
            Builtin::Csrf(config) => {
                let (refused, pending) = csrf::process_request(config, request).await;
                (refused, Some(Pending::Csrf(config, pending)))
            }
            Builtin::Messages(config) => match messages::process_request(config, request) {
                Ok(pending) => (None, Some(Pending::Messages(config, pending))),
                Err(error) => (Some(error.into_response()), None),
            },
        }
    }
}

impl Pending<'_> {
    async fn process_response(self, response: &mut Response) {
        match self {
            Pending::Session(config, pending) => {
                session::process_response(config, pending, response).await
            }
            Pending::Csrf(config, pending) => csrf::process_response(config, pending, response),
            Pending::Messages(config, pending) => {
                messages::process_response(config, pending, response)
            }
        }
    }
}

/// Consecutive built-in middleware, outermost first.
#[derive(Default)]
pub(crate) struct Builtins(Vec<Builtin>);

/// What holds a run of built-ins and the levels inside them, shared by
/// every request: the request path for the outermost run, a
/// [`BuiltinLevel`] for a run between two of the project's own
/// middleware. A request's future holds one reference to it, and borrows
/// the rest, so that a request bumps one shared reference count, not one
/// per part.
pub(crate) trait Around: Send + Sync + 'static {
    /// The built-ins.
    fn builtins(&self) -> &Builtins;
    /// The levels inside them: the settings' other middleware, then the routes.
    fn inner(&self) -> &Shared;
}

impl Builtins {
    /// Add the middleware `name` inside those already added.
    pub(crate) fn push(&mut self, name: &str, app: &Arc<AppState>) -> Result<()> {
        self.0.extend(Builtin::new(name, app)?);
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Run the request steps of `around`'s built-ins, then the levels
    /// inside them unless one of them answered, then the response steps of
    /// those that ran, innermost first.
    ///
    /// An `async` block rather than an `async fn`: the block works on the
    /// arguments where it holds them, where an `async fn`'s future keeps
    /// them twice (as arguments, then as its variables), a second copy of
    /// the request that the server's slot or the box would carry.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice"
    )]
    pub(crate) fn run<A: Around>(
        around: Arc<A>,
        mut request: Request,
    ) -> impl Future<Output = Response> + Send + 'static {
        async move {
            // Inline: no allocation for the three built-ins with a response step.
            let mut pending = SmallVec::<[Pending; 3]>::new();
            let mut answered = None;
            for builtin in &around.builtins().0 {
                let (response, kept) = builtin.process_request(&mut request).await;
                if let Some(kept) = kept {
                    pending.push(kept);
                }
                if response.is_some() {
                    answered = response;
                    break;
                }
            }
            let mut response = match answered {
                None => (around.inner().0)(request).await,
                Some(response) => response,
            };
            for step in pending.into_iter().rev() {
                step.process_response(&mut response).await;
            }
            response
        }
    }
}

/// Built-ins between two of the project's own middleware, as one level
/// of a [`Stack`](super::Stack).
pub(crate) struct BuiltinLevel {
    builtins: Arc<Builtins>,
    inner: Shared,
}

impl Around for BuiltinLevel {
    fn builtins(&self) -> &Builtins {
        &self.builtins
    }

    fn inner(&self) -> &Shared {
        &self.inner
    }
}

impl BuiltinLevel {
    /// The level of `builtins` around `inner`.
    pub(crate) fn around(builtins: Arc<Builtins>, inner: Shared) -> Shared {
        let level = Arc::new(BuiltinLevel { builtins, inner });
        Shared::boxed(move |request| Box::pin(Builtins::run(level.clone(), request)))
    }
}
