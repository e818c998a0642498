//! `sendtestemail ADDRESS… [--admins] [--managers]`, as Django's: a test
//! mail to each address (from `default_from_email`), and to the `admins` or
//! the `managers` (from `server_email`, the subject after
//! `email_subject_prefix`), through the `email_backend` of the settings.
//! Exits 1 with the reason and the settings to look at when a mail does not
//! go out.

use clap::{Arg, ArgAction, ArgMatches};

use crate::mail::Mailer;
use crate::management::{Command, CommandContext, CommandError, outln};

/// `manage sendtestemail`.
pub struct SendTestEmail;

impl Command for SendTestEmail {
    fn name(&self) -> &'static str {
        "sendtestemail"
    }

    fn about(&self) -> &'static str {
        "Send a test email to the given addresses (and the admins or managers) to check the email settings"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("email")
                    .value_name("ADDRESS")
                    .num_args(0..)
                    .help("Addresses to send the test email to"),
            )
            .arg(
                Arg::new("managers")
                    .long("managers")
                    .action(ArgAction::SetTrue)
                    .help("Send a test email to the addresses of the managers setting"),
            )
            .arg(
                Arg::new("admins")
                    .long("admins")
                    .action(ArgAction::SetTrue)
                    .help("Send a test email to the addresses of the admins setting"),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let recipients: Vec<&str> = args
            .get_many::<String>("email")
            .unwrap_or_default()
            .map(String::as_str)
            .collect();
        let (managers, admins) = (args.get_flag("managers"), args.get_flag("admins"));
        if recipients.is_empty() && !managers && !admins {
            return Err(CommandError::usage(
                "no recipient: give email addresses, or --managers or --admins",
                Some("manage sendtestemail you@example.com (or --admins, --managers)"),
            ));
        }
        let settings = ctx.settings()?;
        for (flag, key, list) in [
            (admins, "admins", &settings.admins),
            (managers, "managers", &settings.managers),
        ] {
            if flag && list.is_empty() {
                return Err(CommandError::failed(
                    format!("--{key} was given and the {key} setting is empty: nobody to send to"),
                    Some(&format!(
                        "set {key} = [\"Name <name@example.com>\"] in the settings file"
                    )),
                ));
            }
        }
        let mailer = Mailer::new(settings)?;
        let subject = format!(
            "Test email from {} on {}",
            hostname(),
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S%:z")
        );
        ctx.block_on(async {
            if !recipients.is_empty() {
                mailer
                    .send_mail(
                        &subject,
                        "If you're reading this, it was successful.",
                        None,
                        &recipients,
                    )
                    .await
                    .map_err(mail_failed)?;
                say(
                    ctx,
                    &format!("Sent a test email to {}.", recipients.join(", ")),
                )?;
            }
            if managers {
                mailer
                    .mail_managers(&subject, "This email was sent to the site managers.")
                    .await
                    .map_err(mail_failed)?;
                say(ctx, "Sent a test email to the managers.")?;
            }
            if admins {
                mailer
                    .mail_admins(&subject, "This email was sent to the site admins.")
                    .await
                    .map_err(mail_failed)?;
                say(ctx, "Sent a test email to the admins.")?;
            }
            Ok(())
        })
    }
}

fn mail_failed(error: crate::mail::MailError) -> CommandError {
    CommandError::Failed(error.problem().clone())
}

fn say(ctx: &CommandContext, line: &str) -> Result<(), CommandError> {
    if ctx.verbosity() >= 1 {
        outln!("{line}")?;
    }
    Ok(())
}

/// This machine's name, as Django's `socket.gethostname()`.
fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length.
    let status = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if status != 0 {
        return "localhost".to_string();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}
