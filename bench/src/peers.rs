//! What a user would pick instead of Nuages (issue #17): Loco's generated
//! app, the same protections assembled by hand on axum, and Django under
//! gunicorn. Their sources are in `bench/peers/<name>/`, outside the
//! workspace so that nothing heavy enters its dependency graph; the harness
//! copies them to `<target>/nuages-bench/peers/<name>/` and builds the two
//! Rust ones there with their own `Cargo.lock` (`cargo build --release
//! --locked`, one shared target folder), like the Django virtualenv: the
//! first run compiles them, later runs find them up to date.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A peer's sources in the repository.
fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name)
}

/// Where the peers are copied and built.
fn peers_dir(target: &Path) -> PathBuf {
    target.join("nuages-bench/peers")
}

/// Copy `from` into `to`, writing only the files whose content differs (an
/// unchanged file keeps its mtime, so cargo does not rebuild the crate).
fn sync_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        let into = to.join(entry.file_name());
        if path.is_dir() {
            if entry.file_name() != "target" {
                sync_tree(&path, &into)?;
            }
            continue;
        }
        let content = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if std::fs::read(&into).ok().as_deref() != Some(content.as_slice()) {
            std::fs::write(&into, content).map_err(|e| format!("{}: {e}", into.display()))?;
        }
    }
    Ok(())
}

/// A Rust peer, copied and built.
pub struct Built {
    /// Its folder (Loco reads `config/` and `assets/` from its working folder).
    pub dir: PathBuf,
    /// The release binary.
    pub binary: PathBuf,
    /// How long `cargo build --release` took this time.
    pub build_time: Duration,
}

/// Copy the Rust peer `name` and build its binary `bin` in release mode with
/// `cargo` (the harness passes [`crate::procs::cargo`]).
pub fn build(cargo: &OsStr, target: &Path, name: &str, bin: &str) -> Result<Built, String> {
    let dir = peers_dir(target).join(name);
    sync_tree(&source(name), &dir)?;
    let build_target = peers_dir(target).join("target");
    eprintln!(
        "  cargo build --release in {} (the first run compiles it from scratch: minutes)…",
        dir.display()
    );
    let args = ["build", "--release", "--locked", "--quiet", "--bin", bin];
    let started = Instant::now();
    let output = Command::new(cargo)
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &build_target)
        .args(args)
        .output()
        .map_err(|e| crate::procs::cargo_did_not_run(cargo, &e))?;
    let build_time = started.elapsed();
    if !output.status.success() {
        return Err(build_failed(name, &output, &args, &dir, &build_target));
    }
    eprintln!("  {name} built in {:.0} s", build_time.as_secs_f64());
    Ok(Built {
        dir,
        binary: build_target.join("release").join(bin),
        build_time,
    })
}

/// How many of cargo's last stderr lines a failed build shows.
const STDERR_TAIL: usize = 20;

/// Why building `name` failed, and how to see the whole story: the exit
/// status (a kill by the kernel leaves no stderr at all) and the last lines
/// cargo wrote.
fn build_failed(
    name: &str,
    output: &Output,
    args: &[&str],
    dir: &Path,
    build_target: &Path,
) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let said = if lines.is_empty() {
        " and cargo printed nothing on stderr".to_string()
    } else {
        let tail = &lines[lines.len().saturating_sub(STDERR_TAIL)..];
        format!(
            "; the last {} lines cargo printed on stderr:\n{}",
            tail.len(),
            tail.join("\n")
        )
    };
    let killed = if output.status.code().is_none() {
        " (killed by a signal: out of memory?)"
    } else {
        ""
    };
    format!(
        "building {name} failed ({}{killed}){said}\nto see the whole output: cd {} && CARGO_TARGET_DIR={} cargo {}",
        output.status,
        dir.display(),
        build_target.display(),
        args.iter()
            .filter(|a| **a != "--quiet")
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// The Django project for the pages (`benchsite`), copied into `work`.
pub fn django_project(work: &Path) -> Result<PathBuf, String> {
    let dir = work.join("django-pages");
    sync_tree(&source("django"), &dir)?;
    Ok(dir)
}

/// gunicorn in the harness's Django virtualenv, installed there the first time.
pub fn gunicorn(python: &Path) -> Result<PathBuf, String> {
    let bin = python.parent().expect("venv/bin/python");
    let gunicorn = bin.join("gunicorn");
    if gunicorn.exists() {
        return Ok(gunicorn);
    }
    eprintln!("  installing gunicorn into the Django virtualenv (once)…");
    let status = Command::new(bin.join("pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "gunicorn",
        ])
        .status()
        .map_err(|e| format!("pip did not run: {e}"))?;
    if !status.success() || !gunicorn.exists() {
        return Err("pip install gunicorn failed".into());
    }
    Ok(gunicorn)
}

/// A package's version as its virtualenv knows it.
pub fn python_package_version(python: &Path, package: &str) -> String {
    Command::new(python)
        .args([
            "-c",
            &format!("from importlib.metadata import version; print(version({package:?}))"),
        ])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The version of `package` in a Rust peer's `Cargo.lock`.
pub fn locked_version(name: &str, package: &str) -> Option<String> {
    let lock = std::fs::read_to_string(source(name).join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"") {
            return lines
                .next()?
                .strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(str::to_string);
        }
    }
    None
}
