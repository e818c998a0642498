//! `session`: a [`Session`] per request, behind the client's `sessionid`
//! cookie. Where the data lives is `session_engine`'s choice, and the
//! [`Session`] API is the same for all three:
//!
//! - `"signed_cookies"` (the default, Django's signed-cookie backend): the
//!   cookie holds the session's JSON, base64url-encoded, the time it was
//!   written and an HMAC-SHA256 signature over both, signed with
//!   `secret_key`, so the client can read but not change it: store nothing
//!   secret in such a session. A cookie that is tampered with, truncated,
//!   signed with an unknown key or older than `session_cookie_age` gives an
//!   empty session, never an error. Cookies signed with a key of
//!   `secret_key_fallbacks` are accepted and re-signed with `secret_key` on
//!   the way out. Nothing is kept on the server, so [`Session::flush`] and
//!   [`Session::cycle_key`] change this browser's cookie only: a copy of
//!   the old cookie stays valid until `session_cookie_age` has passed.
//! - `"cache"` and `"db"`: the cookie holds a random key and the data is on
//!   the server ([`crate::sessions`]), so a flushed or cycled session is
//!   over for every copy of its cookie.
//!
//! The session is written only when it changed (and its cookie removed
//! once the session is flushed or emptied); the cookie has `Path=/`,
//! `SameSite=Lax`, `Max-Age=session_cookie_age`, `HttpOnly` per
//! `session_cookie_httponly` and `Secure` per `session_cookie_secure`.
//! Responses whose session was read get `Vary: Cookie`. A response with a
//! 5xx status saves nothing, but a session it flushed (a logout whose page
//! then failed) is ended all the same: its cookie removed and, with a
//! server-side engine, its stored data deleted, as Django's `flush` does.
//!
//! ```
//! use nuages::middleware::session::Session;
//!
//! async fn visit(session: Session) -> nuages::Result<String> {
//!     let visits = session.get::<u32>("visits").unwrap_or(0) + 1;
//!     session.insert("visits", visits)?;
//!     Ok(format!("visit number {visits}"))
//! }
//! ```

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use http::HeaderValue;
use http::header::SET_COOKIE;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::signing::Signer;
use crate::error::{Error, Problem, Result};
use crate::sessions::{Saved, SessionStore};
use crate::state::AppState;

/// The session cookie's name (Django's `SESSION_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "sessionid";

/// The most `sessionid` keys of one request looked up in a server-side
/// store: a browser sends one, or two when a parent domain set one too.
/// Without a bound, one request of 64 KiB of cookies made over a thousand
/// queries (Django reads a single value).
const MAX_KEYS_LOOKED_UP: usize = 3;

/// Browsers drop cookies over 4096 bytes: warn before that silently loses data.
const COOKIE_SIZE_WARNING: usize = 4093;

/// A client's session: a map of strings to JSON values, shared by every
/// clone for the request. Reading marks it accessed (`Vary: Cookie`);
/// changing it marks it modified (it is written at the end of the request).
///
/// As an extractor it needs the `session` middleware; without it the view
/// answers 500 with an error saying so.
#[derive(Clone, Debug, Default)]
pub struct Session {
    inner: Arc<Mutex<SessionState>>,
}

#[derive(Debug, Default)]
struct SessionState {
    values: Map<String, Value>,
    accessed: bool,
    modified: bool,
    /// Verified with a fallback key: write it again with the current one.
    resign: bool,
    /// The server-side key this session is stored under, if it is.
    key: Option<String>,
    /// Server-side records to delete (flushed, or left by `cycle_key`).
    ended_keys: Vec<String>,
    /// The key of the visitor's cookie when the store failed to read it:
    /// the session looks empty, but ending it must delete that record.
    unread_key: Option<String>,
    /// [`Session::flush`] was called: the session stays ended even if the
    /// response is a server error.
    flushed: bool,
}

impl SessionState {
    /// Mark the stored record, read or unreadable, for deletion.
    fn end_stored(&mut self) {
        self.ended_keys.extend(self.key.take());
        self.ended_keys.extend(self.unread_key.take());
    }
}

impl Session {
    /// An empty session (what the middleware gives a client without a valid cookie).
    pub fn new() -> Session {
        Session::default()
    }

    fn from_state(state: SessionState) -> Session {
        Session {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    /// Whether the view read or changed the session: its response depends
    /// on who asked.
    pub(crate) fn accessed(&self) -> bool {
        self.lock().accessed
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        // A view that panicked while holding the lock left whole values
        // behind (every change is a single map operation): keep using them.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read<T>(&self, f: impl FnOnce(&Map<String, Value>) -> T) -> T {
        let mut state = self.lock();
        state.accessed = true;
        f(&state.values)
    }

    fn write<T>(&self, f: impl FnOnce(&mut Map<String, Value>) -> T) -> T {
        let mut state = self.lock();
        state.accessed = true;
        state.modified = true;
        f(&mut state.values)
    }

    /// The value under `key`, without marking the session accessed: for
    /// what only matters if a view or a template later uses it.
    pub(crate) fn peek_value(&self, key: &str) -> Option<Value> {
        self.lock().values.get(key).cloned()
    }

    /// Record that the response depends on the session (`Vary: Cookie`).
    pub(crate) fn mark_accessed(&self) {
        self.lock().accessed = true;
    }

    /// The value under `key`, if there is one of type `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.read(|values| values.get(key).cloned())
            .and_then(|value| serde_json::from_value(value).ok())
    }

    /// The raw JSON value under `key`.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.read(|values| values.get(key).cloned())
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read(|values| values.contains_key(key))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.read(|values| values.keys().cloned().collect())
    }

    /// Whether the session holds nothing.
    pub fn is_empty(&self) -> bool {
        self.read(|values| values.is_empty())
    }

    /// Store `value` under `key`. Fails only for values JSON cannot hold
    /// (a map with non-string keys, for example).
    pub fn insert(&self, key: impl Into<String>, value: impl Serialize) -> Result<()> {
        let value = serde_json::to_value(value).map_err(Error::other)?;
        self.write(|values| values.insert(key.into(), value));
        Ok(())
    }

    /// Remove `key`, returning its value.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.write(|values| values.remove(key))
    }

    /// End the session (logging out): empty it, delete its cookie and, with
    /// a server-side engine, its stored data, so that a copy of the old
    /// cookie gives an empty session too.
    pub fn flush(&self) {
        let mut state = self.lock();
        state.accessed = true;
        state.modified = true;
        state.values.clear();
        state.flushed = true;
        state.end_stored();
    }

    /// Keep the data under a new session key and delete the old one (at a
    /// login, against session fixation): the old cookie no longer gives
    /// this session with a server-side engine. With signed cookies the
    /// cookie is written again, and a copy of the old one stays valid
    /// until it expires.
    pub fn cycle_key(&self) {
        let mut state = self.lock();
        state.modified = true;
        state.end_stored();
    }

    /// The server-side key of the session as this request loaded it, or
    /// `None`: with signed cookies, for a new session, and after
    /// [`flush`](Self::flush) or [`cycle_key`](Self::cycle_key) (the new key
    /// is made when the session is written, at the end of the request).
    pub fn session_key(&self) -> Option<String> {
        self.lock().key.clone()
    }

    /// Whether the session was changed during this request.
    pub fn is_modified(&self) -> bool {
        self.lock().modified
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            Error::Config(
                Problem::new("the Session extractor needs the \"session\" middleware")
                    .with_hint("add \"session\" to the middleware setting"),
            )
        })
    }
}

/// The `session` middleware's keys, store and cookie attributes, built once.
#[derive(Debug)]
pub(crate) struct SessionConfig {
    signer: Signer,
    store: SessionStore,
    max_age: u64,
    secure: bool,
    http_only: bool,
}

impl SessionConfig {
    /// Refuses to build without `secret_key`, or with a session store
    /// that cannot keep sessions (`nuages.E022`, `nuages.E023`).
    pub fn new(app: Arc<AppState>) -> Result<SessionConfig> {
        let settings = &app.settings;
        Ok(SessionConfig {
            signer: Signer::new(settings, "nuages.sessions.cookie")?,
            store: SessionStore::new(&app)?,
            max_age: settings.session_cookie_age,
            secure: settings.session_cookie_secure,
            http_only: settings.session_cookie_httponly,
        })
    }

    /// The cookie value for `values`, signed now with the current key.
    fn encode(&self, values: &Map<String, Value>, now: u64) -> String {
        encode(&self.signer, values, now)
    }

    fn cookie(&self, value: String) -> Cookie<'static> {
        Cookie::build((COOKIE_NAME, value))
            .path("/")
            .same_site(SameSite::Lax)
            .http_only(self.http_only)
            .secure(self.secure)
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(self.max_age).unwrap_or(i64::MAX),
            ))
            .build()
    }

    fn removal_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.cookie(String::new());
        cookie.make_removal();
        cookie
    }

    /// The session the request's cookies point at, or an empty one.
    async fn load(&self, cookies: &[String]) -> Session {
        if !self.store.is_server_side() {
            // The clock is read only for a cookie to check.
            let now = if cookies.is_empty() { 0 } else { now() };
            let loaded = cookies
                .iter()
                .find_map(|value| decode(&self.signer, value, self.max_age, now));
            return match loaded {
                Some((values, key)) => Session::from_state(SessionState {
                    values,
                    resign: key > 0,
                    ..SessionState::default()
                }),
                None => Session::new(),
            };
        }
        // Boxed: the store's future is large, and every request's future
        // would carry its size (and be copied with it), even without a cookie.
        let keys = cookies
            .iter()
            .filter(|key| crate::sessions::is_valid_key(key))
            .take(MAX_KEYS_LOOKED_UP);
        let mut unread_key = None;
        for key in keys {
            match Box::pin(self.store.load(key)).await {
                Ok(Some(values)) => {
                    return Session::from_state(SessionState {
                        values,
                        key: Some(key.clone()),
                        ..SessionState::default()
                    });
                }
                Ok(None) => {}
                Err(()) => unread_key = unread_key.or(Some(key.clone())),
            }
        }
        Session::from_state(SessionState {
            unread_key,
            ..SessionState::default()
        })
    }

    /// What to send back for a signed-cookie session.
    fn signed_cookie(&self, outcome: &Outcome) -> Option<Cookie<'static>> {
        if outcome.values.is_empty() {
            // Flushed, emptied, or a cookie we could not use: remove it.
            outcome.had_cookie.then(|| self.removal_cookie())
        } else if outcome.modified || outcome.resign {
            Some(self.cookie(self.encode(&outcome.values, now())))
        } else {
            None
        }
    }

    /// Write a server-side session as the request left it; the cookie to
    /// send back, if any. A session that was to end (`flush`, the old key
    /// of `cycle_key`) and that the store failed to delete is an error: a
    /// copy of its cookie would still work once the store is back, so the
    /// visitor is not told it ended, as Django's 500 does not. A session
    /// ended by another request while this one ran is a 400, its cookie
    /// left alone (Django's `SessionInterrupted`).
    async fn save(&self, mut outcome: Outcome) -> Result<Option<Cookie<'static>>> {
        let mut ending = std::mem::take(&mut outcome.ended_keys);
        if outcome.values.is_empty()
            && outcome.modified
            && let Some(key) = &outcome.key
        {
            ending.push(key.clone());
        }
        for key in &ending {
            if !self.store.delete(key).await {
                return Err(Error::Config(
                    Problem::new(
                        "the session could not be ended: its store (the session cache or \
                         database) failed to delete it",
                    )
                    .with_hint(
                        "see the warning logged before this error; once the store answers \
                         again, the same request ends it",
                    ),
                ));
            }
        }
        self.write(outcome).await
    }

    /// [`Self::save`] once the sessions to end are gone.
    async fn write(&self, outcome: Outcome) -> Result<Option<Cookie<'static>>> {
        if outcome.unread {
            // A short outage must not log the visitor out: neither a
            // removal cookie nor a new session replacing the one the
            // cookie names, which may still be stored (Django's rule: a
            // cookie it did not manage is not touched).
            if outcome.modified {
                tracing::warn!(
                    target: "nuages::sessions",
                    "the session could not be read, so this request's changes to it are not \
                     saved: the visitor's cookie is kept for when the store answers again"
                );
            }
            return Ok(None);
        }
        if outcome.values.is_empty() {
            return Ok(outcome.had_cookie.then(|| self.removal_cookie()));
        }
        if !outcome.modified {
            return Ok(None);
        }
        if let Some(key) = &outcome.key {
            return match self.store.update(key, &outcome.values).await {
                None => Ok(None),
                Some(Saved::Done) => Ok(Some(self.cookie(key.clone()))),
                // As Django's SessionInterrupted: a 400, and the cookie left
                // alone. Its name and path are those of the cookie a
                // concurrent login has just set: removing it would log the
                // visitor out of the new session.
                Some(Saved::Gone) => {
                    tracing::warn!(
                        target: "nuages::sessions",
                        "the session was ended by another request (a logout or a login) before \
                         this one wrote it: it is not written back, and the request is answered 400"
                    );
                    Err(Error::BadRequest(
                        "the request's session was deleted before the request completed: the \
                         user may have logged out or in in a concurrent request"
                            .into(),
                    ))
                }
            };
        }
        let Some(key) = crate::sessions::new_key() else {
            return Ok(None);
        };
        if self.store.create(&key, &outcome.values).await {
            return Ok(Some(self.cookie(key)));
        }
        // A login whose session was not kept would not stick: the visitor
        // must not be shown what looks like success.
        if outcome.values.contains_key(crate::sessions::AUTH_USER_KEY) {
            return Err(Error::Config(
                Problem::new(
                    "the session of a login could not be saved: its store (the session cache or \
                     database) failed to keep it, so the login would not stick",
                )
                .with_hint(
                    "see the warning logged before this error (with session_engine = \"db\": \
                     run `manage migrate`, which creates the nuages_session table)",
                ),
            ));
        }
        Ok(None)
    }
}

/// The session as the view left it, taken out of its lock so that the
/// store may be awaited.
struct Outcome {
    values: Map<String, Value>,
    modified: bool,
    resign: bool,
    key: Option<String>,
    ended_keys: Vec<String>,
    had_cookie: bool,
    /// The store failed to read the visitor's session, which may be there
    /// all the same (and was not ended): its cookie is left alone.
    unread: bool,
}

/// What is signed: the cookie name binds the signature to this cookie.
fn signed_message(payload: &str, timestamp: &str) -> Vec<u8> {
    format!("{COOKIE_NAME}\0{payload}.{timestamp}").into_bytes()
}

/// `payload.timestamp.signature`: base64url JSON, seconds since the epoch,
/// base64url HMAC. All three are cookie-safe characters.
pub(crate) fn encode(signer: &Signer, values: &Map<String, Value>, now: u64) -> String {
    let json = serde_json::to_vec(values).expect("a JSON map always serializes");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let timestamp = now.to_string();
    let signature = signer.sign(&signed_message(&payload, &timestamp));
    format!("{payload}.{timestamp}.{signature}")
}

/// The session in a cookie value and the index of the key that signed it,
/// or `None` for anything not signed by one of our keys, expired, or not a
/// JSON object. Never panics, whatever the input.
pub(crate) fn decode(
    signer: &Signer,
    value: &str,
    max_age: u64,
    now: u64,
) -> Option<(Map<String, Value>, usize)> {
    let mut parts = value.rsplitn(3, '.');
    let signature = parts.next()?;
    let timestamp = parts.next()?;
    let payload = parts.next()?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = signer.verify(&signed_message(payload, timestamp), signature)?;
    // Only now that we know we wrote it: expiry, then the content.
    let written: u64 = timestamp.parse().ok()?;
    if now.saturating_sub(written) > max_age {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    match serde_json::from_slice::<Value>(&json).ok()? {
        Value::Object(values) => Some((values, key)),
        _ => None,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What the `session` middleware keeps between the request and the response.
pub(crate) struct Pending {
    had_cookie: bool,
    session: Session,
}

/// The `session` middleware on the way in: the client's session, loaded
/// from its cookie (or the store the cookie names), in the request.
pub(crate) async fn process_request(config: &SessionConfig, request: &mut Request) -> Pending {
    let cookies = super::request_cookies(request.headers(), COOKIE_NAME);
    let session = config.load(&cookies).await;
    request.extensions_mut().insert(session.clone());
    Pending {
        had_cookie: !cookies.is_empty(),
        session,
    }
}

/// The `session` middleware on the way out: `Vary: Cookie` when the
/// session was read, and the session saved (its cookie set) when it changed.
pub(crate) async fn process_response(
    config: &SessionConfig,
    pending: Pending,
    response: &mut Response,
) {
    let Pending {
        had_cookie,
        session,
    } = pending;
    let outcome = {
        let mut state = session.lock();
        // The values are cloned, not taken: a clone of the session kept
        // past the response (a spawned task) still reads them.
        if state.accessed {
            super::patch_vary(response.headers_mut(), "Cookie");
        }
        // As Django: a failed request does not save what it half did. But
        // a session it ended (a logout's flush) stays ended, stored record
        // and cookie, as Django's flush deletes it at once: a logout whose
        // page then failed must not leave the visitor logged in.
        if response.status().is_server_error() {
            if !state.flushed {
                return;
            }
            Outcome {
                values: Map::new(),
                modified: true,
                resign: false,
                key: None,
                ended_keys: std::mem::take(&mut state.ended_keys),
                had_cookie,
                unread: false,
            }
        } else {
            // A new visitor's session that nothing changed: no cookie to set or
            // remove, nothing to store (what both ways of saving conclude).
            if !had_cookie && !state.modified && !state.resign && state.ended_keys.is_empty() {
                return;
            }
            Outcome {
                values: state.values.clone(),
                modified: state.modified,
                resign: state.resign,
                key: state.key.clone(),
                ended_keys: std::mem::take(&mut state.ended_keys),
                had_cookie,
                unread: state.unread_key.is_some(),
            }
        }
    };

    let cookie = match config.store.is_server_side() {
        // Boxed for the same reason as the store's `load`.
        true => match Box::pin(config.save(outcome)).await {
            Ok(cookie) => cookie,
            Err(error) => {
                *response = error.into_response();
                return;
            }
        },
        false => config.signed_cookie(&outcome),
    };
    if let Some(cookie) = cookie {
        let text = cookie.to_string();
        if text.len() > COOKIE_SIZE_WARNING {
            tracing::warn!(
                target: "nuages::security::session",
                "the session cookie is {} bytes, over the {COOKIE_SIZE_WARNING} browsers keep: store less in the session",
                text.len()
            );
        }
        match HeaderValue::from_str(&text) {
            Ok(value) => {
                response.headers_mut().append(SET_COOKIE, value);
            }
            Err(_) => tracing::error!(
                target: "nuages::security::session",
                "the session cookie is not a valid header value and was not sent"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_cookie_round_trips_and_rejects_changes() {
        let signer = Signer::from_secrets(&["k"], "s");
        let data = values(json!({"user": 7, "name": "Ann"}));
        let cookie = encode(&signer, &data, 1000);
        assert_eq!(decode(&signer, &cookie, 60, 1010), Some((data.clone(), 0)));
        // Expired.
        assert_eq!(decode(&signer, &cookie, 60, 1061), None);
        // Truncated, or any one byte changed.
        assert_eq!(decode(&signer, &cookie[..cookie.len() - 1], 60, 1010), None);
        for i in 0..cookie.len() {
            let mut bytes = cookie.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            assert_eq!(decode(&signer, &changed, 60, 1010), None, "byte {i}");
        }
        // A later timestamp cannot be spliced in.
        let (payload, rest) = cookie.split_once('.').unwrap();
        let signature = rest.split_once('.').unwrap().1;
        assert_eq!(
            decode(&signer, &format!("{payload}.1009.{signature}"), 60, 1010),
            None
        );
    }

    #[test]
    fn fallback_keys_verify_and_report_themselves() {
        let old = Signer::from_secrets(&["old"], "s");
        let rotated = Signer::from_secrets(&["new", "old"], "s");
        let data = values(json!({"a": 1}));
        let cookie = encode(&old, &data, 5);
        assert_eq!(decode(&rotated, &cookie, 60, 5), Some((data, 1)));
        let forgotten = Signer::from_secrets(&["new"], "s");
        assert_eq!(decode(&forgotten, &cookie, 60, 5), None);
    }

    #[test]
    fn a_signed_value_that_is_not_an_object_is_refused() {
        let signer = Signer::from_secrets(&["k"], "s");
        let payload = URL_SAFE_NO_PAD.encode(b"[1,2]");
        let signature = signer.sign(&signed_message(&payload, "1"));
        assert_eq!(
            decode(&signer, &format!("{payload}.1.{signature}"), 60, 1),
            None
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn signer() -> Signer {
            Signer::from_secrets(&["current", "fallback"], "nuages.sessions.cookie")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any cookie value an attacker sends decodes to nothing, without panicking.
            #[test]
            fn arbitrary_cookies_are_refused(value in "\\PC{0,200}|[A-Za-z0-9_.-]{0,200}") {
                prop_assert_eq!(decode(&signer(), &value, u64::MAX, 1_000), None);
            }

            /// Any session round-trips, and any single changed byte is refused.
            #[test]
            fn sessions_round_trip_and_resist_changes(
                entries in prop::collection::btree_map("\\PC{0,12}", any::<i64>(), 0..6),
                text in "\\PC{0,30}",
                position in any::<prop::sample::Index>(),
                replacement in any::<u8>(),
            ) {
                let mut values: Map<String, Value> =
                    entries.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
                values.insert("text".into(), Value::from(text));
                let cookie = encode(&signer(), &values, 500);
                prop_assert_eq!(decode(&signer(), &cookie, 60, 510), Some((values, 0)));

                let mut bytes = cookie.clone().into_bytes();
                let i = position.index(bytes.len());
                prop_assume!(bytes[i] != replacement);
                bytes[i] = replacement;
                if let Ok(changed) = String::from_utf8(bytes) {
                    prop_assert_eq!(decode(&signer(), &changed, 60, 510), None);
                }
            }
        }
    }

    #[test]
    fn session_tracks_access_and_changes() {
        let session = Session::new();
        assert!(!session.lock().accessed);
        assert_eq!(session.get::<u32>("n"), None);
        assert!(session.lock().accessed);
        assert!(!session.is_modified());
        session.insert("n", 3).unwrap();
        assert!(session.is_modified());
        assert_eq!(session.get::<u32>("n"), Some(3));
        assert_eq!(session.get::<String>("n"), None);
        assert_eq!(session.keys(), ["n"]);
        assert_eq!(session.remove("n"), Some(json!(3)));
        session.insert("m", "x").unwrap();
        session.flush();
        assert!(session.is_empty());
        let map = std::collections::HashMap::from([((1, 2), 3)]);
        assert!(session.insert("bad", map).is_err());
    }
}
