//! Who is logged in: the `auth` middleware, [`Auth`] (login, logout, the
//! user of the request) and the extractors that require a login.
//!
//! The session keeps the user's id under
//! [`crate::sessions::AUTH_USER_KEY`] (`_auth_user_id`) and
//! an HMAC of their password hash under [`HASH_SESSION_KEY`]
//! (`_auth_user_hash`), keyed with `secret_key`, as Django does: when the
//! password changes, the hash no longer matches and every other session of
//! that user is logged out on its next request, whatever `session_engine`
//! keeps them.
//!
//! The user is loaded lazily: a request whose view never asks for it (no
//! [`Auth::user`], [`CurrentUser`], [`LoginRequired`]…, no
//! [`Templates`](crate::templates::Templates)) makes no query, and one that
//! asks several times makes one.
//!
//! ```
//! use nuages::auth::{LoginRequired, PermissionRequired, RequiredPermission};
//!
//! async fn profile(LoginRequired(user): LoginRequired) -> String {
//!     format!("Hello {}", user.username)
//! }
//!
//! struct CanVote;
//! impl RequiredPermission for CanVote {
//!     const PERMISSION: &'static str = "polls.vote";
//! }
//!
//! async fn vote(PermissionRequired(user, _): PermissionRequired<CanVote>) -> String {
//!     format!("{} may vote", user.username)
//! }
//! ```

use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use serde_json::Value;
use sqlx::AnyPool;

use super::models::User;
use super::throttle::{Admission, LoginThrottle, THROTTLED_LOGIN};
use crate::cache::Caches;
use crate::client_address::TrustedProxies;
use crate::conf::Settings;
use crate::error::{Error, Problem, Result};
use crate::middleware::csrf::CsrfState;
use crate::middleware::session::Session;
use crate::middleware::signing::Signer;
use crate::sessions::AUTH_USER_KEY;
use crate::state::AppState;

/// The session value holding the HMAC of the user's password hash
/// (Django's `_auth_user_hash`).
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";

/// What asking for the user fails with before the session's step ran.
fn asked_before_the_session() -> Error {
    Error::Config(
        Problem::new(
            "the user was asked for before the \"session\" middleware ran (the user is kept in \
             the session)",
        )
        .with_hint(
            "ask for it in a view, or in a middleware listed after \"session\" in the \
             middleware setting",
        ),
    )
}

/// The `auth` middleware's key for session auth hashes, built once.
#[derive(Debug)]
pub(crate) struct AuthConfig {
    signer: Signer,
    /// What [`Auth::authenticate`] checks passwords with.
    hashers: super::PasswordHashers,
    /// Whose `X-Forwarded-For` tells the client's address.
    trusted_proxies: TrustedProxies,
    /// The failed-login throttle of [`Auth::authenticate`].
    throttle: LoginThrottle,
}

impl AuthConfig {
    /// Refuses to build without `"session"` before `"auth"` in `middleware`
    /// (`nuages.E045`) or without `secret_key`.
    pub(crate) fn new(settings: &Settings, caches: &Caches) -> Result<AuthConfig> {
        check_middleware_order(settings)?;
        Ok(AuthConfig {
            signer: Signer::new(settings, "nuages.auth.session_hash")?,
            hashers: super::PasswordHashers::from_settings(settings)?,
            trusted_proxies: TrustedProxies::new(&settings.trusted_proxies)?,
            throttle: LoginThrottle::new(settings, caches)?,
        })
    }

    /// The failed-login throttle of [`Auth::authenticate`].
    pub(crate) fn throttle(&self) -> &LoginThrottle {
        &self.throttle
    }

    /// The configuration of the `auth` middleware when `middleware` lists
    /// it, else `None`.
    pub(crate) fn if_listed(
        settings: &Settings,
        caches: &Caches,
    ) -> Result<Option<Arc<AuthConfig>>> {
        match settings.middleware.iter().any(|name| name == "auth") {
            true => Ok(Some(Arc::new(AuthConfig::new(settings, caches)?))),
            false => Ok(None),
        }
    }

    /// The session auth hash of `user`, with the current key.
    fn hash_of(&self, user: &User) -> String {
        self.signer.sign(user.password.as_bytes())
    }
}

/// `nuages.E045`: `"session"` must come before `"auth"` in `middleware`.
pub(crate) fn check_middleware_order(settings: &Settings) -> Result<()> {
    let position = |name: &str| settings.middleware.iter().position(|m| m == name);
    match (position("session"), position("auth")) {
        (Some(session), Some(auth)) if session < auth => Ok(()),
        _ => Err(needs_session()),
    }
}

/// What `Application::new` fails with, and `check` reports (`nuages.E045`).
fn needs_session() -> Error {
    Error::Config(
        Problem::new(
            "the \"auth\" middleware keeps the logged-in user in the session, and \"session\" \
             is not in the middleware setting before it",
        )
        .with_hint("list \"session\" before \"auth\" in the middleware setting"),
    )
}

/// The logged-in user of a request, and logging in and out: what the
/// `auth` middleware gives each request. As an extractor it needs that
/// middleware; without it the view answers 500 with an error saying so.
#[derive(Clone, Debug)]
pub struct Auth {
    session: Session,
    config: Arc<AuthConfig>,
    app: Arc<AppState>,
    /// `None` until loaded; then the user, or `None` for anonymous.
    loaded: Arc<Mutex<Option<Option<User>>>>,
    /// The client's address, when known (see [`crate::client_address`]).
    client: Option<IpAddr>,
    /// The request's CSRF secret, which a login replaces (with the `csrf`
    /// middleware).
    csrf: Option<CsrfState>,
}

impl Auth {
    fn cached(&self) -> Option<Option<User>> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn remember(&self, user: Option<User>) {
        *self
            .loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(user);
    }

    /// The password hashers of the project.
    pub(crate) fn hashers(&self) -> &super::PasswordHashers {
        &self.config.hashers
    }

    pub(crate) async fn pool(&self) -> Result<AnyPool> {
        self.app.databases.get(crate::db::DEFAULT_ALIAS).await
    }

    /// The logged-in user, or `None` for an anonymous visitor. Loaded on
    /// the first call (no query at all when the session names no user),
    /// then kept for the request. A session whose user is gone, inactive,
    /// or whose password changed since the login is flushed: anonymous.
    pub async fn user(&self) -> Result<Option<User>> {
        self.session.mark_accessed();
        self.user_quietly().await
    }

    /// [`Self::user`] without marking the session accessed: templates mark
    /// it only when they show `user` or `perms`.
    async fn user_quietly(&self) -> Result<Option<User>> {
        if let Some(known) = self.cached() {
            return Ok(known);
        }
        let user = match self.session_user_id() {
            // Boxed: the query's future is large, and an anonymous visitor,
            // who needs none, would carry its size in every request's future.
            Some(id) => Box::pin(self.load(id)).await?,
            None => None,
        };
        self.remember(user.clone());
        Ok(user)
    }

    /// The id of the user the session is logged in as, if any.
    fn session_user_id(&self) -> Option<i64> {
        logged_in_id(&self.session)
    }

    /// The user `id` of the session, if it still exists, is active and
    /// has the password the session was logged in with; else the session
    /// is flushed.
    async fn load(&self, id: i64) -> Result<Option<User>> {
        let found = User::get(&self.pool().await?, id).await?;
        let stored_hash = self
            .session
            .peek_value(HASH_SESSION_KEY)
            .and_then(|value| value.as_str().map(str::to_string));
        let verified = found.as_ref().and_then(|user| {
            let hash = stored_hash.as_deref()?;
            self.config
                .signer
                .verify(user.password.as_bytes(), hash)
                .map(|key| (user, key))
        });
        match verified {
            Some((user, key)) if user.is_active => {
                if key > 0 {
                    // Signed with a fallback key: sign again with the current one.
                    self.session
                        .insert(HASH_SESSION_KEY, self.config.hash_of(user))?;
                }
                Ok(Some(user.clone()))
            }
            _ => {
                self.session.flush();
                Ok(None)
            }
        }
    }

    /// The application serving this request.
    pub(crate) fn app(&self) -> &Arc<AppState> {
        &self.app
    }

    /// The active user called `username` whose password is `password`, or
    /// `None`: [`authenticate`](super::authenticate) with the project's
    /// `password_hashers`, through the failed-login
    /// [`throttle`](super::throttle): after too many failures for this
    /// username or from this client, `Err(Error::TooManyRequests)` (429)
    /// without the password being checked; before that, a failure may wait
    /// first.
    pub async fn authenticate(&self, username: &str, password: &str) -> Result<Option<User>> {
        let throttle = &self.config.throttle;
        match throttle.admit(username, self.client).await {
            Admission::Refused => return Err(Error::TooManyRequests(THROTTLED_LOGIN.into())),
            Admission::After(wait) if !wait.is_zero() => tokio::time::sleep(wait).await,
            Admission::After(_) => {}
        }
        let found = super::authenticate(
            &self.pool().await?,
            &self.config.hashers,
            username,
            password,
        )
        .await?;
        if found.is_some() {
            throttle.succeeded(username, self.client).await;
        }
        Ok(found)
    }

    /// The address of the client, as `trusted_proxies` lets it be known:
    /// `None` over a unix socket from an untrusted peer.
    pub fn client_address(&self) -> Option<IpAddr> {
        self.client
    }

    /// Log `user` in (Django's `login`): the session gets a new key
    /// (against session fixation), keeping what an anonymous visitor put
    /// in it (a cart), and is emptied first if it belonged to someone else;
    /// it keeps the user's id and session auth hash; the CSRF secret is
    /// replaced (the response sets the new cookie); the user's `last_login`
    /// is now.
    pub async fn login(&self, user: &mut User) -> Result<()> {
        // The id as the middleware reads it (a string or a number), as
        // Django compares ids whatever their type; any other value under
        // the key is someone else's too.
        let someone_else = self.session.contains_key(AUTH_USER_KEY)
            && (logged_in_id(&self.session) != Some(user.id)
                || !self
                    .session
                    .get::<String>(HASH_SESSION_KEY)
                    .is_some_and(|hash| {
                        self.config
                            .signer
                            .verify(user.password.as_bytes(), &hash)
                            .is_some()
                    }));
        match someone_else {
            true => self.session.flush(),
            false => self.session.cycle_key(),
        }
        self.session.insert(AUTH_USER_KEY, user.id.to_string())?;
        self.session
            .insert(HASH_SESSION_KEY, self.config.hash_of(user))?;
        if let Some(csrf) = &self.csrf {
            csrf.rotate().map_err(Error::other)?;
        }
        user.update_last_login(&self.pool().await?).await?;
        self.remember(Some(user.clone()));
        Ok(())
    }

    /// Log out (Django's `logout`): the session ends, on the server too
    /// with a server-side `session_engine`.
    pub fn logout(&self) {
        self.session.flush();
        self.remember(None);
    }

    /// Keep this session logged in after `user`'s password changed (Django's
    /// `update_session_auth_hash`); the user's other sessions are logged out.
    /// Nothing changes when this session is not logged in as `user` (as
    /// Django checks `request.user == user`): a staff member who changed
    /// someone else's password stays logged in as themselves.
    pub fn update_session_auth_hash(&self, user: &User) -> Result<()> {
        if logged_in_id(&self.session) != Some(user.id) {
            return Ok(());
        }
        self.session.cycle_key();
        self.session
            .insert(HASH_SESSION_KEY, self.config.hash_of(user))?;
        self.remember(Some(user.clone()));
        Ok(())
    }

    /// The `user` and `perms` values templates get: the user's fields and
    /// `is_authenticated`; `perms.<app>.<codename>`, true or false, for each
    /// permission the installed apps declare (and true for any other the
    /// user has), so that a template may test one for an anonymous visitor.
    pub(crate) async fn template_values(&self) -> Result<Arc<(tera::Value, tera::Value)>> {
        let Some(user) = self.user_quietly().await? else {
            return Ok(self.app.anonymous.clone());
        };
        // Boxed: its queries are a large future, which an anonymous
        // visitor's request would otherwise carry.
        let (user, perms) = Box::pin(self.json_template_values(user)).await?;
        Ok(Arc::new((
            tera::Value::from_serializable(&user),
            tera::Value::from_serializable(&perms),
        )))
    }

    /// [`Self::template_values`] of the logged-in `user` as JSON.
    async fn json_template_values(&self, user: User) -> Result<(Value, Value)> {
        let mut perms = no_perms(&self.app.apps);
        for permission in user.get_all_permissions(&self.pool().await?).await? {
            grant(&mut perms, &permission, true);
        }
        let values = serde_json::json!({
            "is_authenticated": true, "is_anonymous": false, "id": user.id,
            "username": user.username, "email": user.email,
            "first_name": user.first_name, "last_name": user.last_name,
            "is_staff": user.is_staff, "is_superuser": user.is_superuser,
            "is_active": user.is_active, "last_login": user.last_login,
        });
        Ok((values, Value::Object(perms)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Auth::of_request(parts)?.ok_or_else(|| {
            Error::Config(
                Problem::new("logins and the current user need the \"auth\" middleware")
                    .with_hint("add \"auth\" after \"session\" to the middleware setting"),
            )
        })
    }
}

impl Auth {
    /// The request's `Auth` when the `auth` middleware is on, made on first
    /// use and then kept in the request, so that every extractor of the
    /// request shares its loaded user (as Django's lazy `request.user`: a
    /// request that never asks costs nothing).
    pub(crate) fn of_request(parts: &mut Parts) -> Result<Option<Auth>> {
        if let Some(auth) = parts.extensions.get::<Auth>() {
            // Made before the `csrf` middleware's step (by a project's
            // middleware listed between "auth" and "csrf"): take the CSRF
            // state that step has since given the request, which a login
            // must rotate.
            if auth.csrf.is_none()
                && let Some(csrf) = parts.extensions.get::<CsrfState>()
            {
                let auth = Auth {
                    csrf: Some(csrf.clone()),
                    ..auth.clone()
                };
                parts.extensions.insert(auth.clone());
                return Ok(Some(auth));
            }
            return Ok(Some(auth.clone()));
        }
        let Some(app) = AppState::of(&parts.extensions) else {
            return Ok(None);
        };
        let Some(config) = &app.auth else {
            return Ok(None);
        };
        // "session" comes before "auth" (checked at start): a request
        // without its session was asked about before the session's step,
        // by a project's middleware listed before it.
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            return Err(asked_before_the_session());
        };
        let auth = Auth {
            session,
            config: config.clone(),
            app: app.clone(),
            loaded: Arc::default(),
            client: config.trusted_proxies.client_of(parts),
            csrf: parts.extensions.get::<CsrfState>().cloned(),
        };
        parts.extensions.insert(auth.clone());
        Ok(Some(auth))
    }
}

/// Extractor: the user of the request, `None` for an anonymous visitor.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl CurrentUser {
    /// Whether someone is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.0.is_some()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let auth = Auth::from_request_parts(parts, state).await?;
        Ok(CurrentUser(auth.user().await?))
    }
}

/// Why a required login or permission refused the request.
#[derive(Debug)]
pub enum LoginRejection {
    /// Anonymous: a redirect to `login_url?next=<this path>`.
    Login(String),
    /// Logged in without the right: 403.
    Forbidden,
    /// The auth machinery failed (no middleware, a database error).
    Failed(Error),
}

impl IntoResponse for LoginRejection {
    fn into_response(self) -> Response {
        match self {
            LoginRejection::Login(location) => crate::views::redirect(&location),
            LoginRejection::Forbidden => {
                Error::Forbidden("you do not have permission to see this page".into())
                    .into_response()
            }
            LoginRejection::Failed(error) => error.into_response(),
        }
    }
}

/// The redirect to `login_url` with `next` set to this request's path and query.
fn to_login(parts: &Parts) -> LoginRejection {
    let app = match AppState::from_parts(parts) {
        Ok(app) => app,
        Err(error) => return LoginRejection::Failed(error),
    };
    let login_url = match login_url(app) {
        Ok(url) => url,
        Err(error) => return LoginRejection::Failed(error),
    };
    let here = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let next: String = percent_encoding::utf8_percent_encode(here, NEXT_ESCAPED).collect();
    let separator = if login_url.contains('?') { '&' } else { '?' };
    LoginRejection::Login(format!("{login_url}{separator}next={next}"))
}

/// What `next=` escapes: all but unreserved characters and `/` (as Django's
/// `redirect_to_login`, which keeps `/` readable).
const NEXT_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `login_url` as a path: itself when it holds a `/`, else the route it names.
pub(crate) fn login_url(app: &AppState) -> Result<String> {
    setting_url(app, &app.settings.login_url)
}

/// The id of the user `session` is logged in as, if any.
pub(crate) fn logged_in_id(session: &Session) -> Option<i64> {
    session.peek_value(AUTH_USER_KEY).and_then(|v| match v {
        Value::String(text) => text.parse::<i64>().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    })
}

/// `perms.<app>.<codename>` false for each permission the installed apps
/// declare, so that a template may test one for a visitor who has none.
fn no_perms(apps: &[crate::project::App]) -> serde_json::Map<String, Value> {
    let mut perms = serde_json::Map::new();
    for app in apps {
        for (codename, _) in app.permissions() {
            grant(&mut perms, &format!("{}.{codename}", app.label()), false);
        }
    }
    perms
}

/// Set `perms.<app>.<codename>` of `permission` (`app.codename`).
fn grant(perms: &mut serde_json::Map<String, Value>, permission: &str, granted: bool) {
    if let Some((app, codename)) = permission.split_once('.')
        && let Value::Object(codenames) = perms
            .entry(app.to_string())
            .or_insert_with(|| Value::Object(Default::default()))
    {
        codenames.insert(codename.to_string(), Value::Bool(granted));
    }
}

/// The `user` and `perms` of a visitor who is not logged in, the same on
/// every request, converted for templates once per application: what a
/// template gets without the `auth` middleware too, as Django's auth
/// context processor gives `AnonymousUser` to a request without a user.
pub(crate) fn anonymous_template_values(
    apps: &[crate::project::App],
) -> Arc<(tera::Value, tera::Value)> {
    Arc::new((
        tera::Value::from_serializable(&anonymous_user()),
        tera::Value::from_serializable(&Value::Object(no_perms(apps))),
    ))
}

/// `user` in a template, for a visitor who is not logged in.
pub(crate) fn anonymous_user() -> Value {
    serde_json::json!({
        "is_authenticated": false, "is_anonymous": true, "username": "",
        "is_staff": false, "is_superuser": false, "is_active": false,
    })
}

/// What templates get of the `auth` middleware: the values of `user` and
/// `perms`, and the session a page that shows them depends on; `None`
/// without the middleware (templates then get
/// [`anonymous_template_values`]). An anonymous visitor's values are the
/// same on every request: they need no [`Auth`] made for the request.
pub(crate) async fn template_values(
    parts: &mut Parts,
) -> Result<Option<(Arc<(tera::Value, tera::Value)>, Session)>> {
    if parts.extensions.get::<Auth>().is_none() {
        let Some(app) = AppState::of(&parts.extensions).filter(|app| app.auth.is_some()) else {
            return Ok(None);
        };
        // Before the session's step (a project's middleware listed before
        // "session"): no user, as without the auth middleware.
        let Some(session) = parts.extensions.get::<Session>() else {
            return Ok(None);
        };
        if logged_in_id(session).is_none() {
            return Ok(Some((app.anonymous.clone(), session.clone())));
        }
    }
    let Some(auth) = Auth::of_request(parts)? else {
        return Ok(None);
    };
    Ok(Some((auth.template_values().await?, auth.session)))
}

/// A URL setting (`login_url`, `login_redirect_url`…) as a path: itself
/// when it holds a `/`, else the route it names.
pub(crate) fn setting_url(app: &AppState, url: &str) -> Result<String> {
    if url.contains('/') {
        return Ok(url.to_string());
    }
    Ok(app.urls.reverse(url, &[])?)
}

async fn logged_in_user(parts: &mut Parts) -> Result<User, LoginRejection> {
    let auth = Auth::from_request_parts(parts, &())
        .await
        .map_err(LoginRejection::Failed)?;
    match auth.user().await.map_err(LoginRejection::Failed)? {
        Some(user) => Ok(user),
        None => Err(to_login(parts)),
    }
}

/// Extractor: the logged-in user; an anonymous visitor is redirected to
/// `login_url?next=<this path>` (Django's `login_required`).
#[derive(Debug, Clone)]
pub struct LoginRequired(pub User);

impl<S: Send + Sync> FromRequestParts<S> for LoginRequired {
    type Rejection = LoginRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, LoginRejection> {
        logged_in_user(parts).await.map(LoginRequired)
    }
}

/// Extractor: a logged-in, active staff member (`is_staff`); anonymous
/// visitors go to the login page, other users get 403.
#[derive(Debug, Clone)]
pub struct StaffRequired(pub User);

impl<S: Send + Sync> FromRequestParts<S> for StaffRequired {
    type Rejection = LoginRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, LoginRejection> {
        let user = logged_in_user(parts).await?;
        match user.is_staff {
            true => Ok(StaffRequired(user)),
            false => Err(LoginRejection::Forbidden),
        }
    }
}

/// A permission a view requires, named `"<app_label>.<codename>"`, for
/// [`PermissionRequired`].
pub trait RequiredPermission {
    /// The permission, as `has_perm` takes it (`"polls.vote"`).
    const PERMISSION: &'static str;
}

/// Extractor: a logged-in user who has the permission `P` names; anonymous
/// visitors go to the login page, other users get 403 (Django's
/// `permission_required`).
pub struct PermissionRequired<P>(pub User, pub PhantomData<P>);

impl<P> std::fmt::Debug for PermissionRequired<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PermissionRequired").field(&self.0).finish()
    }
}

impl<S: Send + Sync, P: RequiredPermission + Send> FromRequestParts<S> for PermissionRequired<P> {
    type Rejection = LoginRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, LoginRejection> {
        let user = logged_in_user(parts).await?;
        let pool = AppState::from_parts(parts)
            .map_err(LoginRejection::Failed)?
            .databases
            .get(crate::db::DEFAULT_ALIAS)
            .await
            .map_err(LoginRejection::Failed)?;
        match user.has_perm(&pool, P::PERMISSION).await {
            Ok(true) => Ok(PermissionRequired(user, PhantomData)),
            Ok(false) => Err(LoginRejection::Forbidden),
            Err(error) => Err(LoginRejection::Failed(error)),
        }
    }
}
