//! # Nuages
//!
//! A Django-style web framework for Rust. A request travels:
//!
//! ```text
//! web server (nginx) → `serve` (hyper) → Application (src/wsgi.rs)
//!   → middleware → URL resolver → view → response
//! ```
//!
//! A project's `src/wsgi.rs` exposes its [`Application`], built by
//! [`get_wsgi_application`] from a [`Project`] (its URLs and apps) and the
//! selected settings file ([`conf`]). The application is a
//! `tower::Service<http::Request<_>>`, so `serve`, `runserver`, plain
//! `axum::serve` or any hyper server can host it.

#![warn(missing_docs)]

pub mod autoreload;
pub mod checks;
pub mod conf;
pub mod db;
mod error;
pub mod extract;
pub mod handler;
pub mod logging;
pub mod management;
pub mod middleware;
pub mod migrations;
pub mod project;
pub mod server;
pub mod state;
pub mod staticfiles;
pub mod templates;
pub mod test;
pub mod timezone;
pub mod urls;
pub mod views;

pub use error::{Error, ErrorReport, Problem, Result};
pub use handler::{Application, get_wsgi_application};
pub use project::{App, Project};
pub use state::AppState;

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
    pub use crate::extract::{Config, CsrfToken, Data, Db, Session, SettingsRef, Templates, Urls};
    pub use crate::middleware::Next;
    pub use crate::templates::context;
    pub use crate::urls::{UrlConf, get, post};
    pub use crate::views::{redirect, redirect_permanent};
    pub use crate::{Error, Result};
    pub use axum::extract::{Form, Path, Query, Request};
    pub use axum::response::{Html, IntoResponse, Redirect, Response};
}
