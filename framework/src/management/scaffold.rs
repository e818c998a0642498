//! The scaffolds of `startproject` and `startapp`: the repository's
//! `templates/project_template` and `templates/app_template`, embedded at
//! build time and rendered with the new name. They are edited in the
//! top-level `templates/`; `framework/scaffolds` is a link to it, which
//! `cargo package` follows, so the published crate carries them.
//!
//! Rendering replaces `{{ project_name }}`, `{{ app_name }}`,
//! `{{ secret_key }}`, `{{ nuages_dependency }}` and `{{ nuages_version }}`
//! in file contents, `project_name` / `app_name` in paths, and drops the
//! `-tpl` suffix that keeps cargo and git from taking templates for the real
//! thing. Files are created, never overwritten.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

use crate::Problem;

/// The project scaffold.
pub static PROJECT_TEMPLATE: Dir<'static> =
    include_dir!("$CARGO_MANIFEST_DIR/scaffolds/project_template");
/// The app scaffold.
pub(crate) static APP_TEMPLATE: Dir<'static> =
    include_dir!("$CARGO_MANIFEST_DIR/scaffolds/app_template");

/// Why a scaffold could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The destination has files already.
    #[error("'{}' already exists and is not empty", path.display())]
    NotEmpty {
        /// The destination.
        path: PathBuf,
    },
    /// The destination is a file.
    #[error("'{}' exists and is not a folder", path.display())]
    NotAFolder {
        /// The destination.
        path: PathBuf,
    },
    /// Writing failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ScaffoldError {
    /// The refusal or failure, with a hint that fits its cause: a write
    /// stopped by a full disk, a size limit or permissions is not fixed by
    /// choosing another name.
    pub fn problem(&self) -> Problem {
        let hint = match self {
            ScaffoldError::NotEmpty { .. } | ScaffoldError::NotAFolder { .. } => {
                "choose a new or empty folder; nothing was changed"
            }
            ScaffoldError::Io { source, .. } => match source.kind() {
                ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
                    "the disk is full (or your quota is used up): free some space, then run it again"
                }
                ErrorKind::FileTooLarge => {
                    "a file is larger than this process may write (ulimit -f): raise the limit, \
                     then run it again"
                }
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                    "you may not write there (permissions, or a read-only file system): choose a \
                     folder you can write to"
                }
                ErrorKind::NotADirectory => {
                    "a part of that path is a file, not a folder: choose another folder"
                }
                _ => "fix the cause above and run it again, or choose another folder",
            },
        };
        Problem::new(self.to_string()).with_hint(hint)
    }
}

/// Render `template` into `destination`, which must be missing or empty.
/// Returns the files written. On failure, what this call created is removed.
pub fn render(
    template: &Dir<'static>,
    destination: &Path,
    vars: &[(&str, &str)],
) -> Result<Vec<PathBuf>, ScaffoldError> {
    render_with(template, &[], destination, vars)
}

/// [`render`], plus `extra` files (a path inside `destination` and its
/// bytes, written as they are), created and rolled back with the others.
pub fn render_with(
    template: &Dir<'static>,
    extra: &[(&str, &[u8])],
    destination: &Path,
    vars: &[(&str, &str)],
) -> Result<Vec<PathBuf>, ScaffoldError> {
    let mut made = Made::default();
    let result = prepare_destination(destination, &mut made)
        .and_then(|()| write_dir(template, destination, vars, &mut made))
        .and_then(|()| {
            extra
                .iter()
                .try_for_each(|(path, contents)| made.file(&destination.join(path), contents))
        });
    match result {
        Ok(()) => Ok(made.files),
        Err(error) => {
            made.undo();
            Err(error)
        }
    }
}

/// Make sure `destination` is an empty folder, creating it (and its
/// missing parents) if need be.
fn prepare_destination(destination: &Path, made: &mut Made) -> Result<(), ScaffoldError> {
    match std::fs::metadata(destination) {
        Ok(meta) if !meta.is_dir() => Err(ScaffoldError::NotAFolder {
            path: destination.to_path_buf(),
        }),
        Ok(_) => {
            let mut entries =
                std::fs::read_dir(destination).map_err(|source| ScaffoldError::Io {
                    path: destination.to_path_buf(),
                    source,
                })?;
            if entries.next().is_some() {
                Err(ScaffoldError::NotEmpty {
                    path: destination.to_path_buf(),
                })
            } else {
                Ok(())
            }
        }
        // A link to nothing is there all the same: not a folder to fill.
        Err(_) if std::fs::symlink_metadata(destination).is_ok() => {
            Err(ScaffoldError::NotAFolder {
                path: destination.to_path_buf(),
            })
        }
        Err(_) => made.folder(destination),
    }
}

fn write_dir(
    dir: &Dir<'static>,
    destination: &Path,
    vars: &[(&str, &str)],
    made: &mut Made,
) -> Result<(), ScaffoldError> {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => write_dir(sub, destination, vars, made)?,
            DirEntry::File(file) => {
                let target = destination.join(render_path(file.path(), vars));
                let contents = match std::str::from_utf8(file.contents()) {
                    Ok(text) => render_text(text, vars).into_bytes(),
                    Err(_) => file.contents().to_vec(),
                };
                made.file(&target, &contents)?;
            }
        }
    }
    Ok(())
}

/// The files and folders a scaffold has created so far, in order: what a
/// failed one removes, and nothing that was there before it.
#[derive(Default)]
struct Made {
    files: Vec<PathBuf>,
    folders: Vec<PathBuf>,
}

impl Made {
    /// Create `folder` and its missing parents, one at a time, recording
    /// each.
    fn folder(&mut self, folder: &Path) -> Result<(), ScaffoldError> {
        let missing: Vec<&Path> = folder
            .ancestors()
            .take_while(|f| !f.as_os_str().is_empty() && std::fs::symlink_metadata(f).is_err())
            .collect();
        for folder in missing.into_iter().rev() {
            match std::fs::create_dir(folder) {
                Ok(()) => self.folders.push(folder.to_path_buf()),
                // Made meanwhile by someone else (or `new/..`): not ours.
                Err(error) if error.kind() == ErrorKind::AlreadyExists && folder.is_dir() => {}
                Err(source) => {
                    return Err(ScaffoldError::Io {
                        path: folder.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// Create `target` (and its folders) with `contents`; never overwrites.
    fn file(&mut self, target: &Path, contents: &[u8]) -> Result<(), ScaffoldError> {
        if let Some(parent) = target.parent() {
            self.folder(parent)?;
        }
        let io = |source| ScaffoldError::Io {
            path: target.to_path_buf(),
            source,
        };
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(target)
            .map_err(io)?;
        self.files.push(target.to_path_buf());
        out.write_all(contents).map_err(io)
    }

    /// Remove what was made, newest first: each folder after what it holds,
    /// and only while empty, so nothing put there meanwhile goes with it.
    fn undo(self) {
        for file in self.files.iter().rev() {
            let _ = std::fs::remove_file(file);
        }
        for folder in self.folders.iter().rev() {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

/// `src/app_name/views.rs-tpl` → `src/polls/views.rs`.
pub(crate) fn render_path(path: &Path, vars: &[(&str, &str)]) -> PathBuf {
    path.components()
        .map(|component| {
            let mut part = component.as_os_str().to_string_lossy().to_string();
            for (key, value) in vars {
                if *key == "project_name" || *key == "app_name" {
                    part = part.replace(key, value);
                }
            }
            part.strip_suffix("-tpl")
                .map(str::to_string)
                .unwrap_or(part)
        })
        .collect()
}

/// Replace each `{{ key }}` of `vars` in `text`.
pub(crate) fn render_text(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{ {key} }}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_text_are_rendered() {
        let vars = [("app_name", "polls"), ("project_name", "mysite")];
        assert_eq!(
            render_path(Path::new("templates/app_name/x.rs-tpl"), &vars),
            PathBuf::from("templates/polls/x.rs")
        );
        assert_eq!(
            render_text("a {{ app_name }} {{ other }}", &vars),
            "a polls {{ other }}"
        );
    }

    #[test]
    fn a_non_empty_destination_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let err = render(&APP_TEMPLATE, dir.path(), &[("app_name", "polls")]).unwrap_err();
        assert!(matches!(err, ScaffoldError::NotEmpty { .. }));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_link_to_nothing_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
        let err = render(&APP_TEMPLATE, &link, &[("app_name", "polls")]).unwrap_err();
        assert!(matches!(err, ScaffoldError::NotAFolder { .. }), "{err}");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert!(!dir.path().join("nowhere").exists());
    }

    /// A scaffold that fails midway removes what it wrote and every folder
    /// it made, the destination's missing parents included; nothing above.
    #[test]
    fn a_failed_scaffold_leaves_no_folder_it_made() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/c");
        // A file the template writes too: the second write is refused.
        let extra: [(&str, &[u8]); 1] = [("mod.rs", b"twice")];
        let err = render_with(&APP_TEMPLATE, &extra, &target, &[("app_name", "polls")]);
        assert!(err.is_err());
        assert!(!dir.path().join("a").exists(), "a folder it made is left");
        assert!(dir.path().exists());
    }

    /// In a folder that was there before, a failed scaffold removes the
    /// folders it made inside (src/, templates/polls/, …) and keeps the
    /// folder itself: a second try finds it as it was.
    #[test]
    fn a_failed_scaffold_in_an_existing_folder_leaves_it_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let extra: [(&str, &[u8]); 1] = [("mod.rs", b"twice")];
        let err = render_with(&APP_TEMPLATE, &extra, dir.path(), &[("app_name", "polls")]);
        assert!(err.is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        render(&APP_TEMPLATE, dir.path(), &[("app_name", "polls")]).unwrap();
    }

    /// The hint of a failed write names its cause, not the folder.
    #[test]
    fn the_hint_of_a_failed_write_names_its_cause() {
        let failed = |kind: ErrorKind| {
            ScaffoldError::Io {
                path: PathBuf::from("mine/Cargo.lock"),
                source: std::io::Error::from(kind),
            }
            .problem()
            .hint
            .unwrap()
        };
        assert!(failed(ErrorKind::StorageFull).starts_with("the disk is full"));
        assert!(failed(ErrorKind::FileTooLarge).contains("ulimit -f"));
        assert!(failed(ErrorKind::PermissionDenied).starts_with("you may not write there"));
        assert!(failed(ErrorKind::ReadOnlyFilesystem).starts_with("you may not write there"));
    }

    #[test]
    fn the_app_scaffold_renders_into_a_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("src/polls");
        let files = render(&APP_TEMPLATE, &target, &[("app_name", "polls")]).unwrap();
        assert!(!files.is_empty());
        assert!(target.join("mod.rs").is_file());
        assert!(!files.iter().any(|f| f.to_string_lossy().contains("-tpl")));
    }
}
