//! `clearsessions`: delete the expired sessions, as Django's. Only the
//! `db` engine keeps expired sessions around; with the others the command
//! says why there is nothing to do (Django prints nothing: saying so tells
//! an operator the cron job is not needed).

use clap::ArgMatches;

use crate::conf::SessionEngine;
use crate::db::DEFAULT_ALIAS;
use crate::management::{Command, CommandContext, CommandError, outln};

/// `manage clearsessions`.
pub struct ClearSessions;

impl Command for ClearSessions {
    fn name(&self) -> &'static str {
        "clearsessions"
    }

    fn about(&self) -> &'static str {
        "Delete the expired sessions from the database (session_engine = \"db\")"
    }

    fn handle(&self, ctx: &CommandContext, _: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        let verbose = ctx.verbosity() >= 1;
        let note = match settings.session_engine {
            SessionEngine::Db => {
                let databases = ctx.databases()?;
                let deleted = ctx.block_on(async {
                    let pool = databases.get_existing(DEFAULT_ALIAS).await?;
                    crate::sessions::clear_expired(&pool).await
                })?;
                format!("Deleted {deleted} expired session(s).")
            }
            SessionEngine::Cache => format!(
                "Nothing to do: session_engine = \"cache\", and the cache '{}' drops expired sessions itself.",
                settings.session_cache_alias
            ),
            SessionEngine::SignedCookies => "Nothing to do: session_engine = \"signed_cookies\" keeps sessions in the browsers' cookies, which expire there.".to_string(),
        };
        if verbose {
            outln!("{note}")?;
        }
        Ok(())
    }
}
