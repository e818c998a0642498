//! `manage startproject NAME [DIR]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nuages::management::names::{NameKind, validate};
use nuages::management::scaffold::{self, PROJECT_TEMPLATE};
use rand::RngExt;

use nuages::Problem;
use nuages::conf::SECRET_KEY_INSECURE_PREFIX;
use nuages::management::{CommandError, output};

/// Characters of generated secret keys: no quote or backslash (TOML) and no
/// `$` (settings interpolation).
const KEY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)";

#[derive(clap::Args)]
pub struct Args {
    /// The project's name: a Rust identifier and crate name (my_site)
    name: String,
    /// Where to create it (default ./NAME); created if missing, must be empty
    dir: Option<PathBuf>,
    /// Depend on the framework at this path
    #[arg(long, value_name = "PATH", conflicts_with = "nuages_version")]
    nuages_path: Option<PathBuf>,
    /// Depend on this version of nuages from crates.io
    #[arg(long, value_name = "VERSION")]
    nuages_version: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    validate(&args.name, NameKind::Project).map_err(|e| CommandError::Failed(e.problem()))?;
    let destination = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    require_utf8(
        &destination,
        "the project's folder",
        "its crate would not build: the generated src/wsgi.rs reads its folder with \
         env!(\"CARGO_MANIFEST_DIR\"), which takes only UTF-8",
        "choose a folder whose path is UTF-8 all along (rename the folders above it, or \
         give another DIR)",
    )?;
    let (dependency, framework) = nuages_dependency(&args)?;
    // The checkout's own lock, so the project's first build takes the
    // versions the framework was tested with rather than the newest ones.
    let lock = framework.as_deref().and_then(checkout_lock);
    let extra: Vec<(&str, &[u8])> = lock.iter().map(|l| ("Cargo.lock", &l[..])).collect();
    let key = secret_key();
    let vars = [
        ("project_name", args.name.as_str()),
        ("secret_key", key.as_str()),
        ("nuages_dependency", dependency.as_str()),
        ("nuages_version", nuages::VERSION),
    ];
    scaffold::render_with(&PROJECT_TEMPLATE, &extra, &destination, &vars)
        .map_err(|e| CommandError::Failed(e.problem()))?;
    // `startproject x .` (or any path to the current folder): there is no
    // folder to name or to cd into.
    let here = std::env::current_dir()?;
    let (place, cd) = if same_folder(&destination, &here) {
        ("the current folder".to_string(), String::new())
    } else {
        (
            destination.display().to_string(),
            format!("cd {}\n  ", output::shell_word(&destination)),
        )
    };
    output::print_done(
        &format!("created project '{}' in {place}", args.name),
        format_args!(
            "Created project '{}' in {place}.\n\n\
         Next steps:\n  \
         {cd}manage runserver          # then open http://127.0.0.1:8000/\n  \
         manage startapp polls     # add an app\n  \
         NUAGES_SETTINGS=settings.production.toml manage check --deploy   # before going live\n",
            args.name
        ),
    )?;
    if let Some(note) = crates_io_note(&args, framework.as_deref()) {
        output::eprintln(note);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `startproject` says when the project depends on the framework from
/// crates.io for want of the checkout `manage` was built from (moved or
/// deleted since): otherwise its first build would take whatever crates.io
/// has, with no word of where it came from.
fn crates_io_note(args: &Args, framework: Option<&Path>) -> Option<String> {
    if framework.is_some() || args.nuages_version.is_some() {
        return None;
    }
    Some(format!(
        "note: the Nuages checkout this manage was built from ({}) is gone, so Cargo.toml asks \
         crates.io for nuages = \"{}\"; give --nuages-path PATH/TO/framework to build against \
         a checkout",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."))
            .display(),
        nuages::VERSION
    ))
}

/// Refuse `path` (`what`, in the message) when its absolute form is not
/// UTF-8, saying `why` that cannot work and `fix`, before anything is
/// created: a project written there would only fail at its first build.
fn require_utf8(path: &Path, what: &str, why: &str, fix: &str) -> Result<(), CommandError> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    if absolute.to_str().is_some() {
        return Ok(());
    }
    Err(CommandError::Failed(
        Problem::new(format!("{what} {} is not UTF-8: {why}", absolute.display()))
            .with_hint(format!("{fix}; nothing was created")),
    ))
}

/// Whether `a` and `b` are the same existing folder, however written.
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `nuages-insecure-` and 50 characters from the operating system's CSPRNG.
pub fn secret_key() -> String {
    let mut rng = rand::rand_core::UnwrapErr(rand::rngs::SysRng);
    let random: String = (0..50)
        .map(|_| KEY_CHARS[rng.random_range(0..KEY_CHARS.len())] as char)
        .collect();
    format!("{SECRET_KEY_INSECURE_PREFIX}{random}")
}

/// The `nuages = …` line: `--nuages-path`, `--nuages-version`, else the
/// framework this `manage` was built from, else the same version from
/// crates.io; and the framework's folder when it is a local one.
fn nuages_dependency(args: &Args) -> anyhow::Result<(String, Option<PathBuf>)> {
    if let Some(version) = &args.nuages_version {
        // Cargo's own grammar, so that the first build cannot refuse it.
        if let Err(error) = semver::VersionReq::parse(version) {
            let problem = Problem::new(format!(
                "--nuages-version '{version}' is not a version requirement: {error}"
            ))
            .with_hint("give one as Cargo.toml writes it: 0.1, 0.1.2, =0.1.2, >=0.1, <0.3");
            return Err(CommandError::Failed(problem).into());
        }
        let line = format!("nuages = {}", toml::Value::String(version.clone()));
        return Ok((line, None));
    }
    let path = match &args.nuages_path {
        Some(path) => Some(framework_at(path)?),
        None => built_from(),
    };
    Ok(match path {
        Some(path) => (
            format!("nuages = {{ path = {} }}", toml_string(&path)),
            Some(path),
        ),
        None => (format!("nuages = \"{}\"", nuages::VERSION), None),
    })
}

/// The `Cargo.lock` of the checkout whose `framework/` folder is `framework`,
/// if there is one to read.
fn checkout_lock(framework: &Path) -> Option<Vec<u8>> {
    std::fs::read(framework.parent()?.join("Cargo.lock")).ok()
}

/// `--nuages-path`, absolute, when its Cargo.toml is the `nuages` package.
/// Anything else (a checkout's workspace manifest, another crate) would be
/// written into the project and only fail at its first build.
fn framework_at(path: &Path) -> Result<PathBuf, CommandError> {
    require_utf8(
        path,
        "--nuages-path",
        "Cargo.toml, whose strings are UTF-8, cannot name it",
        "give a path to the framework crate that is UTF-8 all along (a link made elsewhere \
         to it will do)",
    )?;
    let absolute = std::path::absolute(path).map_err(|error| {
        CommandError::failed(format!("--nuages-path {}: {error}", path.display()), None)
    })?;
    let Err(found) = framework_package(&absolute) else {
        return Ok(absolute);
    };
    // In a checkout's root the crate is one folder down: name it.
    let below = absolute.join("framework");
    let hint = if framework_package(&below).is_ok() {
        format!(
            "give the folder of the framework crate: --nuages-path {}",
            below.display()
        )
    } else {
        "give the folder of the framework crate, framework/ in a Nuages checkout".to_string()
    };
    Err(CommandError::Failed(
        Problem::new(format!(
            "--nuages-path {} is not the nuages crate: {found}",
            path.display()
        ))
        .with_hint(format!("{hint}; nothing was created")),
    ))
}

/// Whether `dir` holds the `nuages` package; if not, what it holds.
fn framework_package(dir: &Path) -> Result<(), String> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err("it has no Cargo.toml".into());
    }
    let table = nuages::management::manifest::read(&manifest).map_err(|problem| problem.message)?;
    Err(match table.get("package").map(|p| p.get("name")) {
        Some(Some(name)) if name.as_str() == Some("nuages") => return Ok(()),
        Some(Some(name)) => format!("its Cargo.toml is the package {name}, not \"nuages\""),
        Some(None) => "its Cargo.toml has a [package] without a name".into(),
        None if table.contains_key("workspace") => {
            "its Cargo.toml is a workspace manifest, without [package] name = \"nuages\"".into()
        }
        None => "its Cargo.toml has no [package] name = \"nuages\"".into(),
    })
}

/// The framework folder of the checkout this binary was built in, if it is still there.
fn built_from() -> Option<PathBuf> {
    let framework = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .join("framework");
    framework_package(&framework).is_ok().then_some(framework)
}

fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the checkout it was built from (and no --nuages-path or
    /// --nuages-version), startproject says the project asks crates.io.
    #[test]
    fn a_project_depending_on_crates_io_for_want_of_the_checkout_says_so() {
        let args = Args {
            name: "mysite".into(),
            dir: None,
            nuages_path: None,
            nuages_version: None,
        };
        let note = crates_io_note(&args, None).expect("a note");
        assert!(
            note.starts_with("note: the Nuages checkout this manage was built from"),
            "{note}"
        );
        assert!(note.contains("--nuages-path"), "{note}");
        assert_eq!(
            crates_io_note(&args, Some(Path::new("/srv/nuages/framework"))),
            None
        );
        let pinned = Args {
            nuages_version: Some("0.1".into()),
            ..args
        };
        assert_eq!(crates_io_note(&pinned, None), None);
    }

    #[test]
    fn keys_are_long_random_and_marked_insecure() {
        let a = secret_key();
        let b = secret_key();
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_KEY_INSECURE_PREFIX));
        assert_eq!(a.len(), SECRET_KEY_INSECURE_PREFIX.len() + 50);
        assert!(!a.contains('$') && !a.contains('"') && !a.contains('\\'));
    }
}
