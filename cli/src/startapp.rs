//! `manage startapp NAME`: inside a project, without building it.

use std::process::ExitCode;

use nuages::management::commands::startapp::{next_steps, start_app};

use nuages::management::output;

#[derive(clap::Args)]
pub struct Args {
    /// The app's name: a Rust identifier (polls)
    name: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let project = crate::delegate::require_project(&std::env::current_dir()?)?;
    let created = start_app(&project, &args.name)?;
    output::print(format_args!("{}", next_steps(&args.name, &created)))?;
    Ok(ExitCode::SUCCESS)
}
