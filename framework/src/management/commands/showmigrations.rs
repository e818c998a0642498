//! `showmigrations`: each app's migrations, `[X]` applied and `[ ]` pending.

use clap::ArgMatches;

use crate::db::DEFAULT_ALIAS;
use crate::management::{Command, CommandContext, CommandError, outln};
use crate::migrations;

/// `manage showmigrations`.
pub struct ShowMigrations;

impl Command for ShowMigrations {
    fn name(&self) -> &'static str {
        "showmigrations"
    }

    fn about(&self) -> &'static str {
        "List the migrations of the project and its apps, applied or not"
    }

    fn handle(&self, ctx: &CommandContext, _: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        let sets = migrations::all_sets(ctx.project(), settings);
        // A SQLite file not there yet has nothing applied: said without
        // opening it, which would create it (and its folder), as only
        // `migrate` does.
        let not_created = settings
            .databases
            .get(DEFAULT_ALIAS)
            .and_then(|database| crate::db::sqlite_file(&database.url))
            .is_some_and(|file| !file.exists());
        let states = if not_created {
            migrations::states_of_no_database(&sets, "SQLite")?
        } else {
            let databases = ctx.databases()?;
            ctx.block_on(async {
                let pool = databases.get(DEFAULT_ALIAS).await?;
                migrations::states(&pool, &sets).await
            })?
        };
        for set in &sets {
            outln!("{}", set.label)?;
            let mine: Vec<_> = states.iter().filter(|s| s.label == set.label).collect();
            if mine.is_empty() {
                outln!(" (no migrations)")?;
            }
            for state in mine {
                let mark = if state.applied { "X" } else { " " };
                outln!(
                    " [{mark}] {}_{}",
                    state.version,
                    state.description.replace(' ', "_")
                )?;
            }
        }
        Ok(())
    }
}
