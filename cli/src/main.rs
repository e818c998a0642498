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
fn help(args: Vec<OsString>, profile: delegate::Profile) -> anyhow::Result<ExitCode> {
    let here = std::env::current_dir()?;
    if delegate::find_project(&here).is_ok() {
        return delegate::run(args, profile);
    }
    use clap::CommandFactory;
    Cli::command().print_help()?;
    Ok(ExitCode::SUCCESS)
}

/// A command for the project's binary; outside a project, a typo of one of
/// our own commands gets the closest of them.
fn project_command(args: Vec<OsString>, profile: delegate::Profile) -> anyhow::Result<ExitCode> {
    let typed = args
        .first()
        .map(|a| a.to_string_lossy().to_string())
        .unwrap_or_default();
    let outside = delegate::find_project(&std::env::current_dir()?).is_err();
    if outside && let Some(close) = closest_global_command(&typed) {
        return Err(Hinted::usage(
            format!("unknown command '{typed}'"),
            Some(format!(
                "did you mean '{close}'? `manage --help` lists the commands"
            )),
        ));
    }
    delegate::run(args, profile)
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
    let cli = Cli::parse();
    let profile = if cli.release {
        delegate::Profile::Release
    } else {
        delegate::Profile::Debug
    };
    let result = match cli.command {
        Commands::Startproject(args) => startproject::run(args),
        Commands::Startapp(args) => startapp::run(args),
        Commands::Project(args) if args.first().is_some_and(|a| a == "help") => help(args, profile),
        Commands::Project(args) => project_command(args, profile),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // Our errors carry a hint as their last context line.
            let message = format!("{error:#}");
            let (what, hint) = match error.downcast_ref::<Hinted>() {
                Some(hinted) => (hinted.message.clone(), hinted.hint.clone()),
                None => (message, None),
            };
            eprintln!("error: {what}");
            if let Some(hint) = hint {
                eprintln!("  hint: {hint}");
            }
            let code = error.downcast_ref::<Hinted>().map_or(1, |h| h.exit_code);
            ExitCode::from(code)
        }
    }
}

/// An error with a hint and an exit code, printed as an `error:` / `hint:` pair.
#[derive(Debug)]
pub struct Hinted {
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// 1 for a failed command, 2 for a usage error.
    pub exit_code: u8,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

impl Hinted {
    /// A failed command (exit 1).
    pub fn failed(message: impl Into<String>, hint: impl Into<Option<String>>) -> anyhow::Error {
        anyhow::Error::new(Hinted {
            message: message.into(),
            hint: hint.into(),
            exit_code: 1,
        })
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> anyhow::Error {
        anyhow::Error::new(Hinted {
            message: message.into(),
            hint: hint.into(),
            exit_code: 2,
        })
    }
}

impl From<nuages::management::CommandError> for Hinted {
    fn from(error: nuages::management::CommandError) -> Self {
        use nuages::management::CommandError as E;
        let exit_code = error.exit_code();
        match error {
            E::Failed { message, hint } | E::Usage { message, hint } => Hinted {
                message,
                hint,
                exit_code,
            },
            E::Report(report) => Hinted {
                message: report,
                hint: None,
                exit_code,
            },
            E::Exit(code) => Hinted {
                message: format!("exit status {code}"),
                hint: None,
                exit_code: code,
            },
        }
    }
}
