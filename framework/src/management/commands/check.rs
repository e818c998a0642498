//! `check [--deploy] [--fail-level L] [--tag T]… [--list-tags] [--format
//! text|json] [--user NAME]`: the system checks, with Django's output.
//!
//! A report with issues goes to stderr:
//!
//! ```text
//! System check identified some issues:
//!
//! WARNINGS:
//! ?: (security.W004) You have not set a value for the secure_hsts_seconds setting. …
//!     HINT: set secure_hsts_seconds = 3600 …   (after a tab)
//!
//! System check identified 1 issue (0 silenced).
//! ```
//!
//! and a clean one to stdout: `System check identified no issues (0
//! silenced).` The command exits 1 when an issue is at or above
//! `--fail-level` (default ERROR), and then, as Django's, starts its report
//! with `SystemCheckError: `. `--format json` prints one JSON array of
//! `{id, level, message, hint}` to stdout instead.
//!
//! File permissions are judged for `--user NAME`, else the `serve_user`
//! setting, else the user running `check`.

use clap::{Arg, ArgAction, ArgMatches};

use crate::checks::files::Identity;
use crate::checks::{CheckContext, Level, Report, Stream, available_tags, run_checks};
use crate::management::{Command, CommandContext, CommandError, outln};

/// `manage check`.
pub struct Check;

const LEVELS: [&str; 5] = ["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"];

impl Command for Check {
    fn name(&self) -> &'static str {
        "check"
    }

    fn about(&self) -> &'static str {
        "Run the system checks (--deploy for production settings)"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("deploy")
                    .long("deploy")
                    .action(ArgAction::SetTrue)
                    .help("Check deployment settings too"),
            )
            .arg(
                Arg::new("fail-level")
                    .long("fail-level")
                    .value_name("LEVEL")
                    .default_value("ERROR")
                    .value_parser(clap::builder::PossibleValuesParser::new(LEVELS))
                    .ignore_case(true)
                    .help("Exit 1 when a message is at or above this level"),
            )
            .arg(
                Arg::new("tag")
                    .long("tag")
                    .short('t')
                    .value_name("TAG")
                    .action(ArgAction::Append)
                    .help("Run only the checks with this tag (repeatable)"),
            )
            .arg(
                Arg::new("list-tags")
                    .long("list-tags")
                    .action(ArgAction::SetTrue)
                    .help("List the available tags"),
            )
            .arg(
                Arg::new("format")
                    .long("format")
                    .value_name("FORMAT")
                    .default_value("text")
                    .value_parser(["text", "json"])
                    .help(
                        "text (Django's report) or json (an array of {id, level, message, hint})",
                    ),
            )
            .arg(
                Arg::new("user")
                    .long("user")
                    .value_name("NAME")
                    .help(
                        "Judge file permissions for the user the server runs as (default: serve_user, else you)",
                    ),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let deploy = args.get_flag("deploy");
        let project = ctx.project();
        let available = available_tags(project, deploy);
        if args.get_flag("list-tags") {
            for tag in &available {
                outln!("{tag}")?;
            }
            return Ok(());
        }
        let tags: Vec<String> = args
            .get_many::<String>("tag")
            .unwrap_or_default()
            .cloned()
            .collect();
        if let Some(unknown) = tags.iter().find(|tag| !available.contains(tag.as_str())) {
            let deploy_only = !deploy && available_tags(project, true).contains(unknown.as_str());
            let listed = available.iter().copied().collect::<Vec<_>>().join(", ");
            let hint = if deploy_only {
                format!(
                    "the \"{unknown}\" checks run only with --deploy; without it the tags are: {listed}"
                )
            } else {
                format!("the tags are: {listed}")
            };
            return Err(CommandError::usage(
                format!("there is no system check with the \"{unknown}\" tag"),
                Some(&hint),
            ));
        }
        let user = args.get_one::<String>("user").cloned();
        if let Some(name) = &user {
            Identity::of_user(name).map_err(|e| CommandError::Usage(e.problem()))?;
        }
        let fail_level = args
            .get_one::<String>("fail-level")
            .and_then(|l| Level::parse(l))
            .unwrap_or(Level::Error);
        let settings = ctx.settings()?;
        let mut check_ctx = CheckContext::new(settings, project).with_deploy(deploy);
        if user.is_some() {
            check_ctx = check_ctx.for_user(user);
        }
        let report = run_checks(&check_ctx, &tags);
        if args.get_one::<String>("format").map(String::as_str) == Some("json") {
            outln!("{}", report.to_json())?;
        } else {
            print_report(&report, fail_level)?;
        }
        if report.fails(fail_level) {
            return Err(CommandError::Exit(1));
        }
        Ok(())
    }
}

/// The checks a server runs before it starts, as Django's `runserver` does:
/// `Performing system checks...`, then the report. `runserver` passes
/// `deploy = false`, `serve` passes `true`. An error (or critical) message
/// stops the server: the result is [`CommandError::Report`] with the report,
/// which prints it and exits 1. File permissions are judged for the user the
/// server runs as: this process's, whatever `serve_user` says.
/// `allowed` names the ids the server's own flags allow (`serve
/// --allow-debug` allows `nuages.E017`); `bind_flag` is `serve --bind`,
/// judged where the checks would judge `serve_bind`.
pub fn startup_checks(
    ctx: &CommandContext,
    deploy: bool,
    allowed: &[&str],
    bind_flag: Option<&str>,
) -> Result<(), CommandError> {
    outln!("Performing system checks...")?;
    outln!()?;
    let settings = ctx.settings()?;
    let mut report = run_checks(
        &CheckContext::new(settings, ctx.project())
            .with_deploy(deploy)
            .with_bind_flag(bind_flag)
            .for_user(Identity::current().name),
        &[],
    );
    // Counted as silenced, as if listed in silenced_system_checks; not
    // added there, where nuages.W046 would take them for the user's.
    let before = report.messages.len();
    report
        .messages
        .retain(|message| !allowed.contains(&message.id.as_str()));
    report.silenced += before - report.messages.len();
    if report.fails(Level::Error) {
        // Returned, not printed: the development reloader shows it on the page too.
        return Err(CommandError::Report(report.render(Level::Error).0));
    }
    print_report(&report, Level::Error)
}

/// The report where it belongs: a clean one on stdout, issues on stderr.
fn print_report(report: &Report, fail_level: Level) -> Result<(), CommandError> {
    match report.render(fail_level) {
        (text, Stream::Stdout) => outln!("{text}"),
        (text, Stream::Stderr) => {
            crate::management::output::eprintln(format_args!("{text}"));
            Ok(())
        }
    }
}
