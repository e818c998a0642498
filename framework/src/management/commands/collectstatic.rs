//! `collectstatic [--noinput] [--clear] [--dry-run] [--ignore P]…
//! [--no-default-ignore] [--link] [--no-post-process]`: gather the static
//! files into `static_root` for the web server. The work is done by
//! [`crate::staticfiles::collect()`].

use std::io::IsTerminal;

use clap::{Arg, ArgAction, ArgMatches};

use crate::management::{Command, CommandContext, CommandError};
use crate::staticfiles::collect::{
    CollectOptions, Console, Unfinished, collect_listing_unfinished,
};

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
        // Watched from before the first file is written.
        let unfinished = Unfinished::default();
        let watched = unfinished.clone();
        let watcher = ctx.block_on(async {
            tokio::spawn(remove_unfinished_on(stop_signals(), watched)).abort_handle()
        });
        let collected = collect_listing_unfinished(
            settings,
            ctx.project().installed_apps(),
            &options,
            &mut console,
            &unfinished,
        );
        watcher.abort();
        collected.map(|_| ()).map_err(CommandError::Failed)
    }
}

/// Waits (on the runtime's threads, while `collect` works on others) for
/// Ctrl-C, SIGTERM or SIGHUP; then removes the temporary files not yet
/// renamed into place, says so, and ends the process with 128 + the signal,
/// as a shell reports a command a signal stopped. Without it the signal's
/// default action left each file being written as a hidden, half-written
/// `.xxxxxxxx` in `static_root`, for good. A signal ignored when the
/// command starts (SIGHUP under `nohup`) stays ignored.
async fn remove_unfinished_on(
    mut watched: Vec<(tokio::signal::unix::Signal, libc::c_int)>,
    unfinished: Unfinished,
) {
    if watched.is_empty() {
        return;
    }
    let received = futures_util::future::select_all(
        watched
            .iter_mut()
            .map(|(stream, number)| Box::pin(async move { stream.recv().await.map(|_| *number) })),
    )
    .await
    .0;
    let Some(number) = received else {
        return;
    };
    let removed = unfinished.remove_all();
    crate::management::output::eprintln(format_args!(
        "\nerror: collectstatic was interrupted ({removed} unfinished {} removed; the files \
         copied before stay in static_root)\n  hint: run collectstatic again to finish: it \
         copies only what is missing or changed",
        if removed == 1 { "file" } else { "files" }
    ));
    std::process::exit(128 + number);
}

/// Ctrl-C, SIGTERM and SIGHUP, those not ignored, caught from now on (in
/// a runtime).
fn stop_signals() -> Vec<(tokio::signal::unix::Signal, libc::c_int)> {
    use tokio::signal::unix::{SignalKind, signal};
    [
        (SignalKind::interrupt(), libc::SIGINT),
        (SignalKind::terminate(), libc::SIGTERM),
        (SignalKind::hangup(), libc::SIGHUP),
    ]
    .into_iter()
    .filter(|(_, number)| !is_ignored(*number))
    .filter_map(|(kind, number)| Some((signal(kind).ok()?, number)))
    .collect()
}

/// Whether `number`'s action is to ignore it (`nohup`, a service manager).
fn is_ignored(number: libc::c_int) -> bool {
    // SAFETY: sigaction with no new action only fills `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(number, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}
