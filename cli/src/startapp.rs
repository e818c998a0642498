//! `manage startapp NAME`: inside a project, without building it.

use std::process::ExitCode;

use nuages::management::commands::startapp::start_app_here;

#[derive(clap::Args)]
pub struct Args {
    /// The app's name: a Rust identifier (polls)
    name: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    start_app_here(&args.name)?;
    Ok(ExitCode::SUCCESS)
}
