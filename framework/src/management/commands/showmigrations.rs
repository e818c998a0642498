//! `showmigrations`: each app's migrations, `[X]` applied and `[ ]` pending,
//! as Django's; and what `migrate` refuses, with its fix beside it: `[-]`
//! a migration left half-applied, `[?]` one the database records that no
//! file defines, `[X]` with a note one changed after it was applied.

use clap::ArgMatches;

use crate::db::DEFAULT_ALIAS;
use crate::management::{Command, CommandContext, CommandError, outln};
use crate::migrations::{self, Status};

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
        let databases = ctx.databases()?;
        // A SQLite file not there yet has nothing applied, as Django's
        // `showmigrations` lists a new project's migrations all `[ ]`: said
        // without opening it, which would create it (and its folder), as
        // only `migrate` does. One that is there is only read.
        let states = if databases.sqlite_file_not_created(DEFAULT_ALIAS).is_some() {
            migrations::states_of_no_database(&sets, "SQLite")?
        } else {
            ctx.block_on(async {
                let pool = databases.get_read_only(DEFAULT_ALIAS).await?;
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
                let mark = match state.status {
                    Status::Pending => ' ',
                    Status::Applied | Status::Changed => 'X',
                    Status::HalfApplied => '-',
                    Status::NoFile => '?',
                };
                match state.trouble() {
                    Some(trouble) => outln!(" [{mark}] {} ({trouble})", state.file_stem())?,
                    None => outln!(" [{mark}] {}", state.file_stem())?,
                }
            }
        }
        Ok(())
    }
}
