//! The handler entrypoint: [`get_wsgi_application`] and [`Application`].
//!
//! The request path, outermost first, readable in `build_router`:
//!
//! ```text
//! state → request log → response headers (of security and xframe, when listed)
//!       → error pages → panic guard → allowed hosts → body limit
//!         (these, and the state, are one level: `middleware::request_path`)
//!       → middleware from settings (security's https redirect, session, common, csrf)
//!       → static files under static_url, uploads under media_url
//!         (development; see [`Application::with_static_serving`])
//!       → URL resolver → view
//! ```

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::Request;
use tower::Service;

use crate::auth::login::AuthConfig;
use crate::auth::password_reset::ResetCooldown;
use crate::conf::Settings;
use crate::db::Databases;
use crate::error::Result;
use crate::middleware::request_path::{PathFuture, RequestPath};
use crate::middleware::{Registered, Shared};
use crate::project::{App, Project};
use crate::state::AppState;
use crate::staticfiles::{StaticHandler, StaticServing};
use crate::templates::{Engine, Templates};

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
    let settings = project.load_selected_settings(&project.settings_file(None)?)?;
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
    /// The request path: its outermost level, which holds the others.
    path: Arc<RequestPath>,
    middleware: Arc<[Registered]>,
    static_serving: StaticServing,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("project", &self.state.project)
            .finish_non_exhaustive()
    }
}

/// The ids of the checks that report, with its own validation and words,
/// what [`Application::new`] refuses to build with (so `runserver`, `serve`
/// and a test client too): silencing one hides it from `check`, not from
/// the application (`nuages.W046`).
pub(crate) const REFUSED_BY_APPLICATION: &[&str] = &[
    "nuages.E003",
    "nuages.E005",
    "nuages.E006",
    "nuages.E007",
    "nuages.E008",
    "nuages.E009",
    "nuages.E010",
    "nuages.E011",
    "nuages.E015",
    "nuages.E016",
    "nuages.E019",
    "nuages.E022",
    "nuages.E023",
    "nuages.E024",
    "nuages.E025",
    "nuages.E040",
    "nuages.E044",
    "nuages.E045",
    "nuages.E047",
    "nuages.E048",
    "nuages.E050",
    "nuages.E051",
    "nuages.E053",
    "security.E023",
    "security.E024",
    "4_0.E001",
];

impl Application {
    /// Build the application of `project` with already loaded `settings`
    /// (loaded with [`Project::load_settings`], so that they hold the
    /// project's own sections).
    pub fn new(project: Project, settings: Settings) -> Result<Application> {
        let urls = Arc::new(project.urlconf().resolver()?);
        project.check_state()?;
        let data = project.shared_state();
        crate::extract::check_needs(&urls, &data, &settings)?;
        let mut template_dirs = settings.template_dirs.clone();
        template_dirs.extend(project.installed_apps().iter().map(App::templates_dir));
        let templates = Arc::new(Engine::new(
            template_dirs,
            settings.debug,
            urls.clone(),
            crate::staticfiles::static_url_fn(&settings),
            project.template_libraries(),
        )?);
        let static_serving = StaticServing::default_for(&settings);
        crate::db::check_settings(&settings)?;
        crate::auth::check_settings(&settings)?;
        let middleware: Arc<[Registered]> = project.registered_middleware().into();
        let caches = crate::cache::Caches::new(&settings)?;
        let auth = AuthConfig::if_listed(&settings, &caches)?;
        let reset_cooldown = ResetCooldown::new(&settings, &caches)?;
        let state = Arc::new(AppState {
            project: project.name().to_string(),
            reset_cooldown,
            databases: Databases::new(&settings),
            caches,
            mailer: crate::mail::Mailer::new(&settings)?,
            settings,
            urls,
            templates,
            apps: project.installed_apps().to_vec(),
            data,
            auth,
            anonymous: crate::auth::login::anonymous_template_values(project.installed_apps()),
        });
        let path = build_service(state.clone(), &middleware, static_serving)?;
        Ok(Application {
            state,
            path,
            middleware,
            static_serving,
        })
    }

    /// The same application serving `static_url` as `serving` says: from the
    /// source folders (the default when `debug` is on; `runserver
    /// --insecure`), from the collected `static_root` (a production server
    /// that opts in), or not at all (the default when `debug` is off;
    /// `runserver --nostatic`).
    pub fn with_static_serving(self, serving: StaticServing) -> Result<Application> {
        let path = build_service(self.state.clone(), &self.middleware, serving)?;
        Ok(Application {
            path,
            static_serving: serving,
            ..self
        })
    }

    /// What the request path shares, for the command line (which closes
    /// its pools when a command ends).
    pub(crate) fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// At `serve` and `runserver` start: log an error for each store the
    /// site runs without while it fails (a Redis cache that does not
    /// answer as it should), naming its setting and the fix.
    pub(crate) async fn report_unreachable_stores(&self) {
        self.state
            .caches
            .report_unreachable(&self.state.settings)
            .await;
    }

    /// How the application serves `static_url`.
    pub fn static_serving(&self) -> StaticServing {
        self.static_serving
    }

    /// The settings the application was built with.
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// The databases of the `databases` setting, connected on first use.
    pub fn databases(&self) -> &Databases {
        &self.state.databases
    }

    /// The mailer of the `email_*` settings, to send mail outside a request
    /// (a command, a test); a view takes the [`Mailer`](crate::mail::Mailer)
    /// extractor instead.
    pub fn mailer(&self) -> &crate::mail::Mailer {
        &self.state.mailer
    }

    /// The project's templates, to render outside a request (a command, a
    /// test); a view takes the [`Templates`] extractor instead.
    pub fn templates(&self) -> Templates {
        Templates::outside_request(self.state.templates.clone())
    }

    /// The axum router, to nest or merge into a larger one.
    pub fn into_router(self) -> Router {
        Router::new().fallback_service(self)
    }

    /// A make-service for servers that want one per connection.
    pub fn into_make_service(self) -> axum::routing::IntoMakeService<Router> {
        self.into_router().into_make_service()
    }
}

/// The request path: the layers, outermost last, around the route table,
/// as one [`Stack`](crate::middleware::Stack), which keeps a request's cost
/// linear in the number of layers, inside the framework's own outermost
/// level.
fn build_service(
    state: Arc<AppState>,
    registered: &[Registered],
    serving: StaticServing,
) -> Result<Arc<RequestPath>> {
    let settings = &state.settings;
    let urls = state.urls.clone();
    // The route table: the route of the path, whose own axum router gives
    // the view its path parameters, or the 404 page.
    let table =
        Shared::boxed(
            move |request: Request<Body>| match urls.resolve(request.uri().path()) {
                Some(route) => Box::pin(route.call(request)),
                None => Box::pin(std::future::ready(crate::views::errors::not_found(request))),
            },
        );
    let mut stack = crate::middleware::Stack::default();
    if let Some(files) = StaticHandler::new(serving, settings, &state.apps) {
        stack = stack.layer(axum::middleware::from_fn_with_state(
            Arc::new(files),
            crate::staticfiles::serve::middleware,
        ));
    }
    if let Some(media) = StaticHandler::media(serving, settings) {
        stack = stack.layer(axum::middleware::from_fn_with_state(
            Arc::new(media),
            crate::staticfiles::serve::middleware,
        ));
    }
    let (outermost, stack) =
        crate::middleware::apply(&settings.middleware, stack, &state, registered)?;
    // The framework's own levels (log, response headers, error pages, panic
    // guard, hosts, body limits, the state in the request) and the
    // outermost built-in middleware: one level.
    Ok(Arc::new(RequestPath::new(
        &state,
        outermost,
        stack.around(table),
    )?))
}

impl<B> Service<Request<B>> for Application
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ResponseFuture(self.path.call(request.map(Body::new)))
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
        application.into_router()
    }
}

/// The response future of an [`Application`].
pub struct ResponseFuture(PathFuture);

impl std::future::Future for ResponseFuture {
    type Output = Result<Response, Infallible>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Response, Infallible>> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(Ok)
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
