//! The handler entrypoint: [`get_wsgi_application`] and [`Application`].
//!
//! The request path, outermost first, readable in [`build_router`]:
//!
//! ```text
//! state → request log → response headers (of security and xframe, when listed)
//!       → error pages → panic guard → allowed hosts → body limit
//!       → middleware from settings (security's https redirect, session, common, csrf)
//!       → static files under static_url (development; see [`Application::with_static_serving`])
//!       → URL resolver → view
//! ```

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::RouterIntoService;
use bytes::Bytes;
use http::Request;
use http::request::Parts;
use tower::Service;
use tower_http::catch_panic::CatchPanicLayer;

use crate::apps::App;
use crate::checks::Check;
use crate::conf::{Settings, SettingsLoader, select_settings_file};
use crate::db::Databases;
use crate::error::{Error, Result};
use crate::staticfiles::{StaticHandler, StaticServing};
use crate::templates::Engine;
use crate::urls::{Resolver, UrlConf};

/// What a project is made of: its name and folder, its URLs and its apps.
/// `src/wsgi.rs` builds one and hands it to [`get_wsgi_application`].
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
    checks: Vec<Check>,
    migrations: Option<&'static sqlx::migrate::Migrator>,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("default_settings", &self.default_settings)
            .field("apps", &self.apps)
            .field("checks", &self.checks)
            .finish()
    }
}

impl Project {
    /// A project called `name` whose sources are in `dir` (its Cargo.toml folder).
    pub fn new(name: &str, dir: impl Into<PathBuf>) -> Self {
        Project {
            name: name.to_string(),
            dir: dir.into(),
            default_settings: PathBuf::from("settings.toml"),
            urls: UrlConf::new,
            apps: Vec::new(),
            checks: Vec::new(),
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

    /// Register a system check of the project's; `manage check` runs it
    /// after the built-in ones (see [`crate::checks`]).
    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// The project's own system checks.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

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

    /// The settings file to load: `--settings` (see [`select_settings`]) beats
    /// `NUAGES_SETTINGS`, which beats the project's default. A relative default
    /// is looked for in the working directory, then in the project folder.
    pub fn settings_path(&self) -> PathBuf {
        let flag = SELECTED_SETTINGS
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let variable = std::env::var(crate::conf::SETTINGS_VARIABLE).ok();
        let chosen = select_settings_file(flag.as_deref(), variable, &self.default_settings);
        let came_from_default = chosen == self.default_settings;
        if came_from_default && chosen.is_relative() && !chosen.exists() {
            return self.dir.join(chosen);
        }
        chosen
    }

    /// Load the selected settings file.
    pub fn load_settings(&self) -> Result<Settings> {
        Ok(SettingsLoader::new(self.settings_path()).load()?)
    }
}

static SELECTED_SETTINGS: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Select the settings file for every application built afterwards in this
/// process, as `--settings FILE` does (it beats `NUAGES_SETTINGS`).
pub fn select_settings(path: Option<PathBuf>) {
    *SELECTED_SETTINGS.write().unwrap_or_else(|p| p.into_inner()) = path;
}

/// Everything a request may need, built once per application.
#[derive(Debug)]
pub struct AppState {
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
    /// The installed apps.
    pub apps: Vec<App>,
}

impl AppState {
    /// The state of the application serving this request.
    pub fn from_parts(parts: &Parts) -> Result<&Arc<AppState>> {
        parts
            .extensions
            .get::<Arc<AppState>>()
            .ok_or_else(|| Error::Config {
                message: "this request did not come through a Nuages Application".into(),
                hint: Some("serve the router through nuages::get_wsgi_application()".into()),
            })
    }
}

/// Build the project's [`Application`] with the selected settings: the
/// equivalent of Django's `get_wsgi_application()`.
///
/// ```no_run
/// # fn urlpatterns() -> nuages::urls::UrlConf { nuages::urls::UrlConf::new() }
/// let project = nuages::Project::new("mysite", env!("CARGO_MANIFEST_DIR")).urls(urlpatterns);
/// let application = nuages::get_wsgi_application(project)?;
/// # Ok::<(), nuages::Error>(())
/// ```
pub fn get_wsgi_application(project: Project) -> Result<Application> {
    let settings = project.load_settings()?;
    Application::new(project, settings)
}

/// The application: a `tower::Service<http::Request<_>>` that any hyper or
/// axum server can host, built once from the settings.
///
/// ```no_run
/// # async fn run(application: nuages::Application) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, application).await
/// # }
/// ```
#[derive(Clone)]
pub struct Application {
    state: Arc<AppState>,
    router: Router,
    static_serving: StaticServing,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("project", &self.state.project)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Build the application of `project` with already loaded `settings`.
    pub fn new(project: Project, settings: Settings) -> Result<Application> {
        let urls = Arc::new(project.urlconf().resolver()?);
        let mut template_dirs = settings.template_dirs.clone();
        template_dirs.extend(project.apps.iter().map(App::templates_dir));
        let templates = Arc::new(Engine::new(
            template_dirs,
            settings.debug,
            urls.clone(),
            crate::staticfiles::static_url_fn(&settings),
        )?);
        let static_serving = StaticServing::default_for(&settings);
        crate::db::check_urls(&settings)?;
        let state = Arc::new(AppState {
            project: project.name.clone(),
            databases: Databases::new(&settings),
            settings,
            urls,
            templates,
            apps: project.apps,
        });
        let router = build_router(state.clone(), static_serving)?;
        Ok(Application {
            state,
            router,
            static_serving,
        })
    }

    /// The same application serving `static_url` as `serving` says: from the
    /// source folders (the default when `debug` is on; `runserver
    /// --insecure`), from the collected `static_root` (a production server
    /// that opts in), or not at all (the default when `debug` is off;
    /// `runserver --nostatic`).
    pub fn with_static_serving(self, serving: StaticServing) -> Result<Application> {
        let router = build_router(self.state.clone(), serving)?;
        Ok(Application {
            router,
            static_serving: serving,
            ..self
        })
    }

    /// How the application serves `static_url`.
    pub fn static_serving(&self) -> StaticServing {
        self.static_serving
    }

    /// The settings the application was built with.
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// The shared state (settings, routes, templates, databases).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The axum router, to nest or merge into a larger one.
    pub fn into_router(self) -> Router {
        self.router
    }

    /// A make-service for servers that want one per connection.
    pub fn into_make_service(self) -> axum::routing::IntoMakeService<Router> {
        self.router.into_make_service()
    }
}

/// The request path, outermost layer last. The layers go around the route
/// table as one [`Stack`](crate::middleware::Stack), which keeps a request's
/// cost linear in the number of layers.
fn build_router(state: Arc<AppState>, serving: StaticServing) -> Result<Router> {
    let settings = &state.settings;
    let urls = state.urls.clone();
    let router = Router::new().fallback(move |request: Request<Body>| {
        let urls = urls.clone();
        async move {
            match urls.resolve(request.uri().path()) {
                Some(route) => route.call(request).await,
                None => crate::views::errors::not_found(request).await,
            }
        }
    });
    let mut stack = crate::middleware::Stack::default();
    if let Some(files) = StaticHandler::new(serving, settings, &state.apps) {
        stack = stack.layer(axum::middleware::from_fn_with_state(
            Arc::new(files),
            crate::staticfiles::serve::middleware,
        ));
    }
    for name in settings.middleware.iter().rev() {
        stack = crate::middleware::apply(name, stack, &state)?;
    }
    let mut stack = stack
        .layer(DefaultBodyLimit::max(settings.data_upload_max_memory_size))
        .middleware(
            state.clone(),
            crate::middleware::limits::reject_oversized_body,
        )
        .middleware(state.clone(), crate::middleware::hosts::middleware)
        .layer(CatchPanicLayer::custom(
            crate::views::errors::panic_response,
        ))
        .middleware(state.clone(), crate::views::errors::error_pages);
    // Outside all the responses the framework makes, so none leaves without them.
    if let Some(headers) = crate::middleware::headers::ResponseHeaders::new(&state)? {
        stack = stack.middleware(Arc::new(headers), crate::middleware::headers::middleware);
    }
    let stack = stack
        .middleware((), |_: State<()>, request, next| {
            crate::logging::log_request(request, next)
        })
        .layer(axum::Extension(state));
    // `with_state(())` turns every handler into a route now, once; without
    // it axum would do so again for each request (as `into_make_service`
    // does it, but `Application::call` serves the router directly).
    Ok(router.layer(stack).with_state(()))
}

impl<B> Service<Request<B>> for Application
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = <RouterIntoService<Body> as Service<Request<Body>>>::Future;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request = request.map(Body::new);
        self.router.clone().into_service().call(request)
    }
}

/// `axum::serve(listener, application)` works directly.
impl<L> Service<axum::serve::IncomingStream<'_, L>> for Application
where
    L: axum::serve::Listener,
{
    type Response = Application;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Application, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: axum::serve::IncomingStream<'_, L>) -> Self::Future {
        std::future::ready(Ok(self.clone()))
    }
}

impl From<Application> for Router {
    fn from(application: Application) -> Router {
        application.router
    }
}
