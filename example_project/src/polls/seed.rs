//! `manage seed`: sample questions, so the example has something to show.
//! Adds them only to an empty table: running it again changes nothing.

use nuages::management::{Command, CommandContext, CommandError, output};
use nuages::timezone;

use super::models::Question;

/// The `seed` command of the polls app.
pub struct Seed;

const SAMPLES: &[(&str, &[&str])] = &[
    (
        "What's new?",
        &["Not much", "The sky", "Just hacking again"],
    ),
    ("Which web framework?", &["Django", "Nuages", "Both"]),
    ("Tabs or spaces?", &["Tabs", "Spaces"]),
];

impl Command for Seed {
    fn name(&self) -> &'static str {
        "seed"
    }

    fn about(&self) -> &'static str {
        "Add sample poll questions (only when there are none)"
    }

    fn handle(
        &self,
        ctx: &CommandContext,
        _: &nuages::management::ArgMatches,
    ) -> Result<(), CommandError> {
        // A database not migrated (or not made yet) is refused, naming the
        // migrations to apply, rather than failing on a missing table.
        let pool = ctx.migrated_database()?;
        let added = ctx.block_on(async {
            if Question::count(&pool).await? > 0 {
                return Ok::<_, nuages::Error>(0);
            }
            let published =
                timezone::to_db(timezone::now() - timezone::chrono::Duration::minutes(10));
            for (text, choices) in SAMPLES {
                Question::create(&pool, text, &published, choices).await?;
            }
            Ok(SAMPLES.len())
        })?;
        // Not `println!`, which panics when the reader of a pipe is gone.
        if added == 0 {
            output::print(format_args!(
                "The polls already have questions; nothing added.\n"
            ))
        } else {
            output::print(format_args!("Added {added} sample questions.\n"))
        }
    }
}
