//! Passwords: hashers and validators the application can build (every
//! `check`), and, for deployment, a first hasher strong enough to store new
//! passwords (`check --deploy`).

use super::startup::refused;
use super::{Check, CheckContext, CheckMessage};
use crate::auth::hashers::{ARGON2_MIN_COST, PBKDF2_MIN_ITERATIONS};
use crate::auth::{Hasher, PasswordHashers, PasswordValidators};

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "password_settings",
            tags: &["settings", "auth"],
            deploy: false,
            run: check_password_settings,
        },
        Check {
            name: "password_hasher_strength",
            tags: &["auth"],
            deploy: true,
            run: check_password_hasher_strength,
        },
    ]
}

/// `nuages.E040`: `password_hashers` empty, naming an unknown hasher, or
/// with Argon2 parameters Argon2 refuses; `nuages.E044`:
/// `auth_password_validators` naming an unknown validator; `nuages.E048`:
/// a `password_reset_timeout` of 0. The application refuses to start with
/// any of them, with the same message.
pub fn check_password_settings(ctx: &CheckContext) -> Vec<CheckMessage> {
    let hashers = PasswordHashers::from_settings(ctx.settings)
        .err()
        .map(|error| refused("nuages.E040", error));
    let validators = PasswordValidators::from_settings(ctx.settings)
        .err()
        .map(|error| refused("nuages.E044", error));
    let reset_timeout = crate::auth::password_reset::check_timeout(ctx.settings)
        .err()
        .map(|error| refused("nuages.E048", error));
    hashers
        .into_iter()
        .chain(validators)
        .chain(reset_timeout)
        .collect()
}

/// `nuages.E041`: the first hasher is `md5`; `nuages.E042`: it is `argon2`
/// with less than OWASP's minimum cost; `nuages.E043`: it is
/// `pbkdf2_sha256` with fewer rounds than Django's.
pub fn check_password_hasher_strength(ctx: &CheckContext) -> Vec<CheckMessage> {
    let settings = ctx.settings;
    let Some(first) = settings.password_hashers.first() else {
        return vec![];
    };
    let message = match Hasher::named(first, settings) {
        Some(Hasher::Md5) => CheckMessage::error(
            "nuages.E041",
            "password_hashers starts with \"md5\": new passwords would be stored as salted MD5, \
             which a stolen database gives up in seconds",
            "put \"argon2\" first: password_hashers = [\"argon2\", \"pbkdf2_sha256\"] (the default); \
             keep \"md5\" after it only while old MD5 hashes remain to be upgraded",
        ),
        Some(Hasher::Argon2 {
            memory_cost,
            time_cost,
            ..
        }) if u64::from(memory_cost) * u64::from(time_cost) < ARGON2_MIN_COST => {
            CheckMessage::error(
                "nuages.E042",
                format!(
                    "argon2_memory_cost = {memory_cost} with argon2_time_cost = {time_cost} is weaker \
                     than OWASP's minimum for Argon2id (19456 KiB for 2 passes)"
                ),
                "remove argon2_memory_cost and argon2_time_cost to use the defaults (19456 and 2), \
                 or raise them so that memory × passes is at least 38912",
            )
        }
        Some(Hasher::Pbkdf2Sha256 { iterations }) if iterations < PBKDF2_MIN_ITERATIONS => {
            CheckMessage::error(
                "nuages.E043",
                format!(
                    "pbkdf2_iterations = {iterations} is below Django's {PBKDF2_MIN_ITERATIONS} \
                     while \"pbkdf2_sha256\" hashes new passwords"
                ),
                format!(
                    "remove pbkdf2_iterations (the default is {PBKDF2_MIN_ITERATIONS}), or put \
                     \"argon2\" first in password_hashers"
                ),
            )
        }
        _ => return vec![],
    };
    vec![message]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::conf::Settings;

    fn run(settings: &Settings, deploy: bool) -> Vec<CheckMessage> {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let ctx = CheckContext::new(settings, &project).with_deploy(deploy);
        let mut messages = check_password_settings(&ctx);
        if deploy {
            messages.extend(check_password_hasher_strength(&ctx));
        }
        messages
    }

    #[test]
    fn the_defaults_pass() {
        assert!(run(&Settings::default(), true).is_empty());
    }

    #[test]
    fn unknown_names_are_errors_with_the_closest_name() {
        let settings = Settings {
            password_hashers: vec!["argon".into()],
            auth_password_validators: vec!["comon".into()],
            ..Settings::default()
        };
        let messages = run(&settings, false);
        assert_eq!(ids(&messages), ["nuages.E040", "nuages.E044"]);
        assert_eq!(
            messages[0].message,
            "password_hashers names an unknown hasher \"argon\""
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean \"argon2\"?")
        );
        assert!(
            messages[1]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean \"common\"?")
        );
    }

    #[test]
    fn a_zero_password_reset_timeout_is_an_error() {
        let settings = Settings {
            password_reset_timeout: 0,
            ..Settings::default()
        };
        let messages = run(&settings, false);
        assert_eq!(ids(&messages), ["nuages.E048"]);
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("259200 seconds"),
            "{messages:?}"
        );
    }

    #[test]
    fn weak_first_hashers_are_deploy_errors() {
        let md5_first = Settings {
            password_hashers: vec!["md5".into(), "argon2".into()],
            ..Settings::default()
        };
        assert!(run(&md5_first, false).is_empty(), "tests may use md5");
        let messages = run(&md5_first, true);
        assert_eq!(ids(&messages), ["nuages.E041"]);
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("put \"argon2\" first")
        );

        let md5_second = Settings {
            password_hashers: vec!["argon2".into(), "md5".into()],
            ..Settings::default()
        };
        assert!(
            run(&md5_second, true).is_empty(),
            "md5 may verify old hashes"
        );

        let weak_argon2 = Settings {
            argon2_memory_cost: 4096,
            ..Settings::default()
        };
        assert_eq!(ids(&run(&weak_argon2, true)), ["nuages.E042"]);
        let traded = Settings {
            argon2_memory_cost: 12_288,
            argon2_time_cost: 4,
            ..Settings::default()
        };
        assert!(run(&traded, true).is_empty(), "less memory, more passes");

        let few_rounds = Settings {
            password_hashers: vec!["pbkdf2_sha256".into()],
            pbkdf2_iterations: 600_000,
            ..Settings::default()
        };
        let messages = run(&few_rounds, true);
        assert_eq!(ids(&messages), ["nuages.E043"]);
        assert!(
            messages[0]
                .message
                .starts_with("pbkdf2_iterations = 600000 is below Django's 1000000")
        );
        let few_rounds_second = Settings {
            pbkdf2_iterations: 600_000,
            ..Settings::default()
        };
        assert!(
            run(&few_rounds_second, true).is_empty(),
            "only the first hashes new passwords"
        );
    }
}
