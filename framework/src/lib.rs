//! # Nuages
//!
//! A Django-style web framework for Rust. A request travels:
//!
//! ```text
//! web server (nginx) → `serve` / `runserver` (hyper, server.rs)
//!   → Application (handler.rs), built once from a Project and its settings
//!   → request log → security headers → error pages → panic guard
//!   → allowed hosts → body limit
//!   → middleware from the `middleware` setting (built-in and the project's own)
//!   → the route table (urls.rs) → view (extractors: extract.rs) → response
//! ```
//!
//! A project's `src/wsgi.rs` describes it with a [`Project`] (its URLs, its
//! apps, and what it adds of its own) and exposes its [`Application`],
//! built by [`get_wsgi_application`] with the selected settings file
//! ([`conf`]). The application is a `tower::Service<http::Request<_>>`, so
//! `serve`, `runserver`, plain `axum::serve` or any hyper server can host it.
//!
//! A project with a middleware, a settings section and state of its own:
//!
//! ```
//! use nuages::prelude::*;
//! use nuages::Project;
//!
//! /// `[mysite]` in the settings files; `NUAGES_MYSITE__GREETING` in the environment.
//! #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
//! #[serde(default)]
//! struct MySite { greeting: String }
//!
//! /// A value every view may take as `Data<ApiClient>`.
//! struct ApiClient { base: String }
//!
//! async fn timing(request: Request, next: Next) -> Response {
//!     let started = std::time::Instant::now();
//!     let mut response = next.run(request).await;
//!     let took = format!("app;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0);
//!     response.headers_mut().insert("server-timing", took.parse().unwrap());
//!     response
//! }
//!
//! async fn hello(site: Config<MySite>, api: Data<ApiClient>) -> String {
//!     format!("{} from {}", site.greeting, api.base)
//! }
//!
//! fn urlpatterns() -> UrlConf {
//!     UrlConf::new().path("", hello, "hello")
//! }
//!
//! pub fn project() -> Project {
//!     Project::new("mysite", env!("CARGO_MANIFEST_DIR"))
//!         .urls(urlpatterns)
//!         .middleware("timing", timing) // middleware = ["security", "timing", …]
//!         .settings_section::<MySite>("mysite")
//!         .state(ApiClient { base: "https://api.example".into() })
//! }
//! # let _ = project();
//! ```

#![warn(missing_docs)]

pub mod auth;
// The derives name the framework `::nuages`, inside it too.
extern crate self as nuages;

pub(crate) mod autoreload;
mod breaker;
pub mod cache;
pub mod checks;
pub mod client_address;
pub mod conf;
pub mod db;
mod error;
pub mod extract;
pub mod forms;
mod handler;
mod hex;
pub(crate) mod logging;
pub mod mail;
pub mod management;
pub mod messages;
pub mod middleware;
pub mod migrations;
pub mod project;
pub mod server;
pub mod sessions;
mod state;
pub mod staticfiles;
pub mod templates;
pub mod test;
pub mod timezone;
pub mod urls;
pub mod views;

pub use error::{Error, Problem, Result};
pub use handler::{Application, get_wsgi_application};
pub use project::{App, Project};

/// The version of this framework.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Re-exports for projects, so that a generated project depends on nuages alone.
pub use axum;
pub use serde;
pub use sqlx;
pub use tera;
pub use tokio;

/// What a view module usually needs.
pub mod prelude {
    pub use crate::extract::{
        Cache, Caches, Config, CsrfToken, Data, Db, Mailer, Session, SettingsRef, Templates, Urls,
    };
    pub use crate::messages::Messages;
    pub use crate::middleware::Next;
    pub use crate::templates::context;
    pub use crate::urls::{UrlConf, get, post};
    pub use crate::views::{redirect, redirect_permanent};
    pub use crate::{Error, Result};
    pub use axum::extract::{Form, Path, Query, Request};
    pub use axum::response::{Html, IntoResponse, Redirect, Response};
}
