//! Reading a Cargo.toml. `manage` decides from manifests where the project
//! is and whether a folder holds the framework, so a manifest it cannot read
//! is an error naming the file and the place of the mistake: skipping it
//! would send the user to the wrong fix, or to another project.

use std::path::Path;

use nuages::Problem;

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
}
