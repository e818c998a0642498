//! Migration files: each has one description per number and names only
//! databases Nuages knows (`nuages.E020`), the database of
//! `databases.default.url` has a file for every migration (`nuages.E021`),
//! and no two migration sets share a label, hence a record table
//! (`nuages.E049`). `migrate` refuses the same things, with the same
//! messages.

use super::{Check, CheckContext, CheckMessage, Level};
use crate::migrations::{self, BACKENDS};

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "migration_files",
            tags: &["database", "migrations"],
            deploy: false,
            run: check_migration_files,
        },
        Check {
            name: "migrations_for_database",
            tags: &["database", "migrations"],
            deploy: false,
            run: check_migrations_for_database,
        },
        Check {
            name: "migration_file_names",
            tags: &["database", "migrations"],
            deploy: false,
            run: check_migration_file_names,
        },
        Check {
            name: "migration_labels",
            tags: &["database", "migrations"],
            deploy: false,
            run: check_migration_labels,
        },
    ]
}

/// `nuages.W017`: an `.sql` file in an app's `migrations/` folder whose
/// name is not `<number>_<description>.sql`. `sqlx::migrate!` skips such a
/// file without a word, so `migrate` would never run it (Django's
/// `0001_initial` is fine: `0001` is the number 1). A folder that is not
/// there (a binary run away from its sources) has nothing to say.
pub fn check_migration_file_names(ctx: &CheckContext) -> Vec<CheckMessage> {
    let mut out = Vec::new();
    for app in ctx.project.installed_apps() {
        let folder = app.path().join("migrations");
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let names: Vec<String> = entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        let next = names.iter().filter_map(|n| number_of(n)).max().unwrap_or(0) + 1;
        let mut skipped: Vec<&String> = names.iter().filter(|n| number_of(n).is_none()).collect();
        skipped.sort();
        for name in skipped {
            out.push(CheckMessage::of(
                Level::Warning,
                "nuages.W017",
                crate::error::Problem::new(format!(
                    "{} is not named <number>_<description>.sql: migrate never runs it",
                    folder.join(name).display()
                ))
                .with_hint(format!(
                    "rename it with a number first, after the app's last migration: {next}_{}",
                    name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_' || c == '-')
                )),
            ));
        }
    }
    out
}

/// The number of a file sqlx takes as a migration (a number, `_`, then the
/// description); `None` for a file it skips.
fn number_of(name: &str) -> Option<i64> {
    name.split_once('_')?.0.parse().ok()
}

/// `nuages.E049`: two migration sets with one label (an app labelled
/// `auth`, or as the project, or as another app).
pub fn check_migration_labels(ctx: &CheckContext) -> Vec<CheckMessage> {
    migrations::shared_labels(ctx.project)
        .into_iter()
        .map(|problem| CheckMessage::of(Level::Error, "nuages.E049", problem))
        .collect()
}

/// `nuages.E020`: a file for an unknown database, or one number used by
/// different migrations.
pub fn check_migration_files(ctx: &CheckContext) -> Vec<CheckMessage> {
    migrations::sets(ctx.project)
        .iter()
        .flat_map(|set| set.problems())
        .map(|problem| CheckMessage::of(Level::Error, "nuages.E020", problem))
        .collect()
}

/// `nuages.E021`: a migration with neither a plain file nor one for the
/// database `databases.default.url` names.
pub fn check_migrations_for_database(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(database) = ctx.settings.databases.get(crate::db::DEFAULT_ALIAS) else {
        return vec![];
    };
    let scheme = database
        .url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default();
    let Some(backend) = crate::db::backend_of_scheme(&scheme) else {
        return vec![];
    };
    debug_assert!(BACKENDS.iter().any(|(_, name)| *name == backend));
    migrations::sets(ctx.project)
        .iter()
        // Broken file names are E020's.
        .filter(|set| set.problems().is_empty())
        .filter_map(|set| set.for_backend(backend).err())
        .map(|error| {
            let problem = crate::error::Problem {
                message: format!("{error} (the database of databases.default.url)"),
                hint: error.hint(),
            };
            CheckMessage::of(Level::Error, "nuages.E021", problem)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::project::App;
    use sqlx::migrate::Migrator;

    /// A migrator of `files` (name, SQL), as `sqlx::migrate!` embeds them.
    fn migrator(files: &[(&str, &str)]) -> &'static Migrator {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in files {
            std::fs::write(dir.path().join(name), sql).unwrap();
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let migrator = runtime.block_on(Migrator::new(dir.path())).unwrap();
        Box::leak(Box::new(migrator))
    }

    fn messages(files: &[(&str, &str)], url: &str) -> Vec<CheckMessage> {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(dir.path());
        settings.databases.get_mut("default").unwrap().url = url.to_string();
        let project = project_in(dir.path()).apps(vec![
            App::new("polls", dir.path()).with_migrations(migrator(files)),
        ]);
        let ctx = CheckContext::new(&settings, &project);
        let mut out = check_migration_files(&ctx);
        out.extend(check_migrations_for_database(&ctx));
        out
    }

    const SQLITE: &str = "sqlite://db/db.sqlite3";
    const POSTGRES: &str = "postgres://site@localhost/site";

    /// A file sqlx would skip without a word is named, with a name it runs.
    #[test]
    fn sql_files_migrate_would_never_run_are_w017() {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("src/polls/migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        for name in [
            "1_initial.sql",
            "0002_choices.sql",
            "initial.sql",
            "3-votes.sql",
            "notes.txt",
        ] {
            std::fs::write(migrations.join(name), "SELECT 1;").unwrap();
        }
        let settings = settings_in(dir.path());
        let project =
            project_in(dir.path()).apps(vec![App::new("polls", dir.path().join("src/polls"))]);
        let found = check_migration_file_names(&CheckContext::new(&settings, &project));
        assert_eq!(ids(&found), ["nuages.W017", "nuages.W017"]);
        assert_eq!(
            found[0].problem.message,
            format!(
                "{} is not named <number>_<description>.sql: migrate never runs it",
                migrations.join("3-votes.sql").display()
            )
        );
        assert_eq!(
            found[0].problem.hint.as_deref(),
            Some("rename it with a number first, after the app's last migration: 3_votes.sql")
        );
        assert!(
            found[1]
                .problem
                .message
                .contains("initial.sql is not named")
        );
        // An app whose folder is not there (a binary away from its sources).
        let elsewhere =
            project_in(dir.path()).apps(vec![App::new("polls", dir.path().join("gone"))]);
        assert_eq!(
            check_migration_file_names(&CheckContext::new(&settings, &elsewhere)),
            vec![]
        );
    }

    #[test]
    fn plain_files_and_variants_that_cover_the_database_pass() {
        let files = [
            ("1_initial.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);"),
            (
                "1_initial.postgres.sql",
                "CREATE TABLE a (id BIGSERIAL PRIMARY KEY);",
            ),
            ("2_index.sql", "CREATE INDEX a_id ON a (id);"),
            ("3_only.sqlite.sql", "SELECT 1;"),
            ("3_only.postgres.sql", "SELECT 1;"),
        ];
        assert_eq!(messages(&files, SQLITE), vec![]);
        assert_eq!(messages(&files, POSTGRES), vec![]);
    }

    #[test]
    fn a_migration_without_a_file_for_the_database_is_e021() {
        let files = [("1_initial.postgres.sql", "SELECT 1;")];
        assert_eq!(messages(&files, POSTGRES), vec![]);
        let found = messages(&files, SQLITE);
        assert_eq!(ids(&found), ["nuages.E021"]);
        assert_eq!(
            found[0].problem.message,
            "migration polls.1_initial has no file for SQLite (the database of databases.default.url)"
        );
        assert_eq!(
            found[0].problem.hint.as_deref(),
            Some(
                "add 1_initial.sql (SQL for every database) or 1_initial.sqlite.sql in the app's migrations folder"
            )
        );
    }

    #[test]
    fn unknown_databases_and_clashing_numbers_are_e020() {
        let found = messages(&[("1_initial.sql", ""), ("1_initial.pg.sql", "")], SQLITE);
        assert_eq!(ids(&found), ["nuages.E020"]);
        assert_eq!(
            found[0].problem.message,
            "migration 1_initial.pg.sql of polls has a file for 'pg', which is not a database Nuages knows"
        );
        assert_eq!(
            found[0].problem.hint.as_deref(),
            Some("name it 1_initial.postgres.sql or 1_initial.sqlite.sql")
        );
        let found = messages(
            &[("1_initial.sql", ""), ("1_init.postgres.sql", "")],
            POSTGRES,
        );
        assert_eq!(ids(&found), ["nuages.E020"]);
        assert!(
            found[0].problem.message.ends_with(
                "numbered 1 are different migrations: 1_initial.sql, 1_init.postgres.sql"
            ) || found[0].problem.message.ends_with(
                "numbered 1 are different migrations: 1_init.postgres.sql, 1_initial.sql"
            ),
            "{}",
            found[0].problem.message
        );
        // A dot in a description followed by digits is not a database.
        assert_eq!(messages(&[("1_v1.2.sql", "")], SQLITE), vec![]);
    }

    /// The labels of the apps with migrations in a project `site` (with
    /// migrations of its own when `own`): E049's messages.
    fn label_messages(own: bool, labels: &[&str]) -> Vec<CheckMessage> {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let files = migrator(&[("1_initial.sql", "SELECT 1;")]);
        let mut project = project_in(dir.path());
        if own {
            project = project.with_migrations(files);
        }
        let apps = labels
            .iter()
            .map(|label| App::new(label, dir.path()).with_migrations(files))
            .collect();
        let project = project.apps(apps);
        check_migration_labels(&CheckContext::new(&settings, &project))
    }

    #[test]
    fn migration_sets_that_would_share_a_table_are_e049() {
        assert_eq!(label_messages(true, &["polls", "blog"]), vec![]);
        // Without migrations of its own, the project's name is free.
        assert_eq!(label_messages(false, &["site"]), vec![]);
        for (own, labels, owners) in [
            (
                false,
                &["auth"][..],
                "the framework's users and the app auth",
            ),
            (
                false,
                &["sessions"][..],
                "the framework's sessions and the app sessions",
            ),
            (
                true,
                &["site"][..],
                "the project's own migrations and the app site",
            ),
            (
                false,
                &["polls", "polls"][..],
                "the app polls and the app polls",
            ),
        ] {
            let found = label_messages(own, labels);
            assert_eq!(ids(&found), ["nuages.E049"], "{labels:?}");
            let label = labels[0];
            assert_eq!(
                found[0].problem.message,
                format!(
                    "{owners} have the migration label '{label}': they would share the table _nuages_migrations_{label}, and each would take the other's migrations for its own"
                )
            );
            assert!(
                found[0]
                    .problem
                    .hint
                    .as_deref()
                    .unwrap()
                    .starts_with(&format!(
                        "give the app another label (App::new(\"{label}_app\""
                    )),
                "{:?}",
                found[0].problem.hint
            );
        }
    }
}
