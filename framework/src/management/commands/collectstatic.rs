//! `collectstatic [--noinput] [--clear] [--dry-run] [--ignore P]…
//! [--no-default-ignore] [--link] [--no-post-process]`: gather the static
//! files into `static_root` for the web server. The work is done by
//! [`crate::staticfiles::collect()`].

use std::io::IsTerminal;

use clap::{Arg, ArgAction, ArgMatches};

use crate::management::{Command, CommandContext, CommandError};
use crate::staticfiles::collect::{CollectOptions, Console, collect};

/// `manage collectstatic`.
pub struct CollectStatic;

impl Command for CollectStatic {
    fn name(&self) -> &'static str {
        "collectstatic"
    }

    fn about(&self) -> &'static str {
        "Collect the static files into static_root"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("noinput")
                    .long("noinput")
                    .alias("no-input")
                    .action(ArgAction::SetTrue)
                    .help("Do not ask for confirmation"),
            )
            .arg(
                Arg::new("clear")
                    .long("clear")
                    .action(ArgAction::SetTrue)
                    .help("Delete every file of static_root before collecting"),
            )
            .arg(
                Arg::new("dry-run")
                    .short('n')
                    .long("dry-run")
                    .action(ArgAction::SetTrue)
                    .help("Say what would be done, change nothing"),
            )
            .arg(
                Arg::new("ignore")
                    .short('i')
                    .long("ignore")
                    .value_name("PATTERN")
                    .action(ArgAction::Append)
                    .help("Leave out files and folders matching this glob (repeatable)"),
            )
            .arg(
                Arg::new("no-default-ignore")
                    .long("no-default-ignore")
                    .action(ArgAction::SetTrue)
                    .help("Do not ignore 'CVS', '.*' and '*~'"),
            )
            .arg(
                Arg::new("link")
                    .short('l')
                    .long("link")
                    .action(ArgAction::SetTrue)
                    .help("Make symbolic links to the sources instead of copies"),
            )
            .arg(
                Arg::new("no-post-process")
                    .long("no-post-process")
                    .action(ArgAction::SetTrue)
                    .help("Do not hash (manifest storage) or compress the collected files"),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let settings = ctx.settings()?;
        let options = CollectOptions {
            interactive: !args.get_flag("noinput"),
            clear: args.get_flag("clear"),
            dry_run: args.get_flag("dry-run"),
            link: args.get_flag("link"),
            post_process: !args.get_flag("no-post-process"),
            ignore_patterns: args
                .get_many::<String>("ignore")
                .map(|patterns| patterns.cloned().collect())
                .unwrap_or_default(),
            use_default_ignore: !args.get_flag("no-default-ignore"),
            verbosity: ctx.verbosity(),
        };
        let stdout = std::io::stdout();
        let terminal = stdout.is_terminal();
        let mut out = stdout.lock();
        let mut input = std::io::stdin().lock();
        let mut console = Console {
            out: &mut out,
            input: &mut input,
            terminal,
        };
        collect(
            settings,
            ctx.project().installed_apps(),
            &options,
            &mut console,
        )
        .map(|_| ())
        .map_err(CommandError::Failed)
    }
}
