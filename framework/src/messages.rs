//! One-time messages, as Django's `contrib.messages`: a view adds
//! "Your vote was saved." with [`Messages::success`], and the next page
//! that renders them shows it once.
//!
//! The `messages` middleware keeps the messages not yet shown between
//! requests, in the session (`message_storage = "session"`, the default;
//! the `session` middleware must come before it in `middleware`) or in a
//! `messages` cookie signed with `secret_key` (`message_storage = "cookie"`:
//! `HttpOnly`, `SameSite=Lax`, `Secure` per `session_cookie_secure`). A
//! cookie that does not verify gives no messages, never an error. In a
//! cookie (the `messages` one, or the session's with the default
//! `session_engine = "signed_cookies"`) they take at most 2048 bytes, the
//! oldest left out, so that a browser never drops the cookie.
//!
//! Every template rendered through the
//! [`Templates`](crate::templates::Templates) extractor whose source (or a
//! template it extends, includes or imports) names `messages` gets them as
//! `messages`, a list of `{message, tags, level, level_tag}`, and they are
//! then gone: Django marks them used when a template iterates them; a
//! template that never names them leaves them for the next page. Messages
//! added after the render wait for the next one.
//!
//! ```
//! use nuages::messages::Messages;
//! use nuages::views::redirect;
//!
//! async fn vote(messages: Messages) -> axum::response::Response {
//!     messages.success("Your vote was saved.");
//!     redirect("/polls/")
//! }
//! ```
//!
//! ```html
//! {% for message in messages %}
//!   <li class="{{ message.tags }}">{{ message.message }}</li>
//! {% endfor %}
//! ```

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{FromRequestParts, Request};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use http::HeaderValue;
use http::header::SET_COOKIE;
use http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::conf::{MessageStorage, SessionEngine, Settings};
use crate::error::{Error, Problem, Result};
use crate::middleware::session::Session;
use crate::middleware::signing::Signer;

/// The cookie of `message_storage = "cookie"` (Django's name).
pub const COOKIE_NAME: &str = "messages";

/// The session key of `message_storage = "session"` (Django's).
pub const SESSION_KEY: &str = "_messages";

/// How important a message is: Django's levels and their tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Development detail; not recorded (Django's default `MESSAGE_LEVEL`
    /// is INFO).
    Debug,
    /// Good to know.
    Info,
    /// Something worked.
    Success,
    /// Something to look at.
    Warning,
    /// Something failed.
    Error,
}

impl Level {
    /// Django's number for the level (`DEBUG` 10 … `ERROR` 40).
    pub fn number(self) -> u8 {
        match self {
            Level::Debug => 10,
            Level::Info => 20,
            Level::Success => 25,
            Level::Warning => 30,
            Level::Error => 40,
        }
    }

    /// Django's tag for the level, a CSS class in templates.
    pub fn tag(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Success => "success",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One message, as stored between requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// How important it is.
    pub level: Level,
    /// The text, shown escaped.
    pub message: String,
}

/// What a template sees of a message.
#[derive(Serialize)]
struct ShownMessage<'a> {
    message: &'a str,
    tags: &'static str,
    level_tag: &'static str,
    level: u8,
}

/// The messages of one request. As an extractor it needs the `messages`
/// middleware; without it the view answers 500 with an error saying so.
#[derive(Clone, Debug)]
pub struct Messages {
    inner: Arc<Mutex<Pending>>,
}

#[derive(Debug)]
struct Pending {
    storage: Storage,
    /// What the storage held, read on first need.
    loaded: Option<Vec<Message>>,
    /// Added during this request (after the last render, once used).
    added: Vec<Message>,
    /// A template showed them: what was loaded is gone.
    used: bool,
    /// What a template showed included stored messages.
    showed_stored: bool,
}

/// Where the messages of the previous requests come from.
#[derive(Debug)]
enum Storage {
    Session(Session),
    /// The cookie's messages, already verified.
    Cookie(Vec<Message>),
}

impl Messages {
    fn new(storage: Storage) -> Messages {
        Messages {
            inner: Arc::new(Mutex::new(Pending {
                storage,
                loaded: None,
                added: vec![],
                used: false,
                showed_stored: false,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Every change is one push or one assignment: a panicking view
        // leaves whole values behind.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `text` at `level`, to be shown on the next page that renders
    /// messages. Debug messages are not recorded.
    pub fn add(&self, level: Level, text: impl Into<String>) {
        if level < Level::Info {
            return;
        }
        self.lock().added.push(Message {
            level,
            message: text.into(),
        });
    }

    /// Adds a debug message: not recorded, as Django's default level.
    pub fn debug(&self, text: impl Into<String>) {
        self.add(Level::Debug, text);
    }

    /// Adds an info message.
    pub fn info(&self, text: impl Into<String>) {
        self.add(Level::Info, text);
    }

    /// Adds a success message.
    pub fn success(&self, text: impl Into<String>) {
        self.add(Level::Success, text);
    }

    /// Adds a warning.
    pub fn warning(&self, text: impl Into<String>) {
        self.add(Level::Warning, text);
    }

    /// Adds an error message.
    pub fn error(&self, text: impl Into<String>) {
        self.add(Level::Error, text);
    }

    /// The messages waiting, oldest first, without using them up.
    pub fn pending(&self) -> Vec<Message> {
        let mut state = self.lock();
        let mut all = state.load().to_vec();
        all.extend(state.added.iter().cloned());
        all
    }

    /// The messages waiting, oldest first; they will not be kept for
    /// another request (what rendering them in a template does).
    pub fn take(&self) -> Vec<Message> {
        let mut state = self.lock();
        let mut all = std::mem::take(state.load());
        state.showed_stored |= !all.is_empty();
        all.append(&mut state.added);
        state.used = true;
        all
    }

    /// Whether the messages stored for this visitor were read (by
    /// [`Self::take`], [`Self::pending`] or a template): the response then
    /// depends on who asked, as one that read the session does.
    pub(crate) fn accessed(&self) -> bool {
        self.lock().loaded.is_some()
    }

    /// The messages as a template's `messages`, used up.
    pub(crate) fn take_for_template(&self) -> tera::Value {
        let taken = self.take();
        let shown: Vec<ShownMessage> = taken
            .iter()
            .map(|m| ShownMessage {
                message: &m.message,
                tags: m.level.tag(),
                level_tag: m.level.tag(),
                level: m.level.number(),
            })
            .collect();
        tera::Value::from_serializable(&shown)
    }

    /// What to keep for the next request, or `None` when the storage need
    /// not change (a page that showed nothing leaves the session alone).
    fn to_keep(&self) -> Option<Vec<Message>> {
        let mut state = self.lock();
        if state.used {
            let showed_stored = state.showed_stored;
            let keep = std::mem::take(&mut state.added);
            return (showed_stored || !keep.is_empty()).then_some(keep);
        }
        if state.added.is_empty() {
            return None;
        }
        let mut keep = state.load().to_vec();
        keep.append(&mut state.added);
        Some(keep)
    }
}

impl Pending {
    fn load(&mut self) -> &mut Vec<Message> {
        let storage = &self.storage;
        self.loaded.get_or_insert_with(|| match storage {
            Storage::Session(session) => {
                session.get::<Vec<Message>>(SESSION_KEY).unwrap_or_default()
            }
            Storage::Cookie(messages) => messages.clone(),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Messages {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts.extensions.get::<Messages>().cloned().ok_or_else(|| {
            Error::Config(
                Problem::new("the Messages extractor needs the \"messages\" middleware").with_hint(
                    "add \"messages\" to the middleware setting (after \"session\"), as the \
                     generated settings.toml has it",
                ),
            )
        })
    }
}

/// The `messages` middleware's storage, built once.
#[derive(Debug)]
pub(crate) enum MessagesConfig {
    /// In the session; `in_cookie` when the session itself is a cookie
    /// (`session_engine = "signed_cookies"`), which bounds what they take.
    Session {
        in_cookie: bool,
    },
    Cookie {
        signer: Signer,
        secure: bool,
    },
}

impl MessagesConfig {
    /// Refuses session storage without the `session` middleware before
    /// `messages`, and cookie storage without `secret_key`.
    pub(crate) fn new(settings: &Settings) -> Result<MessagesConfig> {
        match settings.message_storage {
            MessageStorage::Session => {
                let position = |name: &str| settings.middleware.iter().position(|m| m == name);
                match (position("session"), position("messages")) {
                    (Some(session), Some(messages)) if session < messages => {
                        Ok(MessagesConfig::Session {
                            in_cookie: settings.session_engine == SessionEngine::SignedCookies,
                        })
                    }
                    _ => Err(needs_session()),
                }
            }
            MessageStorage::Cookie => Ok(MessagesConfig::Cookie {
                signer: Signer::new(settings, "nuages.messages.cookie")?,
                secure: settings.session_cookie_secure,
            }),
        }
    }
}

/// What `Application::new` fails with, and `check` reports
/// (`nuages.E025`), for session storage without the session middleware.
fn needs_session() -> Error {
    Error::Config(
        Problem::new(
            "the \"messages\" middleware keeps messages in the session (message_storage = \
             \"session\"), and \"session\" is not in the middleware setting before it",
        )
        .with_hint(
            "list \"session\" before \"messages\" in middleware, or set \
             message_storage = \"cookie\" to keep them in a signed cookie",
        ),
    )
}

/// What is signed: the cookie name binds the signature to this cookie.
fn signed_message(payload: &str) -> Vec<u8> {
    format!("{COOKIE_NAME}\0{payload}").into_bytes()
}

/// The largest `messages` cookie value written (Django's
/// `CookieStorage.max_cookie_size`): well under the 4096 bytes a browser
/// keeps of a cookie, which drops a larger one and every message with it.
const MAX_COOKIE_SIZE: usize = 2048;

/// How many of the oldest `messages` to leave out so that the rest `fit`
/// (all of them when none fits).
fn oldest_left_out(messages: &[Message], fits: impl Fn(&[Message]) -> bool) -> usize {
    (0..messages.len())
        .find(|&dropped| fits(&messages[dropped..]))
        .unwrap_or(messages.len())
}

/// The cookie value for `messages`, without the oldest ones when all of
/// them would make it over [`MAX_COOKIE_SIZE`] (as Django's cookie storage),
/// and how many were left out.
fn encode_cookie_within_limit(signer: &Signer, messages: &[Message]) -> (String, usize) {
    let dropped = oldest_left_out(messages, |kept| {
        encode_cookie(signer, kept).len() <= MAX_COOKIE_SIZE
    });
    (encode_cookie(signer, &messages[dropped..]), dropped)
}

/// How many of the oldest `messages` to leave out of a session kept in a
/// signed cookie, so that they take at most [`MAX_COOKIE_SIZE`] bytes of
/// it, as in the messages cookie: messages never shown would otherwise
/// pile up until the browser drops the session cookie, and the login and
/// every other value of the session with it.
fn left_out_of_session_cookie(messages: &[Message]) -> usize {
    oldest_left_out(messages, |kept| {
        let json = serde_json::to_vec(kept).expect("messages always serialize");
        URL_SAFE_NO_PAD.encode(json).len() <= MAX_COOKIE_SIZE
    })
}

/// The warning for `dropped` of `total` messages left out of a cookie,
/// with the setting that keeps them all (`fix`).
fn warn_left_out(dropped: usize, total: usize, cookie: &str, fix: &str) {
    if dropped > 0 {
        tracing::warn!(
            target: "nuages::messages",
            "{dropped} of {total} messages not kept: the {cookie} cookie would hold over \
             {MAX_COOKIE_SIZE} bytes of them (the oldest were left out); {fix}"
        );
    }
}

fn encode_cookie(signer: &Signer, messages: &[Message]) -> String {
    let json = serde_json::to_vec(messages).expect("messages always serialize");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let signature = signer.sign(&signed_message(&payload));
    format!("{payload}.{signature}")
}

/// The messages of a cookie value, or `None` when it is not ours.
fn decode_cookie(signer: &Signer, value: &str) -> Option<Vec<Message>> {
    let (payload, signature) = value.rsplit_once('.')?;
    signer.verify(&signed_message(payload), signature)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// What the `messages` middleware keeps between the request and the response.
pub(crate) struct Kept {
    /// With cookie storage: whether the request brought the cookie (an empty
    /// list then removes it).
    had_cookie: bool,
    messages: Messages,
}

/// The `messages` middleware on the way in: the messages stored for this
/// client, in the request.
pub(crate) fn process_request(
    config: &MessagesConfig,
    request: &mut Request,
) -> Result<Kept, Error> {
    let (storage, had_cookie) = match config {
        MessagesConfig::Session { .. } => {
            let Some(session) = request.extensions().get::<Session>().cloned() else {
                // Built only after "session" (checked at start).
                return Err(needs_session());
            };
            (Storage::Session(session), false)
        }
        MessagesConfig::Cookie { signer, .. } => {
            let cookies = crate::middleware::request_cookies(request.headers(), COOKIE_NAME);
            let stored = cookies
                .iter()
                .find_map(|value| decode_cookie(signer, value))
                .unwrap_or_default();
            (Storage::Cookie(stored), !cookies.is_empty())
        }
    };
    let messages = Messages::new(storage);
    request.extensions_mut().insert(messages.clone());
    Ok(Kept {
        had_cookie,
        messages,
    })
}

/// The `messages` middleware on the way out: the messages not shown kept
/// for the next request.
pub(crate) fn process_response(config: &MessagesConfig, pending: Kept, response: &mut Response) {
    let Kept {
        had_cookie,
        messages,
    } = pending;
    let Some(keep) = messages.to_keep() else {
        return;
    };
    match config {
        MessagesConfig::Session { in_cookie } => {
            let session = match &messages.lock().storage {
                Storage::Session(session) => session.clone(),
                Storage::Cookie(_) => unreachable!("session storage"),
            };
            let mut keep = keep;
            if *in_cookie {
                let dropped = left_out_of_session_cookie(&keep);
                warn_left_out(
                    dropped,
                    keep.len(),
                    "session",
                    "session_engine = \"cache\" or \"db\" keeps the session, and them, on the server",
                );
                keep.drain(..dropped);
            }
            if keep.is_empty() {
                session.remove(SESSION_KEY);
            } else if let Err(e) = session.insert(SESSION_KEY, &keep) {
                tracing::error!(target: "nuages::messages", "messages not kept: {e}");
            }
        }
        MessagesConfig::Cookie { signer, secure } => {
            let (value, dropped) = encode_cookie_within_limit(signer, &keep);
            warn_left_out(
                dropped,
                keep.len(),
                COOKIE_NAME,
                "message_storage = \"session\" keeps them in the session instead",
            );
            let mut cookie = Cookie::build((COOKIE_NAME, value))
                .path("/")
                .same_site(SameSite::Lax)
                .http_only(true)
                .secure(*secure)
                .build();
            if dropped == keep.len() {
                if !had_cookie {
                    return;
                }
                cookie.make_removal();
            }
            crate::middleware::patch_vary(response.headers_mut(), "Cookie");
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_round_trips_and_a_tampered_one_is_nothing() {
        let signer = Signer::from_secrets(&["a-secret"], "nuages.messages.cookie");
        let messages = vec![
            Message {
                level: Level::Success,
                message: "saved".into(),
            },
            Message {
                level: Level::Error,
                message: "<script>".into(),
            },
        ];
        let value = encode_cookie(&signer, &messages);
        assert_eq!(decode_cookie(&signer, &value), Some(messages));
        let mut tampered = value.clone();
        tampered.replace_range(0..1, if value.starts_with('W') { "X" } else { "W" });
        assert_eq!(decode_cookie(&signer, &tampered), None);
        let other = Signer::from_secrets(&["another"], "nuages.messages.cookie");
        assert_eq!(decode_cookie(&other, &value), None);
        assert_eq!(decode_cookie(&signer, "garbage"), None);
    }

    #[test]
    fn levels_have_djangos_numbers_and_tags() {
        assert_eq!(Level::Success.number(), 25);
        assert_eq!(Level::Warning.tag(), "warning");
    }
}
