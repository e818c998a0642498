//! Reading a Cargo.toml, and finding the project from the current folder.
//! `manage` and `startapp` decide from manifests where the project is (and
//! `manage` whether a folder holds the framework), so a manifest they cannot
//! read is an error naming the file and the place of the mistake: skipping
//! it would send the user to the wrong fix, or to another project.

use std::path::{Path, PathBuf};

use crate::Problem;
use crate::management::CommandError;

/// The manifest at `path` as a table, or what is wrong with it (without a
/// hint: what to do depends on why the caller reads it).
pub fn read(path: &Path) -> Result<toml::Table, Problem> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Problem::new(format!("cannot read {}: {error}", path.display())))?;
    text.parse::<toml::Table>().map_err(|error| {
        // toml's own rendering quotes the line under a multi-line banner;
        // one line, with the place as cargo gives it, reads better after `error:`.
        let place = error
            .span()
            .map(|span| {
                let (line, column) = line_and_column(&text, span.start);
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        let message = error.message().trim().replace('\n', "; ");
        Problem::new(format!(
            "{} is not valid TOML{place}: {message}",
            path.display()
        ))
    })
}

/// The nearest folder at or above `start` whose Cargo.toml depends on
/// nuages; `None` when there is none. A Cargo.toml on the way that cannot be
/// read or parsed stops the search with an error naming it: skipped, it
/// would say there is no project when the project's own manifest is broken,
/// or run an outer project's binary.
pub fn find_project(start: &Path) -> Result<Option<PathBuf>, Problem> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if manifest.is_file() && depends_on_nuages(&manifest)? {
            return Ok(Some(dir.to_path_buf()));
        }
    }
    Ok(None)
}

/// The project at or above `start`: a usage error (exit 2) when there is
/// none, a failure (exit 1) when a Cargo.toml on the way is broken.
pub fn require_project(start: &Path) -> Result<PathBuf, CommandError> {
    match find_project(start) {
        Ok(Some(project)) => Ok(project),
        Ok(None) => Err(CommandError::Usage(
            Problem::new(format!(
                "there is no Nuages project in {} or above (no Cargo.toml that depends on nuages)",
                start.display()
            ))
            .with_hint("create one with `manage startproject NAME`, then cd into it"),
        )),
        Err(broken) => Err(CommandError::Failed(broken)),
    }
}

fn depends_on_nuages(manifest: &Path) -> Result<bool, Problem> {
    let table = read(manifest).map_err(|problem| {
        problem.with_hint(
            "fix it (cargo cannot build with it either): Nuages reads each Cargo.toml from the current folder upward to find the project",
        )
    })?;
    let has = |section: &str| {
        table
            .get(section)
            .and_then(|d| d.as_table())
            .is_some_and(|d| d.contains_key("nuages"))
    };
    Ok(table.contains_key("package") && has("dependencies"))
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syntax_error_is_named_with_its_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Cargo.toml");
        std::fs::write(&path, "[package]\nname = \"p\"\nversion = 0.1.0\"\n").unwrap();
        let problem = read(&path).unwrap_err();
        let expected = format!("{} is not valid TOML at line 3, column ", path.display());
        assert!(
            problem.message.starts_with(&expected),
            "{}",
            problem.message
        );
        assert!(!problem.message.contains('\n'), "{}", problem.message);
        std::fs::write(&path, "[package]\nname = \"p\"\n").unwrap();
        assert_eq!(read(&path).unwrap()["package"]["name"].as_str(), Some("p"));
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_and_column("a\néé = x", 6), (2, 3));
        assert_eq!(line_and_column("abc", 0), (1, 1));
        assert_eq!(line_and_column("abc", 99), (1, 4));
    }

    #[test]
    fn projects_are_found_upward_and_only_when_they_depend_on_nuages() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("site");
        std::fs::create_dir_all(project.join("src/polls")).unwrap();
        std::fs::write(
            project.join("Cargo.toml"),
            "[package]\nname = \"site\"\n[dependencies]\nnuages = { path = \"x\" }\n",
        )
        .unwrap();
        assert_eq!(
            find_project(&project.join("src/polls")).unwrap(),
            Some(project.clone())
        );
        std::fs::write(
            project.join("Cargo.toml"),
            "[package]\nname = \"site\"\n[dependencies]\nserde = \"1\"\n",
        )
        .unwrap();
        assert_eq!(find_project(&project.join("src/polls")).unwrap(), None);
    }

    #[test]
    fn a_broken_manifest_on_the_way_up_stops_the_search() {
        let dir = tempfile::tempdir().unwrap();
        let outer = dir.path();
        std::fs::write(
            outer.join("Cargo.toml"),
            "[package]\nname = \"outer\"\n[dependencies]\nnuages = { path = \"x\" }\n",
        )
        .unwrap();
        let inner = outer.join("inner");
        std::fs::create_dir(&inner).unwrap();
        let manifest = inner.join("Cargo.toml");
        std::fs::write(&manifest, "[package]\nname = \"inner\"\n[dependencies\n").unwrap();
        let problem = find_project(&inner).unwrap_err();
        assert!(
            problem.message.starts_with(&format!(
                "{} is not valid TOML at line 3",
                manifest.display()
            )),
            "{}",
            problem.message
        );
        assert!(problem.hint.unwrap().starts_with("fix it"));
        let error = require_project(&inner).unwrap_err();
        assert_eq!(error.exit_code(), 1);
    }
}
