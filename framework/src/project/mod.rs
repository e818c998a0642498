//! What a project is made of, as `src/wsgi.rs` describes it: its name and
//! folder, its URLs, its installed [`App`]s, and what it adds to the
//! framework — its own middleware, settings sections, shared state,
//! template libraries, system checks and management commands.
//!
//! Nothing here runs a request: the [`Application`](crate::Application) is
//! built from a `Project` and the settings, once.
//!
//! ```
//! use nuages::middleware::Next;
//! use nuages::{Project, urls::UrlConf};
//! use axum::{extract::Request, response::Response};
//!
//! async fn timing(request: Request, next: Next) -> Response {
//!     let started = std::time::Instant::now();
//!     let mut response = next.run(request).await;
//!     let took = format!("app;dur={:.1}", started.elapsed().as_secs_f64() * 1000.0);
//!     response.headers_mut().insert("server-timing", took.parse().unwrap());
//!     response
//! }
//!
//! #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
//! #[serde(default)]
//! struct MySite { greeting: String }
//!
//! struct ApiClient { base: String }
//!
//! fn shout(value: &str, _: nuages::tera::Kwargs, _: &nuages::tera::State) -> String { value.to_uppercase() }
//!
//! fn urlpatterns() -> UrlConf { UrlConf::new() }
//!
//! let project = Project::new("mysite", env!("CARGO_MANIFEST_DIR"))
//!     .urls(urlpatterns)
//!     .middleware("timing", timing)
//!     .settings_section::<MySite>("mysite")
//!     .state(ApiClient { base: "https://api.example".into() })
//!     .template_library(|tera| tera.register_filter("shout", shout));
//! assert_eq!(project.name(), "mysite");
//! ```

mod app;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;

pub use self::app::App;
pub use crate::checks::Check;
pub use crate::management::Command;

use crate::conf::{Section, SelectedSettings, Settings, SettingsLoader, select_settings_file};
use crate::error::Result;
use crate::middleware::{Next, Registered};
use crate::urls::UrlConf;

/// The name of the folder the binary `exe` is in, which for a cargo build
/// is its profile: `debug` for `target/debug/mysite`, `release` for
/// `target/release/mysite`. Only that folder: one named `release` higher
/// up (`~/release/site/target/debug/mysite`) says nothing of the build.
pub(crate) fn profile_folder(exe: &Path) -> Option<&str> {
    exe.parent()?.file_name()?.to_str()
}

/// A function that registers filters, functions and tests on the template
/// engine (Tera); it runs again whenever the engine reloads in debug.
pub type TemplateLibrary = fn(&mut tera::Tera);

/// What a project is made of: its name and folder, its URLs and its apps,
/// and what it adds of its own. `src/wsgi.rs` builds one and hands it to
/// [`get_wsgi_application`](crate::get_wsgi_application).
///
/// ```
/// use nuages::{Project, urls::UrlConf};
/// fn urlpatterns() -> UrlConf { UrlConf::new() }
/// let project = Project::new("mysite", env!("CARGO_MANIFEST_DIR")).urls(urlpatterns);
/// assert_eq!(project.name(), "mysite");
/// ```
#[derive(Clone)]
pub struct Project {
    name: String,
    dir: PathBuf,
    default_settings: PathBuf,
    urls: fn() -> UrlConf,
    apps: Vec<App>,
    extensions: Extensions,
    migrations: Option<&'static sqlx::migrate::Migrator>,
}

/// What a project or an app adds to the framework.
#[derive(Clone, Default)]
pub(crate) struct Extensions {
    pub(crate) checks: Vec<Check>,
    pub(crate) middleware: Vec<Registered>,
    pub(crate) sections: Vec<Section>,
    pub(crate) state: StateMap,
    pub(crate) template_libraries: Vec<TemplateLibrary>,
    /// What was declared twice by the same project or app, the later
    /// replacing the earlier: a middleware's name, a section's name.
    declared_twice: Vec<DeclaredTwice>,
}

/// A name one project or app declared twice (see [`Extensions`]).
#[derive(Clone, Debug)]
enum DeclaredTwice {
    Middleware(&'static str),
    Section(&'static str),
}

impl Extensions {
    fn middleware<F, Fut>(&mut self, name: &'static str, middleware: F)
    where
        F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.middleware_with(name, move |_: &Settings| Ok(middleware.clone()));
    }

    fn middleware_with<B, F, Fut>(&mut self, name: &'static str, build: B)
    where
        B: Fn(&Settings) -> Result<F> + Send + Sync + 'static,
        F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        if self.middleware.iter().any(|m| m.name() == name) {
            self.declared_twice.push(DeclaredTwice::Middleware(name));
            self.middleware.retain(|m| m.name() != name);
        }
        self.middleware.push(Registered::new(name, build));
    }

    fn section(&mut self, name: &'static str, section: Section) {
        if self.sections.iter().any(|s| s.name() == name) {
            self.declared_twice.push(DeclaredTwice::Section(name));
            self.sections.retain(|s| s.name() != name);
        }
        self.sections.push(section);
    }
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("default_settings", &self.default_settings)
            .field("apps", &self.apps)
            .field("checks", &self.extensions.checks)
            .field("middleware", &self.middleware_names())
            .finish_non_exhaustive()
    }
}

/// The shared values of a project, by type.
#[derive(Clone, Default)]
pub(crate) struct StateMap {
    values: HashMap<TypeId, (&'static str, Arc<dyn Any + Send + Sync>)>,
    /// The types shared more than once by the same project or app.
    twice: Vec<&'static str>,
}

impl std::fmt::Debug for StateMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.values.values().map(|(name, _)| name))
            .finish()
    }
}

impl StateMap {
    fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        let name = std::any::type_name::<T>();
        let earlier = self
            .values
            .insert(TypeId::of::<T>(), (name, Arc::new(value)));
        if earlier.is_some() && !self.twice.contains(&name) {
            self.twice.push(name);
        }
    }

    /// The value of type `T`, if one was registered.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        let (_, value) = self.values.get(&TypeId::of::<T>())?;
        value.clone().downcast::<T>().ok()
    }

    /// Whether a value whose type is named `type_name` was registered.
    pub(crate) fn has_type_named(&self, type_name: &str) -> bool {
        self.values.values().any(|(name, _)| *name == type_name)
    }

    fn extend(&mut self, other: &StateMap) {
        for (id, value) in &other.values {
            self.values.entry(*id).or_insert_with(|| value.clone());
        }
    }
}

macro_rules! extension_methods {
    () => {
        /// Register a system check; `manage check` runs it after the
        /// built-in ones (see [`crate::checks`]).
        pub fn check(mut self, check: Check) -> Self {
            self.extensions.checks.push(check);
            self
        }

        /// Register a middleware under `name`, an `async fn(Request, Next)
        /// -> Response`; the `middleware` setting places it among the
        /// built-in ones (`["security", "session", "timing", "common",
        /// "csrf", "xframe"]`). A name registered twice here stops the
        /// application (`nuages.E053`: only the last would run), as does
        /// the name of a built-in one (the setting's entry would mean the
        /// built-in); the project's own wins over an app's of that name.
        pub fn middleware<F, Fut>(mut self, name: &'static str, middleware: F) -> Self
        where
            F: Fn(Request, Next) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = Response> + Send + 'static,
        {
            self.extensions.middleware(name, middleware);
            self
        }

        /// Register a middleware whose configuration is built once from the
        /// settings, when the application is built: `build` returns the
        /// middleware, or an error that stops the application (and that
        /// `check` reports) naming what is wrong.
        pub fn middleware_with<B, F, Fut>(mut self, name: &'static str, build: B) -> Self
        where
            B: Fn(&Settings) -> Result<F> + Send + Sync + 'static,
            F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Response> + Send + 'static,
        {
            self.extensions.middleware_with(name, build);
            self
        }

        /// Declare a settings section of its own (`name` in snake_case, as
        /// its `NUAGES_NAME__KEY` variables): the table `[name]` of the
        /// settings files (with `extends`, `${VAR}` and `NUAGES_NAME__KEY`
        /// variables, as every setting), read into `T`. Unknown keys and
        /// wrong types are errors naming the file and the key; `T`'s
        /// `Default` gives the defaults and the keys `diffsettings` shows.
        /// The name of a built-in setting (`caches`, `debug`) is refused
        /// when the settings load.
        /// Views read it with [`Config<T>`](crate::extract::Config).
        pub fn settings_section<T>(mut self, name: &'static str) -> Self
        where
            T: serde::Serialize + serde::de::DeserializeOwned + Default + Send + Sync + 'static,
        {
            self.extensions.section(name, Section::new::<T>(name));
            self
        }

        /// Share `value` with every view, which takes it as
        /// [`Data<T>`](crate::extract::Data): an API client, a pool of its
        /// own. A view asking for a type that was never registered makes
        /// building the application fail, before any request; so does a
        /// type shared twice here (a view could only get one value).
        pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
            self.extensions.state.insert(value);
            self
        }

        /// Register template filters, functions and tests: `register` gets
        /// the engine (Tera) and runs again whenever it reloads in debug.
        ///
        /// ```
        /// fn shout(value: &str, _: tera::Kwargs, _: &tera::State) -> String { value.to_uppercase() }
        /// let app = nuages::App::new("polls", "/srv/mysite/src/polls")
        ///     .template_library(|tera| tera.register_filter("shout", shout));
        /// ```
        pub fn template_library(mut self, register: TemplateLibrary) -> Self {
            self.extensions.template_libraries.push(register);
            self
        }

        /// The system checks registered here.
        pub fn checks(&self) -> &[Check] {
            &self.extensions.checks
        }
    };
}
pub(crate) use extension_methods;

impl Project {
    /// A project called `name` whose sources are in `dir` (its Cargo.toml folder).
    pub fn new(name: &str, dir: impl Into<PathBuf>) -> Self {
        Project {
            name: name.to_string(),
            dir: dir.into(),
            default_settings: PathBuf::from("settings.toml"),
            urls: UrlConf::new,
            apps: Vec::new(),
            extensions: Extensions::default(),
            migrations: None,
        }
    }

    /// The function that returns the project's URL patterns (`urls::urlpatterns`).
    pub fn urls(mut self, urls: fn() -> UrlConf) -> Self {
        self.urls = urls;
        self
    }

    /// The installed apps, in order.
    pub fn apps(mut self, apps: Vec<App>) -> Self {
        self.apps = apps;
        self
    }

    extension_methods!();

    /// The settings file used when neither `--settings` nor `NUAGES_SETTINGS`
    /// names one (default `settings.toml`).
    pub fn default_settings(mut self, path: impl Into<PathBuf>) -> Self {
        self.default_settings = path.into();
        self
    }

    /// Project-level migrations (`sqlx::migrate!("migrations")`), applied
    /// before the apps'.
    pub fn with_migrations(mut self, migrator: &'static sqlx::migrate::Migrator) -> Self {
        self.migrations = Some(migrator);
        self
    }

    /// The project-level migrations, if any.
    pub fn migrations(&self) -> Option<&'static sqlx::migrate::Migrator> {
        self.migrations
    }

    /// The project's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The project's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The installed apps.
    pub fn installed_apps(&self) -> &[App] {
        &self.apps
    }

    /// The URL configuration.
    pub fn urlconf(&self) -> UrlConf {
        (self.urls)()
    }

    /// The settings file to load: `flag` (`--settings`) beats
    /// `NUAGES_SETTINGS`, which beats the project's default. A relative
    /// `NUAGES_SETTINGS` or default is looked for in the working directory,
    /// then in the project folder; a relative `--settings` in the working
    /// directory only. An empty `NUAGES_SETTINGS` is an error.
    pub fn settings_file(&self, flag: Option<&Path>) -> Result<SelectedSettings> {
        let variable = std::env::var(crate::conf::SETTINGS_VARIABLE).ok();
        Ok(select_settings_file(
            flag,
            variable,
            &self.default_settings,
            &self.dir,
        )?)
    }

    /// Load the selected settings file, with the project's sections; a
    /// missing file says where its name came from and where it was looked for.
    pub fn load_selected_settings(&self, selected: &SelectedSettings) -> Result<Settings> {
        self.refuse_declared_twice()?;
        Ok(self
            .settings_loader(&selected.path)
            .load()
            .map_err(|error| selected.explain(error))?)
    }

    /// A loader of the settings file `path` that knows the sections the
    /// project and its apps declare (tests use it to set the environment).
    pub fn settings_loader(&self, path: impl Into<PathBuf>) -> SettingsLoader {
        SettingsLoader::new(path).sections(self.sections())
    }

    /// Load the settings file `path`, with the project's sections.
    pub fn load_settings(&self, path: &Path) -> Result<Settings> {
        self.refuse_declared_twice()?;
        Ok(self.settings_loader(path).load()?)
    }

    /// Every extension, the project's first, then each app's in order.
    fn all_extensions(&self) -> impl Iterator<Item = &Extensions> {
        std::iter::once(&self.extensions).chain(self.apps.iter().map(App::extensions))
    }

    /// The system checks of the project and of its apps, in that order.
    pub(crate) fn registered_checks(&self) -> Vec<Check> {
        self.all_extensions()
            .flat_map(|e| e.checks.iter().cloned())
            .collect()
    }

    /// The middleware registered by the project and its apps (the
    /// project's win over an app's of the same name).
    pub(crate) fn registered_middleware(&self) -> Vec<Registered> {
        let mut found: Vec<Registered> = Vec::new();
        for extension in self.all_extensions() {
            for middleware in &extension.middleware {
                if found.iter().all(|m| m.name() != middleware.name()) {
                    found.push(middleware.clone());
                }
            }
        }
        found
    }

    /// The names of the registered middleware.
    pub fn middleware_names(&self) -> Vec<&'static str> {
        self.registered_middleware()
            .iter()
            .map(Registered::name)
            .collect()
    }

    /// The settings sections of the project and its apps (one name
    /// declared twice into one type once; into two types twice, which the
    /// settings loader refuses).
    pub(crate) fn sections(&self) -> Vec<Section> {
        let mut found: Vec<Section> = Vec::new();
        for extension in self.all_extensions() {
            for section in &extension.sections {
                if !found
                    .iter()
                    .any(|s| s.name() == section.name() && s.same_type_as(section))
                {
                    found.push(section.clone());
                }
            }
        }
        found
    }

    /// The shared state of the project and its apps.
    pub(crate) fn shared_state(&self) -> StateMap {
        let mut state = StateMap::default();
        for extension in self.all_extensions() {
            state.extend(&extension.state);
        }
        state
    }

    /// Refuse a type shared twice by the project, twice by one app or by
    /// two apps (unless the project shares it too): a view's `Data<T>`
    /// could only ever get one of the values. (A type the project and an
    /// app both share is the project's, as for middleware.) Refuse as well
    /// a middleware name two apps register and the project does not, and
    /// two settings sections read into one type, of which a view's
    /// `Config<T>` could only get one.
    pub(crate) fn check_state(&self) -> Result<()> {
        self.refuse_declared_twice()?;
        self.refuse_one_thing_from_two_apps()?;
        let owners = std::iter::once(("the project".to_string(), &self.extensions)).chain(
            self.apps
                .iter()
                .map(|app| (format!("the app '{}'", app.label()), app.extensions())),
        );
        for (owner, extensions) in owners {
            if let Some(name) = extensions.state.twice.first() {
                return Err(crate::Error::Config(
                    crate::Problem::new(format!(
                        "{owner} shares two values of the type {name} (.state(…) twice): \
                         a view's Data<{name}> would only ever get the last one"
                    ))
                    .with_hint(format!(
                        "share one value of each type; for two values of one type, wrap each in \
                         a type of its own (struct Primary({name}); .state(Primary(…))) and take \
                         Data<Primary>"
                    )),
                ));
            }
        }
        let sections = self.sections();
        for (at, section) in sections.iter().enumerate() {
            if let Some(other) = sections[at + 1..].iter().find(|s| s.same_type_as(section)) {
                let name = section.type_name();
                return Err(crate::Error::Config(
                    crate::Problem::new(format!(
                        "the settings sections [{}] and [{}] are both read into the type {name}: \
                         a view's Config<{name}> would only ever get one of them",
                        section.name(),
                        other.name()
                    ))
                    .with_hint(format!(
                        "read each section into a type of its own, e.g. #[derive(Default, \
                         Deserialize, Serialize)] #[serde(transparent)] struct Other({name}); \
                         .settings_section::<Other>(\"{}\")",
                        other.name()
                    )),
                ));
            }
        }
        Ok(())
    }

    /// A middleware name or a settings section one project or app declared
    /// twice: the later silently replaced the earlier (a section's keys
    /// were then refused as unknown, pointing at Nuages' own docs).
    fn refuse_declared_twice(&self) -> Result<()> {
        let owners = std::iter::once(("the project".to_string(), &self.extensions)).chain(
            self.apps
                .iter()
                .map(|app| (format!("the app '{}'", app.label()), app.extensions())),
        );
        for (owner, extensions) in owners {
            let problem = match extensions.declared_twice.first() {
                None => continue,
                Some(DeclaredTwice::Middleware(name)) => crate::Problem::new(format!(
                    "{owner} registers two middleware named '{name}' (.middleware(\"{name}\", …) \
                     twice): only the last one would ever run"
                ))
                .with_hint(
                    "give each middleware a name of its own, and list the ones to run in the \
                     `middleware` setting",
                ),
                Some(DeclaredTwice::Section(name)) => crate::Problem::new(format!(
                    "{owner} declares the settings section [{name}] twice \
                     (.settings_section::<…>(\"{name}\") twice): only the last type would read it"
                ))
                .with_hint(
                    "declare each section once; a second table of settings gets a name of its own",
                ),
            };
            return Err(crate::Error::Config(problem));
        }
        Ok(())
    }

    /// A type two apps share, or a middleware name two apps register, that
    /// the project does not override: which app's would be used depends on
    /// the order of `.app(…)`, and the other app's views silently get it.
    fn refuse_one_thing_from_two_apps(&self) -> Result<()> {
        let project = &self.extensions;
        let two_apps = |what: String, first: &App, second: &App, hint: String| {
            Err(crate::Error::Config(
                crate::Problem::new(format!(
                    "the apps '{}' and '{}' both register {what}: only the first one's would be \
                     used, by the views of both",
                    first.label(),
                    second.label()
                ))
                .with_hint(hint),
            ))
        };
        for (at, app) in self.apps.iter().enumerate() {
            for other in &self.apps[at + 1..] {
                let shared = app.extensions().state.values.iter().find(|(id, _)| {
                    other.extensions().state.values.contains_key(id)
                        && !project.state.values.contains_key(id)
                });
                if let Some((_, (name, _))) = shared {
                    return two_apps(
                        format!("a value of the type {name} (.state(…))"),
                        app,
                        other,
                        format!(
                            "wrap one app's value in a type of its own (struct Own({name}); \
                             .state(Own(…)); its views take Data<Own>), or share one value \
                             from the project"
                        ),
                    );
                }
                let named = app.extensions().middleware.iter().find(|m| {
                    other
                        .extensions()
                        .middleware
                        .iter()
                        .any(|o| o.name() == m.name())
                        && project.middleware.iter().all(|p| p.name() != m.name())
                });
                if let Some(middleware) = named {
                    let name = middleware.name();
                    return two_apps(
                        format!("a middleware named '{name}'"),
                        app,
                        other,
                        format!(
                            "register it under a name of its own in one of them (e.g. \
                             \"{}_{name}\") and list that name in `middleware`",
                            other.label()
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// The template libraries of the project and its apps.
    pub(crate) fn template_libraries(&self) -> Vec<TemplateLibrary> {
        self.all_extensions()
            .flat_map(|e| e.template_libraries.iter().copied())
            .collect()
    }
}
