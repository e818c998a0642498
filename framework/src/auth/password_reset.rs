//! Password reset by email, as Django's `PasswordResetView` and its three
//! companions, with the token of [`PasswordResetTokenGenerator`].
//!
//! The routes, in [`urls()`](super::urls):
//!
//! - `password_reset/` (`password_reset`): a form with `email`. Every
//!   active user with a usable password and that address (compared without
//!   regard to case) is mailed a link through the project's email backend;
//!   the visitor is sent to `password_reset/done/` whether or not anyone
//!   was, so that the form never tells which addresses have an account.
//!   Who has the address is looked up, and the mail sent, after the
//!   response, so the time taken does not tell either; a mail server that
//!   fails is logged. A request for an address asked for in the last
//!   `password_reset_cooldown` seconds is merged into that one (see
//!   `ResetCooldown`).
//! - `password_reset/done/` (`password_reset_done`): "check your inbox".
//! - `reset/<uidb64>/<token>/` (`password_reset_confirm`): a valid token is
//!   moved into the session and the browser sent to
//!   `reset/<uidb64>/set-password/`, so the token never appears in a
//!   `Referer` header sent from the page; there the form with
//!   `new_password1` and `new_password2`, checked by the password
//!   validators. An invalid, used or expired link, or one of a user made
//!   inactive since, shows a page that says so (200, as Django). Once the password is set, the user's sessions on
//!   the server end (`session_engine = "db"`; with the other engines the
//!   session auth hash logs them out on their next request).
//! - `reset/done/` (`password_reset_complete`): "you may log in".
//!
//! The link's host is the request's, as validated against `allowed_hosts`
//! (never an unchecked `Host` header: a forged one would mail the victim a
//! link to the attacker's site), and its scheme is `https` when the request
//! came over TLS or through a proxy that `secure_proxy_ssl_header` trusts.
//!
//! The templates `registration/password_reset_form.html`,
//! `password_reset_done.html`, `password_reset_confirm.html`,
//! `password_reset_complete.html`, `password_reset_email.html` (the mail's
//! plain-text body) and `password_reset_subject.txt` are built in; a file of
//! the same name in the project's `template_dirs` replaces one.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::request::Parts;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::models::{User, validate_email};
use super::password_change::password_field_error;
use super::{PasswordHashers, PasswordValidators};
use crate::cache::{Cache, Caches};
use crate::conf::{SessionEngine, Settings};
use crate::error::{Error, Problem, Result};
use crate::forms::FormData;
use crate::middleware::hosts::RequestHost;
use crate::middleware::session::Session;
use crate::middleware::signing::Signer;
use crate::sessions::SessionStore;
use crate::state::{AppState, Serving};
use crate::templates::Templates;

/// The templates of these views, by name, unless the project has its own.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    (
        "registration/password_reset_form.html",
        include_str!("templates/registration/password_reset_form.html"),
    ),
    (
        "registration/password_reset_done.html",
        include_str!("templates/registration/password_reset_done.html"),
    ),
    (
        "registration/password_reset_confirm.html",
        include_str!("templates/registration/password_reset_confirm.html"),
    ),
    (
        "registration/password_reset_complete.html",
        include_str!("templates/registration/password_reset_complete.html"),
    ),
    (
        "registration/password_reset_email.html",
        include_str!("templates/registration/password_reset_email.html"),
    ),
    (
        "registration/password_reset_subject.txt",
        include_str!("templates/registration/password_reset_subject.txt"),
    ),
];

/// The session value holding a valid token between the mailed link and the
/// form (Django's `_password_reset_token`).
pub const RESET_SESSION_KEY: &str = "_password_reset_token";

/// What stands for the token in the form's URL once the token is in the
/// session (Django's `reset_url_token`).
pub const SET_PASSWORD_TOKEN: &str = "set-password";

/// The HKDF purpose of the tokens' key: a signature made for anything else
/// with the same `secret_key` is no token.
const PURPOSE: &str = "nuages.auth.password_reset";

/// The mismatch message of Django's `SetPasswordForm`.
pub const PASSWORD_MISMATCH: &str = "The two password fields didn’t match.";

/// Makes and checks password reset tokens, as Django's
/// `PasswordResetTokenGenerator`.
///
/// A token is `<timestamp>-<signature>`: the Unix time it was made, in
/// base 36, and an HMAC-SHA256 (base64url) under a key derived from
/// `secret_key` for this purpose alone, of the user's id, password hash,
/// `last_login`, email and that timestamp. So a token is good for one user;
/// it dies when the password changes (the reset itself: single use) or the
/// user logs in, and `password_reset_timeout` seconds after it was made.
/// Tokens made with a key of `secret_key_fallbacks` still verify.
///
/// ```
/// use nuages::auth::password_reset::PasswordResetTokenGenerator;
/// # fn demo(user: &nuages::auth::User) -> nuages::Result<()> {
/// let settings = nuages::conf::Settings {
///     secret_key: Some("a-long-random-secret".into()),
///     ..Default::default()
/// };
/// let tokens = PasswordResetTokenGenerator::from_settings(&settings)?;
/// let token = tokens.make_token(user);
/// assert!(tokens.check_token(user, &token));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PasswordResetTokenGenerator {
    signer: Signer,
    timeout: u64,
}

impl PasswordResetTokenGenerator {
    /// The generator of `settings`: `secret_key` (required),
    /// `secret_key_fallbacks` and `password_reset_timeout`.
    pub fn from_settings(settings: &Settings) -> Result<Self> {
        Ok(PasswordResetTokenGenerator {
            signer: Signer::new(settings, PURPOSE)?,
            timeout: settings.password_reset_timeout,
        })
    }

    /// A token for `user`, valid from now.
    pub fn make_token(&self, user: &User) -> String {
        self.make_token_at(user, unix_now())
    }

    /// Whether `token` was made for `user` as it is now, less than
    /// `password_reset_timeout` seconds ago. The signature is compared in
    /// constant time.
    pub fn check_token(&self, user: &User, token: &str) -> bool {
        self.check_token_at(user, token, unix_now())
    }

    fn make_token_at(&self, user: &User, timestamp: u64) -> String {
        let signature = self.signer.sign(&hash_value(user, timestamp));
        format!("{}-{signature}", to_base36(timestamp))
    }

    fn check_token_at(&self, user: &User, token: &str, now: u64) -> bool {
        let Some((stamp, signature)) = token.split_once('-') else {
            return false;
        };
        let Some(timestamp) = from_base36(stamp) else {
            return false;
        };
        if self
            .signer
            .verify(&hash_value(user, timestamp), signature)
            .is_none()
        {
            return false;
        }
        now.saturating_sub(timestamp) <= self.timeout
    }
}

/// What a token signs: the state of `user` that a reset or a login changes,
/// and the time. Each part is separated by a byte none of them holds, so no
/// two users' values run together.
fn hash_value(user: &User, timestamp: u64) -> Vec<u8> {
    format!(
        "{}\0{}\0{}\0{timestamp}\0{}",
        user.id,
        user.password,
        user.last_login.as_deref().unwrap_or(""),
        user.email
    )
    .into_bytes()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn to_base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("base-36 digits are ASCII")
}

/// A base-36 number of lowercase digits, at most 13 of them (as Django
/// bounds it, so a huge number is refused rather than overflowing).
fn from_base36(text: &str) -> Option<u64> {
    if text.is_empty()
        || text.len() > 13
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return None;
    }
    u64::from_str_radix(text, 36).ok()
}

/// The user's id as it goes in the link (Django's `urlsafe_base64_encode`
/// of the primary key).
pub fn uid_to_base64(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

fn uid_from_base64(uidb64: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(uidb64).ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

/// `nuages.E048`: a `password_reset_timeout` of 0 makes every link dead on
/// arrival. The application refuses to start with it.
pub(crate) fn check_timeout(settings: &Settings) -> Result<()> {
    if settings.password_reset_timeout > 0 {
        return Ok(());
    }
    Err(Error::Config(
        Problem::new(
            "password_reset_timeout is 0: every password reset link would expire before it is opened",
        )
        .with_hint(
            "remove password_reset_timeout for Django's 3 days (259200 seconds), or set it to the \
             seconds a link stays valid (3600 for an hour)",
        ),
    ))
}

/// Where the mailed link points: the request's scheme and validated host.
pub(crate) struct SiteOrigin {
    protocol: &'static str,
    domain: String,
}

impl<S: Send + Sync> FromRequestParts<S> for SiteOrigin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let host = RequestHost::from_request_parts(parts, state).await?;
        let app = AppState::from_parts(parts)?;
        let secure = crate::middleware::security::is_secure(parts, &app.settings);
        Ok(SiteOrigin {
            protocol: if secure { "https" } else { "http" },
            domain: host.host,
        })
    }
}

/// GET `password_reset/`: the form.
pub(crate) async fn reset_form(templates: Templates) -> Result<Response> {
    render_reset_form(&templates, "", None)
}

fn render_reset_form(templates: &Templates, email: &str, error: Option<&str>) -> Result<Response> {
    let context = crate::context! { "email" => email, "error" => &error };
    Ok(templates
        .render("registration/password_reset_form.html", context)?
        .into_response())
}

/// The addresses a password reset was asked for within
/// `password_reset_cooldown` seconds (300: 5 minutes), whose further
/// requests are merged into that one. Django sets no limit, so anyone could
/// flood a user's inbox by posting the address in a loop. A mail normally
/// arrives within a minute and its link lasts `password_reset_timeout`, so
/// a user who asks again sooner has a valid link on its way, and one whose
/// mail was lost asks again 5 minutes later; a client posting one address
/// in a loop makes at most 12 mails an hour.
///
/// Counted where the failed-login throttle counts
/// ([`counts_store`](super::throttle::counts_store): with Redis, every
/// `serve` process shares the counts), under a hash of the address in
/// lower case (the cache holds no addresses). Every address counts, with
/// an account or not, and a merged request is answered as any other, so
/// that being merged tells nothing about the address.
#[derive(Debug, Clone)]
pub(crate) struct ResetCooldown {
    cache: Cache,
    cooldown: Duration,
}

impl ResetCooldown {
    /// The cooldown of `settings`, over `caches`; build it once (with
    /// `locmem` each one built keeps a store of its own).
    pub(crate) fn new(settings: &Settings, caches: &Caches) -> Result<Self> {
        Ok(ResetCooldown {
            cache: super::throttle::counts_store(settings, caches)?,
            cooldown: Duration::from_secs(settings.password_reset_cooldown),
        })
    }

    /// Whether a reset for `address` is to be served: the first request for
    /// it within the cooldown is, the others are merged into it. A cache
    /// that fails (logged) lets every request through, as the throttle
    /// fails open: the mailer still merges a request for an address whose
    /// reset is under way in this process.
    pub(crate) async fn first(&self, address: &str) -> bool {
        if self.cooldown.is_zero() {
            return true;
        }
        let digest = Sha256::digest(address.to_lowercase().as_bytes());
        let key = format!(
            "nuages:password-reset:address:{}",
            crate::hex::encode(&digest)
        );
        // An increment is atomic (across processes too, with Redis) and
        // keeps the expiry its first count set: a loop cannot stretch it.
        match self.cache.incr_for(&key, 1, self.cooldown).await {
            Some(count) => count == 1,
            None => true,
        }
    }

    /// The cooldown, for the log.
    fn seconds(&self) -> u64 {
        self.cooldown.as_secs()
    }
}

/// POST `password_reset/`: mail every matching user a link, then
/// `password_reset_done` whoever matched.
pub(crate) async fn reset_submit(
    Serving(app): Serving,
    templates: Templates,
    origin: SiteOrigin,
    form: FormData,
) -> Result<Response> {
    let email = form.get("email").unwrap_or("").trim();
    let error = match email {
        "" => Some(crate::forms::REQUIRED.to_string()),
        // Its 254 characters at most too, as Django's PasswordResetForm.
        _ => validate_email(email).err(),
    };
    if let Some(error) = error {
        return render_reset_form(&templates, email, Some(&error));
    }
    let tokens = PasswordResetTokenGenerator::from_settings(&app.settings)?;
    if !app.reset_cooldown.first(email).await {
        tracing::info!(
            target: "nuages::mail",
            "a password reset asked again within {} s (password_reset_cooldown) of the last one \
             for that address: merged with it",
            app.reset_cooldown.seconds()
        );
        return redirect_to(&app, "password_reset_done", &[]);
    }
    // Who has that address, and their mails, after the response: its
    // timing is the same whether anyone matched.
    let lookup = reset_mails(app.clone(), tokens, origin, email.to_string());
    let databases = app.clone();
    app.mailer
        .reset_in_background(email, async move {
            // Its hint names the database's key, as the error page's does.
            lookup
                .await
                .map_err(|error| crate::db::named_problem(&error, &databases.databases))
        })
        .await;
    redirect_to(&app, "password_reset_done", &[])
}

/// The mail of every active user with a usable password and the address
/// `email`, with its link to `origin`. Rendered outside the request, as
/// Django renders them: with the values given, without what middleware
/// give a page.
async fn reset_mails(
    app: Arc<AppState>,
    tokens: PasswordResetTokenGenerator,
    origin: SiteOrigin,
    email: String,
) -> Result<Vec<crate::mail::EmailMessage>> {
    let templates = Templates::outside_request(app.templates.clone());
    let pool = app.databases.get(crate::db::DEFAULT_ALIAS).await?;
    let mut messages = Vec::new();
    for user in User::active_with_email(&pool, &email).await? {
        if !user.has_usable_password() {
            continue;
        }
        let context = crate::context! {
            "email" => &user.email,
            "domain" => &origin.domain,
            "site_name" => &origin.domain,
            "protocol" => origin.protocol,
            "uid" => &uid_to_base64(user.id),
            "token" => &tokens.make_token(&user),
            "user" => &json!({
                "id": user.id, "username": user.username, "email": user.email,
                "first_name": user.first_name, "last_name": user.last_name,
            }),
        };
        let subject =
            templates.render_text("registration/password_reset_subject.txt", context.clone())?;
        // One line, as a header must be (Django's `"".join(splitlines())`).
        let subject: String = subject.lines().collect();
        // Plain text, as Django's template is `{% autoescape off %}`.
        let body = templates.render_text("registration/password_reset_email.html", context)?;
        messages.push(crate::mail::EmailMessage::new(subject, body, [user.email]));
    }
    Ok(messages)
}

/// A redirect to the route `name`.
fn redirect_to(app: &AppState, name: &str, args: &[(&str, &str)]) -> Result<Response> {
    Ok(crate::views::redirect(&app.urls.reverse(name, args)?))
}

/// GET `password_reset/done/`.
pub(crate) async fn reset_done(templates: Templates) -> Result<Response> {
    Ok(templates
        .render("registration/password_reset_done.html", crate::context! {})?
        .into_response())
}

/// What the confirm view found: the user, if the link (or the session's
/// token) is valid for them.
async fn valid_user(
    pool: &sqlx::AnyPool,
    tokens: &PasswordResetTokenGenerator,
    uidb64: &str,
    token: &str,
) -> Result<Option<User>> {
    let Some(id) = uid_from_base64(uidb64) else {
        return Ok(None);
    };
    let Some(user) = User::get(pool, id).await? else {
        return Ok(None);
    };
    Ok((user.is_active && tokens.check_token(&user, token)).then_some(user))
}

/// GET and POST `reset/<uidb64>/<token>/`: with a token, move it into the
/// session and go to `set-password`; there, the form and setting the
/// password. Never cached (the page belongs to one link).
pub(crate) async fn reset_confirm(
    Serving(app): Serving,
    Path((uidb64, token)): Path<(String, String)>,
    method: http::Method,
    templates: Templates,
    session: Session,
    form: FormData,
) -> Result<Response> {
    let settings = &app.settings;
    let tokens = PasswordResetTokenGenerator::from_settings(settings)?;
    let pool = app.databases.get(crate::db::DEFAULT_ALIAS).await?;
    let response = if token != SET_PASSWORD_TOKEN {
        match valid_user(&pool, &tokens, &uidb64, &token).await? {
            Some(_) => {
                session.insert(RESET_SESSION_KEY, &token)?;
                redirect_to(
                    &app,
                    "password_reset_confirm",
                    &[("uidb64", &uidb64), ("token", SET_PASSWORD_TOKEN)],
                )?
            }
            None => render_confirm(&templates, false, settings, &Default::default())?,
        }
    } else {
        let in_session = session.get::<String>(RESET_SESSION_KEY).unwrap_or_default();
        match valid_user(&pool, &tokens, &uidb64, &in_session).await? {
            None => render_confirm(&templates, false, settings, &Default::default())?,
            Some(user) if method == http::Method::POST => {
                set_password(user, &form, &templates, &app, &session, &pool).await?
            }
            Some(_) => render_confirm(&templates, true, settings, &Default::default())?,
        }
    };
    Ok(super::views::never_cache(response))
}

/// The errors of the new-password form, by field.
#[derive(Debug, Default, serde::Serialize)]
struct PasswordErrors {
    new_password1: Vec<String>,
    new_password2: Vec<String>,
}

fn render_confirm(
    templates: &Templates,
    validlink: bool,
    settings: &Settings,
    errors: &PasswordErrors,
) -> Result<Response> {
    let help_texts = PasswordValidators::from_settings(settings)?.help_texts();
    let context = crate::context! {
        "validlink" => &validlink,
        "errors" => errors,
        "help_texts" => &help_texts,
    };
    Ok(templates
        .render("registration/password_reset_confirm.html", context)?
        .into_response())
}

/// POST at `set-password`: both fields, equal, past the validators; then
/// the new password, the user's stored sessions ended (this one too when it
/// is logged in as them), the token out of this session, and
/// `password_reset_complete`.
async fn set_password(
    mut user: User,
    form: &FormData,
    templates: &Templates,
    app: &Arc<AppState>,
    session: &Session,
    pool: &sqlx::AnyPool,
) -> Result<Response> {
    let settings = &app.settings;
    let first = form.get("new_password1").unwrap_or("");
    let second = form.get("new_password2").unwrap_or("");
    let mut errors = PasswordErrors::default();
    let first_error = password_field_error(first);
    if let Some(error) = first_error {
        errors.new_password1.push(error.to_string());
    }
    if let Some(error) = password_field_error(second) {
        errors.new_password2.push(error.to_string());
    } else if first_error.is_none() && first != second {
        errors.new_password2.push(PASSWORD_MISMATCH.to_string());
    } else if let Err(refusals) =
        PasswordValidators::from_settings(settings)?.validate(second, Some(&user.attributes()))
    {
        errors.new_password2.extend(refusals);
    }
    if !(errors.new_password1.is_empty() && errors.new_password2.is_empty()) {
        return render_confirm(templates, true, settings, &errors);
    }
    user.set_password(pool, &PasswordHashers::from_settings(settings)?, second)
        .await?;
    if super::login::logged_in_id(session) == Some(user.id) {
        // A browser logged in as this user: its session is one of theirs
        // and ends with them (Django's ends on its next request, whose auth
        // hash no longer matches), here at once, its cookie removed.
        session.flush();
    } else {
        session.remove(RESET_SESSION_KEY);
    }
    if let Some(auth) = &app.auth {
        auth.throttle().forget(&user.username).await;
    }
    if settings.session_engine == SessionEngine::Db {
        SessionStore::new(app)?
            .end_sessions_of_user(&user.id.to_string())
            .await?;
    }
    redirect_to(app, "password_reset_complete", &[])
}

/// GET `reset/done/`: the password is set; a link to log in.
pub(crate) async fn reset_complete(
    Serving(app): Serving,
    templates: Templates,
) -> Result<Response> {
    let login_url = super::login::login_url(&app)?;
    Ok(templates
        .render(
            "registration/password_reset_complete.html",
            crate::context! { "login_url" => &login_url },
        )?
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id,
            username: format!("user{id}"),
            email: format!("user{id}@example.com"),
            first_name: String::new(),
            last_name: String::new(),
            password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            last_login: None,
            date_joined: "2026-01-01T00:00:00Z".into(),
        }
    }

    fn generator(secrets: &[&str], timeout: u64) -> PasswordResetTokenGenerator {
        PasswordResetTokenGenerator {
            signer: Signer::from_secrets(secrets, PURPOSE),
            timeout,
        }
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_token_is_good_for_its_user_until_it_expires() {
        let tokens = generator(&["secret"], 3600);
        let jane = user(7);
        let token = tokens.make_token_at(&jane, NOW);
        assert!(
            token.starts_with(&format!("{}-", to_base36(NOW))),
            "{token}"
        );
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe: {token}"
        );
        assert!(tokens.check_token_at(&jane, &token, NOW));
        assert!(tokens.check_token_at(&jane, &token, NOW + 3600));
        assert!(!tokens.check_token_at(&jane, &token, NOW + 3601), "expired");
        assert!(
            !tokens.check_token_at(&user(8), &token, NOW),
            "another user"
        );
        // The real clock: a token made now checks now.
        assert!(tokens.check_token(&jane, &tokens.make_token(&jane)));
    }

    #[test]
    fn a_password_change_a_login_or_a_new_email_kill_the_token() {
        let tokens = generator(&["secret"], 3600);
        let jane = user(7);
        let token = tokens.make_token_at(&jane, NOW);
        let changed = [
            User {
                password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdDI$aGFzaDI".into(),
                ..jane.clone()
            },
            User {
                last_login: Some("2027-01-01T00:00:00Z".into()),
                ..jane.clone()
            },
            User {
                email: "other@example.com".into(),
                ..jane.clone()
            },
        ];
        for other in changed {
            assert!(!tokens.check_token_at(&other, &token, NOW), "{other:?}");
        }
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let tokens = generator(&["secret"], 3600);
        let jane = user(7);
        let token = tokens.make_token_at(&jane, NOW);
        let (stamp, signature) = token.split_once('-').unwrap();
        // A later timestamp with the same signature: no longer signed.
        let later = format!("{}-{signature}", to_base36(NOW + 100));
        let mut flipped = signature.to_string().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{stamp}-{}", String::from_utf8(flipped).unwrap());
        for bad in [
            later.as_str(),
            flipped.as_str(),
            stamp,
            "",
            "-",
            "zzzzzzzzzzzzzz-abc",
            &format!("{}-{signature}", stamp.to_uppercase()),
            &format!("{stamp}-{}", &signature[..signature.len() - 1]),
        ] {
            assert!(!tokens.check_token_at(&jane, bad, NOW), "{bad:?}");
        }
        // Another secret, or another purpose of the same secret, signs no token.
        assert!(!generator(&["other"], 3600).check_token_at(&jane, &token, NOW));
        let session_signer = Signer::from_secrets(&["secret"], "nuages.auth.session_hash");
        let forged = format!("{stamp}-{}", session_signer.sign(&hash_value(&jane, NOW)));
        assert!(!tokens.check_token_at(&jane, &forged, NOW));
        // A token made before the key was rotated still works.
        assert!(generator(&["new", "secret"], 3600).check_token_at(&jane, &token, NOW));
    }

    #[test]
    fn base36_and_uids_round_trip() {
        for n in [0, 35, 36, NOW, u64::MAX / 2] {
            assert_eq!(from_base36(&to_base36(n)), Some(n));
        }
        assert_eq!(from_base36("Z"), None);
        assert_eq!(from_base36("zzzzzzzzzzzzzz"), None);
        assert_eq!(uid_to_base64(42), "NDI");
        assert_eq!(uid_from_base64("NDI"), Some(42));
        assert_eq!(uid_from_base64("not base64!"), None);
        assert_eq!(uid_from_base64(&URL_SAFE_NO_PAD.encode("4x")), None);
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let settings = Settings {
            password_reset_timeout: 0,
            ..Settings::default()
        };
        let error = check_timeout(&settings).unwrap_err();
        assert!(
            error.to_string().starts_with("password_reset_timeout is 0"),
            "{error}"
        );
        assert!(check_timeout(&Settings::default()).is_ok());
        assert_eq!(Settings::default().password_reset_timeout, 259_200);
    }
}
