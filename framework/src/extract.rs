//! Extractors: what a view takes as arguments, besides axum's own (`Path`,
//! `Query`, `Form`, `Json`, …). Each one is also in the [prelude](crate::prelude).
//!
//! | extractor | what it gives |
//! |---|---|
//! | [`Cache`] | the `default` cache ([`Caches`] for the others) |
//! | [`Mailer`] | sends mail as the `email_*` settings say |
//! | [`Db`] | the `default` database pool (`Db::alias` for others) |
//! | [`Templates`] | rendering with the request's context (`csrf_input()`, …) |
//! | [`Urls`] | reversing URL names |
//! | [`Session`] | the visitor's session (the `session` middleware) |
//! | [`CsrfToken`] | the CSRF token, for forms not rendered by a template |
//! | [`FormData`](crate::forms::FormData) | what a form submitted (with its files), to bind to a [`Form`](crate::forms::Form) |
//! | [`Data<T>`] | a value shared with [`Project::state`](crate::Project::state) |
//! | [`Config<T>`] | a section of the settings of the project's own ([`Project::settings_section`](crate::Project::settings_section)) |
//! | [`SettingsRef`] | the loaded settings |
//!
//! ```
//! use nuages::prelude::*;
//!
//! #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
//! #[serde(default)]
//! struct MySite { greeting: String }
//!
//! struct ApiClient { base: String }
//!
//! async fn hello(site: Config<MySite>, api: Data<ApiClient>) -> String {
//!     format!("{} from {}", site.greeting, api.base)
//! }
//! ```

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;

pub use crate::cache::{Cache, Caches};
pub use crate::db::Db;
pub use crate::mail::Mailer;
pub use crate::middleware::csrf::CsrfToken;
pub use crate::middleware::session::Session;
pub use crate::templates::Templates;
pub use crate::urls::Urls;

use crate::conf::Settings;
use crate::error::{Error, Problem, Result};
use crate::project::StateMap;
use crate::state::AppState;
use crate::urls::Resolver;

/// A value the project shared with [`Project::state`](crate::Project::state),
/// by its type. Asking for a type that was never registered makes building
/// the application fail, naming the view and the type.
#[derive(Debug)]
pub struct Data<T>(pub Arc<T>);

impl<T> Deref for Data<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for Data<T> {
    fn clone(&self) -> Self {
        Data(self.0.clone())
    }
}

impl<T: Send + Sync + 'static, S: Send + Sync> FromRequestParts<S> for Data<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let state = AppState::from_parts(parts)?;
        state
            .data
            .get::<T>()
            .map(Data)
            .ok_or_else(|| missing_state(std::any::type_name::<T>(), "this view".to_string()))
    }
}

/// A section of the settings of the project's own, read into `T` (see
/// [`Project::settings_section`](crate::Project::settings_section)).
#[derive(Debug)]
pub struct Config<T>(pub Arc<T>);

impl<T> Deref for Config<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for Config<T> {
    fn clone(&self) -> Self {
        Config(self.0.clone())
    }
}

impl<T: Send + Sync + 'static, S: Send + Sync> FromRequestParts<S> for Config<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let state = AppState::from_parts(parts)?;
        state
            .settings
            .sections
            .get::<T>()
            .map(Config)
            .ok_or_else(|| missing_section(std::any::type_name::<T>(), "this view".to_string()))
    }
}

/// The application's loaded settings.
#[derive(Debug, Clone)]
pub struct SettingsRef(Arc<AppState>);

impl Deref for SettingsRef {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.0.settings
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SettingsRef {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Ok(SettingsRef(AppState::from_parts(parts)?.clone()))
    }
}

fn missing_state(type_name: &str, view: String) -> Error {
    Error::Config(
        Problem::new(format!(
            "{view} takes Data<{type_name}>, and no value of that type was shared"
        ))
        .with_hint(format!(
            "share one in src/wsgi.rs: Project::new(…).state(value) where value is a {type_name}"
        )),
    )
}

fn missing_section(type_name: &str, view: String) -> Error {
    Error::Config(
        Problem::new(format!(
            "{view} takes Config<{type_name}>, and no settings section has that type"
        ))
        .with_hint(format!(
            "declare it in src/wsgi.rs: Project::new(…).settings_section::<{type_name}>(\"name\")"
        )),
    )
}

/// What a view's extractors need from the project: the types inside its
/// `Data<…>` and `Config<…>`, read from the compiler's name of the
/// extractors' tuple (both names come from the same compiler).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    data: Vec<String>,
    config: Vec<String>,
}

impl Needs {
    /// The needs of a handler whose extractors have the type named `tuple`.
    pub(crate) fn of(tuple: &str) -> Needs {
        Needs {
            data: inner_types(tuple, std::any::type_name::<Data<()>>()),
            config: inner_types(tuple, std::any::type_name::<Config<()>>()),
        }
    }

    /// Both needs together.
    pub(crate) fn and(mut self, other: Needs) -> Needs {
        self.data.extend(other.data);
        self.config.extend(other.config);
        self
    }
}

/// The type arguments of every `Wrapper<…>` in `text`, where `wrapper` is
/// the name of `Wrapper<()>`.
fn inner_types(text: &str, wrapper: &str) -> Vec<String> {
    let prefix = &wrapper[..wrapper.len() - "()>".len()];
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(prefix) {
        let inner = &rest[start + prefix.len()..];
        let mut depth = 1;
        let end = inner.char_indices().find_map(|(i, c)| {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(i)
        });
        let Some(end) = end else { break };
        found.push(inner[..end].to_string());
        rest = &inner[end..];
    }
    found
}

/// Fail when a route's view takes state or a settings section the project
/// never provided: at build time, not at the first request.
pub(crate) fn check_needs(urls: &Resolver, data: &StateMap, settings: &Settings) -> Result<()> {
    for route in urls.routes() {
        let view = format!("the view {} (/{})", route.view, route.pattern);
        if let Some(missing) = route.needs.data.iter().find(|t| !data.has_type_named(t)) {
            return Err(missing_state(missing, view));
        }
        if let Some(missing) = route
            .needs
            .config
            .iter()
            .find(|t| !settings.sections.has_type_named(t))
        {
            return Err(missing_section(missing, view));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_are_read_from_the_extractors_type() {
        struct Client;
        type Extractors = (
            (),
            Data<Client>,
            axum::extract::Path<i64>,
            Config<Vec<Option<String>>>,
        );
        let needs = Needs::of(std::any::type_name::<Extractors>());
        assert_eq!(
            needs.data,
            vec![std::any::type_name::<Client>().to_string()]
        );
        assert_eq!(
            needs.config,
            vec![std::any::type_name::<Vec<Option<String>>>().to_string()]
        );
        assert_eq!(Needs::of("(axum::extract::Path<i64>,)"), Needs::default());
    }
}
