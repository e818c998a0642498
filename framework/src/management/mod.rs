//! The project's command line, as Django's `manage.py`: a registry of
//! commands, one file each under [`commands`], plus the project's own.
//!
//! A project's `src/main.rs` is one line:
//!
//! ```no_run
//! # mod mysite { pub mod wsgi {
//! #   pub fn project() -> nuages::Project { nuages::Project::new("mysite", ".") }
//! # } }
//! fn main() -> std::process::ExitCode {
//!     nuages::management::execute_from_command_line(mysite::wsgi::project())
//! }
//! ```
//!
//! The settings file is chosen once (`--settings`, else `NUAGES_SETTINGS`,
//! else the project's default) and loaded once, with the project's own
//! sections; commands build the application from those settings.
//!
//! Every command takes `--settings FILE` and `-v/--verbosity 0..3`. Errors
//! print `error: …` and `  hint: …` on stderr; exit 1 for a failed command,
//! 2 for a usage error.

pub mod commands;
pub mod manifest;
pub mod names;
pub mod output;
pub(crate) mod prompt;
pub(crate) use output::outln;
pub mod scaffold;

use std::cell::{OnceCell, RefCell};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub use clap::{self, ArgMatches};
use clap::{Arg, ArgAction};

use crate::conf::Settings;
use crate::db::Databases;
use crate::error::{Error, Problem};
use crate::handler::Application;
use crate::project::Project;

/// A management command: `manage <name> …`.
///
/// ```
/// use nuages::management::{Command, CommandContext, CommandError};
///
/// struct Hello;
/// impl Command for Hello {
///     fn name(&self) -> &'static str { "hello" }
///     fn about(&self) -> &'static str { "Say hello" }
///     fn handle(&self, ctx: &CommandContext, _: &clap::ArgMatches) -> Result<(), CommandError> {
///         // As `println!`, but `manage hello | head -c1` ends quietly.
///         nuages::management::output::print(format_args!("hello from {}\n", ctx.project().name()))
///     }
/// }
/// ```
pub trait Command: Send + Sync {
    /// The name typed after `manage`.
    fn name(&self) -> &'static str;
    /// One line for `manage help`.
    fn about(&self) -> &'static str;
    /// Add the command's arguments.
    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
    }
    /// Run it.
    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError>;
}

/// A command that failed, and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The command ran and failed (exit 1).
    #[error("{0}")]
    Failed(Problem),
    /// The command was called wrongly (exit 2); the hint says how to call it.
    #[error("{0}")]
    Usage(Problem),
    /// The command failed with a report to print as it is (the system
    /// checks' report); exit 1.
    #[error("{0}")]
    Report(String),
    /// The command reported its own output and only needs a non-zero exit.
    #[error("exit status {0}")]
    Exit(u8),
}

impl CommandError {
    /// A failure with a message and an optional hint.
    pub fn failed(message: impl Into<String>, hint: Option<&str>) -> Self {
        CommandError::Failed(Problem::maybe_hinted(message, hint))
    }

    /// A usage error with a message and an optional hint.
    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        CommandError::Usage(Problem::maybe_hinted(message, hint))
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Failed(_) | CommandError::Report(_) => 1,
            CommandError::Usage(_) => 2,
            CommandError::Exit(code) => *code,
        }
    }

    /// What [`report`](CommandError::report) prints: the problem's
    /// [`Problem::report`], or the report; nothing for [`CommandError::Exit`].
    pub fn text(&self) -> Option<String> {
        match self {
            CommandError::Failed(problem) | CommandError::Usage(problem) => Some(problem.report()),
            CommandError::Report(text) => Some(text.clone()),
            CommandError::Exit(_) => None,
        }
    }

    /// Print `error: …` and `  hint: …` (or the report) to stderr.
    pub fn report(&self) {
        if let Some(text) = self.text() {
            crate::management::output::eprintln(format_args!("{text}"));
        }
    }
}

impl From<Problem> for CommandError {
    fn from(problem: Problem) -> Self {
        CommandError::Failed(problem)
    }
}

impl From<Error> for CommandError {
    fn from(error: Error) -> Self {
        CommandError::Failed(error.problem())
    }
}

impl From<crate::conf::SettingsError> for CommandError {
    fn from(error: crate::conf::SettingsError) -> Self {
        CommandError::from(Error::from(error))
    }
}

/// What a running command can reach: the project, its settings, its
/// application, and an async runtime.
pub struct CommandContext {
    project: Project,
    settings_file: crate::conf::SelectedSettings,
    verbosity: u8,
    verbosity_given: bool,
    settings: OnceCell<Settings>,
    runtime: OnceCell<tokio::runtime::Runtime>,
    databases: OnceCell<Databases>,
    /// The states of the applications built, whose pools close at the end.
    applications: RefCell<Vec<Arc<crate::state::AppState>>>,
}

impl CommandContext {
    /// The project.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// The selected settings file.
    pub fn settings_path(&self) -> &std::path::Path {
        &self.settings_file.path
    }

    /// `-v/--verbosity`: 0 quiet, 1 normal (default), 2 verbose, 3 very verbose.
    pub fn verbosity(&self) -> u8 {
        self.verbosity
    }

    /// The verbosity for the logger, if the user gave one.
    pub fn verbosity_flag(&self) -> Option<u8> {
        self.verbosity_given.then_some(self.verbosity)
    }

    /// The loaded settings (loaded once).
    pub fn settings(&self) -> Result<&Settings, CommandError> {
        if let Some(settings) = self.settings.get() {
            return Ok(settings);
        }
        let settings = self.project.load_selected_settings(&self.settings_file)?;
        Ok(self.settings.get_or_init(|| settings))
    }

    /// Build the project's application with the loaded settings; its
    /// database pools close when the command ends.
    pub fn application(&self) -> Result<Application, CommandError> {
        let settings = self.settings()?.clone();
        let application = Application::new(self.project.clone(), settings)?;
        self.applications
            .borrow_mut()
            .push(application.state().clone());
        Ok(application)
    }

    /// The databases of the loaded settings, opened on first use and closed
    /// when the command ends (see [`Databases::close`]).
    pub fn databases(&self) -> Result<&Databases, CommandError> {
        if let Some(databases) = self.databases.get() {
            return Ok(databases);
        }
        let databases = Databases::new(self.settings()?);
        Ok(self.databases.get_or_init(|| databases))
    }

    /// The default database, for a command that needs the tables of every
    /// migration of the project (a project's `seed`): refused, exit 1, when
    /// one is not applied (naming them, with `manage migrate` to run) or
    /// one is left as `migrate` refuses to run over (in `migrate`'s words,
    /// with the fix), instead of failing on "no such table". A SQLite file
    /// not there yet is refused too, and not created.
    pub fn migrated_database(&self) -> Result<sqlx::AnyPool, CommandError> {
        let sets = crate::migrations::all_sets(&self.project, self.settings()?);
        self.database_migrated_for(&sets)
    }

    /// [`migrated_database`](Self::migrated_database) for the migrations of
    /// `sets` only (the user commands need `auth`'s).
    pub(crate) fn database_migrated_for(
        &self,
        sets: &[crate::migrations::MigrationSet],
    ) -> Result<sqlx::AnyPool, CommandError> {
        let databases = self.databases()?;
        Ok(self.block_on(async {
            // Asked through a read-only pool: a database it refuses (an
            // empty file made by hand) is left exactly as it was.
            let read_only = databases.get_read_only(crate::db::DEFAULT_ALIAS).await?;
            crate::migrations::require_migrated(&read_only, sets).await?;
            databases.get_existing(crate::db::DEFAULT_ALIAS).await
        })?)
    }

    /// `error` with its hint naming the database it came from, where the
    /// pools the command opened tell it ([`crate::db::name_the_database`]).
    fn name_the_database(&self, error: CommandError) -> CommandError {
        let CommandError::Failed(Problem {
            message,
            hint: Some(hint),
        }) = error
        else {
            return error;
        };
        let applications = self.applications.borrow();
        let mut databases: Vec<&Databases> = applications
            .iter()
            .map(|application| &application.databases)
            .collect();
        databases.extend(self.databases.get());
        CommandError::Failed(Problem {
            message,
            hint: Some(crate::db::name_the_database(hint, &databases)),
        })
    }

    /// Close the pools the command opened, so that SQLite's write-ahead
    /// log is in the database file when the process exits.
    fn close(&self) {
        if self.runtime.get().is_none() {
            // Nothing async ran: no pool was opened.
            return;
        }
        let applications = self.applications.take();
        self.block_on(async {
            if let Some(databases) = self.databases.get() {
                databases.close().await;
            }
            for application in &applications {
                application.databases.close().await;
            }
        });
    }

    /// Run a future to completion on the command's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_multi_thread()
                    // Request lines are written when a worker goes idle
                    // (see `logging`).
                    .on_thread_park(crate::logging::flush_request_lines)
                    .on_thread_stop(crate::logging::flush_request_lines)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime")
            })
            .block_on(future)
    }
}

/// The project's command line: the built-in commands and the project's own.
pub struct ManagementUtility {
    project: Project,
    commands: Vec<Arc<dyn Command>>,
}

impl ManagementUtility {
    /// The built-in commands for `project`, and those of its apps.
    pub fn new(project: Project) -> Self {
        let mut commands: Vec<Arc<dyn Command>> =
            commands::builtin().into_iter().map(Arc::from).collect();
        for app in project.installed_apps() {
            for command in app.commands() {
                commands.retain(|c| c.name() != command.name());
                commands.push(command.clone());
            }
        }
        ManagementUtility { project, commands }
    }

    /// Add a command of the project's (a command of the same name replaces
    /// the built-in one).
    pub fn command(mut self, command: impl Command + 'static) -> Self {
        self.commands.retain(|c| c.name() != command.name());
        self.commands.push(Arc::new(command));
        self
    }

    /// Parse the process's arguments, run the command, and return the exit code.
    pub fn execute(self) -> ExitCode {
        self.execute_from(std::env::args_os())
    }

    /// The same with explicit arguments (the first is the program name).
    pub fn execute_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        match self.run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                error.report();
                ExitCode::from(error.exit_code())
            }
        }
    }

    fn cli(&self) -> clap::Command {
        let mut cli = clap::Command::new(self.project.name().to_string())
            .about(format!(
                "Management commands of the {} project (Nuages {})",
                self.project.name(),
                crate::VERSION
            ))
            .version(crate::VERSION)
            .subcommand_required(true)
            .arg_required_else_help(true)
            .arg(
                Arg::new("settings")
                    .long("settings")
                    .value_name("FILE")
                    .global(true)
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("The settings file (beats NUAGES_SETTINGS)"),
            )
            .arg(
                Arg::new("verbosity")
                    .short('v')
                    .long("verbosity")
                    .value_name("N")
                    .global(true)
                    .action(ArgAction::Set)
                    .value_parser(clap::value_parser!(u8).range(0..=3))
                    .help("0 quiet, 1 normal, 2 verbose, 3 very verbose"),
            );
        let mut sorted: Vec<&Arc<dyn Command>> = self.commands.iter().collect();
        sorted.sort_by_key(|c| c.name());
        for command in sorted {
            cli = cli.subcommand(
                command.arguments(clap::Command::new(command.name()).about(command.about())),
            );
        }
        cli
    }

    fn run<I, T>(self, args: I) -> Result<(), CommandError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches = match self.cli().try_get_matches_from(&args) {
            Ok(matches) => matches,
            Err(error) => return Err(self.clap_error(error)),
        };
        let (name, sub_matches) = matches.subcommand().expect("a subcommand is required");
        let command = self
            .commands
            .iter()
            .find(|c| c.name() == name)
            .expect("clap only accepts registered commands");
        let flag = sub_matches.get_one::<PathBuf>("settings");
        let verbosity = sub_matches.get_one::<u8>("verbosity").copied();
        let context = CommandContext {
            settings_file: self.project.settings_file(flag.map(PathBuf::as_path))?,
            project: self.project.clone(),
            verbosity: verbosity.unwrap_or(1),
            verbosity_given: verbosity.is_some(),
            settings: OnceCell::new(),
            runtime: OnceCell::new(),
            databases: OnceCell::new(),
            applications: RefCell::default(),
        };
        let result = command
            .handle(&context, sub_matches)
            .map_err(|error| context.name_the_database(error));
        context.close();
        result
    }

    /// Clap writes help and version itself (through [`output::written`]); an unknown command gets our
    /// `error:` / `hint:` pair with the closest command.
    fn clap_error(&self, error: clap::Error) -> CommandError {
        use clap::error::ErrorKind;
        match error.kind() {
            // On standard output: one that cannot be written is an error,
            // as for every command.
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => output::written(error.print())
                .err()
                .unwrap_or(CommandError::Exit(0)),
            // On standard error, as a usage error.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                let _ = error.print();
                CommandError::Exit(2)
            }
            ErrorKind::InvalidSubcommand => {
                // The name clap could not match, not the first word that is
                // not a command: that could be an option's value
                // (`--settings s.toml flush`).
                let typed = match error.get(clap::error::ContextKind::InvalidSubcommand) {
                    Some(clap::error::ContextValue::String(name)) => name.clone(),
                    _ => String::new(),
                };
                let names = self.commands.iter().map(|c| c.name());
                let hint = if let Some(way) = nuages_way_of_django_command(&typed) {
                    format!("{way}; 'help' lists every command")
                } else if let Some(close) = crate::conf::closest_name(&typed, names) {
                    format!("did you mean '{close}'? 'help' lists every command")
                } else {
                    "'help' lists every command".to_string()
                };
                CommandError::Usage(
                    Problem::new(format!("unknown command '{typed}'")).with_hint(hint),
                )
            }
            _ => {
                let _ = error.print();
                CommandError::Exit(2)
            }
        }
    }
}

/// Django commands Nuages has no command for, and how a Nuages project does
/// their work. Without it the closest name would be offered, and
/// `makemigrations` would get "did you mean 'showmigrations'?".
const DJANGO_COMMANDS: &[(&str, &str)] = &[
    (
        "makemigrations",
        "Nuages does not write migrations: add an SQL file to the app's migrations folder \
         (src/APP/migrations/<number>_<description>.sql, numbered after the last one), \
         then run `manage migrate`",
    ),
    (
        "sqlmigrate",
        "a Nuages migration is already SQL: read src/APP/migrations/<number>_<description>.sql",
    ),
    ("test", "run the project's tests with `cargo test`"),
    (
        "dbshell",
        "open the database of databases.default.url with its own client \
         (`sqlite3 db/db.sqlite3`, or `psql` with the URL)",
    ),
    (
        "shell",
        "Nuages has no interactive shell: write the code as a command of the project's own \
         (App::with_command) or as a test (`cargo test`)",
    ),
];

/// How a Nuages project does the work of the Django command `typed`, if
/// Nuages has no command of that name.
fn nuages_way_of_django_command(typed: &str) -> Option<&'static str> {
    DJANGO_COMMANDS
        .iter()
        .find(|(django, _)| *django == typed)
        .map(|(_, way)| *way)
}

/// Run the project's command line with the process's arguments.
pub fn execute_from_command_line(project: Project) -> ExitCode {
    ManagementUtility::new(project).execute()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `manage ARGS` reports on stderr in a project with no apps, and its exit code.
    fn run_reported(args: &[&str]) -> (String, u8) {
        let folder = tempfile::tempdir().unwrap();
        let project = Project::new("site", folder.path());
        let error = ManagementUtility::new(project)
            .run(std::iter::once("site").chain(args.iter().copied()))
            .expect_err("an unknown command fails");
        (error.text().unwrap_or_default(), error.exit_code())
    }

    #[test]
    fn django_commands_nuages_lacks_name_the_nuages_way() {
        let (text, code) = run_reported(&["makemigrations"]);
        assert_eq!(code, 2);
        assert!(
            text.starts_with("error: unknown command 'makemigrations'\n"),
            "{text}"
        );
        assert!(
            text.contains("add an SQL file to the app's migrations folder")
                && text.contains("`manage migrate`"),
            "{text}"
        );
        assert!(!text.contains("showmigrations"), "{text}");
        let (text, _) = run_reported(&["test"]);
        assert!(text.contains("`cargo test`"), "{text}");
    }

    #[test]
    fn an_unknown_command_after_global_options_is_named() {
        for args in [
            &["--settings", "s.toml", "flush"][..],
            &["-v", "2", "flush"],
            &["--settings=s.toml", "flush"],
        ] {
            let (text, code) = run_reported(args);
            assert_eq!(code, 2, "{args:?}");
            assert!(
                text.starts_with("error: unknown command 'flush'\n"),
                "{args:?}: {text}"
            );
        }
    }

    #[test]
    fn a_typo_still_gets_the_closest_command() {
        let (text, code) = run_reported(&["migrat"]);
        assert_eq!(code, 2);
        assert!(text.contains("did you mean 'migrate'?"), "{text}");
    }
}
