//! System checks, as Django's: a registry of check functions, each returning
//! messages with an id, a level, a message and a hint; some run only with
//! `check --deploy`. One file per family of checks.
//!
//! `manage check` runs them and prints Django's report; `runserver` runs the
//! checks that are not deploy-only before it starts, and `serve` runs all of
//! them.
//! Errors stop both servers.
//!
//! # Writing a check
//!
//! A check is a function of a [`CheckContext`]; a project registers its own
//! with [`Project::check`](crate::Project::check), an app with
//! [`App::check`](crate::project::App::check):
//!
//! ```
//! use nuages::checks::{Check, CheckContext, CheckMessage, Level};
//!
//! fn no_admins(ctx: &CheckContext) -> Vec<CheckMessage> {
//!     if ctx.settings.admins.is_empty() {
//!         vec![CheckMessage::new(Level::Info, "mysite.I001", "no admins are set", Some("add admins to get error mails"))]
//!     } else {
//!         vec![]
//!     }
//! }
//!
//! let check = Check { name: "no_admins", tags: &["mysite"], deploy: false, run: no_admins };
//! let project = nuages::Project::new("mysite", ".").check(check);
//! assert_eq!(project.checks().len(), 1);
//! ```
//!
//! `silenced_system_checks = ["security.W004"]` in the settings file hides
//! messages by exact id; the report counts them as silenced. An id there
//! that no built-in check has ([`BUILTIN_IDS`]) is itself a warning,
//! `nuages.W040`, with the id it probably meant.
//!
//! # The built-in checks
//!
//! Where a check means what Django's does it has Django's id, with the
//! message adapted to Nuages's setting names. "Deploy" checks run only with
//! `check --deploy` (and in `serve`). `docs/checks.md` in the Nuages
//! repository lists every id with its level, tags, what it finds and the
//! fix; a test keeps it in step with the ids written in this module.
//!
//! Django's session checks come in three forms (W010/W013 for the sessions
//! app, W011/W014 for the middleware, W012/W015 for both). Sessions are part
//! of Nuages itself, as `django.contrib.sessions` is of every Django project,
//! and work through the `"session"` middleware, so the "both" form applies:
//! W012 and W015. Nuages has no CSRF-in-session mode, so W016 depends on the
//! `"csrf"` middleware alone.
//!
//! The `settings` checks report what the application refuses to start
//! with, through the validation code it runs itself, with the same message
//! and hint: a `check` that passes gives a server that
//! starts. `nuages.E013` and `nuages.E014` do the same for `serve`.
//!
//! File permissions are read from the mode bits and ownership (ACLs and
//! read-only mounts are not considered); `root` can write everywhere. They
//! are judged for `check --user NAME`, else the `serve_user` setting, else
//! the user running `check`; `runserver` and `serve` judge them for the
//! user they run as.

pub(crate) mod apps;
pub(crate) mod auth;
pub(crate) mod cache;
pub(crate) mod database;
pub(crate) mod email;
pub mod files;
mod ids;
pub(crate) mod media;
pub(crate) mod migrations;
pub(crate) mod raw;
mod report;
pub(crate) mod security;
pub(crate) mod sessions;
pub(crate) mod silenced;
pub(crate) mod startup;
pub(crate) mod staticfiles;
pub(crate) mod templates;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::conf::Settings;
use crate::error::Problem;
use crate::project::Project;

pub use ids::{BUILTIN_FAMILIES, BUILTIN_IDS};
pub use report::{Report, Stream};

/// How serious a message is, as Django's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// For the curious.
    Debug = 10,
    /// Good to know.
    Info = 20,
    /// Worth fixing.
    Warning = 30,
    /// Must be fixed: commands refuse to run.
    Error = 40,
    /// Must be fixed now.
    Critical = 50,
}

impl Level {
    /// Every level, least serious first.
    pub const ALL: [Level; 5] = [
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];

    /// The name as typed on the command line (`--fail-level WARNING`).
    pub fn parse(text: &str) -> Option<Level> {
        Some(match text.to_ascii_uppercase().as_str() {
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARNING" => Level::Warning,
            "ERROR" => Level::Error,
            "CRITICAL" => Level::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        })
    }
}

/// One finding of a check: an id, a level, and the [`Problem`] (what is
/// wrong, and exactly what to change). It reads as its problem
/// (`message.message`, `message.hint`), and serializes as
/// `{id, level, message, hint}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckMessage {
    /// `security.W004`, `nuages.E001`, …
    pub id: String,
    /// How serious it is.
    pub level: Level,
    /// What is wrong, and exactly what to change.
    #[serde(flatten)]
    pub problem: Problem,
}

impl CheckMessage {
    /// A message.
    pub fn new(level: Level, id: &str, message: impl Into<String>, hint: Option<&str>) -> Self {
        CheckMessage::of(level, id, Problem::maybe_hinted(message, hint))
    }

    /// A message of `level` for `problem`.
    pub fn of(level: Level, id: &str, problem: Problem) -> Self {
        CheckMessage {
            id: id.to_string(),
            level,
            problem,
        }
    }

    /// A warning with a hint.
    pub fn warning(id: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        CheckMessage::of(Level::Warning, id, Problem::new(message).with_hint(hint))
    }

    /// An error with a hint.
    pub fn error(id: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        CheckMessage::of(Level::Error, id, Problem::new(message).with_hint(hint))
    }

    /// Whether it is an error (or critical).
    pub fn is_serious(&self) -> bool {
        self.level >= Level::Error
    }
}

impl std::ops::Deref for CheckMessage {
    type Target = Problem;

    fn deref(&self) -> &Problem {
        &self.problem
    }
}

/// Django's `str(CheckMessage)` without an object: `?: (id) message`, and
/// the hint on a second line after a tab.
impl fmt::Display for CheckMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "?: ({}) {}", self.id, self.message)?;
        if let Some(hint) = self.hint.as_deref().filter(|h| !h.is_empty()) {
            write!(f, "\n\tHINT: {hint}")?;
        }
        Ok(())
    }
}

/// What a check may look at.
pub struct CheckContext<'a> {
    /// The loaded settings.
    pub settings: &'a Settings,
    /// The project (its apps, URLs, folder).
    pub project: &'a Project,
    /// Whether deployment checks run (`check --deploy`, `serve`).
    pub deploy: bool,
    /// The user the server runs as, for file permission checks: the
    /// `serve_user` setting unless told otherwise (`check --user`); `None`
    /// means the current user.
    pub user: Option<String>,
    /// The environment the settings were loaded with, to tell a value read
    /// from a `NUAGES_*` variable from one written in the settings file.
    pub env: BTreeMap<String, String>,
    /// `serve --bind`, which replaces `serve_bind` for this run: the checks
    /// of where serve listens judge it instead (see [`Self::listen`]).
    pub bind_flag: Option<String>,
}

/// Where `serve` listens, as the checks name it: the `serve_bind` setting,
/// or `serve --bind` when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen<'a> {
    /// The address, `HOST:PORT` or `unix:PATH`.
    pub value: &'a str,
    /// Whether it comes from `--bind` rather than the setting.
    pub from_flag: bool,
}

impl std::fmt::Display for Listen<'_> {
    /// `serve_bind = "VALUE"`, or `--bind VALUE`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.from_flag {
            true => write!(f, "--bind {}", self.value),
            false => write!(f, "serve_bind = \"{}\"", self.value),
        }
    }
}

impl<'a> CheckContext<'a> {
    /// The context for `settings` and `project`: no deploy checks, the
    /// `serve_user` of the settings (else the current user), this process's
    /// environment.
    pub fn new(settings: &'a Settings, project: &'a Project) -> Self {
        CheckContext {
            settings,
            project,
            deploy: false,
            user: settings.serve_user.clone(),
            env: std::env::vars().collect(),
            bind_flag: None,
        }
    }

    /// Judge `serve --bind`'s address (when given) instead of `serve_bind`.
    pub fn with_bind_flag(mut self, bind: Option<&str>) -> Self {
        self.bind_flag = bind.map(str::to_string);
        self
    }

    /// Where `serve` listens: `--bind` when given, else `serve_bind`.
    pub fn listen(&self) -> Listen<'_> {
        match &self.bind_flag {
            Some(value) => Listen {
                value,
                from_flag: true,
            },
            None => Listen {
                value: &self.settings.serve_bind,
                from_flag: false,
            },
        }
    }

    /// Run the deploy-only checks too.
    pub fn with_deploy(mut self, deploy: bool) -> Self {
        self.deploy = deploy;
        self
    }

    /// Judge file permissions for this user (`None`: the current one)
    /// instead of `serve_user`.
    pub fn for_user(mut self, user: Option<String>) -> Self {
        self.user = user;
        self
    }

    /// Use these variables instead of the process environment.
    pub fn with_env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Whether the environment sets this `NUAGES_*` variable (which beats the file).
    pub fn env_overrides(&self, variable: &str) -> bool {
        self.env.contains_key(variable)
    }
}

/// A registered check function.
#[derive(Clone, Copy)]
pub struct Check {
    /// A short name for the function.
    pub name: &'static str,
    /// Tags to select it with `--tag` (`security`, `staticfiles`, …).
    pub tags: &'static [&'static str],
    /// Runs only with `--deploy`.
    pub deploy: bool,
    /// The check.
    pub run: fn(&CheckContext) -> Vec<CheckMessage>,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("tags", &self.tags)
            .field("deploy", &self.deploy)
            .finish()
    }
}

/// The built-in checks; each family lives in a file of this module and adds
/// its list here.
pub(crate) fn builtin() -> Vec<Check> {
    let mut checks = Vec::new();
    checks.extend(startup::checks());
    checks.extend(security::checks());
    checks.extend(staticfiles::checks());
    checks.extend(media::checks());
    checks.extend(files::checks());
    checks.extend(database::checks());
    checks.extend(cache::checks());
    checks.extend(sessions::checks());
    checks.extend(email::checks());
    checks.extend(auth::checks());
    checks.extend(migrations::checks());
    checks.extend(templates::checks());
    checks.extend(apps::checks());
    checks.extend(silenced::checks());
    checks
}

/// Every check of `project`: the built-in ones, the project's, then each
/// installed app's.
pub(crate) fn registered(project: &Project) -> Vec<Check> {
    let mut checks = builtin();
    checks.extend(project.registered_checks());
    checks
}

/// The tags `--tag` accepts: those of the checks that run (deploy-only ones
/// only with `deploy`), sorted.
pub(crate) fn available_tags(project: &Project, deploy: bool) -> BTreeSet<&'static str> {
    registered(project)
        .iter()
        .filter(|check| deploy || !check.deploy)
        .flat_map(|check| check.tags.iter().copied())
        .collect()
}

/// Run the checks of `ctx.project` (deploy-only ones when `ctx.deploy`);
/// with `tags`, only the checks that have one of them. Messages whose id is
/// in `silenced_system_checks` are counted, not returned.
pub fn run_checks(ctx: &CheckContext, tags: &[String]) -> Report {
    let mut report = Report::default();
    for check in registered(ctx.project) {
        if check.deploy && !ctx.deploy {
            continue;
        }
        if !tags.is_empty() && !check.tags.iter().any(|tag| tags.iter().any(|t| t == tag)) {
            continue;
        }
        for message in (check.run)(ctx) {
            if ctx.settings.silenced_system_checks.contains(&message.id) {
                report.silenced += 1;
            } else {
                report.messages.push(message);
            }
        }
    }
    report
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Settings and projects for the checks' tests.

    use std::path::Path;

    use crate::conf::Settings;
    use crate::project::Project;

    /// Defaults with paths resolved against `dir`.
    pub fn settings_in(dir: &Path) -> Settings {
        Settings::defaults_in(dir)
    }

    /// A project in `dir` without routes.
    pub fn project_in(dir: &Path) -> Project {
        Project::new("site", dir)
    }

    /// The ids of the messages.
    pub fn ids(messages: &[super::CheckMessage]) -> Vec<&str> {
        messages.iter().map(|m| m.id.as_str()).collect()
    }

    /// `messages` are the one warning `id` about the password `hunter2`
    /// written in `settings.toml`: it names the file, never the password,
    /// and its hint reads the password from `${variable}`.
    pub fn assert_password_in_file_warning(
        messages: &[super::CheckMessage],
        id: &str,
        variable: &str,
    ) {
        assert_eq!(ids(messages), [id]);
        assert!(messages[0].message.contains("settings.toml"));
        assert!(
            !messages[0].message.contains("hunter2"),
            "never the password itself"
        );
        let hint = messages[0].hint.as_deref().unwrap();
        assert!(hint.contains(&format!("${{{variable}}}")), "{hint}");
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn info(ctx: &CheckContext) -> Vec<CheckMessage> {
        vec![CheckMessage::new(
            Level::Info,
            "site.I001",
            format!("deploy={}", ctx.deploy),
            None,
        )]
    }

    fn warn(_: &CheckContext) -> Vec<CheckMessage> {
        vec![CheckMessage::warning("site.W001", "careful", "do less")]
    }

    const INFO: Check = Check {
        name: "info",
        tags: &["site"],
        deploy: false,
        run: info,
    };
    const WARN: Check = Check {
        name: "warn",
        tags: &["site_deploy"],
        deploy: true,
        run: warn,
    };

    fn project_ids(report: &Report) -> Vec<&str> {
        report
            .messages
            .iter()
            .map(|m| m.id.as_str())
            .filter(|id| id.starts_with("site."))
            .collect()
    }

    #[test]
    fn project_and_app_checks_run_with_the_builtin_ones() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let app = crate::project::App::new("polls", dir.path().join("polls")).check(WARN);
        let project = project_in(dir.path()).check(INFO).apps(vec![app]);
        assert!(registered(&project).len() > builtin().len());

        let report = run_checks(&CheckContext::new(&settings, &project), &[]);
        assert_eq!(
            project_ids(&report),
            ["site.I001"],
            "deploy-only checks wait for --deploy"
        );
        let report = run_checks(
            &CheckContext::new(&settings, &project).with_deploy(true),
            &[],
        );
        assert_eq!(project_ids(&report), ["site.I001", "site.W001"]);
        assert!(report.messages.iter().any(|m| m.message == "deploy=true"));
    }

    #[test]
    fn tags_select_checks() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path());
        let project = project_in(dir.path()).check(INFO).check(WARN);
        let ctx = CheckContext::new(&settings, &project).with_deploy(true);
        let report = run_checks(&ctx, &["site_deploy".to_string()]);
        assert_eq!(ids(&report.messages), ["site.W001"]);
        let report = run_checks(&ctx, &["security".to_string()]);
        assert!(
            report
                .messages
                .iter()
                .all(|m| m.id.starts_with("security.") || m.id.starts_with("nuages."))
        );
        assert!(!report.messages.is_empty());
    }

    /// `nuages.E045` is an auth check as well as a settings one:
    /// `check --tag auth` reports it (docs/checks.md tags it so).
    #[test]
    fn the_auth_tag_selects_the_auth_middleware_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(dir.path());
        settings.middleware.retain(|m| m != "auth");
        settings.middleware.insert(0, "auth".into());
        let project = project_in(dir.path());
        let ctx = CheckContext::new(&settings, &project);
        for tag in ["auth", "settings"] {
            let report = run_checks(&ctx, &[tag.to_string()]);
            assert!(
                report.messages.iter().any(|m| m.id == "nuages.E045"),
                "--tag {tag}: {:?}",
                ids(&report.messages)
            );
        }
    }

    #[test]
    fn deploy_only_tags_are_listed_only_with_deploy() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path()).check(INFO).check(WARN);
        let plain = available_tags(&project, false);
        let deploy = available_tags(&project, true);
        assert!(
            plain.contains("site") && !plain.contains("site_deploy"),
            "{plain:?}"
        );
        assert!(
            plain.contains("staticfiles") && plain.contains("templates"),
            "{plain:?}"
        );
        assert!(!plain.contains("security"), "{plain:?}");
        assert!(
            deploy.contains("site_deploy") && deploy.contains("security"),
            "{deploy:?}"
        );
    }

    #[test]
    fn silenced_ids_are_counted_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(dir.path());
        let project = project_in(dir.path()).check(INFO).check(WARN);
        let before = run_checks(
            &CheckContext::new(&settings, &project).with_deploy(true),
            &[],
        );
        assert!(before.messages.iter().any(|m| m.id == "security.W004"));
        assert_eq!(before.silenced, 0);
        settings.silenced_system_checks = vec![
            "security.W004".into(),
            "site.W001".into(),
            "security.W00".into(),
        ];
        let after = run_checks(
            &CheckContext::new(&settings, &project).with_deploy(true),
            &[],
        );
        assert_eq!(after.silenced, 2, "exact ids only");
        // Two hidden; one more says the prefix silences nothing (nuages.W040).
        assert_eq!(after.messages.len(), before.messages.len() - 2 + 1);
        assert!(
            !after
                .messages
                .iter()
                .any(|m| m.id == "security.W004" || m.id == "site.W001")
        );
    }

    /// `nuages.W040`: an id of `silenced_system_checks` that no built-in
    /// check has (a typo) silences nothing; the warning names it, the id
    /// it probably meant, and the fix. Ids of the project's own families
    /// are the project's: not judged.
    #[test]
    fn a_silenced_id_that_no_check_has_is_named_with_the_closest() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(dir.path());
        let project = project_in(dir.path()).check(WARN);
        settings.silenced_system_checks = vec![
            "security.W04".into(),
            "secuirty.W018".into(),
            "nuages.W0999".into(),
            "security.W004".into(),
            "site.W001".into(),
            "site.W777".into(),
            "nuages.W039".into(),
        ];
        let report = run_checks(
            &CheckContext::new(&settings, &project).with_deploy(true),
            &[],
        );
        let unknown: Vec<&CheckMessage> = report
            .messages
            .iter()
            .filter(|m| m.id == "nuages.W040")
            .collect();
        assert_eq!(unknown.len(), 3, "{unknown:#?}");
        assert!(unknown.iter().all(|m| m.level == Level::Warning));
        assert_eq!(
            unknown[0].message,
            "silenced_system_checks names 'security.W04', which is no check's id: it silences \
             nothing"
        );
        assert_eq!(
            unknown[0].hint.as_deref(),
            Some(
                "did you mean 'security.W004'? Write that id in silenced_system_checks, exactly \
                 as the report shows it between parentheses"
            )
        );
        assert!(unknown[1].message.contains("'secuirty.W018'"));
        assert!(
            unknown[1]
                .hint
                .as_deref()
                .unwrap()
                .starts_with("did you mean 'security.W018'?")
        );
        assert!(unknown[2].message.contains("'nuages.W0999'"));
        let hint = unknown[2].hint.as_deref().unwrap();
        assert!(!hint.contains("did you mean"), "{hint}");
        assert!(hint.contains("docs/checks.md"), "{hint}");
        // Silenced ids that exist still silence: security.W004 and site.W001.
        assert_eq!(report.silenced, 2);
        // Without a typo, nothing to say.
        settings.silenced_system_checks = vec!["security.W004".into()];
        let report = run_checks(&CheckContext::new(&settings, &project), &[]);
        assert!(!report.messages.iter().any(|m| m.id == "nuages.W040"));
    }

    /// `nuages.W046`: silencing an error that `serve` (debug, an empty
    /// `allowed_hosts`, a weak key) or the application (`x_frame_options`)
    /// refuses anyway made `check --deploy` pass while `serve` did not
    /// start; each such id is named, other silenced ids are not.
    #[test]
    fn a_silenced_id_that_serve_enforces_anyway_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = settings_in(dir.path());
        let project = project_in(dir.path());
        settings.debug = true;
        settings.silenced_system_checks = vec![
            "nuages.E017".into(),
            "security.W018".into(),
            "nuages.E007".into(),
            "nuages.E014".into(),
        ];
        let report = run_checks(
            &CheckContext::new(&settings, &project).with_deploy(true),
            &[],
        );
        let enforced: Vec<&CheckMessage> = report
            .messages
            .iter()
            .filter(|m| m.id == "nuages.W046")
            .collect();
        assert_eq!(enforced.len(), 3, "{enforced:#?}");
        assert!(enforced.iter().all(|m| m.level == Level::Warning));
        assert_eq!(
            enforced[0].message,
            "silencing nuages.E017 hides it from check, but serve still refuses to start on it"
        );
        assert_eq!(
            enforced[0].hint.as_deref(),
            Some(
                "remove 'nuages.E017' from silenced_system_checks and fix the setting it names \
                 (`manage check --deploy` then shows it)"
            )
        );
        assert_eq!(
            enforced[1].message,
            "silencing nuages.E007 hides it from check, but the application (runserver and \
             serve) still refuses to start on it"
        );
        assert!(enforced[2].message.starts_with("silencing nuages.E014 "));
        // A warning silenced is the user's call: nothing to say.
        settings.silenced_system_checks = vec!["security.W018".into()];
        let report = run_checks(&CheckContext::new(&settings, &project), &[]);
        assert!(!report.messages.iter().any(|m| m.id == "nuages.W046"));
    }

    #[test]
    fn levels_parse_in_any_case_and_order_by_seriousness() {
        assert_eq!(Level::parse("warning"), Some(Level::Warning));
        assert_eq!(Level::parse("CRITICAL"), Some(Level::Critical));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Debug < Level::Info && Level::Error < Level::Critical);
        for level in Level::ALL {
            assert_eq!(Level::parse(&level.to_string()), Some(level));
        }
    }

    #[test]
    fn messages_display_as_django_does() {
        let with_hint = CheckMessage::warning("security.W004", "no HSTS", "set it");
        assert_eq!(
            with_hint.to_string(),
            "?: (security.W004) no HSTS\n\tHINT: set it"
        );
        let without = CheckMessage::new(Level::Error, "x.E001", "broken", None);
        assert_eq!(without.to_string(), "?: (x.E001) broken");
    }

    #[test]
    fn messages_serialize_with_their_problem_flat() {
        let message = CheckMessage::warning("security.W004", "no HSTS", "set it");
        assert_eq!(
            serde_json::to_string(&message).unwrap(),
            r#"{"id":"security.W004","level":"WARNING","message":"no HSTS","hint":"set it"}"#
        );
    }
}
