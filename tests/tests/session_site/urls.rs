//! The URL patterns of a site that shows its sessions: `set/?k=v`
//! stores, `show/` lists, `login/` cycles the key, `logout/` flushes.

use nuages::prelude::*;
use std::collections::BTreeMap;

async fn set(session: Session, Query(pairs): Query<BTreeMap<String, String>>) -> Result<String> {
    for (key, value) in pairs {
        session.insert(key, value)?;
    }
    Ok("set".into())
}

async fn show(session: Session) -> String {
    let mut shown: Vec<String> = session
        .keys()
        .into_iter()
        .map(|key| format!("{key}={}", session.get::<String>(&key).unwrap_or_default()))
        .collect();
    shown.sort();
    format!("session: [{}]", shown.join(", "))
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "logged out"
}

async fn login(session: Session) -> &'static str {
    session.cycle_key();
    "new key"
}

/// The routes.
pub fn urlpatterns() -> UrlConf {
    UrlConf::new()
        .path("set/", set, "set")
        .path("show/", show, "show")
        .path("logout/", logout, "logout")
        .path("login/", login, "login")
}
