//! The polls app: its URLs, views and models; its templates in
//! templates/polls/, static files in static/polls/ and SQL
//! migrations in migrations/ (`<number>_<description>.sql`).

pub mod models;
pub mod seed;
pub mod templatetags;
pub mod urls;
pub mod views;

/// The app's own settings: the `[polls]` table of the settings files
/// (`NUAGES_POLLS__LATEST_COUNT` in the environment).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PollsSettings {
    /// How many questions the index lists.
    pub latest_count: i64,
}

impl Default for PollsSettings {
    fn default() -> Self {
        PollsSettings { latest_count: 5 }
    }
}

/// The app's migrations, embedded at build time.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("src/polls/migrations");

/// The app, for `installed_apps()` in src/lib.rs.
pub fn app() -> nuages::App {
    nuages::app!("polls")
        .with_migrations(&MIGRATIONS)
        // `manage migrate` inserts them; `User::has_perm(pool, "polls.vote")`.
        .permission("add_question", "Can add question")
        .permission("change_question", "Can change question")
        .permission("delete_question", "Can delete question")
        .permission("vote", "Can vote")
        .with_command(seed::Seed)
        .settings_section::<PollsSettings>("polls")
        .template_library(templatetags::register)
}
