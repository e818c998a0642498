//! Apps: a folder of the project with its own templates, static files and
//! migrations, as Django's `INSTALLED_APPS`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;

use super::{Check, Command, Extensions, TemplateLibrary};
use crate::conf::{Section, Settings};
use crate::error::Result;
use crate::middleware::Next;

/// An installed app.
///
/// Apps are usually created by `manage startapp` and made with the [`crate::app!`]
/// macro, which records the app's source folder at compile time.
///
/// ```
/// let polls = nuages::App::new("polls", "/srv/mysite/src/polls");
/// assert_eq!(polls.templates_dir(), std::path::Path::new("/srv/mysite/src/polls/templates"));
/// ```
#[derive(Clone)]
pub struct App {
    label: String,
    path: PathBuf,
    migrations: Option<&'static sqlx::migrate::Migrator>,
    permissions: Vec<(String, String)>,
    commands: Vec<Arc<dyn Command>>,
    extensions: Extensions,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("label", &self.label)
            .field("path", &self.path)
            .field(
                "commands",
                &self.commands.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .field("checks", &self.extensions.checks)
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app called `label` whose files live in `path`.
    pub fn new(label: &str, path: impl Into<PathBuf>) -> Self {
        App {
            label: label.to_string(),
            path: path.into(),
            migrations: None,
            permissions: Vec::new(),
            commands: Vec::new(),
            extensions: Extensions::default(),
        }
    }

    /// Add a management command of the app's (`manage <name>`), as a Django
    /// app's `management/commands/`.
    pub fn with_command(mut self, command: impl Command + 'static) -> Self {
        self.commands.push(Arc::new(command));
        self
    }

    /// The app's management commands.
    pub fn commands(&self) -> &[Arc<dyn Command>] {
        &self.commands
    }

    /// Attach the app's migrations (`sqlx::migrate!("src/polls/migrations")`).
    pub fn with_migrations(mut self, migrator: &'static sqlx::migrate::Migrator) -> Self {
        self.migrations = Some(migrator);
        self
    }

    /// Declare a permission of the app: `codename` (`"add_question"`), known
    /// as `polls.add_question`, and its `name` for people (`"Can add
    /// question"`). `manage migrate` inserts the declared permissions the
    /// database lacks into `auth_permission`; they are given to users and
    /// groups with [`User::add_permission`](crate::auth::User::add_permission)
    /// and [`Group::add_permission`](crate::auth::Group::add_permission), and
    /// checked with [`User::has_perm`](crate::auth::User::has_perm).
    ///
    /// ```
    /// let polls = nuages::App::new("polls", "/srv/mysite/src/polls")
    ///     .permission("add_question", "Can add question")
    ///     .permission("vote", "Can vote");
    /// assert_eq!(polls.permissions()[1], ("vote".to_string(), "Can vote".to_string()));
    /// ```
    pub fn permission(mut self, codename: &str, name: &str) -> Self {
        self.permissions.retain(|(c, _)| c != codename);
        self.permissions
            .push((codename.to_string(), name.to_string()));
        self
    }

    /// The permissions the app declares, as `(codename, name)`.
    pub fn permissions(&self) -> &[(String, String)] {
        &self.permissions
    }

    /// The app's label, also its URL namespace by convention.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The app's folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<app>/templates`, searched after the project's `template_dirs`.
    pub fn templates_dir(&self) -> PathBuf {
        self.path.join("templates")
    }

    /// `<app>/static`, searched after the project's `staticfiles_dirs`.
    pub fn static_dir(&self) -> PathBuf {
        self.path.join("static")
    }

    /// The app's migrations, if it has any.
    pub fn migrations(&self) -> Option<&'static sqlx::migrate::Migrator> {
        self.migrations
    }

    super::extension_methods!();

    pub(crate) fn extensions(&self) -> &Extensions {
        &self.extensions
    }
}

/// An [`App`] for the module this is called in: the label is given, the
/// folder is `src/<label>` of the calling crate.
///
/// ```ignore
/// // src/polls/mod.rs
/// pub fn app() -> nuages::App {
///     nuages::app!("polls")
/// }
/// ```
#[macro_export]
macro_rules! app {
    ($label:literal) => {
        $crate::App::new($label, concat!(env!("CARGO_MANIFEST_DIR"), "/src/", $label))
    };
}
