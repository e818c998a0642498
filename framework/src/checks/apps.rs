//! The installed apps: each has the folder its templates and static files
//! are found in (`nuages.W039`).

use super::{Check, CheckContext, CheckMessage};

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![Check {
        name: "app_folders_exist",
        tags: &["templates", "staticfiles"],
        deploy: false,
        run: check_app_folders,
    }]
}

/// `nuages.W039`: an installed app whose folder does not exist (an app
/// moved to `src/apps/polls/` while `nuages::app!("polls")` names
/// `src/polls/`): its `templates/` and `static/` are never found, without
/// a word until a page asks for one of its templates.
pub fn check_app_folders(ctx: &CheckContext) -> Vec<CheckMessage> {
    ctx.project
        .installed_apps()
        .iter()
        .filter(|app| !app.path().is_dir())
        .map(|app| {
            let label = app.label();
            CheckMessage::warning(
                "nuages.W039",
                format!(
                    "The app '{label}' has no folder at {}: its templates/ and static/ folders \
                     are never found.",
                    app.path().display()
                ),
                format!(
                    "nuages::app!(\"{label}\") is the folder src/{label}/ of the crate: move the \
                     app's module there, or name its folder in its app(): nuages::App::new(\"{label}\", \
                     concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/src/<path to {label}>\"))"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::project::App;

    /// An app whose folder is missing is named with the fix; one whose
    /// folder exists is not.
    #[test]
    fn w039_fires_for_an_app_without_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/polls")).unwrap();
        let settings = settings_in(dir.path());
        let project = project_in(dir.path()).apps(vec![
            App::new("polls", dir.path().join("src/polls")),
            App::new("shop", dir.path().join("src/shop")),
        ]);
        let messages = check_app_folders(&CheckContext::new(&settings, &project));
        assert_eq!(ids(&messages), ["nuages.W039"]);
        assert!(
            messages[0].message.starts_with(&format!(
                "The app 'shop' has no folder at {}",
                dir.path().join("src/shop").display()
            )),
            "{}",
            messages[0].message
        );
        assert!(
            messages[0]
                .hint
                .as_deref()
                .unwrap()
                .contains("nuages::App::new(\"shop\""),
            "{:?}",
            messages[0].hint
        );
        // It runs with every check, as docs/checks.md says.
        let report = super::super::run_checks(&CheckContext::new(&settings, &project), &[]);
        assert!(report.messages.iter().any(|m| m.id == "nuages.W039"));
    }
}
