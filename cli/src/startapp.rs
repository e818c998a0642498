//! `manage startapp NAME`: inside a project, without building it.

use std::process::ExitCode;

use nuages::management::commands::startapp::{next_steps, start_app};

use nuages::management::{CommandError, output};

#[derive(clap::Args)]
pub struct Args {
    /// The app's name: a Rust identifier (polls)
    name: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project =
        crate::delegate::find_project(&std::env::current_dir()?).map_err(CommandError::Usage)?;
    let created = start_app(&project, &args.name)?;
    output::print(format_args!("{}", next_steps(&args.name, &created)))?;
    Ok(ExitCode::SUCCESS)
}
