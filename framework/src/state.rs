//! The state the request path shares: what every request may need, built
//! once per application from the project and its settings.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::Extensions;
use http::request::Parts;

use crate::auth::login::AuthConfig;
use crate::cache::Caches;
use crate::conf::Settings;
use crate::db::Databases;
use crate::error::{Error, Problem, Result};
use crate::mail::Mailer;
use crate::middleware::hosts::RequestHost;
use crate::project::{App, StateMap};
use crate::templates::Engine;
use crate::urls::Resolver;

/// Everything a request may need, built once per application.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The project's name.
    pub project: String,
    /// The loaded settings.
    pub settings: Settings,
    /// The routes, for reversing and for the debug 404 page.
    pub urls: Arc<Resolver>,
    /// The template engine.
    pub templates: Arc<Engine>,
    /// The database pools, opened on first use.
    pub databases: Databases,
    /// The caches, by alias.
    pub caches: Caches,
    /// Sends mail as the `email_*` settings say.
    pub mailer: Mailer,
    /// Which password reset requests are merged into an earlier one.
    pub(crate) reset_cooldown: crate::auth::password_reset::ResetCooldown,
    /// The installed apps.
    pub apps: Vec<App>,
    /// The values shared with views as [`Data<T>`](crate::extract::Data).
    pub(crate) data: StateMap,
    /// The `auth` middleware's configuration, when the setting lists it.
    pub(crate) auth: Option<Arc<AuthConfig>>,
    /// The `user` and `perms` templates get for a visitor not logged in,
    /// or without the `auth` middleware.
    pub(crate) anonymous: Arc<(tera::Value, tera::Value)>,
}

/// Extractor for the framework's own views: the state of the application
/// serving the request.
pub(crate) struct Serving(pub(crate) Arc<AppState>);

impl<S: Send + Sync> FromRequestParts<S> for Serving {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        AppState::from_parts(parts).cloned().map(Serving)
    }
}

/// What the request path puts in the extensions of each request it admits:
/// the application and the host the hosts check accepted, as one value
/// (one allocation and one lookup where two were made per request).
#[derive(Clone)]
pub(crate) struct Admitted {
    pub(crate) app: Arc<AppState>,
    pub(crate) host: Arc<RequestHost>,
}

impl AppState {
    /// The state of the application serving a request, by its extensions.
    pub(crate) fn of(extensions: &Extensions) -> Option<&Arc<AppState>> {
        extensions.get::<Admitted>().map(|admitted| &admitted.app)
    }

    /// The state of the application serving this request.
    pub fn from_parts(parts: &Parts) -> Result<&Arc<AppState>> {
        AppState::of(&parts.extensions).ok_or_else(|| {
            Error::Config(
                Problem::new("this request did not come through a Nuages Application")
                    .with_hint("serve the router through nuages::get_wsgi_application()"),
            )
        })
    }
}
