//! Uploaded files (`media_root`, `media_url`): `nuages.E030` (media root and
//! static root overlap), `nuages.E031` (media root among the sources),
//! `nuages.E032` (media URL and static URL overlap), `nuages.E033` (a media
//! URL that is not a folder URL). Visitors write into `media_root`: where it
//! overlaps the static files or the project's sources, an upload could
//! replace a file the site serves as its own, or its code.

use std::path::{Path, PathBuf};

use super::staticfiles::{Relation, resolve};
use super::{Check, CheckContext, CheckMessage};

const TAGS: &[&str] = &["media"];

/// The checks of this file.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "media_root_apart_from_static_root",
            tags: TAGS,
            deploy: false,
            run: check_media_root_vs_static_root,
        },
        Check {
            name: "media_root_apart_from_sources",
            tags: TAGS,
            deploy: false,
            run: check_media_root_vs_sources,
        },
        Check {
            name: "media_url_apart_from_static_url",
            tags: TAGS,
            deploy: false,
            run: check_media_url_vs_static_url,
        },
        Check {
            name: "media_url_is_a_folder",
            tags: TAGS,
            deploy: false,
            run: check_media_url_form,
        },
    ]
}

const OWN_FOLDER: &str = "give media_root a folder of its own outside static_root and the sources, such as \
                          media_root = \"www_dir/media\"";

/// `nuages.E030`: `media_root` is, is inside, or contains `static_root`.
pub fn check_media_root_vs_static_root(ctx: &CheckContext) -> Vec<CheckMessage> {
    let (Some(media), Some(statics)) = (&ctx.settings.media_root, &ctx.settings.static_root) else {
        return vec![];
    };
    let Some(relation) = Relation::of(&resolve(media), &resolve(statics)) else {
        return vec![];
    };
    vec![CheckMessage::error(
        "nuages.E030",
        format!(
            "media_root {} {} static_root {}: uploads would mix with the collected static files, and \
             collectstatic --clear would delete them.",
            media.display(),
            relation.describe(),
            statics.display()
        ),
        OWN_FOLDER,
    )]
}

/// The folders an upload must never land in: the project's own folder
/// (media_root may be inside it, not be it or contain it), `src/`, the
/// template and static source folders, and each app's folder.
fn source_folders(ctx: &CheckContext) -> Vec<(PathBuf, String, bool)> {
    let settings = ctx.settings;
    let mut folders = vec![(
        settings.base_dir.clone(),
        "the project's folder (base_dir)".to_string(),
        false,
    )];
    folders.push((
        settings.base_dir.join("src"),
        "the source folder src/".into(),
        true,
    ));
    for dir in &settings.template_dirs {
        folders.push((dir.clone(), "a folder of template_dirs".into(), true));
    }
    for dir in settings.static_dirs() {
        folders.push((dir.path, "a folder of staticfiles_dirs".into(), true));
    }
    for app in ctx.project.installed_apps() {
        folders.push((
            app.path().to_path_buf(),
            format!("the folder of the app '{}'", app.label()),
            true,
        ));
    }
    folders
}

/// `nuages.E031`: `media_root` is, is inside, or contains a source folder,
/// or is `/` or the home folder.
pub fn check_media_root_vs_sources(ctx: &CheckContext) -> Vec<CheckMessage> {
    let Some(media) = &ctx.settings.media_root else {
        return vec![];
    };
    let real = resolve(media);
    let mut messages = Vec::new();
    let home = std::env::var_os("HOME").map(|h| resolve(Path::new(&h)));
    if real == Path::new("/") || home.as_deref() == Some(real.as_path()) {
        messages.push(CheckMessage::error(
            "nuages.E031",
            format!(
                "media_root {} is {}: visitors' uploads would be written there.",
                media.display(),
                if real == Path::new("/") {
                    "/"
                } else {
                    "the home folder"
                }
            ),
            OWN_FOLDER,
        ));
    }
    for (folder, what, inside_counts) in source_folders(ctx) {
        let relation = Relation::of(&real, &resolve(&folder));
        let conflict = match relation {
            Some(Relation::Inside) => inside_counts,
            Some(_) => true,
            None => false,
        };
        if let (true, Some(relation)) = (conflict, relation) {
            messages.push(CheckMessage::error(
                "nuages.E031",
                format!(
                    "media_root {} {} {what} {}: visitors' uploads would be written among the project's files.",
                    media.display(),
                    relation.describe(),
                    folder.display()
                ),
                OWN_FOLDER,
            ));
            // The outermost folder says it all (base_dir contains src/ too).
            break;
        }
    }
    // The web server serves media_root to anyone: a database or a log in
    // it could be downloaded (/media/db.sqlite3). (Once media_root is
    // among the sources, that message says it all.)
    let data = if messages.is_empty() {
        ctx.settings.data_folders()
    } else {
        vec![]
    };
    for crate::conf::DataFolder { folder, of, .. } in data {
        let relation = Relation::of(&real, &resolve(&folder));
        if let Some(relation @ (Relation::Same | Relation::Contains)) = relation {
            messages.push(CheckMessage::error(
                "nuages.E031",
                format!(
                    "media_root {} {} the folder of {of} {}: the web server serves media_root to \
                     every visitor, so those files could be downloaded under media_url.",
                    media.display(),
                    relation.describe(),
                    folder.display()
                ),
                OWN_FOLDER,
            ));
        }
    }
    messages
}

/// `nuages.E032`: `media_url` is `static_url`, or one is inside the other.
pub fn check_media_url_vs_static_url(ctx: &CheckContext) -> Vec<CheckMessage> {
    let (media, statics) = (&ctx.settings.media_url, &ctx.settings.static_url);
    let overlap = if media == statics {
        "is the same as"
    } else if media.starts_with(statics.as_str()) {
        "is inside"
    } else if statics.starts_with(media.as_str()) {
        "contains"
    } else {
        return vec![];
    };
    vec![CheckMessage::error(
        "nuages.E032",
        format!(
            "media_url {media:?} {overlap} static_url {statics:?}: uploads and static files must be served \
             from URLs of their own."
        ),
        "keep static_url = \"/static/\" and set media_url = \"/media/\" (the default)",
    )]
}

/// `nuages.E033`: `media_url` does not end with `/`, or is neither a path
/// (`/media/`) nor a full URL.
pub fn check_media_url_form(ctx: &CheckContext) -> Vec<CheckMessage> {
    let url = &ctx.settings.media_url;
    let rooted = url.starts_with('/') || url.contains("://");
    if rooted && url.ends_with('/') && url != "/" {
        return vec![];
    }
    let fixed = match (rooted, url.trim_matches('/')) {
        (_, "") => "/media/".to_string(),
        (true, _) => format!("{}/", url.trim_end_matches('/')),
        (false, path) => format!("/{path}/"),
    };
    vec![CheckMessage::error(
        "nuages.E033",
        format!(
            "media_url {url:?} must start with / (or be a full URL), end with /, and not be the site's root."
        ),
        format!("write media_url = \"{fixed}\""),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::conf::Settings;

    fn found(run: fn(&CheckContext) -> Vec<CheckMessage>, settings: &Settings) -> Vec<String> {
        let project = project_in(&settings.base_dir);
        let ctx = CheckContext::new(settings, &project);
        run(&ctx).into_iter().map(|m| m.id).collect()
    }

    /// nginx and Apache serve media_root to every visitor: the folder of
    /// the SQLite database or of the log file there would put them up for
    /// download.
    #[test]
    fn media_root_may_not_hold_the_database_or_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let with = |media: &str| {
            let mut settings = Settings {
                media_root: Some(base.join(media)),
                log_file: Some(base.join("var/log/site.log")),
                ..Settings::defaults_in(&base)
            };
            settings.databases.get_mut("default").unwrap().url =
                format!("sqlite://{}/var/db/site.sqlite3", base.display());
            settings
        };
        assert!(found(check_media_root_vs_sources, &with("var/media")).is_empty());
        assert!(found(check_media_root_vs_sources, &with("var/db/uploads")).is_empty());
        for (media, what) in [
            (
                "var/db",
                "the folder of the SQLite database of databases.default.url",
            ),
            (
                "var",
                "the folder of the SQLite database of databases.default.url",
            ),
            ("var/log", "the folder of log_file"),
        ] {
            let settings = with(media);
            let project = project_in(&settings.base_dir);
            let messages = check_media_root_vs_sources(&CheckContext::new(&settings, &project));
            assert!(
                messages.iter().all(|m| m.id == "nuages.E031")
                    && messages.iter().any(|m| m.problem.message.contains(what)
                        && m.problem
                            .message
                            .contains("could be downloaded under media_url")),
                "{media}: {messages:?}"
            );
        }
    }

    #[test]
    fn media_root_must_be_a_folder_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        let with = |media: &str, statics: Option<&str>| Settings {
            base_dir: base.clone(),
            media_root: Some(base.join(media)),
            static_root: statics.map(|s| base.join(s)),
            template_dirs: vec![base.join("templates")],
            ..Settings::default()
        };
        assert!(
            found(
                check_media_root_vs_static_root,
                &with("www/media", Some("www/static"))
            )
            .is_empty()
        );
        assert!(
            found(
                check_media_root_vs_sources,
                &with("www/media", Some("www/static"))
            )
            .is_empty()
        );
        for (media, statics) in [
            ("www/static", "www/static"),
            ("www/static/up", "www/static"),
            ("www", "www/static"),
        ] {
            assert_eq!(
                found(check_media_root_vs_static_root, &with(media, Some(statics))),
                ["nuages.E030"]
            );
        }
        for media in ["src/uploads", "templates", "templates/../src", "."] {
            assert_eq!(
                found(check_media_root_vs_sources, &with(media, None)),
                ["nuages.E031"],
                "{media}"
            );
        }
        let root = Settings {
            media_root: Some("/".into()),
            ..with("x", None)
        };
        assert!(found(check_media_root_vs_sources, &root).contains(&"nuages.E031".to_string()));
    }

    #[test]
    fn media_url_must_be_a_folder_url_apart_from_static_url() {
        let with = |media: &str, statics: &str| Settings {
            media_url: media.into(),
            static_url: statics.into(),
            ..Settings::default()
        };
        assert!(found(check_media_url_vs_static_url, &with("/media/", "/static/")).is_empty());
        for (media, statics) in [
            ("/static/", "/static/"),
            ("/static/media/", "/static/"),
            ("/", "/static/"),
        ] {
            assert_eq!(
                found(check_media_url_vs_static_url, &with(media, statics)),
                ["nuages.E032"]
            );
        }
        assert!(found(check_media_url_form, &with("/media/", "/static/")).is_empty());
        assert!(
            found(
                check_media_url_form,
                &with("https://cdn.example/m/", "/static/")
            )
            .is_empty()
        );
        let project = project_in(Path::new("."));
        for (url, fix) in [
            ("/media", "/media/"),
            ("media/", "/media/"),
            ("/", "/media/"),
        ] {
            let settings = with(url, "/static/");
            let messages = check_media_url_form(&CheckContext::new(&settings, &project));
            assert_eq!(messages.len(), 1, "{url}");
            assert_eq!(
                messages[0].hint.as_deref(),
                Some(format!("write media_url = \"{fix}\"").as_str())
            );
        }
    }
}
