//! `showurls`: every route with its name and view.

use clap::ArgMatches;

use crate::management::{Command, CommandContext, CommandError, outln};

/// `manage showurls`.
pub struct ShowUrls;

impl Command for ShowUrls {
    fn name(&self) -> &'static str {
        "showurls"
    }

    fn about(&self) -> &'static str {
        "List every URL pattern with its name and view"
    }

    fn handle(&self, ctx: &CommandContext, _: &ArgMatches) -> Result<(), CommandError> {
        let resolver = ctx.project().urlconf().resolver()?;
        let rows: Vec<(String, String, String)> = resolver
            .routes()
            .iter()
            .map(|route| {
                (
                    format!("/{}", route.pattern),
                    route.name.clone().unwrap_or_else(|| "-".into()),
                    route.view.clone(),
                )
            })
            .collect();
        let width_pattern = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let width_name = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        for (pattern, name, view) in rows {
            outln!("{pattern:width_pattern$}  {name:width_name$}  {view}")?;
        }
        Ok(())
    }
}
