//! Password validators, as Django's `AUTH_PASSWORD_VALIDATORS` defaults:
//! the `auth_password_validators` setting lists them by name, and each one
//! gives Django's message when it refuses a password.
//!
//! - `user_attribute_similarity`: too similar to the username, the email
//!   address (or a part of it), the first or the last name;
//! - `minimum_length`: shorter than `password_min_length` (8);
//! - `common`: among Django's 19,640 common passwords (shipped with the
//!   crate, `common-passwords.txt.gz`, BSD-licensed by the Django Software
//!   Foundation, see `COMMON-PASSWORDS-LICENSE` next to it);
//! - `numeric`: only digits.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::OnceLock;

use crate::conf::Settings;
use crate::error::Result;

/// Django's list, gzipped: one lowercase password a line.
const COMMON_PASSWORDS_GZ: &[u8] = include_bytes!("common-passwords.txt.gz");

/// The common passwords, decompressed once per process on first use: a
/// cache of data compiled into the binary, not application state.
fn common_passwords() -> &'static HashSet<String> {
    static PASSWORDS: OnceLock<HashSet<String>> = OnceLock::new();
    PASSWORDS.get_or_init(|| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(COMMON_PASSWORDS_GZ)
            .read_to_string(&mut text)
            .expect("the embedded common-passwords list is valid gzip and UTF-8");
        text.lines().map(|line| line.trim().to_string()).collect()
    })
}

/// What a password is compared with: the user it is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserAttributes<'a> {
    /// The username.
    pub username: &'a str,
    /// The email address.
    pub email: &'a str,
    /// The first name.
    pub first_name: &'a str,
    /// The last name.
    pub last_name: &'a str,
}

/// One validator.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordValidator {
    /// Refuse a password too similar to the user's attributes: Python's
    /// `SequenceMatcher.quick_ratio` of 0.7 or more, as Django.
    UserAttributeSimilarity,
    /// Refuse a password shorter than this many characters.
    MinimumLength(usize),
    /// Refuse a password of Django's common-passwords list (any case).
    Common,
    /// Refuse a password made of digits only.
    Numeric,
}

/// Django's `max_similarity` default.
const MAX_SIMILARITY: f64 = 0.7;

impl PasswordValidator {
    /// The names the `auth_password_validators` setting takes.
    pub const NAMES: &'static [&'static str] = &[
        "user_attribute_similarity",
        "minimum_length",
        "common",
        "numeric",
    ];

    /// Why `password` is refused, if it is (Django's message).
    pub fn validate(&self, password: &str, user: Option<&UserAttributes>) -> Option<String> {
        match self {
            PasswordValidator::UserAttributeSimilarity => too_similar(password, user?)
                .map(|attribute| format!("The password is too similar to the {attribute}.")),
            PasswordValidator::MinimumLength(min) => (password.chars().count() < *min).then(|| {
                format!(
                    "This password is too short. It must contain at least {min} character{}.",
                    if *min == 1 { "" } else { "s" }
                )
            }),
            PasswordValidator::Common => common_passwords()
                .contains(password.trim().to_lowercase().as_str())
                .then(|| "This password is too common.".to_string()),
            PasswordValidator::Numeric => (!password.is_empty()
                && password.chars().all(char::is_numeric))
            .then(|| "This password is entirely numeric.".to_string()),
        }
    }

    /// What it asks of a password (Django's help text).
    pub fn help_text(&self) -> String {
        match self {
            PasswordValidator::UserAttributeSimilarity => {
                "Your password can’t be too similar to your other personal information.".into()
            }
            PasswordValidator::MinimumLength(min) => format!(
                "Your password must contain at least {min} character{}.",
                if *min == 1 { "" } else { "s" }
            ),
            PasswordValidator::Common => "Your password can’t be a commonly used password.".into(),
            PasswordValidator::Numeric => "Your password can’t be entirely numeric.".into(),
        }
    }
}

/// The name of the first attribute `password` is too similar to.
fn too_similar(password: &str, user: &UserAttributes) -> Option<&'static str> {
    let password = password.to_lowercase();
    let attributes = [
        ("username", user.username),
        ("first name", user.first_name),
        ("last name", user.last_name),
        ("email address", user.email),
    ];
    attributes.into_iter().find_map(|(name, value)| {
        let value = value.to_lowercase();
        if value.is_empty() {
            return None;
        }
        // Django compares with the whole value and with each of its parts
        // split on non-word characters (`jane`, `example`, `com` of an email).
        let mut parts: Vec<&str> = value
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        parts.push(&value);
        parts
            .into_iter()
            .filter(|part| !exceeds_maximum_length_ratio(&password, part))
            .any(|part| quick_ratio(&password, part) >= MAX_SIMILARITY)
            .then_some(name)
    })
}

/// Django's shortcut: a value far shorter than the password cannot reach
/// the similarity limit.
fn exceeds_maximum_length_ratio(password: &str, value: &str) -> bool {
    let password_len = password.chars().count() as f64;
    let value_len = value.chars().count() as f64;
    password_len >= 10.0 * value_len && value_len < MAX_SIMILARITY / 2.0 * password_len
}

/// Python's `SequenceMatcher(a=a, b=b).quick_ratio()`: twice the number of
/// characters the two have in common (as multisets) over their total length.
fn quick_ratio(a: &str, b: &str) -> f64 {
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        return 1.0;
    }
    let mut available: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in b.chars() {
        *available.entry(c).or_default() += 1;
    }
    let matches = a
        .chars()
        .filter(|c| match available.get_mut(c) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .count();
    2.0 * matches as f64 / total as f64
}

/// The validators of the `auth_password_validators` setting.
///
/// ```
/// use nuages::auth::{PasswordValidators, UserAttributes};
/// let validators = PasswordValidators::from_settings(&nuages::conf::Settings::default()).unwrap();
/// let user = UserAttributes { username: "jane", email: "jane@example.com", ..Default::default() };
/// assert_eq!(validators.validate("12345678", Some(&user)).unwrap_err(), [
///     "This password is too common.",
///     "This password is entirely numeric.",
/// ]);
/// assert!(validators.validate("plum-violin-orbit", Some(&user)).is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PasswordValidators {
    validators: Vec<PasswordValidator>,
}

impl PasswordValidators {
    /// These validators, in order.
    pub fn new(validators: Vec<PasswordValidator>) -> Self {
        PasswordValidators { validators }
    }

    /// The validators the settings name (`auth_password_validators`, with
    /// `password_min_length`); an unknown name is an error naming the
    /// closest known one.
    pub fn from_settings(settings: &Settings) -> Result<PasswordValidators> {
        let validators = settings
            .auth_password_validators
            .iter()
            .map(|name| {
                Ok(match name.as_str() {
                    "user_attribute_similarity" => PasswordValidator::UserAttributeSimilarity,
                    "minimum_length" => {
                        PasswordValidator::MinimumLength(settings.password_min_length)
                    }
                    "common" => PasswordValidator::Common,
                    "numeric" => PasswordValidator::Numeric,
                    _ => {
                        return Err(super::unknown_name(
                            "auth_password_validators",
                            "validator",
                            name,
                            PasswordValidator::NAMES,
                        ));
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PasswordValidators::new(validators))
    }

    /// Every validator's message for `password`, in order; `Ok` when none
    /// refuses it. Without `user`, the similarity validator has nothing to
    /// compare with and passes.
    pub fn validate(
        &self,
        password: &str,
        user: Option<&UserAttributes>,
    ) -> std::result::Result<(), Vec<String>> {
        let errors: Vec<String> = self
            .validators
            .iter()
            .filter_map(|validator| validator.validate(password, user))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// What the validators ask of a password, one sentence each.
    pub fn help_texts(&self) -> Vec<String> {
        self.validators
            .iter()
            .map(PasswordValidator::help_text)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JANE: UserAttributes = UserAttributes {
        username: "jane_doe",
        email: "jane.doe@example.com",
        first_name: "Jane",
        last_name: "Doe",
    };

    fn defaults() -> PasswordValidators {
        PasswordValidators::from_settings(&Settings::default()).unwrap()
    }

    #[test]
    fn each_default_validator_gives_djangos_message() {
        let validators = defaults();
        let check = |password: &str| {
            validators
                .validate(password, Some(&JANE))
                .err()
                .unwrap_or_default()
        };
        assert_eq!(
            check("Xq7#"),
            ["This password is too short. It must contain at least 8 characters."]
        );
        assert_eq!(check("password"), ["This password is too common."]);
        assert_eq!(
            check("PassWord  "),
            ["This password is too common."],
            "any case, trimmed"
        );
        assert_eq!(check("83920174659"), ["This password is entirely numeric."]);
        assert_eq!(
            check("jane_doe1"),
            ["The password is too similar to the username."]
        );
        assert_eq!(
            check("jane.doe@example.org"),
            ["The password is too similar to the email address."]
        );
        assert_eq!(
            check("Example9!"),
            ["The password is too similar to the email address."],
            "a part of it"
        );
        assert_eq!(
            check("123"),
            [
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ]
        );
        assert!(check("plum-violin-orbit").is_empty());
        assert!(
            validators.validate("jane_doe1", None).is_ok(),
            "no user, nothing to compare"
        );
    }

    #[test]
    fn quick_ratio_is_pythons() {
        // Values from Python: SequenceMatcher(a=…, b=…).quick_ratio().
        assert_eq!(quick_ratio("jane_doe1", "jane_doe"), 16.0 / 17.0);
        assert_eq!(quick_ratio("abcd", "dcba"), 1.0);
        assert_eq!(quick_ratio("aab", "abb"), 4.0 / 6.0);
        assert_eq!(quick_ratio("xyz", "abc"), 0.0);
    }

    #[test]
    fn the_common_list_is_djangos() {
        let list = common_passwords();
        assert_eq!(list.len(), 19_640);
        assert!(list.contains("123456") && list.contains("qwerty"));
    }

    #[test]
    fn settings_choose_the_validators_and_the_length() {
        let settings = Settings {
            auth_password_validators: vec!["minimum_length".into()],
            password_min_length: 12,
            ..Settings::default()
        };
        let validators = PasswordValidators::from_settings(&settings).unwrap();
        assert_eq!(
            validators.validate("password", None).unwrap_err(),
            ["This password is too short. It must contain at least 12 characters."]
        );
        assert_eq!(
            validators.help_texts(),
            ["Your password must contain at least 12 characters."]
        );
        let settings = Settings {
            auth_password_validators: vec!["numerik".into()],
            ..Settings::default()
        };
        let error = PasswordValidators::from_settings(&settings).unwrap_err();
        assert_eq!(
            error.to_string(),
            "auth_password_validators names an unknown validator \"numerik\""
        );
        assert!(
            error
                .hint()
                .unwrap()
                .starts_with("did you mean \"numeric\"?")
        );
        assert!(
            PasswordValidators::from_settings(&Settings {
                auth_password_validators: vec![],
                ..Settings::default()
            })
            .unwrap()
            .validate("1", None)
            .is_ok()
        );
    }
}
