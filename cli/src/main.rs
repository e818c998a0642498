//! `manage`: Nuages' django-admin. `startproject` and `startapp` work
//! anywhere; any other command runs inside a project, through the project's
//! own binary, which `manage` builds with cargo first (with `manage
//! --release`, the release build: `cargo build --release`).

mod delegate;
mod startapp;
mod startproject;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nuages::Problem;
use nuages::management::CommandError;
use nuages::management::{manifest, output};

/// The Nuages command line.
#[derive(Parser)]
#[command(
    name = "manage",
    disable_help_subcommand = true,
    version = version_line(),
    about = "Nuages, a Django-style web framework for Rust",
    after_help = "Inside a project every other command (runserver, check, collectstatic, migrate, …) runs the project's binary: `manage help` there lists them. `manage --release COMMAND` runs the release build, as production does (`manage --release serve`)."
)]
struct Cli {
    /// Run the project's release build (`cargo build --release`): the optimised
    /// binary production runs
    #[arg(long)]
    release: bool,
    /// Inside a project: the settings file its command loads (beats NUAGES_SETTINGS)
    #[arg(long, value_name = "FILE")]
    settings: Option<OsString>,
    /// Inside a project: 0 quiet, 1 normal, 2 verbose, 3 very verbose
    #[arg(short = 'v', long, value_name = "N")]
    verbosity: Option<OsString>,
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Create a project: NAME in ./NAME, or in DIR
    Startproject(startproject::Args),
    /// Create an app in src/NAME/ of the current project
    Startapp(startapp::Args),
    /// Any command of the project here (runserver, check, migrate, …)
    #[command(external_subcommand)]
    Project(Vec<OsString>),
}

/// `manage help`: the project's commands inside a project, ours outside.
fn help(
    args: Vec<OsString>,
    profile: delegate::Profile,
    globals: &[OsString],
) -> anyhow::Result<ExitCode> {
    let here = std::env::current_dir()?;
    // A broken Cargo.toml is reported rather than taken for "no project here".
    if manifest::find_project(&here)
        .map_err(CommandError::Failed)?
        .is_some()
    {
        return delegate::run(args, profile, globals);
    }
    use clap::CommandFactory;
    output::written(Cli::command().print_help())?;
    Ok(ExitCode::SUCCESS)
}

/// A command for the project's binary; outside a project, a typo of one of
/// our own commands gets the closest of them.
fn project_command(
    args: Vec<OsString>,
    profile: delegate::Profile,
    globals: &[OsString],
) -> anyhow::Result<ExitCode> {
    let typed = args
        .first()
        .map(|a| a.to_string_lossy().to_string())
        .unwrap_or_default();
    let outside = manifest::find_project(&std::env::current_dir()?)
        .map_err(CommandError::Failed)?
        .is_none();
    if outside && let Some(close) = closest_global_command(&typed) {
        let problem = Problem::new(format!("unknown command '{typed}'")).with_hint(format!(
            "did you mean '{close}'? `manage --help` lists the commands"
        ));
        return Err(CommandError::Usage(problem).into());
    }
    delegate::run(args, profile, globals)
}

/// `--settings FILE` and `--verbosity N` given before the command: options
/// of the project's binary, passed on to it before its command, as typed.
fn project_globals(cli: &Cli) -> Vec<OsString> {
    let mut globals = Vec::new();
    if let Some(file) = &cli.settings {
        globals.extend(["--settings".into(), file.clone()]);
    }
    if let Some(level) = &cli.verbosity {
        globals.extend(["--verbosity".into(), level.clone()]);
    }
    globals
}

/// `--settings`, `--verbosity` or `--release` before startproject or
/// startapp, which load no settings and build nothing: refused (exit 2)
/// rather than silently ignored.
fn refuse_globals(command: &str, release: bool, globals: &[OsString]) -> anyhow::Result<()> {
    let option = match (release, globals.first()) {
        (true, _) => "--release".into(),
        (false, Some(option)) => option.to_string_lossy(),
        (false, None) => return Ok(()),
    };
    let problem = Problem::new(format!(
        "{option} is an option of a project's commands (runserver, check, migrate, …); {command} takes none"
    ))
    .with_hint(format!("run `manage {command} …` without {option}"));
    Err(CommandError::Usage(problem).into())
}

/// The command of ours (startproject, startapp, help) closest to `typed`.
fn closest_global_command(typed: &str) -> Option<String> {
    use clap::CommandFactory;
    let cli = Cli::command();
    let names = cli.get_subcommands().map(|c| c.get_name()).chain(["help"]);
    nuages::conf::closest_name(typed, names).map(str::to_string)
}

fn version_line() -> String {
    format!(
        "{} (scaffolds projects for Nuages {})",
        env!("CARGO_PKG_VERSION"),
        nuages::VERSION
    )
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version on standard output: one that cannot be written
        // is an error, as for every command.
        Err(error)
            if matches!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            return match output::written(error.print()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    error.report();
                    ExitCode::from(error.exit_code())
                }
            };
        }
        Err(error) => error.exit(),
    };
    let profile = if cli.release {
        delegate::Profile::Release
    } else {
        delegate::Profile::Debug
    };
    let globals = project_globals(&cli);
    let result = match cli.command {
        Commands::Startproject(args) => refuse_globals("startproject", cli.release, &globals)
            .and_then(|()| startproject::run(args)),
        Commands::Startapp(args) => {
            refuse_globals("startapp", cli.release, &globals).and_then(|()| startapp::run(args))
        }
        Commands::Project(args) if args.first().is_some_and(|a| a == "help") => {
            help(args, profile, &globals)
        }
        Commands::Project(args) => project_command(args, profile, &globals),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // Our errors are command errors, with their hint and exit code;
            // any other (an I/O error) fails the command with its causes.
            let error = error
                .downcast::<CommandError>()
                .unwrap_or_else(|other| CommandError::Failed(Problem::new(format!("{other:#}"))));
            error.report();
            ExitCode::from(error.exit_code())
        }
    }
}
