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
use std::io::Write;
use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry, include_dir};

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
    let created = prepare_destination(destination)?;
    let mut written = Vec::new();
    let result = write_dir(template, destination, vars, &mut written).and_then(|()| {
        extra.iter().try_for_each(|(path, contents)| {
            write_new(&destination.join(path), contents, &mut written)
        })
    });
    if result.is_err() {
        for file in written.iter().rev() {
            let _ = std::fs::remove_file(file);
        }
        // Every folder this call made, the parents of `destination` too
        // (`startproject x a/b/c` made `a`): all of it is its own.
        if let Some(created) = created {
            let _ = std::fs::remove_dir_all(created);
        }
    }
    result.map(|()| written)
}

/// Make sure `destination` is an empty folder; the highest folder this call
/// created for it (itself, or a missing parent), if it created any.
fn prepare_destination(destination: &Path) -> Result<Option<PathBuf>, ScaffoldError> {
    let io = |source| ScaffoldError::Io {
        path: destination.to_path_buf(),
        source,
    };
    match std::fs::metadata(destination) {
        Ok(meta) if !meta.is_dir() => Err(ScaffoldError::NotAFolder {
            path: destination.to_path_buf(),
        }),
        Ok(_) => {
            if std::fs::read_dir(destination).map_err(io)?.next().is_some() {
                Err(ScaffoldError::NotEmpty {
                    path: destination.to_path_buf(),
                })
            } else {
                Ok(None)
            }
        }
        // A link to nothing is there all the same: not a folder to fill.
        Err(_) if std::fs::symlink_metadata(destination).is_ok() => {
            Err(ScaffoldError::NotAFolder {
                path: destination.to_path_buf(),
            })
        }
        Err(_) => {
            let highest = destination
                .ancestors()
                .take_while(|folder| {
                    !folder.as_os_str().is_empty() && std::fs::symlink_metadata(folder).is_err()
                })
                .last()
                .map(Path::to_path_buf);
            if let Err(source) = std::fs::create_dir_all(destination) {
                if let Some(highest) = &highest {
                    let _ = std::fs::remove_dir_all(highest);
                }
                return Err(io(source));
            }
            Ok(highest)
        }
    }
}

fn write_dir(
    dir: &Dir<'static>,
    destination: &Path,
    vars: &[(&str, &str)],
    written: &mut Vec<PathBuf>,
) -> Result<(), ScaffoldError> {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => write_dir(sub, destination, vars, written)?,
            DirEntry::File(file) => {
                let target = destination.join(render_path(file.path(), vars));
                let contents = match std::str::from_utf8(file.contents()) {
                    Ok(text) => render_text(text, vars).into_bytes(),
                    Err(_) => file.contents().to_vec(),
                };
                write_new(&target, &contents, written)?;
            }
        }
    }
    Ok(())
}

/// Create `target` (and its folders) with `contents`; never overwrites.
fn write_new(
    target: &Path,
    contents: &[u8],
    written: &mut Vec<PathBuf>,
) -> Result<(), ScaffoldError> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ScaffoldError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
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
    written.push(target.to_path_buf());
    out.write_all(contents).map_err(io)
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
