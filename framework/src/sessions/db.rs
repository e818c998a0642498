//! The `db` session engine: one row of `nuages_session` per session in the
//! default database. Portable SQL (SQLite and PostgreSQL): `$N`
//! placeholders, Unix seconds in a BIGINT.

use serde_json::{Map, Value};
use sqlx::AnyPool;

use super::{Saved, StoreError};

/// The session stored under `key`, unless it is missing or expired at `now`.
pub(super) async fn load(
    pool: &AnyPool,
    key: &str,
    now: i64,
) -> Result<Option<Map<String, Value>>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT session_data FROM nuages_session WHERE session_key = $1 AND expire_date > $2",
    )
    .bind(key)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(json,)| super::decode_data(&json)))
}

/// Insert a new session.
pub(super) async fn create(
    pool: &AnyPool,
    key: &str,
    json: &str,
    expire_date: i64,
    user_key: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO nuages_session (session_key, session_data, expire_date, user_key) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(key)
    .bind(json)
    .bind(expire_date)
    .bind(user_key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Rewrite an existing session. An UPDATE, never an upsert: a session
/// deleted meanwhile (a logout in another request) stays deleted.
pub(super) async fn update(
    pool: &AnyPool,
    key: &str,
    json: &str,
    expire_date: i64,
    user_key: Option<&str>,
    now: i64,
) -> Result<Saved, StoreError> {
    let done = sqlx::query(
        "UPDATE nuages_session SET session_data = $2, expire_date = $3, user_key = $4 \
         WHERE session_key = $1 AND expire_date > $5",
    )
    .bind(key)
    .bind(json)
    .bind(expire_date)
    .bind(user_key)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(if done.rows_affected() == 0 {
        Saved::Gone
    } else {
        Saved::Done
    })
}

/// Delete the session stored under `key`.
pub(super) async fn delete(pool: &AnyPool, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM nuages_session WHERE session_key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Delete every session of `user_key`; how many there were.
pub(super) async fn delete_for_user(pool: &AnyPool, user_key: &str) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM nuages_session WHERE user_key = $1")
        .bind(user_key)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

/// Delete the sessions expired at `now`; how many there were.
pub(super) async fn clear_expired(pool: &AnyPool, now: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM nuages_session WHERE expire_date <= $1")
        .bind(now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
