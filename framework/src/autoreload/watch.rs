//! What the reloader watches and what a change calls for: the project's
//! sources are rebuilt, the settings restart the server, and templates
//! (which a debug server reloads by itself) retry a server that could not
//! start.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// What a changed file calls for, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Change {
    /// A template: start the server again if it could not start.
    Template,
    /// A settings file: start the server again.
    Settings,
    /// A source file: rebuild, then start the new server.
    Source,
}

/// The files of a project the reloader watches.
#[derive(Debug, Clone)]
pub(super) struct Watched {
    project_dir: PathBuf,
    settings_dir: PathBuf,
    template_dirs: Vec<PathBuf>,
}

impl Watched {
    /// The sources under `project_dir`, the settings next to `settings_file`,
    /// and the template folders.
    pub(super) fn new(
        project_dir: &Path,
        settings_file: &Path,
        template_dirs: Vec<PathBuf>,
    ) -> Self {
        let absolute =
            |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let settings_file = absolute(settings_file);
        Watched {
            project_dir: absolute(project_dir),
            settings_dir: settings_file
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            template_dirs: template_dirs.iter().map(|dir| absolute(dir)).collect(),
        }
    }

    /// What a change to `path` calls for, if anything.
    pub(super) fn classify(&self, path: &Path) -> Option<Change> {
        let name = path.file_name()?.to_string_lossy();
        if path.components().any(|c| c.as_os_str() == "target")
            || name.starts_with('.')
            || name.ends_with('~')
        {
            return None;
        }
        if self.template_dirs.iter().any(|dir| path.starts_with(dir)) {
            return Some(Change::Template);
        }
        if name.ends_with(".rs") || name == "Cargo.toml" || name.ends_with(".sql") {
            return Some(Change::Source);
        }
        // The settings file, and the files it may extend, live side by side.
        if name.ends_with(".toml") && path.parent() == Some(self.settings_dir.as_path()) {
            return Some(Change::Settings);
        }
        None
    }

    /// Watch the files, sending every path that changes to `changes`.
    pub(super) fn start(
        &self,
        changes: mpsc::UnboundedSender<PathBuf>,
    ) -> Result<RecommendedWatcher, String> {
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event
                    && matches!(
                        event.kind,
                        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                    )
                {
                    for path in event.paths {
                        let _ = changes.send(path);
                    }
                }
            })
            .map_err(|e| format!("cannot watch the project's files: {e}"))?;
        let src = self.project_dir.join("src");
        let mut folders = vec![
            (self.project_dir.clone(), RecursiveMode::NonRecursive),
            (src.clone(), RecursiveMode::Recursive),
        ];
        if self.settings_dir != self.project_dir {
            folders.push((self.settings_dir.clone(), RecursiveMode::NonRecursive));
        }
        for dir in &self.template_dirs {
            // App templates live under src/, already watched.
            if !dir.starts_with(&src) {
                folders.push((dir.clone(), RecursiveMode::Recursive));
            }
        }
        for (folder, mode) in folders {
            if folder.is_dir() {
                watcher
                    .watch(&folder, mode)
                    .map_err(|e| format!("cannot watch {}: {e}", folder.display()))?;
            }
        }
        Ok(watcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_settings_and_templates_call_for_what_they_change() {
        let watched = Watched::new(
            Path::new("/p"),
            Path::new("/p/settings.toml"),
            vec!["/p/templates".into(), "/p/src/polls/templates".into()],
        );
        let change = |path: &str| watched.classify(Path::new(path));
        assert_eq!(change("/p/src/views.rs"), Some(Change::Source));
        assert_eq!(change("/p/Cargo.toml"), Some(Change::Source));
        assert_eq!(change("/p/build.rs"), Some(Change::Source));
        assert_eq!(
            change("/p/src/polls/migrations/0001_initial.sql"),
            Some(Change::Source)
        );
        assert_eq!(change("/p/settings.toml"), Some(Change::Settings));
        assert_eq!(
            change("/p/settings.production.toml"),
            Some(Change::Settings)
        );
        assert_eq!(change("/p/templates/base.html"), Some(Change::Template));
        assert_eq!(
            change("/p/src/polls/templates/polls/index.html"),
            Some(Change::Template)
        );
        assert_eq!(change("/p/target/debug/build/x.rs"), None);
        assert_eq!(change("/p/src/.views.rs.swp"), None);
        assert_eq!(change("/p/templates/.base.html.swp"), None);
        assert_eq!(change("/p/src/polls/static/polls/style.css"), None);
        assert_eq!(change("/p/db/db.sqlite3"), None);
        assert_eq!(change("/p/src/config.toml"), None);
    }
}
