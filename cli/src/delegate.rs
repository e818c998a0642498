//! Running a project's own commands: find the project (the nearest folder
//! upward whose Cargo.toml depends on nuages), build its binary with cargo,
//! showing cargo's progress when something compiles, and become that binary.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use nuages::Problem;
use nuages::management::CommandError;
use nuages::management::manifest::require_project;

/// The `[package] name` of a manifest.
fn package_name(manifest: &Path) -> Option<String> {
    let table = nuages::management::manifest::read(manifest).ok()?;
    table
        .get("package")?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// Which build of the project runs a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The debug build (`cargo build`), for development.
    Debug,
    /// The optimised build (`cargo build --release`), `target/release/<project>`,
    /// the one production runs.
    Release,
}

/// Run `args` through the project's binary, built with `profile`, passing
/// its exit code on; `globals` (`--settings FILE`, `--verbosity N` typed
/// before the command) go before the command, where the binary takes them.
pub fn run(
    args: Vec<OsString>,
    profile: Profile,
    globals: &[OsString],
) -> anyhow::Result<ExitCode> {
    let command = args
        .first()
        .map(|a| a.to_string_lossy().to_string())
        .unwrap_or_default();
    let project = require_project(&std::env::current_dir()?).map_err(|error| match error {
        CommandError::Usage(outside) => CommandError::Usage(Problem {
            message: format!("'{command}' runs inside a project, and {}", outside.message),
            ..outside
        }),
        broken => broken,
    })?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let binary = match build(&cargo, &project, profile)? {
        Built::Binary(binary) => binary,
        // cargo has printed the compiler's errors.
        Built::Failed(code) => return Ok(ExitCode::from(code)),
    };
    // Become the project's binary, so that signals such as Ctrl-C and SIGTERM
    // reach the server itself; its reloader rebuilds with the same cargo.
    // Its name in the process's arguments is `manage`, which its help and
    // usage lines show: the command the user typed and can type again, not
    // the binary's file name (not on the PATH).
    use std::os::unix::process::CommandExt;
    let error = Command::new(&binary)
        .arg0("manage")
        .args(globals)
        .args(&args)
        .env("CARGO", &cargo)
        .exec();
    Err(failed(
        format!("cannot run {}: {error}", binary.display()),
        "build it again with `cargo build` in the project's folder",
    ))
}

/// A failed command (exit 1): `message`, and how to fix it.
fn failed(message: String, hint: &str) -> anyhow::Error {
    CommandError::Failed(Problem::new(message).with_hint(hint)).into()
}

/// What `cargo build` gave.
enum Built {
    /// The project's binary.
    Binary(PathBuf),
    /// The build failed with this exit code; cargo said why.
    Failed(u8),
}

/// `cargo build` the project's binary with `profile`. cargo's messages go to stderr as they
/// come, so a long first build shows each crate it compiles; when everything
/// is fresh nothing is shown.
fn build(cargo: &OsStr, project: &Path, profile: Profile) -> anyhow::Result<Built> {
    let manifest = project.join("Cargo.toml");
    let name = package_name(&manifest);
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest);
    if profile == Profile::Release {
        command.arg("--release");
    }
    // The project's own binary, even when it has others (src/bin/…).
    if let Some(name) = &name {
        command.arg("--bin").arg(name);
    }
    // cargo sees a pipe; keep its colours when the user sees a terminal.
    if std::io::stderr().is_terminal() {
        command.arg("--color=always");
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            failed(
                format!("cannot run cargo{}: {error}", named_by_variable(cargo)),
                match std::env::var_os("CARGO") {
                    Some(_) => {
                        "point CARGO to cargo's path, or unset it to use the `cargo` on the PATH"
                    }
                    None => "install Rust with rustup, so that `cargo` is on the PATH",
                },
            )
        })?;
    let progress = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let relay = std::thread::spawn(move || relay_progress(progress, &mut std::io::stderr()));
    let messages = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let binary = messages
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| built_binary(&line, name.as_deref()))
        .last();
    let status = child.wait()?;
    let said_why = relay.join().ok().and_then(Result::ok).unwrap_or(true);
    if !status.success() {
        if !said_why {
            return Err(failed(
                format!(
                    "`cargo build` failed ({status}) without saying why{}",
                    named_by_variable(cargo)
                ),
                &format!(
                    "run `cargo build` in {} to see what it says{}",
                    project.display(),
                    match std::env::var_os("CARGO") {
                        Some(_) => ", or unset CARGO, which names the cargo used",
                        None => "",
                    }
                ),
            ));
        }
        let code = status
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(1);
        return Ok(Built::Failed(code));
    }
    binary.map(Built::Binary).ok_or_else(|| {
        failed(
            format!(
                "cargo built no binary for the project in {}",
                project.display()
            ),
            "the project's src/main.rs must exist, as `manage startproject` writes it",
        )
    })
}

/// The executable of a `compiler-artifact` message of cargo's JSON output,
/// when it is the binary `name` (any binary when the name is unknown).
fn built_binary(line: &str, name: Option<&str>) -> Option<PathBuf> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" {
        return None;
    }
    let target = &message["target"];
    let is_bin = target["kind"]
        .as_array()
        .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
    let named = name.is_none_or(|name| target["name"] == name);
    if !(is_bin && named) {
        return None;
    }
    message["executable"].as_str().map(PathBuf::from)
}

/// " (CARGO=…)" when that variable names the `cargo` run, else nothing.
fn named_by_variable(cargo: &OsStr) -> String {
    match std::env::var_os("CARGO") {
        Some(_) => format!(" (CARGO={})", cargo.to_string_lossy()),
        None => String::new(),
    }
}

/// Copy cargo's messages from `input` to `output` line by line, once it
/// compiles something (or warns, or fails). Until then the lines that say
/// nothing about the project, `Blocking waiting for file lock` and
/// `Finished`, are held back, and dropped when nothing follows: when
/// everything is fresh a command says only what it has to say.
/// Whether anything was shown.
fn relay_progress(input: impl BufRead, output: &mut impl Write) -> std::io::Result<bool> {
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut shown = false;
    for line in input.split(b'\n') {
        let line = line?;
        let text = strip_colours(&String::from_utf8_lossy(&line));
        let status = text.trim_start();
        if !shown && (status.starts_with("Finished ") || status.starts_with("Blocking ")) {
            held.push(line);
            continue;
        }
        shown = true;
        for line in held.drain(..).chain([line]) {
            output.write_all(&line)?;
            output.write_all(b"\n")?;
        }
        output.flush()?;
    }
    Ok(shown)
}

/// `text` without its ANSI colour sequences (`ESC [ … m`).
fn strip_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for end in chars.by_ref() {
                if end.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relayed(input: &str) -> String {
        let mut output = Vec::new();
        relay_progress(input.as_bytes(), &mut output).unwrap();
        String::from_utf8(output).unwrap()
    }

    #[test]
    fn cargo_progress_is_shown_and_a_lone_finished_line_is_not() {
        let fresh = "    Finished `dev` profile [unoptimized] target(s) in 0.05s\n";
        assert_eq!(relayed(fresh), "");
        let coloured = "\x1b[1m\x1b[32m    Finished\x1b[0m `dev` profile target(s) in 0.05s\n";
        assert_eq!(relayed(coloured), "");
        let built =
            "   Compiling mysite v0.1.0 (/p)\n    Finished `dev` profile target(s) in 24.1s\n";
        assert_eq!(relayed(built), built);
        let warned =
            "warning: unused variable: `x`\n    Finished `dev` profile target(s) in 0.1s\n";
        assert_eq!(relayed(warned), warned);
        let waited = "    Blocking waiting for file lock on package cache\n    Finished `dev` profile target(s) in 1.05s\n";
        assert_eq!(relayed(waited), "");
        let waited_then_built = "    Blocking waiting for file lock on build directory\n   Compiling mysite v0.1.0 (/p)\n    Finished `dev` profile target(s) in 9s\n";
        assert_eq!(relayed(waited_then_built), waited_then_built);
    }

    #[test]
    fn the_binary_is_found_in_cargo_messages() {
        let bin = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"mysite"},"executable":"/t/debug/mysite","fresh":true}"#;
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"mysite"},"executable":null}"#;
        let other = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"plain"},"executable":"/t/debug/plain"}"#;
        assert_eq!(
            built_binary(bin, Some("mysite")),
            Some(PathBuf::from("/t/debug/mysite"))
        );
        assert_eq!(built_binary(lib, Some("mysite")), None);
        assert_eq!(built_binary(other, Some("mysite")), None);
        assert_eq!(
            built_binary(r#"{"reason":"build-finished","success":true}"#, None),
            None
        );
        assert_eq!(built_binary("not json", None), None);
    }
}
