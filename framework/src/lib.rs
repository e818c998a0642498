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

pub mod apps;
pub mod autoreload;
pub mod checks;
pub mod conf;
pub mod db;
mod error;
pub mod handler;
pub mod logging;
pub mod management;
pub mod middleware;
pub mod migrations;
pub mod server;
pub mod staticfiles;
pub mod templates;
pub mod test;
pub mod timezone;
pub mod urls;
pub mod views;

pub use error::{Error, ErrorReport, Result};
pub use handler::{AppState, Application, Project, get_wsgi_application};

/// The version of this framework.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Re-exports for projects, so that a generated project depends on nuages alone.
pub use axum;
pub use serde;
pub use sqlx;
pub use tokio;

/// What a view module usually needs.
pub mod prelude {
    pub use crate::db::Db;
    pub use crate::templates::{Templates, context};
    pub use crate::urls::{UrlConf, Urls, get, post};
    pub use crate::views::{redirect, redirect_permanent};
    pub use crate::{Error, Result};
    pub use axum::extract::{Form, Path, Query};
    pub use axum::response::{Html, IntoResponse, Redirect, Response};
}
