//! Running a project's own commands: find the project (the nearest folder
//! upward whose Cargo.toml depends on nuages) and `cargo run` its binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::Hinted;

/// The nearest folder at or above `start` whose Cargo.toml depends on nuages.
pub fn find_project(start: &Path) -> anyhow::Result<PathBuf> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if manifest.is_file() && depends_on_nuages(&manifest) {
            return Ok(dir.to_path_buf());
        }
    }
    Err(Hinted::usage(
        format!(
            "there is no Nuages project in {} or above (no Cargo.toml that depends on nuages)",
            start.display()
        ),
        Some("create one with `manage startproject NAME`, then cd into it".to_string()),
    ))
}

fn depends_on_nuages(manifest: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return false;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    let has = |section: &str| {
        table
            .get(section)
            .and_then(|d| d.as_table())
            .is_some_and(|d| d.contains_key("nuages"))
    };
    table.contains_key("package") && has("dependencies")
}

/// The `[package] name` of a manifest.
fn package_name(manifest: &Path) -> Option<String> {
    let table: toml::Table = std::fs::read_to_string(manifest).ok()?.parse().ok()?;
    table
        .get("package")?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// Which build of the project runs a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The debug build (`cargo run`), for development.
    Debug,
    /// The optimised build (`cargo run --release`), `target/release/<project>`,
    /// the one production runs.
    Release,
}

/// Run `args` through the project's binary, built with `profile`, passing
/// its exit code on.
pub fn run(args: Vec<OsString>, profile: Profile) -> anyhow::Result<ExitCode> {
    let command = args
        .first()
        .map(|a| a.to_string_lossy().to_string())
        .unwrap_or_default();
    let project = find_project(&std::env::current_dir()?).map_err(|e| {
        let hinted = e.downcast::<Hinted>().expect("find_project returns Hinted");
        Hinted::usage(
            format!("'{command}' runs inside a project, and {}", hinted.message),
            hinted.hint,
        )
    })?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("run")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"));
    if profile == Profile::Release {
        command.arg("--release");
    }
    // The project's own binary, even when it has others (src/bin/…).
    if let Some(name) = package_name(&project.join("Cargo.toml")) {
        command.arg("--bin").arg(name);
    }
    command.arg("--").args(&args);
    // Become cargo (which becomes the project's binary), so that signals such
    // as Ctrl-C and SIGTERM reach the server itself.
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    Err(Hinted::failed(
        format!("cannot run cargo: {error}"),
        Some("install Rust with rustup, so that `cargo` is on the PATH".to_string()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(find_project(&project.join("src/polls")).unwrap(), project);
        std::fs::write(
            project.join("Cargo.toml"),
            "[package]\nname = \"site\"\n[dependencies]\nserde = \"1\"\n",
        )
        .unwrap();
        assert!(find_project(&project.join("src/polls")).is_err());
    }
}
