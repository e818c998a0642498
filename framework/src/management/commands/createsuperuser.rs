//! `createsuperuser [--username U] [--email E] [--noinput [--password-stdin]]`:
//! create a user with every permission, as Django's.
//!
//! Interactive (stdin is a terminal): asks for the username (the system
//! user's name by default), the email address and the password twice
//! (not echoed); the password validators run, and a refused password may be
//! kept after Django's "Bypass password validation and create user anyway?
//! [y/N]". Without a terminal it refuses and says to use `--noinput`.
//!
//! `--noinput`: `--username` is required; the password is read from stdin
//! with `--password-stdin`, else the user gets an unusable password (as
//! Django without `DJANGO_SUPERUSER_PASSWORD`, which is not read) and can be
//! given one with `changepassword`; a warning on stderr says so. Unlike Django, a password given this way must pass the
//! validators: there is nobody to ask whether to bypass them.

use clap::{Arg, ArgAction, ArgMatches};
use sqlx::AnyPool;

use crate::auth::models::{normalize_username, validate_email, validate_username};
use crate::auth::{NewUser, PasswordHashers, PasswordValidators, User, UserAttributes};
use crate::forms::null_characters_error;
use crate::management::prompt::{self, ask, ask_secret, complain};
use crate::management::{Command, CommandContext, CommandError};

/// `manage createsuperuser`.
pub struct CreateSuperuser;

/// What the user commands need: the default database, with the auth tables,
/// and the password settings.
pub(crate) struct Accounts {
    pub pool: AnyPool,
    pub hashers: PasswordHashers,
    pub validators: PasswordValidators,
}

impl Accounts {
    /// Open the default database; refused as
    /// [`CommandContext::migrated_database`] refuses it when the auth
    /// migrations are not applied (naming them, and `manage migrate`) or
    /// are left as `migrate` refuses to run over (half-applied…, in its
    /// words, with the fix), or when the SQLite file is not there yet (it
    /// is not created).
    pub(crate) fn open(ctx: &CommandContext) -> Result<Accounts, CommandError> {
        let settings = ctx.settings()?;
        let hashers = PasswordHashers::from_settings(settings)?;
        let validators = PasswordValidators::from_settings(settings)?;
        let pool = ctx.database_migrated_for(&[crate::auth::migration_set()])?;
        Ok(Accounts {
            pool,
            hashers,
            validators,
        })
    }

    pub(crate) fn find(
        &self,
        ctx: &CommandContext,
        username: &str,
    ) -> Result<Option<User>, CommandError> {
        Ok(ctx.block_on(User::get_by_username(&self.pool, username))?)
    }
}

/// What a blank password (spaces only too) says, as Django's commands.
pub(crate) const BLANK_PASSWORD: &str = "Blank passwords aren't allowed.";

/// The hint of a password with a NUL given on stdin.
pub(crate) const NULL_PASSWORD_HINT: &str = "give the password without its NUL character \
     (the login form refuses one, so the password could never be typed in); nothing was changed";

/// Why `password`, typed or piped to `createsuperuser` or `changepassword`,
/// is refused whatever the validators say (no bypass): blank (Django's
/// `password.strip() == ""`), or holding a NUL, which the login form and
/// the password forms refuse ([`null_characters_error`]).
pub(crate) fn unusable_password_error(password: &str) -> Option<&'static str> {
    if password.trim().is_empty() {
        Some(BLANK_PASSWORD)
    } else {
        null_characters_error(password)
    }
}

impl Command for CreateSuperuser {
    fn name(&self) -> &'static str {
        "createsuperuser"
    }

    fn about(&self) -> &'static str {
        "Create a user with every permission"
    }

    fn arguments(&self, command: clap::Command) -> clap::Command {
        command
            .arg(
                Arg::new("username")
                    .long("username")
                    .value_name("USERNAME")
                    .help("The superuser's username"),
            )
            .arg(
                Arg::new("email")
                    .long("email")
                    .value_name("EMAIL")
                    .help("The superuser's email address"),
            )
            .arg(
                Arg::new("noinput")
                    .long("noinput")
                    .alias("no-input")
                    .action(ArgAction::SetTrue)
                    .help("Ask nothing: --username is required"),
            )
            .arg(
                Arg::new("password-stdin")
                    .long("password-stdin")
                    .action(ArgAction::SetTrue)
                    .requires("noinput")
                    .help("With --noinput, read the password from stdin (else the password is unusable)"),
            )
    }

    fn handle(&self, ctx: &CommandContext, args: &ArgMatches) -> Result<(), CommandError> {
        let username = args.get_one::<String>("username").cloned();
        let email = args.get_one::<String>("email").cloned();
        if args.get_flag("noinput") {
            let Some(username) = username else {
                return Err(CommandError::failed(
                    "You must use --username with --noinput.",
                    Some(
                        "createsuperuser --noinput --username NAME [--email EMAIL] [--password-stdin]",
                    ),
                ));
            };
            let password = if args.get_flag("password-stdin") {
                Some(prompt::password_from_stdin()?)
            } else {
                None
            };
            return create_without_input(ctx, &username, email.as_deref().unwrap_or(""), password);
        }
        if !prompt::stdin_is_terminal() {
            return Err(CommandError::failed(
                "Superuser creation skipped: not running in a terminal.",
                Some(
                    "run `manage createsuperuser` in a terminal, or pass everything: \
                     `manage createsuperuser --noinput --username NAME --email EMAIL --password-stdin`",
                ),
            ));
        }
        create_interactively(ctx, username, email)
    }
}

fn create_without_input(
    ctx: &CommandContext,
    username: &str,
    email: &str,
    password: Option<String>,
) -> Result<(), CommandError> {
    let accounts = Accounts::open(ctx)?;
    let username = &normalize_username(username);
    validate_username(username).map_err(|message| {
        CommandError::failed(
            format!("--username {username:?}: {message}"),
            Some("give --username a name of letters, digits and @/./+/-/_ (150 at most); nothing was changed"),
        )
    })?;
    if accounts.find(ctx, username)?.is_some() {
        return Err(CommandError::failed(
            "That username is already taken.",
            Some(&format!(
                "choose another --username, or set this user's password with \
                 `manage changepassword {username}`; nothing was changed"
            )),
        ));
    }
    if !email.is_empty() {
        validate_email(email).map_err(|message| {
            CommandError::failed(
                format!("--email {email:?}: {message}"),
                Some("give --email an address such as name@example.com, or leave --email out; nothing was changed"),
            )
        })?;
    }
    if let Some(password) = &password {
        if let Some(message) = unusable_password_error(password) {
            let hint = if message == BLANK_PASSWORD {
                "put the password on stdin (echo \"$PASSWORD\" | manage createsuperuser … \
                 --password-stdin), or leave out --password-stdin for a user without a \
                 usable password; nothing was changed"
            } else {
                NULL_PASSWORD_HINT
            };
            return Err(CommandError::failed(message, Some(hint)));
        }
        let user = UserAttributes {
            username,
            email,
            ..UserAttributes::default()
        };
        accounts
            .validators
            .validate(password, Some(&user))
            .map_err(|errors| {
                CommandError::failed(
                    errors.join("\n"),
                    Some("choose a stronger password (the validators are set by auth_password_validators)"),
                )
            })?;
    }
    insert_superuser(ctx, &accounts, username, email, password.as_deref())?;
    if password.is_none() {
        warn_unusable_password(username);
    }
    Ok(())
}

/// The environment variable Django's `createsuperuser --noinput` reads the
/// password from; Nuages reads it from stdin with `--password-stdin`.
const DJANGO_PASSWORD_VARIABLE: &str = "DJANGO_SUPERUSER_PASSWORD";

/// Say on stderr that the new superuser cannot log in yet, and how to give
/// it a password: a user who piped a password without `--password-stdin`,
/// or set Django's variable, would otherwise believe the password was set.
fn warn_unusable_password(username: &str) {
    let ignored = if std::env::var_os(DJANGO_PASSWORD_VARIABLE).is_some() {
        format!(" ({DJANGO_PASSWORD_VARIABLE} is not read)")
    } else {
        String::new()
    };
    crate::management::output::eprintln(format_args!(
        "warning: {username} has no usable password and cannot log in{ignored}\n  \
         hint: set one with `manage changepassword {username}`, or create the user \
         with the password on stdin and --password-stdin"
    ));
}

fn insert_superuser(
    ctx: &CommandContext,
    accounts: &Accounts,
    username: &str,
    email: &str,
    password: Option<&str>,
) -> Result<(), CommandError> {
    let created = format!("created the superuser {username:?}");
    let new = NewUser {
        username,
        email,
        password,
        is_staff: true,
        is_superuser: true,
    };
    ctx.block_on(User::create(&accounts.pool, &accounts.hashers, new))?;
    if ctx.verbosity() >= 1 {
        // Created: the user must not run the command again into "already exists".
        crate::management::output::print_done(
            &created,
            format_args!("Superuser created successfully.\n"),
        )?;
    }
    Ok(())
}

fn create_interactively(
    ctx: &CommandContext,
    mut username: Option<String>,
    mut email: Option<String>,
) -> Result<(), CommandError> {
    let accounts = Accounts::open(ctx)?;
    // The system user's name is offered when it would do.
    let default_username = crate::checks::files::current_user_name().filter(|name| {
        validate_username(name).is_ok() && matches!(accounts.find(ctx, name), Ok(None))
    });
    let username = loop {
        let candidate = match username.take() {
            Some(given) => given,
            None => {
                let question = match &default_username {
                    Some(name) => format!("Username (leave blank to use '{name}'): "),
                    None => "Username: ".to_string(),
                };
                let answer = ask(&question)?;
                match (&default_username, answer.is_empty()) {
                    (Some(name), true) => name.clone(),
                    _ => answer,
                }
            }
        };
        let candidate = normalize_username(&candidate);
        if let Err(message) = validate_username(&candidate) {
            complain(&message);
        } else if accounts.find(ctx, &candidate)?.is_some() {
            complain("That username is already taken.");
        } else {
            break candidate;
        }
    };
    let email = loop {
        let candidate = match email.take() {
            Some(given) => given,
            None => ask("Email address: ")?,
        };
        match validate_email(&candidate) {
            Err(message) if !candidate.is_empty() => complain(&message),
            _ => break candidate,
        }
    };
    let attributes = UserAttributes {
        username: &username,
        email: &email,
        ..UserAttributes::default()
    };
    let password = loop {
        let password = ask_secret("Password: ")?;
        if ask_secret("Password (again): ")? != password {
            complain("Your passwords didn't match.");
            continue;
        }
        if let Some(message) = unusable_password_error(&password) {
            complain(message);
            continue;
        }
        if let Err(errors) = accounts.validators.validate(&password, Some(&attributes)) {
            crate::management::output::eprintln(format_args!("{}", errors.join("\n")));
            let bypass = ask("Bypass password validation and create user anyway? [y/N]: ")?;
            if !bypass.trim().eq_ignore_ascii_case("y") {
                continue;
            }
        }
        break password;
    };
    insert_superuser(ctx, &accounts, &username, &email, Some(&password))
}
