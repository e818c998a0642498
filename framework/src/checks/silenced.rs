//! `silenced_system_checks` itself: an id there that no check has (a typo
//! such as `security.W04`) silences nothing, without a word otherwise
//! (`nuages.W040`); an id of what `serve` or the application refuses by
//! itself hides it from `check` only, so a `check` that passes would give a
//! server that does not start (`nuages.W046`).
//!
//! Only ids of the built-in families (or of a family one letter away from
//! one, or without a family) are judged: the project's and the apps' own
//! checks do not declare the ids they return, so theirs are left alone.

use super::ids::{BUILTIN_FAMILIES, BUILTIN_IDS};
use super::{Check, CheckContext, CheckMessage};

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "silenced_ids_exist",
            tags: &["settings"],
            deploy: false,
            run: check_silenced_ids,
        },
        Check {
            name: "silenced_ids_enforced",
            tags: &["settings"],
            deploy: false,
            run: check_silenced_enforced,
        },
    ]
}

/// `nuages.W046`: each entry of `silenced_system_checks` that `serve` or
/// the application refuses to start on whatever the list says.
pub fn check_silenced_enforced(ctx: &CheckContext) -> Vec<CheckMessage> {
    use crate::handler::REFUSED_BY_APPLICATION;
    use crate::management::commands::serve::REFUSED_BY_SERVE;
    ctx.settings
        .silenced_system_checks
        .iter()
        .filter_map(|id| {
            let refuser = if REFUSED_BY_SERVE.contains(&id.as_str()) {
                "serve"
            } else if REFUSED_BY_APPLICATION.contains(&id.as_str()) {
                "the application (runserver and serve)"
            } else {
                return None;
            };
            Some(CheckMessage::warning(
                "nuages.W046",
                format!(
                    "silencing {id} hides it from check, but {refuser} still refuses to start \
                     on it"
                ),
                format!(
                    "remove '{id}' from silenced_system_checks and fix the setting it names \
                     (`manage check --deploy` then shows it)"
                ),
            ))
        })
        .collect()
}

/// `nuages.W040`: each entry of `silenced_system_checks` that is no
/// built-in check's id, with the id it probably meant.
pub fn check_silenced_ids(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.settings
        .silenced_system_checks
        .iter()
        .filter(|id| !BUILTIN_IDS.contains(&id.as_str()) && judged(id))
        .map(|id| {
            let hint = match meant(id) {
                Some(known) => format!(
                    "did you mean '{known}'? Write that id in silenced_system_checks, exactly as \
                     the report shows it between parentheses"
                ),
                None => "write the id exactly as the report shows it between parentheses \
                         (`manage check --deploy` prints each finding's id; docs/checks.md lists \
                         the built-in ones), or remove the entry"
                    .to_string(),
            };
            CheckMessage::warning(
                "nuages.W040",
                format!(
                    "silenced_system_checks names '{id}', which is no check's id: it silences \
                     nothing"
                ),
                hint,
            )
        })
        .collect()
}

/// Whether `id` claims a built-in family (or one a letter away from one,
/// or none at all): then the built-in ids are all it can be.
fn judged(id: &str) -> bool {
    match id.trim().split_once('.') {
        None => true,
        Some((family, _)) => {
            let family = family.to_lowercase();
            BUILTIN_FAMILIES
                .iter()
                .any(|known| strsim::damerau_levenshtein(&family, known) <= 1)
        }
    }
}

/// The built-in id `id` is a typo of: the same once trimmed, lowercased
/// and its number padded to three digits (`security.w4`), else one letter
/// added, dropped, changed or two swapped.
fn meant(id: &str) -> Option<&'static str> {
    let typed = normalized(id);
    BUILTIN_IDS
        .iter()
        .map(|known| {
            (
                strsim::damerau_levenshtein(&typed, &known.to_lowercase()),
                *known,
            )
        })
        .filter(|(distance, _)| *distance <= 1)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// `id` trimmed and lowercased, with a level letter's number of one or
/// two digits padded to three (`W4` → `w004`).
fn normalized(id: &str) -> String {
    let id = id.trim().to_lowercase();
    if let Some((family, code)) = id.split_once('.') {
        let mut chars = code.chars();
        if let Some(letter) = chars.next() {
            let digits = chars.as_str();
            if (1..3).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
                return format!("{family}.{letter}{digits:0>3}");
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_id_they_meant() {
        assert_eq!(meant("security.W04"), Some("security.W004"));
        assert_eq!(meant("security.w4"), Some("security.W004"));
        assert_eq!(meant(" SECURITY.W004 "), Some("security.W004"));
        assert_eq!(meant("secuirty.W018"), Some("security.W018"));
        assert_eq!(meant("nuages.W0399"), Some("nuages.W039"));
        assert_eq!(meant("nuages.E0999"), None);
        assert!(judged("W004") && judged("nuage.W001") && judged("4_0.E1"));
        assert!(!judged("mysite.W001") && !judged("polls.E001"));
    }

    /// What `serve` and the application refuse by themselves are errors of
    /// the built-in checks.
    #[test]
    fn the_enforced_ids_are_builtin_errors() {
        use crate::handler::REFUSED_BY_APPLICATION;
        use crate::management::commands::serve::REFUSED_BY_SERVE;
        for id in REFUSED_BY_SERVE.iter().chain(REFUSED_BY_APPLICATION) {
            assert!(BUILTIN_IDS.contains(id), "{id}");
            assert!(id.split_once('.').unwrap().1.starts_with('E'), "{id}");
        }
    }
}
