//! `migrate`: apply the project's and its apps' migrations to the default
//! database (creating the SQLite file and its folder), the framework's
//! `auth` tables first; then insert the permissions the apps declare.

use clap::ArgMatches;

use crate::db::DEFAULT_ALIAS;
use crate::management::{Command, CommandContext, CommandError, outln, output};
use crate::migrations::{self, Progress};

/// `manage migrate`.
pub struct Migrate;

impl Command for Migrate {
    fn name(&self) -> &'static str {
        "migrate"
    }

    fn about(&self) -> &'static str {
        "Apply the project's and its apps' database migrations"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        // Django's `migrate APP [MIGRATION]`, taken only to say what to do
        // instead: clap's own "unexpected argument" named no way forward.
        command.arg(
            clap::Arg::new("django_target")
                .num_args(1..)
                .hide(true)
                .value_name("APP"),
        )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        if let Some(target) = args.get_many::<String>("django_target") {
            let target: Vec<&str> = target.map(String::as_str).collect();
            return Err(CommandError::usage(
                format!(
                    "migrate takes no app or migration name ('{}'): it applies every pending migration of every app, in order",
                    target.join(" ")
                ),
                Some(
                    "run `manage migrate`; Nuages does not migrate back to a migration, so to undo one add a new migration that reverses it; `manage showmigrations` lists what is applied",
                ),
            ));
        }
        let settings = ctx.settings()?;
        if let Some(problem) = migrations::shared_labels(ctx.project()).into_iter().next() {
            return Err(CommandError::Failed(problem));
        }
        let sets = migrations::all_sets(ctx.project(), settings);
        let labels: Vec<&str> = sets.iter().map(|s| s.label.as_str()).collect();
        let verbose = ctx.verbosity() >= 1;
        // The database first, as Django's executor reads it before saying
        // anything: one that cannot be opened is the only thing printed.
        let databases = ctx.databases()?;
        let pool = ctx.block_on(databases.get(DEFAULT_ALIAS))?;
        if verbose {
            outln!("Operations to perform:")?;
            if labels.is_empty() {
                outln!("  No app has migrations.")?;
            } else {
                outln!("  Apply all migrations: {}", labels.join(", "))?;
            }
            outln!("Running migrations:")?;
        }
        let mut lines = Lines {
            verbose,
            open: false,
            unwritten: None,
        };
        let applied = ctx.block_on(async {
            let applied = migrations::apply(&pool, &sets, |progress| lines.show(progress)).await;
            lines.end_failed(applied.is_err());
            let applied = applied?;
            // As Django's post_migrate signal creates permissions.
            crate::auth::sync_permissions(&pool, ctx.project()).await?;
            Ok::<_, crate::Error>(applied)
        })?;
        if let Some(error) = lines.unwritten {
            return Err(error);
        }
        if applied == 0 && verbose {
            outln!("  No migrations to apply.")?;
        }
        Ok(())
    }
}

/// `migrate`'s line of each migration, as Django's: `  Applying
/// polls.1_initial...` written (and flushed) before the migration runs, so
/// that a long one shows what the command is doing, and completed with
/// ` OK` once it is applied, or ` FAILED` when it fails (the error follows
/// on standard error). Output that cannot be written stops the output, not
/// the migrations: the first write error is kept for the end.
struct Lines {
    verbose: bool,
    /// A line was begun and not completed yet.
    open: bool,
    unwritten: Option<CommandError>,
}

impl Lines {
    fn show(&mut self, progress: Progress<'_>) {
        if !self.verbose || self.unwritten.is_some() {
            return;
        }
        let written = match progress {
            Progress::Applying(state) => {
                self.open = true;
                output::print(format_args!("  Applying {}...", state.name()))
            }
            Progress::Applied(_) => {
                self.open = false;
                outln!(" OK")
            }
        };
        self.unwritten = written.err();
    }

    /// Complete the line left open when `failed`: the migration it names
    /// failed.
    fn end_failed(&mut self, failed: bool) {
        if failed && self.open && self.unwritten.is_none() {
            self.open = false;
            // The migration's error is what the user needs; a write error
            // here would hide it.
            let _ = outln!(" FAILED");
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::management::{CommandError, ManagementUtility};
    use crate::project::{App, Project};

    /// An app labelled as the framework's users would record its
    /// migrations in their table: `migrate` refuses before touching the
    /// database, with E049's words.
    #[test]
    fn an_app_labelled_auth_is_refused_before_the_database_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1_initial.sql"), "SELECT 1;").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let migrator = runtime
            .block_on(sqlx::migrate::Migrator::new(dir.path()))
            .unwrap();
        let migrator = Box::leak(Box::new(migrator));
        let settings = sqlite_settings_in(dir.path());
        let project = Project::new("site", dir.path())
            .apps(vec![App::new("auth", dir.path()).with_migrations(migrator)]);
        let result =
            ManagementUtility::new(project).run(["site", "migrate", "--settings", &settings]);
        let Err(CommandError::Failed(problem)) = result else {
            panic!("{result:?}");
        };
        assert!(
            problem.message.starts_with(
                "the framework's users and the app auth have the migration label 'auth'"
            ),
            "{problem:?}"
        );
        assert!(!dir.path().join("db.sqlite3").exists());
    }

    /// Django's `migrate APP [MIGRATION]` is a usage error (exit 2) that says
    /// what `migrate` does and how to undo a migration, before the settings
    /// or the database are touched.
    #[test]
    fn an_app_or_migration_name_is_refused_with_what_migrate_does() {
        let dir = tempfile::tempdir().unwrap();
        let settings = sqlite_settings_in(dir.path());
        for args in [&["polls"][..], &["polls", "0001"]] {
            let project = Project::new("site", dir.path());
            let argv = ["site", "migrate"]
                .into_iter()
                .chain(args.iter().copied())
                .chain(["--settings", &settings]);
            let error = ManagementUtility::new(project).run(argv).unwrap_err();
            assert_eq!(error.exit_code(), 2);
            let CommandError::Usage(problem) = error else {
                panic!("{error:?}");
            };
            assert_eq!(
                problem.message,
                format!(
                    "migrate takes no app or migration name ('{}'): it applies every pending migration of every app, in order",
                    args.join(" ")
                )
            );
            assert!(
                problem.hint.unwrap().starts_with("run `manage migrate`;"),
                "{args:?}"
            );
        }
        assert!(!dir.path().join("db.sqlite3").exists());
    }

    /// A debug settings file in `dir` with an SQLite database there: its path.
    fn sqlite_settings_in(dir: &std::path::Path) -> String {
        let settings = dir.join("settings.toml");
        std::fs::write(
            &settings,
            "debug = true\n[databases.default]\nurl = \"sqlite://db.sqlite3\"\n",
        )
        .unwrap();
        settings.display().to_string()
    }

    /// `manage migrate` of a project whose app `polls` has the migrations
    /// in `dir/migrations` (read now, as `sqlx::migrate!` would at build).
    fn migrate_polls(dir: &std::path::Path, settings: &str) -> Result<(), CommandError> {
        let migrator = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(sqlx::migrate::Migrator::new(dir.join("migrations")))
            .unwrap();
        let project = Project::new("site", dir).apps(vec![
            App::new("polls", dir).with_migrations(Box::leak(Box::new(migrator))),
        ]);
        ManagementUtility::new(project).run(["site", "migrate", "--settings", settings])
    }

    /// A SQLite database another connection keeps locked (a running
    /// server writing, a database browser) is said to be locked, with what
    /// to do: not taken for a migration whose SQL must be fixed. Both
    /// where `migrate` records what it applied (a new database: its tables
    /// are created first) and where it applies a migration; once the other
    /// connection is done, the next run applies it.
    #[test]
    fn a_locked_database_is_not_taken_for_a_broken_migration() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        std::fs::write(
            migrations.join("1_initial.sql"),
            "CREATE TABLE polls_question (id INTEGER PRIMARY KEY);",
        )
        .unwrap();
        let settings = dir.path().join("settings.toml");
        std::fs::write(
            &settings,
            "debug = true\n[databases.default]\nurl = \"sqlite://db.sqlite3\"\nbusy_timeout_ms = 100\n",
        )
        .unwrap();
        let settings = settings.display().to_string();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Another connection, writing and not yet done.
        let lock = || {
            runtime.block_on(async {
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("db.sqlite3").display()
                );
                let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut other)
                    .await
                    .unwrap();
                sqlx::query("BEGIN IMMEDIATE")
                    .execute(&mut other)
                    .await
                    .unwrap();
                other
            })
        };
        let locked_hint = "another process was writing to the database (a running server, another `manage migrate`, a database browser) for longer than databases.default.busy_timeout_ms: run the command again once it is done, or raise that setting";
        let failure = |result: Result<(), CommandError>| {
            let Err(CommandError::Failed(problem)) = result else {
                panic!("{result:?}");
            };
            (problem.message, problem.hint.unwrap_or_default())
        };

        let other = lock();
        let (message, hint) = failure(migrate_polls(dir.path(), &settings));
        assert_eq!(
            message,
            "cannot read or record the applied migrations: the SQLite database is locked by another connection (SQLite: database is locked)"
        );
        assert_eq!(hint, locked_hint);
        runtime.block_on(other.close()).unwrap();
        migrate_polls(dir.path(), &settings).unwrap();

        std::fs::write(
            migrations.join("2_choices.sql"),
            "CREATE TABLE polls_choice (id INTEGER PRIMARY KEY);",
        )
        .unwrap();
        let other = lock();
        let (message, hint) = failure(migrate_polls(dir.path(), &settings));
        assert_eq!(
            message,
            "migration polls.2_choices failed: the SQLite database is locked by another connection (SQLite: database is locked)"
        );
        assert_eq!(
            hint,
            format!(
                "it ran in a transaction, so nothing of it was kept. Its SQL is not the cause: {locked_hint}"
            )
        );
        runtime.block_on(other.close()).unwrap();
        migrate_polls(dir.path(), &settings).unwrap();
    }

    /// A migration the database refuses names the app and the migration
    /// (sqlx's own words give only its number), says what was kept, and
    /// fails the command (exit 1); the migration before it stays applied,
    /// and the next run applies the fixed one.
    #[test]
    fn a_migration_the_database_refuses_is_named_with_its_app() {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        let second = migrations.join("2_choices.sql");
        std::fs::write(
            migrations.join("1_initial.sql"),
            "CREATE TABLE polls_question (id INTEGER PRIMARY KEY);",
        )
        .unwrap();
        let choices = "CREATE TABLE polls_choice (id INTEGER PRIMARY KEY);";
        std::fs::write(&second, format!("{choices} SELECT x FROM missing_table;")).unwrap();
        let settings = sqlite_settings_in(dir.path());

        let error = migrate_polls(dir.path(), &settings).unwrap_err();
        assert_eq!(error.exit_code(), 1);
        let CommandError::Failed(problem) = error else {
            panic!("{error:?}");
        };
        assert!(
            problem
                .message
                .starts_with("migration polls.2_choices failed: ")
                && problem.message.contains("no such table: missing_table"),
            "{problem:?}"
        );
        let hint = problem.hint.unwrap_or_default();
        assert!(
            hint.contains("nothing of it was kept") && hint.contains("manage migrate"),
            "{hint}"
        );

        // 1_initial stayed applied and 2_choices left no table: once fixed,
        // the next run applies it (its CREATE TABLE would fail otherwise).
        std::fs::write(&second, choices).unwrap();
        migrate_polls(dir.path(), &settings).unwrap();
    }
}
