//! The login and logout views, as Django's `LoginView` and `LogoutView`,
//! mounted by the project with `.include("accounts/", nuages::auth::urls())`.
//!
//! Their templates, `registration/login.html` and
//! `registration/logged_out.html`, are built into the framework; a file of
//! the same name in the project's `template_dirs` replaces one.

use std::collections::BTreeMap;

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::login::{Auth, setting_url};
use super::{password_change, password_reset};
use crate::error::{Error, Result};
use crate::forms::{Form, FormData, Password};
use crate::templates::Templates;
use crate::urls::{UrlConf, get, post};

/// The templates the views render, by name, unless the project has its own.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "registration/login.html",
        include_str!("templates/registration/login.html"),
    ),
    (
        "registration/logged_out.html",
        include_str!("templates/registration/logged_out.html"),
    ),
    (
        super::password_change::FORM_TEMPLATE,
        include_str!("templates/registration/password_change_form.html"),
    ),
    (
        super::password_change::DONE_TEMPLATE,
        include_str!("templates/registration/password_change_done.html"),
    ),
];

/// What a failed login says: never whether the username exists (Django's
/// `invalid_login`).
pub const INVALID_LOGIN: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// The routes `login/` (name `login`) and `logout/` (name `logout`), for
/// the project to include, as Django's `django.contrib.auth.urls`;
/// `password_change/` with `password_change/done/` (see
/// [`super::password_change`]); and the password reset's
/// `password_reset/`, `password_reset/done/`, `reset/<uidb64>/<token>/` and
/// `reset/done/` (see [`super::password_reset`]):
///
/// ```
/// use nuages::urls::UrlConf;
///
/// let urls = UrlConf::new().include("accounts/", nuages::auth::urls());
/// let resolver = urls.resolver().unwrap();
/// assert_eq!(resolver.reverse("login", &[]).unwrap(), "/accounts/login/");
/// assert_eq!(resolver.reverse("logout", &[]).unwrap(), "/accounts/logout/");
/// assert_eq!(resolver.reverse("password_reset", &[]).unwrap(), "/accounts/password_reset/");
/// assert_eq!(resolver.reverse("password_change", &[]).unwrap(), "/accounts/password_change/");
/// ```
pub fn urls() -> UrlConf {
    UrlConf::new()
        .path("login/", get(login_form).post(login_submit), "login")
        .path("logout/", post(logout), "logout")
        .path(
            "password_reset/",
            get(password_reset::reset_form).post(password_reset::reset_submit),
            "password_reset",
        )
        .path(
            "password_reset/done/",
            get(password_reset::reset_done),
            "password_reset_done",
        )
        .path(
            "reset/<uidb64>/<token>/",
            get(password_reset::reset_confirm).post(password_reset::reset_confirm),
            "password_reset_confirm",
        )
        .path(
            "reset/done/",
            get(password_reset::reset_complete),
            "password_reset_complete",
        )
        .path(
            "password_change/",
            get(password_change::form).post(password_change::submit),
            "password_change",
        )
        .path(
            "password_change/done/",
            get(password_change::done),
            "password_change_done",
        )
}

/// Mark `response` as never to be cached, by the browser or any cache on
/// the way (Django's `never_cache`, on its login, logout and password reset
/// views): a page with a CSRF token or of a session that just ended.
pub(crate) fn never_cache(mut response: Response) -> Response {
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("max-age=0, no-cache, no-store, must-revalidate, private"),
    );
    response
}

/// GET: the login form, `next` from the query string kept in a hidden field.
async fn login_form(templates: Templates, query: FormData) -> Result<Response> {
    let login = Login {
        username: "",
        next: query.get("next").unwrap_or(""),
        error: None,
        errors: BTreeMap::new(),
    };
    render_login(&templates, &login).map(never_cache)
}

/// The login form's fields, as Django's `AuthenticationForm`: both
/// required, the username without the spaces around it (its
/// `UsernameField` strips them) and of at most 150 characters, the
/// password as typed.
#[derive(Form)]
struct LoginFields {
    // `USERNAME_MAX_LENGTH`: a longer name is refused before it is
    // normalized or looked up.
    #[form(max_length = 150)]
    username: String,
    password: Password,
}

/// POST: log in with `username` (without the spaces around it) and
/// `password`, then go to a same-site
/// `next` (see [`redirect_field`]) or `login_redirect_url`; a field left
/// empty gets "This field is required." next to it and no login is tried;
/// a username over 150 characters says so (it is not even normalized);
/// a wrong pair gets the form again, saying only that the pair is wrong;
/// refused by the failed-login
/// [`throttle`](super::throttle), the form with its message and status 429.
async fn login_submit(
    auth: Auth,
    templates: Templates,
    RawQuery(query): RawQuery,
    form: FormData,
) -> Result<Response> {
    login_attempt(auth, templates, query, form)
        .await
        .map(never_cache)
}

async fn login_attempt(
    auth: Auth,
    templates: Templates,
    query: Option<String>,
    form: FormData,
) -> Result<Response> {
    let next = redirect_field(&form, query.as_deref());
    let next = next.as_str();
    let fields = match LoginFields::binder().bind(&form).await? {
        Ok(fields) => fields,
        Err(bound) => {
            // As Django's UsernameField (CVE-2023-46695): a name over the
            // limit is not normalized (NFKC makes up to 18 characters of
            // one); nor is it sent back.
            let typed = form.get("username").unwrap_or("").trim();
            let shown = match typed.chars().count() > super::models::USERNAME_MAX_LENGTH {
                true => String::new(),
                false => super::models::normalize_username(typed),
            };
            let login = Login {
                username: &shown,
                next,
                error: None,
                errors: bound.errors(),
            };
            return render_login(&templates, &login);
        }
    };
    // As Django's UsernameField: NFKC, as usernames are stored.
    let username = super::models::normalize_username(&fields.username);
    let found = match auth.authenticate(&username, fields.password.as_str()).await {
        Err(Error::TooManyRequests(message)) => {
            let mut page = render_login(&templates, &Login::failed(&username, next, &message))?;
            *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return Ok(page);
        }
        other => other?,
    };
    let Some(mut user) = found else {
        return render_login(&templates, &Login::failed(&username, next, INVALID_LOGIN));
    };
    auth.login(&mut user).await?;
    let app = auth.app();
    let to = match is_same_site(next) {
        true => next.to_string(),
        false => setting_url(app, &app.settings.login_redirect_url)?,
    };
    Ok(crate::views::redirect(&to))
}

/// What the login page shows again: the username typed, the `next` to
/// keep, the error of the whole form (`error`) and those of each field
/// (`errors.username`, `errors.password`).
struct Login<'a> {
    username: &'a str,
    next: &'a str,
    error: Option<&'a str>,
    errors: BTreeMap<&'a str, &'a [String]>,
}

impl<'a> Login<'a> {
    /// The page of a login refused as a whole (a wrong pair, the throttle).
    fn failed(username: &'a str, next: &'a str, error: &'a str) -> Login<'a> {
        Login {
            username,
            next,
            error: Some(error),
            errors: BTreeMap::new(),
        }
    }
}

fn render_login(templates: &Templates, login: &Login<'_>) -> Result<Response> {
    let next = if is_same_site(login.next) {
        login.next
    } else {
        ""
    };
    let context = crate::context! {
        "username" => login.username,
        "next" => next,
        "error" => &login.error,
        "errors" => &login.errors,
    };
    Ok(templates
        .render("registration/login.html", context)?
        .into_response())
}

/// POST only (a GET answers 405, so a link or an image cannot log anyone
/// out), CSRF-checked by the `csrf` middleware: the session ends, then a
/// same-site `next`, `logout_redirect_url`, or with that setting empty the
/// page `registration/logged_out.html`.
async fn logout(
    auth: Auth,
    templates: Templates,
    RawQuery(query): RawQuery,
    form: FormData,
) -> Result<Response> {
    log_out(auth, templates, query, form).await.map(never_cache)
}

async fn log_out(
    auth: Auth,
    templates: Templates,
    query: Option<String>,
    form: FormData,
) -> Result<Response> {
    auth.logout();
    let app = auth.app();
    let next = redirect_field(&form, query.as_deref());
    if is_same_site(&next) {
        return Ok(crate::views::redirect(&next));
    }
    let setting = &app.settings.logout_redirect_url;
    if setting.is_empty() {
        let login_url = super::login::login_url(app)?;
        let context = crate::context! { "login_url" => &login_url };
        return Ok(templates
            .render("registration/logged_out.html", context)?
            .into_response());
    }
    Ok(crate::views::redirect(&setting_url(app, setting)?))
}

/// The `next` a login or logout POST asks for: the form's field, else the
/// URL's query string (`<form action="/accounts/login/?next=/polls/">`),
/// as Django's `POST.get("next", GET.get("next", ""))`. The last value of
/// either wins, as Django's `QueryDict`. Not yet checked: see
/// [`is_same_site`].
fn redirect_field(form: &FormData, query: Option<&str>) -> String {
    if let Some(next) = form.get("next") {
        return next.to_string();
    }
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(name, _)| name == "next")
        .last()
        .map(|(_, next)| next.into_owned())
        .unwrap_or_default()
}

/// Whether `next` is a path on this site: it starts with one `/`, and holds
/// no `\` (browsers read `/\evil.com` as `//evil.com`) and no control
/// character or space (stripped or refused by browsers and parsers alike).
/// A scheme (`https:`, `javascript:`) or a `//host` never passes, which is
/// stricter than Django (which also takes an absolute URL to an allowed
/// host) and what a login form needs.
pub(crate) fn is_same_site(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::{LoginFields, is_same_site};
    use crate::forms::Form;

    #[test]
    fn the_login_username_is_as_long_as_a_username_may_be() {
        assert_eq!(
            LoginFields::fields()[0].max_length,
            Some(crate::auth::models::USERNAME_MAX_LENGTH)
        );
    }

    #[test]
    fn only_paths_of_this_site_are_followed() {
        for good in ["/", "/polls/", "/polls/?page=2&x=%2F%2Fevil.com", "/a//b"] {
            assert!(is_same_site(good), "{good}");
        }
        for bad in [
            "",
            "//evil.com",
            "https://evil.com",
            "http:/evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "javascript:alert(1)",
            "polls/",
            "/\t/evil.com",
            " //evil.com",
            "/\n/evil.com",
        ] {
            assert!(!is_same_site(bad), "{bad:?}");
        }
    }
}
