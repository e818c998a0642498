//! The state the request path shares: what every request may need, built
//! once per application from the project and its settings.

use std::sync::Arc;

use http::request::Parts;

use crate::cache::Caches;
use crate::conf::Settings;
use crate::db::Databases;
use crate::error::{Error, Problem, Result};
use crate::mail::Mailer;
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
    /// The installed apps.
    pub apps: Vec<App>,
    /// The values shared with views as [`Data<T>`](crate::extract::Data).
    pub(crate) data: StateMap,
}

impl AppState {
    /// The state of the application serving this request.
    pub fn from_parts(parts: &Parts) -> Result<&Arc<AppState>> {
        parts.extensions.get::<Arc<AppState>>().ok_or_else(|| {
            Error::Config(
                Problem::new("this request did not come through a Nuages Application")
                    .with_hint("serve the router through nuages::get_wsgi_application()"),
            )
        })
    }
}
