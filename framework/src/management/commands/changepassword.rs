//! `changepassword [USERNAME] [--password-stdin]`: set a user's password,
//! as Django's. The username defaults to the system user's name.
//!
//! In a terminal it asks twice (not echoed), runs the password validators,
//! and gives up after 3 refused attempts. Scripts pipe the password with
//! `--password-stdin` (it must pass the validators); without either, it
//! refuses instead of reading a password that would be echoed, once the
//! user is found.

use clap::{Arg, ArgAction, ArgMatches};

use super::createsuperuser::{
    Accounts, BLANK_PASSWORD, NULL_PASSWORD_HINT, unusable_password_error,
};
use crate::management::prompt::{self, ask_secret};
use crate::management::{Command, CommandContext, CommandError, outln};

/// How many refused passwords end an interactive change (Django's 3).
const MAX_TRIES: usize = 3;

/// `manage changepassword`.
pub struct ChangePassword;

impl Command for ChangePassword {
    fn name(&self) -> &'static str {
        "changepassword"
    }

    fn about(&self) -> &'static str {
        "Change a user's password"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("username")
                    .value_name("USERNAME")
                    .help("Whose password to change (default: the system user's name)"),
            )
            .arg(
                Arg::new("password-stdin")
                    .long("password-stdin")
                    .action(ArgAction::SetTrue)
                    .help("Read the new password from stdin instead of asking"),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let username = match args.get_one::<String>("username") {
            Some(name) => name.clone(),
            None => crate::checks::files::current_user_name().ok_or_else(|| {
                CommandError::usage(
                    "the system user has no name to use as the username",
                    Some("name the user: `manage changepassword USERNAME`"),
                )
            })?,
        };
        let from_stdin = args.get_flag("password-stdin");
        let accounts = Accounts::open(ctx)?;
        // As typed, else as createsuperuser and the login form store and
        // read it (NFKC: `ａｄｍｉｎ` is `admin`).
        let found = match accounts.find(ctx, &username)? {
            Some(user) => Some(user),
            None => accounts.find(ctx, &crate::auth::models::normalize_username(&username))?,
        };
        let Some(mut user) = found else {
            return Err(CommandError::failed(
                format!("user '{username}' does not exist"),
                Some("`manage createsuperuser` creates one"),
            ));
        };
        // After the lookup: a user who does not exist is the first thing to
        // fix, however the password would have been given (as Django's).
        if !from_stdin && !prompt::stdin_is_terminal() {
            return Err(CommandError::failed(
                "changepassword asks for the password on a terminal, and stdin is not one",
                Some(
                    "run it in a terminal, or pipe the password: `printf '%s' \"$PASSWORD\" | manage changepassword USERNAME --password-stdin`",
                ),
            ));
        }
        let password = if from_stdin {
            let password = prompt::password_from_stdin()?;
            if let Err(errors) = refusals(&accounts, &user, &password) {
                // An empty stdin (a variable that was not set) is no weak
                // password: say how to give one, as createsuperuser does.
                let hint = match unusable_password_error(&password) {
                    Some(BLANK_PASSWORD) => {
                        "put the password on stdin: `printf '%s' \"$PASSWORD\" | manage changepassword USERNAME --password-stdin`; nothing was changed"
                    }
                    Some(_) => NULL_PASSWORD_HINT,
                    None => {
                        "choose a stronger password (the validators are set by auth_password_validators)"
                    }
                };
                return Err(CommandError::failed(errors.join("\n"), Some(hint)));
            }
            password
        } else {
            outln!("Changing password for user '{}'", user.username)?;
            ask_until_accepted(&accounts, &user)?
        };
        ctx.block_on(user.set_password(&accounts.pool, &accounts.hashers, &password))?;
        outln!("Password changed successfully for user '{}'", user.username)?;
        Ok(())
    }
}

/// Why `password` is refused for `user`: blank or holding a NUL
/// ([`unusable_password_error`]), or the validators' messages.
fn refusals(
    accounts: &Accounts,
    user: &crate::auth::User,
    password: &str,
) -> Result<(), Vec<String>> {
    if let Some(message) = unusable_password_error(password) {
        return Err(vec![message.to_string()]);
    }
    accounts
        .validators
        .validate(password, Some(&user.attributes()))
}

fn ask_until_accepted(
    accounts: &Accounts,
    user: &crate::auth::User,
) -> Result<String, CommandError> {
    let mut refused = 0;
    while refused < MAX_TRIES {
        let password = ask_secret("Password: ")?;
        if ask_secret("Password (again): ")? != password {
            crate::management::output::eprintln(format_args!(
                "Passwords do not match. Please try again."
            ));
            refused += 1;
            continue;
        }
        match refusals(accounts, user, &password) {
            Ok(()) => return Ok(password),
            Err(errors) => {
                crate::management::output::eprintln(format_args!("{}", errors.join("\n")));
                refused += 1;
            }
        }
    }
    Err(CommandError::failed(
        format!(
            "Aborting password change for user '{}' after {MAX_TRIES} attempts",
            user.username
        ),
        None,
    ))
}
