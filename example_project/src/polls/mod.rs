//! The polls app: its URLs, views and models; its templates in
//! templates/polls/, static files in static/polls/ and SQL
//! migrations in migrations/ (`<number>_<description>.sql`).

pub mod models;
pub mod seed;
pub mod urls;
pub mod views;

/// The app's migrations, embedded at build time.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("src/polls/migrations");

/// The app, for `installed_apps()` in src/lib.rs.
pub fn app() -> nuages::apps::App {
    nuages::app!("polls")
        .with_migrations(&MIGRATIONS)
        .with_command(seed::Seed)
}
