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
    let dependency = nuages_dependency(&args)?;
    let key = secret_key();
    let vars = [
        ("project_name", args.name.as_str()),
        ("secret_key", key.as_str()),
        ("nuages_dependency", dependency.as_str()),
        ("nuages_version", nuages::VERSION),
    ];
    scaffold::render(&PROJECT_TEMPLATE, &destination, &vars).map_err(|e| {
        let problem = Problem::new(e.to_string());
        CommandError::Failed(match e {
            scaffold::ScaffoldError::NotEmpty { .. }
            | scaffold::ScaffoldError::NotAFolder { .. } => {
                problem.with_hint("choose a new or empty folder; nothing was changed")
            }
            _ => problem,
        })
    })?;
    let shown = destination.display();
    output::print(format_args!(
        "Created project '{}' in {shown}.\n\n\
         Next steps:\n  \
         cd {shown}\n  \
         manage runserver          # then open http://127.0.0.1:8000/\n  \
         manage startapp polls     # add an app\n  \
         manage check --deploy     # before going live\n",
        args.name
    ))?;
    Ok(ExitCode::SUCCESS)
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
/// framework this `manage` was built from, else the same version from crates.io.
fn nuages_dependency(args: &Args) -> anyhow::Result<String> {
    if let Some(version) = &args.nuages_version {
        // Cargo's own grammar, so that the first build cannot refuse it.
        if let Err(error) = semver::VersionReq::parse(version) {
            let problem = Problem::new(format!(
                "--nuages-version '{version}' is not a version requirement: {error}"
            ))
            .with_hint("give one as Cargo.toml writes it: 0.1, 0.1.2, =0.1.2, >=0.1, <0.3");
            return Err(CommandError::Failed(problem).into());
        }
        return Ok(format!("nuages = {}", toml::Value::String(version.clone())));
    }
    let path = match &args.nuages_path {
        Some(path) => {
            let absolute = std::path::absolute(path)?;
            if !absolute.join("Cargo.toml").is_file() {
                let problem = Problem::new(format!(
                    "--nuages-path {} has no Cargo.toml",
                    path.display()
                ))
                .with_hint("point it at the framework/ folder of a Nuages checkout");
                return Err(CommandError::Failed(problem).into());
            }
            Some(absolute)
        }
        None => built_from(),
    };
    Ok(match path {
        Some(path) => format!("nuages = {{ path = {} }}", toml_string(&path)),
        None => format!("nuages = \"{}\"", nuages::VERSION),
    })
}

/// The framework folder of the checkout this binary was built in, if it is still there.
fn built_from() -> Option<PathBuf> {
    let framework = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .join("framework");
    framework.join("Cargo.toml").is_file().then_some(framework)
}

fn toml_string(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
