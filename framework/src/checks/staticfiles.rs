//! Static files: Django's `staticfiles.E002` (the static root among the
//! sources) and `staticfiles.W004` (a missing source folder), `nuages.E035`
//! (the static root among the project's own files), and for deployment
//! `nuages.W002` (no static root) and `nuages.W003` (not collected).
//!
//! `nuages.E035` reports what `collectstatic` refuses, with its words:
//! both use [`static_root_overlaps`].

use std::path::{Component, Path, PathBuf};

use super::{Check, CheckContext, CheckMessage, Level};
use crate::conf::{Settings, StaticfilesStorage};
use crate::management::output::shell_word;
use crate::project::App;
use crate::staticfiles::collect::static_root_overlaps;

/// The manifest file of `staticfiles_storage = "manifest"`, in `static_root`.
pub const MANIFEST_NAME: &str = "staticfiles.json";

const TAGS: &[&str] = &["staticfiles"];

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "static_root_among_sources",
            tags: TAGS,
            deploy: false,
            run: |ctx| static_root_conflicts(ctx.settings, ctx.project.installed_apps()),
        },
        Check {
            name: "static_root_apart_from_project_files",
            tags: TAGS,
            deploy: false,
            run: |ctx| static_root_among_project_files(ctx.settings, ctx.project.installed_apps()),
        },
        Check {
            name: "staticfiles_dirs_exist",
            tags: TAGS,
            deploy: false,
            run: |ctx| missing_source_dirs(ctx.settings),
        },
        Check {
            name: "static_root_set",
            tags: TAGS,
            deploy: true,
            run: check_static_root_set,
        },
        Check {
            name: "static_root_collected",
            tags: TAGS,
            deploy: true,
            run: check_static_root_collected,
        },
    ]
}

/// How the static root relates to a source folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    Same,
    Inside,
    Contains,
}

impl Relation {
    pub(crate) fn of(root: &Path, source: &Path) -> Option<Relation> {
        if root == source {
            Some(Relation::Same)
        } else if root.starts_with(source) {
            Some(Relation::Inside)
        } else if source.starts_with(root) {
            Some(Relation::Contains)
        } else {
            None
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Relation::Same => "is",
            Relation::Inside => "is inside",
            Relation::Contains => "contains",
        }
    }
}

/// `staticfiles.E002`: `static_root` is, is inside, or contains a source
/// folder (an entry of `staticfiles_dirs` or an app's `static/`), so
/// collecting would copy files into their own sources, or clearing the root
/// would delete them. Paths are compared after resolving `..` and symbolic
/// links. Empty when `static_root` is unset.
pub fn static_root_conflicts(settings: &Settings, apps: &[App]) -> Vec<CheckMessage> {
    let Some(root) = &settings.static_root else {
        return vec![];
    };
    let resolved_root = resolve(root);
    let hint = "set static_root to a folder of its own outside every static source, such as static_root = \
                \"www_dir/static\"; collectstatic copies the sources there";
    let mut messages = Vec::new();
    for dir in settings.static_dirs() {
        if let Some(relation) = Relation::of(&resolved_root, &resolve(&dir.path)) {
            messages.push(CheckMessage::error(
                "staticfiles.E002",
                format!(
                    "The staticfiles_dirs setting should not contain the static_root setting: static_root {} \
                     {} the staticfiles_dirs entry {}.",
                    root.display(),
                    relation.describe(),
                    dir.path.display()
                ),
                hint,
            ));
        }
    }
    for app in apps {
        let source = app.static_dir();
        if let Some(relation) = Relation::of(&resolved_root, &resolve(&source)) {
            messages.push(CheckMessage::error(
                "staticfiles.E002",
                format!(
                    "The static_root setting should not be a static source: static_root {} {} the static \
                     folder {} of the app '{}'.",
                    root.display(),
                    relation.describe(),
                    source.display(),
                    app.label()
                ),
                hint,
            ));
        }
    }
    messages
}

/// `nuages.E035`: `static_root` is, is inside, or contains a folder of the
/// project's own files (templates, a SQLite database, mails, logs, sources,
/// an app), which `collectstatic` refuses: see [`static_root_overlaps`].
/// The overlap with `media_root` is left to `nuages.E030`, which reports it
/// already.
pub fn static_root_among_project_files(settings: &Settings, apps: &[App]) -> Vec<CheckMessage> {
    static_root_overlaps(settings, apps)
        .into_iter()
        .filter(|overlap| overlap.setting != "media_root")
        .map(|overlap| CheckMessage::of(Level::Error, "nuages.E035", overlap.problem))
        .collect()
}

/// `staticfiles.W004`: an entry of `staticfiles_dirs` that does not exist.
pub fn missing_source_dirs(settings: &Settings) -> Vec<CheckMessage> {
    let file = settings
        .settings_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the settings file".into());
    settings
        .static_dirs()
        .into_iter()
        .filter(|dir| !dir.path.is_dir())
        .map(|dir| {
            let path = dir.path.display();
            let quoted = shell_word(&dir.path);
            // A file there (a settings file named by mistake): no mkdir makes it a folder.
            let (is, fix) = match dir.path.exists() {
                true => (
                    "is a file, not a folder",
                    "name a folder of static files".to_string(),
                ),
                false => (
                    "does not exist",
                    format!("create the folder (mkdir -p {quoted})"),
                ),
            };
            CheckMessage::warning(
                "staticfiles.W004",
                format!("The directory '{path}' in the staticfiles_dirs setting {is}."),
                format!("{fix}, or remove its entry from staticfiles_dirs in {file}"),
            )
        })
        .collect()
}

/// `nuages.W002`: no `static_root` for deployment.
pub fn check_static_root_set(ctx: &CheckContext) -> Vec<CheckMessage> {
    if ctx.settings.static_root.is_some() {
        return vec![];
    }
    vec![CheckMessage::warning(
        "nuages.W002",
        "static_root is not set: collectstatic has nowhere to gather the static files, and the web server \
         nothing to serve at static_url.",
        "set static_root = \"www_dir/static\" (a folder the web server reads) in the settings file, then run \
         `manage collectstatic --noinput`",
    )]
}

/// `nuages.W003`: `static_root` missing, empty, or without `staticfiles.json`
/// under manifest storage: `collectstatic` has not run.
pub fn check_static_root_collected(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(root) = &ctx.settings.static_root else {
        return vec![];
    };
    let settings_flag = ctx
        .settings
        .settings_file
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|name| format!(" --settings {}", shell_word(Path::new(name))))
        .unwrap_or_default();
    let collect =
        format!("run `manage collectstatic --noinput{settings_flag}` before starting the server");
    let problem = if !root.exists() {
        format!("static_root {} does not exist", root.display())
    } else if !root.is_dir() {
        return vec![CheckMessage::warning(
            "nuages.W003",
            format!("static_root {} is not a folder.", root.display()),
            format!(
                "remove the file {} or point static_root to a folder",
                root.display()
            ),
        )];
    } else if std::fs::read_dir(root)
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(false)
    {
        format!("static_root {} is empty", root.display())
    } else if ctx.settings.staticfiles_storage == StaticfilesStorage::Manifest
        && !root.join(MANIFEST_NAME).is_file()
    {
        format!(
            "static_root {} has no {MANIFEST_NAME}, which staticfiles_storage = \"manifest\" needs to find the \
             hashed file names",
            root.display()
        )
    } else if ctx.settings.staticfiles_storage == StaticfilesStorage::Manifest
        && let Err(error) = crate::staticfiles::Manifest::load(root)
    {
        // Every page that names a static file would be a 500.
        let cause = std::error::Error::source(&error)
            .map(|cause| format!(": {cause}"))
            .unwrap_or_default();
        format!("{error}{cause}")
    } else {
        return vec![];
    };
    vec![CheckMessage::warning(
        "nuages.W003",
        format!("{problem}: the static files have not been collected."),
        collect,
    )]
}

/// Where `path` leads, as the operating system follows it: made absolute,
/// then each component in turn, the symbolic links of those that exist
/// followed at once, so that a `..` after a link is the parent of the
/// link's target (`deep/lnk/..` with `lnk` → `../src/css` is `src`), as
/// `open` and `mkdir` take it. Removing `..` before following the links
/// gave `deep`, and let `collectstatic --clear` empty `src` while every
/// check saw `deep`. A `..` after a component that does not exist (yet)
/// removes it, as `mkdir -p` makes it first. Two spellings of a folder
/// compare equal.
pub(crate) fn resolve(path: &Path) -> PathBuf {
    let mut resolved = PathBuf::new();
    // How many components at the end of `resolved` do not exist: the
    // part before them is a real path (no link, no `..`).
    let mut missing = 0usize;
    for component in std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .components()
    {
        match component {
            Component::Prefix(_) | Component::RootDir => resolved.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
                missing = missing.saturating_sub(1);
            }
            Component::Normal(name) => {
                resolved.push(name);
                if missing > 0 {
                    missing += 1;
                } else if let Ok(real) = resolved.canonicalize() {
                    resolved = real;
                } else {
                    missing = 1;
                }
            }
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn with_dirs(dir: &Path, root: &str, sources: &[&str]) -> Settings {
        Settings {
            static_root: Some(dir.join(root)),
            staticfiles_dirs: sources
                .iter()
                .map(|s| dir.join(s).display().to_string())
                .collect(),
            ..settings_in(dir)
        }
    }

    #[test]
    fn e002_fires_for_the_same_an_inner_or_an_outer_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("static/css")).unwrap();
        for (root, relation) in [
            ("static", "is the"),
            ("static/collected", "is inside the"),
            ("static/../static/./", "is the"),
            (".", "contains the"),
        ] {
            let messages = static_root_conflicts(&with_dirs(dir.path(), root, &["static"]), &[]);
            assert_eq!(ids(&messages), ["staticfiles.E002"], "{root}");
            assert!(
                messages[0].message.contains(relation),
                "{root}: {}",
                messages[0].message
            );
            assert!(
                messages[0]
                    .message
                    .starts_with("The staticfiles_dirs setting should not contain")
            );
        }
        // Through a symbolic link.
        std::os::unix::fs::symlink(dir.path().join("static"), dir.path().join("link")).unwrap();
        assert_eq!(
            ids(&static_root_conflicts(
                &with_dirs(dir.path(), "link/out", &["static"]),
                &[]
            )),
            ["staticfiles.E002"]
        );
        // A prefixed entry counts by its folder.
        let settings = Settings {
            staticfiles_dirs: vec![format!("vendor={}", dir.path().join("static").display())],
            ..with_dirs(dir.path(), "static", &[])
        };
        assert_eq!(
            ids(&static_root_conflicts(&settings, &[])),
            ["staticfiles.E002"]
        );
    }

    /// `deep/lnk/..` with `lnk` a link to `../static/css` is `static`, as
    /// the system follows it (the link first, then its target's parent),
    /// not `deep`: the checks saw `deep` while `collectstatic --clear`
    /// emptied `static`.
    #[test]
    fn a_dotdot_after_a_link_is_the_parent_of_the_links_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("static/css")).unwrap();
        std::fs::create_dir_all(dir.path().join("templates/partials")).unwrap();
        std::fs::create_dir_all(dir.path().join("deep")).unwrap();
        std::os::unix::fs::symlink("../static/css", dir.path().join("deep/lnk")).unwrap();
        std::os::unix::fs::symlink("../templates/partials", dir.path().join("deep/tpl")).unwrap();
        let real = dir.path().canonicalize().unwrap();
        for (path, leads_to) in [
            ("deep/lnk/..", "static"),
            ("deep/lnk/../css/./x/..", "static/css"),
            ("deep/lnk/../../deep", "deep"),
            ("deep/missing/../lnk/..", "static"),
            ("deep/lnk/new/../..", "static"),
            ("deep/lnk/new/more", "static/css/new/more"),
        ] {
            assert_eq!(
                resolve(&dir.path().join(path)),
                real.join(leads_to),
                "{path}"
            );
        }
        let messages =
            static_root_conflicts(&with_dirs(dir.path(), "deep/lnk/..", &["static"]), &[]);
        assert_eq!(ids(&messages), ["staticfiles.E002"], "{messages:?}");
        assert!(
            messages[0]
                .message
                .contains("deep/lnk/.. is the staticfiles_dirs entry"),
            "{}",
            messages[0].message
        );
        let messages =
            static_root_among_project_files(&with_own_files(dir.path(), "deep/tpl/.."), &[]);
        assert_eq!(ids(&messages), ["nuages.E035"], "{messages:?}");
        assert!(
            messages[0].message.contains("deep/tpl/..' is the folder '"),
            "{}",
            messages[0].message
        );
    }

    #[test]
    fn e002_covers_app_static_folders() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new("polls", dir.path().join("src/polls"));
        let settings = with_dirs(dir.path(), "src/polls/static", &[]);
        let messages = static_root_conflicts(&settings, &[app]);
        assert_eq!(ids(&messages), ["staticfiles.E002"]);
        assert!(
            messages[0].message.contains("'polls'"),
            "{}",
            messages[0].message
        );
    }

    #[test]
    fn e002_is_quiet_for_separate_folders_or_no_root() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new("polls", dir.path().join("src/polls"));
        let settings = with_dirs(dir.path(), "www_dir/static", &["static", "assets"]);
        assert!(static_root_conflicts(&settings, &[app]).is_empty());
        // A sibling whose name starts the same is not inside.
        assert!(
            static_root_conflicts(&with_dirs(dir.path(), "static2", &["static"]), &[]).is_empty()
        );
        let settings = Settings {
            static_root: None,
            ..with_dirs(dir.path(), "x", &["static"])
        };
        assert!(static_root_conflicts(&settings, &[]).is_empty());
    }

    /// A project's settings in `dir` (templates/, db/db.sqlite3) with mails,
    /// a log file and uploads of their own, `static_root` at `root`.
    fn with_own_files(dir: &Path, root: &str) -> Settings {
        Settings {
            static_root: Some(dir.join(root)),
            email_file_path: Some(dir.join("mail")),
            log_file: Some(dir.join("logs/site.log")),
            media_root: Some(dir.join("media")),
            ..settings_in(dir)
        }
    }

    #[test]
    fn e035_fires_for_each_folder_of_the_projects_own_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        let app = App::new("polls", dir.path().join("apps/polls"));
        for (root, relation, named) in [
            ("templates", "is the folder", "of template_dirs"),
            (
                "templates/static",
                "is inside the folder",
                "of template_dirs",
            ),
            (
                "templates/../templates/.",
                "is the folder",
                "of template_dirs",
            ),
            (
                "db",
                "is the folder",
                "of the SQLite database of databases.default.url",
            ),
            ("mail", "is email_file_path", "mail"),
            ("logs", "is the folder", "of log_file"),
            ("tests", "is the project's source folder", "tests"),
            ("migrations", "is the project's source folder", "migrations"),
            (
                "apps/polls/templates",
                "is inside the folder",
                "of the app 'polls'",
            ),
            (
                "apps/polls/static/..",
                "is the folder",
                "of the app 'polls'",
            ),
        ] {
            let settings = with_own_files(dir.path(), root);
            let messages = static_root_among_project_files(&settings, std::slice::from_ref(&app));
            assert_eq!(ids(&messages), ["nuages.E035"], "{root}: {messages:?}");
            let message = &messages[0].message;
            assert!(message.contains(relation), "{root}: {message}");
            assert!(message.contains(named), "{root}: {message}");
            assert!(message.contains("collectstatic"), "{root}: {message}");
            assert!(
                messages[0]
                    .hint
                    .as_deref()
                    .unwrap()
                    .contains("a folder of its own, such as static_root = \"www_dir/static\""),
                "{root}: {:?}",
                messages[0].hint
            );
        }
        // src/ is a source folder and contains an app's: both are named.
        let blog = App::new("blog", dir.path().join("src/blog"));
        let messages = static_root_among_project_files(&with_own_files(dir.path(), "src"), &[blog]);
        assert_eq!(ids(&messages), ["nuages.E035", "nuages.E035"]);
        assert!(
            messages[0]
                .message
                .contains("is the project's source folder")
        );
        assert!(messages[1].message.contains("contains the folder"));
        // A folder above them all contains each.
        let above = static_root_among_project_files(&with_own_files(dir.path(), ".."), &[]);
        assert_eq!(above.len(), 7, "{above:?}");
        assert!(above.iter().all(|m| m.message.contains(" contains ")));
        // Through a symbolic link.
        std::os::unix::fs::symlink(dir.path().join("templates"), dir.path().join("link")).unwrap();
        let linked = static_root_among_project_files(&with_own_files(dir.path(), "link/css"), &[]);
        assert_eq!(ids(&linked), ["nuages.E035"]);
        assert!(linked[0].message.contains("is inside the folder"));
    }

    #[test]
    fn e035_leaves_media_root_to_e030_which_collectstatic_refuses_too() {
        let dir = tempfile::tempdir().unwrap();
        let settings = with_own_files(dir.path(), "media");
        assert!(static_root_among_project_files(&settings, &[]).is_empty());
        let project = project_in(dir.path());
        let ctx = CheckContext::new(&settings, &project);
        assert_eq!(
            ids(&super::super::media::check_media_root_vs_static_root(&ctx)),
            ["nuages.E030"]
        );
        let overlaps = static_root_overlaps(&settings, &[]);
        assert_eq!(overlaps.len(), 1);
        assert_eq!(overlaps[0].setting, "media_root");
        assert!(
            overlaps[0].problem.message.contains("is media_root"),
            "{}",
            overlaps[0].problem.message
        );
    }

    #[test]
    fn e035_is_quiet_for_a_static_root_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new("polls", dir.path().join("src/polls"));
        for root in ["www_dir/static", "templates2", "staticfiles", "db2/static"] {
            let settings = with_own_files(dir.path(), root);
            assert!(
                static_root_overlaps(&settings, std::slice::from_ref(&app)).is_empty(),
                "{root}"
            );
        }
        // A database or a log file beside the settings file has base_dir
        // as its folder: a static root inside the project is still fine...
        let mut settings = with_own_files(dir.path(), "www_dir/static");
        settings.databases.get_mut("default").unwrap().url =
            format!("sqlite://{}", dir.path().join("db.sqlite3").display());
        settings.log_file = Some(dir.path().join("site.log"));
        assert!(static_root_overlaps(&settings, &[]).is_empty());
        // ...but not one that is that folder.
        settings.static_root = Some(dir.path().to_path_buf());
        let names: Vec<&str> = static_root_overlaps(&settings, &[])
            .iter()
            .map(|o| o.setting)
            .collect();
        assert!(
            names.contains(&"databases") && names.contains(&"log_file"),
            "{names:?}"
        );
        // A static root beside a database or a log file outside the project
        // (/srv/site/db.sqlite3, /srv/site/logs/site.log, /srv/site/static)
        // is the usual layout too: clearing it touches neither.
        let srv = tempfile::tempdir().unwrap();
        let mut settings = with_own_files(dir.path(), "www_dir/static");
        settings.databases.get_mut("default").unwrap().url =
            format!("sqlite://{}", srv.path().join("db.sqlite3").display());
        settings.log_file = Some(srv.path().join("site.log"));
        settings.static_root = Some(srv.path().join("static"));
        assert!(static_root_overlaps(&settings, &[]).is_empty());
        // A database on a server has no folder; no static root, nothing.
        let mut settings = with_own_files(dir.path(), "db");
        settings.databases.get_mut("default").unwrap().url = "postgres://localhost/site".into();
        assert!(static_root_overlaps(&settings, &[]).is_empty());
        settings.static_root = None;
        settings.template_dirs = vec![dir.path().to_path_buf()];
        assert!(static_root_overlaps(&settings, &[]).is_empty());
    }

    #[test]
    fn w004_names_missing_source_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("static")).unwrap();
        let settings = with_dirs(dir.path(), "www", &["static", "missing"]);
        let messages = missing_source_dirs(&settings);
        assert_eq!(ids(&messages), ["staticfiles.W004"]);
        assert!(
            messages[0].message.contains("missing"),
            "{}",
            messages[0].message
        );
        assert!(missing_source_dirs(&with_dirs(dir.path(), "www", &["static"])).is_empty());
        // The command of the hint quotes a path with a space.
        let messages = missing_source_dirs(&with_dirs(dir.path(), "www", &["my static"]));
        assert!(
            messages[0].hint.as_deref().unwrap().starts_with(&format!(
                "create the folder (mkdir -p '{}')",
                dir.path().join("my static").display()
            )),
            "{:?}",
            messages[0].hint
        );
        // A file named there: no mkdir can fix it, and the message says so.
        std::fs::write(dir.path().join("settings.toml"), "").unwrap();
        let messages = missing_source_dirs(&with_dirs(dir.path(), "www", &["settings.toml"]));
        assert_eq!(ids(&messages), ["staticfiles.W004"]);
        assert!(
            messages[0].message.ends_with("is a file, not a folder."),
            "{}",
            messages[0].message
        );
        assert!(
            !messages[0]
                .hint
                .as_deref()
                .unwrap_or_default()
                .contains("mkdir"),
            "{:?}",
            messages[0].hint
        );
    }

    #[test]
    fn w002_fires_without_a_static_root() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let unset = settings_in(dir.path());
        assert_eq!(
            ids(&check_static_root_set(&CheckContext::new(&unset, &project))),
            ["nuages.W002"]
        );
        let set = with_dirs(dir.path(), "www", &[]);
        assert!(check_static_root_set(&CheckContext::new(&set, &project)).is_empty());
    }

    #[test]
    fn w003_fires_until_the_files_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        let project = project_in(dir.path());
        let mut settings = with_dirs(dir.path(), "www/static", &[]);
        let check = |s: &Settings| check_static_root_collected(&CheckContext::new(s, &project));
        let root = dir.path().join("www/static");

        let missing = check(&settings);
        assert_eq!(ids(&missing), ["nuages.W003"]);
        assert!(
            missing[0].message.contains("does not exist"),
            "{}",
            missing[0].message
        );
        std::fs::create_dir_all(&root).unwrap();
        assert!(check(&settings)[0].message.contains("is empty"));
        std::fs::create_dir_all(root.join("css")).unwrap();
        std::fs::write(root.join("css/site.css"), "body {}").unwrap();
        assert!(
            check(&settings).is_empty(),
            "plain storage needs files only"
        );

        settings.staticfiles_storage = StaticfilesStorage::Manifest;
        let no_manifest = check(&settings);
        assert_eq!(ids(&no_manifest), ["nuages.W003"]);
        assert!(
            no_manifest[0].message.contains(MANIFEST_NAME),
            "{}",
            no_manifest[0].message
        );
        // Cut short (a full disk, a copy interrupted): every page that
        // names a static file would be a 500.
        std::fs::write(root.join(MANIFEST_NAME), "{\"paths\": {").unwrap();
        let corrupt = check(&settings);
        assert_eq!(ids(&corrupt), ["nuages.W003"]);
        assert!(
            corrupt[0]
                .message
                .contains("staticfiles.json is not valid: EOF while parsing"),
            "{}",
            corrupt[0].message
        );
        assert!(
            corrupt[0]
                .hint
                .as_deref()
                .unwrap_or_default()
                .contains("collectstatic")
        );
        let empty = crate::staticfiles::Manifest::default().to_json();
        std::fs::write(root.join(MANIFEST_NAME), empty).unwrap();
        assert!(check(&settings).is_empty());
    }

    #[test]
    fn static_root_that_is_also_a_source_folder_conflicts() {
        let settings = Settings {
            static_root: Some("/srv/site/static".into()),
            staticfiles_dirs: vec!["/srv/site/static".into()],
            ..Settings::default()
        };
        let messages = static_root_conflicts(&settings, &[]);
        assert_eq!(messages[0].id, "staticfiles.E002");
    }
}
