//! The password change views, as Django's `PasswordChangeView` and
//! `PasswordChangeDoneView`: `password_change/` (name `password_change`)
//! and `password_change/done/` (name `password_change_done`), both for a
//! logged-in user only, in [`urls`](super::urls).
//!
//! The form has Django's fields, `old_password`, `new_password1` and
//! `new_password2`, and its messages: a wrong old password, two new ones
//! that differ, and what each of `auth_password_validators` says of the new
//! one, next to `new_password2` as Django shows them. Once changed, this
//! session stays logged in (with a new key) and every other session of the
//! user is logged out (see [`Auth::update_session_auth_hash`]). The old
//! password is checked as it is, not through the failed-login throttle:
//! only a logged-in user reaches the form.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};

use super::login::{Auth, LoginRequired, setting_url};
use super::{PasswordValidators, Verification};
use crate::error::Result;
use crate::forms::{FormData, REQUIRED, null_characters_error};
use crate::templates::Templates;

/// What is wrong with what was typed into a password field, before it is
/// compared or checked: empty, or holding a NUL (Django's
/// `CharField(strip=False)`, whose `ProhibitNullCharactersValidator` the
/// login form applies too, so such a password could never be typed in).
pub(crate) fn password_field_error(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some(REQUIRED)
    } else {
        null_characters_error(value)
    }
}

/// What a wrong old password says (Django's `password_incorrect`).
pub const PASSWORD_INCORRECT: &str =
    "Your old password was entered incorrectly. Please enter it again.";

/// What two different new passwords say (Django's `password_mismatch`).
pub const PASSWORD_MISMATCH: &str = "The two password fields didn’t match.";

/// The form's template.
pub(crate) const FORM_TEMPLATE: &str = "registration/password_change_form.html";

/// The template shown once the password changed.
pub(crate) const DONE_TEMPLATE: &str = "registration/password_change_done.html";

/// GET: the empty form.
pub(crate) async fn form(_: LoginRequired, templates: Templates) -> Result<Response> {
    render_form(&templates, &BTreeMap::new())
}

/// POST: change the password and go to `password_change_done`, or the
/// form again with the errors next to their fields.
pub(crate) async fn submit(
    LoginRequired(mut user): LoginRequired,
    auth: Auth,
    templates: Templates,
    form: FormData,
) -> Result<Response> {
    let field = |name: &str| form.get(name).unwrap_or("");
    let (old, new1, new2) = (
        field("old_password"),
        field("new_password1"),
        field("new_password2"),
    );
    let mut errors: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, value) in [
        ("old_password", old),
        ("new_password1", new1),
        ("new_password2", new2),
    ] {
        if let Some(error) = password_field_error(value) {
            errors.entry(name).or_default().push(error.into());
        }
    }
    if !errors.contains_key("old_password")
        && !old_password_matches(&auth, &user.password, old).await?
    {
        errors
            .entry("old_password")
            .or_default()
            .push(PASSWORD_INCORRECT.into());
    }
    if !errors.contains_key("new_password1") && !errors.contains_key("new_password2") {
        if new1 != new2 {
            errors
                .entry("new_password2")
                .or_default()
                .push(PASSWORD_MISMATCH.into());
        } else if let Err(messages) = PasswordValidators::from_settings(&auth.app().settings)?
            .validate(new2, Some(&user.attributes()))
        {
            errors.entry("new_password2").or_default().extend(messages);
        }
    }
    if !errors.is_empty() {
        return render_form(&templates, &errors);
    }
    user.set_password(&auth.pool().await?, auth.hashers(), new1)
        .await?;
    auth.update_session_auth_hash(&user)?;
    Ok(crate::views::redirect(&setting_url(
        auth.app(),
        "password_change_done",
    )?))
}

/// Whether `password` is the one `encoded` holds; hashed off the runtime.
async fn old_password_matches(auth: &Auth, encoded: &str, password: &str) -> Result<bool> {
    let verification = auth
        .hashers()
        .check_password_off_the_runtime(password, Some(encoded))
        .await?;
    Ok(verification != Verification::Mismatch)
}

fn render_form(templates: &Templates, errors: &BTreeMap<&str, Vec<String>>) -> Result<Response> {
    let context = crate::context! { "errors" => errors };
    Ok(templates.render(FORM_TEMPLATE, context)?.into_response())
}

/// GET: the password was changed.
pub(crate) async fn done(_: LoginRequired, templates: Templates) -> Result<Response> {
    Ok(templates
        .render(DONE_TEMPLATE, crate::context! {})?
        .into_response())
}
