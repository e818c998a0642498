//! Migrations: the project's and each app's sqlx migrations (embedded at
//! build time with `sqlx::migrate!`), applied to the default database. Each
//! app keeps its record in a table of its own, `_nuages_migrations_<app>`, so
//! that two apps may both have a migration number 1.
//!
//! The framework's own migration sets come first: `sessions` (the
//! `nuages_session` table) when `session_engine = "db"`. It is left out
//! otherwise, so that a site that keeps its sessions elsewhere has no table
//! (and no pending migration) it does not use; switching to `"db"` means
//! running `migrate` again.

use std::collections::BTreeSet;

use sqlx::AnyPool;
use sqlx::migrate::{Migrate, MigrateError, Migration, Migrator};

use crate::conf::{SessionEngine, Settings};
use crate::error::{Error, Problem, Result};
use crate::project::Project;

/// The migrations of one app (or of the project itself).
#[derive(Debug, Clone)]
pub struct MigrationSet {
    /// The app label (the project's name for project-level migrations).
    pub label: String,
    /// The migrations, in order.
    pub migrator: &'static Migrator,
}

impl MigrationSet {
    /// The table recording what was applied.
    pub fn table(&self) -> String {
        format!("_nuages_migrations_{}", self.label)
    }

    fn up_migrations(&self) -> impl Iterator<Item = &Migration> {
        self.migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
    }
}

/// The migration sets `migrate` applies: the framework's own that
/// `settings` need, then [`sets`] of `project`.
pub fn all_sets(project: &Project, settings: &Settings) -> Vec<MigrationSet> {
    let mut all = Vec::new();
    if settings.session_engine == SessionEngine::Db {
        all.push(MigrationSet {
            label: crate::sessions::MIGRATION_LABEL.to_string(),
            migrator: &crate::sessions::MIGRATIONS,
        });
    }
    all.extend(sets(project));
    all
}

/// The migration sets of `project`: the framework's `auth` tables first
/// (every project has users, as Django's default `INSTALLED_APPS`), then
/// the project's own, then its apps' in order.
pub fn sets(project: &Project) -> Vec<MigrationSet> {
    let mut sets = vec![crate::auth::migration_set()];
    if let Some(migrator) = project.migrations() {
        sets.push(MigrationSet {
            label: project.name().to_string(),
            migrator,
        });
    }
    for app in project.installed_apps() {
        if let Some(migrator) = app.migrations() {
            sets.push(MigrationSet {
                label: app.label().to_string(),
                migrator,
            });
        }
    }
    sets
}

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// The app label.
    pub label: String,
    /// The migration's version (the number its file name starts with).
    pub version: i64,
    /// Its description (the rest of the file name).
    pub description: String,
    /// Whether the database has it.
    pub applied: bool,
}

impl MigrationState {
    /// `polls.1_initial`, as shown by `migrate`.
    pub fn name(&self) -> String {
        format!(
            "{}.{}_{}",
            self.label,
            self.version,
            self.description.replace(' ', "_")
        )
    }
}

/// Every migration of `sets` with its state in the database.
pub(crate) async fn states(pool: &AnyPool, sets: &[MigrationSet]) -> Result<Vec<MigrationState>> {
    let mut connection = pool.acquire().await?;
    let mut out = Vec::new();
    for set in sets {
        let table = set.table();
        connection
            .ensure_migrations_table(&table)
            .await
            .map_err(migrate_error)?;
        let applied: BTreeSet<i64> = connection
            .list_applied_migrations(&table)
            .await
            .map_err(migrate_error)?
            .into_iter()
            .map(|m| m.version)
            .collect();
        for migration in set.up_migrations() {
            out.push(MigrationState {
                label: set.label.clone(),
                version: migration.version,
                description: migration.description.to_string(),
                applied: applied.contains(&migration.version),
            });
        }
    }
    Ok(out)
}

/// Apply what is pending, in order; `on_applied` is told of each one.
/// Running it again with nothing pending is safe.
pub async fn apply(
    pool: &AnyPool,
    sets: &[MigrationSet],
    mut on_applied: impl FnMut(&MigrationState),
) -> Result<usize> {
    let mut connection = pool.acquire().await?;
    let mut count = 0;
    for set in sets {
        let table = set.table();
        connection.lock().await.map_err(migrate_error)?;
        let result: Result<()> = async {
            connection
                .ensure_migrations_table(&table)
                .await
                .map_err(migrate_error)?;
            if let Some(version) = connection
                .dirty_version(&table)
                .await
                .map_err(migrate_error)?
            {
                return Err(Error::Config(
                    Problem::new(format!(
                        "migration {}.{version} was left half-applied",
                        set.label
                    ))
                    .with_hint(format!(
                        "repair the database by hand, then delete that row from {table}"
                    )),
                ));
            }
            let applied = connection
                .list_applied_migrations(&table)
                .await
                .map_err(migrate_error)?;
            for migration in set.up_migrations() {
                match applied.iter().find(|a| a.version == migration.version) {
                    Some(done) if done.checksum != migration.checksum => {
                        return Err(Error::Config(
                            Problem::new(format!(
                                "migration {}.{}_{} was changed after it was applied",
                                set.label, migration.version, migration.description
                            ))
                            .with_hint("never edit an applied migration: add a new one instead"),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        connection
                            .apply(&table, migration)
                            .await
                            .map_err(migrate_error)?;
                        count += 1;
                        on_applied(&MigrationState {
                            label: set.label.clone(),
                            version: migration.version,
                            description: migration.description.to_string(),
                            applied: true,
                        });
                    }
                }
            }
            Ok(())
        }
        .await;
        connection.unlock().await.map_err(migrate_error)?;
        result?;
    }
    Ok(count)
}

fn migrate_error(error: MigrateError) -> Error {
    Error::other(error)
}

/// The notice `runserver` prints when migrations are pending, if any.
pub(crate) async fn pending_notice(project: &Project, settings: &Settings) -> Option<String> {
    let sets = all_sets(project, settings);
    if sets.is_empty() {
        return None;
    }
    let databases = crate::db::Databases::new(settings);
    let states = async {
        let pool = databases.get(crate::db::DEFAULT_ALIAS).await?;
        states(&pool, &sets).await
    };
    let states = match states.await {
        Ok(states) => states,
        Err(error) => {
            return Some(format!(
                "Could not check for unapplied migrations: {}",
                error.chain().join(": ")
            ));
        }
    };
    let pending: Vec<&MigrationState> = states.iter().filter(|s| !s.applied).collect();
    if pending.is_empty() {
        return None;
    }
    let mut labels: Vec<&str> = pending.iter().map(|s| s.label.as_str()).collect();
    labels.dedup();
    Some(format!(
        "You have {} unapplied migration(s). Your project may not work properly until you apply the migrations for app(s): {}.\nRun 'manage migrate' to apply them.",
        pending.len(),
        labels.join(", ")
    ))
}
