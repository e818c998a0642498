//! `migrate`: apply the project's and its apps' migrations to the default
//! database (creating the SQLite file and its folder), the framework's
//! `auth` tables first; then insert the permissions the apps declare.

use clap::ArgMatches;

use crate::db::{DEFAULT_ALIAS, Databases};
use crate::management::{Command, CommandContext, CommandError, outln};
use crate::migrations;

/// `manage migrate`.
pub struct Migrate;

impl Command for Migrate {
    fn name(&self) -> &'static str {
        "migrate"
    }

    fn about(&self) -> &'static str {
        "Apply the project's and its apps' database migrations"
    }

    fn handle(&self, ctx: &CommandContext, _: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        let sets = migrations::all_sets(ctx.project(), settings);
        let labels: Vec<&str> = sets.iter().map(|s| s.label.as_str()).collect();
        let verbose = ctx.verbosity() >= 1;
        if verbose {
            outln!("Operations to perform:")?;
            if labels.is_empty() {
                outln!("  No app has migrations.")?;
            } else {
                outln!("  Apply all migrations: {}", labels.join(", "))?;
            }
            outln!("Running migrations:")?;
        }
        let databases = Databases::new(settings);
        // Output that cannot be written stops the output, not the migrations.
        let mut unwritten = None;
        let applied = ctx.block_on(async {
            let pool = databases.get(DEFAULT_ALIAS).await?;
            let applied = migrations::apply(&pool, &sets, |state| {
                if verbose && unwritten.is_none() {
                    unwritten = outln!("  Applying {}... OK", state.name()).err();
                }
            })
            .await?;
            // As Django's post_migrate signal creates permissions.
            crate::auth::sync_permissions(&pool, ctx.project()).await?;
            Ok::<_, crate::Error>(applied)
        })?;
        if let Some(error) = unwritten {
            return Err(error);
        }
        if applied == 0 && verbose {
            outln!("  No migrations to apply.")?;
        }
        Ok(())
    }
}
